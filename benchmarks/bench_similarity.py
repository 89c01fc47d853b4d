"""Similarity query throughput (queries/s), our batched `VectorIndex` vs gensim one query at a time.

Ours: `VectorIndex.most_similar(list_of_words)` / `.analogies(...)`: the normalised matrix times a
block of queries, then `torch.topk`. Peer: what a gensim user writes for many queries, a loop over
``kv.most_similar(word)`` (or ``most_similar(positive=[b, c], negative=[a])`` and
``most_similar_cosmul``): gensim has no batched call, each query is a full pass over the matrix.
Both run on the same vectors with the same number of threads (1 by default: the machine is shared).
gensim answers a subset of the queries (``--gensim-queries``), since it is the slow side; its
queries/s come from that subset and the top-n lists are compared on it.

The vectors are random Gaussian by default (100k words x 300 dimensions: the size of a real
vocabulary; throughput does not depend on the values) or a trained set with ``--vectors``.

    .venv/bin/python benchmarks/bench_similarity.py [--vocab 100000] [--dim 300] [--queries 10000]
    .venv/bin/python benchmarks/bench_similarity.py --vectors latest   # the newest embed artifact
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from gensim.models import KeyedVectors
from threadpoolctl import threadpool_limits

from nlp_pipeline.embeddings.query import VectorIndex
from nlp_pipeline.reports.tables import format_table

TIE = 1e-5  # two scores this close are a tie at float32 precision: their order may differ


def load(args) -> tuple[KeyedVectors, str]:
    if args.vectors:
        from nlp_pipeline.embeddings import load_vectors
        from nlp_pipeline.pipelines.artifacts import resolve_vectors

        path = resolve_vectors(args.vectors)
        kv = load_vectors(path)
        return kv, f"trained vectors {path}"
    rng = np.random.default_rng(args.seed)
    kv = KeyedVectors(args.dim, count=0)
    kv.add_vectors([f"w{i}" for i in range(args.vocab)], rng.standard_normal((args.vocab, args.dim), dtype=np.float32))
    return kv, "random Gaussian vectors"


def compare(ours: list[list[tuple[str, float]]], theirs: list[list[tuple[str, float]]]) -> tuple[int, int, float]:
    """(lists that differ, of which only by the order or choice of near-tied words, max score difference)."""
    differ = ties = 0
    max_diff = 0.0
    for a, b in zip(ours, theirs, strict=False):
        max_diff = max([max_diff] + [abs(x[1] - y[1]) for x, y in zip(a, b, strict=True) if x[0] == y[0]])
        if [w for w, _ in a] == [w for w, _ in b]:
            continue
        differ += 1
        # A near-tie: every position holds a score within TIE of the other list's at that position.
        ties += all(abs(x[1] - y[1]) < TIE for x, y in zip(a, b, strict=True))
    return differ, ties, max_diff


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vocab", type=int, default=100_000, help="random vectors: vocabulary size")
    p.add_argument("--dim", type=int, default=300, help="random vectors: dimensions")
    p.add_argument("--vectors", help="a word2vec file, embed artifact key, pipeline name or 'latest' instead")
    p.add_argument("--queries", type=int, default=10_000, help="most_similar queries for ours")
    p.add_argument("--gensim-queries", type=int, default=1_000, help="the first N of them also through gensim")
    p.add_argument("--analogy-queries", type=int, default=2_000, help="analogy questions for ours (0 = none)")
    p.add_argument("--gensim-analogy-queries", type=int, default=200)
    p.add_argument("--topn", type=int, default=10)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=13)
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    with threadpool_limits(args.threads):
        kv, what = load(args)
        index, build_s = timed(VectorIndex.from_keyed_vectors, kv)
        kv.fill_norms()  # gensim's one-off setup, like our normalisation: not counted in queries/s
        rng = np.random.default_rng(args.seed)
        n = len(kv.index_to_key)
        words = [kv.index_to_key[i] for i in rng.integers(0, n, args.queries)]
        g = words[: args.gensim_queries]
        print(f"{what}: {n:,} words x {kv.vector_size} dims; {args.queries:,} queries "
              f"({len(g):,} through gensim), top {args.topn}, {args.threads} thread(s); "
              f"index built in {build_s:.2f}s")

        rows = []
        ours, ours_s = timed(index.most_similar, words, args.topn)
        _, single_s = timed(lambda: [index.most_similar(w, args.topn) for w in g])
        theirs, theirs_s = timed(lambda: [kv.most_similar(w, topn=args.topn) for w in g])
        differ, ties, max_diff = compare(ours[: len(g)], theirs)
        ours_qps, theirs_qps = len(words) / ours_s, len(g) / theirs_s
        rows.append(["most_similar", f"{ours_qps:,.0f}", f"{len(g) / single_s:,.0f}", f"{theirs_qps:,.0f}",
                     f"{ours_qps / theirs_qps:.1f}x", f"{len(g) - differ}/{len(g)}", ties, f"{max_diff:.1e}"])

        if args.analogy_queries:
            questions = [tuple(kv.index_to_key[i] for i in rng.choice(n, 3, replace=False))
                         for _ in range(args.analogy_queries)]
            gq = questions[: args.gensim_analogy_queries]
            peers = {
                "3cosadd": lambda a, b, c: kv.most_similar(positive=[b, c], negative=[a], topn=args.topn),
                "3cosmul": lambda a, b, c: kv.most_similar_cosmul(positive=[b, c], negative=[a], topn=args.topn),
            }
            for method, peer in peers.items():
                ours, ours_s = timed(index.analogies, questions, args.topn, method=method)
                _, single_s = timed(lambda m=method: [index.analogy(*q, args.topn, method=m) for q in gq])
                theirs, theirs_s = timed(lambda f=peer: [f(*q) for q in gq])
                differ, ties, max_diff = compare(ours[: len(gq)], theirs)
                ours_qps, theirs_qps = len(questions) / ours_s, len(gq) / theirs_s
                rows.append([f"analogy {method}", f"{ours_qps:,.0f}", f"{len(gq) / single_s:,.0f}",
                             f"{theirs_qps:,.0f}", f"{ours_qps / theirs_qps:.1f}x", f"{len(gq) - differ}/{len(gq)}",
                             ties, f"{max_diff:.1e}"])

    print(format_table(["query", "ours batched q/s", "ours one by one q/s", "gensim q/s", "batched vs gensim",
                        "identical top-n", "differ by near-ties", "max |score diff|"], rows))


if __name__ == "__main__":
    main()
