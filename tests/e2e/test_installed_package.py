"""The package works installed from its wheel, away from the checkout: pipelines, corpora and the kernel travel.

The checkout's files are copied to a temporary folder and built there into an sdist, the sdist into a wheel
(as `pip install nlp-pipeline` from an index would), and the wheel installed with ``pip install --target``
into a folder put on PYTHONPATH. Every command runs in a fresh process from an empty folder, with its own
cache and home, so the checkout can neither be imported nor found (a check asserts that every
``nlp_pipeline`` module loaded comes from the installed folder, not through the editable install's finder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("pipelines", "corpora")
KERNEL = "nlp_pipeline/embeddings/w2v_kernel.c"
# Where the package, its corpus definitions and pipeline files, and every module the CLI loads come from.
WHERE = """import sys, nlp_pipeline.cli, nlp_pipeline.data.registry as r, nlp_pipeline.shipped as s
print(nlp_pipeline.__file__, r.corpora_dir(), s.shipped_dir("pipelines"), sep="\\n")
print(*sorted({str(m.__file__) for n, m in sys.modules.items() if n.startswith("nlp_pipeline")}), sep="\\n")
"""
TINY = ["--set", "embed.min_count=1", "--set", "embed.vector_size=16", "--set", "embed.epochs=1",
        "--set", "runtime.threads=1"]


def _shipped_files() -> dict[str, bytes]:
    """Each shipped file of the checkout, by its path in the checkout (``corpora/sst2.yaml``)."""
    return {f"{name}/{p.name}": p.read_bytes() for name in SHIPPED for p in sorted((ROOT / name).glob("*.yaml"))}


def _pip(*args: str | Path) -> None:
    run = subprocess.run([sys.executable, "-m", "pip", *map(str, args), "--no-deps", "-q"], capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr


def _build(root: Path) -> dict[str, str]:
    """The sdist and wheel built from a copy of the working tree (its files git tracks or would track, so
    the build never writes into the checkout), and the wheel installed into ``site``."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout.split("\0")
    source = root / "src"
    for name in filter(None, listed):
        if (ROOT / name).is_file():  # a tracked file deleted in the working tree is not part of it
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    sdist = subprocess.run([sys.executable, "-c", "import sys; from setuptools import build_meta as b; "
                            "print(b.build_sdist(sys.argv[1]))", str(root / "sdist")], cwd=source,
                           capture_output=True, text=True, timeout=300)
    assert sdist.returncode == 0, sdist.stderr
    sdist_path = root / "sdist" / sdist.stdout.strip().splitlines()[-1]
    _pip("wheel", sdist_path, "--no-build-isolation", "-w", root / "wheel")
    (wheel,) = (root / "wheel").glob("nlp_pipeline-*.whl")
    _pip("install", "--target", root / "site", wheel)
    return {"sdist": str(sdist_path), "wheel": str(wheel), "site": str(root / "site")}


@pytest.fixture(scope="module")
def built(once_per_run, tmp_path_factory) -> dict[str, Path]:
    """The sdist, the wheel and ``site`` (the wheel installed there), built once for the run and only read; and
    ``root``, this module's own folder (per xdist worker) for the commands' caches and working folders."""
    package = once_per_run("installed-package", _build)
    return {"root": tmp_path_factory.mktemp("installed"), **{name: Path(path) for name, path in package.items()}}


def _cli(built: dict[str, Path], *args: str | Path, site: Path | None = None, env: dict[str, str] | None = None,
         cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``nlp-pipeline ARGS`` as the installed console script, in a fresh process in an empty folder, with the
    installed copy (``site``) the only one importable."""
    site = site or built["site"]
    cwd = cwd or built["root"] / "cwd"
    cwd.mkdir(exist_ok=True)
    environ = {k: v for k, v in os.environ.items() if k not in ("NLP_PIPELINE_CORPORA_DIR", "NLP_PIPELINE_DATA_DIR")}
    environ.update({"PYTHONPATH": str(site), "NLP_PIPELINE_CACHE_DIR": str(built["root"] / "cache"), **(env or {})})
    return subprocess.run([str(site / "bin" / "nlp-pipeline"), *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env=environ, timeout=300)


def _ok(run: subprocess.CompletedProcess) -> str:
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    return run.stdout


def test_the_sdist_holds_the_top_level_folders_and_the_kernel_source_and_the_wheel_carries_them(built):
    with tarfile.open(built["sdist"]) as sdist:
        top = sdist.getnames()[0].split("/")[0]
        def member(name: str) -> bytes | None:
            try:
                return sdist.extractfile(f"{top}/{name}").read()
            except KeyError:
                return None
        for name, data in _shipped_files().items():
            assert member(name) == data, f"the sdist lacks {name} or holds another version of it"
        assert member(KERNEL) == (ROOT / KERNEL).read_bytes()
        assert member("setup.py") is not None  # the build step that copies the folders into the package
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
        for name, data in _shipped_files().items():
            assert wheel.read(f"nlp_pipeline/_shipped/{name}") == data
        assert wheel.read(KERNEL) == (ROOT / KERNEL).read_bytes()
        assert not [n for n in names if n.startswith(SHIPPED)]  # only inside the package, not as top-level folders
        page = {p.relative_to(ROOT).as_posix(): p.read_bytes() for p in (ROOT / "nlp_pipeline/serve/static").iterdir()}
        assert "nlp_pipeline/serve/static/index.html" in page and all(  # `serve`'s web page, each file as it is here
            name in names and wheel.read(name) == data for name, data in page.items())
    assert not (ROOT / "nlp_pipeline" / "_shipped").exists()  # no second copy in the checkout


def test_the_installed_cli_finds_its_corpora_pipelines_and_kernel_source(built):
    site = built["site"]
    where = subprocess.run([sys.executable, "-c", WHERE], capture_output=True, text=True, cwd=built["root"],
                           env={**os.environ, "PYTHONPATH": str(site)}, timeout=120)
    lines = _ok(where).splitlines()
    assert all(Path(line).is_relative_to(site) for line in lines), lines  # nothing from the checkout
    assert Path(lines[1]) == site / "nlp_pipeline" / "_shipped" / "corpora"
    assert sorted(p.name for p in Path(lines[2]).glob("*.yaml")) == sorted(p.name for p in (ROOT / "pipelines")
                                                                            .glob("*.yaml"))

    listed = _ok(_cli(built, "corpora"))
    registered = sorted(p.stem for p in (ROOT / "corpora").glob("*.yaml"))
    assert sorted(line.split(":")[0] for line in listed.splitlines() if not line.startswith(" ")) == registered
    shown = _ok(_cli(built, "config", "show", "sentiment"))
    assert "data.corpus:" in shown and "registered corpus (sst2, imdb" in shown

    info = json.loads(_ok(_cli(built, "info", "--json")))
    kernel = info["word2vec_kernel"]
    assert kernel["source"] == str(site / KERNEL) and kernel["source_present"] and kernel["unavailable"] is None
    assert not kernel["built"] and Path(kernel["library"]).is_relative_to(built["root"] / "cache")
    assert sorted(info["corpora"]) == registered
    assert info["folders"]["shared_mirrors"] == []  # no checkout, so no ../shared/corpora beside it
    assert info["corpora"]["pang_lee_polarity"]["found"]  # gensim's bundled sample


def test_the_installed_cli_runs_sentiment_and_builds_the_kernel_into_the_user_cache(built):
    cwd = built["root"] / "work"
    cwd.mkdir()
    rows = [f"a gorgeous witty film, take {i}\tpos\nterrible and boring, take {i}\tneg" for i in range(20)]
    (cwd / "mine.tsv").write_text("text\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    planned = _ok(_cli(built, "run", "sentiment", "--corpus", "mine.tsv", "--set", "data.text=[mine.tsv]", "--dry-run",
                       cwd=cwd))
    assert [line.split()[0] for line in planned.splitlines() if "to build" in line] == \
        ["tokenize", "pretrain_text", "embed", "train", "evaluate"]
    assert not (built["root"] / "cache" / "artifacts").exists() or \
        not list((built["root"] / "cache" / "artifacts").rglob("*.safetensors"))  # a dry run builds nothing

    run = _ok(_cli(built, "run", "sentiment", "--corpus", "pang_lee_polarity",
                   "--set", "data.text=[lee_background,pang_lee_polarity:train]", *TINY,
                   "--set", "model.hidden_size=8", "--set", "train.epochs=1", "--set", "train.batch_size=16", cwd=cwd))
    assert "bilstm" in run and "report: " in run
    report = Path(run.strip().splitlines()[-1].split("report: ", 1)[1])
    assert report.parts[0] == "reports" and (cwd / report / "results.md").is_file()  # in the folder it ran in
    predicted = _ok(_cli(built, "predict", "latest", "a gorgeous, witty film", cwd=cwd))
    assert predicted.split("\t")[0] in ("negative", "positive")

    (library,) = (built["root"] / "cache" / "native").glob("w2v_kernel-*.so")  # built on first use, in the cache
    assert not list(built["site"].rglob("*.so"))  # never beside the installed source
    kernel = _ok(_cli(built, "info"))
    assert f"word2vec kernel: built at {library}; auto on the CPU runs native" in kernel


def _without_compilers(folder: Path) -> Path:
    """A PATH folder with every program of this machine's but the C compilers `native._compiler` looks for."""
    folder.mkdir()
    for bin_dir in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(bin_dir):
            continue
        for program in os.scandir(bin_dir):
            if program.name not in ("cc", "gcc", "clang") and not (folder / program.name).exists():
                (folder / program.name).symlink_to(program.path)
    return folder


@pytest.mark.parametrize("lacking", ["compiler", "source"])
def test_without_a_compiler_or_the_kernel_source_one_line_says_so_and_the_tensor_path_trains(built, lacking):
    """What a machine with no C compiler, or an install that lost the kernel's source, sees: one line, no
    traceback, vectors trained all the same; `info` gives the same reason."""
    root = built["root"] / f"no-{lacking}"
    root.mkdir()
    site, env = built["site"], {"NLP_PIPELINE_CACHE_DIR": str(root / "cache"), "CC": ""}
    if lacking == "compiler":
        env["PATH"] = str(_without_compilers(root / "bin"))
        reason = "no C compiler found (cc, gcc or clang)"
    else:
        site = root / "site"
        shutil.copytree(built["site"], site, symlinks=True)
        (site / KERNEL).unlink()
        reason = f"the kernel's source {site / KERNEL} is missing"
    run = _cli(built, "run", "embeddings", "--corpus", "lee_background", *TINY, site=site, env=env, cwd=root)
    _ok(run)
    said = [line for line in (run.stdout + run.stderr).splitlines() if "kernel" in line or "tensor" in line]
    assert said == [f"word2vec: {reason}, so the C kernel cannot be built here; training with the tensor path"]
    assert "✓ embed" in run.stdout + run.stderr and not list((root / "cache").rglob("*.so"))
    info = _ok(_cli(built, "info", site=site, env=env, cwd=root))
    assert f"word2vec kernel: {reason}: word2vec trains with the tensor path; auto on the CPU runs tensor" in info
