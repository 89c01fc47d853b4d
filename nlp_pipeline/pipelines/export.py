"""``export model``: a trained classifier or tagger as a folder to hand on, native or ONNX.

- ``native``: the model folder itself (weights, config, vocabularies, phrases, history) with its manifest,
  so ``predict`` / ``tag`` given the folder check every file against it, as they check a cache artifact. A
  model folder without a manifest (saved by hand) gets one written from its files.
- ``onnx``: ``model.onnx`` (`nlp_pipeline.models.onnx_export`: why one graph with dynamic batch and length
  is exact), ``model.json`` (labels or tags, inputs and outputs with their shapes, how text becomes ids),
  the vocabularies, the phrases when the model has them, and a ``README.txt``. The export is checked
  before it is kept: onnxruntime's outputs must match PyTorch's within `TOLERANCE` on batches of several
  lengths and sizes.

Either way the folder is written beside its destination under a temporary name and renamed into place,
so a failed export leaves nothing half-written, and its files are readable as the umask allows (cache
weights are written 0600 by safetensors; an export is meant to be shared). An existing destination is
replaced only with ``force``, and only when it is empty or holds an earlier export (never, say, a home
folder given by mistake).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from nlp_pipeline.engine.cache import apply_umask
from nlp_pipeline.errors import ConfigError
from nlp_pipeline.pipelines.model_refs import TrainedModel, resolve_trained_model

logger = logging.getLogger(__name__)

FORMATS = ("native", "onnx")
ONNX_FILE = "model.onnx"
ONNX_META_FILE = "model.json"
README_FILE = "README.txt"
TOLERANCE = 1e-4  # largest difference allowed between onnxruntime's and PyTorch's outputs
EXPORT_MARKERS = ("manifest.json", "config.json", ONNX_FILE)  # a folder holding one of these is an earlier export
MODEL_FILES = ("config.json", "vocab.json", "model.safetensors", "chars.json", "phrases.json", "history.json")


@dataclass
class ExportResult:
    """What `export_model` wrote; `to_dict` is the ``--json`` object."""

    model: str  # the source folder
    kind: str  # classifier | tagger
    model_key: str | None
    format: str  # native | onnx
    output: str  # the folder written
    files: list[str]  # its files, relative
    max_abs_diff: float | None = None  # onnx: onnxruntime vs PyTorch on the check batches

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def export_model(model: str | Path, output: str | Path, *, format: str = "native", force: bool = False,
                 cache_dir: str | Path | None = None, log: Callable[[str], None] | None = None) -> ExportResult:
    """Export ``model`` (a folder, a ``train``/``train_tagger`` key prefix, or ``latest``) to the folder
    ``output`` as ``format`` (``native`` or ``onnx``). An existing ``output`` is a `ConfigError` unless
    ``force``."""
    log = log or logger.info
    if format not in FORMATS:
        raise ConfigError(f"unknown export format {format!r}; use one of {', '.join(FORMATS)}")
    trained = resolve_trained_model(model, cache_dir)
    out = Path(output).expanduser()
    _check_destination(out, trained.path, force)
    if format == "onnx":
        _require_onnx()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    tmp.mkdir()  # 0777 & ~umask, unlike mkdtemp's 0700
    try:
        diff = _write_onnx(trained, tmp, log) if format == "onnx" else _write_native(trained, tmp)
        apply_umask(tmp)  # 0644 / 0755 under umask 022, whatever mode the writer used (safetensors: 0600)
        _swap_into_place(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    return ExportResult(model=str(trained.path), kind=trained.kind, model_key=trained.key, format=format,
                        output=str(out), files=files, max_abs_diff=diff)


def _check_destination(out: Path, source: Path, force: bool) -> None:
    if not out.exists():
        return
    if not force:
        raise ConfigError(f"{out} already exists; pass --force to overwrite it")
    if not out.is_dir():
        raise ConfigError(f"{out} exists and is not a folder; not overwriting it")
    real_out, real_src = out.resolve(), source.resolve()
    if real_out == real_src or real_out in real_src.parents or real_src in real_out.parents:
        raise ConfigError(f"{out} holds the model being exported (or is inside it); choose another folder")
    if any(out.iterdir()) and not any((out / name).is_file() for name in EXPORT_MARKERS):
        raise ConfigError(f"{out} holds files but no exported model; not overwriting it (remove it yourself or "
                          "choose another folder)")


def _require_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as err:
        raise ConfigError(f"--format onnx needs the onnx extra ({err.name} is not installed): "
                          "pip install 'nlp-pipeline[onnx]'") from None


def _swap_into_place(tmp: Path, out: Path) -> None:
    """Rename ``tmp`` to ``out``; an old ``out`` is renamed aside first and removed after."""
    trash = None
    if out.exists():
        trash = out.parent / f".{out.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        os.replace(out, trash)
    os.replace(tmp, out)
    if trash is not None:
        shutil.rmtree(trash, ignore_errors=True)


# -- native -----------------------------------------------------------------------------------------------


def _write_native(trained: TrainedModel, tmp: Path) -> None:
    """The model's files and its manifest (copied as is: its digest still holds), or a manifest written now."""
    from nlp_pipeline.engine.cache import MANIFEST, VERIFIED, file_table, hash_json, verify_folder

    src = trained.path
    if trained.manifest is not None:
        names = list(trained.manifest["files"])
        for rel in names:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / rel, tmp / rel)
        shutil.copyfile(src / MANIFEST, tmp / MANIFEST)
    else:
        for name in MODEL_FILES:
            if (src / name).is_file():
                shutil.copyfile(src / name, tmp / name)
        files = file_table(tmp)
        digest = hash_json(files)
        manifest = {"stage": trained.stage, "key": digest[:20], "files": files, "digest": digest, "metadata": {},
                    "params": {}, "inputs": {}, "created": time.time(), "exported_from": str(src)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
    problem = verify_folder(tmp, rehash=True)  # the copy is what the manifest says (a file changed meanwhile?)
    (tmp / VERIFIED).unlink(missing_ok=True)  # stat signatures of this machine's inodes: not for sharing
    if problem:
        raise ConfigError(f"the exported copy of {src} does not match its manifest ({problem}); export again")


# -- onnx -------------------------------------------------------------------------------------------------


def _write_onnx(trained: TrainedModel, tmp: Path, log: Callable[[str], None]) -> float:
    from nlp_pipeline.models import onnx_export as ox
    from nlp_pipeline.text.phrases import PHRASES_FILE

    if trained.kind == "classifier":
        from nlp_pipeline.models.classifier_io import load_classifier

        model, config, vocab = load_classifier(trained.path, device="cpu")
        graph = ox.export_classifier(model, config.get("max_length"), tmp / ONNX_FILE)
        batches = _classifier_check_batches(len(vocab))
    else:
        from nlp_pipeline.models.tagger_io import CHARS_FILE, load_tagger

        model, config, vocab, chars = load_tagger(trained.path, device="cpu")
        graph = ox.export_tagger(model, tmp / ONNX_FILE)
        batches = _tagger_check_batches(len(vocab), len(chars))
        shutil.copyfile(trained.path / CHARS_FILE, tmp / CHARS_FILE)
    shutil.copyfile(trained.path / "vocab.json", tmp / "vocab.json")
    has_phrases = trained.kind == "classifier" and (trained.path / PHRASES_FILE).is_file()
    if has_phrases:
        shutil.copyfile(trained.path / PHRASES_FILE, tmp / PHRASES_FILE)
    diff = ox.max_abs_difference(graph, tmp / ONNX_FILE, batches)
    if not diff <= TOLERANCE:
        raise RuntimeError(f"the ONNX graph of {trained.path} differs from the PyTorch model by {diff:.2e} "
                           f"(more than {TOLERANCE:g}); not exported")
    log(f"  onnxruntime matches PyTorch within {diff:.1e} on {sum(len(b['lengths']) for b in batches)} sequences")
    inputs = ox.graph_input_names(tmp / ONNX_FILE)
    meta = _onnx_meta(trained, model, config, inputs, has_phrases, diff)
    (tmp / ONNX_META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (tmp / README_FILE).write_text(_readme(meta), encoding="utf-8")
    return diff


def _classifier_check_batches(vocab_size: int) -> list[dict]:
    """A batch of four lengths (a size other than the traced one) and a batch of one, random known ids."""
    import numpy as np

    from nlp_pipeline.models.onnx_export import classifier_inputs

    rng = np.random.default_rng(0)
    docs = [rng.integers(1, vocab_size, n).tolist() for n in (1, 4, 9, 17, 6)]
    return [classifier_inputs(docs[:4]), classifier_inputs(docs[4:])]


def _tagger_check_batches(vocab_size: int, char_vocab_size: int) -> list[dict]:
    import numpy as np

    from nlp_pipeline.models.onnx_export import tagger_inputs
    from nlp_pipeline.models.tagger_encoding import EncodedSentences

    rng = np.random.default_rng(0)
    lengths = (1, 4, 9, 17, 6)
    words = [rng.integers(1, vocab_size, n).tolist() for n in lengths]
    chars = []
    for n in lengths:
        array = np.zeros((n, 8), dtype=np.int64)
        for i, width in enumerate(rng.integers(1, 9, n)):
            array[i, :width] = rng.integers(1, char_vocab_size, width)
        chars.append(array)
    data = EncodedSentences(words, chars)
    return [tagger_inputs(data, [0, 1, 2, 3]), tagger_inputs(data, [4])]


def _onnx_meta(trained: TrainedModel, model: Any, config: dict, inputs: list[str], has_phrases: bool,
               diff: float) -> dict:
    """``model.json``: everything a user needs besides the graph, in one place."""
    import onnxruntime
    import torch

    from nlp_pipeline.models.onnx_export import CLASSIFIER_OUTPUT, OPSET, TAGGER_OUTPUT
    from nlp_pipeline.models.tagger_encoding import MAX_WORD_CHARS

    tokenizer = dict(config.get("tokenizer") or {})
    described = {
        "token_ids": ("int64", ["batch", "sequence"], "word ids (vocab.json), right-padded with 0"),
        "word_ids": ("int64", ["batch", "sequence"], "word ids (vocab.json), right-padded with 0"),
        "char_ids": ("int64", ["batch", "sequence", "chars"],
                     "each word's character ids (chars.json), right-padded with 0"),
        "lengths": ("int64", ["batch"], "each row's number of real tokens (at least 1)"),
    }
    meta: dict[str, Any] = {
        "format": f"nlp-pipeline-onnx-{trained.kind}", "format_version": 1, "kind": trained.kind,
        "onnx_file": ONNX_FILE, "opset": OPSET,
        "inputs": [{"name": n, "dtype": described[n][0], "shape": described[n][1], "meaning": described[n][2]}
                   for n in inputs],
    }
    text = {"tokenizer": "spaCy's rule-based tokenizer of spacy.blank(language); whitespace tokens dropped",
            "language": tokenizer.get("language", "en"),
            "strip_html": bool(tokenizer.get("strip_html", True)),
            "lowercase": bool(tokenizer.get("lowercase", False)),
            "before_tokenizing": "HTML line breaks (<br />) replaced by spaces when strip_html; runs of whitespace "
                                 "collapsed to one space; leading and trailing spaces removed"}
    if trained.kind == "classifier":
        labels = config["labels"]
        meta["outputs"] = [{"name": CLASSIFIER_OUTPUT, "dtype": "float32", "shape": ["batch", len(labels)],
                            "meaning": "class probabilities (softmax), in the order of labels"}]
        meta["labels"] = labels
        meta["text"] = {**text, "phrases": "phrases.json" if has_phrases else None,
                        "max_length": config.get("max_length"),
                        "empty_text": "one <pad> (id 0) with length 1"}
        meta["vocabulary"] = {"file": "vocab.json", "key": "itos", "pad_id": 0, "unk_id": 1}
    else:
        tags = config["tags"]
        meta["outputs"] = [{"name": TAGGER_OUTPUT, "dtype": "float32", "shape": ["batch", "sequence", len(tags)],
                            "meaning": "per-token tag scores; a padded position's are meaningless"}]
        meta["tags"] = tags
        meta["tagset"] = config.get("tagset")
        meta["text"] = {**text, "lowercase": False,
                        "note": "case is kept for the characters; words are looked up lower-cased when "
                                "vocabulary.lowercase"}
        meta["vocabulary"] = {"file": "vocab.json", "key": "itos", "pad_id": 0, "unk_id": 1,
                              "lowercase": bool(config.get("lowercase_words"))}
        meta["characters"] = {"file": "chars.json", "key": "itos", "pad_id": 0, "unk_id": 1,
                              "max_word_chars": MAX_WORD_CHARS,
                              "long_words": f"a word longer than {MAX_WORD_CHARS} characters keeps its first and "
                                            f"last {MAX_WORD_CHARS // 2}",
                              "empty_word": "one <unk> (id 1)"}
        crf = getattr(model, "crf", None)
        meta["crf"] = None if crf is None else {
            "decode": "Viterbi over tag_scores: score = start[y1] + sum emit[t, yt] + sum transitions[y(t-1), yt] "
                      "+ end[yT]; argmax per token is NOT this model's decoding",
            "transitions": crf.transitions.detach().tolist(), "start": crf.start.detach().tolist(),
            "end": crf.end.detach().tolist()}
    meta["source"] = {"model": str(trained.path), "stage": trained.stage, "key": trained.key,
                      "torch": torch.__version__}
    meta["check"] = {"max_abs_diff": diff, "tolerance": TOLERANCE, "onnxruntime": onnxruntime.__version__,
                     "against": "PyTorch on the CPU, batches of 4 and 1 sequences of 1 to 17 tokens"}
    return meta


def _readme(meta: dict) -> str:
    """README.txt: the files, how text becomes inputs, and a few lines of Python for this very model."""
    t = meta["text"]
    names = [i["name"] for i in meta["inputs"]]
    clean = ('    text = re.sub(r"<br\\s*/?>", " ", text, flags=re.I)\n' if t["strip_html"] else "") + \
        '    text = re.sub(r"\\s+", " ", text).strip()\n'
    head = ("import json, re\n\nimport numpy as np\nimport onnxruntime as ort\nimport spacy\n\n"
            'meta = json.load(open("model.json"))\n'
            'stoi = {w: i for i, w in enumerate(json.load(open("vocab.json"))["itos"])}\n'
            f'nlp = spacy.blank("{t["language"]}")\n'
            'session = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])\n\n')
    if meta["kind"] == "classifier":
        lower = ".lower()" if t["lowercase"] else ""
        phrases = ("\nphrases.json: the model's words join collocations (new_york) after tokenizing; apply it with\n"
                   "nlp_pipeline.text.phrases.PhraseModel.load('phrases.json')(words) before looking words up.\n"
                   if t["phrases"] else "")
        code = head + (
            "def ids(text):\n" + clean
            + f"    words = [tok.text{lower} for tok in nlp(text) if not tok.is_space]\n"
            + "    return [stoi.get(w, 1) for w in words] or [0]\n\n"
            'rows = [ids(t) for t in ["a gorgeous, witty film", "two hours I will never get back"]]\n'
            "width = max(map(len, rows))\n"
            "token_ids = np.array([r + [0] * (width - len(r)) for r in rows], dtype=np.int64)\n"
            "lengths = np.array([len(r) for r in rows], dtype=np.int64)\n"
            'probs = session.run(["probabilities"], {"token_ids": token_ids, "lengths": lengths})[0]\n'
            'print([meta["labels"][i] for i in probs.argmax(axis=1)])\n')
        what = (f"a sentence classifier: probabilities over {', '.join(meta['labels'])}")
        steps = ("Text to ids: clean (see model.json, text), split with spaCy's blank tokenizer, drop whitespace\n"
                 f"tokens{', lower-case' if t['lowercase'] else ''}; a word's id is its index in vocab.json's itos,\n"
                 "else 1 (<unk>); an empty text is [0]. Right-pad a batch with 0 and pass each row's length;\n"
                 f"the graph cuts rows to max_length ({t['max_length']}) itself.\n" + phrases)
    else:
        lower = ".lower()" if meta["vocabulary"]["lowercase"] else ""
        half = meta["characters"]["max_word_chars"] // 2
        code = head + (
            'chars = {c: i for i, c in enumerate(json.load(open("chars.json"))["itos"])}\n\n'
            "def char_ids(w):\n"
            f"    w = w if len(w) <= {2 * half} else w[:{half}] + w[-{half}:]\n"
            "    return [chars.get(c, 1) for c in w] or [1]\n\n"
            'text = "I\'d like to book a flight to Boston."\n' + clean.replace("    ", "")
            + "words = [tok.text for tok in nlp(text) if not tok.is_space]\n"
            f"word_ids = np.array([[stoi.get(w{lower}, 1) for w in words]], dtype=np.int64)\n"
            "rows = [char_ids(w) for w in words]\n"
            "width = max(map(len, rows))\n"
            "char_array = np.array([[r + [0] * (width - len(r)) for r in rows]], dtype=np.int64)\n"
            "feeds = {\"word_ids\": word_ids, \"char_ids\": char_array, \"lengths\": np.array([len(words)])}\n"
            "scores = session.run(None, {i.name: feeds[i.name] for i in session.get_inputs()})[0][0]\n"
            'print(list(zip(words, (meta["tags"][i] for i in scores.argmax(axis=1)))))\n')
        what = f"a part-of-speech tagger ({len(meta['tags'])} {str(meta.get('tagset') or '').upper()} tags)"
        steps = ("Text to ids: clean, split with spaCy's blank tokenizer keeping the case, drop whitespace tokens.\n"
                 f"Word ids: index in vocab.json's itos of the word{' lower-cased' if lower else ''}, else 1 (<unk>).\n"
                 f"Character ids: index in chars.json's itos, else 1; words over {2 * half} characters keep their\n"
                 f"first and last {half}. Right-pad with 0 and pass each sentence's length.\n"
                 + ("CRF: decode tag_scores with Viterbi and model.json's crf (argmax per token is not the\n"
                    "model's decoding).\n" if meta.get("crf") else ""))
    inputs = "; ".join(f"{i['name']} {i['dtype']} [{', '.join(map(str, i['shape']))}]" for i in meta["inputs"])
    outputs = "; ".join(f"{o['name']} {o['dtype']} [{', '.join(map(str, o['shape']))}]" for o in meta["outputs"])
    return (f"nlp-pipeline {meta['kind']} exported as ONNX: {what}.\n\n"
            f"model.onnx   the graph (opset {meta['opset']}). Inputs: {inputs}. Output: {outputs}.\n"
            "model.json   labels or tags, inputs and outputs, how text becomes ids, where the model came from.\n"
            "vocab.json   the words: itos[i] is the word of id i (0 = <pad>, 1 = <unk>).\n"
            + ("chars.json   the characters, the same way.\n" if "char_ids" in names else "")
            + ("phrases.json the collocations joined after tokenizing.\n" if meta["text"].get("phrases") else "")
            + "\nBatches are exact: rows are right-padded and read within their own length, so a row's output\n"
            "does not depend on the rows beside it.\n\n" + steps
            + f"\nIn Python (pip install onnxruntime numpy spacy):\n\n{code}")
