"""GPU check: every CUDA path tested, then a short GPU benchmark, in one table (`make gpu-check`).

On a machine with CUDA, in a few minutes:

1. the tests that exercise every CUDA path (`pytest -m cuda tests/cuda`: torch word2vec on both
   architectures, classifier and tagger training and prediction, `process --device cuda`, the
   language model's training, generation and perplexity, with `cuda`, `cuda:0` and `auto`);
2. torch word2vec words/s on the GPU against gensim on every CPU core, same text, same settings
   (one epoch over a few million tokens: the IMDB text when the corpora are there, else gensim's
   bundled Lee corpus repeated, which measures speed, not quality);
3. classifier training tokens/s (BiLSTM) and language-model training tokens/s (the `run lm`
   default model) on the GPU against the CPU;
4. a small `run sentiment` trained with DistributedDataParallel over NCCL, one process per visible
   GPU (started as `run --nproc` starts them, even for one GPU, so the NCCL path runs): one model
   committed, every process ending with it.

On a machine without CUDA it says so and exits 0. The exit code is the tests' (0: every CUDA path
works).

    .venv/bin/python benchmarks/gpu_check.py [--tokens 3000000]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def run_tests() -> tuple[int, str, float]:
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-m", "cuda", str(HERE.parent / "tests" / "cuda"),
                           "-p", "no:cacheprovider"], capture_output=True, text=True, cwd=HERE.parent)
    summary = (proc.stdout.strip().splitlines() or ["(no output)"])[-1]
    if proc.returncode != 0:
        print(proc.stdout[-6000:], proc.stderr[-2000:], sep="\n", file=sys.stderr)
    return proc.returncode, summary, time.perf_counter() - t0


def benchmark_corpus(tokens: int, folder: Path) -> tuple[Path, str]:
    """A tokenized file of about ``tokens`` tokens: IMDB when it resolves here, else Lee repeated."""
    try:
        from nlp_pipeline.data import iter_texts
        from nlp_pipeline.text import Tokenizer

        path = folder / "imdb.txt"
        written = 0
        with open(path, "w", encoding="utf-8") as fh:
            for words in Tokenizer(n_process=4).pipe(t for s in ("imdb_unsup", "imdb:train") for t in iter_texts(s)):
                fh.write(" ".join(words) + "\n")
                written += len(words)
                if written >= tokens:
                    break
        return path, f"IMDB reviews, {written:,} tokens"
    except Exception as err:  # noqa: BLE001 - any reason the corpus is not here: fall back, and say why
        from gensim.test.utils import datapath

        lines = Path(datapath("lee_background.cor")).read_text(encoding="utf-8").splitlines()
        per_copy = sum(len(line.split()) for line in lines)
        copies = max(1, tokens // per_copy)
        path = folder / "lee.txt"
        path.write_text("\n".join(lines * copies) + "\n", encoding="utf-8")
        return path, f"Lee corpus x{copies} ({per_copy * copies:,} tokens; IMDB not available: {str(err)[:80]})"


def word2vec_rows(corpus: Path, device: str = "cuda") -> list[list[str]]:
    rows = []
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as fh:
        out = fh.name
    subprocess.run([sys.executable, str(HERE / "bench_word2vec.py"), "--corpus", str(corpus), "--epochs", "1",
                    "--engines", "gensim,torch", "--device", device, "--json", out], check=True,
                   stdout=subprocess.DEVNULL)
    results = json.loads(Path(out).read_text())
    for arch in ("sg", "cbow"):
        g, t = results[f"{arch}/gensim"], results[f"{arch}/torch"]
        ratio = t["words_per_second"] / g["words_per_second"]
        rows.append([f"word2vec {arch}", f"torch {t['device']}: {t['words_per_second']:,} words/s",
                     f"gensim CPU: {g['words_per_second']:,} words/s", f"{ratio:.2f}x"])
    return rows


def classifier_row(tokens_per_second, device: str = "cuda") -> list[str]:
    gpu, cpu = tokens_per_second(device), tokens_per_second("cpu")
    return ["classifier (bilstm) training", f"{device}: {gpu:,.0f} tokens/s", f"cpu: {cpu:,.0f} tokens/s",
            f"{gpu / cpu:.2f}x"]


def classifier_tokens_per_second(device: str, n: int = 20_000, seed: int = 13) -> float:
    import numpy as np

    from nlp_pipeline.models.classifier import ClassifierConfig, SequenceClassifier
    from nlp_pipeline.training.classifier import train_classifier
    from nlp_pipeline.training.loop import TrainConfig

    rng = np.random.default_rng(seed)
    lengths = np.clip(rng.geometric(1 / 20, size=n), 1, 200)
    ids = [rng.integers(2, 20_000, k).tolist() for k in lengths]
    y = rng.integers(0, 2, n).tolist()
    cfg = ClassifierConfig(vocab_size=20_000, num_classes=2, embedding_dim=300, encoder="bilstm", hidden_size=150,
                           pooling="max", embedding_mode="random")
    train_cfg = TrainConfig(epochs=1, batch_size=128, patience=0, seed=seed, device=device, num_threads=0)
    result = train_classifier(SequenceClassifier(cfg), ids, y, ids[:256], y[:256], train_cfg, progress=False,
                              log=lambda m: None)
    return float(result.tokens_per_second)


def lm_row(tokens_per_second, device: str = "cuda") -> list[str]:
    gpu, cpu = tokens_per_second(device), tokens_per_second("cpu")
    return ["language model (lstm 512) training", f"{device}: {gpu:,.0f} tokens/s", f"cpu: {cpu:,.0f} tokens/s",
            f"{gpu / cpu:.2f}x"]


def lm_tokens_per_second(device: str, tokens: int = 300_000, seed: int = 13) -> float:
    """The `run lm` default model (LSTM 512, embedding 300, adaptive softmax over 50k words) on
    Zipf-distributed ids; a CPU gets a tenth of the tokens (its rate settles long before)."""
    import numpy as np

    from nlp_pipeline.models.language_model import LanguageModelConfig, RNNLanguageModel
    from nlp_pipeline.training.language_model import LMTrainConfig, train_language_model

    n = tokens if device != "cpu" else tokens // 10
    rng = np.random.default_rng(seed)
    ids = np.minimum(rng.zipf(1.2, n), 49_999).astype(np.int32)
    offsets = np.arange(0, n + 1, 250)
    cfg = LanguageModelConfig(vocab_size=50_000, embedding_dim=300, hidden_size=512)
    train_cfg = LMTrainConfig(batch_size=64, bptt=64, evaluations=1, seed=seed, device=device,
                              num_threads=os.cpu_count() or 1)
    result = train_language_model(RNNLanguageModel(cfg), ids, offsets, ids[:2000], train_cfg, log=lambda m: None)
    return float(result.tokens_per_second)


DDP_RUN = ["run", "sentiment", "--corpus", "pang_lee_polarity", "--set",
           "data.text=[lee_background,pang_lee_polarity:train]", "--set", "model.embedding_mode=random",
           "--set", "model.hidden_size=32", "--set", "train.epochs=2", "--set", "train.batch_size=16", "--quiet"]


def ddp_row(gpus: int, folder: Path, device: str = "cuda") -> list[str]:
    """`run sentiment` on gensim's bundled snippets as ``gpus`` processes of one run (NCCL, a GPU each; gloo with
    ``device="cpu"``), in a fresh cache under ``folder``: ok when it exits 0 with one train artifact, built by
    that many processes on ``device``."""
    if gpus < 1:
        return ["DDP training (NCCL)", "skipped: no GPU", "", "skipped"]
    launcher = "import sys; from nlp_pipeline.training.distributed import launch; sys.exit(launch(sys.argv[2:], " \
               "int(sys.argv[1])))"
    cache = folder / "ddp-cache"
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", launcher, str(gpus), sys.executable, "-m", "nlp_pipeline.cli",
                           *DDP_RUN, "--device", device, "--cache-dir", str(cache), "--report-dir",
                           str(folder / "ddp-reports")],
                          capture_output=True, text=True, cwd=HERE.parent)
    seconds = time.perf_counter() - t0
    trained = sorted(p for p in (cache / "artifacts" / "train").glob("[!.]*")) if proc.returncode == 0 else []
    manifest = json.loads((trained[0] / "manifest.json").read_text()) if len(trained) == 1 else {}
    runtime = manifest.get("runtime", {})
    ok = len(trained) == 1 and runtime.get("processes") == gpus and str(runtime.get("device")).startswith(device)
    if not ok:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n", file=sys.stderr)
    result = f"run sentiment, {gpus} process(es): {seconds:.0f} s" + (f", train [{trained[0].name[:12]}]" if ok else "")
    backend = f"NCCL, {gpus} GPU(s)" if device == "cuda" else f"gloo, {gpus} CPU processes"
    return [f"DDP training ({backend})", result, "one artifact, every process", "ok" if ok else "FAILED"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=3_000_000, help="size of the word2vec benchmark text")
    ap.add_argument("--skip-tests", action="store_true", help="only the benchmark")
    args = ap.parse_args()
    if not has_cuda():
        print("gpu-check: no CUDA device on this machine, nothing to check (run it where `torch.cuda.is_available()`)")
        return 0
    import torch

    from nlp_pipeline.reports.tables import format_table

    print(f"gpu-check on {torch.cuda.get_device_name(0)} ({torch.cuda.device_count()} device(s)), torch "
          f"{torch.__version__}", flush=True)
    rows = []
    code = 0
    if not args.skip_tests:
        code, summary, seconds = run_tests()
        rows.append(["CUDA tests (pytest -m cuda)", summary, f"{seconds:.0f} s", "ok" if code == 0 else "FAILED"])
        print(" | ".join(rows[-1]), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        corpus, what = benchmark_corpus(args.tokens, Path(tmp))
        print(f"word2vec benchmark text: {what}", flush=True)
        rows += word2vec_rows(corpus)
    rows.append(classifier_row(classifier_tokens_per_second))
    rows.append(lm_row(lm_tokens_per_second))
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(ddp_row(torch.cuda.device_count(), Path(tmp)))
        print(" | ".join(rows[-1]), flush=True)
        if rows[-1][-1] == "FAILED":
            code = code or 1
    print()
    print(format_table(["check", "result", "against", "ratio / status"], rows))
    return code


if __name__ == "__main__":
    sys.exit(main())
