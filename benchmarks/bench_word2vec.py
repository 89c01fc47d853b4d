"""word2vec: our PyTorch engine vs gensim, same tokenized corpus, same parameters, one run.

Default corpus: the unlabelled IMDB text (IMDB train + unsup, 75k reviews, ~20M tokens),
tokenized once with our spaCy tokenizer (lower-cased, HTML breaks removed) and cached. Default
parameters (the issue's): dim 100, window 5, 5 negatives, sample 1e-3, min_count 5, 5 epochs,
all cores. Each (engine, architecture) trains in its own subprocess so that its peak memory
(max RSS) is its own. Printed: words/s, wall time, peak memory, Google analogy accuracy (30k most
frequent words), WordSim-353 and SimLex-999 Spearman, and ours/gensim for each.

    .venv/bin/python benchmarks/bench_word2vec.py                       # the full comparison (~30 min on 2 cores)
    .venv/bin/python benchmarks/bench_word2vec.py --max-docs 10000 --epochs 1   # a quick look
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


def train_one(spec: dict) -> dict:
    """Child process body: train, score, report (peak memory is measured by the parent)."""
    from nlp_pipeline.embeddings import Word2VecParams, intrinsic_scores, train_gensim
    from nlp_pipeline.embeddings.torch_engine import TorchW2VOptions, train_torch

    params = Word2VecParams(**spec["params"])
    if spec["engine"] in ("gensim", "gensim-iterable"):
        kv, info = train_gensim(spec["corpus"], params, progress=False, iterable=spec["engine"] == "gensim-iterable")
    else:
        scale = spec.get("init_scale", 1.0)
        if scale != 1.0:  # a wider start than word2vec's ±0.5/dim (gensim 4 draws in ±1/dim: scale 2)
            from nlp_pipeline.embeddings import torch_engine

            init = torch_engine.init_weights
            torch_engine.init_weights = lambda v, d, seed: (lambda w: (w[0].mul_(scale), w[1]))(init(v, d, seed))
        model = train_torch(spec["corpus"], params, progress=False,
                            options=TorchW2VOptions(device=spec["device"], batch_words=spec["batch_words"],
                                                    **spec.get("options", {})))
        kv, info = model.to_keyed_vectors(), model.info
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
    result["peak_mb"] = usage.ru_maxrss / 1024  # KiB on Linux
    return result


def profile(corpus: Path, params, batch_words: int | None, seconds: float = 20.0, kernel: str = "auto") -> None:
    """Where our engine's time goes: torch profiler over ~`seconds` of single-worker training."""
    import torch
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    from nlp_pipeline.embeddings.torch_engine import TorchW2VOptions, _jobs, _Trainer
    from nlp_pipeline.embeddings.w2v_corpus import build_vocab, encode_corpus

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    vocab = build_vocab(corpus, params.min_count)
    arch = "skip-gram" if params.sg else "CBOW"
    with tempfile.TemporaryDirectory() as tmp:
        encoded = encode_corpus(corpus, vocab, tmp)
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
        jobs = _jobs(encoded, 1, 1 << 18, vocab.corpus_words)
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", help="a tokenized file (one document a line) instead of the IMDB text")
    ap.add_argument("--max-docs", type=int, help="only the first N reviews (quick runs)")
    ap.add_argument("--archs", default="sg,cbow")
    ap.add_argument("--engines", default="gensim,torch,gensim-iterable",
                    help="gensim (corpus_file mode, its fastest), torch (ours), gensim-iterable (gensim's exact "
                         "linear learning-rate schedule: the quality reference)")
    ap.add_argument("--setting", choices=sorted(SETTINGS), default="issue",
                    help="the defaults of the parameters below: issue (100 d, sample 1e-3, min_count 5, 5 epochs) "
                         "or sentiment (the sentiment pipeline's: 300 d, sample 1e-4, min_count 3, 3 epochs)")
    ap.add_argument("--tokens", type=int, help="only the first lines holding about N tokens (quick runs)")
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--dim", type=int)
    ap.add_argument("--sample", type=float)
    ap.add_argument("--min-count", type=int)
    ap.add_argument("--window", type=int)
    ap.add_argument("--negative", type=int)
    ap.add_argument("--alpha", type=float, help="initial learning rate (default: the engines' 0.025), for the engines "
                    "named in --alpha-engines only")
    ap.add_argument("--alpha-engines", default="torch", help="which engines --alpha applies to (comma-separated)")
    ap.add_argument("--seed", type=int, default=1, help="both engines' seed (seeds apart measure run-to-run spread)")
    ap.add_argument("--workers", type=int, default=0, help="threads for both engines; 0 = all cores")
    ap.add_argument("--batch-words", type=int, help="torch engine: centre words per update (default: by architecture)")
    ap.add_argument("--device", default="cpu", help="torch engine device (cpu, cuda, auto)")
    ap.add_argument("--max-row-updates", type=float,
                    help="torch engine: cap on a row's summed updates per batch (0 = no cap; default: the engine's)")
    ap.add_argument("--skip-saturated", action="store_true", help="torch engine: gensim's skip of pairs beyond ±6")
    ap.add_argument("--negatives-per-pair", action="store_true",
                    help="torch engine, C kernel, skip-gram: fresh negatives per (centre, context) pair (word2vec's)")
    ap.add_argument("--init-scale", type=float, default=1.0,
                    help="torch engine: input vectors start in ±scale·0.5/dim (2 = gensim 4's range)")
    ap.add_argument("--lr-schedule", choices=["linear", "per_epoch"],
                    help="torch engine: embed.lr_schedule (default: the setting's): linear over all epochs "
                         "(word2vec's, gensim iterable's) or per_epoch (gensim corpus_file mode's on 2 threads)")
    ap.add_argument("--kernel", default="auto", choices=["auto", "native", "tensor"],
                    help="torch engine on the CPU: native (C loop), tensor (batched tensor updates), auto")
    ap.add_argument("--profile", action="store_true", help="profile our engine instead of comparing")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--child-out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        Path(args.child_out).write_text(json.dumps(train_one(json.loads(args.child))))
        return

    from nlp_pipeline.embeddings import Word2VecParams
    from nlp_pipeline.reports.tables import format_table

    corpus = Path(args.corpus) if args.corpus else corpus_path(args.max_docs)
    if args.tokens:
        corpus = capped(corpus, args.tokens)
    given = {k: getattr(args, a) for k, a in FLAGS.items() if getattr(args, a) is not None}
    chosen = {**SETTINGS[args.setting], **given}
    base = Word2VecParams(**chosen, workers=args.workers, seed=args.seed)
    archs = {"sg": 1, "cbow": 0}
    if args.profile:
        for arch in args.archs.split(","):
            profile(corpus, base.model_copy(update={"sg": archs[arch]}), args.batch_words, kernel=args.kernel)
        return
    cores = os.cpu_count()
    print(f"corpus {corpus} ({corpus.stat().st_size / 1e6:.0f} MB); dim {base.vector_size}, window {base.window}, "
          f"negative {base.negative}, sample {base.sample:g}, min_count {base.min_count}, {base.epochs} epochs, "
          f"seed {base.seed}, workers {args.workers or cores} of {cores} cores; torch: kernel {args.kernel}, "
          f"negatives {'per pair' if args.negatives_per_pair else 'shared per centre'}, "
          f"init scale {args.init_scale:g}, lr schedule {args.lr_schedule or base.lr_schedule}"
          + (f"; alpha {args.alpha:g} for {args.alpha_engines}" if args.alpha is not None else ""))
    options = {"kernel": args.kernel, "negatives_per_pair": args.negatives_per_pair}
    if args.max_row_updates is not None:
        options["max_row_updates"] = args.max_row_updates
    if args.skip_saturated:
        options["skip_saturated"] = True
    results, rows = {}, []
    for arch in args.archs.split(","):
        for engine in args.engines.split(","):
            params = base.model_copy(update={"sg": archs[arch]})
            if args.alpha is not None and engine in args.alpha_engines.split(","):
                params = params.model_copy(update={"alpha": args.alpha})
            if args.lr_schedule and engine == "torch":
                params = params.model_copy(update={"lr_schedule": args.lr_schedule})
            spec = {"engine": engine, "corpus": str(corpus), "device": args.device, "batch_words": args.batch_words,
                    "options": options, "init_scale": args.init_scale,
                    "params": params.model_dump()}
            r = run_child(spec)
            results[f"{arch}/{engine}"] = r
            label = engine if engine.startswith("gensim") else f"torch ({r['device']})"
            rows.append([arch, label, f"{r['words_per_second']:,}", f"{r['seconds']:.0f} s", f"{r['peak_mb']:,.0f} MB",
                         f"{100 * r['analogy']:.1f}%", f"{r['wordsim353']:.3f}", f"{r['simlex999']:.3f}"])
            print(" | ".join(rows[-1]), flush=True)
        t = results.get(f"{arch}/torch")
        for peer in ("gensim", "gensim-iterable"):
            g = results.get(f"{arch}/{peer}")
            if g and t:
                rows.append([arch, f"ours / {peer}", f"{t['words_per_second'] / g['words_per_second']:.2f}x",
                             f"{t['seconds'] / g['seconds']:.2f}x", f"{t['peak_mb'] / g['peak_mb']:.2f}x",
                             f"{100 * (t['analogy'] - g['analogy']):+.1f} pt",
                             f"{t['wordsim353'] - g['wordsim353']:+.3f}", f"{t['simlex999'] - g['simlex999']:+.3f}"])
    print()
    print(format_table(["arch", "engine", "words/s", "wall", "peak RSS", "analogy", "WS353", "SimLex"], rows))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
