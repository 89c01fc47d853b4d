"""Every setting of every pipeline YAML reaches a stage key, or is declared as one that cannot change an output.

The keys are planned, not built: a key depends on its parameters, its inputs' content and the upstream
*keys*, so changing a setting and re-planning shows exactly which stages would re-run.
"""

from __future__ import annotations

import ast
import json
import types
import typing
from pathlib import Path

import pytest
import torch

import nlp_pipeline.stages as stages_pkg
from nlp_pipeline import settings as declared
from nlp_pipeline.config import SCHEMAS, load_config
from nlp_pipeline.engine import ArtifactCache
from nlp_pipeline.engine.stage import frozen_params_type
from nlp_pipeline.pipelines.registry import PIPELINES, stages


@pytest.fixture(scope="module")
def data(tmp_path_factory, make_treebank):
    root = tmp_path_factory.mktemp("keys")
    reviews = root / "reviews.tsv"
    reviews.write_text("text\tlabel\ngood film\tpos\nbad film\tneg\n", encoding="utf-8")
    return {
        "reviews": reviews,
        "treebank": make_treebank(root / "tb", n_train=20, n_dev=5),
        "treebank2": make_treebank(root / "tb2", n_train=20, n_dev=5, seed=1),
        "mirror": root / "mirror",
        "vectors": _write(root / "mine.vec", "2 3\nfilm 1 0 0\nthe 0 1 0\n"),
        "text": _write(root / "notes.txt", "a good film\nthe bad film\n"),
        "jsonl": _write(root / "posts.jsonl", '{"text": "a good film", "body": "the bad film"}\n'),
        "csv": _write(root / "posts.csv", "text,body\na good film,the bad film\n"),
        "pairs": _write(root / "pairs.tsv", "film\tmovie\t9.0\ngood\tbad\t2.0\n"),
        "analogies": _write(root / "analogies.txt", ": films\ngood better bad worse\n"),
        "cache": ArtifactCache(root / "cache"),
        "lms": _language_models(root / "lms"),
    }


def _language_models(root: Path) -> dict[str, Path]:
    """Tiny forward and backward language models (two forward ones, to change model.lm)."""
    from nlp_pipeline.models.language_model import LanguageModelConfig, RNNLanguageModel
    from nlp_pipeline.models.language_model_io import EOS, save_language_model
    from nlp_pipeline.text.vocab import Vocab

    vocab = Vocab([Vocab.PAD, Vocab.UNK, EOS, "good", "bad", "film", "the"])
    out = {}
    for name, direction, seed in (("fwd", "forward", 0), ("fwd2", "forward", 1), ("bwd", "backward", 2)):
        torch.manual_seed(seed)
        model = RNNLanguageModel(LanguageModelConfig(vocab_size=len(vocab), embedding_dim=8, hidden_size=8,
                                                     output="full", direction=direction))
        save_language_model(root / name, model, vocab, {})
        out[name] = root / name
    return out


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def base_overrides(pipeline: str, data) -> list[str]:
    """Corpora that resolve offline (gensim's bundled samples, a toy treebank), every default kept."""
    common = ["runtime.threads=2", "runtime.device=cpu"]
    if pipeline in ("embeddings", "lm"):
        return common + ["data.text=[lee_background]"]
    if pipeline == "sentiment":
        return common + ["data.corpus=pang_lee_polarity", "data.text=[lee_background, pang_lee_polarity:train]"]
    if pipeline == "tagging":
        return common + [f"data.corpus={json.dumps(str(data['treebank']))}", "data.text=[lee_background]"]
    raise AssertionError(f"no offline corpora for the {pipeline} pipeline: add them here")


# Alternatives the type alone cannot give (a corpus must exist; a list must stay valid).
SPECIAL = {
    "data.corpus": lambda p, d: json.dumps(str(d["reviews"] if p == "sentiment" else d["treebank2"])),
    "data.text": lambda p, d: (json.dumps([str(d["text"])]) if p in ("embeddings", "lm")
                               else "[lee_background]" if p == "sentiment" else "[lee_background, lee_background]"),
    "data.data_dir": lambda p, d: json.dumps(str(d["mirror"])),
    "data.labels": lambda p, d: "[positive, negative]",  # pang_lee_polarity's labels, in another order
    # sentiment, tagging: the default holds the run's corpus, so none at all differs; embeddings, lm:
    # lee_background comes from no labelled corpus, so the default is none
    "data.dedup_against": lambda p, d: "[]" if p in ("sentiment", "tagging") else "[pang_lee_polarity]",
    "evaluate.pairs": lambda p, d: json.dumps([str(d["pairs"])]),
    "evaluate.analogies": lambda p, d: json.dumps([str(d["analogies"])]),
    "evaluate.probes": lambda p, d: "[film]",
    "data.text_field": lambda p, d: "body",
    "data.text_column": lambda p, d: "body",
    "runtime.device": lambda p, d: "auto",
    "embed.kernel": lambda p, d: "tensor",  # auto is native wherever the C kernel builds
    "embed.vectors": lambda p, d: json.dumps(str(d["vectors"])),
    "runtime.threads": lambda p, d: "3",  # 2 → 3: still several threads, so still not deterministic
    "lm.cutoffs": lambda p, d: "[1000, 5000]",
    "generate.prompts": lambda p, d: "[hello]",
    "train.lr_layer_decay": lambda p, d: "2.6",
    "model.init": lambda p, d: "lm",
    "model.lm": lambda p, d: json.dumps([str(d["lms"]["fwd2"]), str(d["lms"]["bwd"])]),
    "report.dir": lambda p, d: "elsewhere",
}
# Settings read only in some configurations: checked in the configuration where they are read.
CONTEXT = {
    "embed.batch_words": ["embed.engine=torch", "embed.kernel=tensor"],
    "embed.kernel": ["embed.engine=torch"],
    "embed.negatives_per_pair": ["embed.engine=torch", "embed.kernel=native", "embed.sg=1"],  # the C kernel's skip-gram
    "embed.lr_schedule": ["embed.engine=torch"],  # gensim's schedule is its own (corpus_file mode's)
    "embed.init_range": ["embed.engine=torch"],  # gensim starts its own way
    "lm.embedding_dim": ["lm.embedding_init=random"],  # with word2vec the vectors' size is the embedding's
    "lm.tie_weights": ["lm.output=full"],  # an adaptive softmax cannot be tied
    "model.nonlinearity": ["model.encoder=rnn"],  # relu is the plain rnn's only
    "lm.nonlinearity": ["lm.cell=rnn"],
    # model.init=lm reads the language models model.lm names (the runner resolves auto to folders)
    "model.init": [],  # filled in by the fixture below
    "model.lm": [],
    "model.lm_finetune_tokens": [],
    **{f"model.lm_finetune_{k}": [] for k in ("lr", "batch_size", "bptt", "evaluations")},
    "data.text_field": [],  # filled in by the fixture below (a JSON-lines source)
    "data.text_column": [],  # (a CSV source)
    **{f"phrases.{k}": ["phrases.passes=1"] for k in ("min_count", "threshold", "connector_words")},
    "phrases.scoring": ["phrases.passes=1", "phrases.threshold=0.5"],  # npmi scores lie in [-1, 1]
}


@pytest.fixture(autouse=True, scope="module")
def _source_contexts(data):
    CONTEXT["data.text_field"] = [f"data.text={json.dumps([str(data['jsonl'])])}"]
    CONTEXT["data.text_column"] = [f"data.text={json.dumps([str(data['csv'])])}"]
    lms = f"model.lm={json.dumps([str(data['lms']['fwd']), str(data['lms']['bwd'])])}"
    CONTEXT["model.init"] = [lms]
    CONTEXT["model.lm"] = ["model.init=lm", lms]
    CONTEXT["model.lm_finetune_tokens"] = ["model.init=lm", lms]
    for key in ("lr", "batch_size", "bptt", "evaluations"):  # read only when the language models are fine-tuned
        CONTEXT[f"model.lm_finetune_{key}"] = ["model.init=lm", lms, "model.lm_finetune_tokens=100"]


def alternative(value, tp) -> str:
    """Another valid value of the same type, as a --set string."""
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return json.dumps(next(a for a in typing.get_args(tp) if a != value))
    if value is None:
        inner = next(a for a in typing.get_args(tp) if a is not type(None))
        return {int: "512", float: "0.5", str: "x"}[inner]
    if isinstance(value, bool):
        return json.dumps(not value)
    if isinstance(value, int):
        return str(value + 1)
    if isinstance(value, float):
        return repr(value / 2 if value else 0.1)
    raise AssertionError(f"no alternative for {value!r} ({tp}): add it to SPECIAL")


def settings(pipeline: str):
    """(dotted key, type) of every setting of a pipeline."""
    schema = SCHEMAS[pipeline]
    for section, info in schema.model_fields.items():
        if section == "pipeline":
            continue
        for name, field in info.annotation.model_fields.items():
            yield f"{section}.{name}", field.annotation


def runtime_only(pipeline: str) -> dict[str, str]:
    """The settings declared as execution-only (never in a key), with why."""
    out = {}
    for section, info in SCHEMAS[pipeline].model_fields.items():
        if section == "pipeline":
            continue
        for name in info.annotation.model_fields:
            if declared.role_of(info.annotation, name) == "runtime":
                out[f"{section}.{name}"] = info.annotation.model_fields[name].json_schema_extra["why"]
    return out


def plan(pipeline: str, overrides: list[str], cache) -> dict[str, str]:
    cfg = load_config(pipeline, overrides)
    return {task.stage.name: key for task, key in PIPELINES[pipeline].pipeline.plan(cfg, cache)}


PIPELINE_FILES = sorted(SCHEMAS)


@pytest.mark.parametrize("pipeline", PIPELINE_FILES)
def test_every_setting_changes_a_stage_key_or_is_declared_output_neutral(pipeline, data):
    base = base_overrides(pipeline, data)
    cfg = load_config(pipeline, base)
    silent, leaking = [], []
    for key, tp in settings(pipeline):
        section, name = key.split(".")
        context = base + CONTEXT.get(key, [])
        value = getattr(getattr(load_config(pipeline, context), section), name)
        new = SPECIAL[key](pipeline, data) if key in SPECIAL else alternative(value, tp)
        before = plan(pipeline, context, data["cache"])
        after = plan(pipeline, [*context, f"{key}={new}"], data["cache"])
        changed = {s for s in before.keys() | after.keys() if before.get(s) != after.get(s)}
        if key in runtime_only(pipeline):
            # auto = cuda there: not deterministic
            cuda_flip = key == "runtime.device" and torch.cuda.is_available()
            if changed and not cuda_flip:
                leaking.append(f"{key}={new} changed {sorted(changed)}")
        elif not changed:
            silent.append(f"{key}: {value!r} → {new} changed no stage key")
    assert cfg is not None
    assert not silent, "settings no stage reads (stale artifacts):\n" + "\n".join(silent)
    assert not leaking, "declared output-neutral but in a key:\n" + "\n".join(leaking)


def test_every_execution_only_setting_says_why():
    for pipeline in PIPELINE_FILES:
        assert all(why for why in runtime_only(pipeline).values())
        assert "runtime.device" in runtime_only(pipeline)


@pytest.mark.parametrize("pipeline", [p for p in PIPELINE_FILES if "model" in SCHEMAS[p].model_fields])
def test_random_embeddings_key_follows_the_embedding_size(pipeline, data):
    """The case that once returned a stale model: without vectors, embed.vector_size sizes the embedding."""
    base = base_overrides(pipeline, data) + ["model.embedding_mode=random"]
    small = plan(pipeline, base + ["embed.vector_size=16"], data["cache"])
    large = plan(pipeline, base + ["embed.vector_size=300"], data["cache"])
    train = PIPELINES[pipeline].pipeline.train_step
    assert "embed" not in small and small[train] != large[train]


def test_a_data_folder_that_only_moves_keeps_every_key(data, tmp_path):
    import shutil

    moved = shutil.copytree(data["treebank"], tmp_path / "elsewhere" / data["treebank"].name)  # same name, other place
    keys = plan("tagging", base_overrides("tagging", data), data["cache"])
    again = plan("tagging", base_overrides("tagging", data) + [f"data.corpus={json.dumps(str(moved))}"],
                 data["cache"])
    assert keys == again


# -- no build function can reach the pipeline config --------------------------------------------------


def test_every_stage_module_is_used_by_a_pipeline():
    helpers = {"__init__", "common", "artifact_files"}  # shared by stages, not stages
    modules = {p.stem for p in Path(stages_pkg.__file__).parent.glob("*.py")} - helpers
    assert modules == set(stages())  # one module per stage, named after it


def _plain_type(tp) -> bool:
    """str, int, float, bool, None, and unions or tuples of those: types that hold no object."""
    if tp in (str, int, float, bool, type(None)) or typing.get_origin(tp) is typing.Literal:
        return True
    args = typing.get_args(tp)
    return bool(args) and typing.get_origin(tp) in (tuple, typing.Union, types.UnionType) and all(
        a is Ellipsis or _plain_type(a) for a in args)


def test_build_functions_are_module_level_and_see_no_config():
    config_types = set(SCHEMAS.values())
    for name, stage in stages().items():
        fn = stage.build
        assert fn.__closure__ is None and "<locals>" not in fn.__qualname__, name
        assert frozen_params_type(stage.params), name
        for field, info in stage.params.model_fields.items():
            assert _plain_type(info.annotation), f"{name}.{field}: {info.annotation} could carry a config object"
        for value in fn.__globals__.values():
            assert not (isinstance(value, type) and value in config_types), f"{name} build sees {value}"
            assert getattr(value, "__name__", "") not in ("nlp_pipeline.config", "nlp_pipeline.pipelines"), name


def test_stage_modules_never_import_the_config_or_the_pipelines():
    forbidden = ("nlp_pipeline.config", "nlp_pipeline.pipelines", "nlp_pipeline.cli")
    for module in Path(stages_pkg.__file__).parent.glob("*.py"):
        tree = ast.parse(module.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for n in names:
                assert not n.startswith(forbidden), f"{module.name} imports {n}"
