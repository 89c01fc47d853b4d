"""Batch throughput (documents/s, tokens/s): `nlp-pipeline process` with 1 and 2 workers vs the plain loop.

Input: the 50,000 labelled IMDB reviews (train + test), extracted once from the corpus archive to 8
JSON-lines shards (round-robin, so every shard has the same mix) in
``~/.cache/nlp-pipeline/bench/imdb_process[_N]/``. Tasks: ``tokenize`` (spaCy, the project's
settings) and ``sentiment`` (the newest trained classifier in the artifact cache, ``--model latest``).

Rows, each in its own fresh Python process, timed end to end from before its heavy imports (torch,
spaCy, the model) to its last written line, worker start-up included:

- ``process``, 1 worker: `nlp_pipeline.batch.process(workers=1)`, which runs in the calling process,
  one torch thread;
- ``process``, 2 workers: two spawned worker processes, one torch thread each;
- plain loop, batched: what a user writes knowing the API takes lists: read each file, 256 texts at a
  time through ``Predictor.predict`` / ``Tokenizer.pipe``, one JSON line out per document, torch's
  default threads (2 here);
- the same with ``torch.set_num_threads(1)`` (sentiment only): what one worker does, without the engine;
- plain loop, per line: ``for line in file: predictor.predict([text])`` / ``tokenizer.tokenize(text)``.

The plain loops stop after ``--plain-seconds`` (120) and report their rate over the documents they did
(the slow ones would take hours on all 50,000); ``process`` rows always do every document.

Tokens are spaCy tokens before the model's truncation (``max_length``); for the plain sentiment loops,
whose API does not return them, they are counted after the timing.

    .venv/bin/python benchmarks/bench_process.py [--max-docs N] [--sentiment-max-docs N] [--model REF]
        [--tasks tokenize,sentiment] [--workers 1,2] [--plain-seconds S]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

N_SHARDS = 8
BATCH = 256
IMDB_MEMBERS = r"^aclImdb/(?P<split>train|test)/(?P<label>pos|neg)/(?P<id>\d+)_(?P<rating>\d+)\.txt$"


def input_shards(max_docs: int | None) -> list[Path]:
    """Extract the labelled IMDB reviews once into N_SHARDS JSON-lines files; later runs reuse them."""
    from nlp_pipeline.data import load_spec, resolve_file
    from nlp_pipeline.data.readers import read_archive_examples
    from nlp_pipeline.engine.cache import default_cache_dir

    folder = default_cache_dir() / "bench" / ("imdb_process" if max_docs is None else f"imdb_process_{max_docs}")
    shards = [folder / f"imdb-{i:02d}.jsonl" for i in range(N_SHARDS)]
    if all(p.exists() for p in shards):
        return shards
    t0 = time.perf_counter()
    spec = load_spec("imdb")
    archive = resolve_file(spec, spec.files[0].name)
    stride = 1 if max_docs is None else max(1, 50_000 // max_docs)  # a spread-out subset, not only train/pos
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    files = [open(tmp / p.name, "w", encoding="utf-8") for p in shards]  # noqa: SIM115 - closed below
    n = 0
    for i, (groups, example) in enumerate(read_archive_examples(archive, member_pattern=IMDB_MEMBERS)):
        if i % stride:
            continue
        ident = f"{groups['split']}/{groups['label']}/{groups['id']}_{groups['rating']}"
        files[n % N_SHARDS].write(json.dumps({"id": ident, "text": example.text, "label": example.label}) + "\n")
        n += 1
        if max_docs is not None and n >= max_docs:
            break
    for f in files:
        f.close()
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)
    print(f"extracted {n:,} reviews into {N_SHARDS} shards in {time.perf_counter() - t0:.0f} s → {folder}",
          file=sys.stderr)
    return shards


def iter_texts(paths: list[Path]):
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                yield json.loads(line)["text"]


def plain_loop(task: str, model_dir: Path | None, paths: list[Path], out: Path, batch: int,
               threads: int | None, stop_at: float) -> tuple[int, int]:
    """The loop a user writes: for each line of each file, ``batch`` texts a call (1: one call a line),
    one JSON line out per document; stops after the batch in progress at ``stop_at`` (perf_counter).
    Returns (documents, tokens)."""
    docs = tokens = 0
    if task == "sentiment":
        import torch

        from nlp_pipeline.inference.classifier import Predictor

        if threads:
            torch.set_num_threads(threads)
        predictor = Predictor.load(model_dir, device="cpu")
    else:
        from nlp_pipeline.text.tokenize import Tokenizer

        tokenizer = Tokenizer()
    texts = iter_texts(paths)
    with open(out / "plain.jsonl", "w", encoding="utf-8") as dst:
        while time.perf_counter() < stop_at and (chunk := list(islice(texts, batch))):
            if task == "sentiment":
                preds = predictor.predict(chunk)
                dst.writelines(json.dumps({"label": r["label"], "probabilities": r["probabilities"]}) + "\n"
                               for r in preds)
            else:
                words = [tokenizer.tokenize(chunk[0])] if batch == 1 else list(tokenizer.pipe(chunk))
                tokens += sum(len(w) for w in words)
                dst.writelines(json.dumps({"tokens": w}) + "\n" for w in words)
            docs += len(chunk)
    return docs, tokens


def count_tokens(paths: list[Path], limit: int) -> int:
    from nlp_pipeline.text.tokenize import Tokenizer

    return sum(len(w) for w in Tokenizer().pipe(islice(iter_texts(paths), limit)))


def run_row(row: dict) -> dict:
    """Child process body: one row, timed from before its heavy imports to its last written line."""
    t0 = time.perf_counter()
    paths = [Path(x) for x in row["paths"]]
    model_dir = Path(row["model"]) if row["model"] else None
    out = Path(row["out"])
    if row["kind"] == "process":
        from nlp_pipeline.batch import process

        s = process(paths, row["task"], out, model=row["model"], workers=row["workers"], force=True, progress=False)
        docs, tokens = s.written, s.tokens
    else:
        out.mkdir(parents=True)
        docs, tokens = plain_loop(row["task"], model_dir, paths, out, row["batch"], row.get("threads"),
                                  t0 + row["max_seconds"])
    seconds = time.perf_counter() - t0
    if row["task"] == "sentiment":  # Predictor.predict does not return tokens: count them untimed
        tokens = count_tokens(paths, docs)
    return {"docs": docs, "tokens": tokens, "seconds": seconds}


def child(row: dict) -> dict:
    """Run one row in a fresh interpreter, so that no row inherits another's loaded libraries or models."""
    proc = subprocess.run([sys.executable, __file__, "--row", json.dumps(row)], capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"row {row['kind']} {row['task']} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--max-docs", type=int, help="a spread-out subset of this many reviews (default: all 50,000)")
    p.add_argument("--sentiment-max-docs", type=int, help="sentiment on a subset of this many (default: --max-docs)")
    p.add_argument("--tasks", default="tokenize,sentiment")
    p.add_argument("--model", default="latest", help="sentiment model: folder, train key prefix or 'latest'")
    p.add_argument("--workers", default="1,2", help="worker counts for `process`")
    p.add_argument("--plain-seconds", type=float, default=120,
                   help="the plain loops stop after about this long; their rate is over the documents they did")
    p.add_argument("--row", help=argparse.SUPPRESS)  # internal: run one row (JSON) and print its result
    args = p.parse_args()
    if args.row:
        print(json.dumps(run_row(json.loads(args.row))))
        return

    from nlp_pipeline.engine.cache import default_cache_dir
    from nlp_pipeline.pipelines.artifacts import resolve_model
    from nlp_pipeline.reports.tables import format_table

    t_all = time.perf_counter()
    tasks = args.tasks.split(",")
    inputs = {task: input_shards(args.sentiment_max_docs if task == "sentiment" and args.sentiment_max_docs
                                 else args.max_docs) for task in tasks}
    model_dir = resolve_model(args.model) if "sentiment" in tasks else None
    if model_dir is not None:
        config = json.loads((model_dir / "config.json").read_text())
        print(f"sentiment model: {model_dir} ({config['model']['encoder']} on {config.get('corpus')}, "
              f"max_length {config.get('max_length')})", file=sys.stderr)
    for task, paths in inputs.items():
        print(f"{task}: {sum(1 for _ in iter_texts(paths)):,} reviews in {N_SHARDS} shards in {paths[0].parent}",
              file=sys.stderr)
    print(f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start", file=sys.stderr)
    scratch = Path(tempfile.mkdtemp(prefix="bench-process-", dir=default_cache_dir() / "bench"))
    rows = []
    try:
        for task in tasks:
            model = str(model_dir) if task == "sentiment" else None
            base = {"task": task, "paths": [str(x) for x in inputs[task]], "model": model}
            plan = [(f"process, {w} worker{'s' if w > 1 else ''}", {"kind": "process", "workers": w})
                    for w in (int(w) for w in args.workers.split(","))]
            plain = {"kind": "plain", "max_seconds": args.plain_seconds}
            plan.append((f"plain loop, {BATCH} texts a call", {**plain, "batch": BATCH}))
            if task == "sentiment":
                plan.append((f"plain loop, {BATCH} texts a call, 1 torch thread", {**plain, "batch": BATCH,
                                                                                   "threads": 1}))
            plan.append(("plain loop, one call a line", {**plain, "batch": 1}))
            results = []
            for i, (name, extra) in enumerate(plan):
                r = child({**base, **extra, "out": str(scratch / f"{task}-{i}")})
                shutil.rmtree(scratch / f"{task}-{i}", ignore_errors=True)
                print(f"  {task:9} {name}: {r['docs']:,} docs in {r['seconds']:.1f} s", file=sys.stderr)
                results.append((name, r))
            plain = next(r for name, r in results if name == f"plain loop, {BATCH} texts a call")
            plain_rate = plain["docs"] / plain["seconds"]
            for name, r in results:
                rate = r["docs"] / r["seconds"]
                rows.append([task, name, f"{r['docs']:,}", f"{r['seconds']:.1f} s", f"{rate:,.0f}",
                             f"{r['tokens'] / r['seconds']:,.0f}", f"{rate / plain_rate:.2f}x"])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(format_table(["task", "runner", "docs", "wall", "docs/s", "tokens/s", "vs plain batched"], rows))
    print(f"\ntotal {time.perf_counter() - t_all:.0f} s, load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
