"""The artifact cache: one folder per (stage, key), written atomically.

Layout: ``<root>/artifacts/<stage>/<key>/`` holding the stage's files plus ``manifest.json``.
A stage writes into ``<root>/artifacts/<stage>/.tmp-<key>-<pid>/`` and the folder is renamed into
place only after the manifest is written, so a run killed mid-write leaves nothing a later run
would trust: an artifact exists iff its final folder exists with a manifest.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MANIFEST = "manifest.json"


def default_cache_dir() -> Path:
    """``$NLP_PIPELINE_CACHE_DIR``, else ``~/.cache/nlp-pipeline``."""
    env = os.environ.get("NLP_PIPELINE_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nlp-pipeline"


@dataclass(frozen=True)
class Artifact:
    """A finished stage output: a folder and its manifest."""

    stage: str
    key: str
    path: Path
    manifest: dict

    @property
    def metadata(self) -> dict:
        return self.manifest.get("metadata", {})

    def file(self, name: str) -> Path:
        return self.path / name


class ArtifactCache:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root else default_cache_dir()
        self.artifacts_dir = self.root / "artifacts"
        self.fingerprint_memo = self.root / "fingerprints.json"

    def folder(self, stage: str, key: str) -> Path:
        return self.artifacts_dir / stage / key

    def get(self, stage: str, key: str) -> Artifact | None:
        path = self.folder(stage, key)
        manifest = path / MANIFEST
        if not manifest.is_file():
            return None
        try:
            data = json.loads(manifest.read_text())
        except (OSError, ValueError):
            return None
        return Artifact(stage, key, path, data)

    def temp_folder(self, stage: str, key: str) -> Path:
        stage_dir = self.artifacts_dir / stage
        stage_dir.mkdir(parents=True, exist_ok=True)
        # Leftovers of earlier killed runs of the same key are never trusted: remove them.
        for stale in stage_dir.glob(f".tmp-{key}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = stage_dir / f".tmp-{key}-{os.getpid()}"
        tmp.mkdir()
        return tmp

    def commit(self, tmp: Path, stage: str, key: str, manifest: dict) -> Artifact:
        """Write the manifest last, then rename the folder into place (atomic on one filesystem)."""
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str))
        final = self.folder(stage, key)
        if final.exists():  # an incomplete folder (no manifest) or a concurrent writer's result
            shutil.rmtree(final)
        os.replace(tmp, final)
        return Artifact(stage, key, final, manifest)

    def __iter__(self) -> Iterator[Artifact]:
        if not self.artifacts_dir.is_dir():
            return
        for stage_dir in sorted(self.artifacts_dir.iterdir()):
            if not stage_dir.is_dir():
                continue
            for folder in sorted(stage_dir.iterdir()):
                if folder.name.startswith(".tmp-"):
                    continue
                art = self.get(stage_dir.name, folder.name)
                if art is not None:
                    yield art

    def latest(self, stage: str) -> Artifact | None:
        arts = [a for a in self if a.stage == stage]
        return max(arts, key=lambda a: a.manifest.get("created", 0), default=None)

    def find(self, key_prefix: str) -> list[Artifact]:
        return [a for a in self if a.key.startswith(key_prefix)]

    def clear(self, stage: str | None = None) -> int:
        """Remove artifacts (of one stage, or all) and any leftover temp folders; returns the count."""
        if not self.artifacts_dir.is_dir():
            return 0
        removed = 0
        for stage_dir in list(self.artifacts_dir.iterdir()):
            if stage is not None and stage_dir.name != stage:
                continue
            for folder in list(stage_dir.iterdir()):
                shutil.rmtree(folder, ignore_errors=True)
                removed += not folder.name.startswith(".tmp-")
        return removed


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
