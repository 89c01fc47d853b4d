"""CPU latency per sentence of one trained model: PyTorch vs ONNX Runtime, batch 1 and batch 32.

The model is ``--model`` (a classifier or tagger folder, a key prefix, or ``latest``) or, by default, a
classifier trained here in about ten seconds in a temporary cache: the default pipeline's architecture
(BiLSTM, 150 units per direction, 300-d embeddings, max pooling), random embeddings, 3 epochs on gensim's
bundled pang_lee_polarity (200 movie snippets, no download). It is exported with ``export model --format
onnx`` (`nlp_pipeline.pipelines.export`), so both runtimes run the same weights and the same graph: the
model's ``max_length`` cut and softmax (a classifier) or its per-token scores (a tagger).

Sentences: the corpus's 200 snippets (``--sentences`` more or fewer, cycled), tokenized and encoded once;
both runtimes get the same arrays, so only the model is timed. Batch 1 runs every sentence alone; batch
32 runs length-sorted batches of 32 (as ``predict`` batches). Each runtime makes ``--repeats`` passes after a
warm-up pass and its best pass counts; one runtime's passes all come before the other's, because ONNX
Runtime's threads spin for a while after each run (its default) and would slow a PyTorch pass that
follows at once (measured: 0.33 instead of 0.18 ms per sentence at batch 32). Both use ``--threads``
intra-op threads (PyTorch's ``set_num_threads``, ONNX Runtime's ``intra_op_num_threads``) and one inter-op
thread. The load average before and after is printed: on a shared machine, read the ratio of a quiet run.

    .venv/bin/python benchmarks/bench_onnx.py [--model KEY|DIR] [--threads 2] [--repeats 7]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from nlp_pipeline.reports.tables import format_table

TRAIN = ["model.encoder=bilstm", "model.embedding_mode=random", "embed.vector_size=300", "model.hidden_size=150",
         "train.epochs=3", "runtime.threads=2"]


def trained_classifier(cache: Path) -> str:
    """A classifier of the default architecture, trained on pang_lee_polarity in ``cache``; its folder."""
    from nlp_pipeline.pipelines import run_pipeline

    result = run_pipeline("sentiment", ["data.corpus=pang_lee_polarity", *TRAIN], cache_dir=cache,
                          report_dir=cache / "reports", progress=False, log=lambda msg: None)
    return result.variants[0].artifacts["train"]


def snippets(n: int) -> list[str]:
    from nlp_pipeline.data import load_labelled

    texts = [e.text for split in load_labelled("pang_lee_polarity").splits.values() for e in split]
    return [texts[i % len(texts)] for i in range(n)]


def inputs(model_dir: Path, kind: str, texts: list[str], batch: int) -> tuple[list[dict], torch.nn.Module]:
    """The feeds of every batch (length-sorted batches of ``batch``) and the PyTorch module the graph is."""
    from nlp_pipeline.models.batching import bucketed_batches
    from nlp_pipeline.models.onnx_export import ClassifierGraph, TaggerGraph, classifier_inputs, tagger_inputs

    if kind == "classifier":
        from nlp_pipeline.inference import Predictor

        predictor = Predictor.load(model_dir, device="cpu")
        ids = [predictor.vocab.encode(t) for t in predictor.tokenize(texts)]
        order = bucketed_batches([max(1, len(i)) for i in ids], batch, shuffle=False)
        return ([classifier_inputs([ids[i] for i in b]) for b in order],
                ClassifierGraph(predictor.model, predictor.max_length))
    from nlp_pipeline.inference import TaggerPredictor

    tagger = TaggerPredictor.load(model_dir, device="cpu")
    data = tagger.encoder.encode(list(tagger.tokenizer.pipe(texts)))
    order = bucketed_batches([max(1, len(w)) for w in data.words], batch, shuffle=False)
    return [tagger_inputs(data, b) for b in order], TaggerGraph(tagger.model)


def best_seconds(run, feeds: list[dict], repeats: int) -> float:
    """The fastest of ``repeats`` passes over every batch, after one warm-up pass."""
    for f in feeds:
        run(f)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for f in feeds:
            run(f)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="a classifier or tagger (folder, key prefix, latest); default: train one")
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    import onnxruntime as ort

    from nlp_pipeline.models.onnx_export import real_positions
    from nlp_pipeline.pipelines.export import export_model

    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model or trained_classifier(Path(tmp) / "cache")
        exported = export_model(model, Path(tmp) / "onnx", format="onnx", log=lambda msg: None)
        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        session = ort.InferenceSession(str(Path(exported.output) / "model.onnx"), options,
                                       providers=["CPUExecutionProvider"])
        names = [i.name for i in session.get_inputs()]
        texts = snippets(args.sentences)
        rows, worst = [], 0.0
        for batch in (1, 32):
            feeds, graph = inputs(Path(exported.model), exported.kind, texts, batch)
            graph.eval()
            order = ("token_ids", "lengths") if exported.kind == "classifier" else ("word_ids", "char_ids", "lengths")
            tensors = [tuple(torch.from_numpy(f[n]) for n in order) for f in feeds]
            by_id = {id(f): t for f, t in zip(feeds, tensors)}

            def run_torch(f, by_id=by_id, graph=graph):
                with torch.inference_mode():
                    return graph(*by_id[id(f)])

            def run_ort(f, names=names):
                return session.run(None, {n: f[n] for n in names})[0]

            for f in feeds:
                diff = real_positions(f, run_ort(f)) - real_positions(f, run_torch(f).numpy())
                worst = max(worst, float(np.abs(diff).max()))
            torch_s = best_seconds(run_torch, feeds, args.repeats)  # all of one runtime, then all of the other
            ort_s = best_seconds(run_ort, feeds, args.repeats)
            n = len(texts)
            rows.append([str(batch), f"{1000 * torch_s / n:.3f}", f"{1000 * ort_s / n:.3f}", f"{n / torch_s:,.0f}",
                         f"{n / ort_s:,.0f}", f"{torch_s / ort_s:.2f}×"])
    load_after = os.getloadavg()
    tokens = sum(len(t.split()) for t in texts)
    print(f"model: {exported.kind} {exported.model}" + (" (trained here: " + " ".join(TRAIN) + ")"
                                                          if not args.model else ""))
    print(f"{len(texts)} sentences ({tokens / len(texts):.1f} words on average), {args.threads} thread(s) each, "
          f"best of {args.repeats}; torch {torch.__version__}, onnxruntime {ort.__version__}, "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores; load average "
          f"{load_before[0]:.2f} before, {load_after[0]:.2f} after")
    print(f"largest |ONNX Runtime - PyTorch| on these sentences: {worst:.2e}\n")
    print(format_table(["batch", "PyTorch ms/sentence", "ONNX Runtime ms/sentence", "PyTorch sentences/s",
                        "ONNX Runtime sentences/s", "PyTorch time / ONNX Runtime time"], rows, markdown=True))


if __name__ == "__main__":
    main()
