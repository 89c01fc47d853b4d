"""End to end: `evaluate model` and `export model` on tiny classifiers and a tiny tagger, through the real CLI.

One fresh cache holds three classifiers (lstm, gru, then bilstm, random embeddings on gensim's bundled
pang_lee_polarity) and a tagger (the toy treebank), trained in seconds. The bar: `evaluate model` on the
dev split gives exactly the dev numbers the run reported; exported folders predict and tag as the cache
artifacts do; ONNX Runtime's outputs match PyTorch's within 1e-4.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import invoke, stdout_json

SENTIMENT = ["--corpus", "pang_lee_polarity", "--set", "model.embedding_mode=random", "--set", "embed.vector_size=16",
             "--set", "runtime.threads=1", "--set", "model.hidden_size=8", "--set", "train.epochs=6",
             "--set", "train.lr=0.01", "--set", "train.patience=0", "--set", "train.batch_size=16"]
TAGGING = ["--set", "model.embedding_mode=random", "--set", "embed.vector_size=16", "--set", "runtime.threads=1",
           "--set", "model.hidden_size=16", "--set", "model.char_hidden=16", "--set", "train.epochs=3",
           "--set", "train.batch_size=8"]
TEXTS = ["a gorgeous , witty film", "boring", "", "two hours i will never get back , and the popcorn was stale too",
         "not bad at all"]
TOLERANCE = 1e-4


def _run(ws, *args) -> dict:
    result = invoke("run", *args, "--cache-dir", ws["cache"], "--report-dir", ws["root"] / "reports", "--json", "-q")
    return stdout_json(result)


def _train(root: Path, make_treebank) -> dict:
    ws = {"root": root, "cache": root / "cache"}
    ws["treebank"] = make_treebank(root / "treebank", n_train=80, n_dev=30,
                                   names=("en_toy-ud-train.conllu", "en_toy-ud-dev.conllu"))
    grid = _run(ws, "sentiment", *SENTIMENT, "--grid", "model.encoder=lstm,gru")["variants"]
    tagging = _run(ws, "tagging", "--corpus", ws["treebank"], *TAGGING)["variants"][0]
    bilstm = _run(ws, "sentiment", *SENTIMENT, "--set", "model.encoder=bilstm")["variants"][0]  # the newest model
    return {"root": str(root), "classifiers": {v["config"]["model"]["encoder"]: v for v in (*grid, bilstm)},
            "tagger": tagging}


@pytest.fixture(scope="module")
def ws(once_per_run, make_treebank):
    """The cache of the models, trained once for the run (the xdist workers share it; the tests only read it,
    or write what the cache is made to take from several processes at once)."""
    ws = once_per_run("evaluate-export", lambda root: _train(root, make_treebank))
    root = Path(ws["root"])
    return {**ws, "root": root, "cache": root / "cache", "treebank": root / "treebank"}


def _key(variant: dict, stage: str) -> str:
    return Path(variant["artifacts"][stage]).name


def _evaluate(ws, model: str, corpus, *extra, ok: bool = True):
    return invoke("evaluate", "model", model, "--corpus", corpus, "--cache-dir", ws["cache"], *extra, ok=ok)


# -- evaluate model ---------------------------------------------------------------------------------------


def test_latest_classifier_on_its_dev_split_equals_the_run(ws, tmp_path):
    run = ws["classifiers"]["bilstm"]
    out = stdout_json(_evaluate(ws, "latest", "pang_lee_polarity:dev", "--json", "-o", tmp_path / "ev"))
    assert out["kind"] == "classifier" and out["model_key"] == _key(run, "train")
    assert out["accuracy"] == run["metrics"]["dev"]["accuracy"]  # exactly: the same scoring, not a second one
    assert out["macro_f1"] == run["metrics"]["dev"]["macro_f1"]
    assert out["examples"] == run["metrics"]["dev"]["n"] == 20
    assert out["carved"] == {"from": "all", "fraction": 0.1, "seed": 13}
    predicted = np.asarray(out["confusion_matrix"]).sum(axis=0)
    assert (predicted > 0).sum() == 2, "the tiny model predicts one class only: the equality above proves little"
    assert set(out) >= {"model", "kind", "corpus", "split", "files", "labels", "per_class", "confusion_matrix",
                        "averages", "output_dir", "confusion_matrix_png"}
    assert "unseen_accuracy" not in out
    assert out["per_class"]["positive"].keys() == {"precision", "recall", "f1", "support"}
    png = Path(out["confusion_matrix_png"])
    assert png == tmp_path / "ev" / "confusion_matrix.png" and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["accuracy"] == out["accuracy"]


def test_without_a_split_a_corpus_is_scored_on_its_test_split(ws):
    run = ws["classifiers"]["bilstm"]
    out = stdout_json(_evaluate(ws, _key(run, "train")[:8], "pang_lee_polarity", "--json", "-o", ws["root"] / "t"))
    assert out["split"] == "test" and out["accuracy"] == run["metrics"]["test"]["accuracy"]


def test_per_class_numbers_are_sklearns_on_predicts_labels(ws, tmp_path):
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    from nlp_pipeline.data import load_labelled

    examples = load_labelled("pang_lee_polarity").splits["dev"]
    path = tmp_path / "dev.tsv"  # the dev split as a user's file: every row is evaluated
    path.write_text("text\tlabel\n" + "".join(f"{e.text}\t{e.label}\n" for e in examples), encoding="utf-8")
    key = _key(ws["classifiers"]["gru"], "train")
    out = stdout_json(_evaluate(ws, key, path, "--json", "-o", tmp_path / "ev"))
    assert out["split"] is None and out["examples"] == len(examples)
    predicted = [json.loads(line)["label"] for line in
                 invoke("predict", key, "--file", "-", "--json", "--cache-dir", ws["cache"],
                        input="\n".join(e.text for e in examples) + "\n").stdout.splitlines()]
    gold = [e.label for e in examples]
    labels = ["negative", "positive"]
    p, r, f, s = precision_recall_fscore_support(gold, predicted, labels=labels, zero_division=0)
    for i, label in enumerate(labels):
        assert out["per_class"][label] == pytest.approx({"precision": p[i], "recall": r[i], "f1": f[i],
                                                         "support": s[i]}, abs=1e-12)
    assert out["accuracy"] == pytest.approx(accuracy_score(gold, predicted), abs=1e-12)


def test_tagger_on_its_dev_split_equals_the_run_with_unseen_and_seen_words(ws, tmp_path):
    run = ws["tagger"]
    key = _key(run, "train_tagger")
    out = stdout_json(_evaluate(ws, key[:9], f"{ws['treebank']}:dev", "--json", "-o", tmp_path / "ev"))
    dev = run["metrics"]["dev"]
    assert out["kind"] == "tagger" and out["model_key"] == key
    assert out["accuracy"] == dev["accuracy"] and out["macro_f1"] == dev["macro_f1"]
    assert out["unseen_accuracy"] == dev["unseen_accuracy"] and out["unseen_tokens"] == dev["unseen_tokens"] > 0
    assert out["unseen_basis"] == "training split"
    assert out["tokens"] == dev["tokens"] == out["seen_tokens"] + out["unseen_tokens"]
    right = out["accuracy"] * out["tokens"]
    assert out["seen_accuracy"] * out["seen_tokens"] + out["unseen_accuracy"] * out["unseen_tokens"] == \
        pytest.approx(right, abs=1e-6)
    assert Path(out["confusion_matrix_png"]).stat().st_size > 0


def test_tagger_per_tag_numbers_are_sklearns_on_tags_output(ws, tmp_path):
    from sklearn.metrics import precision_recall_fscore_support

    from nlp_pipeline.data import read_conllu

    dev_file = next(ws["treebank"].glob("*dev.conllu"))
    sentences = list(read_conllu(dev_file))
    key = _key(ws["tagger"], "train_tagger")
    out = stdout_json(_evaluate(ws, key, dev_file, "--json", "-o", tmp_path / "ev"))
    tagged = invoke("tag", key, "--file", "-", "--tokenized", "--format", "json", "--cache-dir", ws["cache"],
                    input="".join(" ".join(s.words) + "\n" for s in sentences)).stdout.splitlines()
    predicted = [t for line in tagged for t in json.loads(line)["tags"]]
    gold = [t for s in sentences for t in s.upos]
    tags = out["labels"]
    p, r, f, s = precision_recall_fscore_support(gold, predicted, labels=tags, zero_division=0)
    for i, tag in enumerate(tags):
        assert out["per_class"][tag] == pytest.approx({"precision": p[i], "recall": r[i], "f1": f[i],
                                                       "support": s[i]}, abs=1e-12)


def test_text_output_and_the_default_output_folder(ws, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    key = _key(ws["tagger"], "train_tagger")
    result = _evaluate(ws, key, f"{ws['treebank']}:dev")
    out = result.stdout
    assert f"tagger, train_tagger {key[:12]}" in out and "unseen words" in out and "seen words" in out
    assert "NOUN" in out and "precision" in out
    png = out.strip().splitlines()[-1].split("confusion matrix: ", 1)[1]
    assert Path(png) == Path("reports") / "evaluate" / f"{key[:12]}_treebank_dev" / "confusion_matrix.png"
    assert (tmp_path / png).is_file()


def _broken(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("case", "expected"), [
    ("missing", "not found"),
    ("row_without_label", "bad.tsv:3:"),
    ("unknown_label", "bad.tsv:4:"),
    ("empty", "bad.tsv"),
    ("header_only", "no data rows"),
    ("unknown_corpus", "unknown corpus 'no_such_corpus'"),
    ("unknown_split", "unknown split 'nope'"),
    ("tagged_corpus", "tagged"),
])
def test_bad_classifier_input_is_one_line_and_exit_2(ws, tmp_path, case, expected):
    corpus = {
        "missing": lambda: tmp_path / "nope.tsv",
        "row_without_label": lambda: _broken(tmp_path, "bad.tsv", "text\tlabel\na fine film\tpositive\nno label\n"),
        "unknown_label": lambda: _broken(tmp_path, "bad.tsv", "text\tlabel\na\tpositive\nb\tnegative\nc\tneutral\n"),
        "empty": lambda: _broken(tmp_path, "bad.tsv", ""),
        "header_only": lambda: _broken(tmp_path, "bad.tsv", "text\tlabel\n"),
        "unknown_corpus": lambda: "no_such_corpus",
        "unknown_split": lambda: "pang_lee_polarity:nope",
        "tagged_corpus": lambda: next(ws["treebank"].glob("*dev.conllu")),
    }[case]()
    result = _evaluate(ws, _key(ws["classifiers"]["bilstm"], "train"), corpus, ok=False)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    if case == "unknown_label":
        assert "neutral" in lines[0]


def test_bad_tagger_input_is_one_line_naming_the_line(ws, tmp_path):
    key = _key(ws["tagger"], "train_tagger")
    word = "1\tcat\tcat\tNOUN\tNN\t_\t0\troot\t_\t_\n"
    unknown = _broken(tmp_path, "odd.conllu", "# c\n" + word + "2\tmeows\tmeow\tXYZ\tVBZ\t_\t1\tdep\t_\t_\n\n")
    malformed = _broken(tmp_path, "short.conllu", word + "2\tmeows\tVERB\n\n")
    for corpus, expected in ((unknown, f"{unknown}:3: tag 'XYZ'"), (malformed, f"{malformed}:2: malformed"),
                             ("pang_lee_polarity", "labelled, not tagged"), (tmp_path / "none.conllu", "not found")):
        result = _evaluate(ws, key, corpus, ok=False)
        lines = result.stderr.strip().splitlines()
        assert result.exit_code == 2 and len(lines) == 1 and expected in lines[0], result.output


def _plant(cache: Path, stage: str, key: str, source: Path | None = None, config: dict | None = None) -> Path:
    """An artifact under ``stage/key`` in ``cache``: a copy of ``source``'s files, or a folder holding
    ``config`` as its config.json, with a valid manifest."""
    from nlp_pipeline.engine.cache import MANIFEST, file_table, hash_json

    folder = cache / "artifacts" / stage / key
    if source is not None:
        shutil.copytree(source, folder, ignore=shutil.ignore_patterns(MANIFEST, ".verified.json"))
    else:
        folder.mkdir(parents=True)
        (folder / "config.json").write_text(json.dumps(config))
    files = file_table(folder)
    manifest = {"stage": stage, "key": key, "files": files, "digest": hash_json(files), "metadata": {},
                "params": {}, "inputs": {}, "created": 1.0}
    (folder / MANIFEST).write_text(json.dumps(manifest))
    return folder


def test_an_ambiguous_prefix_or_a_language_model_is_named(ws, tmp_path):
    cache = tmp_path / "cache"
    _plant(cache, "train", "abc1" + "0" * 16, Path(ws["classifiers"]["gru"]["artifacts"]["train"]))
    _plant(cache, "train_tagger", "abc2" + "0" * 16, Path(ws["tagger"]["artifacts"]["train_tagger"]))
    lm = _plant(cache, "train_lm", "def1" + "0" * 16, config={"format": "nlp-pipeline-language-model"})
    for ref, expected in (("abc", "ambiguous: train abc1"), ("def", "is a language model (train_lm def1"),
                          (str(lm), "is a language model"), ("fff", "neither a model folder nor the key")):
        for command in (["evaluate", "model", ref, "--corpus", "pang_lee_polarity"],
                        ["export", "model", ref, "-o", tmp_path / "out"]):
            result = invoke(*command, "--cache-dir", cache, ok=False)
            assert result.exit_code == 2 and expected in result.stderr, result.output
            assert len(result.stderr.strip().splitlines()) == 1
    assert "train_tagger abc2" in invoke("evaluate", "model", "abc", "--corpus", "x", "--cache-dir", cache,
                                         ok=False).stderr
    from nlp_pipeline.pipelines.model_refs import resolve_trained_model

    assert resolve_trained_model("abc2", cache).kind == "tagger"
    assert resolve_trained_model("abc1", cache).kind == "classifier"


def test_latest_is_the_newest_classifier_or_tagger(ws):
    from nlp_pipeline.pipelines.model_refs import resolve_trained_model

    found = resolve_trained_model("latest", ws["cache"])
    assert found.kind == "classifier" and found.key == _key(ws["classifiers"]["bilstm"], "train")


# -- export model: native ---------------------------------------------------------------------------------


def _modes(folder: Path) -> list[tuple[str, int]]:
    return [(p.name, stat.S_IMODE(p.stat().st_mode)) for p in [folder, *folder.rglob("*")]]


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_native_export_predicts_as_the_cache_artifact_and_is_readable_by_all(ws, tmp_path, umask_022):
    key = _key(ws["classifiers"]["bilstm"], "train")
    (Path(ws["classifiers"]["bilstm"]["artifacts"]["train"]) / "model.safetensors").chmod(0o600)  # as safetensors
    out = tmp_path / "shared" / "model"
    result = stdout_json(invoke("export", "model", key, "-o", out, "--cache-dir", ws["cache"], "--json"))
    assert result["format"] == "native" and result["output"] == str(out)
    assert {"manifest.json", "model.safetensors", "config.json", "vocab.json"} <= set(result["files"])
    assert ".verified.json" not in result["files"]
    for name, mode in _modes(out):
        assert mode & 0o044 == 0o044, (name, oct(mode))
    assert stat.S_IMODE(out.stat().st_mode) & 0o055 == 0o055
    with_key = invoke("predict", key, *TEXTS, "--json", "--cache-dir", ws["cache"]).stdout
    with_folder = invoke("predict", out, *TEXTS, "--json", "--cache-dir", tmp_path / "empty-cache").stdout
    assert with_folder == with_key and len(with_key.splitlines()) == len(TEXTS)
    onnx = tmp_path / "shared" / "onnx"
    invoke("export", "model", key, "-o", onnx, "--format", "onnx", "--cache-dir", ws["cache"])
    for name, mode in _modes(onnx):
        assert mode & 0o044 == 0o044, (name, oct(mode))


def test_native_export_of_a_tagger_tags_as_the_cache_artifact(ws, tmp_path):
    key = _key(ws["tagger"], "train_tagger")
    out = tmp_path / "tagger"
    invoke("export", "model", key[:8], "-o", out, "--cache-dir", ws["cache"])
    texts = ["The curious nation sleeps quickly.", "Every station falls."]
    with_key = invoke("tag", key, *texts, "--format", "json", "--cache-dir", ws["cache"]).stdout
    assert invoke("tag", out, *texts, "--format", "json").stdout == with_key
    again = stdout_json(invoke("evaluate", "model", out, "--corpus", f"{ws['treebank']}:dev", "--json",
                               "--cache-dir", ws["cache"], "-o", tmp_path / "ev"))
    assert again["accuracy"] == ws["tagger"]["metrics"]["dev"]["accuracy"]  # its manifest finds the treebank


def test_an_exported_folder_is_verified_like_an_artifact(ws, tmp_path):
    out = tmp_path / "model"
    invoke("export", "model", _key(ws["classifiers"]["lstm"], "train"), "-o", out, "--cache-dir", ws["cache"])
    vocab = out / "vocab.json"
    vocab.write_bytes(vocab.read_bytes().replace(b"<unk>", b"<UNK>"))
    result = invoke("predict", out, "some text", ok=False)
    assert result.exit_code == 2 and "damaged" in result.stderr and "vocab.json" in result.stderr


def test_an_existing_output_needs_force_and_force_only_replaces_an_export(ws, tmp_path):
    key = _key(ws["classifiers"]["lstm"], "train")
    out = tmp_path / "model"
    invoke("export", "model", key, "-o", out, "--cache-dir", ws["cache"])
    refused = invoke("export", "model", key, "-o", out, "--cache-dir", ws["cache"], ok=False)
    assert refused.exit_code == 2 and "already exists; pass --force" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    (out / "stale.txt").write_text("from an older export")
    invoke("export", "model", key, "-o", out, "--format", "onnx", "--force", "--cache-dir", ws["cache"])
    assert (out / "model.onnx").is_file() and not (out / "stale.txt").exists()
    other = tmp_path / "notes"
    other.mkdir()
    (other / "thesis.tex").write_text("keep me")
    kept = invoke("export", "model", key, "-o", other, "--force", "--cache-dir", ws["cache"], ok=False)
    assert kept.exit_code == 2 and "holds files but no exported model" in kept.stderr
    assert (other / "thesis.tex").read_text() == "keep me"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


# -- export model: onnx -----------------------------------------------------------------------------------


def _session(folder: Path):
    import onnxruntime as ort

    return ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("encoder", ["lstm", "bilstm", "gru"])
def test_onnx_classifier_matches_pytorch_on_real_sentences(ws, tmp_path, encoder):
    from nlp_pipeline.data import load_labelled
    from nlp_pipeline.inference import Predictor
    from nlp_pipeline.models.onnx_export import classifier_inputs
    from nlp_pipeline.text.tokenize import Tokenizer, TokenizerConfig

    model_dir = Path(ws["classifiers"][encoder]["artifacts"]["train"])
    out = tmp_path / "onnx"
    result = stdout_json(invoke("export", "model", model_dir, "-o", out, "--format", "onnx", "--json"))
    assert result["max_abs_diff"] <= TOLERANCE
    assert set(result["files"]) == {"model.onnx", "model.json", "vocab.json", "README.txt"}
    meta = json.loads((out / "model.json").read_text())
    assert [i["name"] for i in meta["inputs"]] == ["token_ids", "lengths"]
    assert meta["labels"] == ["negative", "positive"]
    texts = TEXTS + [e.text for e in load_labelled("pang_lee_polarity").splits["dev"][:6]]
    # From the exported files alone: model.json's tokenizer settings and vocab.json.
    text = meta["text"]
    tokenizer = Tokenizer(TokenizerConfig(lowercase=text["lowercase"], strip_html=text["strip_html"],
                                          language=text["language"]))
    stoi = {w: i for i, w in enumerate(json.loads((out / "vocab.json").read_text())["itos"])}
    ids = [[stoi.get(w, 1) for w in words] for words in tokenizer.pipe(texts)]
    assert len({len(i) for i in ids}) >= 5  # sentences of many lengths, an empty one among them
    session = _session(out)
    batched = session.run(["probabilities"], classifier_inputs(ids))[0]
    one_by_one = np.concatenate([session.run(["probabilities"], classifier_inputs([i]))[0] for i in ids])
    expected = np.asarray(Predictor.load(model_dir, device="cpu").predict_proba(texts))
    assert np.abs(batched - expected).max() < TOLERANCE
    assert np.abs(one_by_one - expected).max() < TOLERANCE


def test_onnx_tagger_with_its_character_model_matches_pytorch(ws, tmp_path):
    import torch

    from nlp_pipeline.data import read_conllu
    from nlp_pipeline.inference import TaggerPredictor
    from nlp_pipeline.models.onnx_export import real_positions, tagger_inputs
    from nlp_pipeline.models.tagger_encoding import TaggerEncoder
    from nlp_pipeline.text.vocab import Vocab

    model_dir = Path(ws["tagger"]["artifacts"]["train_tagger"])
    out = tmp_path / "onnx"
    invoke("export", "model", model_dir, "-o", out, "--format", "onnx")
    meta = json.loads((out / "model.json").read_text())
    assert [i["name"] for i in meta["inputs"]] == ["word_ids", "char_ids", "lengths"]
    assert set(p.name for p in out.iterdir()) == {"model.onnx", "model.json", "vocab.json", "chars.json", "README.txt"}
    sentences = [s.words for s in read_conllu(next(ws["treebank"].glob("*dev.conllu")))][:8]
    sentences.append(["Extraordinarily-long-hyphenated-wordforms", "sleep", "."])  # past the character cut
    assert len({len(s) for s in sentences}) >= 3
    # From the exported files alone: the vocabularies and model.json's settings.
    encoder = TaggerEncoder(Vocab.load(out / "vocab.json"), Vocab.load(out / "chars.json"), meta["tags"],
                            meta["vocabulary"]["lowercase"])
    data = encoder.encode(sentences)
    predictor = TaggerPredictor.load(model_dir, device="cpu")
    session = _session(out)
    for batch in [list(range(len(sentences))), *([i] for i in range(len(sentences)))]:
        feeds = tagger_inputs(data, batch)
        ours = session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})[0]
        with torch.inference_mode():
            theirs = predictor.model(*(torch.from_numpy(feeds[n]) for n in ("word_ids", "char_ids", "lengths")))
        assert np.abs(real_positions(feeds, ours) - real_positions(feeds, theirs.numpy())).max() < TOLERANCE
    feeds = tagger_inputs(data)
    scores = session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})[0]
    tags = [[meta["tags"][k] for k in scores[row, : len(s)].argmax(axis=1)] for row, s in enumerate(sentences)]
    assert tags == predictor.tag_tokens(sentences)


def test_the_onnx_readme_code_runs_and_agrees_with_predict(ws, tmp_path, monkeypatch, capsys):
    key = _key(ws["classifiers"]["bilstm"], "train")
    out = tmp_path / "onnx"
    invoke("export", "model", key, "-o", out, "--format", "onnx", "--cache-dir", ws["cache"])
    readme = (out / "README.txt").read_text()
    code = readme.split("In Python (pip install onnxruntime numpy spacy):\n\n", 1)[1]
    monkeypatch.chdir(out)
    exec(compile(code, str(out / "README.txt"), "exec"), {})
    printed = capsys.readouterr().out.strip()
    texts = ["a gorgeous, witty film", "two hours I will never get back"]
    labels = [json.loads(line)["label"] for line in
              invoke("predict", key, *texts, "--json", "--cache-dir", ws["cache"]).stdout.splitlines()]
    assert printed == repr(labels)


def test_the_python_api_gives_what_the_cli_prints(ws, tmp_path):
    import nlp_pipeline

    key = _key(ws["tagger"], "train_tagger")
    corpus = f"{ws['treebank']}:dev"
    result = nlp_pipeline.evaluate_model(key, corpus, cache_dir=ws["cache"], output_dir=tmp_path / "api")
    assert isinstance(result, nlp_pipeline.EvaluationResult)
    cli = stdout_json(_evaluate(ws, key, corpus, "--json", "-o", tmp_path / "api"))
    assert result.to_dict() == cli
    exported = nlp_pipeline.export_model(key, tmp_path / "onnx", format="onnx", cache_dir=ws["cache"])
    assert exported.kind == "tagger" and exported.max_abs_diff <= TOLERANCE and "chars.json" in exported.files


def test_a_users_file_and_a_single_conllu_file_carve_dev_as_their_runs_did(ws, tmp_path, make_treebank):
    from nlp_pipeline.data import load_labelled

    rows = [e for split in load_labelled("pang_lee_polarity").splits.values() for e in split]
    reviews = tmp_path / "reviews.tsv"
    reviews.write_text("text\tlabel\n" + "".join(f"{e.text}\t{e.label}\n" for e in rows), encoding="utf-8")
    cache = tmp_path / "cache"
    options = ["--cache-dir", cache, "--report-dir", tmp_path / "reports", "--json", "-q",
               "--set", "data.seed=7", "--set", "data.dev_fraction=0.2"]  # not the defaults: read from the run
    run = stdout_json(invoke("run", "sentiment", *SENTIMENT[2:], "--corpus", reviews, *options))["variants"][0]
    key = _key(run, "train")
    dev = stdout_json(invoke("evaluate", "model", key, "--corpus", f"{reviews}:dev", "--cache-dir", cache, "--json",
                             "-o", tmp_path / "ev"))
    assert dev["carved"] == {"from": "all", "fraction": 0.2, "seed": 7}
    assert (dev["examples"], dev["accuracy"]) == (run["metrics"]["dev"]["n"], run["metrics"]["dev"]["accuracy"])
    whole = stdout_json(invoke("evaluate", "model", key, "--corpus", reviews, "--cache-dir", cache, "--json",
                               "-o", tmp_path / "ev"))
    assert whole["split"] is None and whole["carved"] is None and whole["examples"] == len(rows)

    single = next(make_treebank(tmp_path / "tb", n_train=80, n_dev=30).glob("train.conllu"))
    tagged = stdout_json(invoke("run", "tagging", "--corpus", single, *TAGGING, *options))["variants"][0]
    out = stdout_json(invoke("evaluate", "model", _key(tagged, "train_tagger"), "--corpus", f"{single}:dev",
                             "--cache-dir", cache, "--json", "-o", tmp_path / "ev"))
    assert out["carved"] == {"from": "train", "fraction": 0.2, "seed": 7}
    assert (out["tokens"], out["accuracy"], out["unseen_accuracy"]) == \
        (tagged["metrics"]["dev"]["tokens"], tagged["metrics"]["dev"]["accuracy"],
         tagged["metrics"]["dev"]["unseen_accuracy"])
