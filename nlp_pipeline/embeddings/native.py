"""The torch engine's CPU kernel (`w2v_kernel.c`): compiled on first use, loaded with ctypes, optional.

Why C and not more tensor ops: on the CPU the engine's time went to materialising gathered rows
and scattering them back (`index_select` / `index_add_`: 86–91% of the update step, profiled), while
word2vec's own loop updates each row in place. `torch.compile` was measured and lost (skip-gram
31 s to compile, then 1.3x slower per batch; CBOW's data-dependent shapes recompile every batch).
The kernel is plain C99 with no Python or torch headers, so it builds in about a second with the
system's C compiler, once per source version, into the user cache; it is loaded with ctypes, which
releases the GIL, so Hogwild worker threads run it in parallel.

Planning and building are apart. The two update loops are different algorithms in their last bits
(the kernel's is the closer to word2vec's), so the one that will run is part of the embed stage's
key; `planned_kernel()` says which from the environment, PATH and whether the library is already
built, and never compiles or loads anything, because computing a key must stay cheap and free of
side effects (a `plan`, a `cache ls`, a key test). `load_kernel()` builds on the first training
use, under a time limit (`COMPILE_TIMEOUT_S`); where no compiler is found, the build fails or runs
out of time, it returns None with the reason and the engine trains with its tensor path instead.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

# Package data (pyproject's package-data), so an installed package has it too; the library it builds
# goes to the user cache (`_library_path`), as site-packages may be read-only.
SOURCE = Path(__file__).with_name("w2v_kernel.c")
# -O3 -march=native vectorises the fixed-order loops with this CPU's widest vectors; no -ffast-math and
# no FMA contraction, so the bits do not depend on the vector width (SSE, AVX2, AVX-512 or NEON give
# the same vectors). -funroll-loops unrolls the row loops (same order, same bits): 4-8% less time a
# centre at 300 d. The library is built per CPU (its flags are in the file name): a cache folder
# shared by machines of different CPUs never loads a build with instructions this one lacks.
CFLAGS = ("-O3", "-funroll-loops", "-std=c99", "-fPIC", "-shared", "-ffp-contract=off")
NATIVE_FLAGS = ("-march=native",)
# Seconds the build may take, both tries together (it takes about one): a compiler stuck on a network
# file system or a locked licence must not hang a training run, which then uses the tensor path.
COMPILE_TIMEOUT_S = 120.0
KERNELS = ("auto", "native", "tensor")
_NO_SOURCE = f"the kernel's source {SOURCE} is missing"


def _cpu_signature() -> str:
    import platform

    flags = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features", "model name")):
                flags += line
    except OSError:
        pass
    return hashlib.sha256((platform.machine() + flags).encode()).hexdigest()[:8]


def _compiler() -> str | None:
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    return None


def _library_path() -> Path | None:
    """Where the library built from this source for this CPU lives in the user cache (never beside the
    source: an installed package's folder may be read-only); None when the source is missing (an
    install that lost its package data), so there is nothing to build."""
    from nlp_pipeline.engine.cache import default_cache_dir

    try:
        source = SOURCE.read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256(source + " ".join(CFLAGS + NATIVE_FLAGS).encode()).hexdigest()[:16]
    return default_cache_dir() / "native" / f"w2v_kernel-{digest}-{sys.platform}-{_cpu_signature()}.so"


def _on_cpu(device: str) -> bool:
    """Whether ``device`` (a setting: ``auto``, ``cpu``, ``cuda:1``, ``mps``) trains on the CPU."""
    name = str(device).strip().lower()
    if name == "auto":  # as `nlp_pipeline.device.resolve_device` decides it
        import torch

        return not torch.cuda.is_available()
    return name.split(":", 1)[0] == "cpu"


def unavailable() -> str | None:
    """Why this machine cannot run the kernel, or None when it can (built already, or a compiler to
    build it): its source is missing (an install without its package data), or there is no C compiler
    and nothing built. Reads files and PATH only."""
    library = _library_path()
    if library is None:
        return _NO_SOURCE
    if library.is_file() or _compiler() is not None:
        return None
    return "no C compiler found (cc, gcc or clang)"


@functools.cache
def _say_once(why: str) -> None:
    """Log why ``auto`` trains with the tensor path, once per process and reason (keys are computed often)."""
    log.warning("word2vec: %s, so the C kernel cannot be built here; training with the tensor path", why)


def planned_kernel(kernel: str, device: str, *, quiet: bool = False) -> str:
    """``"native"`` or ``"tensor"``: the update loop a training run with these settings will use.

    Pure but for one log line: it reads the environment, PATH and whether the library file exists, and
    never compiles or loads anything (keys are computed with it). Off the CPU the tensor path always
    runs, and ``NLP_PIPELINE_NO_NATIVE`` turns the kernel off. ``auto`` on the CPU is native where the
    library is already built for this source and CPU or a C compiler is on PATH; where neither is (or
    the source is missing) it is tensor, and the first such answer in a process logs why, unless
    ``quiet`` (`nlp_pipeline.info` prints the reason itself). A build that then fails falls back to the
    tensor path at training time (the engine says so and records the kernel run).
    """
    if kernel not in KERNELS:
        raise ValueError(f"kernel must be one of {', '.join(KERNELS)}, not {kernel!r}")
    if kernel == "tensor" or os.environ.get("NLP_PIPELINE_NO_NATIVE") or not _on_cpu(device):
        return "tensor"
    if kernel == "native":
        return "native"
    why = unavailable()
    if why is not None and not quiet:
        _say_once(why)
    return "tensor" if why is not None else "native"


def _compile(command: list[str], timeout: float) -> tuple[int, str]:
    """``(exit status, stderr)`` of one compiler run; ``(-1, why)`` when it cannot start or runs out of
    time. The compiler runs in its own process group, so a timeout kills its subprocesses (cc1, as)
    too, not only the driver."""
    if timeout <= 0:
        return -1, f"the build took longer than {COMPILE_TIMEOUT_S:g} s"
    try:
        proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
    except OSError as err:
        return -1, f"cannot run {command[0]}: {err.strerror or err}"
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            proc.kill()
        proc.communicate()
        return -1, f"the build took longer than {COMPILE_TIMEOUT_S:g} s"
    return proc.returncode, err


def _build(path: Path) -> str | None:
    """Compile the library into ``path``; None, or why not. Atomic: concurrent first runs each compile
    into a temporary file and rename it into place."""
    cc = _compiler()
    if cc is None:
        return "no C compiler found (cc, gcc or clang)"
    deadline = time.monotonic() + COMPILE_TIMEOUT_S
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=path.parent)
        os.close(fd)
    except OSError as err:
        return f"cannot write to {path.parent}: {err.strerror or err}"
    try:
        status, err = _compile([cc, *CFLAGS, *NATIVE_FLAGS, "-o", tmp, str(SOURCE), "-lm"], COMPILE_TIMEOUT_S)
        if status > 0:  # a compiler without -march=native: the portable build
            status, err = _compile([cc, *CFLAGS, "-o", tmp, str(SOURCE), "-lm"], deadline - time.monotonic())
        if status < 0:
            return err
        if status > 0:
            last = err.strip().splitlines()[-1:]
            return f"{cc} failed: {last[0] if last else f'exit status {status}'}"
        os.replace(tmp, path)
        return None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@functools.lru_cache(maxsize=1)
def load_kernel() -> tuple[ctypes.CDLL | None, str]:
    """``(library, "")``, or ``(None, why not)``. Builds the library the first time (see `_build`);
    the answer is kept for the process, so a failed build is tried once per process."""
    if os.environ.get("NLP_PIPELINE_NO_NATIVE"):
        return None, "disabled by NLP_PIPELINE_NO_NATIVE"
    path = _library_path()
    if path is None:
        return None, _NO_SOURCE
    if not path.is_file():
        why = _build(path)
        if why is not None:
            return None, why
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as err:
        return None, f"cannot load {path}: {err}"
    f = lib.w2v_train
    p, i64, flt = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
    f.argtypes = [ctypes.c_int, p, p, i64, i64, p, p, i64, i64, i64, p, i64, flt, flt, ctypes.c_uint64, ctypes.c_int,
                  ctypes.c_int, p, p, p]
    f.restype = None
    lib.w2v_scan_new.argtypes, lib.w2v_scan_new.restype = [], p
    lib.w2v_scan_free.argtypes, lib.w2v_scan_free.restype = [p], None
    lib.w2v_scan_block.argtypes, lib.w2v_scan_block.restype = [p, p, i64, i64, p, p, p], ctypes.c_int
    lib.w2v_scan_sizes.argtypes, lib.w2v_scan_sizes.restype = [p, p], None
    lib.w2v_scan_words.argtypes, lib.w2v_scan_words.restype = [p, p, p], None
    return lib, ""


def kernel_available() -> bool:
    """Whether the kernel loads here, building it if need be: for tests and tools, never for keys
    (see `planned_kernel`)."""
    return load_kernel()[0] is not None
