"""Queries on word vectors (`similar`, `similarity`, `analogy`) and `evaluate vectors`, `export vectors`."""

from __future__ import annotations

import json

import click

from nlp_pipeline.cli.common import (
    _numbered_lines,
    cache_dir_option,
    deprecated,
    evaluate,
    export,
    file_option,
    json_option,
    main,
    output_option,
    output_value,
    user_errors,
)

VECTORS_HELP = ("Word vectors: a word2vec .txt/.vec/.bin file, an embed artifact folder or key prefix, a "
                "pipeline name, or 'latest' (default: the newest embed artifact).")
BATCH_HELP = "Batch mode: one query a line from this file ('-' = stdin); JSON lines out, one per query."


def vector_options(fn):
    """The options every vectors command shares: --vectors and --cache-dir."""
    fn = cache_dir_option(fn)
    return click.option("--vectors", "-v", "vectors", metavar="REF", help=VECTORS_HELP)(fn)


def old_positional_vectors(fn):
    """The positional VECTORS of `evaluate vectors` / `export vectors` before 0.2 (now -v/--vectors, as in
    the queries): still accepted for one release, with a warning; not shown in the usage line."""
    return click.argument("old_vectors", required=False, metavar="", expose_value=True)(fn)


def vectors_value(vectors: str | None, old_vectors: str | None) -> str | None:
    if old_vectors is not None:
        deprecated("VECTORS as an argument", "-v/--vectors VECTORS")
        return vectors or old_vectors
    return vectors


def _open_index(vectors: str | None, cache_dir: str | None):
    from nlp_pipeline.embeddings.query import VectorIndex
    from nlp_pipeline.pipelines.artifacts import resolve_vectors

    return VectorIndex.load(resolve_vectors(vectors, cache_dir))


def _run_queries(kind: str, words: tuple[str, ...], file: str | None, vectors: str | None, cache_dir: str | None,
                 as_json: bool, topn: int = 10, method: str = "3cosadd") -> None:
    """Shared body of ``similar``, ``similarity`` and ``analogy``: argument queries or a batch file."""
    from nlp_pipeline.embeddings.query import QUERY_WORDS, answer_queries, query_record

    n = QUERY_WORDS[kind]
    if file is not None:
        if words:
            raise click.UsageError("give query words or --file, not both")
        index = _open_index(vectors, cache_dir)
        total = failed = 0
        for record in answer_queries(index, kind, _numbered_lines(file, keep_bad=True), topn=topn, method=method):
            total += 1
            failed += "error" in record
            click.echo(json.dumps(record, ensure_ascii=False))
        if failed:
            click.echo(f"warning: {failed} of {total} queries failed (their records hold an \"error\")", err=True)
        return
    if not words or (kind != "similar" and len(words) != n):
        raise click.UsageError(f"{kind} takes {'WORD...' if kind == 'similar' else f'{n} words'} or --file")
    index = _open_index(vectors, cache_dir)
    queries = [[w] for w in words] if kind == "similar" else [list(words)]
    records = [query_record(index, kind, q, topn=topn, method=method) for q in queries]  # all checked first
    for record in records:
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False))
        elif kind == "similarity":
            click.echo(f"{record['similarity']:.4f}")
        else:
            from nlp_pipeline.reports.tables import format_table

            if len(records) > 1 or kind == "analogy":
                title = record["query"] if kind == "similar" else "{} : {} :: {} : ?".format(*record["query"])
                click.echo(("\n" if record is not records[0] else "") + title)
            score = "cosine" if kind == "similar" else method
            click.echo(format_table(["word", score], [[r["word"], f"{r['score']:.4f}"] for r in record["results"]]))


@main.command()
@click.argument("words", nargs=-1)
@click.option("--topn", "-n", type=click.IntRange(min=1), default=10, help="How many answers.")
@vector_options
@file_option(BATCH_HELP)
@json_option("JSON lines output, one per query word.")
@user_errors
def similar(words, topn, vectors, cache_dir, file, as_json):
    """The words nearest to each WORD by cosine similarity, with their scores."""
    _run_queries("similar", words, file, vectors, cache_dir, as_json, topn=topn)


@main.command()
@click.argument("words", nargs=-1, metavar="WORD1 WORD2")
@vector_options
@file_option(BATCH_HELP)
@json_option()
@user_errors
def similarity(words, vectors, cache_dir, file, as_json):
    """The cosine similarity of WORD1 and WORD2."""
    _run_queries("similarity", words, file, vectors, cache_dir, as_json)


@main.command()
@click.argument("words", nargs=-1, metavar="A B C")
@click.option("--topn", "-n", type=click.IntRange(min=1), default=10, help="How many answers.")
@click.option("--method", type=click.Choice(["3cosadd", "3cosmul"]), default="3cosadd", show_default=True,
              help="3CosAdd: cos(x, b - a + c); 3CosMul: Levy & Goldberg's multiplicative objective.")
@vector_options
@file_option(BATCH_HELP)
@json_option()
@user_errors
def analogy(words, topn, method, vectors, cache_dir, file, as_json):
    """A is to B as C is to ?: the best answers, with their scores (A, B and C are never answers)."""
    _run_queries("analogy", words, file, vectors, cache_dir, as_json, topn=topn, method=method)


@evaluate.command("vectors")
@old_positional_vectors
@vector_options
@click.option("--pairs", multiple=True, type=click.Path(dir_okay=False),
              help="Your word-similarity file: 'word1 word2 score' lines, TSV/CSV/spaces (repeatable).")
@click.option("--analogies", multiple=True, type=click.Path(dir_okay=False),
              help="Your analogy file in the Google questions-words.txt format (repeatable).")
@click.option("--no-standard", is_flag=True, help="Skip WordSim-353, SimLex-999 and the Google analogies.")
@click.option("--restrict-vocab", type=click.IntRange(min=1), default=30_000, show_default=True,
              help="Analogies search the N most frequent words.")
@json_option()
@user_errors
def evaluate_vectors_cmd(old_vectors, vectors, cache_dir, pairs, analogies, no_standard, restrict_vocab, as_json):
    """Score word vectors on WordSim-353, SimLex-999, the Google analogies and your own sets."""
    from nlp_pipeline.embeddings.eval_sets import evaluate_vectors
    from nlp_pipeline.reports.tables import format_table, percent

    if no_standard and not pairs and not analogies:
        raise click.UsageError("--no-standard leaves nothing to evaluate: give --pairs or --analogies")
    index = _open_index(vectors_value(vectors, old_vectors), cache_dir)
    results = evaluate_vectors(index, pairs, analogies, standard=not no_standard, restrict_vocab=restrict_vocab)
    if as_json:
        click.echo(json.dumps({"vectors": index.source, "vocab_size": len(index), "dim": index.dim,
                               "results": results}, indent=2))
        return
    rows = []
    for name, r in results.items():
        if r["kind"] == "pairs":
            score, covered = r["spearman"], f"{r['pairs_in_vocab']:,}/{r['pairs']:,} pairs"
        else:
            score, covered = r["accuracy"], f"{r['questions_answered']:,}/{r['questions']:,} questions"
        metric = "spearman" if r["kind"] == "pairs" else "accuracy %"
        shown = "n/a" if score is None else f"{score:.4f}" if r["kind"] == "pairs" else percent(score)
        rows.append([name, metric, shown, covered])
    click.echo(f"vectors: {index.source} ({len(index):,} words, {index.dim}d)\n")
    click.echo(format_table(["set", "metric", "score", "in vocabulary"], rows))


@export.command("vectors")
@old_positional_vectors
@vector_options
@click.option("--format", "fmt", required=True, type=click.Choice(["word2vec", "text", "glove", "projector"]),
              help="word2vec: binary; text: word2vec text with its 'N D' header; glove: text without a header; "
                   "projector: vectors.tsv + metadata.tsv for the TensorBoard Embedding Projector.")
@output_option("Output file (a folder for projector).", deprecated="--out")
@click.option("--limit", type=click.IntRange(min=1), help="Only the N most frequent words (default: all).")
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@json_option()
@user_errors
def export_vectors_cmd(old_vectors, vectors, cache_dir, fmt, output, deprecated_output, limit, force, as_json):
    """Write the vectors -v names (a file, an embed artifact folder or key prefix, a pipeline name,
    'latest') as FORMAT."""
    from nlp_pipeline.embeddings.export import export_vectors
    from nlp_pipeline.embeddings.vectors_io import load_vectors
    from nlp_pipeline.pipelines.artifacts import resolve_vectors

    output = output_value(output, deprecated_output)
    source = resolve_vectors(vectors_value(vectors, old_vectors), cache_dir)
    kv = load_vectors(source)
    written = export_vectors(kv, fmt, output, limit=limit, overwrite=force)
    n = min(len(kv), limit or len(kv))
    phrases = source / "phrases.json" if source.is_dir() else None
    if phrases is not None and phrases.is_file():
        click.echo(f"note: these vectors were trained on phrased text (new_york); the phrases are in {phrases}. "
                   "A file holds no phrases: give the artifact itself as embed.vectors to have them applied.",
                   err=True)
    if as_json:
        click.echo(json.dumps({"vectors": str(source), "words": n, "dim": kv.vector_size, "format": fmt,
                               "files": [str(p) for p in written]}, indent=2))
        return
    click.echo(f"{n:,} words x {kv.vector_size} dimensions -> " + ", ".join(str(p) for p in written))
