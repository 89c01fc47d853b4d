"""word2vec: our PyTorch engine vs gensim, the original C tool and fastText, same tokenized corpus, same parameters.

Default corpus: the unlabelled IMDB text (IMDB train + unsup, 75k reviews, ~20M tokens),
tokenized once with our spaCy tokenizer (lower-cased, HTML breaks removed) and cached. Default
parameters (the issue's): dim 100, window 5, 5 negatives, sample 1e-3, min_count 5, 5 epochs,
all cores; `--setting sentiment` (or `issue,sentiment`: both, one after the other) the sentiment
pipeline's. Each (engine, architecture, seed) trains in its own subprocess so that its peak memory
(max RSS) is its own. Printed: words/s, wall time, peak memory, Google analogy accuracy (30k most
frequent words), WordSim-353 and SimLex-999 Spearman, and ours/each other engine.

The anchors: `c` is Google's word2vec.c, the executable the `word2vec` package (danielfrg/word2vec)
compiles at install time; `fasttext` is the `fasttext` package's `train_unsupervised` with
`maxn=0` (no character n-grams: word2vec's model). Both come with `pip install -e '.[bench]'`;
an engine whose tool is missing is skipped with the reason. Each trains in its own process; its
words/s counts the same corpus words over its own training time (vocabulary scan included, as for
the others; writing and loading the vectors back for scoring excluded), its peak RSS is that
process's own.

    make bench-word2vec   # = this script --setting issue,sentiment: every engine, both settings, both archs (~1 h+)
    .venv/bin/python benchmarks/bench_word2vec.py --quick                 # every engine on 500k tokens, 1 epoch
    .venv/bin/python benchmarks/bench_word2vec.py --seeds 1,2,3           # three seeds each (mean and range)
    .venv/bin/python benchmarks/bench_word2vec.py --engines torch --device cuda # our engine on a GPU
    .venv/bin/python benchmarks/bench_word2vec.py --profile                     # where our time goes
    # the sentiment pipeline's vectors (skip-gram, 300 d, sample 1e-4, min_count 3, 3 epochs) on 5M tokens,
    # gensim against our kernel drawing negatives per pair, seed 2
    .venv/bin/python benchmarks/bench_word2vec.py --setting sentiment --archs sg --tokens 5000000 \
        --engines gensim,torch --negatives-per-pair --seed 2
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SOURCES = ("imdb:train", "imdb_unsup")
# --setting: the parameters' defaults (each flag overrides its own)
SETTINGS = {
    "issue": {"vector_size": 100, "window": 5, "negative": 5, "sample": 1e-3, "min_count": 5, "epochs": 5},
    "sentiment": {"vector_size": 300, "window": 5, "negative": 5, "sample": 1e-4, "min_count": 3, "epochs": 3},
}
FLAGS = {"vector_size": "dim", "window": "window", "negative": "negative", "sample": "sample",
         "min_count": "min_count", "epochs": "epochs"}  # parameter: argparse attribute
ANCHORS = ("c", "fasttext")  # the original C tool and fastText: reference points outside Python
ENGINES = ("gensim", "torch", "gensim-iterable", *ANCHORS)
LABELS = {"c": "C word2vec.c", "fasttext": "fastText"}
SPEED_BAR = 4.0  # ours ≥ 4× the words/s of each anchor, skip-gram and CBOW, each setting, in the same run
EOS = "</s>"  # both tools' end-of-line token: not a corpus word, dropped before scoring
QUICK = {"tokens": 500_000, "epochs": 1}  # --quick


def corpus_path(max_docs: int | None) -> Path:
    """Tokenize the IMDB unlabelled text once; later runs reuse the file."""
    from itertools import islice

    from nlp_pipeline.data import iter_texts
    from nlp_pipeline.engine.cache import default_cache_dir
    from nlp_pipeline.text import Tokenizer

    folder = default_cache_dir() / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"imdb_unlabelled{'' if max_docs is None else f'_{max_docs}'}.txt"
    if path.exists():
        return path
    texts = (t for source in SOURCES for t in iter_texts(source))
    t0 = time.perf_counter()
    tmp = path.with_suffix(".tmp")
    stats = Tokenizer(n_process=os.cpu_count() or 1).tokenize_to_file(islice(texts, max_docs), tmp)
    tmp.rename(path)
    print(f"tokenized {stats['documents']:,} reviews, {stats['tokens']:,} tokens in {time.perf_counter() - t0:.0f} s "
          f"→ {path}", file=sys.stderr)
    return path


def capped(corpus: Path, tokens: int) -> Path:
    """The first whole lines of ``corpus`` holding about ``tokens`` tokens (at least that many), written once
    next to it."""
    path = corpus.with_name(f"{corpus.stem}_tokens{tokens}{corpus.suffix}")
    if path.exists():
        return path
    tmp, seen = path.with_suffix(".tmp"), 0
    with corpus.open(encoding="utf-8") as src, tmp.open("w", encoding="utf-8") as dst:
        for line in src:
            if seen >= tokens:
                break
            dst.write(line)
            seen += len(line.split())
    tmp.rename(path)
    return path


def count_words(corpus: Path) -> tuple[int, list[tuple[int, int]]]:
    """The corpus's whitespace-separated tokens (the words of words/s for the anchors; gensim counts the same), and
    (occurrences, distinct tokens occurring that often) pairs (fastText's rows, below)."""
    from collections import Counter

    counts: Counter = Counter()
    with corpus.open("rb") as fh:  # bytes split on ASCII whitespace, as both tools split
        for line in fh:
            counts.update(line.split())
    return sum(counts.values()), sorted(Counter(counts.values()).items())


def vocab_bound(types_by_count: list[tuple[int, int]], min_count: int) -> int:
    """At least the tools' vocabulary at ``min_count``: the distinct tokens that frequent, plus the end-of-line one."""
    return sum(n for count, n in types_by_count if count >= min_count) + 1


def _version(package: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(package)
    except PackageNotFoundError:
        return None


def c_binary(given: str | None = None) -> Path | None:
    """The original C tool: ``given``, or the ``word2vec`` executable that the ``word2vec`` package installs next to
    this interpreter (its setup.py compiles Google's word2vec.c at install time)."""
    path = Path(given) if given else Path(sys.executable).parent / "word2vec"
    return path if path.is_file() and os.access(path, os.X_OK) else None


def anchor_unavailable(engine: str, c_binary_path: str | None = None) -> str | None:
    """Why an anchor cannot run here (None: it can)."""
    if engine == "c" and c_binary(c_binary_path) is None:
        return (f"no executable at {c_binary_path}" if c_binary_path else
                "the word2vec package is not installed (pip install -e '.[bench]' compiles Google's word2vec.c; "
                "it needs a C compiler)")
    if engine == "fasttext":
        import importlib.util

        if importlib.util.find_spec("fasttext") is None:
            return "the fasttext package is not installed (pip install -e '.[bench]'; it builds with a C++ compiler)"
    return None


def anchor_tool(engine: str, c_binary_path: str | None = None) -> str:
    """What runs as the anchor, with its version (and what each supports of --seed)."""
    if engine == "c":
        built = (f"word2vec {_version('word2vec')} package's build (gcc -Ofast -march=native -funroll-loops)"
                 if not c_binary_path else "given")
        return f"{c_binary(c_binary_path)} ({built}); no seed flag: each seed is a repeat"
    return f"fasttext {_version('fasttext')} Python API; seed passed on (its 0.9.3 core takes -seed)"


def c_command(binary: str, corpus: str, p: dict, output: Path) -> list[str]:
    """word2vec.c's command line for the same parameters. Its own defaults differ: CBOW alpha 0.05 (ours and gensim's:
    0.025 for both), and it would also train hierarchical softmax (-hs 0 turns that off)."""
    return [binary, "-train", corpus, "-output", str(output), "-binary", "1", "-cbow", str(1 - p["sg"]),
            "-size", str(p["vector_size"]), "-window", str(p["window"]), "-negative", str(p["negative"]), "-hs", "0",
            "-sample", f"{p['sample']:g}", "-min-count", str(p["min_count"]), "-iter", str(p["epochs"]),
            "-alpha", f"{p['alpha']:g}", "-threads", str(p["workers"] or os.cpu_count() or 1), "-debug", "1"]


def fasttext_kwargs(corpus: str, p: dict, vocab: int) -> dict:
    """fastText's ``train_unsupervised`` arguments for the same parameters: ``maxn=0`` (no character n-grams) leaves
    word2vec's model; ``lr`` is our alpha (fastText's own default is 0.05). ``vocab``: at least its vocabulary.

    fastText (0.9.3 and before) initializes only ``thread``/10 of its input matrix (`DenseMatrix::uniform`: a tenth of
    the matrix per thread, whatever the thread count; fastText issue #1061). With ``maxn=0`` it drops the hashed
    ``bucket`` rows, the matrix is the word rows alone, and on fewer than 10 threads most words would start from
    uninitialised memory: "Encountered NaN" on small corpora, zeros on large ones. So on fewer than 10 threads it
    keeps ``bucket`` rows after the words, enough that the part it initializes covers every word row. They are never
    read (no n-grams) nor written, so never resident; ``wordNgrams=2`` is only what keeps them (fastText sets
    ``bucket=0`` when ``maxn=0`` and ``wordNgrams<=1``; unsupervised training never reads word n-grams)."""
    threads = p["workers"] or os.cpu_count() or 1
    kwargs = {"input": corpus, "model": "skipgram" if p["sg"] else "cbow", "dim": p["vector_size"],
              "ws": p["window"], "epoch": p["epochs"], "minCount": p["min_count"], "neg": p["negative"],
              "t": p["sample"], "lr": p["alpha"], "thread": threads, "loss": "ns", "minn": 0, "maxn": 0,
              "wordNgrams": 1, "verbose": 0}
    rows = -(-10 * (vocab + 1) // threads) + 1  # thread * (rows * dim // 10) values initialized >= vocab * dim
    if rows > vocab:
        kwargs.update(wordNgrams=2, bucket=rows - vocab)
    return kwargs


def fasttext_train(spec: dict, out: Path) -> None:
    """The fastText anchor's own process: train, time the call, write the words and their vectors to ``out``. It
    imports fastText and numpy only, so its peak RSS is fastText's (and the interpreter's)."""
    import fasttext
    import numpy as np
    from fasttext import FastText

    # fasttext 0.9.3's train_unsupervised takes no seed argument but hands its defaults' "seed" to the trainer
    FastText.unsupervised_default["seed"] = spec["seed"]
    start = time.perf_counter()
    model = fasttext.train_unsupervised(**spec["kwargs"])
    seconds = time.perf_counter() - start
    words = model.get_words(on_unicode_error="replace")
    with (out / "vectors.f32").open("wb") as fh:  # a row at a time: no second copy of the matrix in this process
        for word in words:
            fh.write(np.asarray(model.get_word_vector(word), dtype=np.float32).tobytes())
    (out / "words.txt").write_text("\n".join(words) + "\n", encoding="utf-8")
    args = model.f.getArgs()
    (out / "fasttext.json").write_text(json.dumps({"seconds": seconds, "fasttext_seed": args.seed,
                                                   "fasttext_bucket": args.bucket, "fasttext_maxn": args.maxn}))


def run_tool(cmd: list[str], log: Path, trained: Path | None = None) -> tuple[float, float, float]:
    """Run an anchor's process: (seconds until ``trained`` appeared, or until it exited; its wall time; its peak RSS
    in MB, from wait4)."""
    import threading

    done, seen = threading.Event(), []

    def watch() -> None:  # word2vec.c opens its output file right after its training threads join
        while not done.is_set():
            if trained.exists():
                seen.append(time.perf_counter())
                return
            done.wait(0.005)

    with log.open("wb") as fh:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT)
        watcher = threading.Thread(target=watch, daemon=True) if trained else None
        if watcher:
            watcher.start()
        _, status, usage = os.wait4(proc.pid, 0)  # not proc.wait(): wait4 also gives the process's own peak RSS
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        done.set()
        if watcher:
            watcher.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}: {log.read_text(errors='replace')[-2000:]}")
    seconds = seen[0] - start if seen else wall
    return seconds, wall, usage.ru_maxrss / 1024  # KiB on Linux


def train_anchor(spec: dict):
    """Train with the original C tool or fastText in its own process, then load its vectors into gensim
    KeyedVectors (not timed). Returns ``(kv, info)`` as the engines' trainers do."""
    import numpy as np
    from gensim.models import KeyedVectors

    p, engine = spec["params"], spec["engine"]
    with tempfile.TemporaryDirectory(prefix=f"bench_w2v_{engine}_") as tmp:
        tmp = Path(tmp)
        if engine == "c":
            cmd = c_command(str(c_binary(spec.get("c_binary"))), spec["corpus"], p, tmp / "vectors.bin")
            seconds, wall, peak_mb = run_tool(cmd, tmp / "log.txt", trained=tmp / "vectors.bin")
            kv = KeyedVectors.load_word2vec_format(tmp / "vectors.bin", binary=True, unicode_errors="replace")
            command, extra = " ".join(cmd), {}
        else:
            kwargs = fasttext_kwargs(spec["corpus"], p, vocab_bound(spec["types_by_count"], p["min_count"]))
            child = {"kwargs": kwargs, "seed": p["seed"]}
            _, wall, peak_mb = run_tool([sys.executable, __file__, "--fasttext-train", json.dumps(child),
                                         "--child-out", str(tmp)], tmp / "log.txt")
            extra = json.loads((tmp / "fasttext.json").read_text())
            seconds = extra.pop("seconds")
            words = (tmp / "words.txt").read_text(encoding="utf-8").split("\n")[:-1]  # not splitlines: \x85, \u2028
            vectors = np.fromfile(tmp / "vectors.f32", dtype=np.float32).reshape(len(words), p["vector_size"])
            kv = KeyedVectors(p["vector_size"])
            kv.add_vectors(words, vectors)
            command = "fasttext.train_unsupervised(" + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"
    if EOS in kv.key_to_index:  # the tools' end-of-line token: not a word of the corpus
        keep = [w for w in kv.index_to_key if w != EOS]
        trimmed = KeyedVectors(kv.vector_size)
        trimmed.add_vectors(keep, kv[keep])
        kv = trimmed
    epochs = p["epochs"]
    return kv, {"seconds": round(seconds, 2), "tool_wall": round(wall, 2), "tool_peak_mb": peak_mb,
                "words_per_second": round(spec["corpus_words"] * epochs / seconds), "vocab_size": len(kv),
                "device": "cpu", "epoch_loss": None, "command": command, **extra}


def train_one(spec: dict) -> dict:
    """Child process body: train, score, report (peak memory is measured by the parent)."""
    from nlp_pipeline.embeddings import Word2VecParams, intrinsic_scores, train_gensim
    from nlp_pipeline.embeddings.torch_engine import TorchW2VOptions, train_torch

    params = Word2VecParams(**spec["params"])
    if spec["engine"] in ANCHORS:
        kv, info = train_anchor(spec)
    elif spec["engine"] in ("gensim", "gensim-iterable"):
        kv, info = train_gensim(spec["corpus"], params, progress=False, iterable=spec["engine"] == "gensim-iterable")
    else:
        model = train_torch(spec["corpus"], params, progress=False,
                            options=TorchW2VOptions(device=spec["device"], batch_words=spec["batch_words"],
                                                    **spec.get("options", {})))
        kv, info = model.to_keyed_vectors(), model.info
        del model  # only the keyed vectors are scored (gensim's branch keeps only model.wv): the output weights go
    scores = intrinsic_scores(kv)
    return {
        "seconds": info["seconds"],
        "words_per_second": info["words_per_second"],
        "vocab_size": info["vocab_size"],
        "device": info.get("device", "cpu"),
        "analogy": scores["google_analogy"]["accuracy"],
        "wordsim353": scores["wordsim353"]["spearman"],
        "simlex999": scores["simlex999"]["spearman"],
        "epoch_loss": info["epoch_loss"],
        "negatives_drawn": info.get("negatives_drawn"),
        # an anchor: its tool's process's own peak RSS and wall time, what ran, what fastText was given
        **{k: info[k] for k in ("tool_peak_mb", "tool_wall", "command", "fasttext_seed", "fasttext_bucket",
                                         "fasttext_maxn") if k in info},
    }


def run_child(spec: dict) -> dict:
    """Run `train_one` in a fresh interpreter; return its result plus its own peak RSS."""
    with tempfile.NamedTemporaryFile("w+", suffix=".json", delete=False) as fh:
        out = fh.name
    proc = subprocess.Popen([sys.executable, __file__, "--child", json.dumps(spec), "--child-out", out])
    _, status, usage = os.wait4(proc.pid, 0)
    if status != 0:
        raise SystemExit(f"{spec['engine']} failed (status {status})")
    result = json.loads(Path(out).read_text())
    os.unlink(out)
    tool_peak = result.pop("tool_peak_mb", None)  # an anchor: its tool's own process, not this one that scores it
    result["peak_mb"] = tool_peak if tool_peak is not None else usage.ru_maxrss / 1024  # KiB on Linux
    return result


def profile(corpus: Path, params, batch_words: int | None, seconds: float = 20.0, kernel: str = "auto") -> None:
    """Where our engine's time goes: torch profiler over ~`seconds` of single-worker training."""
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from nlp_pipeline.embeddings.torch_engine import TorchW2VOptions, _jobs, _Trainer
    from nlp_pipeline.embeddings.w2v_corpus import scan_corpus

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    arch = "skip-gram" if params.sg else "CBOW"
    with tempfile.TemporaryDirectory() as tmp:
        vocab, encoded = scan_corpus(corpus, params.min_count, None, tmp)
        print(f"\n{arch}: vocabulary scan + encoding {time.perf_counter() - t0:.1f} s")
        options = TorchW2VOptions(batch_words=batch_words, kernel=kernel).resolve(params.sg)
        trainer = _Trainer(vocab, params, options, torch.device("cpu"))
        in_kernel = [0.0]
        if trainer.native is not None:  # the C kernel: the profiler cannot see inside it, so time it
            run_native = trainer._run_native

            def timed(*args):
                start = time.perf_counter()
                try:
                    return run_native(*args)
                finally:
                    in_kernel[0] += time.perf_counter() - start

            trainer._run_native = timed
        jobs = _jobs(encoded, 1, 1 << 18, params.streams)
        words, t0 = 0, time.perf_counter()
        # the profiler's own cost on the torch-side preparation would dwarf it next to the C kernel
        with (torch_profile(activities=[ProfilerActivity.CPU]) if trainer.native is None
              else contextlib.nullcontext()) as prof:
            for job in jobs:
                trainer.run(job)
                words += job.raw_words
                if time.perf_counter() - t0 > seconds:
                    break
        wall = time.perf_counter() - t0
    print(f"{arch} ({options.kernel} kernel): {words:,} words in {wall:.1f} s = {words / wall:,.0f} words/s on "
          f"1 thread (profiled)")
    if trainer.native is not None:
        print(f"in the C kernel: {in_kernel[0] / wall:.0%} of the training loop (the rest: torch-side job "
              "preparation, subsampling and sentence numbers)")
    else:
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15))


SCORES = ("analogy", "wordsim353", "simlex999")


def summarize(runs: list[dict]) -> dict:
    """One engine's runs, one per seed: the first run's fields with the numbers averaged over the seeds (a score
    over the seeds that have it), and every run under "runs"."""
    out = {**runs[0], "runs": runs}
    for key in ("seconds", "words_per_second", "peak_mb", *SCORES):
        values = [r[key] for r in runs if r.get(key) is not None]
        out[key] = sum(values) / len(values) if values else None
    if out["words_per_second"] is not None:
        out["words_per_second"] = round(out["words_per_second"])
    return out


def spread(runs: list[dict], key: str, fmt, extremes: bool = True) -> str:
    """A column's cell: the value, or over several seeds the mean and (min–max)."""
    values = [r[key] for r in runs if r.get(key) is not None]
    if not values:
        return "n/a"
    mean = fmt(sum(values) / len(values))
    return mean if len(values) == 1 or not extremes else f"{mean} ({fmt(min(values))}–{fmt(max(values))})"


def engine_row(runs: list[dict]) -> list[str]:
    """words/s, wall, peak RSS (the last two: means over seeds), analogy, WS353, SimLex."""
    return [spread(runs, "words_per_second", lambda v: f"{v:,.0f}"),
            spread(runs, "seconds", lambda v: f"{v:.0f} s", extremes=False),
            spread(runs, "peak_mb", lambda v: f"{v:,.0f} MB", extremes=False),
            spread(runs, "analogy", lambda v: f"{100 * v:.1f}%"),
            spread(runs, "wordsim353", lambda v: f"{v:.3f}"), spread(runs, "simlex999", lambda v: f"{v:.3f}")]


def ratio_row(ours: dict, peer: dict) -> list[str]:
    """Ours over a peer: speed, wall time and peak RSS as ratios, the scores as differences (means over seeds)."""
    def diff(key: str, fmt) -> str:
        return "n/a" if ours[key] is None or peer[key] is None else fmt(ours[key] - peer[key])

    return [f"{ours['words_per_second'] / peer['words_per_second']:.2f}x", f"{ours['seconds'] / peer['seconds']:.2f}x",
            f"{ours['peak_mb'] / peer['peak_mb']:.2f}x", diff("analogy", lambda v: f"{100 * v:+.1f} pt"),
            diff("wordsim353", lambda v: f"{v:+.3f}"), diff("simlex999", lambda v: f"{v:+.3f}")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", help="a tokenized file (one document a line) instead of the IMDB text")
    ap.add_argument("--max-docs", type=int, help="only the first N reviews (quick runs)")
    ap.add_argument("--archs", default="sg,cbow")
    ap.add_argument("--engines", default=",".join(ENGINES),
                    help="gensim (corpus_file mode, its fastest), torch (ours), gensim-iterable (gensim's exact "
                         "linear learning-rate schedule: the quality reference), c (Google's word2vec.c, built by "
                         "the word2vec package), fasttext (fastText, maxn=0); an anchor whose tool is missing is "
                         "skipped with the reason")
    ap.add_argument("--setting", default="issue",
                    help="the defaults of the parameters below: issue (100 d, sample 1e-3, min_count 5, 5 epochs) "
                         "or sentiment (the sentiment pipeline's: 300 d, sample 1e-4, min_count 3, 3 epochs); "
                         "issue,sentiment runs both, one after the other (make bench-word2vec)")
    ap.add_argument("--quick", action="store_true",
                    help=f"a quick look: --tokens {QUICK['tokens']} --epochs {QUICK['epochs']} unless given")
    ap.add_argument("--tokens", type=int, help="only the first lines holding about N tokens (quick runs)")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--dim", type=int)
    ap.add_argument("--sample", type=float)
    ap.add_argument("--min-count", type=int)
    ap.add_argument("--window", type=int)
    ap.add_argument("--negative", type=int)
    ap.add_argument("--alpha", type=float, help="initial learning rate (default: the engines' 0.025; the anchors get "
                    "it too), for the engines named in --alpha-engines only")
    ap.add_argument("--alpha-engines", default="torch", help="which engines --alpha applies to (comma-separated)")
    ap.add_argument("--seed", type=int, default=1, help="every engine's seed (seeds apart measure run-to-run spread)")
    ap.add_argument("--seeds", help="comma-separated seeds, each engine once per seed (a quality bar is judged over "
                    "three: --seeds 1,2,3); the table shows the mean and (min–max). The C tool has no seed flag: "
                    "its runs are repeats")
    ap.add_argument("--workers", type=int, default=0, help="threads for every engine; 0 = all cores")
    ap.add_argument("--c-binary", help="the C tool's executable (default: the word2vec package's, next to this "
                    "interpreter), e.g. your own build of Google's word2vec.c")
    ap.add_argument("--batch-words", type=int, help="torch engine: centre words per update (default: by architecture)")
    ap.add_argument("--device", default="cpu", help="torch engine device (cpu, cuda, auto)")
    ap.add_argument("--max-row-updates", type=float,
                    help="torch engine: cap on a row's summed updates per batch (0 = no cap; default: the engine's)")
    ap.add_argument("--skip-saturated", choices=["on", "off"],
                    help="torch engine: embed.skip_saturated (default: the setting's): gensim's skip of pairs "
                         "beyond ±6, or word2vec.c's update of every pair")
    ap.add_argument("--negatives-per-pair", action="store_true",
                    help="torch engine, C kernel, skip-gram: fresh negatives per (centre, context) pair (word2vec's)")
    ap.add_argument("--init-range", choices=["word2vec", "gensim"],
                    help="torch engine: embed.init_range (default: the setting's): the input vectors start in "
                         "±0.5/dim (word2vec.c's) or ±1/dim (gensim 4's)")
    ap.add_argument("--lr-schedule", choices=["linear", "per_epoch"],
                    help="torch engine: embed.lr_schedule (default: the setting's): linear over all epochs "
                         "(word2vec's, gensim iterable's) or per_epoch (gensim corpus_file mode's on 2 threads)")
    ap.add_argument("--streams", type=int,
                    help="torch engine: embed.streams (default: the setting's): the text trained as this many parts "
                         "in turn, as gensim's corpus_file mode and word2vec.c split it among threads; 1 = in order")
    ap.add_argument("--kernel", default="auto", choices=["auto", "native", "tensor"],
                    help="torch engine on the CPU: native (C loop), tensor (batched tensor updates), auto")
    ap.add_argument("--profile", action="store_true", help="profile our engine instead of comparing")
    ap.add_argument("--json", help="also write the results here: arch/engine (setting/arch/engine with several "
                    "settings) → the mean over seeds, every seed's run under \"runs\"")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    ap.add_argument("--fasttext-train", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        Path(args.child_out).write_text(json.dumps(train_one(json.loads(args.child))))
        return
    if args.fasttext_train:
        fasttext_train(json.loads(args.fasttext_train), Path(args.child_out))
        return
    settings, engines = args.setting.split(","), args.engines.split(",")
    if unknown := [s for s in settings if s not in SETTINGS]:
        ap.error(f"--setting: unknown {', '.join(unknown)} (known: {', '.join(SETTINGS)})")
    if unknown := [e for e in engines if e not in ENGINES]:
        ap.error(f"--engines: unknown {', '.join(unknown)} (known: {', '.join(ENGINES)})")
    seeds = [int(s) for s in args.seeds.split(",")] if args.seeds else [args.seed]
    if args.quick:
        args.tokens, args.epochs = args.tokens or QUICK["tokens"], args.epochs or QUICK["epochs"]

    from nlp_pipeline.embeddings import Word2VecParams
    from nlp_pipeline.reports.tables import format_table

    corpus = Path(args.corpus) if args.corpus else corpus_path(args.max_docs)
    if args.tokens:
        corpus = capped(corpus, args.tokens)
    given = {k: getattr(args, a) for k, a in FLAGS.items() if getattr(args, a) is not None}
    bases = {s: Word2VecParams(**{**SETTINGS[s], **given}, workers=args.workers, seed=seeds[0]) for s in settings}
    archs = {"sg": 1, "cbow": 0}
    if args.profile:
        for arch in args.archs.split(","):
            profile(corpus, bases[settings[0]].model_copy(update={"sg": archs[arch]}), args.batch_words,
                    kernel=args.kernel)
        return
    cores = os.cpu_count()
    skipped = {e: why for e in engines if e in ANCHORS and (why := anchor_unavailable(e, args.c_binary))}
    for engine in (e for e in engines if e in ANCHORS):
        print(f"{engine}: {'skipped: ' + skipped[engine] if engine in skipped else anchor_tool(engine, args.c_binary)}")
    corpus_words, types_by_count = (count_words(corpus) if any(e in ANCHORS and e not in skipped for e in engines)
                                    else (None, None))
    options = {"kernel": args.kernel, "negatives_per_pair": args.negatives_per_pair}
    if args.max_row_updates is not None:
        options["max_row_updates"] = args.max_row_updates
    if args.skip_saturated:
        options["skip_saturated"] = args.skip_saturated == "on"
    results, rows, bar = {}, [], []
    for setting in settings:
        base = bases[setting]
        print(f"{setting}: corpus {corpus} ({corpus.stat().st_size / 1e6:.0f} MB"
              + (f", {corpus_words:,} words" if corpus_words else "") + f"); dim {base.vector_size}, "
              f"window {base.window}, negative {base.negative}, sample {base.sample:g}, min_count {base.min_count}, "
              f"{base.epochs} epochs, alpha {base.alpha:g}, seed{'s' if len(seeds) > 1 else ''} "
              f"{','.join(map(str, seeds))}, workers {args.workers or cores} of {cores} cores; torch: kernel "
              f"{args.kernel}, negatives {'per pair' if args.negatives_per_pair else 'shared per centre'}, "
              f"init range {args.init_range or base.init_range}, lr schedule {args.lr_schedule or base.lr_schedule}, "
              f"{args.streams or base.streams} stream{'s' if (args.streams or base.streams) > 1 else ''}, "
              f"{'skip' if options.get('skip_saturated', base.skip_saturated) else 'train'} saturated pairs"
              + (f"; alpha {args.alpha:g} for {args.alpha_engines}" if args.alpha is not None else ""), flush=True)
        for arch in args.archs.split(","):
            prefix = f"{setting}/{arch}/" if len(settings) > 1 else f"{arch}/"
            for engine in engines:
                if engine in skipped:
                    rows.append([setting, arch, LABELS[engine], f"skipped: {skipped[engine]}"] + [""] * 5)
                    continue
                runs = []
                for seed in seeds:
                    params = base.model_copy(update={"sg": archs[arch], "seed": seed})
                    if args.alpha is not None and engine in args.alpha_engines.split(","):
                        params = params.model_copy(update={"alpha": args.alpha})
                    if engine == "torch":
                        params = params.model_copy(update={k: v for k, v in (("lr_schedule", args.lr_schedule),
                                                           ("init_range", args.init_range),
                                                           ("streams", args.streams)) if v})
                    spec = {"engine": engine, "corpus": str(corpus), "device": args.device,
                            "batch_words": args.batch_words, "options": options,
                            "params": params.model_dump(), "corpus_words": corpus_words, "c_binary": args.c_binary,
                            "types_by_count": types_by_count}
                    runs.append({**run_child(spec), "seed": seed})
                    r = runs[-1]
                    print(" | ".join([setting, arch, engine, f"seed {seed}", *engine_row([r])]), flush=True)
                    if "command" in r:
                        print(f"  {r['command']}", flush=True)
                results[prefix + engine] = summarize(runs)
                label = f"torch ({runs[0]['device']})" if engine == "torch" else LABELS.get(engine, engine)
                rows.append([setting, arch, label, *engine_row(runs)])
            t = results.get(prefix + "torch")
            for peer in ("gensim", "gensim-iterable", *ANCHORS):
                g = results.get(prefix + peer)
                if g and t:
                    rows.append([setting, arch, f"ours / {LABELS.get(peer, peer)}", *ratio_row(t, g)])
                if peer in ANCHORS and peer in engines and "torch" in engines:
                    bar.append((setting, arch, peer, t["words_per_second"] / g["words_per_second"] if g else None))
    print()
    print(format_table(["setting", "arch", "engine", "words/s", "wall", "peak RSS", "analogy", "WS353", "SimLex"],
                       rows))
    if bar:
        met = all(r is not None and r >= SPEED_BAR for *_, r in bar)
        print(f"\nspeed bar, ours ≥ {SPEED_BAR:g}x the words/s of the C tool and of fastText (each setting and arch): "
              + ("met" if met else "not met" if all(r is not None for *_, r in bar) else "not judged (skipped)")
              + " - " + ", ".join(f"{s} {a} {LABELS[p]} " + (f"{r:.2f}x" if r is not None else "skipped")
                                  for s, a, p, r in bar))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))

if __name__ == "__main__":
    main()
