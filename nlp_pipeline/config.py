"""Pipeline configuration: each pipeline's schema, built from the declared settings, and how a run gets it.

A schema (`SentimentConfig`, …) lists a pipeline's sections, each a group of `nlp_pipeline.settings`,
and the defaults where this pipeline differs from the group's (sentiment's 300-d vectors). A run's
config is those defaults, then the user's pipeline file's values (``run my.yaml``), then
``--set section.key=value`` overrides, validated by pydantic. Every error is one line
naming the key. The shipped YAML files, ``config show``, ``config init`` and ``config schema`` are
all rendered from the schema (`render_yaml`, `describe`, `json_schema`), so none can disagree with it.
"""

from __future__ import annotations

import functools
import itertools
import json
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml
from pydantic import ValidationError

from nlp_pipeline import settings as s
from nlp_pipeline.errors import ConfigError
from nlp_pipeline.shipped import shipped_dir

PIPELINES_DIR = shipped_dir("pipelines")  # the schemas rendered (`make pipelines`); installed: the package's copy


class PipelineConfig(s.Group):
    """What every pipeline has: the ``pipeline`` type, how it runs, where its report goes."""

    kind: ClassVar[str]
    about: ClassVar[str]

    runtime: s.Runtime = s.Runtime()
    report: s.Report = s.Report()

    def to_dict(self) -> dict:
        return self.model_dump(mode="json")

    def uses_vectors(self) -> bool:
        return False

    def replace(self, section: str, **values: Any) -> PipelineConfig:
        """A copy with ``section``'s ``values`` replaced (a reference resolved to a path, say)."""
        return self.model_copy(update={section: getattr(self, section).model_copy(update=values)})


# The vectors the classifiers, the tagger and the language model start from: 300-d skip-gram with
# sample 1e-4 (better word similarity than word2vec's own 100-d defaults, at ~15% more time).
PRETRAINED = s.Embed(vector_size=300, min_count=3, sample=0.0001, epochs=3)


class TaskConfig(PipelineConfig):
    """A pipeline that trains a model on a task (classifier, tagger): vectors unless its model says not."""

    def uses_vectors(self) -> bool:
        return self.model.init == "word2vec" and self.model.embedding_mode != "random"


AUTO_TEXT = ("auto",)  # data.text's default where a corpus is named: see `resolve_auto_text`


class SentimentConfig(TaskConfig):
    kind: ClassVar[str] = "sentiment"
    about: ClassVar[str] = ("The sentiment pipeline: tokenize → pretrain_text → embed → train → evaluate.\n"
                            "A labelled corpus, word2vec vectors trained on unlabelled in-domain text, an RNN "
                            "classifier.")
    pipeline: Literal["sentiment"] = "sentiment"
    data: s.LabelledData = s.LabelledData(text=AUTO_TEXT)
    # data.text=[auto] with a registered corpus: in-domain movie-review text, SST-2's own training split last.
    pretrain_text: ClassVar[tuple[str, ...]] = ("imdb:train", "imdb_unsup", "sst2:train")
    tokenize: s.Tokenize = s.Tokenize()
    embed: s.Embed = PRETRAINED
    model: s.ClassifierModel = s.ClassifierModel()
    train: s.ClassifierTraining = s.ClassifierTraining()


class TaggingConfig(TaskConfig):
    kind: ClassVar[str] = "tagging"
    about: ClassVar[str] = ("The tagging pipeline: treebank → pretrain_text → embed → train_tagger → evaluate_tagger.\n"
                            "A part-of-speech tagger on a CoNLL-U treebank, from word2vec vectors.")
    pipeline: Literal["tagging"] = "tagging"
    data: s.TaggedData = s.TaggedData(text=AUTO_TEXT, test_fraction=0.0)
    pretrain_text: ClassVar[tuple[str, ...]] = ("ud_en_ewt:train", "imdb:train", "imdb_unsup")
    tokenize: s.Tokenize = s.Tokenize()
    embed: s.Embed = PRETRAINED
    model: s.TaggerModel = s.TaggerModel(hidden_size=200, num_layers=2, dropout=0.33, embedding_dropout=0.0)
    train: s.TaggerTraining = s.TaggerTraining(epochs=20, batch_size=32, patience=4)


class EmbeddingsConfig(PipelineConfig):
    kind: ClassVar[str] = "embeddings"
    about: ClassVar[str] = ("The embeddings pipeline: pretrain_text → (phrases) → embed → evaluate_vectors, on any "
                            "text.\nIts vectors feed the other pipelines: --set embed.vectors=<key prefix|latest>.")
    pipeline: Literal["embeddings"] = "embeddings"
    data: s.TextData = s.TextData()
    tokenize: s.Tokenize = s.Tokenize()
    phrases: s.Phrases = s.Phrases()
    embed: s.Word2Vec = s.Word2Vec()
    evaluate: s.EvaluateVectors = s.EvaluateVectors()

    def uses_vectors(self) -> bool:
        return True


class LMConfig(PipelineConfig):
    kind: ClassVar[str] = "lm"
    about: ClassVar[str] = ("The language-model pipeline: pretrain_text → lm_data → embed → train_lm → evaluate_lm.\n"
                            "An RNN language model (truncated BPTT) that classifiers and taggers can start from.")
    pipeline: Literal["lm"] = "lm"
    data: s.LMData = s.LMData()
    tokenize: s.Tokenize = s.Tokenize()
    embed: s.Embed = PRETRAINED
    lm: s.LanguageModel = s.LanguageModel()
    generate: s.Generate = s.Generate()

    def uses_vectors(self) -> bool:
        return self.lm.embedding_init == "word2vec"


SCHEMAS: dict[str, type[PipelineConfig]] = {c.kind: c for c in (SentimentConfig, TaggingConfig, EmbeddingsConfig,
                                                                 LMConfig)}

# Keys that were renamed: a file or --set that still uses one is an error naming the new key.
RENAMED = {
    "embed.sources": "data.text", "embed.dedup_against": "data.dedup_against",
    "train.device": "runtime.device", "embed.device": "runtime.device", "lm.device": "runtime.device",
    "train.num_threads": "runtime.threads", "lm.num_threads": "runtime.threads",
    "embed.workers": "runtime.threads", "tokenize.n_process": "runtime.threads",
}
RENAMED_WITH_TEXT = {"data.corpus": "data.text"}  # in the pipelines whose data is text only (embeddings, lm)


# -- finding and reading a pipeline file -----------------------------------------------------------


def pipeline_names() -> list[str]:
    return list(SCHEMAS)


def pipeline_path(name: str) -> Path | None:
    """The file a run reads: a user's YAML, or None for a pipeline's name, whose defaults are its schema
    (the shipped ``pipelines/<name>.yaml`` is that schema rendered, for reading and copying; a test
    keeps the two equal, so a run never depends on finding it)."""
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError("pipeline file not found", path=path)
        return path
    if name not in SCHEMAS:
        raise ConfigError(f"unknown pipeline {name!r}; valid: {', '.join(SCHEMAS)} or a pipeline .yaml file")
    return None


def load_raw(name: str) -> dict:
    path = pipeline_path(name)
    if path is None:
        return {"pipeline": name}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(err, 'problem', err)}", path=path,
                          line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise ConfigError("a pipeline file must be a mapping of sections", path=path)
    data.setdefault("pipeline", Path(name).stem)
    return data


def pipeline_type(name: str) -> str:
    """The ``pipeline:`` type a pipeline file declares (its file stem when it declares none)."""
    kind = load_raw(name)["pipeline"]
    if kind not in SCHEMAS:
        raise ConfigError(f"unknown pipeline type {kind!r}; valid: {', '.join(SCHEMAS)}")
    return kind


def takes_several_corpora(kind: str) -> bool:
    """Whether ``--corpus`` names text sources (``data.text``: embeddings, lm) or one labelled corpus."""
    data = SCHEMAS[kind].model_fields.get("data")
    return data is not None and "corpus" not in data.annotation.model_fields


def corpus_key(kind: str) -> str:
    """The setting ``--corpus`` sets."""
    return "data.text" if takes_several_corpora(kind) else "data.corpus"


# -- overrides -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypedText:
    """A ``--set`` value as typed and as YAML reads it, until the key's declared type picks one.

    YAML alone cannot know that ``embed.vectors=5883361850`` (a cache key prefix that happens to be
    all digits) or ``data.corpus=yes`` means text: it reads an int and a bool. A text key takes what
    the user typed; every other key takes the YAML reading. A bracketed list
    (``"model.lm=[5883361850, abc]"``) keeps each item's text too, in ``items``.
    """

    text: str
    parsed: Any
    items: tuple[TypedText, ...] | None = None


def _split_override(text: str) -> tuple[str, TypedText]:
    if "=" not in text:
        raise ConfigError(f"bad override {text!r}: expected KEY=VALUE, e.g. model.encoder=lstm")
    key, value = text.split("=", 1)
    return key.strip(), _typed(value)


def _typed(text: str) -> TypedText:
    try:
        parsed = yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError:
        return TypedText(text, text)
    node = yaml.compose(text) if isinstance(parsed, list) else None
    if isinstance(node, yaml.SequenceNode) and all(isinstance(n, yaml.ScalarNode) for n in node.value):
        items = tuple(TypedText(n.value, item) for n, item in zip(node.value, parsed, strict=True))
        return TypedText(text, parsed, items)
    return TypedText(text, parsed)


def _field(schema: type[PipelineConfig], section: str, name: str) -> Any:
    return schema.model_fields[section].annotation.model_fields[name]


def _choose(value: TypedText, annotation: Any) -> Any:
    """The value a ``--set`` gives a key of this type: as typed for text, as YAML reads it otherwise."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        if value.parsed is None and type(None) in args:
            return None
        annotation = next(a for a in args if a is not type(None))
        args = typing.get_args(annotation)
    if annotation is str:
        if not value.text.strip():
            return value.parsed
        return value.parsed if isinstance(value.parsed, str) else value.text  # a quoted value keeps YAML's reading
    if typing.get_origin(annotation) is tuple:
        text_items = args[0] is str
        if value.items is not None:  # [a, b]: each item as typed for text
            return [_choose(i, str) if text_items else i.parsed for i in value.items]
        if isinstance(value.parsed, bool | int | float):  # one item
            return [value.text if text_items else value.parsed]
        if isinstance(value.parsed, str):  # "a,b": each item as typed for text, as YAML reads it for numbers
            parts = [_typed(v.strip()) for v in value.parsed.split(",") if v.strip()]
            return [_choose(p, str) if text_items else p.parsed for p in parts]
    return value.parsed


def _unknown(schema: type[PipelineConfig], key: str, valid: list[str]) -> ConfigError:
    kind = schema.kind
    new = RENAMED.get(key) or (RENAMED_WITH_TEXT.get(key) if takes_several_corpora(kind) else None)
    if new is not None:
        return ConfigError(f"{key!r} is now {new!r}: rename it")
    return ConfigError(f"unknown key {key!r}; valid keys: {', '.join(valid)}")


@functools.cache
def all_keys(schema: type[PipelineConfig]) -> tuple[str, ...]:
    """Every ``section.key`` of a schema (fixed for a schema: computed once)."""
    return tuple(f"{sec}.{name}" for sec, f in schema.model_fields.items() if sec != "pipeline"
                 for name in f.annotation.model_fields)


def apply_overrides(raw: dict, overrides: list[str], schema: type[PipelineConfig]) -> dict:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for text in overrides:
        key, value = _split_override(text)
        parts = key.split(".")
        if len(parts) != 2:
            raise ConfigError(f"bad override key {key!r}: use SECTION.KEY; valid keys: {', '.join(all_keys(schema))}")
        section, name = parts
        if key not in all_keys(schema):
            raise _unknown(schema, key, all_keys(schema))
        out.setdefault(section, {})[name] = _choose(value, _field(schema, section, name).annotation)
    return out


# -- loading and validating ------------------------------------------------------------------------


def load_config(name: str, overrides: list[str] | None = None, *, keep_auto: bool = False) -> Any:
    """The config a run uses: the schema's defaults, the pipeline file's values, then ``overrides``;
    ``data.text: [auto]`` resolved to the sources it stands for (``keep_auto``: not, to write a file
    that keeps following its corpus)."""
    raw = load_raw(name)
    kind = raw.pop("pipeline")
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise ConfigError(f"unknown pipeline type {kind!r}; valid: {', '.join(SCHEMAS)}")
    path = pipeline_path(name)
    for section, values in raw.items():
        if section not in schema.model_fields:
            raise ConfigError(f"unknown section {section!r}{_where(path)}; valid: "
                              f"{', '.join(k for k in schema.model_fields if k != 'pipeline')}")
        if not isinstance(values, dict):
            raise ConfigError(f"{section!r} must be a section (mapping){_where(path)}")
        for key in values:
            if f"{section}.{key}" not in all_keys(schema):
                raise _unknown(schema, f"{section}.{key}", sorted(schema.model_fields[section].annotation.model_fields))
    raw = apply_overrides(raw, overrides or [], schema)
    defaults = schema().model_dump()
    merged = {sec: {**defaults[sec], **raw.get(sec, {})} for sec in defaults if sec != "pipeline"}
    try:
        config = schema.model_validate(merged)
    except ValidationError as err:
        raise ConfigError(s.error_message(err, schema)) from None
    if not keep_auto:
        config = resolve_auto_text(config)
    check_relations(config)
    return config


def resolve_auto_text(config: Any) -> Any:
    """``data.text: [auto]`` → the text the vectors learn from: a user's own corpus file's text (its dev and
    test documents are held out downstream), so a run on your data never reads, nor downloads, movie
    reviews it did not ask for; a registered corpus → the pipeline's in-domain text (``pretrain_text``)."""
    data = getattr(config, "data", None)
    if data is None or "auto" not in data.text:
        return config
    if len(data.text) > 1:
        raise ConfigError(f"data.text: 'auto' stands alone, got {list(data.text)}; list the sources instead")
    corpus = getattr(data, "corpus", None)
    if corpus is None:
        raise ConfigError("data.text: 'auto' needs a data.corpus (sentiment, tagging); list the text sources")
    from nlp_pipeline.data import list_corpora

    registered = corpus in list_corpora()
    return config.replace("data", text=tuple(config.pretrain_text) if registered else (corpus,))


def _where(path: Path | None) -> str:
    return f" in {path}" if path is not None else ""


def check_relations(config: Any) -> None:
    """The check that ties two sections together (a group's own checks are its validators, in
    `nlp_pipeline.settings`): a model that starts from vectors needs text to train them on, or yours."""
    data, embed = getattr(config, "data", None), getattr(config, "embed", None)
    if config.uses_vectors() and data is not None and not data.text and getattr(embed, "vectors", None) is None:
        fix = "or set model.embedding_mode=random" if hasattr(config, "model") else "or give embed.vectors"
        raise ConfigError(f"data.text is empty: list at least one text source for the word vectors, {fix}")


def expand_grid(grid: list[str]) -> list[list[str]]:
    """``["model.encoder=rnn,lstm", "model.embedding_mode=frozen,fine-tuned"]`` → 4 override lists."""
    axes = []
    for spec in grid:
        if "=" not in spec:
            raise ConfigError(f"bad --grid {spec!r}: expected KEY=V1,V2, e.g. --grid model.encoder=rnn,lstm")
        key = spec.split("=", 1)[0].strip()
        values = [v.strip() for v in spec.split("=", 1)[1].split(",")]
        if not any(values):
            raise ConfigError(f"--grid {spec}: no values; give at least one, e.g. --grid {key}=a,b")
        if not all(values):
            raise ConfigError(f"--grid {spec}: an empty value between commas")
        if len(set(values)) != len(values):
            raise ConfigError(f"--grid {spec}: a value is listed twice")
        axes.append([f"{key}={v}" for v in values])
    return [list(combo) for combo in itertools.product(*axes)] if axes else [[]]


# -- views of the schema: YAML, config show, JSON Schema -------------------------------------------


def _yaml_value(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000, allow_unicode=True).strip()
    return text.removesuffix("\n...").removesuffix("...").strip()


def role_note(schema: type[PipelineConfig], section: str, name: str) -> str:
    field = _field(schema, section, name)
    role = (field.json_schema_extra or {}).get("role", "key")
    return {"key": "in the key", "input": "its data's content is in the key",
            "runtime": "not in any key"}[role]


def render_yaml(config: PipelineConfig, *, header: str | None = None) -> str:
    """``config`` as a pipeline file with a comment on every key (what ``config init`` writes, and
    what the shipped ``pipelines/*.yaml`` are)."""
    schema = type(config)
    lines = [f"# {line}" for line in (header or schema.about).splitlines()]
    lines += ["# Every key can be overridden: --set section.key=value (values are YAML). `nlp-pipeline config show "
              f"{schema.kind}`", "# lists each key with its range; keys left out of this file take their defaults.",
              f"pipeline: {schema.kind}", ""]
    values = config.model_dump()
    for section in sections(schema):
        group = schema.model_fields[section].annotation
        doc = (group.__doc__ or "").strip().splitlines()[0] if group.__doc__ else section
        lines.append(f"{section}:".ljust(27) + f"# {doc}")
        for name, field in group.model_fields.items():
            entry = f"  {name}: {_yaml_value(values[section][name])}"
            note = "" if role_note(schema, section, name) == "in the key" else " (not in the cache key)" \
                if role_note(schema, section, name) == "not in any key" else ""
            lines.append(entry.ljust(27) + f"  # {field.description}{note}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def write_pipeline_file(name: str, path: str | Path, overrides: list[str] | None = None, *,
                        overwrite: bool = False) -> Path:
    """``config init``: ``name``'s settings (with ``overrides``) as a commented pipeline file at ``path``."""
    path = Path(path)
    if path.suffix not in (".yaml", ".yml"):
        raise ConfigError("a pipeline file must end in .yaml or .yml", path=path)
    if path.exists() and not overwrite:
        raise ConfigError("exists already: give --force to overwrite it", path=path)
    text = render_yaml(load_config(name, overrides, keep_auto=True))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def sections(schema: type[PipelineConfig]) -> list[str]:
    """A schema's sections in reading order: the pipeline's own, then runtime and report."""
    own = [k for k in schema.model_fields if k not in ("pipeline", "runtime", "report")]
    return [*own, "runtime", "report"]


def describe(config: PipelineConfig) -> list[dict]:
    """One row per key: its value, meaning, valid range or choices, and how it reaches a cache key."""
    schema = type(config)
    rows = []
    values = config.model_dump(mode="json")
    for section in sections(schema):
        for name, field in schema.model_fields[section].annotation.model_fields.items():
            choices = next((typing.get_args(a) for a in s.flat_args(field.annotation)
                            if typing.get_origin(a) is Literal), None)
            valid = " | ".join(map(str, choices)) if choices else s.bounds(field)
            rows.append({"key": f"{section}.{name}", "value": values[section][name], "description": field.description,
                         "valid": valid, "cache_key": role_note(schema, section, name)})
    return rows


def reference_markdown() -> str:
    """The configuration reference (``docs/configuration.md``): every pipeline's settings, from their
    declarations, so the page cannot drift from what `run` accepts."""
    out = ["# Configuration reference", "",
           "Generated from the declarations in `nlp_pipeline/settings.py` and the pipeline schemas in",
           "`nlp_pipeline/config.py` (`make docs-config`); `nlp-pipeline config show PIPELINE` prints the same",
           "with your overrides applied. *In the key*: a change rebuilds the stages that read it; *content*: the",
           "data it names is hashed into the key; *not in any key*: how a run executes, not what it computes.", ""]
    for kind, schema in SCHEMAS.items():
        out += [f"## {kind}", "", schema.about.replace("\n", " "), "",
                "| key | default | valid | meaning | cache key |", "|---|---|---|---|---|"]
        for row in describe(schema()):
            cell = json.dumps(row["value"]).replace("|", "\\|")
            out.append(f"| `{row['key']}` | `{cell}` | {row['valid'].replace('|', 'or')} | "
                       f"{row['description'].replace('|', 'or')} | {row['cache_key']} |")
        out.append("")
    return "\n".join(out)


def json_schema(kind: str) -> dict:
    """A JSON Schema of a pipeline file (for an editor's YAML language server)."""
    config = SCHEMAS[kind]
    schema = config.model_json_schema()
    defaults = config().model_dump(mode="json")
    for section, prop in schema["properties"].items():
        ref = prop.pop("$ref", None) or next((a["$ref"] for a in prop.pop("allOf", []) if "$ref" in a), None)
        if ref is None:
            continue
        inline = json.loads(json.dumps(schema["$defs"][ref.rsplit("/", 1)[1]]))  # a copy with this pipeline's defaults
        for name, field in inline["properties"].items():
            field["default"] = defaults[section][name]
        prop.update(inline)
        prop.pop("default", None)
    schema.pop("$defs", None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"nlp-pipeline {kind} pipeline"
    schema["required"] = ["pipeline"]
    return schema


def numeric_keys(schema: type[PipelineConfig]) -> list[tuple[str, Any]]:
    """``(section.key, field)`` of every int or float setting (choices such as ``embed.sg: 0 | 1`` excluded)."""
    found = []
    for section, info in schema.model_fields.items():
        if section == "pipeline":
            continue
        for name, field in info.annotation.model_fields.items():
            args = s.flat_args(field.annotation)
            if any(typing.get_origin(a) in (Literal, tuple) for a in args):  # choices; lists (checked as a whole)
                continue
            if any(a in (int, float) for a in args):
                found.append((f"{section}.{name}", field))
    return found
