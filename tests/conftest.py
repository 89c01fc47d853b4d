"""Every test runs offline, with a private cache and home: no test touches ~/.cache, $HOME or the network.

The isolation is set in `pytest_configure`, before any test module is imported: a module may do work
at import or collection time (a `skipif` that builds the C word2vec kernel into the cache), and a
session fixture would only start after that. Each pytest-xdist worker runs the hook too, and CLI
tests started with `subprocess` inherit the environment.

The marker ``e2e`` is set here, by path, on the end-to-end tests (`E2E_PATHS`): the CLI, the HTTP server, the
browser and the installed package in fresh processes on small real pipelines. A module elsewhere that runs
whole pipelines in subprocesses says so itself with ``pytestmark = pytest.mark.e2e``. `make test-fast` runs
what is neither slow nor e2e; `make test` (CI) runs both the fast and the e2e tests.

`once_per_run` builds something expensive and read-only (a wheel, a few tiny trained models) once for the
whole run, whichever xdist worker needs it first, instead of once in each worker.

Shared fixture `make_treebank`: a tiny synthetic treebank, a toy grammar written out as CoNLL-U with
every format quirk in it.
Sentences follow ``DET (ADJ) NOUN VERB (ADV) PUNCT``. Dev uses some nouns and adjectives that never
occur in train but share their suffixes (-tion, -ness, -ous), so only a character model can tag them
by spelling. Comments, a multiword-token range and an empty node are sprinkled in, as in UD files.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_ISOLATION = pytest.StashKey[tuple[pytest.MonkeyPatch, Path]]()
TESTS = Path(__file__).resolve().parent
# Folders and modules whose every test is end to end (`pytest -m e2e`), relative to tests/.
E2E_PATHS = ("e2e", "benchmarks", "serve/test_browser.py")


def pytest_configure(config: pytest.Config) -> None:
    """Point the pipeline's cache, $HOME and the XDG folders (matplotlib's and torch's caches) at a
    fresh temporary folder, and go offline, for this process and every process it starts."""
    root = Path(tempfile.mkdtemp(prefix="nlp-pipeline-tests-"))
    mp = pytest.MonkeyPatch()
    mp.setenv("NLP_PIPELINE_OFFLINE", "1")
    mp.setenv("NLP_PIPELINE_CACHE_DIR", str(root / "cache"))
    mp.setenv("HOME", str(root / "home"))
    for name, folder in (("XDG_CACHE_HOME", ".cache"), ("XDG_CONFIG_HOME", ".config"),
                         ("XDG_DATA_HOME", ".local/share")):
        mp.setenv(name, str(root / "home" / folder))
    mp.setenv("MPLBACKEND", "Agg")
    # OpenMP threads (torch's, and scikit-learn's t-SNE for the embedding map) sleep when idle instead of spinning:
    # with the xdist workers and the processes they start sharing the cores, a spinning thread holds a core its
    # team's other threads wait for (on the busy 2-core machine one t-SNE of 120 points took 43 s instead of 0.6 s).
    # It changes how threads wait, not how many there are or what they compute. Set before anything loads OpenMP.
    if "OMP_WAIT_POLICY" not in os.environ:
        mp.setenv("OMP_WAIT_POLICY", "passive")
    config.stash[_ISOLATION] = (mp, root)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under `E2E_PATHS` ``e2e``."""
    roots = [TESTS / p for p in E2E_PATHS]
    for item in items:
        path = Path(item.path).resolve()
        if any(path == root or root in path.parents for root in roots):
            item.add_marker(pytest.mark.e2e)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _ISOLATION not in config.stash:
        return
    mp, root = config.stash[_ISOLATION]
    mp.undo()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def once_per_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, Callable[[Path], Any]], Any]:
    """``once_per_run(name, build)``: ``build(folder)``'s result, built once for the whole test run. Under
    pytest-xdist the first worker to ask builds it into a folder of the run's that every worker reads (the
    others wait on a lock, then read the result kept beside it); without xdist, into a fresh folder. The result
    goes through JSON in either case (paths come back as strings). What is built must not be changed
    afterwards, except where it is made to be shared by processes (the artifact cache is)."""

    def once(name: str, build: Callable[[Path], Any]) -> Any:
        if not os.environ.get("PYTEST_XDIST_WORKER"):
            return json.loads(json.dumps(build(tmp_path_factory.mktemp(name))))
        run = tmp_path_factory.getbasetemp().parent  # this run's folder, which holds each worker's
        folder, done = run / name, run / f"{name}.json"
        with open(run / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, or when its holder dies
            if not done.exists():
                shutil.rmtree(folder, ignore_errors=True)  # what a worker that failed to build it left
                folder.mkdir()
                done.write_text(json.dumps(build(folder)), encoding="utf-8")
            return json.loads(done.read_text(encoding="utf-8"))

    return once


DETS = ["the", "a", "this", "every"]
ADJS = ["famous", "nervous", "curious", "generous", "joyous"]
NOUNS = ["station", "kindness", "nation", "darkness", "motion", "fitness", "action", "sadness"]
VERBS = ["sleeps", "runs", "waits", "falls", "stays"]
ADVS = ["quickly", "slowly", "softly", "rarely"]
UNSEEN_NOUNS = ["emotion", "boldness", "caution", "fondness"]
UNSEEN_ADJS = ["anxious", "gracious"]
XPOS = {"DET": "DT", "ADJ": "JJ", "NOUN": "NN", "VERB": "VBZ", "ADV": "RB", "PUNCT": "."}


def _sentence(rng: random.Random, nouns: list[str], adjs: list[str]) -> list[tuple[str, str]]:
    words = [(rng.choice(DETS), "DET")]
    if rng.random() < 0.5:
        words.append((rng.choice(adjs), "ADJ"))
    words += [(rng.choice(nouns), "NOUN"), (rng.choice(VERBS), "VERB")]
    if rng.random() < 0.5:
        words.append((rng.choice(ADVS), "ADV"))
    words.append((".", "PUNCT"))
    if rng.random() < 0.5:  # capitalised first word, as in real text
        words[0] = (words[0][0].capitalize(), words[0][1])
    return words


def conllu_text(sentences: list[list[tuple[str, str]]], prefix: str) -> str:
    lines = []
    for n, sent in enumerate(sentences, start=1):
        lines.append(f"# sent_id = {prefix}-{n}")
        lines.append("# text = " + " ".join(w for w, _ in sent))
        for i, (word, upos) in enumerate(sent, start=1):
            if i == 2 and n % 7 == 0:  # a multiword-token range line, skipped by the reader
                lines.append(f"{i}-{i + 1}\t{word}{sent[i][0]}\t_\t_\t_\t_\t_\t_\t_\t_")
            lines.append(f"{i}\t{word}\t{word.lower()}\t{upos}\t{XPOS[upos]}\t_\t0\tdep\t_\t_")
            if i == 1 and n % 5 == 0:  # an empty node, skipped by the reader
                lines.append(f"{i}.1\tghost\tghost\tNOUN\tNN\t_\t_\t_\t0:dep\t_")
        lines.append("")
    return "\n".join(lines) + "\n"


def write_treebank(folder: Path, n_train: int = 120, n_dev: int = 40, seed: int = 0,
                   names: tuple[str, str] = ("train.conllu", "dev.conllu")) -> Path:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    train = [_sentence(rng, NOUNS, ADJS) for _ in range(n_train)]
    dev = [_sentence(rng, NOUNS + UNSEEN_NOUNS, ADJS + UNSEEN_ADJS) for _ in range(n_dev)]
    (folder / names[0]).write_text(conllu_text(train, "train"), encoding="utf-8")
    (folder / names[1]).write_text(conllu_text(dev, "dev"), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def make_treebank():
    """`write_treebank(folder, n_train, n_dev, seed, names)`: a toy CoNLL-U treebank folder."""
    return write_treebank


@pytest.fixture
def full_disk(tmp_path: Path):
    """A real 1 MiB tmpfs at ``tmp_path/disk`` to fill, unmounted afterwards; the test skips, saying why,
    where this process may not mount (CI runs as root)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)], capture_output=True,
                             text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill ({mounted.stderr.strip() or 'mount failed'}): needs root")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], check=True)
