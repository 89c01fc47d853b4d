"""The artifact cache: one folder per (stage, key), written atomically, checked on every read.

Layout under ``<root>/artifacts/<stage>/``::

    <key>/                      a finished artifact: the stage's files plus manifest.json
    .tmp-<key>-<pid>-<rand>/    a build in progress (or one whose process died)
    .trash-<key>-<pid>-<rand>/  a damaged artifact on its way out

and ``<root>/locks/<stage>/<key>.lock``, the per-key lock every builder holds,
``<root>/latest/<stage>.json`` (``<root>/latest/<pipeline>/<stage>.json``), what ``latest`` names: the
artifact a completed run recorded (the best variant of a grid), not merely the newest one, and
``<root>/partial/<stage>/<key>/``, a build's checkpoints (`nlp_pipeline.training.checkpoint`): written only
under the key's lock, never an artifact (no lookup reads that tree), removed when the build commits.

Three promises, and how they are kept:

- **Nothing half-written is trusted.** A stage writes into its own temporary folder; the manifest is
  written last and the folder renamed into place, so an artifact exists iff its folder has a manifest.
- **Nothing damaged is served.** The manifest records the size and sha256 of every file it holds;
  `ArtifactCache.lookup` checks them all and reports the first problem instead of an artifact. A
  file is re-hashed unless its size, modification and change times and inode are the ones recorded
  when its content last matched (any write changes the change time, which cannot be set back), so
  a hit does not read hundreds of MB from a cold disk; `cache verify` re-hashes everything. A
  manifest that is not JSON of the right shape means "no artifact".
- **Readable as the umask allows.** Some writers create private files (``tempfile.mkstemp``,
  safetensors: mode 0600); `commit` gives every file the mode a plain ``open`` would (0o666 & ~umask),
  so a cache shared by a group works whatever wrote into it.
- **A full disk is one line.** A build that runs out of space (or quota) is removed and becomes a
  `DiskFullError` naming the stage, the folder and the space, whatever library raised it.
- **Concurrent runs cooperate.** A builder holds ``<key>.lock`` (an OS file lock, released by the
  kernel when its process dies, even under SIGKILL); others wait, then find the artifact built. A
  temporary folder is removed only by its own process, or by another once its process is gone.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import secrets
import shutil
import stat
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from nlp_pipeline.engine.fingerprint import hash_json, sha256_file
from nlp_pipeline.errors import ConfigError, DataError, PipelineError

MANIFEST = "manifest.json"
VERIFIED = ".verified.json"  # stat signatures of files whose content last matched the manifest
TMP_PREFIX = ".tmp-"
TRASH_PREFIX = ".trash-"
LATEST_DIR = "latest"  # <root>/latest/[<pipeline>/]<stage>.json: what `latest` names
PARTIAL_DIR = "partial"  # <root>/partial/<stage>/<key>/: what an unfinished build can resume from
SHORT_KEY = 12  # characters of a key that every log line, table, report and command shows


def short_key(key: str) -> str:
    """The key prefix users see and type: one length everywhere, so a prefix copied from a log line,
    ``cache ls`` or a report finds the same artifact (12 hex digits: 48 bits, no collision in any cache)."""
    return key[:SHORT_KEY]


def human_size(n: int) -> str:
    """``1.5 MB``, ``340 kB``, ``12 B`` (decimal units, as ``cache ls`` shows sizes)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


# -- a full disk ------------------------------------------------------------------------------

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# What the OS says for them, which libraries that wrap the error keep in their own message
# (safetensors: "SafetensorError: Error while serializing: ... No space left on device (os error 28)").
DISK_FULL_MESSAGES = {errno.ENOSPC: "No space left on device", errno.EDQUOT: "Disk quota exceeded"}


class DiskFullError(PipelineError):
    """A stage's output did not fit on the disk of the cache; its build folder was removed."""


def disk_full(err: BaseException | None) -> int | None:
    """``errno.ENOSPC`` or ``errno.EDQUOT`` when ``err``, or an exception it was raised from, says the disk
    (or the user's quota) is full; else None.

    An `OSError` says so by its errno; safetensors' ``SafetensorError``, torch's and numpy's wrappers
    only by the OS message they quote, so that is read too. A project error is never one: its message
    is the user's to read as it is.
    """
    seen: set[int] = set()
    while err is not None and id(err) not in seen and not isinstance(err, PipelineError):
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in DISK_FULL_ERRNOS:
            return err.errno
        text = str(err)
        for code, message in DISK_FULL_MESSAGES.items():
            if message in text:
                return code
        err = err.__cause__ or err.__context__
    return None


def free_space(path: Path) -> int | None:
    """Bytes free for this user on the disk that holds ``path`` (or would: its nearest existing folder)."""
    for folder in (path, *path.parents):
        with contextlib.suppress(OSError):
            return shutil.disk_usage(folder).free
    return None


def disk_full_error(code: int, writer: str, folder: Path, *, free_before: int | None,
                    written: int = 0) -> DiskFullError:
    """The one line for a write that filled the disk: who wrote (``the train stage``), the folder, and the
    space: more than was free when it started (and what it had written, where a partial file is left to
    measure: safetensors removes its own)."""
    if code == errno.EDQUOT:  # the disk may have room; the user's quota has not
        need = f"it had written {human_size(written)} when the quota was reached"
    else:
        free = "an unknown amount" if free_before is None else human_size(free_before)
        need = f"it needs more than the {free} that were free there when it started" + (
            f" (it had written {human_size(written)})" if written else "")
    what = "disk quota exceeded" if code == errno.EDQUOT else "no space left on device"
    return DiskFullError(f"{what} while {writer} wrote its output to {folder}: {need}; nothing was kept. Free "
                         "space there, or move the cache (--cache-dir, $NLP_PIPELINE_CACHE_DIR), and run again")


# -- file modes -------------------------------------------------------------------------------


def process_umask() -> int:
    """This process's umask, read where Linux shows it: `os.umask` can only read it by setting it, which
    races with other threads creating files meanwhile."""
    with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def apply_umask(folder: Path, umask: int | None = None) -> None:
    """Give ``folder`` and everything below it the mode a plain ``open`` or ``mkdir`` would: 0o666 & ~umask for
    a file, 0o777 & ~umask for a folder or an executable (as a compiler makes it); links are left alone.

    ``tempfile.mkstemp`` and safetensors create 0600 files: in a cache or report shared by a group,
    their readers could not open them. Fixing modes where artifacts are committed and reports written
    covers every writer, present and future, and follows the user's umask (077 keeps files private).
    """
    umask = process_umask() if umask is None else umask
    for path in (folder, *folder.rglob("*")):
        st = path.lstat()
        if stat.S_ISLNK(st.st_mode):
            continue
        want = (0o777 if stat.S_ISDIR(st.st_mode) or st.st_mode & 0o111 else 0o666) & ~umask
        if stat.S_IMODE(st.st_mode) != want:
            os.chmod(path, want)


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

    @property
    def digest(self) -> str:
        """A hash of every file's name, size and content: what a downstream manifest records it read."""
        return self.manifest.get("digest", "")

    def file(self, name: str) -> Path:
        return self.path / name


@dataclass(frozen=True)
class Pointer:
    """What a completed run recorded as ``latest`` for a stage: its model (the best variant of a grid)."""

    stage: str
    key: str
    pipeline: str | None = None  # the pipeline whose run recorded it
    variant: str | None = None
    recorded: float = 0.0  # when (seconds since the epoch)


def read_pointer(path: Path) -> Pointer | None:
    """The pointer in ``path``, or None (missing, or not one: a hand edit is no pointer, never a crash)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (isinstance(data, dict) and isinstance(data.get("stage"), str) and isinstance(data.get("key"), str)):
        return None
    pipeline, variant, recorded = data.get("pipeline"), data.get("variant"), data.get("recorded")
    return Pointer(data["stage"], data["key"], pipeline if isinstance(pipeline, str) else None,
                   variant if isinstance(variant, str) else None,
                   float(recorded) if isinstance(recorded, int | float) else 0.0)


@dataclass(frozen=True)
class Lookup:
    """What the cache holds under a key: an artifact, a damaged one (``problem``), or nothing."""

    artifact: Artifact | None = None
    problem: str | None = None  # one line: why the folder there is not a usable artifact
    stale: bool = False  # intact, but built from upstream content that is no longer in the cache


def file_table(folder: Path) -> dict[str, dict]:
    """``{relative path: {"size", "sha256"}}`` of every file below ``folder`` but the manifest."""
    table = {}
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.name not in (MANIFEST, VERIFIED):
            table[f.relative_to(folder).as_posix()] = {"size": f.stat().st_size, "sha256": sha256_file(f)}
    return table


def _signature(st: os.stat_result, sha256: str) -> list:
    """What must be unchanged for a file's content to be trusted without re-reading it.

    Any write through the filesystem changes the change time (``st_ctime_ns``), which, unlike the
    modification time, no program can set back; a replaced file changes its inode.
    """
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, sha256]


def _read_verified(path: Path) -> dict:
    try:
        data = json.loads((path / VERIFIED).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_verified(path: Path, signatures: dict) -> None:
    """Best effort (a read-only cache only costs a re-hash next time); atomic against concurrent readers."""
    with contextlib.suppress(OSError), AtomicWriter(path / VERIFIED, durable=False) as fh:
        fh.write(json.dumps(signatures))


class AtomicWriter:
    """A text file written under a hidden temporary name next to ``path`` and renamed over it on `commit`.

    A reader of ``path`` sees the old file or the whole new one, never part of it (`os.replace` is
    atomic on POSIX); ``durable`` fsyncs the data first, so that a crash after the rename cannot leave
    an empty file under the final name. `discard` (or an exception inside ``with``) removes the
    temporary file; after a SIGKILL it stays, as ``.<name>.tmp-<pid>-<random>``, a name no reader
    takes for the file, for its owner's cleanup (`nlp_pipeline.batch` removes a shard's before redoing it).
    """

    def __init__(self, path: Path, *, durable: bool = True) -> None:
        self.path = path
        self.durable = durable
        self.tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(3)}")
        self.fh = open(self.tmp, "w", encoding="utf-8", newline="\n")  # noqa: SIM115 - closed by commit/discard
        self.write = self.fh.write

    def commit(self) -> None:
        try:
            self.fh.flush()
            if self.durable:
                os.fsync(self.fh.fileno())
            self.fh.close()
            os.replace(self.tmp, self.path)
        except BaseException:
            self.discard()
            raise

    def discard(self) -> None:
        self.fh.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        elif not self.fh.closed:
            self.discard()


@contextlib.contextmanager
def held_lock(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an OS file lock on ``path`` (created with its folder); the kernel drops it when its process dies,
    even under SIGKILL. ``on_wait`` is called once if another process holds it, then this one waits; an
    ``on_wait`` that raises gives up instead (one run per output folder).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    # preserve_lock_file: deleting a lock file on release lets two processes lock two different
    # inodes of one path. No soft-lock fallback: a soft lock survives SIGKILL and would hang others.
    lock = FileLock(path, preserve_lock_file=True, fallback_to_soft=False, thread_local=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if on_wait is not None:
            on_wait()
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def check_manifest(data: object) -> str | None:
    """``None`` when ``data`` is a manifest of the right shape, else what is wrong."""
    if not isinstance(data, dict):
        return f"manifest is a JSON {type(data).__name__}, not an object"
    for name, kind in (("stage", str), ("key", str), ("files", dict), ("metadata", dict), ("params", dict),
                       ("inputs", dict), ("digest", str), ("created", int | float)):
        if not isinstance(data.get(name), kind):
            return f"manifest has no valid {name!r}"
    for rel, entry in data["files"].items():
        if not (isinstance(entry, dict) and isinstance(entry.get("size"), int)
                and isinstance(entry.get("sha256"), str)):
            return f"manifest entry for {rel!r} is malformed"
    return None


def load_manifest(folder: Path) -> tuple[dict | None, str | None]:
    """``(manifest, None)``, or ``(None, problem)``; ``(None, None)`` when ``folder`` does not exist."""
    path = folder / MANIFEST
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, ("folder has no manifest" if folder.is_dir() else None)
    except OSError as err:
        return None, f"manifest unreadable ({err.strerror})"
    try:
        data = json.loads(text)
    except ValueError:
        return None, "manifest is not valid JSON"
    return (None, problem) if (problem := check_manifest(data)) else (data, None)


def verify_folder(folder: Path, manifest: dict | None = None, *, rehash: bool = False) -> str | None:
    """``None`` when ``folder`` (an artifact, in the cache or copied elsewhere) matches its manifest."""
    if manifest is None:
        manifest, problem = load_manifest(folder)
        if manifest is None:
            return problem or "folder not found"
    problem = verify_files(folder, manifest["files"], rehash=rehash)
    if problem is None and hash_json(manifest["files"]) != manifest["digest"]:
        problem = "manifest's file table does not match its digest"
    return problem


def verify_files(path: Path, files: dict[str, dict], *, rehash: bool = False) -> str | None:
    """``None`` when every recorded file is there with its size and its sha256.

    A file whose size, times and inode are those recorded (in ``.verified.json``) when its content
    last matched the manifest is not read again, so a hit on hundreds of MB costs a few ``stat``
    calls; any other file is hashed in full. ``rehash`` hashes every file (``cache verify``).
    """
    stats = {}
    for rel, entry in files.items():
        try:
            stats[rel] = (path / rel).stat()
        except OSError:
            return f"{rel} is missing"
        if stats[rel].st_size != entry["size"]:
            return f"{rel} is {stats[rel].st_size:,} bytes, the manifest says {entry['size']:,}"
    known = {} if rehash else _read_verified(path)
    signatures = {}
    for rel, entry in files.items():
        signature = _signature(stats[rel], entry["sha256"])
        if known.get(rel) != signature and sha256_file(path / rel) != entry["sha256"]:
            return f"{rel} content differs from what was written (sha256 mismatch)"
        signatures[rel] = signature
    if signatures != known:
        _write_verified(path, signatures)
    return None


class _LockBusy(Exception):
    """Another process holds the lock (`ArtifactCache.clear_partial` then leaves its folder alone)."""


def _busy() -> None:
    raise _LockBusy


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        pass
    return True


def _owner_pid(folder_name: str) -> int | None:
    """The pid in ``.tmp-<key>-<pid>-<rand>`` / ``.trash-…`` (None for a name of another shape)."""
    try:
        return int(folder_name.split("-")[-2])
    except (IndexError, ValueError):
        return None


class ArtifactCache:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root).expanduser() if root else default_cache_dir()
        self.artifacts_dir = self.root / "artifacts"
        self.locks_dir = self.root / "locks"
        self.fingerprint_memo = self.root / "fingerprints.json"
        self.latest_dir = self.root / LATEST_DIR
        self.partial_dir = self.root / PARTIAL_DIR

    def folder(self, stage: str, key: str) -> Path:
        return self.artifacts_dir / stage / key

    # -- reading ------------------------------------------------------------------------------

    def read_manifest(self, stage: str, key: str) -> tuple[dict | None, str | None]:
        """`load_manifest` of ``stage/key``, which must also name that stage and key."""
        manifest, problem = load_manifest(self.folder(stage, key))
        if manifest is not None and (manifest["stage"], manifest["key"]) != (stage, key):
            return None, f"manifest is for {manifest['stage']}/{manifest['key']}, not {stage}/{key}"
        return manifest, problem

    def lookup(self, stage: str, key: str, *, rehash: bool = False) -> Lookup:
        """The artifact under ``stage/key`` after checking its manifest and every file it records."""
        manifest, problem = self.read_manifest(stage, key)
        if manifest is None:
            return Lookup(problem=problem)
        path = self.folder(stage, key)
        problem = verify_folder(path, manifest, rehash=rehash)
        return Lookup(problem=problem) if problem else Lookup(artifact=Artifact(stage, key, path, manifest))

    def get(self, stage: str, key: str) -> Artifact | None:
        """The verified artifact, or ``None`` (missing or damaged)."""
        return self.lookup(stage, key).artifact

    def entries(self) -> Iterator[tuple[str, str]]:
        """``(stage, key)`` of every artifact folder (valid or not), temporary folders excluded."""
        if not self.artifacts_dir.is_dir():
            return
        for stage_dir in sorted(self.artifacts_dir.iterdir()):
            if not stage_dir.is_dir():
                continue
            for folder in sorted(stage_dir.iterdir()):
                if folder.is_dir() and not folder.name.startswith((TMP_PREFIX, TRASH_PREFIX)):
                    yield stage_dir.name, folder.name

    def __iter__(self) -> Iterator[Artifact]:
        """Every artifact with a well-formed manifest (files are not re-hashed: see `lookup`)."""
        for stage, key in self.entries():
            manifest, _ = self.read_manifest(stage, key)
            if manifest is not None:
                yield Artifact(stage, key, self.folder(stage, key), manifest)

    def pointer_file(self, stage: str, pipeline: str | None = None) -> Path:
        return (self.latest_dir / pipeline if pipeline else self.latest_dir) / f"{stage}.json"

    def pointer(self, stage: str, pipeline: str | None = None) -> Pointer | None:
        """What the last completed run (of ``pipeline``, when given) recorded as ``latest`` for ``stage``."""
        found = read_pointer(self.pointer_file(stage, pipeline))
        return found if found is not None and found.stage == stage else None

    def latest(self, stage: str, pipeline: str | None = None) -> Artifact | None:
        """The ``stage`` artifact the last completed run recorded (of ``pipeline``'s runs, when given); when no
        run has recorded one, the newest artifact of the stage (built by ``pipeline``); None when there is none.

        A recorded artifact that is gone or damaged is an error naming it, never a silent switch to
        another model: ``latest`` means what the last run said it means.
        """
        pointer = self.pointer(stage, pipeline)
        if pointer is None:
            arts = [a for a in self if a.stage == stage
                    and (pipeline is None or (a.manifest.get("runtime") or {}).get("pipeline") == pipeline)]
            return max(arts, key=lambda a: a.manifest.get("created", 0), default=None)
        manifest, problem = self.read_manifest(stage, pointer.key)
        if manifest is not None:
            return Artifact(stage, pointer.key, self.folder(stage, pointer.key), manifest)
        by = f" (recorded by run {pointer.pipeline}" + (f", variant {pointer.variant})" if pointer.variant else ")")
        where = f"{stage} [{short_key(pointer.key)}]{by if pointer.pipeline else ''}"
        if problem is None:
            raise ConfigError(f"latest {where} is no longer in the cache ({self.artifacts_dir}); run the pipeline "
                              f"again, or name another by key (`nlp-pipeline cache ls --stage {stage}`)")
        raise DataError(f"latest {where} is damaged ({problem}); run the pipeline again",
                        path=self.folder(stage, pointer.key))

    def record_latest(self, stage: str, key: str, *, pipeline: str | None = None, variant: str | None = None) -> None:
        """Make ``latest`` of ``stage`` (and of ``stage`` for ``pipeline``'s runs) name ``key``.

        Each pointer is written whole under a temporary name and renamed over the old one, so a reader
        (a ``predict latest`` during a run) sees the previous pointer or this one, never a mix.
        """
        record = json.dumps({"stage": stage, "key": key, "pipeline": pipeline, "variant": variant,
                             "recorded": time.time()}, indent=2)
        for path in [self.pointer_file(stage)] + ([self.pointer_file(stage, pipeline)] if pipeline else []):
            path.parent.mkdir(parents=True, exist_ok=True)
            with AtomicWriter(path) as fh:
                fh.write(record)

    def drop_dangling_pointers(self) -> int:
        """Remove every ``latest`` pointer whose artifact is no longer in the cache; returns how many."""
        dropped = 0
        if self.latest_dir.is_dir():
            for path in self.latest_dir.rglob("*.json"):
                pointer = read_pointer(path)
                if pointer is not None and not self.folder(pointer.stage, pointer.key).is_dir():
                    path.unlink(missing_ok=True)
                    dropped += 1
        return dropped

    def find(self, key_prefix: str) -> list[Artifact]:
        return [a for a in self if a.key.startswith(key_prefix)]

    # -- partial builds -----------------------------------------------------------------------

    def partial_folder(self, stage: str, key: str) -> Path:
        """Where a build of ``stage/key`` keeps its checkpoints: outside ``artifacts/``, so no lookup,
        listing of artifacts or ``latest`` can ever take it for one."""
        return self.partial_dir / stage / key

    def partial_entries(self, stage: str | None = None) -> Iterator[tuple[str, str, Path]]:
        """``(stage, key, folder)`` of every partial build (of one stage), finished or interrupted or running."""
        if not self.partial_dir.is_dir():
            return
        for stage_dir in sorted(self.partial_dir.iterdir()):
            if not stage_dir.is_dir() or (stage is not None and stage_dir.name != stage):
                continue
            for folder in sorted(stage_dir.iterdir()):
                if folder.is_dir():
                    yield stage_dir.name, folder.name, folder

    def remove_partial(self, stage: str, key: str) -> None:
        """Delete a build's checkpoints (it committed, or they are of no use). Call it holding the key's lock."""
        shutil.rmtree(self.partial_folder(stage, key), ignore_errors=True)

    def clear_partial(self, stage: str | None = None) -> int:
        """Remove the partial builds (of one stage) that no process is building; returns how many.

        A build in progress holds its key's lock and writes its checkpoints there: its folder is left
        alone (as its temporary folder is), so a clear never pulls a folder from under a writer.
        """
        removed = 0
        for st, key, _ in list(self.partial_entries(stage)):
            try:
                with held_lock(self.locks_dir / st / f"{key}.lock", on_wait=_busy):
                    self.remove_partial(st, key)
                    removed += 1
            except _LockBusy:
                continue
        return removed

    # -- writing ------------------------------------------------------------------------------

    def lock(self, stage: str, key: str,
             on_wait: Callable[[], None] | None = None) -> contextlib.AbstractContextManager[None]:
        """Hold the per-key build lock (`held_lock`); ``on_wait`` is called once if another process holds it."""
        return held_lock(self.locks_dir / stage / f"{key}.lock", on_wait)

    def temp_folder(self, stage: str, key: str) -> Path:
        """A fresh build folder of this process; leftovers of dead processes (of this stage) are removed."""
        stage_dir = self.artifacts_dir / stage
        stage_dir.mkdir(parents=True, exist_ok=True)
        self.remove_orphans(stage)
        tmp = stage_dir / f"{TMP_PREFIX}{key}-{os.getpid()}-{secrets.token_hex(4)}"
        tmp.mkdir()
        return tmp

    def remove_orphans(self, stage: str | None = None) -> int:
        """Remove temporary and trash folders whose process is gone; returns how many."""
        removed = 0
        if not self.artifacts_dir.is_dir():
            return 0
        for stage_dir in self.artifacts_dir.iterdir():
            if not stage_dir.is_dir() or (stage is not None and stage_dir.name != stage):
                continue
            for prefix in (TMP_PREFIX, TRASH_PREFIX):
                for folder in stage_dir.glob(f"{prefix}*"):
                    pid = _owner_pid(folder.name)
                    if pid is not None and pid != os.getpid() and _pid_alive(pid):
                        continue
                    if pid == os.getpid() and prefix == TMP_PREFIX:
                        continue  # ours, and maybe still being written by this process
                    shutil.rmtree(folder, ignore_errors=True)
                    removed += 1
        return removed

    def commit(self, tmp: Path, stage: str, key: str, manifest: dict) -> Artifact:
        """Give every file the umask's mode, record every file's size and hash, write the manifest last,
        rename the folder into place.

        Call it holding the key's lock. A folder already at the final place (a damaged artifact, or
        the old one under ``--force``) is first renamed aside, so the swap is two atomic renames and
        a reader never sees a folder with some files of each.
        """
        apply_umask(tmp)  # before the stat signatures: a mode change moves a file's change time
        files = file_table(tmp)
        manifest = {**manifest, "stage": stage, "key": key, "files": files, "digest": hash_json(files)}
        _write_verified(tmp, {rel: _signature((tmp / rel).stat(), e["sha256"]) for rel, e in files.items()})
        with open(tmp / MANIFEST, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(manifest, indent=2, sort_keys=True, default=str))
            fh.flush()
            os.fsync(fh.fileno())
        final = self.folder(stage, key)
        trash = self._move_aside(stage, key)
        os.replace(tmp, final)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)
        return Artifact(stage, key, final, manifest)

    def _move_aside(self, stage: str, key: str) -> Path | None:
        """Rename the folder of ``stage/key`` (if any) to a trash name of this process; returns it."""
        final = self.folder(stage, key)
        if not final.exists():
            return None
        trash = final.parent / f"{TRASH_PREFIX}{key}-{os.getpid()}-{secrets.token_hex(4)}"
        os.replace(final, trash)
        return trash

    def discard(self, stage: str, key: str) -> None:
        """Move an artifact out of the way and delete it."""
        trash = self._move_aside(stage, key)
        if trash is not None:
            shutil.rmtree(trash, ignore_errors=True)

    def clear(self, stage: str | None = None) -> int:
        """Remove artifacts (of one stage, or all), orphaned build folders, partial builds (`clear_partial`) and
        the ``latest`` pointers to what was removed (``latest`` then falls back to the newest artifact left);
        returns the artifact count.

        Builds in progress are left alone: their folders belong to live processes.
        """
        removed = 0
        for st, key in list(self.entries()):
            if stage is None or st == stage:
                self.discard(st, key)
                removed += 1
        self.remove_orphans(stage)
        self.clear_partial(stage)
        self.drop_dangling_pointers()
        return removed


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
