"""Content fingerprints of files, folders and parameter dictionaries.

A file's fingerprint is the sha256 of its bytes. Hashing the 56 MB IMDB archives on every run would
cost a second or two, so hashes are memoised in a small JSON file, per absolute path, with the file's
size, mtime_ns, ctime_ns and inode when it was hashed; a memo entry is used only while all four are
unchanged, otherwise the file is hashed again. Size and mtime alone are not enough: an in-place edit
that keeps the size and then sets the old mtime back (``touch -r``, ``cp -p``, ``rsync -t``, an
archive's extraction) would be served the old hash, and with it a stale artifact. The change time
moves on every write and no program can set it back, and a replaced file has a new inode (the
artifact cache trusts its own files on the same four, see `nlp_pipeline.engine.cache`). Entries
written before ctime and inode were recorded (three-element lists) are simply misses.

A folder's fingerprint covers the sorted list of (relative path, file hash), so a rename is noticed
(unlike weasel's).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

_MEMO_LOCK = threading.Lock()
_CHUNK = 1 << 20


def hash_json(obj: Any) -> str:
    """Stable sha256 of a JSON-serialisable object (keys sorted, no whitespace)."""
    data = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str).encode()
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _signature(st: os.stat_result) -> list[int]:
    """What must be unchanged for a memoised hash to still be the file's: size, mtime, ctime, inode."""
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


class _Memo:
    """path → [size, mtime_ns, ctime_ns, inode, sha256], persisted as JSON next to the artifact cache."""

    def __init__(self, path: Path | None):
        self.path = path
        self.data: dict[str, list] = {}
        if path is not None and path.exists():
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                data = {}
            self.data = data if isinstance(data, dict) else {}

    def get(self, p: Path, st: os.stat_result) -> str | None:
        entry = self.data.get(str(p))
        # an entry of another shape (an older memo's three fields, a hand edit) is a miss
        if isinstance(entry, list) and len(entry) == 5 and entry[:4] == _signature(st) and isinstance(entry[4], str):
            return entry[4]
        return None

    def put(self, p: Path, st: os.stat_result, digest: str, save: bool = True) -> None:
        """Record ``digest`` for ``p`` as it was when ``st`` was taken (before reading it: a write
        during the read then changes ctime, and the next lookup is a miss)."""
        self.data[str(p)] = [*_signature(st), digest]
        if save:
            self.save()

    def save(self) -> None:
        if self.path is None:
            return
        # Best effort: a read-only home or a concurrent writer only costs a re-hash next time.
        # A write that fails (a full disk) removes its half-written temporary file.
        tmp = self.path.with_suffix(f".tmp{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(self.data))
            os.replace(tmp, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


_memos: dict[str, _Memo] = {}


def _memo(memo_file: Path | None) -> _Memo:
    key = str(memo_file)
    with _MEMO_LOCK:
        if key not in _memos:
            _memos[key] = _Memo(memo_file)
        return _memos[key]


def fingerprint_file(path: str | Path, memo_file: Path | None = None, save: bool = True) -> str:
    p = Path(path).resolve()
    st = p.stat()
    memo = _memo(memo_file)
    digest = memo.get(p, st)
    if digest is None:
        digest = sha256_file(p)
        memo.put(p, st, digest, save=save)
    return digest


def record_fingerprint(path: str | Path, digest: str, memo_file: Path | None) -> None:
    """Remember a hash computed elsewhere (e.g. while downloading) so the file is not read again."""
    p = Path(path).resolve()
    _memo(memo_file).put(p, p.stat(), digest)


def fingerprint_path(path: str | Path, memo_file: Path | None = None) -> str:
    """Fingerprint a file or a folder (recursively, names included)."""
    p = Path(path)
    if p.is_dir():
        # One memo write for the whole folder, not one per file (quadratic on large folders).
        entries = sorted(
            (str(f.relative_to(p)), fingerprint_file(f, memo_file, save=False)) for f in p.rglob("*") if f.is_file()
        )
        _memo(memo_file).save()
        return hash_json(entries)
    return fingerprint_file(p, memo_file)
