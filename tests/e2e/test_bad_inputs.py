"""The table of bad inputs tried, per command: each one line naming the file and line (or the key), exit 2.

Every row runs the real CLI on the input it names. The rule under test: a user-caused error is one
line (``error: …``, at most a few hundred characters whatever it quotes), exit code 2, no traceback,
and no artifact is left for it. Rows that are not errors (a bad record in a batch is reported and
the batch goes on) are the tests after the table.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlp_pipeline.cli import main

ROWS = "".join(f"{'a fine film' if i % 2 else 'a dull film'} number {i}\t{'pos' if i % 2 else 'neg'}\n"
               for i in range(40))
GOOD_TSV = ("text\tlabel\n" + ROWS).encode()
RANDOM = ["--set", "model.embedding_mode=random", "--set", "model.hidden_size=8", "--set", "train.epochs=1",
          "--set", "runtime.threads=1"]
CONLLU_OK = "1\tThe\tthe\tDET\tDT\t_\t0\troot\t_\t_\n2\tcat\tcat\tNOUN\tNN\t_\t1\tdep\t_\t_\n\n"
VECTORS = b"3 2\nking 1 0\nqueen 0.9 0.1\nman 0 1\n"


@dataclass(frozen=True)
class Case:
    command: str  # what is tried, e.g. "run sentiment"
    what: str  # the bad input, in words
    args: tuple[str, ...]  # {d} is the test's folder
    expect: tuple[str, ...]  # substrings of the one error line
    files: dict[str, bytes] = field(default_factory=dict)
    stdin: bytes | None = None


def run(what, args, expect, files=None, pipeline="sentiment"):
    return Case(f"run {pipeline}", what, ("run", pipeline, *args, "--cache-dir", "{d}/cache", "--report-dir",
                                          "{d}/reports", "-q"), expect, files or {})


def conllu(*rows: str) -> bytes:
    return ("".join(rows)).encode()


CASES = [
    # -- run: settings ---------------------------------------------------------------------------------
    run("unknown key", ["--set", "model.encodr=lstm"], ("unknown key 'model.encodr'",)),
    run("key without a section", ["--set", "epochs=3"], ("use SECTION.KEY",)),
    run("override without =", ["--set", "model.encoder"], ("expected KEY=VALUE",)),
    run("not an integer", ["--set", "train.epochs=zero"], ("train.epochs='zero' must be an integer",)),
    run("not a choice", ["--set", "model.encoder=transformer"], ("model.encoder='transformer'", "choose one of")),
    run("negative learning rate", ["--set", "embed.alpha=-5"], ("embed.alpha=-5 is out of range", "(0, 1]")),
    run("negative negatives", ["--set", "embed.negative=-1"], ("embed.negative=-1 is out of range",)),
    run("negative subsampling", ["--set", "embed.sample=-1"], ("embed.sample=-1 is out of range",)),
    run("zero window", ["--set", "embed.window=0"], ("embed.window=0 is out of range",)),
    run("min_alpha above alpha", ["--set", "embed.min_alpha=0.5"], ("embed.min_alpha=0.5 is above embed.alpha",)),
    run("zero lr", ["--set", "train.lr=0"], ("train.lr=0 is out of range", "> 0")),
    run("NaN lr", ["--set", "train.lr=.nan"], ("train.lr=nan must be a finite number",)),
    run("dropout 1", ["--set", "model.dropout=1.0"], ("model.dropout=1 is out of range", "[0, 1)")),
    run("dev fraction 1", ["--set", "data.dev_fraction=1"], ("data.dev_fraction",)),
    run("zero epochs", ["--set", "train.epochs=0"], ("train.epochs=0 is out of range",)),
    run("negative seed", ["--set", "train.seed=-1"], ("train.seed=-1 is out of range",)),
    run("negative threads", ["--set", "runtime.threads=-2"], ("runtime.threads=-2 is out of range",)),
    run("lr decay 0", ["--set", "train.lr_decay=0"], ("train.lr_decay=0 is out of range",), pipeline="tagging"),
    run("no text sources", ["--set", "data.text=[]"], ("data.text is empty",)),
    run("one declared label", ["--set", "data.labels=[pos]"], ("data.labels=['pos'] must list at least two",)),
    run("grid without values", ["--grid", "model.encoder="], ("--grid model.encoder=: no values",)),
    run("grid with an empty value", ["--grid", "model.encoder=rnn,,lstm"], ("an empty value",)),
    run("grid value twice", ["--grid", "model.encoder=rnn,rnn"], ("listed twice",)),
    run("grid on an unknown key", ["--grid", "model.encodr=rnn,lstm"], ("unknown key 'model.encodr'",)),
    run("unknown device", ["--device", "tpu"], ("unknown device 'tpu'",)),
    run("unknown corpus", ["--corpus", "no_such_corpus_or_file"], ("no_such_corpus_or_file",)),
    Case("run", "unknown pipeline", ("run", "nosuch"), ("unknown pipeline 'nosuch'",)),
    # -- run sentiment: the labelled file --------------------------------------------------------------
    run("missing file", ["--corpus", "{d}/missing.tsv", *RANDOM], ("missing.tsv",)),
    run("empty file", ["--corpus", "{d}/f.tsv", *RANDOM], ("f.tsv", "empty"), {"f.tsv": b""}),
    run("binary file", ["--corpus", "{d}/f.tsv", *RANDOM], ("f.tsv", "binary"), {"f.tsv": b"text\tlabel\n\x00\x01"}),
    run("latin-1 byte", ["--corpus", "{d}/f.tsv", *RANDOM], ("f.tsv:42:", "not valid utf-8"),
        {"f.tsv": GOOD_TSV + b"caf\xe9\tpos\n"}),
    run("no label column", ["--corpus", "{d}/f.tsv", *RANDOM], ("f.tsv:1:", "no label column"),
        {"f.tsv": b"text\tscore\ngood\t1\n"}),
    run("row without a label", ["--corpus", "{d}/f.tsv", *RANDOM], ("f.tsv:42:", "row without a label"),
        {"f.tsv": GOOD_TSV + b"no label here\n"}),
    run("empty text", ["--corpus", "{d}/f.tsv", *RANDOM], ("f.tsv:42:", "empty text"),
        {"f.tsv": GOOD_TSV + b" \tpos\n"}),
    run("stray labels", ["--corpus", "{d}/f.tsv", *RANDOM], ("f.tsv:42:", "'Positive' occurs only 1 time",
                                                                  "data.min_label_count=3"),
        {"f.tsv": GOOD_TSV + b"great\tPositive\nhmm\tmaybe\n"}),
    run("label outside data.labels", ["--corpus", "{d}/f.tsv", "--set", "data.labels=[neg,pos]", *RANDOM],
        ("f.tsv:43:", "unknown label 'maybe'", "data.labels: neg, pos"),
        {"f.tsv": GOOD_TSV + b"great\tpos\nhmm\tmaybe\n"}),
    run("declared label never seen", ["--corpus", "{d}/f.tsv", "--set", "data.labels=[neg,pos,neutral]", *RANDOM],
        ("'neutral' never occurs",), {"f.tsv": GOOD_TSV}),
    run("one label only", ["--corpus", "{d}/f.tsv", "--set", "data.min_label_count=1", *RANDOM], ("only one label",),
        {"f.tsv": b"text\tlabel\n" + b"".join(b"film %d\tpos\n" % i for i in range(20))}),
    run("malformed CSV", ["--corpus", "{d}/f.csv", *RANDOM], ("f.csv", "malformed CSV"),
        {"f.csv": b'text,label\n"unclosed,pos\n' + b"x" * 200_000 + b"\n"}),
    run("fastText with two labels", ["--corpus", "{d}/f.txt", *RANDOM], ("f.txt:2:", "more than one label"),
        {"f.txt": b"__label__pos good\n__label__neg __label__pos both\n"}),
    run("corrupt gzip", ["--corpus", "{d}/f.tsv.gz", *RANDOM], ("f.tsv.gz", "cannot read"),
        {"f.tsv.gz": b"\x1f\x8b\x08\x00garbage"}),
    run("a 5 MB label", ["--corpus", "{d}/f.tsv", *RANDOM], ("f.tsv:42:", "characters"),
        {"f.tsv": GOOD_TSV + b"text\t" + b"x" * 5_000_000 + b"\n"}),
    run("dev label unseen in train", ["--corpus", "{d}/data", *RANDOM], ("dev.tsv:3:", "'neutral'"),
        {"data/train.tsv": GOOD_TSV, "data/dev.tsv": b"text\tlabel\na fine film\tpos\nwhat\tneutral\n"}),
    run("min_count above every count",
        ["--corpus", "pang_lee_polarity", "--set", "data.text=[pang_lee_polarity:train]",
         "--set", "embed.min_count=100000", "--set", "runtime.threads=1"],
        ("no word occurs 100,000 times in the pretraining text", "most frequent word", "lower embed.min_count")),
    # -- run tagging: the treebank ---------------------------------------------------------------------
    run("UPOS '_'", ["--corpus", "{d}/tb", *RANDOM], ("train.conllu:5:", "word 2 ('cat') has no UPOS tag"),
        {"tb/train.conllu": conllu(CONLLU_OK, "1\tA\ta\tDET\tDT\t_\t0\troot\t_\t_\n",
                                   "2\tcat\tcat\t_\tNN\t_\t1\tdep\t_\t_\n"),
         "tb/dev.conllu": conllu(CONLLU_OK)}, pipeline="tagging"),
    run("XPOS empty with data.tagset=xpos", ["--corpus", "{d}/tb", "--set", "data.tagset=xpos", *RANDOM],
        ("dev.conllu:2:", "no XPOS tag", "data.tagset=upos"),
        {"tb/train.conllu": conllu(CONLLU_OK),
         "tb/dev.conllu": conllu("1\tThe\tthe\tDET\tDT\t_\t0\troot\t_\t_\n2\tdog\tdog\tNOUN\t\t_\t1\tdep\t_\t_\n")},
        pipeline="tagging"),
    run("9 columns", ["--corpus", "{d}/t.conllu", *RANDOM], ("t.conllu:1:", "expected 10 tab-separated columns"),
        {"t.conllu": b"1\tThe\tthe\tDET\tDT\t_\t0\troot\t_\n"}, pipeline="tagging"),
    run("bad token ID", ["--corpus", "{d}/t.conllu", *RANDOM], ("t.conllu:1:", "bad token ID 'x1'"),
        {"t.conllu": b"x1\tThe\tthe\tDET\tDT\t_\t0\troot\t_\t_\n"}, pipeline="tagging"),
    run("only comments", ["--corpus", "{d}/t.conllu", *RANDOM], ("t.conllu", "no sentences"),
        {"t.conllu": b"# sent_id = 1\n# text = nothing\n"}, pipeline="tagging"),
    run("file naming no split", ["--corpus", "{d}/tb", *RANDOM], ("cannot tell the split of extra.conllu",),
        {"tb/train.conllu": conllu(CONLLU_OK), "tb/extra.conllu": conllu(CONLLU_OK)}, pipeline="tagging"),
    run("no train file", ["--corpus", "{d}/tb", *RANDOM], ("no train CoNLL-U file",),
        {"tb/dev.conllu": conllu(CONLLU_OK)}, pipeline="tagging"),
    # -- predict / tag ---------------------------------------------------------------------------------
    Case("predict", "no model in the cache", ("predict", "latest", "text", "--cache-dir", "{d}/cache"),
         ("no trained model in the cache",)),
    Case("predict", "not a model folder", ("predict", "{d}/nomodel", "text"), ("nomodel",)),
    Case("predict", "unknown key", ("predict", "abc123", "text", "--cache-dir", "{d}/cache"),
         ("'abc123' is neither a model folder nor the key",)),
    Case("predict", "TEXT not UTF-8", ("predict", "latest", "caf\udce9", "--cache-dir", "{d}/cache"),
         ("TEXT argument 1 is not valid UTF-8",)),
    Case("predict", "--file missing", ("predict", "latest", "--file", "{d}/none.txt", "--cache-dir", "{d}/cache"),
         ("none.txt", "not found")),
    Case("predict", "--file - not UTF-8", ("predict", "latest", "--file", "-", "--cache-dir", "{d}/cache"),
         ("<stdin>:2:", "not valid UTF-8"), stdin=b"fine\n\xff\n"),
    Case("predict", "unknown device", ("predict", "latest", "text", "--device", "tpu", "--cache-dir", "{d}/cache"),
         ("unknown device 'tpu'",)),
    Case("tag", "no tagger in the cache", ("tag", "latest", "text", "--cache-dir", "{d}/cache"), ("no tagger",)),
    Case("tag", "TEXT not UTF-8", ("tag", "latest", "\udcff", "--cache-dir", "{d}/cache"),
         ("TEXT argument 1 is not valid UTF-8",)),
    Case("tag", "--file a corrupt gzip", ("tag", "latest", "--file", "{d}/t.txt.gz", "--cache-dir", "{d}/cache"),
         ("t.txt.gz", "cannot read"), {"t.txt.gz": b"\x1f\x8b\x08\x00garbage"}),
    Case("similar", "-f a corrupt gzip", ("similar", "-f", "{d}/q.txt.gz", "-v", "{d}/v.txt"),
         ("q.txt.gz", "cannot read"), {"q.txt.gz": b"\x1f\x8b\x08\x00garbage", "v.txt": VECTORS}),
    Case("tag", "--file binary", ("tag", "latest", "--file", "{d}/b.txt", "--cache-dir", "{d}/cache"),
         ("b.txt", "binary"), {"b.txt": b"\x00\x01\x02"}),
    # -- vector queries --------------------------------------------------------------------------------
    Case("similar", "unknown word", ("similar", "kinng", "-v", "{d}/v.txt"), ("'kinng' is not in the vocabulary",
                                                                             "did you mean: king"), {"v.txt": VECTORS}),
    Case("similar", "a 5 MB word", ("similar", "k" * 5_000_000, "-v", "{d}/v.txt"), ("characters",),
         {"v.txt": VECTORS}),
    Case("similar", "vectors file missing", ("similar", "king", "-v", "{d}/none.vec"), ("none.vec", "not found")),
    Case("similar", "row with fewer values", ("similar", "king", "-v", "{d}/v.txt"),
         ("v.txt:3:", "expected 2 values, got 1"), {"v.txt": b"3 2\nking 1 0\nqueen 1\nman 0 1\n"}),
    Case("similar", "a value that is not a number", ("similar", "king", "-v", "{d}/v.txt"),
         ("v.txt:2:", "'x' is not a number"), {"v.txt": b"2 2\nking 1 x\nqueen 1 0\n"}),
    Case("similar", "header promising more rows", ("similar", "king", "-v", "{d}/v.txt"),
         ("v.txt", "header says 300 words, the file has 3"), {"v.txt": b"300 2\nking 1 0\nqueen 1 0\nman 0 1\n"}),
    Case("similar", "NaN in GloVe text", ("similar", "king", "-v", "{d}/g.txt"), ("g.txt:2:", "NaN or infinite"),
         {"g.txt": b"king 1 0\nqueen nan 0\n"}),
    Case("similar", "infinity", ("similar", "king", "-v", "{d}/g.txt"), ("g.txt:1:", "NaN or infinite"),
         {"g.txt": b"king inf 0\nqueen 1 0\n"}),
    Case("similar", "a word twice", ("similar", "king", "-v", "{d}/g.txt"), ("g.txt:3:", "'king' appears twice"),
         {"g.txt": b"king 1 0\nqueen 1 0\nking 0 1\n"}),
    Case("similar", "empty vectors file", ("similar", "king", "-v", "{d}/e.txt"), ("e.txt", "empty"),
         {"e.txt": b""}),
    Case("similar", "truncated binary", ("similar", "king", "-v", "{d}/v.bin"), ("v.bin", "word2vec binary"),
         {"v.bin": b"3 2\nking \x00\x00\x80"}),
    Case("similar", "gzip text vectors, bad row", ("similar", "king", "-v", "{d}/v.txt.gz"),
         ("v.txt.gz:2:", "expected 2 values, got 3"), {"v.txt.gz": gzip.compress(b"2 2\nking 1 0 0\nq 1 0\n")}),
    Case("similar", "no vectors at all", ("similar", "king", "--cache-dir", "{d}/cache"), ("no embed artifact",)),
    Case("similarity", "one word", ("similarity", "king", "-v", "{d}/v.txt"), ("takes 2 words",),
         {"v.txt": VECTORS}),
    Case("analogy", "two words", ("analogy", "man", "king", "-v", "{d}/v.txt"), ("takes 3 words",),
         {"v.txt": VECTORS}),
    Case("similar", "-f missing", ("similar", "-f", "{d}/q.txt", "-v", "{d}/v.txt"), ("q.txt", "not found"),
         {"v.txt": VECTORS}),
    Case("evaluate vectors", "--pairs missing", ("evaluate", "vectors", "-v", "{d}/v.txt", "--pairs", "{d}/p.txt"),
         ("p.txt",), {"v.txt": VECTORS}),
    Case("evaluate vectors", "--pairs row without a score",
         ("evaluate", "vectors", "-v", "{d}/v.txt", "--pairs", "{d}/p.txt", "--no-standard"), ("p.txt:2:",),
         {"v.txt": VECTORS, "p.txt": b"king queen 9\nking man\n"}),
    # -- process ---------------------------------------------------------------------------------------
    Case("process", "glob matching nothing", ("process", "tokenize", "{d}/*.nothing", "-o", "{d}/o"),
         ("no file matches",)),
    Case("process", "latest with no model in the cache",
         ("process", "latest", "{d}/t.txt", "-o", "{d}/o", "--cache-dir", "{d}/cache"),
         ("no classifier or tagger in the cache",), {"t.txt": b"a text\n"}),
    Case("process", "tokenize with a model task",
         ("process", "tokenize", "{d}/t.txt", "--task", "sentiment", "-o", "{d}/o"),
         ("MODEL tokenize runs the tokenize task",), {"t.txt": b"a text\n"}),
    # -- run embeddings: your text ------------------------------------------------------------------------
    run("JSON lines: a line that is not JSON", ["--corpus", "{d}/posts.jsonl"], ("posts.jsonl:2", "not valid JSON"),
        {"posts.jsonl": b'{"text": "a good film"}\n{"text": "a bad\n'}, pipeline="embeddings"),
    run("JSON lines: no such field", ["--corpus", "{d}/posts.jsonl", "--set", "data.text_field=body"],
        ("posts.jsonl:1", "no 'body' field", "'text'"), {"posts.jsonl": b'{"text": "a good film"}\n'},
        pipeline="embeddings"),
    run("JSON lines: a number as text", ["--corpus", "{d}/p.jsonl.gz"], ("p.jsonl.gz:1", "is int, not a string"),
        {"p.jsonl.gz": gzip.compress(b'{"text": 5}\n')}, pipeline="embeddings"),
    run("CSV without a text column", ["--corpus", "{d}/p.csv"], ("p.csv:1", "no text column", "'title'"),
        {"p.csv": b"id,title\n1,a film\n"}, pipeline="embeddings"),
    run("CSV: a row with a field too many", ["--corpus", "{d}/p.csv"], ("p.csv:3", "expected 2", "found 3"),
        {"p.csv": b"id,text\n1,a film\n2,a,film\n"}, pipeline="embeddings"),
    run("a glob that matches nothing", ["--corpus", "{d}/nothing/*.txt"], ("no file matches",),
        pipeline="embeddings"),
    run("a folder without text files", ["--corpus", "{d}/pics"], ("pics", "folder has no text files"),
        {"pics/a.png": b"\x89PNG"}, pipeline="embeddings"),
    run("no corpus at all", ["--set", "data.text=[]"], ("data.text is empty",), pipeline="embeddings"),
    run("npmi threshold above 1", ["--set", "phrases.passes=1", "--set", "phrases.scoring=npmi"],
        ("phrases.threshold=10", "npmi", "[-1, 1]"), pipeline="embeddings"),
    run("three phrase passes", ["--set", "phrases.passes=3"], ("phrases.passes=3 is out of range",),
        pipeline="embeddings"),
    run("a pairs file that is not there", ["--corpus", "{d}/t.txt", "--set", "evaluate.pairs=[{d}/nope.tsv]"],
        ("evaluate.pairs: file not found", "nope.tsv"), {"t.txt": b"a good film\n"}, pipeline="embeddings"),
    run("a pairs line without a score (before any stage)", ["--corpus", "{d}/t.txt", "--set",
                                                            "evaluate.pairs=[{d}/p.tsv]"],
        ("p.tsv:2", "expected 'word1 word2 score'"), {"t.txt": b"a good film\n",
                                                      "p.tsv": b"good film 3\ngood film\n"}, pipeline="embeddings"),
    run("an analogy line with three words", ["--corpus", "{d}/t.txt", "--set", "evaluate.analogies=[{d}/a.txt]"],
        ("a.txt:2",), {"t.txt": b"a good film\n", "a.txt": b": s\na b c\n"}, pipeline="embeddings"),
    # -- run lm, generate, perplexity ------------------------------------------------------------------
    run("tied weights with an adaptive softmax", ["--set", "lm.tie_weights=true"],
        ("lm.tie_weights=true needs lm.output=full",), pipeline="lm"),
    run("decreasing cutoffs", ["--set", "lm.cutoffs=[10000, 2000]"], ("lm.cutoffs=[10000, 2000]", "increasing"),
        pipeline="lm"),
    run("zero bptt", ["--set", "lm.bptt=0"], ("lm.bptt=0 is out of range",), pipeline="lm"),
    run("everything held out", ["--set", "data.heldout_fraction=1"], ("data.heldout_fraction=1 is out of range",),
        pipeline="lm"),
    run("a one-document text", ["--corpus", "{d}/t.txt", "--set", "runtime.threads=1"],
        ("1 document(s)", "at least two"), {"t.txt": b"a good film\n"}, pipeline="lm"),
    Case("generate", "no language model in the cache", ("generate", "latest", "--cache-dir", "{d}/cache"),
         ("no language model in the cache",)),
    Case("generate", "a classifier folder", ("generate", "{d}/clf"), ("clf/config.json", "not a language model"),
         {"clf/config.json": b'{"format": "nlp-pipeline-classifier", "model": {}}'}),
    Case("generate", "negative temperature", ("generate", "latest", "--temperature", "-1"), ("--temperature",)),
    Case("generate", "top-p 0", ("generate", "latest", "--top-p", "0"), ("--top-p: must be in (0, 1]",)),
    Case("perplexity", "--file missing", ("perplexity", "latest", "--file", "{d}/none.txt", "--cache-dir",
                                          "{d}/cache"), ("none.txt",)),
    run("two corpora for sentiment", ["--corpus", "mr", "--corpus", "sst2"], ("takes one corpus, got 2",)),
    Case("process", "--model a folder that holds no model",
         ("process", "{d}/empty", "{d}/t.txt", "--task", "sentiment", "-o", "{d}/o"),
         ("empty/config.json", "model config file not found"), {"t.txt": b"a text\n", "empty/x": b""}),
    Case("process", "unknown device", ("process", "tokenize", "{d}/t.txt", "--device", "tpu", "-o",
                                       "{d}/o"), ("unknown device 'tpu'",), {"t.txt": b"a text\n"}),
]


def _invoke(case: Case, folder: Path):
    for name, data in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    args = [a.replace("{d}", str(folder)) for a in case.args]
    return CliRunner().invoke(main, args, input=case.stdin)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.command}: {c.what}" for c in CASES])
def test_bad_input_is_one_line_naming_it_and_exit_2(tmp_path, case):
    result = _invoke(case, tmp_path)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    err = result.stderr.strip()
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(("error: ", "Usage:")) or "Error:" in err, err
    if lines[0].startswith("error: "):
        assert len(lines[0]) <= 500, f"{len(lines[0])} characters"
    for text in case.expect:
        assert text in err, err
    cache = tmp_path / "cache" / "artifacts"
    assert not list(cache.rglob(".tmp-*")) if cache.exists() else True  # nothing half-written left behind


def test_the_table_covers_every_command():
    commands = {c.command.split()[0] for c in CASES}
    assert {"run", "predict", "tag", "similar", "similarity", "analogy", "evaluate", "process", "generate",
            "perplexity"} <= commands


# -- not errors: what a bad input turns into instead -----------------------------------------------------


def test_a_labelled_file_as_a_text_source_gives_its_text_only_and_is_held_out(tmp_path):
    data = tmp_path / "reviews.tsv"
    data.write_bytes(GOOD_TSV)
    result = CliRunner().invoke(main, [
        "run", "sentiment", "--corpus", "pang_lee_polarity", "--set", f"data.text=[{data}]",
        "--set", "embed.min_count=1", "--set", "embed.vector_size=8", "--set", "embed.epochs=1",
        "--set", "runtime.threads=1", "--set", "model.hidden_size=8", "--set", "train.epochs=1",
        "--cache-dir", str(tmp_path / "cache"), "--report-dir", str(tmp_path / "reports"), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout[result.stdout.index("{"):])
    runs = {r["stage"]: r for r in out["variants"][0]["stage_runs"]}
    text = (Path(runs["pretrain_text"]["path"]) / "corpus.txt").read_text().splitlines()
    assert not any(line in ("text label", "text\tlabel") or line.endswith((" pos", " neg")) for line in text)
    stats = json.loads((Path(runs["pretrain_text"]["path"]) / "manifest.json").read_text())["metadata"]
    held = stats["sources"][f"user:{data.name}"]
    assert held["dropped_evaluation_duplicates"] == 8  # its carved dev and test (10% each of 40 rows)
    assert held["documents"] == 32
    assert f"user:{data.name}" in stats["dedup_against"]


def test_a_vocabulary_without_evaluation_words_reports_scores_as_unavailable(tmp_path):
    corpus = tmp_path / "words.txt"
    corpus.write_text("".join("zorp blick quuz frab\n" for _ in range(50)))
    result = CliRunner().invoke(main, [
        "run", "sentiment", "--corpus", "pang_lee_polarity", "--set", f"data.text=[{corpus}]",
        "--set", "embed.min_count=1", "--set", "embed.vector_size=8", "--set", "embed.epochs=1",
        "--set", "runtime.threads=1", "--set", "model.hidden_size=8", "--set", "train.epochs=1",
        "--cache-dir", str(tmp_path / "cache"), "--report-dir", str(tmp_path / "reports")])
    assert result.exit_code == 0, result.output
    assert "wordsim353: unavailable (no wordsim353 pair has both words" in result.stderr
    assert "WS353 n/a" in result.stderr


def test_an_error_in_a_grid_leaves_latest_on_the_last_complete_report(tmp_path):
    reports = tmp_path / "reports"
    ok = CliRunner().invoke(main, ["run", "sentiment", "--corpus", "pang_lee_polarity", *RANDOM, "--cache-dir",
                                   str(tmp_path / "cache"), "--report-dir", str(reports), "-q"])
    assert ok.exit_code == 0, ok.output
    latest = (reports / "sentiment" / "latest").resolve()
    bad = CliRunner().invoke(main, ["run", "sentiment", "--corpus", "pang_lee_polarity", *RANDOM, "--grid",
                                    "model.encoder=", "--cache-dir", str(tmp_path / "cache"), "--report-dir",
                                    str(reports)])
    assert bad.exit_code == 2
    assert (reports / "sentiment" / "latest").resolve() == latest
    assert (latest / "results.md").is_file()
