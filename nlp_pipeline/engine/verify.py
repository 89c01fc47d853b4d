"""``cache verify``: check every artifact's files against its manifest, and its upstream references.

An artifact is *damaged* when its manifest is missing, malformed, or a file it records is missing,
of another size or of other content. It is *inconsistent* when an upstream artifact its manifest
names is in the cache with a different content digest than the one it was built from (that cannot
happen through the engine; it means someone edited the cache by hand). An upstream artifact that
is no longer in the cache (cleared) is only noted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from nlp_pipeline.engine.cache import ArtifactCache, short_key


@dataclass(frozen=True)
class Verdict:
    stage: str
    key: str
    problem: str | None  # damage, or None when the files match the manifest
    upstream: tuple[str, ...] = ()  # inconsistencies with the upstream artifacts it names
    notes: tuple[str, ...] = ()  # e.g. an upstream artifact no longer in the cache

    @property
    def ok(self) -> bool:
        return self.problem is None and not self.upstream


def _upstream_refs(inputs: dict) -> Iterator[tuple[str, str, str | None]]:
    for value in inputs.values():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict) and "stage" in item and "key" in item:
                yield item["stage"], item["key"], item.get("digest")


def verify_cache(cache: ArtifactCache, stage: str | None = None) -> list[Verdict]:
    """One `Verdict` per artifact folder (of ``stage``, or all), every file hashed in full."""
    verdicts = []
    for st, key in cache.entries():
        if stage is not None and st != stage:
            continue
        found = cache.lookup(st, key, rehash=True)
        if found.artifact is None:
            verdicts.append(Verdict(st, key, found.problem or "no manifest"))
            continue
        bad, notes = [], []
        for up_stage, up_key, digest in _upstream_refs(found.artifact.manifest["inputs"]):
            manifest, problem = cache.read_manifest(up_stage, up_key)
            if manifest is None:
                notes.append(f"built from {up_stage} [{short_key(up_key)}], " +
                             ("no longer in the cache" if problem is None else f"now damaged ({problem})"))
            elif digest is not None and manifest["digest"] != digest:
                bad.append(f"built from {up_stage} [{short_key(up_key)}] whose content has changed since")
        verdicts.append(Verdict(st, key, None, tuple(bad), tuple(notes)))
    return verdicts
