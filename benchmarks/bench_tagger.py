"""Tagging throughput (tokens/s) on a large raw-text file: our batched tagger vs the per-sentence loop.

Input: raw IMDB reviews (the 50k unlabelled ones, cased, HTML breaks removed by the tokenizer), written
once to ``~/.cache/nlp-pipeline/bench/imdb_unsup_raw.txt``, one review a line; ``--max-docs`` takes the
first N. The tagger is the newest ``train_tagger`` artifact (``--model`` for another).

Rows, all on the same documents and the same model, one process, ``--threads`` torch threads:

- ``ours: tag(texts)``: `TaggerPredictor.tag` streaming the file in chunks of ``--chunk`` documents
  (spaCy tokenization + length-sorted batches of 256 sequences), memory flat;
- ``ours: tag_tokens``: the same on pre-tokenized input (the model alone, no tokenizer);
- ``peer: per-document loop``: what a user writes around a PyTorch tagger: tokenize one document,
  run the model on it alone (batch of one), next; measured on the first ``--loop-docs`` documents;
- ``process --task tagging``: the batch command (`nlp_pipeline.batch.process`) with 1 and 2 workers
  (one torch thread each), the file cut into 4 line-aligned parts so two workers share it.

    .venv/bin/python benchmarks/bench_tagger.py [--max-docs 5000] [--model KEY|DIR] [--threads 1]
"""

from __future__ import annotations

import argparse
import itertools
import resource
import time
from pathlib import Path

import torch

from nlp_pipeline.reports.tables import format_table

BENCH_DIR = Path.home() / ".cache" / "nlp-pipeline" / "bench"


def raw_reviews(max_docs: int) -> Path:
    """The first ``max_docs`` unlabelled IMDB reviews as raw text, one per line (written once)."""
    from nlp_pipeline.data import iter_texts

    path = BENCH_DIR / "imdb_unsup_raw.txt"
    if not path.is_file():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            for text in iter_texts("imdb_unsup"):
                fh.write(" ".join(text.split()) + "\n")
        tmp.replace(path)
    out = BENCH_DIR / f"imdb_unsup_raw_{max_docs}.txt"
    if not out.is_file():
        with open(path, encoding="utf-8") as src, open(out, "w", encoding="utf-8") as dst:
            dst.writelines(itertools.islice(src, max_docs))
    return out


def chunks(path: Path, size: int):
    with open(path, encoding="utf-8") as fh:
        while batch := [line.rstrip("\n") for line in itertools.islice(fh, size)]:
            yield batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-docs", type=int, default=5_000)
    parser.add_argument("--loop-docs", type=int, default=500)
    parser.add_argument("--chunk", type=int, default=2000)
    parser.add_argument("--model", default="latest")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    from nlp_pipeline.inference.tagger import TaggerPredictor, predict_tags
    from nlp_pipeline.pipelines.artifacts import resolve_model

    torch.set_num_threads(args.threads)
    model_dir = resolve_model(args.model, stage="train_tagger")
    tagger = TaggerPredictor.load(model_dir, device="cpu")
    path = raw_reviews(args.max_docs)
    print(f"model {model_dir}\ninput {path} ({path.stat().st_size / 1e6:.1f} MB), {args.threads} torch thread(s)")

    rows = []
    start, docs, tokens, tokenized = time.perf_counter(), 0, 0, []
    for batch in chunks(path, args.chunk):
        for record in tagger.tag(batch):
            docs += 1
            tokens += len(record["tokens"])
            if len(tokenized) < args.max_docs:
                tokenized.append(record["tokens"])
    seconds = time.perf_counter() - start
    batched_rate = tokens / seconds
    rows.append(["ours: tag(texts), streamed", f"{docs:,}", f"{tokens:,}", f"{seconds:.1f}", f"{docs / seconds:,.0f}",
                 f"{batched_rate:,.0f}", "1.00×"])

    start = time.perf_counter()
    for i in range(0, len(tokenized), args.chunk):
        tagger.tag_tokens(tokenized[i : i + args.chunk])
    seconds = time.perf_counter() - start
    rows.append(["ours: tag_tokens (pre-tokenized)", f"{len(tokenized):,}", f"{tokens:,}", f"{seconds:.1f}",
                 f"{len(tokenized) / seconds:,.0f}", f"{tokens / seconds:,.0f}",
                 f"{tokens / seconds / batched_rate:.2f}×"])

    loop_docs = next(chunks(path, args.loop_docs))
    start, loop_tokens = time.perf_counter(), 0
    for text in loop_docs:
        words = tagger.tokenizer.tokenize(text)
        predict_tags(tagger.model, tagger.encoder.encode([words]), batch_size=1)
        loop_tokens += len(words)
    seconds = time.perf_counter() - start
    rows.append(["peer: per-document loop", f"{len(loop_docs):,}", f"{loop_tokens:,}", f"{seconds:.1f}",
                 f"{len(loop_docs) / seconds:,.0f}", f"{loop_tokens / seconds:,.0f}",
                 f"{loop_tokens / seconds / batched_rate:.2f}×"])

    import tempfile

    from nlp_pipeline.batch import process

    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as out:
            summary = process([path], "tagging", out, model=str(model_dir), workers=workers, progress=False,
                              split_mb=path.stat().st_size / 4 / (1 << 20) + 0.01)
        rows.append([f"process --task tagging, {workers} worker(s)", f"{summary.read:,}", f"{summary.tokens:,}",
                     f"{summary.seconds:.1f}", f"{summary.docs_per_second:,.0f}", f"{summary.tokens_per_second:,.0f}",
                     f"{summary.tokens_per_second / batched_rate:.2f}×"])

    print()
    print(format_table(["run", "docs", "tokens", "seconds", "docs/s", "tokens/s", "vs ours"], rows, markdown=True))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\npeak RSS {peak:.0f} MB")


if __name__ == "__main__":
    main()
