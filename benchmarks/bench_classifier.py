"""Classifier training and inference throughput (tokens/s), ours vs the plain padded loop.

Ours: `train_classifier` (length-bucketed batches, packed sequences) for each encoder.
Peer: the loop a user writes after a Keras tutorial: every sequence padded to one fixed length
(the corpus' longest), random batches, the recurrent layer run over the padding, last position.
Both train the same architecture on the same SST-2 training phrases (synthetic lengths drawn
from SST-2's distribution when the corpus is not available), one epoch, same threads.

    .venv/bin/python benchmarks/bench_classifier.py [--limit 20000] [--encoders rnn,gru,lstm,bilstm]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from nlp_pipeline.inference.classifier import predict_proba
from nlp_pipeline.models.classifier import ClassifierConfig, SequenceClassifier
from nlp_pipeline.reports.tables import format_table
from nlp_pipeline.text import Tokenizer
from nlp_pipeline.text.vocab import Vocab
from nlp_pipeline.training.classifier import train_classifier
from nlp_pipeline.training.loop import TrainConfig


def load_data(limit: int, seed: int) -> tuple[list[list[str]], list[int], str]:
    try:
        from nlp_pipeline.data import load_labelled

        ds = load_labelled("sst2")
        train = ds.splits["train"]
        rng = np.random.default_rng(seed)
        idx = rng.permutation(len(train))[:limit]
        texts = [train[i].text for i in idx]
        labels = [ds.labels.index(train[i].label) for i in idx]
        return list(Tokenizer(n_process=1).pipe(texts)), labels, "SST-2 train phrases"
    except Exception as err:  # noqa: BLE001 - fall back to synthetic data of the same shape
        print(f"(SST-2 not available: {err}; using synthetic sequences)")
        rng = np.random.default_rng(seed)
        lengths = np.clip(rng.geometric(1 / 9.5, size=limit), 1, 56)
        words = [f"w{i}" for i in range(15000)]
        docs = [[words[j] for j in rng.integers(0, len(words), n)] for n in lengths]
        return docs, rng.integers(0, 2, limit).tolist(), "synthetic"


class PaddedLoopModel(nn.Module):
    """The tutorial model: embedding → (bi)LSTM over fixed-length padding → last position → linear."""

    def __init__(self, vocab_size: int, dim: int, hidden: int, bidirectional: bool):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.rnn = nn.LSTM(dim, hidden, batch_first=True, bidirectional=bidirectional)
        self.out = nn.Linear(hidden * (2 if bidirectional else 1), 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(self.emb(x))
        return self.out(h[:, -1])


def padded_loop_epoch(ids: list[list[int]], y: list[int], vocab_size: int, args, bidirectional: bool) -> float:
    torch.manual_seed(args.seed)
    max_len = max(len(s) for s in ids)
    x = torch.zeros(len(ids), max_len, dtype=torch.long)
    for i, s in enumerate(ids):  # Keras pad_sequences(padding="pre"): tokens at the end, last step is real
        x[i, max_len - len(s):] = torch.tensor(s)
    target = torch.tensor(y)
    model = PaddedLoopModel(vocab_size, args.dim, args.hidden, bidirectional)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.randperm(len(ids))
    start = time.perf_counter()
    for b in range(0, len(ids), args.batch_size):
        idx = order[b:b + args.batch_size]
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x[idx]), target[idx])
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--limit", type=int, default=20000, help="training sequences (67,349 = all of SST-2)")
    p.add_argument("--encoders", default="rnn,gru,lstm,bilstm")
    p.add_argument("--dim", type=int, default=300)
    p.add_argument("--hidden", type=int, default=150)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=0, help="0 = all cores")
    p.add_argument("--seed", type=int, default=13)
    args = p.parse_args()
    threads = args.threads or torch.get_num_threads()
    torch.set_num_threads(threads)

    docs, y, source = load_data(args.limit, args.seed)
    vocab = Vocab.build(docs)
    ids = [vocab.encode(d) for d in docs]
    n_tokens = sum(map(len, ids))
    print(f"{source}: {len(ids):,} sequences, {n_tokens:,} tokens (mean {n_tokens / len(ids):.1f}, "
          f"max {max(map(len, ids))}), vocab {len(vocab):,}, dim {args.dim}, hidden {args.hidden}, "
          f"batch {args.batch_size}, {threads} threads")

    rows = []
    for encoder in args.encoders.split(","):
        cfg = ClassifierConfig(vocab_size=len(vocab), num_classes=2, embedding_dim=args.dim, encoder=encoder,
                               hidden_size=args.hidden, pooling="max", embedding_mode="random")
        model = SequenceClassifier(cfg)
        train_cfg = TrainConfig(epochs=1, batch_size=args.batch_size, patience=0, seed=args.seed,
                                device="cpu", num_threads=threads)
        result = train_classifier(model, ids, y, ids[:256], y[:256], train_cfg, progress=False, log=lambda m: None)
        start = time.perf_counter()
        predict_proba(model, ids, device=torch.device("cpu"))
        infer = n_tokens / (time.perf_counter() - start)
        rows.append([encoder, f"{result.tokens_per_second:,.0f}", f"{n_tokens / result.tokens_per_second:.1f}s",
                     f"{infer:,.0f}"])

    for name, bidir in (("lstm", False), ("bilstm", True)):
        if name in args.encoders.split(","):
            seconds = padded_loop_epoch(ids, y, len(vocab), args, bidir)
            ours = next(float(r[1].replace(",", "")) for r in rows if r[0] == name)
            rows.append([f"{name} (plain padded loop)", f"{n_tokens / seconds:,.0f}", f"{seconds:.1f}s", "",
                         f"ours {ours / (n_tokens / seconds):.2f}x"])
    for r in rows:
        r += [""] * (5 - len(r))
    print(format_table(["encoder", "train tokens/s", "epoch", "inference tokens/s", "ratio"], rows))


if __name__ == "__main__":
    main()
