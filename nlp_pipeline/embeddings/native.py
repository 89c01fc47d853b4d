"""The torch engine's CPU kernel (`w2v_kernel.c`): compiled on first use, loaded with ctypes, optional.

Why C and not more tensor ops: on the CPU the engine's time went to materialising gathered rows
and scattering them back (`index_select` / `index_add_`: 86–91% of the update step, profiled), while
word2vec's own loop updates each row in place. `torch.compile` was measured and lost (skip-gram
31 s to compile, then 1.3x slower per batch; CBOW's data-dependent shapes recompile every batch).
The kernel is plain C99 with no Python or torch headers, so it builds in about a second with the
system's C compiler, once per source version, into the user cache; it is loaded with ctypes, which
releases the GIL, so Hogwild worker threads run it in parallel.

Where no compiler is found (or the build fails) `load_kernel()` returns None with the reason and the
engine uses its tensor path; `kernel_available()` tells the pipeline which one will run, because
the two are different algorithms in their last bits (and the kernel's is the closer to word2vec's),
so the choice is part of the embed stage's key.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).with_name("w2v_kernel.c")
# -O3 -march=native vectorises the fixed-order loops with this CPU's widest vectors; no -ffast-math and
# no FMA contraction, so the bits do not depend on the vector width (SSE, AVX2, AVX-512 or NEON give
# the same vectors). The library is built per CPU (its flags are in the file name): a cache folder
# shared by machines of different CPUs never loads a build with instructions this one lacks.
CFLAGS = ("-O3", "-std=c99", "-fPIC", "-shared", "-ffp-contract=off")
NATIVE_FLAGS = ("-march=native",)


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


def _library_path() -> Path:
    from nlp_pipeline.engine.cache import default_cache_dir

    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(CFLAGS + NATIVE_FLAGS).encode()).hexdigest()[:16]
    return default_cache_dir() / "native" / f"w2v_kernel-{digest}-{sys.platform}-{_cpu_signature()}.so"


@functools.lru_cache(maxsize=1)
def load_kernel() -> tuple[ctypes.CDLL | None, str]:
    """``(library, "")``, or ``(None, why not)``. Builds the library once (atomically: concurrent
    first runs each compile into a temporary file and rename it into place)."""
    if os.environ.get("NLP_PIPELINE_NO_NATIVE"):
        return None, "disabled by NLP_PIPELINE_NO_NATIVE"
    path = _library_path()
    if not path.is_file():
        cc = _compiler()
        if cc is None:
            return None, "no C compiler found (cc, gcc or clang)"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=path.parent)
        os.close(fd)
        proc = subprocess.run([cc, *CFLAGS, *NATIVE_FLAGS, "-o", tmp, str(SOURCE), "-lm"], capture_output=True,
                              text=True)
        if proc.returncode != 0:  # a compiler without -march=native: the portable build
            proc = subprocess.run([cc, *CFLAGS, "-o", tmp, str(SOURCE), "-lm"], capture_output=True, text=True)
        if proc.returncode != 0:
            os.unlink(tmp)
            return None, f"{cc} failed: {proc.stderr.strip().splitlines()[-1:] or proc.returncode}"
        os.replace(tmp, path)
    try:
        lib = ctypes.CDLL(str(path))
    except OSError as err:
        return None, f"cannot load {path}: {err}"
    f = lib.w2v_train
    p, i64, flt = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
    f.argtypes = [ctypes.c_int, p, p, i64, p, p, i64, i64, i64, p, i64, flt, flt, ctypes.c_uint64, ctypes.c_int, p, p,
                  p]
    f.restype = None
    return lib, ""


def kernel_available() -> bool:
    return load_kernel()[0] is not None
