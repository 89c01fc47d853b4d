"""The ``nlp-pipeline`` command: parse options, call the library, print results.

Every command is a few lines over the public API. A `PipelineError` (bad file, bad option, missing
corpus) becomes one line on stderr and exit code 2; no traceback.
"""

from __future__ import annotations

import functools
import json
import sys

import click

from nlp_pipeline.errors import PipelineError

EXIT_USER_ERROR = 2


def user_errors(fn):
    """Turn project errors into ``error: <one line>`` and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PipelineError as err:
            click.echo(f"error: {err}", err=True)
            sys.exit(EXIT_USER_ERROR)
        except KeyboardInterrupt:
            click.echo("interrupted: no partial artifact was kept", err=True)
            sys.exit(130)

    return wrapper


def file_option(help: str, **kwargs):
    """``--file``/``-f``: a file to read ('-' = stdin)."""
    return click.option("--file", "-f", "file", type=click.Path(dir_okay=False, allow_dash=True), help=help, **kwargs)


def model_options(fn):
    """The options every command that runs a trained model shares: --cache-dir and --device."""
    fn = click.option("--device", metavar="auto|cpu|cuda|cuda:N", default="auto", show_default=True,
                      help="Where the model runs (auto: CUDA when present).")(fn)
    return click.option("--cache-dir", type=click.Path(file_okay=False))(fn)


def _log(quiet: bool):
    """Where a command's progress lines go: stderr, or nowhere with --quiet."""
    return (lambda msg: None) if quiet else (lambda msg: click.echo(msg, err=True))


def _load(cls, model: str, cache_dir: str | None, device: str, stage: str = "train"):
    """``cls.load`` (a predictor or language model) of the model MODEL names, on ``device``."""
    from nlp_pipeline.pipelines.artifacts import resolve_model

    return cls.load(resolve_model(model, cache_dir, stage=stage), device=device)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="nlp-pipeline")
def main() -> None:
    """From a raw text corpus to word2vec vectors and RNN/LSTM/BiLSTM models, one cached stage at a time."""


RUN_HELP = """Run a pipeline and print its results table.

PIPELINE is one of: {names} (default: sentiment), or a pipeline YAML file of your own:
`nlp-pipeline config init sentiment my.yaml` writes one with every setting commented, to edit, then
`nlp-pipeline run my.yaml`. `nlp-pipeline config show PIPELINE` lists the settings --set can change.
"""


def _run_help() -> str:
    from nlp_pipeline.config import pipeline_names

    return RUN_HELP.format(names=", ".join(pipeline_names()))


@main.command(help=_run_help())
@click.argument("pipeline", default="sentiment")
@click.option("--corpus", multiple=True, help="Corpus name (sst2, imdb, mr, …) or a path to your own labelled file "
              "or folder; for `run embeddings`, text sources (a corpus, corpus:split, files, folders, globs), "
              "repeatable.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config key, e.g. --set model.encoder=lstm (repeatable).")
@click.option("--grid", multiple=True, metavar="KEY=V1,V2",
              help="Run every combination, e.g. --grid model.encoder=rnn,lstm,bilstm (repeatable).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Folder mirroring the corpora (else "
              "$NLP_PIPELINE_DATA_DIR, then ../shared/corpora, then the user cache).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Artifact cache (default ~/.cache/nlp-pipeline).")
@click.option("--report-dir", type=click.Path(file_okay=False), help="Where report folders go (default: reports).")
@click.option("--device", metavar="auto|cpu|cuda|cuda:N",
              help="Training device (default auto: CUDA when present); checked before any stage runs.")
@click.option("--force", is_flag=True, help="Rebuild every stage even when cached.")
@click.option("--dry-run", is_flag=True, help="Say, for each stage, whether it is cached or to build, and which "
              "downloads the run needs; build and download nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON on stdout (logs go to stderr).")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or stage logs.")
@user_errors
def run(pipeline, corpus, overrides, grid, data_dir, cache_dir, report_dir, device, force, dry_run, as_json, quiet):
    from nlp_pipeline.config import corpus_key, pipeline_type, takes_several_corpora
    from nlp_pipeline.errors import ConfigError
    from nlp_pipeline.pipelines import run_pipeline

    sets = list(overrides)
    kind = pipeline_type(pipeline)
    # Paths are quoted (a JSON string is a YAML string) so "2024" or "a: b.tsv" stay strings.
    if corpus:
        takes_list = takes_several_corpora(kind)
        if len(corpus) > 1 and not takes_list:
            raise ConfigError(f"--corpus: the {kind} pipeline takes one corpus, got {len(corpus)}")
        sets.insert(0, f"{corpus_key(kind)}={json.dumps(list(corpus) if takes_list else corpus[0])}")
    if data_dir:
        sets.insert(0, f"data.data_dir={json.dumps(data_dir)}")
    if device:
        sets.append(f"runtime.device={json.dumps(device)}")
    if dry_run:
        from nlp_pipeline.pipelines.runner import dry_run as plan_run

        plans = plan_run(pipeline, sets, list(grid), cache_dir=cache_dir)
        text = json.dumps({"variants": plans}, indent=2) if as_json else "\n".join(_dry_run_lines(plans))
        click.echo(text)
        return
    log = _log(quiet)
    result = run_pipeline(pipeline, sets, list(grid), cache_dir=cache_dir, report_dir=report_dir,
                          force=force, progress=not quiet, log=log)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
        return
    click.echo("")
    click.echo(result.table())
    n_runs = sum(len(v.stage_runs) for v in result.variants)
    click.echo(f"\n{result.cache_hits}/{n_runs} stages from cache, {result.seconds:.1f}s in all")
    click.echo(f"report: {result.report_dir}")


@main.command()
@click.argument("model")
@click.argument("texts", nargs=-1)
@file_option("Predict every non-blank line of this file ('-' = stdin).")
@model_options
@click.option("--json", "as_json", is_flag=True, help="JSON lines output.")
@user_errors
def predict(model, texts, file, cache_dir, device, as_json):
    """Label TEXTS (or the lines of --file) with a trained classifier.

    MODEL is a model folder, a train-artifact key (prefix), or 'latest'.
    """
    from nlp_pipeline.device import resolve_device
    from nlp_pipeline.inference.classifier import Predictor

    device = resolve_device(device)  # once, before anything is read
    items = _text_inputs(texts, file)
    predictor = _load(Predictor, model, cache_dir, device)
    for pred in predictor.predict(items):
        if as_json:
            click.echo(json.dumps(pred, ensure_ascii=False))
        else:
            probs = "  ".join(f"{k}={v:.3f}" for k, v in pred["probabilities"].items())
            click.echo(f"{pred['label']}\t{probs}\t{pred['text']}")


@main.command()
@click.argument("model")
@click.argument("texts", nargs=-1)
@file_option("Tag every non-blank line of this file ('-' = stdin).")
@click.option("--tokenized", is_flag=True, help="Input is already tokenized: split on whitespace only.")
@click.option("--format", "fmt", type=click.Choice(["columns", "inline", "json"]), default="columns",
              show_default=True, help="columns: token<TAB>tag lines, a blank line between texts; inline: "
              "token/TAG ...; json: one JSON line per text.")
@model_options
@user_errors
def tag(model, texts, file, tokenized, fmt, cache_dir, device):
    """Tag each token of TEXTS (or the lines of --file) with a trained part-of-speech tagger.

    MODEL is a tagger folder, a train_tagger artifact key (prefix), or 'latest'.
    """
    from nlp_pipeline.device import resolve_device
    from nlp_pipeline.inference.tagger import TaggerPredictor

    device = resolve_device(device)  # once, before anything is read
    items = _text_inputs(texts, file)
    tagger = _load(TaggerPredictor, model, cache_dir, device, stage="train_tagger")
    if tokenized:
        token_lists = [line.split() for line in items]
        results = [{"text": t, "tokens": w, "tags": g}
                   for t, w, g in zip(items, token_lists, tagger.tag_tokens(token_lists))]
    else:
        results = tagger.tag(items)
    for n, result in enumerate(results):
        if fmt == "json":
            click.echo(json.dumps(result, ensure_ascii=False))
        elif fmt == "inline":
            click.echo(" ".join(f"{w}/{g}" for w, g in zip(result["tokens"], result["tags"])))
        else:
            click.echo(("\n" if n else "") + "\n".join(f"{w}\t{g}" for w, g in zip(result["tokens"], result["tags"])))


@main.command()
@click.argument("model")
@click.option("--prompt", "-p", default="",
              help="Text to continue (a backward model: the text's end, which it precedes).")
@click.option("--max-tokens", "-n", type=int, default=50, show_default=True, help="The most words to add.")
@click.option("--temperature", "-t", type=float, default=1.0, show_default=True,
              help="Below 1: safer words; 0: always the most likely word.")
@click.option("--top-k", type=int, default=0, show_default=True, help="Sample among the k most likely words; 0 = all.")
@click.option("--top-p", type=float, default=1.0, show_default=True,
              help="Sample among the fewest words holding this much probability (nucleus sampling).")
@click.option("--seed", type=int, help="Same seed, same text (default: a new one each time).")
@click.option("--samples", type=click.IntRange(min=1), default=1, show_default=True,
              help="How many texts (seeds seed, seed+1, ...).")
@model_options
@click.option("--json", "as_json", is_flag=True, help="JSON lines output.")
@user_errors
def generate(model, prompt, max_tokens, temperature, top_k, top_p, seed, samples, cache_dir, device, as_json):
    """Generate text with a trained language model.

    MODEL is a language-model folder, a train_lm artifact key (prefix), or 'latest'.
    """
    from nlp_pipeline.device import resolve_device
    from nlp_pipeline.inference.language_model import LanguageModel, check_sampling

    check_sampling(max_tokens, temperature, top_k, top_p)  # before the model is read
    lm = _load(LanguageModel, model, cache_dir, resolve_device(device), stage="train_lm")
    for i in range(samples):
        out = lm.generate(prompt, max_tokens=max_tokens, temperature=temperature, top_k=top_k, top_p=top_p,
                          seed=None if seed is None else seed + i)
        click.echo(json.dumps(out, ensure_ascii=False) if as_json else out["text"])


@main.command()
@click.argument("model")
@file_option("Text to score, one document a line, gzip too ('-' = stdin); streamed, any size.", required=True)
@model_options
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@user_errors
def perplexity(model, file, cache_dir, device, as_json):
    """Perplexity of a trained language model on the lines of --file.

    MODEL is a language-model folder, a train_lm artifact key (prefix), or 'latest'.
    """
    from pathlib import Path

    from nlp_pipeline.device import resolve_device
    from nlp_pipeline.errors import DataError
    from nlp_pipeline.inference.language_model import LanguageModel

    if file != "-" and not Path(file).is_file():  # before the model is read
        raise DataError("file not found", path=file)
    lm = _load(LanguageModel, model, cache_dir, resolve_device(device), stage="train_lm")
    result = lm.perplexity(line for _, line in _numbered_lines(file))
    if as_json:
        click.echo(json.dumps(result))
        return
    if not result["tokens"]:
        click.echo("no text to score (every line is blank)", err=True)
        return
    click.echo(f"perplexity {result['perplexity']:.2f} ({result['direction']}) over {result['tokens']:,} tokens "
               f"in {result['documents']:,} documents; {100 * result['unknown_rate']:.2f}% of the words unknown "
               "to the model")


def _dry_run_lines(plans: list[dict]) -> list[str]:
    lines = []
    for plan in plans:
        if len(plans) > 1:
            lines.append(f"── variant {plan['variant']}")
        lines += [f"needs a download first: {url}" for url in plan["downloads"]]
        for s in plan["stages"]:
            key = f"[{s['key'][:10]}]" if s["key"] else "[key after the download]"
            lines.append(f"{s['stage']:<16} {key:<24} {s['status']}")
    return lines


@main.command()
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Artifact cache (default ~/.cache/nlp-pipeline).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="A folder mirroring the corpora, as in `run`.")
@click.option("--json", "as_json", is_flag=True, help="Everything as one JSON object on stdout.")
@user_errors
def info(cache_dir, data_dir, as_json):
    """Versions, device and CUDA, the word2vec kernel, the cache and data folders, and which corpora
    are on this machine (nothing is built, downloaded or hashed)."""
    from nlp_pipeline.info import info_lines, system_info

    found = system_info(cache_dir, data_dir)
    click.echo(json.dumps(found, indent=2) if as_json else "\n".join(info_lines(found)))


@main.group()
def config() -> None:
    """Show a pipeline's settings, write a pipeline file to edit, or print its JSON Schema."""


@config.command("show")
@click.argument("pipeline")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a key, as in `run`.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per key on stdout.")
@user_errors
def config_show(pipeline, overrides, as_json):
    """Every setting of PIPELINE (a name or a YAML file) as `run` would use it: value, meaning, valid
    values, and whether it is in a stage's cache key."""
    from nlp_pipeline.config import describe, load_config

    rows = describe(load_config(pipeline, list(overrides)))
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    width = max(len(f"{r['key']}: {json.dumps(r['value'])}") for r in rows)
    for r in rows:
        valid = f" [{r['valid']}]" if r["valid"] else ""
        click.echo(f"{r['key']}: {json.dumps(r['value'])}".ljust(width + 2)
                   + f"# {r['description']}{valid} ({r['cache_key']})")


@config.command("init")
@click.argument("pipeline")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Start from these values.")
@click.option("--force", is_flag=True, help="Overwrite FILE if it exists.")
@user_errors
def config_init(pipeline, file, overrides, force):
    """Write PIPELINE's settings to FILE, one comment per key, to edit and run with `run FILE`."""
    from nlp_pipeline.config import write_pipeline_file

    path = write_pipeline_file(pipeline, file, list(overrides), overwrite=force)
    click.echo(f"wrote {path}: edit it, then `nlp-pipeline run {path}`")


@config.command("schema")
@click.argument("pipeline")
@user_errors
def config_schema(pipeline):
    """Print the JSON Schema of PIPELINE's files (for an editor's YAML language server)."""
    from nlp_pipeline.config import json_schema, pipeline_type

    click.echo(json.dumps(json_schema(pipeline_type(pipeline)), indent=2))


@main.group()
def cache() -> None:
    """Inspect or clear the artifact cache."""


@cache.command("ls")
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--stage", help="Only this stage.")
@user_errors
def cache_ls(cache_dir, stage):
    """List cached artifacts: stage, key, size, age, what they hold."""
    from nlp_pipeline.pipelines.artifacts import list_artifacts

    click.echo(list_artifacts(cache_dir, stage))


@cache.command("verify")
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--stage", help="Only this stage's artifacts.")
@user_errors
def cache_verify(cache_dir, stage):
    """Check every artifact's files against its manifest (sizes and sha256) and its upstream references.

    Exit code 0 when all are intact, 1 when any is damaged or inconsistent (each named on its own line).
    """
    from nlp_pipeline.pipelines.artifacts import verify_artifacts

    text, bad = verify_artifacts(cache_dir, stage)
    click.echo(text)
    if bad:
        sys.exit(1)


@cache.command("clear")
@click.option("--cache-dir", type=click.Path(file_okay=False))
@click.option("--stage", help="Only this stage's artifacts.")
@click.option("--yes", is_flag=True, help="Do not ask.")
@user_errors
def cache_clear(cache_dir, stage, yes):
    """Delete cached artifacts (all, or one stage's)."""
    from nlp_pipeline.engine import ArtifactCache

    store = ArtifactCache(cache_dir)
    what = f"the {stage} artifacts" if stage else "every artifact"
    if not yes and not click.confirm(f"Delete {what} under {store.artifacts_dir}?", default=False):
        return
    n = store.clear(stage)
    click.echo(f"removed {n} artifact(s) from {store.artifacts_dir}")


@main.command("corpora")
@click.option("--data-dir", type=click.Path(file_okay=False))
@user_errors
def corpora(data_dir):
    """List the defined corpora and where each one's files resolve."""
    import os

    from nlp_pipeline.data import list_corpora, load_spec, resolve_file
    from nlp_pipeline.errors import CorpusNotFoundError

    os.environ["NLP_PIPELINE_OFFLINE"] = "1"  # listing must not start downloads
    for name in list_corpora():
        spec = load_spec(name)
        click.echo(f"{name}: {spec.description}")
        for f in spec.files:
            try:
                where = str(resolve_file(spec, f.name, data_dir=data_dir))
            except CorpusNotFoundError:
                where = "not found locally (downloaded on first use)"
            click.echo(f"    {f.name}: {where}")


# ---------------------------------------------------------------------------------------------
# similarity queries on word vectors

VECTORS_HELP = ("Word vectors: a word2vec .txt/.vec/.bin file, an embed artifact folder or key prefix, a "
                "pipeline name, or 'latest' (default: the newest embed artifact).")
BATCH_HELP = "Batch mode: one query a line from this file ('-' = stdin); JSON lines out, one per query."


def vector_options(fn):
    """The options every vectors command shares: --vectors and --cache-dir."""
    fn = click.option("--cache-dir", type=click.Path(file_okay=False), help="Artifact cache to look in.")(fn)
    return click.option("--vectors", "-v", "vectors", metavar="REF", help=VECTORS_HELP)(fn)


def _open_index(vectors: str | None, cache_dir: str | None):
    from nlp_pipeline.embeddings.query import VectorIndex
    from nlp_pipeline.pipelines.artifacts import resolve_vectors

    return VectorIndex.load(resolve_vectors(vectors, cache_dir))


def _numbered_lines(file: str, *, keep_bad: bool = False):
    """`iter_input_lines` of a file, or of stdin for ``-`` (click's stream, so tests can feed it)."""
    from nlp_pipeline.data.readers import iter_input_lines

    return iter_input_lines(file, stdin=click.get_binary_stream("stdin"), keep_bad=keep_bad)


def _text_inputs(texts: tuple[str, ...], file: str | None) -> list[str]:
    """TEXT arguments plus the non-blank lines of --file (``-``: stdin); bytes that are not UTF-8 are an error."""
    from nlp_pipeline.errors import DataError

    items = []
    for n, text in enumerate(texts, start=1):
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # the shell passed bytes that are not UTF-8 (kept as surrogates)
            raise DataError(f"TEXT argument {n} is not valid UTF-8; pass UTF-8 text or use --file") from None
        items.append(text)
    if file:
        items += [line for _, line in _numbered_lines(file) if line.strip()]
    if not items:
        raise click.UsageError("give TEXTS or --file")
    return items


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
@click.option("--topn", "-n", type=click.IntRange(min=1), default=10, show_default=True)
@vector_options
@file_option(BATCH_HELP)
@click.option("--json", "as_json", is_flag=True, help="JSON lines output.")
@user_errors
def similar(words, topn, vectors, cache_dir, file, as_json):
    """The words nearest to each WORD by cosine similarity, with their scores."""
    _run_queries("similar", words, file, vectors, cache_dir, as_json, topn=topn)


@main.command()
@click.argument("words", nargs=-1, metavar="WORD1 WORD2")
@vector_options
@file_option(BATCH_HELP)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@user_errors
def similarity(words, vectors, cache_dir, file, as_json):
    """The cosine similarity of WORD1 and WORD2."""
    _run_queries("similarity", words, file, vectors, cache_dir, as_json)


@main.command()
@click.argument("words", nargs=-1, metavar="A B C")
@click.option("--topn", "-n", type=click.IntRange(min=1), default=10, show_default=True)
@click.option("--method", type=click.Choice(["3cosadd", "3cosmul"]), default="3cosadd", show_default=True,
              help="3CosAdd: cos(x, b - a + c); 3CosMul: Levy & Goldberg's multiplicative objective.")
@vector_options
@file_option(BATCH_HELP)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@user_errors
def analogy(words, topn, method, vectors, cache_dir, file, as_json):
    """A is to B as C is to ?: the best answers, with their scores (A, B and C are never answers)."""
    _run_queries("analogy", words, file, vectors, cache_dir, as_json, topn=topn, method=method)


@main.group()
def evaluate() -> None:
    """Evaluate trained artifacts."""


@evaluate.command("vectors")
@click.argument("vectors", required=False, metavar="[VECTORS]")
@click.option("--pairs", multiple=True, type=click.Path(dir_okay=False),
              help="Your word-similarity file: 'word1 word2 score' lines, TSV/CSV/spaces (repeatable).")
@click.option("--analogies", multiple=True, type=click.Path(dir_okay=False),
              help="Your analogy file in the Google questions-words.txt format (repeatable).")
@click.option("--no-standard", is_flag=True, help="Skip WordSim-353, SimLex-999 and the Google analogies.")
@click.option("--restrict-vocab", type=click.IntRange(min=1), default=30_000, show_default=True,
              help="Analogies search the N most frequent words.")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Artifact cache to look in.")
@click.option("--json", "as_json", is_flag=True, help="Print the scores as JSON.")
@user_errors
def evaluate_vectors_cmd(vectors, pairs, analogies, no_standard, restrict_vocab, cache_dir, as_json):
    """Score word vectors on WordSim-353, SimLex-999, the Google analogies and your own sets.

    VECTORS is a word2vec file, an embed artifact folder or key prefix, a pipeline name, or 'latest'
    (the default).
    """
    from nlp_pipeline.embeddings.eval_sets import evaluate_vectors
    from nlp_pipeline.reports.tables import format_table

    if no_standard and not pairs and not analogies:
        raise click.UsageError("--no-standard leaves nothing to evaluate: give --pairs or --analogies")
    index = _open_index(vectors, cache_dir)
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
        metric = "spearman" if r["kind"] == "pairs" else "accuracy"
        rows.append([name, metric, "n/a" if score is None else f"{score:.4f}", covered])
    click.echo(f"vectors: {index.source} ({len(index):,} words, {index.dim}d)\n")
    click.echo(format_table(["set", "metric", "score", "in vocabulary"], rows))


@main.group()
def export() -> None:
    """Export trained artifacts in formats other tools read."""


@export.command("vectors")
@click.argument("vectors", metavar="REF")
@click.option("--format", "fmt", required=True, type=click.Choice(["word2vec", "text", "glove", "projector"]),
              help="word2vec: binary; text: word2vec text with its 'N D' header; glove: text without a header; "
                   "projector: vectors.tsv + metadata.tsv for the TensorBoard Embedding Projector.")
@click.option("--out", "out", required=True, type=click.Path(), help="Output file (a folder for projector).")
@click.option("--limit", type=click.IntRange(min=1), help="Only the N most frequent words.")
@click.option("--force", is_flag=True, help="Overwrite existing output files.")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Artifact cache to look in.")
@user_errors
def export_vectors_cmd(vectors, fmt, out, limit, force, cache_dir):
    """Write the vectors REF names (a file, an embed artifact folder or key prefix, a pipeline name,
    'latest') as FORMAT."""
    from nlp_pipeline.embeddings.export import export_vectors
    from nlp_pipeline.embeddings.vectors_io import load_vectors
    from nlp_pipeline.pipelines.artifacts import resolve_vectors

    source = resolve_vectors(vectors, cache_dir)
    kv = load_vectors(source)
    written = export_vectors(kv, fmt, out, limit=limit, overwrite=force)
    n = min(len(kv), limit or len(kv))
    click.echo(f"{n:,} words x {kv.vector_size} dimensions -> " + ", ".join(str(p) for p in written))
    phrases = source / "phrases.json" if source.is_dir() else None
    if phrases is not None and phrases.is_file():
        click.echo(f"note: these vectors were trained on phrased text (new_york); the phrases are in {phrases}. "
                   "A file holds no phrases: give the artifact itself as embed.vectors to have them applied.",
                   err=True)


# ---------------------------------------------------------------------------------------------
# batch processing


@main.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--task", required=True, type=click.Choice(["tokenize", "sentiment", "tagging"]),
              help="tokenize: spaCy tokens; sentiment: label + probabilities (needs --model); tagging: POS tags.")
@click.option("--model", metavar="REF", help="Model folder, key prefix of a train (sentiment) or train_tagger "
              "(tagging) artifact, or 'latest'.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Output folder: one JSONL shard per input shard, errors.jsonl, summary.json.")
@click.option("--workers", type=click.IntRange(min=1), help="Parallel workers (default: the number of cores).")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local", show_default=True)
@click.option("--scheduler", metavar="ADDRESS", help="Dask scheduler, e.g. tcp://host:8786 (default: a LocalCluster).")
@click.option("--format", "input_format", type=click.Choice(["auto", "text", "jsonl", "csv"]), default="auto",
              show_default=True, help="Input format; auto: by suffix (.jsonl/.ndjson/.json, .csv/.tsv, else text).")
@click.option("--text-field", default="text", show_default=True, help="JSON lines: the field holding the text.")
@click.option("--id-field", help="JSON lines field or CSV column holding the record id (default: FILE:LINE).")
@click.option("--text-column", default=None, help="CSV/TSV: the column holding the text (default: the first of text, "
              "sentence, review, content, ... in the header).")
@click.option("--lowercase/--no-lowercase", default=None, help="tokenize: fold case (default: yes, as the pipelines).")
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True, help="Texts per model call.")
@click.option("--split-mb", type=click.IntRange(min=0), default=64, show_default=True,
              help="Cut uncompressed text/JSONL inputs larger than this into parts that workers share (0: never).")
@click.option("--device", metavar="auto|cpu|cuda|cuda:N", default="auto", show_default=True,
              help="Torch device of each worker (auto: CUDA where the worker has it).")
@click.option("--threads-per-worker", type=click.IntRange(min=0), default=1, show_default=True,
              help="Torch threads per worker (0: torch's default, every core).")
@click.option("--cache-dir", type=click.Path(file_okay=False), help="Artifact cache to look for --model in.")
@click.option("--strict", is_flag=True, help="Exit non-zero if any record or input was rejected.")
@click.option("--force", is_flag=True, help="Redo shards a previous run finished.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar.")
@user_errors
def process(inputs, task, model, out_dir, workers, engine, scheduler, input_format, text_field, id_field, text_column,
            lowercase, batch_size, split_mb, device, threads_per_worker, cache_dir, strict, force, as_json, quiet):
    """Run TASK over every document of INPUTS (files, folders, globs; text, JSONL, CSV, gzipped or not).

    Streams, uses every core, and resumes: rerun the same command after a crash and finished shards are
    skipped. Bad records go to OUT/errors.jsonl with their file and line; they fail the run only with --strict.
    """
    from nlp_pipeline.batch import RejectedRecordsError
    from nlp_pipeline.batch import process as run_process

    log = _log(quiet)
    try:
        summary = run_process(list(inputs), task, out_dir, model=model, workers=workers, engine=engine,
                              scheduler=scheduler, strict=strict, force=force, input_format=input_format,
                              text_field=text_field, id_field=id_field, text_column=text_column, lowercase=lowercase,
                              batch_size=batch_size, split_mb=split_mb, device=device,
                              threads_per_worker=threads_per_worker or None, cache_dir=cache_dir,
                              progress=not quiet, log=log)
    except RejectedRecordsError as err:
        click.echo("\n".join(err.summary.lines()), err=True)
        raise
    click.echo(json.dumps(summary.to_dict(), indent=2) if as_json else "\n".join(summary.lines()))


if __name__ == "__main__":  # pragma: no cover
    main()
