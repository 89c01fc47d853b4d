"""Find a corpus file on this machine, or fetch it, and prove it is the exact bytes the spec names.

Resolution order for ``<mirror>/<file>`` (first hit wins; every hit is sha256-verified):

1. ``data_dir`` argument, else ``$NLP_PIPELINE_DATA_DIR``: ``<dir>/<mirror>/<file>``;
2. the shared mirror ``../shared/corpora`` next to the checkout (not when installed) and next to the cwd;
3. the user cache ``<cache root>/corpora/<mirror>/<file>``, where the cache root is
   ``$NLP_PIPELINE_CACHE_DIR`` or ``~/.cache/nlp-pipeline``;
4. a verified download into the user cache (skipped when ``NLP_PIPELINE_OFFLINE=1``).

Why verify every copy: results are only comparable across machines when the bytes are, and a
truncated download or a locally "fixed" file would otherwise change scores silently. Hashing 56 MB
of IMDB on every run would cost a second, so a verification is remembered per (path, size, mtime)
in ``<cache root>/corpora/verified.json``; touching or editing the file re-hashes it.

Bundled gensim samples (``source: gensim``) resolve to `gensim.test.utils.datapath`'s location.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from nlp_pipeline.data.registry import CorpusSpec, DownloadSpec, FileSpec
from nlp_pipeline.engine.fingerprint import fingerprint_file, record_fingerprint
from nlp_pipeline.errors import CorpusNotFoundError, DataError
from nlp_pipeline.shipped import checkout_root

log = logging.getLogger(__name__)

ENV_DATA_DIR = "NLP_PIPELINE_DATA_DIR"
ENV_CACHE_DIR = "NLP_PIPELINE_CACHE_DIR"
ENV_OFFLINE = "NLP_PIPELINE_OFFLINE"
_CHUNK = 1 << 20
_DOWNLOAD_TIMEOUT_S = 60


def cache_root() -> Path:
    """The user cache root: ``$NLP_PIPELINE_CACHE_DIR`` or ``~/.cache/nlp-pipeline``."""
    env = os.environ.get(ENV_CACHE_DIR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "nlp-pipeline"


def corpus_cache_dir(spec: CorpusSpec) -> Path:
    """Where downloads of ``spec`` go: keyed by mirror folder, so imdb and imdb_unsup share one tarball."""
    return cache_root() / "corpora" / spec.mirror


def offline() -> bool:
    """Whether downloads are disabled (``NLP_PIPELINE_OFFLINE`` set to anything but ``""``/``0``)."""
    return os.environ.get(ENV_OFFLINE, "") not in ("", "0")


def shared_roots() -> list[Path]:
    """Existing ``../shared/corpora`` folders beside the checkout and beside the cwd, deduplicated.

    An installed package has no checkout, so only the cwd's neighbour applies there (and the data then
    comes from ``data_dir``, ``$NLP_PIPELINE_DATA_DIR`` or the user cache)."""
    roots: list[Path] = []
    for base in (checkout_root(), Path.cwd()):
        if base is None:
            continue
        candidate = (base / ".." / "shared" / "corpora").resolve()
        if candidate.is_dir() and candidate not in roots:
            roots.append(candidate)
    return roots


def resolve_file(spec: CorpusSpec, file_name: str, data_dir: str | Path | None = None) -> Path:
    """Return a local, verified path to ``file_name`` of corpus ``spec`` (order: see the module docstring).

    In each folder, a file under another name is accepted when it is the spec's download (IMDB: the
    official ``aclImdb_v1.tar.gz`` stands in for the mirror's archive; both hold the same member paths).
    Raises `DataError` when a copy has the wrong size or sha256, and `CorpusNotFoundError` with a
    one-line "put it here" message when no copy exists and no download is possible.
    """
    fs = spec.file(file_name)
    if spec.source == "gensim":
        return _resolve_gensim(spec, fs)
    folders, candidates = _candidates(spec, fs, data_dir)
    for path, size, sha in candidates:
        if path.is_file():
            verify_file(path, size, sha)
            log.debug("%s: %s resolved to %s", spec.name, fs.name, path)
            return path
    cache, dl = corpus_cache_dir(spec), fs.download
    alt = dl if dl is not None and dl.name != fs.name else None
    tried = ", ".join(str(p) for p, _, _ in candidates)
    target = folders[0]
    hint = f"put it in {target / fs.name}"
    if alt is not None:
        hint += f" (or {alt.name} from {alt.url} in {target / alt.name})"
    hint += f" or set {ENV_DATA_DIR} to a folder holding {spec.mirror}/{fs.name}"
    if dl is None:
        why = "no verified download is defined"
        raise CorpusNotFoundError(f"{spec.name}: {fs.name} not found ({why}); {hint} (tried: {tried})")
    if offline():
        why = f"{ENV_OFFLINE} is set, no download"
        raise CorpusNotFoundError(f"{spec.name}: {fs.name} not found ({why}); {hint} (tried: {tried})")
    try:
        return download(dl, cache / dl.name)
    except (OSError, ValueError) as err:  # URLError, timeouts, refused connections, disk errors, bad URL
        reason = " ".join(str(getattr(err, "reason", None) or err).split())
        raise CorpusNotFoundError(
            f"{spec.name}: {fs.name} not found and downloading {dl.url} failed ({reason}); "
            f"{hint} (tried: {tried})"
        ) from None


def _candidates(spec: CorpusSpec, fs: FileSpec, data_dir: str | Path | None
                ) -> tuple[list[Path], list[tuple[Path, int, str]]]:
    """The folders looked in, in order, and each ``(path, bytes, sha256)`` a copy may have there."""
    explicit = data_dir if data_dir is not None else os.environ.get(ENV_DATA_DIR) or None
    folders = [Path(explicit).expanduser() / spec.mirror] if explicit is not None else []
    folders += [root / spec.mirror for root in shared_roots()] + [corpus_cache_dir(spec)]
    alt = fs.download if fs.download is not None and fs.download.name != fs.name else None
    candidates = []
    for folder in folders:
        candidates.append((folder / fs.name, fs.bytes, fs.sha256))
        if alt is not None:
            candidates.append((folder / alt.name, alt.bytes, alt.sha256))
    return folders, candidates


def local_copy(spec: CorpusSpec, file_name: str, data_dir: str | Path | None = None) -> Path | None:
    """Where ``file_name`` of ``spec`` is on this machine, found as `resolve_file` finds it but never
    downloaded nor hashed (None: a run would have to download it): what ``info`` and a dry run say."""
    fs = spec.file(file_name)
    if spec.source == "gensim":
        path = gensim_datapath(fs.name)
        return path if path.is_file() else None
    return next((path for path, _, _ in _candidates(spec, fs, data_dir)[1] if path.is_file()), None)


def missing_files(spec: CorpusSpec, data_dir: str | Path | None = None) -> list[FileSpec]:
    """The files of ``spec`` not on this machine (`local_copy`): what a run would have to download."""
    return [fs for fs in spec.files if local_copy(spec, fs.name, data_dir) is None]


def gensim_datapath(name: str) -> Path:
    """Path of a file in gensim's bundled test data: what ``gensim.test.utils.datapath(name)`` returns.

    Computed from the package location instead of importing gensim, which takes about a second
    (scipy and friends) and would be paid by every CLI call that only reads a sample corpus.
    """
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise CorpusNotFoundError(f"{name} ships with gensim's test data, but gensim is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "test" / "test_data" / name


def _resolve_gensim(spec: CorpusSpec, fs: FileSpec) -> Path:
    path = gensim_datapath(fs.name)
    if not path.is_file():
        raise CorpusNotFoundError(f"{spec.name}: {fs.name} is not in gensim's test data (looked at {path})")
    verify_file(path, fs.bytes, fs.sha256)
    return path


# --------------------------------------------------------------------------------------------------
# Verification (cached) and download


def _verified_db_path() -> Path:
    return cache_root() / "corpora" / "verified.json"


def verify_file(path: Path, size: int, sha256: str) -> None:
    """Raise `DataError` unless ``path`` has exactly ``size`` bytes hashing to ``sha256``.

    A successful check is remembered by (resolved path, size, mtime) so the next run skips hashing.
    """
    path = path.resolve()
    st = path.stat()
    if st.st_size != size:
        raise DataError(
            f"size {st.st_size:,} bytes, expected {size:,} (sha256 {sha256[:12]}…): a different version or a "
            "truncated copy; replace it with the exact file or delete it to re-download",
            path=path,
        )
    actual = fingerprint_file(path, memo_file=_verified_db_path())
    if actual != sha256:
        raise DataError(
            f"sha256 mismatch: expected {sha256}, got {actual}; the file is corrupt or a different version "
            "(replace it with the exact file or delete it to re-download)",
            path=path,
        )


def download(dl: DownloadSpec, target: Path) -> Path:
    """Fetch ``dl.url`` to ``target``: stream into a temp file beside it, verify, then rename.

    The rename is atomic, so an interrupted or corrupt download never leaves a file that a later
    run would take for the real one. A size or sha256 mismatch deletes the temp file and raises
    `DataError`; network failures propagate as `OSError` (the caller words the message).
    """
    from tqdm import tqdm

    request = urllib.request.Request(dl.url, headers={"User-Agent": "nlp-pipeline"})
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    size = 0
    try:
        with (
            os.fdopen(fd, "wb") as out,
            urllib.request.urlopen(request, timeout=_DOWNLOAD_TIMEOUT_S) as response,
            tqdm(
                total=dl.bytes, unit="B", unit_scale=True, desc=target.name, disable=None, leave=False
            ) as bar,
        ):
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                h.update(chunk)
                size += len(chunk)
                bar.update(len(chunk))
        if size != dl.bytes or h.hexdigest() != dl.sha256:
            raise DataError(
                f"download of {dl.url} does not match its definition: {size:,} bytes, "
                f"sha256 {h.hexdigest()}, "
                f"expected {dl.bytes:,} bytes with sha256 {dl.sha256}; nothing was kept",
                path=target,
            )
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    record_fingerprint(target, dl.sha256, _verified_db_path())
    log.info("downloaded %s to %s", dl.url, target)
    return target
