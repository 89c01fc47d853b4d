"""What this installation is and what it can reach: versions, device, the word2vec kernel, folders, corpora.

The first thing to look at when a run behaves unexpectedly on another machine, and what a bug report
should carry. Nothing here builds, downloads or hashes anything: it reads versions, paths and whether
files exist (`nlp_pipeline.data.resolve.local_copy`).
"""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("nlp-pipeline", "torch", "gensim", "spacy", "numpy", "scikit-learn", "pydantic")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def device_info() -> dict[str, Any]:
    """CUDA as torch sees it (the device ``auto`` picks)."""
    import torch

    cuda = torch.cuda.is_available()
    return {"auto": "cuda:0" if cuda else "cpu", "cuda_available": cuda, "cuda_version": torch.version.cuda,
            "gpus": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
            "cpu_threads": torch.get_num_threads()}


def kernel_info() -> dict[str, Any]:
    """Whether the C word2vec kernel is built for this CPU, where, and which path ``auto`` will take."""
    from nlp_pipeline.embeddings import native

    library = native._library_path()  # None: the source is missing, so nothing can be built
    return {"built": library is not None and library.is_file(), "library": library and str(library),
            "compiler": native._compiler(), "source": str(native.SOURCE), "source_present": native.SOURCE.is_file(),
            "unavailable": native.unavailable(), "auto_on_cpu": native.planned_kernel("auto", "cpu", quiet=True)}


def corpora_info(data_dir: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Each registered corpus: its files found on this machine (where), or what a run would download."""
    from nlp_pipeline.data import list_corpora, load_spec
    from nlp_pipeline.data.resolve import local_copy, missing_files

    found = {}
    for name in list_corpora():
        spec = load_spec(name)
        missing = missing_files(spec, data_dir)
        here = [local_copy(spec, fs.name, data_dir) for fs in spec.files if fs not in missing]
        found[name] = {"kind": spec.kind, "found": not missing, "where": sorted({str(p.parent) for p in here}),
                       "missing": [fs.name for fs in missing],
                       "downloads": sorted({fs.download.url for fs in missing if fs.download is not None})}
    return found


def system_info(cache_dir: str | Path | None = None, data_dir: str | Path | None = None) -> dict[str, Any]:
    """Everything ``nlp-pipeline info`` prints, as data."""
    from nlp_pipeline.data.resolve import ENV_DATA_DIR, ENV_OFFLINE, cache_root, offline, shared_roots
    from nlp_pipeline.engine import ArtifactCache

    cache = ArtifactCache(cache_dir)
    return {
        "versions": {"python": platform.python_version(), **{p: _version(p) for p in PACKAGES}},
        "platform": platform.platform(),
        "device": device_info(),
        "word2vec_kernel": kernel_info(),
        "folders": {"artifacts": str(cache.artifacts_dir), "corpus_cache": str(cache_root() / "corpora"),
                    "data_dir": str(data_dir) if data_dir else None, "shared_mirrors": [str(r) for r in shared_roots()],
                    "env": {ENV_DATA_DIR: os.environ.get(ENV_DATA_DIR), ENV_OFFLINE: offline()}},
        "corpora": corpora_info(data_dir),
    }


def info_lines(info: dict[str, Any]) -> list[str]:
    """``system_info`` as the lines the CLI prints."""
    v, d, k, f = info["versions"], info["device"], info["word2vec_kernel"], info["folders"]
    lines = ["versions: " + ", ".join(f"{p} {v[p] or 'absent'}" for p in v), f"platform: {info['platform']}"]
    gpus = f" ({', '.join(d['gpus'])}, CUDA {d['cuda_version']})" if d["cuda_available"] else " (no CUDA device)"
    lines.append(f"device: auto = {d['auto']}{gpus}; {d['cpu_threads']} CPU threads")
    if k["built"]:
        state = f"built at {k['library']}"
    elif k["unavailable"]:
        state = f"{k['unavailable']}: word2vec trains with the tensor path"
    else:
        state = f"not built yet: {k['compiler']} builds it on first training use into {k['library']}"
    lines.append(f"word2vec kernel: {state}; auto on the CPU runs {k['auto_on_cpu']}")
    lines.append(f"artifacts: {f['artifacts']}")
    offline = "  (offline: no downloads)" if f["env"]["NLP_PIPELINE_OFFLINE"] else ""
    lines.append(f"corpus downloads: {f['corpus_cache']}{offline}")
    env_dir = f["env"]["NLP_PIPELINE_DATA_DIR"]
    mirrors = ([f["data_dir"]] if f["data_dir"] else []) + ([f"$NLP_PIPELINE_DATA_DIR = {env_dir}"] if env_dir else [])
    lines.append("corpus mirrors: " + (", ".join(mirrors + f["shared_mirrors"]) or "none"))
    for name, c in info["corpora"].items():
        if c["found"]:
            lines.append(f"corpus {name} ({c['kind']}): found in {', '.join(c['where'])}")
        elif c["downloads"]:
            lines.append(f"corpus {name} ({c['kind']}): a run downloads {', '.join(c['downloads'])}")
        else:
            lines.append(f"corpus {name} ({c['kind']}): missing {', '.join(c['missing'])}, no download defined")
    return lines
