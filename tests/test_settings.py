"""Each setting is declared once (`nlp_pipeline.settings`); everything else is derived from it.

These tests fail when a second declaration creeps in: a default written down again elsewhere, a shipped
YAML that says something else than the declaration, a stage that reads a value no setting declares.
"""

from __future__ import annotations

import ast
import inspect
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

import nlp_pipeline
from nlp_pipeline import settings
from nlp_pipeline.config import PIPELINES_DIR, SCHEMAS, json_schema, load_config, render_yaml
from nlp_pipeline.errors import ConfigError
from nlp_pipeline.pipelines.registry import stages

PACKAGE = Path(nlp_pipeline.__file__).parent


def declared_names() -> set[str]:
    return {name for group in vars(settings).values() if isinstance(group, type) and issubclass(group, settings.Group)
            for name in group.model_fields}


# Fields that share a setting's name but are another thing, each with why.
NOT_THE_SETTING = {
    ("engine/stage.py", "Runtime", "device"): "the resolved device a build runs on (cpu, cuda:0), not the setting",
    ("engine/stage.py", "DataRef", "data_dir"): "where one input was found, not the setting's default",
    ("batch/shards.py", "ShardJob", "batch_size"): "documents per shard batch in `process`, not a training batch",
    ("batch/tasks.py", "TaskSpec", "threads"): "torch threads in each `process` worker (one per worker process)",
    ("models/classifier.py", "ClassifierConfig", "embedding_dim"): "the word table's width, which follows the vectors",
    ("models/tagger.py", "TaggerConfig", "embedding_dim"): "the word table's width, which follows the vectors",
}


def literal_defaults(path: Path) -> list[tuple[str, str, int]]:
    """``(class, field, line)`` of each class-body field given a literal default (``x: int = 5``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.ClassDef):
            continue
        for item in node.body:
            if (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) and item.value is not None
                    and isinstance(item.value, ast.Constant | ast.Tuple | ast.UnaryOp)):
                found.append((node.name, item.target.id, item.lineno))
    return found


def test_no_default_of_a_setting_is_written_down_twice():
    names = declared_names()
    twice = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "settings.py":
            continue
        for cls, field, line in literal_defaults(path):
            if field in names and (rel, cls, field) not in NOT_THE_SETTING:
                twice.append(f"{rel}:{line} {cls}.{field}")
    assert not twice, "defaults declared again outside nlp_pipeline/settings.py (use settings.default_of):\n" + \
        "\n".join(twice)


def test_the_engines_configs_take_their_defaults_from_the_declarations():
    from nlp_pipeline.embeddings.gensim_engine import Word2VecParams
    from nlp_pipeline.training.language_model import LMTrainConfig
    from nlp_pipeline.training.loop import TrainConfig

    for config, group in ((TrainConfig, settings.ClassifierTraining), (LMTrainConfig, settings.LMTraining),
                          (Word2VecParams, settings.Word2Vec)):
        for name, field in group.model_fields.items():
            assert config.model_fields[name].default == field.default, f"{config.__name__}.{name}"


@pytest.mark.parametrize("pipeline", sorted(SCHEMAS))
def test_a_shipped_pipeline_file_is_its_declaration_rendered(pipeline):
    """So no YAML value can disagree with its declaration (regenerate: `nlp-pipeline config init NAME FILE`)."""
    shipped = (PIPELINES_DIR / f"{pipeline}.yaml").read_text(encoding="utf-8")
    assert shipped == render_yaml(SCHEMAS[pipeline]()), \
        f"pipelines/{pipeline}.yaml differs from its declaration: `make pipelines` rewrites it"
    assert load_config(pipeline, keep_auto=True) == SCHEMAS[pipeline]()


@pytest.mark.parametrize("pipeline", sorted(SCHEMAS))
def test_the_json_schema_accepts_the_shipped_file_and_refuses_a_wrong_type_or_an_unknown_key(pipeline):
    schema = json_schema(pipeline)
    jsonschema.Draft202012Validator.check_schema(schema)
    document = yaml.safe_load((PIPELINES_DIR / f"{pipeline}.yaml").read_text(encoding="utf-8"))
    jsonschema.validate(document, schema)
    wrong_type = json.loads(json.dumps(document))
    wrong_type["embed"]["window"] = "wide"
    with pytest.raises(jsonschema.ValidationError, match="wide"):
        jsonschema.validate(wrong_type, schema)
    unknown = json.loads(json.dumps(document))
    unknown["embed"]["windw"] = 5
    with pytest.raises(jsonschema.ValidationError, match="windw"):
        jsonschema.validate(unknown, schema)
    out_of_range = json.loads(json.dumps(document))
    out_of_range["embed"]["window"] = 0
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(out_of_range, schema)


def test_every_stage_parameter_is_a_declared_setting_or_a_declared_derivation():
    for name, stage in stages().items():
        params = stage.params
        for field in params.model_fields:
            if field in params.derived:
                continue
            group = params.sources[field]
            assert params.model_fields[field] is group.model_fields[field] or \
                params.model_fields[field].default == group.model_fields[field].default, f"{name}.{field}"
            assert settings.role_of(group, field) == "key", f"{name}.{field} is not a key setting"


def _reads(fn) -> set[str]:
    """Attribute names a build function reads from its params (``params.x`` or ``p.x`` after ``p = params``)."""
    tree = ast.parse(inspect.getsource(fn))
    aliases = {"params"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id == "params":
            aliases |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases}


def test_no_stage_reads_a_value_that_is_not_one_of_its_parameters():
    for name, stage in stages().items():
        unknown = _reads(stage.build) - set(stage.params.model_fields)
        assert not unknown, f"{name} reads {sorted(unknown)}, which are not its declared parameters"


def test_the_configuration_reference_is_the_declarations_rendered():
    from nlp_pipeline.config import reference_markdown

    page = (PACKAGE.parent / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert page == reference_markdown(), "docs/configuration.md differs from the declarations: `make docs-config`"
    assert "| `train.label_smoothing` | `0.0` | [0, 1) |" in page


def test_relu_is_the_plain_rnns_alone():
    assert load_config("sentiment", ["model.encoder=rnn", "model.nonlinearity=relu"]).model.nonlinearity == "relu"
    with pytest.raises(ConfigError, match=r"^model.nonlinearity=relu applies to the plain rnn only, not "
                                          r"model.encoder=bilstm"):
        load_config("sentiment", ["model.nonlinearity=relu"])
    with pytest.raises(ConfigError, match=r"^lm.nonlinearity=relu applies to the plain rnn only, not lm.cell=lstm"):
        load_config("lm", ["lm.nonlinearity=relu"])


def test_tensorboard_without_its_package_is_one_line_and_exit_2_before_anything_runs(monkeypatch):
    import importlib.util

    from click.testing import CliRunner

    from nlp_pipeline.cli import main

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tensorboard" else
                        find_spec(name, *a))
    result = CliRunner().invoke(main, ["run", "sentiment", "--set", "report.tensorboard=true", "--dry-run"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].endswith(
        'report.tensorboard=true needs the tensorboard package: pip install "nlp-pipeline[tensorboard]"')
    assert len(result.output.strip().splitlines()) == 1
