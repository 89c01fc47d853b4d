"""Pipeline configuration: ``pipelines/<name>.yaml`` plus dotted ``--set`` overrides, validated.

The YAML files are the one commented place where defaults live; the dataclasses below are the
schema (types and allowed values). An override names a dotted key (``model.encoder=lstm``); an
unknown key or a value of the wrong type is a `ConfigError` that lists what is valid.
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Literal

import yaml

from nlp_pipeline.errors import ConfigError

PIPELINES_DIR = Path(__file__).resolve().parent.parent / "pipelines"

Encoder = Literal["rnn", "gru", "lstm", "bilstm"]
EmbeddingMode = Literal["frozen", "fine-tuned", "random"]
Pooling = Literal["last", "max", "mean"]


@dataclass
class DataConfig:
    corpus: str
    data_dir: str | None
    labels: list[str] | None
    min_label_count: int
    dev_fraction: float
    test_fraction: float
    seed: int


@dataclass
class TokenizeConfig:
    lowercase: bool
    strip_html: bool
    n_process: int


@dataclass
class Word2VecSection:
    """The word2vec settings every pipeline's ``embed`` section has."""

    engine: Literal["gensim", "torch"]
    sg: Literal[0, 1]
    vector_size: int
    window: int
    negative: int
    min_count: int
    sample: float
    epochs: int
    alpha: float
    min_alpha: float
    max_vocab_size: int | None
    workers: int
    seed: int
    batch_words: int | None
    kernel: Literal["auto", "native", "tensor"]


@dataclass
class EmbedConfig(Word2VecSection):
    """sentiment and tagging: vectors trained on ``sources``, or the user's own ``vectors``."""

    vectors: str | None
    sources: list[str]
    dedup_against: list[str] | None


@dataclass
class ModelConfig:
    encoder: Encoder
    embedding_mode: EmbeddingMode
    hidden_size: int
    num_layers: int
    dropout: float
    embedding_dropout: float
    pooling: Pooling
    init: Literal["word2vec", "lm"]
    lm: list[str]
    lm_finetune_tokens: int


@dataclass
class TrainConfigSection:
    epochs: int
    batch_size: int
    lr: float
    embedding_lr_scale: float
    weight_decay: float
    clip_norm: float
    patience: int
    lr_layer_decay: float
    unfreeze: Literal["all", "gradual"]
    max_length: int | None
    vocab_min_count: int
    vocab_from_vectors: int
    seed: int
    device: str
    num_threads: int


@dataclass
class ReportConfig:
    dir: str


@dataclass
class SentimentConfig:
    data: DataConfig
    tokenize: TokenizeConfig
    embed: EmbedConfig
    model: ModelConfig
    train: TrainConfigSection
    report: ReportConfig

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def uses_vectors(self) -> bool:
        return self.model.init == "word2vec" and self.model.embedding_mode != "random"


@dataclass
class TaggingDataConfig:
    corpus: str
    data_dir: str | None
    tagset: Literal["upos", "xpos"]
    dev_fraction: float
    test_fraction: float
    seed: int


@dataclass
class TaggerModelSection:
    encoder: Encoder
    embedding_mode: EmbeddingMode
    char_encoder: Literal["none", "cnn", "bilstm"]
    hidden_size: int
    num_layers: int
    dropout: float
    embedding_dropout: float
    char_dim: int
    char_hidden: int
    crf: bool
    init: Literal["word2vec", "lm"]
    lm: list[str]
    lm_finetune_tokens: int


@dataclass
class TaggerTrainSection:
    epochs: int
    batch_size: int
    lr: float
    embedding_lr_scale: float
    weight_decay: float
    clip_norm: float
    patience: int
    lr_decay: float
    lr_layer_decay: float
    unfreeze: Literal["all", "gradual"]
    word_dropout: float
    vocab_min_count: int
    vocab_from_vectors: int
    seed: int
    device: str
    num_threads: int


@dataclass
class TaggingConfig:
    data: TaggingDataConfig
    tokenize: TokenizeConfig
    embed: EmbedConfig
    model: TaggerModelSection
    train: TaggerTrainSection
    report: ReportConfig

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def uses_vectors(self) -> bool:
        return self.model.init == "word2vec" and self.model.embedding_mode != "random"


@dataclass
class EmbeddingsDataConfig:
    corpus: list[str]
    data_dir: str | None
    text_field: str
    text_column: str | None
    dedup_against: list[str] | None
    dev_fraction: float
    test_fraction: float
    seed: int


@dataclass
class PhrasesConfig:
    passes: int
    min_count: int
    threshold: float
    scoring: Literal["default", "npmi"]
    connector_words: Literal["english", "none"]


@dataclass
class EmbeddingsEmbedConfig(Word2VecSection):
    device: str  # the torch engine's device (this pipeline has no train section)


@dataclass
class EvaluateVectorsConfig:
    standard: bool
    pairs: list[str]
    analogies: list[str]
    restrict_vocab: int
    probes: list[str]
    neighbours: int
    map_words: int
    map_method: Literal["tsne", "umap", "pca"]
    map_labels: int
    seed: int


@dataclass
class EmbeddingsConfig:
    data: EmbeddingsDataConfig
    tokenize: TokenizeConfig
    phrases: PhrasesConfig
    embed: EmbeddingsEmbedConfig
    evaluate: EvaluateVectorsConfig
    report: ReportConfig

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass
class LMDataConfig(EmbeddingsDataConfig):
    heldout_fraction: float  # documents kept out of training for perplexity


@dataclass
class LMEmbedConfig(Word2VecSection):
    vectors: str | None  # your vectors instead of training them on the language model's training text


@dataclass
class LMSection:
    direction: Literal["forward", "backward"]
    cell: Literal["rnn", "gru", "lstm"]
    num_layers: int
    hidden_size: int
    embedding_init: Literal["word2vec", "random"]
    embedding_dim: int
    dropout: float
    embedding_dropout: float
    output: Literal["adaptive", "full"]
    cutoffs: list[int]
    tie_weights: bool
    vocab_size: int
    min_count: int
    epochs: int
    max_tokens: int | None
    batch_size: int
    bptt: int
    lr: float
    lr_schedule: Literal["linear", "cosine", "constant"]
    warmup: float
    weight_decay: float
    clip_norm: float
    evaluations: int
    seed: int
    device: str
    num_threads: int


@dataclass
class GenerateSection:
    prompts: list[str]
    max_tokens: int
    temperature: float
    top_k: int
    top_p: float
    seed: int


@dataclass
class LMConfig:
    data: LMDataConfig
    tokenize: TokenizeConfig
    embed: LMEmbedConfig
    lm: LMSection
    generate: GenerateSection
    report: ReportConfig

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def uses_vectors(self) -> bool:
        return self.lm.embedding_init == "word2vec"


SCHEMAS: dict[str, type] = {"sentiment": SentimentConfig, "tagging": TaggingConfig, "embeddings": EmbeddingsConfig,
                            "lm": LMConfig}

# Settings that no stage key covers, and why they may not: how a run executes, not what it computes.
# Everything else in a pipeline YAML reaches some stage's parameters (a test changes every key and
# checks that some stage key changes, or that the key is listed here).
NON_KEY_SETTINGS: dict[str, str] = {
    "data.data_dir": "where the corpus files are looked for; the key holds their content hashes",
    "tokenize.n_process": "tokenizer processes; the tokens are the same for any number (tested)",
    "embed.workers": "word2vec threads; one thread is bit-reproducible, several are not (Hogwild), "
                     "so the key holds only whether the build is deterministic",
    "train.device": "cpu or cuda, resolved once per command; the key holds only whether the build is "
                    "deterministic (CUDA kernels are not bit-reproducible)",
    "embed.device": "the embeddings pipeline's train.device (the torch engine's cpu or cuda), likewise",
    "train.num_threads": "torch CPU threads; a scheduling choice",
    "lm.device": "the lm pipeline's train.device, likewise",
    "lm.num_threads": "the lm pipeline's train.num_threads, likewise",
    "report.dir": "where report folders are written; no stage reads it",
}


def pipeline_path(name: str) -> Path:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.is_file():
        return path
    candidate = PIPELINES_DIR / f"{name}.yaml"
    if not candidate.is_file():
        valid = ", ".join(sorted(p.stem for p in PIPELINES_DIR.glob("*.yaml")))
        raise ConfigError(f"unknown pipeline {name!r}; valid: {valid}")
    return candidate


def load_raw(name: str) -> dict:
    path = pipeline_path(name)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise ConfigError(f"invalid YAML: {getattr(err, 'problem', err)}", path=path,
                          line=mark.line + 1 if mark else None) from None
    if not isinstance(data, dict):
        raise ConfigError("a pipeline file must be a mapping of sections", path=path)
    return data


@dataclass(frozen=True)
class TypedText:
    """A ``--set`` value as typed and as YAML reads it, until the key's declared type picks one.

    YAML alone cannot know that ``embed.vectors=5883361850`` (a cache key prefix that happens to be
    all digits) or ``data.corpus=yes`` means text: it reads an int and a bool. A string-typed key
    takes what the user typed; every other key takes the YAML reading. A bracketed list
    (``"model.lm=[5883361850, abc]"``) keeps each item's text too, in ``items``.
    """

    text: str
    parsed: Any
    items: tuple[TypedText, ...] | None = None


def parse_override(text: str) -> tuple[str, Any]:
    """``"model.encoder=lstm"`` → ``("model.encoder", "lstm")``; the value is parsed as YAML."""
    key, value = _split_override(text)
    return key, value.parsed


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


def apply_overrides(raw: dict, overrides: list[str], schema: type) -> dict:
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for text in overrides:
        key, value = _split_override(text)
        parts = key.split(".")
        if len(parts) != 2:
            raise ConfigError(f"bad override key {key!r}: use SECTION.KEY; valid keys: {_valid_keys(schema)}")
        section, name = parts
        sections = {f.name: f.type for f in fields(schema)}
        if section not in sections:
            raise ConfigError(f"unknown key {key!r}; valid keys: {_valid_keys(schema)}")
        out.setdefault(section, {})[name] = value
    return out


def _valid_keys(schema: type) -> str:
    hints = typing.get_type_hints(schema)
    keys = []
    for name, section in hints.items():
        keys += [f"{name}.{f.name}" for f in fields(section)]
    return ", ".join(keys)


def build(schema: type, raw: dict, where: str = "") -> Any:
    """Construct a nested dataclass from a dict, checking every key and value type."""
    hints = typing.get_type_hints(schema)
    known = {f.name for f in fields(schema)}
    unknown = set(raw) - known
    if unknown:
        key = f"{where}{sorted(unknown)[0]}"
        raise ConfigError(f"unknown key {key!r}; valid keys here: {', '.join(sorted(known))}")
    kwargs = {}
    for f in fields(schema):
        key = f"{where}{f.name}"
        if f.name not in raw:
            raise ConfigError(f"missing key {key!r}")
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            if not isinstance(raw[f.name], dict):
                raise ConfigError(f"{key!r} must be a section (mapping)")
            kwargs[f.name] = build(tp, raw[f.name], f"{key}.")
        else:
            kwargs[f.name] = _coerce(raw[f.name], tp, key)
    return schema(**kwargs)


def _coerce(value: Any, tp: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if _reading(value) is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, key)
            except ConfigError as err:
                errors.append(str(err))
        raise ConfigError(errors[0] if errors else f"{key}: bad value {_reading(value)!r}")
    if isinstance(value, TypedText):
        if tp is str and value.text.strip():
            # A quoted value ('"on"') keeps YAML's reading; a bare one is taken as typed.
            return value.parsed if isinstance(value.parsed, str) else value.text
        if origin is list and isinstance(value.parsed, bool | int | float):
            return _coerce(value.text, tp, key)  # one item that YAML reads as a number: 5883361850
        value = list(value.items) if origin is list and value.items is not None else value.parsed
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{key}={value!r} is not valid; choose one of: {', '.join(map(str, allowed))}")
        return value
    if origin is list:
        (item,) = typing.get_args(tp)
        if isinstance(value, str):  # "a,b": each item as typed for text, as YAML reads it for numbers
            value = [_typed(v.strip()) for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{key}={value!r} must be a list")
        return [_coerce(v, item, key) for v in value]
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}={value!r} must be true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}={value!r} must be an integer")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads "2e-3" (no dot) as a string
            with contextlib.suppress(ValueError):
                value = float(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key}={value!r} must be a number")
        return float(value)
    if tp is str:
        if isinstance(value, bool | int | float):  # a YAML file's bare 5883361850 or yes
            raise ConfigError(f"{key}={value!r} must be a string: put it in quotes")
        if not isinstance(value, str):
            raise ConfigError(f"{key}={value!r} must be a string")
        return value
    raise TypeError(f"unsupported config type {tp} for {key}")


def _reading(value: Any) -> Any:
    return value.parsed if isinstance(value, TypedText) else value


def pipeline_type(name: str) -> str:
    """The ``pipeline:`` type a pipeline file declares (its file stem when it declares none)."""
    return load_raw(name).get("pipeline", Path(name).stem)


def takes_several_corpora(kind: str) -> bool:
    """Whether a pipeline type's ``data.corpus`` is a list of sources (embeddings) or one corpus."""
    data = typing.get_type_hints(SCHEMAS[kind])["data"]
    return typing.get_origin(typing.get_type_hints(data)["corpus"]) is list


def load_config(name: str, overrides: list[str] | None = None) -> Any:
    """Load ``pipelines/<name>.yaml`` (or a path), apply overrides and validate."""
    raw = load_raw(name)
    pipeline = raw.pop("pipeline", Path(name).stem)
    schema = SCHEMAS.get(pipeline)
    if schema is None:
        raise ConfigError(f"unknown pipeline type {pipeline!r}; valid: {', '.join(SCHEMAS)}")
    raw = apply_overrides(raw, overrides or [], schema)
    config = build(schema, raw)
    _check_ranges(config)
    return config


@dataclass(frozen=True)
class Range:
    """An interval of valid values; ``None`` ends are unbounded."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False  # True: low itself is not allowed
    high_open: bool = False

    def __contains__(self, v: float) -> bool:
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            return False
        return not (self.high is not None and (v > self.high or (self.high_open and v == self.high)))

    def __str__(self) -> str:
        if self.high is None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        return f"{'(' if self.low_open else '['}{self.low:g}, {self.high:g}{')' if self.high_open else ']'}"


AT_LEAST_0, AT_LEAST_1, POSITIVE = Range(0), Range(1), Range(0, low_open=True)
FRACTION = Range(0, 1, high_open=True)  # [0, 1)

# The valid range of every numeric setting of every pipeline, checked before any stage runs (a test
# checks that every numeric key has one). ``None`` values (where a key allows null) are not checked.
RANGES: dict[str, Range] = {
    "data.dev_fraction": FRACTION,
    "data.test_fraction": FRACTION,
    "data.seed": AT_LEAST_0,
    "data.min_label_count": AT_LEAST_1,
    "tokenize.n_process": AT_LEAST_1,
    "embed.vector_size": AT_LEAST_1,
    "embed.window": AT_LEAST_1,
    "embed.negative": AT_LEAST_1,  # negative sampling is the only objective: 0 would train nothing
    "embed.min_count": AT_LEAST_1,
    "embed.sample": FRACTION,  # 0 = no subsampling
    "embed.epochs": AT_LEAST_1,
    "embed.alpha": Range(0, 1, low_open=True),
    "embed.min_alpha": Range(0, 1),
    "embed.max_vocab_size": AT_LEAST_1,
    "embed.workers": AT_LEAST_0,  # 0 = all cores
    "embed.seed": AT_LEAST_0,
    "embed.batch_words": AT_LEAST_1,
    "phrases.passes": Range(0, 2),  # 0 = no phrases; 2 = a second pass (trigrams and 4-grams)
    "phrases.min_count": AT_LEAST_1,
    "phrases.threshold": Range(-1),  # npmi scores lie in [-1, 1]; default scores are >= -1 too
    "evaluate.restrict_vocab": AT_LEAST_1,
    "evaluate.neighbours": AT_LEAST_1,
    "evaluate.map_words": AT_LEAST_0,  # 0 = no map
    "evaluate.map_labels": AT_LEAST_0,
    "evaluate.seed": AT_LEAST_0,
    "model.hidden_size": AT_LEAST_1,
    "model.num_layers": AT_LEAST_1,
    "model.dropout": FRACTION,
    "model.embedding_dropout": FRACTION,
    "model.char_dim": AT_LEAST_1,
    "model.char_hidden": AT_LEAST_1,
    "train.epochs": AT_LEAST_1,
    "train.batch_size": AT_LEAST_1,
    "train.lr": POSITIVE,
    "train.embedding_lr_scale": AT_LEAST_0,
    "train.weight_decay": AT_LEAST_0,
    "train.clip_norm": AT_LEAST_0,  # 0 = no clipping
    "train.patience": AT_LEAST_0,  # 0 = never stop early
    "train.lr_decay": Range(0, 1, low_open=True),  # 1 = constant
    "train.lr_layer_decay": Range(1),  # 1 = every layer at train.lr
    "model.lm_finetune_tokens": AT_LEAST_0,  # 0 = no fine-tuning of the language model on the task's text
    "train.word_dropout": AT_LEAST_0,
    "train.max_length": AT_LEAST_1,
    "train.vocab_min_count": AT_LEAST_1,
    "train.vocab_from_vectors": AT_LEAST_0,
    "train.seed": AT_LEAST_0,
    "train.num_threads": AT_LEAST_0,  # 0 = all cores
    "data.heldout_fraction": Range(0, 1, low_open=True, high_open=True),
    "lm.num_layers": AT_LEAST_1,
    "lm.hidden_size": AT_LEAST_1,
    "lm.embedding_dim": AT_LEAST_1,
    "lm.dropout": FRACTION,
    "lm.embedding_dropout": FRACTION,
    "lm.vocab_size": AT_LEAST_1,
    "lm.min_count": AT_LEAST_1,
    "lm.epochs": AT_LEAST_1,
    "lm.max_tokens": AT_LEAST_1,
    "lm.batch_size": AT_LEAST_1,
    "lm.bptt": AT_LEAST_1,
    "lm.lr": POSITIVE,
    "lm.warmup": FRACTION,
    "lm.weight_decay": AT_LEAST_0,
    "lm.clip_norm": AT_LEAST_0,  # 0 = no clipping
    "lm.evaluations": AT_LEAST_1,
    "lm.seed": AT_LEAST_0,
    "lm.num_threads": AT_LEAST_0,  # 0 = all cores
    "generate.max_tokens": AT_LEAST_1,
    "generate.temperature": AT_LEAST_0,  # 0 = always the most likely word
    "generate.top_k": AT_LEAST_0,  # 0 = no cut
    "generate.top_p": Range(0, 1, low_open=True),
    "generate.seed": AT_LEAST_0,
}


def numeric_settings(config: Any) -> list[tuple[str, Any]]:
    """``(section.key, value)`` of every int or float setting of a loaded config (booleans and choices
    such as ``embed.sg: 0 | 1`` excluded: those are checked against their values)."""
    found = []
    for section in fields(config):
        values = getattr(config, section.name)
        hints = typing.get_type_hints(type(values))
        for f in fields(values):
            v = getattr(values, f.name)
            if typing.get_origin(hints[f.name]) is Literal:
                continue
            if isinstance(v, int | float) and not isinstance(v, bool):
                found.append((f"{section.name}.{f.name}", v))
    return found


def _check_ranges(config: Any) -> None:
    """Every numeric setting in its `RANGES` interval (and finite), plus the checks that tie two keys."""
    for key, v in numeric_settings(config):
        if isinstance(v, float) and not math.isfinite(v):
            raise ConfigError(f"{key}={v} must be a finite number")
        valid = RANGES.get(key)
        if valid is not None and v not in valid:
            raise ConfigError(f"{key}={v:g} is out of range: must be {valid}")
    e = config.embed
    if e.min_alpha > e.alpha:
        raise ConfigError(f"embed.min_alpha={e.min_alpha:g} is above embed.alpha={e.alpha:g}: the rate decays "
                          "from alpha down to min_alpha")
    model = getattr(config, "model", None)
    if model is not None and model.init == "lm":
        if model.embedding_mode == "random":
            raise ConfigError("model.embedding_mode=random contradicts model.init=lm (the embedding comes from the "
                              "language model): use frozen or fine-tuned")
        if not model.lm:
            raise ConfigError("model.lm is empty: give auto, or the language model(s) to start from")
    if model is not None and config.uses_vectors() and not e.sources and e.vectors is None:
        raise ConfigError("embed.sources is empty: list at least one text source for the word vectors, "
                          "or set model.embedding_mode=random")
    phrases = getattr(config, "phrases", None)
    if phrases is not None and phrases.scoring == "npmi" and not -1 <= phrases.threshold <= 1:
        raise ConfigError(f"phrases.threshold={phrases.threshold:g} is out of range for npmi scoring: "
                          "must be in [-1, 1]")
    lm = getattr(config, "lm", None)
    if lm is not None:
        if lm.tie_weights and lm.output != "full":
            raise ConfigError("lm.tie_weights=true needs lm.output=full: an adaptive softmax has no one "
                              "word-by-dimension matrix to share with the embedding")
        if any(c < 1 for c in lm.cutoffs) or lm.cutoffs != sorted(set(lm.cutoffs)) or not lm.cutoffs:
            raise ConfigError(f"lm.cutoffs={lm.cutoffs} must be increasing positive word ranks, e.g. [2000, 10000]")
    corpus = config.data.corpus
    if isinstance(corpus, list) and not corpus:
        raise ConfigError("data.corpus is empty: list at least one text source")
    labels = getattr(config.data, "labels", None)
    if labels is not None:
        if len(labels) < 2:
            raise ConfigError(f"data.labels={labels} must list at least two labels")
        if len(set(labels)) != len(labels):
            raise ConfigError(f"data.labels={labels} lists a label twice")


def expand_grid(grid: list[str]) -> list[list[str]]:
    """``["model.encoder=rnn,lstm", "model.embedding_mode=frozen,fine-tuned"]`` → 4 override lists."""
    axes = []
    for spec in grid:
        key, _ = parse_override(spec)
        values = [v.strip() for v in spec.split("=", 1)[1].split(",")]
        if not any(values):
            raise ConfigError(f"--grid {spec}: no values; give at least one, e.g. --grid {key}=a,b")
        if not all(values):
            raise ConfigError(f"--grid {spec}: an empty value between commas")
        if len(set(values)) != len(values):
            raise ConfigError(f"--grid {spec}: a value is listed twice")
        axes.append([f"{key}={v}" for v in values])
    return [list(combo) for combo in itertools.product(*axes)] if axes else [[]]
