"""Every setting, declared once: name, type, default, valid range or choices, and a one-line meaning.

Settings come in small groups (pydantic models, frozen, unknown keys refused). A pipeline's config
sections are built from these groups (`nlp_pipeline.config`), and so are the stages' parameter
objects (`nlp_pipeline.stages`): a stage's params class holds the key fields of the groups it reads
(`stage_params`), so a setting added to a group reaches the stage, its cache key, ``config show``, the
JSON Schema and the rendered YAML and docs (``make pipelines docs-config``) without another edit. A
pipeline may give a group other defaults (sentiment trains 300-d vectors, the embeddings pipeline
100-d); that is the pipeline's declaration, made once, in its schema.

Each field says how it reaches a cache key (``role``):

- ``key`` (the default): it is a stage parameter, hashed into that stage's key;
- ``input``: it names data (a corpus, vectors, language models) whose *content* enters the key;
- ``runtime``: how a run executes, not what it computes (threads, device, folders); never in a key.
"""

from __future__ import annotations

import sys
import typing
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from nlp_pipeline.errors import ConfigError

Role = Literal["key", "input", "runtime"]


_NONE = object()


def setting(default: Any, about: str, *, role: Role = "key", why: str | None = None, built_before: Any = _NONE,
            **bounds: Any) -> Any:
    """A declared setting: ``about`` is its one-line meaning (YAML comment, ``config show``, schema);
    ``bounds`` are pydantic's ``ge``/``gt``/``le``/``lt``; a ``runtime`` setting says ``why`` it may
    stay out of every key. A setting added after stages that read it had cached artifacts says what
    those artifacts were built with (``built_before``): at that value it stays out of their keys
    (`nlp_pipeline.engine.stage.key_params`), at any other, the default included, it changes them."""
    extra: dict[str, Any] = {"role": role}
    if why:
        extra["why"] = why
    if built_before is not _NONE:
        extra["built_before"] = built_before
    return Field(default, description=about, json_schema_extra=extra, **bounds)


class Group(BaseModel):
    """A group of settings: frozen (a stage's params are hashed), unknown keys refused."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, allow_inf_nan=False)


class EngineConfig(Group):
    """An engine's config built from code (a training loop's): a bad value is a `ConfigError` of one
    line naming the key (``section`` prefixes it: ``train.lr``). Not for sections nested in a config:
    pydantic runs a custom ``__init__`` for nested models too."""

    section: ClassVar[str] = ""

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as err:
            raise ConfigError(error_message(err, type(self), self.section)) from None


def default_of(group: type[Group], name: str) -> Any:
    """A setting's declared default, for a class outside the settings that takes the same value (a saved
    model's architecture, an engine's options): the value is written once, in its declaration."""
    return group.model_fields[name].default


def flat_args(annotation: Any) -> list[Any]:
    """``int | None`` → ``[int | None, int, None]``: the annotation and its members."""
    args = typing.get_args(annotation)
    return [annotation, *args] if args else [annotation]


def choices(field: Any) -> tuple | None:
    """A Literal field's allowed values."""
    return next((typing.get_args(a) for a in flat_args(field.annotation) if typing.get_origin(a) is Literal), None)


def bounds(field: Any) -> str:
    """A field's valid interval as text: ``>= 1``, ``> 0``, ``[0, 1)`` (empty: unbounded)."""
    low = high = None
    low_open = high_open = False
    for m in field.metadata:
        for attr, is_low, is_open in (("ge", True, False), ("gt", True, True), ("le", False, False),
                                      ("lt", False, True)):
            v = getattr(m, attr, None)
            if v is None:
                continue
            if is_low:
                low, low_open = v, is_open
            else:
                high, high_open = v, is_open
    if low is None and high is None:
        return ""
    if high is None:
        return f"{'>' if low_open else '>='} {low:g}"
    if low is None:
        return f"{'<' if high_open else '<='} {high:g}"
    return f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"


def error_message(err: ValidationError, model: type[BaseModel], prefix: str = "") -> str:
    """pydantic's first error as one line naming the dotted key, in words a user acts on."""
    e = err.errors()[0]
    parts, field, current = [prefix] if prefix else [], None, model
    for part in e["loc"]:
        fields = getattr(current, "model_fields", None)
        if not isinstance(part, str) or not fields or part not in fields:
            break
        field, parts = fields[part], [*parts, part]
        current = field.annotation if isinstance(field.annotation, type) else None
    key, value, kind = ".".join(parts), e.get("input"), e["type"]
    if field is not None and kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        return f"{key}={value:g} is out of range: must be {bounds(field)}"
    if kind == "finite_number":
        return f"{key}={value} must be a finite number"
    if kind == "literal_error" and field is not None:
        return f"{key}={value!r} is not valid; choose one of: {', '.join(map(str, choices(field) or ()))}"
    words = {"int": "an integer", "float": "a number", "bool": "true or false", "tuple": "a list", "list": "a list"}
    for prefix_, what in words.items():
        if kind.startswith(prefix_ + "_"):
            return f"{key}={value!r} must be {what}"
    if kind == "string_type":
        hint = ": put it in quotes" if isinstance(value, bool | int | float) else ""
        return f"{key}={value!r} must be a string{hint}"
    if kind == "extra_forbidden":
        valid = ", ".join(getattr(current, "model_fields", {}))
        return f"unknown key {'.'.join([*parts, str(e['loc'][-1])])!r}; valid: {valid}"
    return f"{key}={value!r}: {e['msg']}"


FRACTION = {"ge": 0, "lt": 1}  # [0, 1)


# -- data ------------------------------------------------------------------------------------------


class Split(Group):
    """How evaluation splits are carved from a corpus that lacks them."""

    dev_fraction: float = setting(0.1, "share of train carved out as dev when the corpus has no dev split", **FRACTION)
    test_fraction: float = setting(0.1, "share carved out as test when the corpus has no splits at all", **FRACTION)
    seed: int = setting(13, "seed of the carving (stratified, deterministic)", ge=0)


class Location(Group):
    data_dir: str | None = setting(
        None, "folder mirroring the corpora; null: $NLP_PIPELINE_DATA_DIR, ../shared/corpora, user cache, download",
        role="runtime", why="where the corpus files are looked for; the key holds their content hashes")


class LabelRules(Group):
    labels: tuple[str, ...] | None = setting(
        None, "the label set, e.g. [neg, pos]: any other label is an error at its file:line; null: what the data "
        "has (a registered corpus: its definition's)")
    min_label_count: int = setting(3, "a label seen fewer times in train is an error naming its lines", ge=1)

    @model_validator(mode="after")
    def _a_label_set(self) -> LabelRules:
        if self.labels is not None:
            if len(self.labels) < 2:
                raise ConfigError(f"data.labels={list(self.labels)} must list at least two labels")
            if len(set(self.labels)) != len(self.labels):
                raise ConfigError(f"data.labels={list(self.labels)} lists a label twice")
        return self


class TextSources(Group):
    """Unlabelled text: what word2vec (or the language model) trains on, in every pipeline."""

    text: tuple[str, ...] = setting(
        ("imdb:train", "imdb_unsup"), "unlabelled text sources: registered corpora or splits (imdb_unsup, "
        "sst2:train), or your files, folders or globs (plain text, JSON lines, CSV/TSV; gz, bz2, xz); [auto] "
        "(sentiment, tagging): your own data.corpus's text, its dev and test held out, when data.corpus is your file, "
        "else the pipeline's movie-review text (sentiment: imdb:train, imdb_unsup, sst2:train; tagging: "
        "ud_en_ewt:train, imdb:train, imdb_unsup)", role="input")
    text_field: str = setting("text", "JSON lines: the field holding the text", role="input")
    text_column: str | None = setting(
        None, "CSV/TSV: the text column's header; null: the first of text, sentence, review, content, body, ...",
        role="input")
    dedup_against: tuple[str, ...] | None = setting(
        None, "corpora whose dev/test documents are removed from the text; null: the labelled or tagged corpora "
        "the run and its text come from, so no model reads a text it is later scored on", role="input")


class LabelledCorpus(Group):
    corpus: str = setting("sst2", "registered corpus (sst2, imdb, mr, pang_lee_polarity) or a path to your labelled "
                          "file or folder (TSV/CSV with text and label columns; train/dev/test files)", role="input")


class TaggedCorpus(Group):
    corpus: str = setting("ud_en_ewt", "registered tagged corpus, or a path to a CoNLL-U file or a folder with "
                          "train.conllu (dev., test.)", role="input")


class Tagset(Group):
    tagset: Literal["upos", "xpos"] = setting("upos", "upos (17 universal tags) | xpos (the treebank's own tags)")


# A section's fields come in the reverse order of its bases (pydantic reads them base by base, last first).
class LabelledData(TextSources, Split, LabelRules, Location, LabelledCorpus):
    """Which labelled corpus and how it is split; the unlabelled text the vectors learn from."""


class TaggedData(TextSources, Split, Tagset, Location, TaggedCorpus):
    """Which treebank and which tags; the unlabelled text the vectors learn from."""


class TextData(TextSources, Split, Location):
    """The text to learn from, and how the corpora it comes from are split (their dev/test text is held out)."""


class HeldOut(Group):
    heldout_fraction: float = setting(0.01, "documents held out of training, whole, for perplexity (at least one)",
                                      gt=0, lt=1)


class LMData(HeldOut, TextData):
    """The text to learn from; a slice of its documents is held out for perplexity."""


# -- text ------------------------------------------------------------------------------------------


class Casing(Group):
    """Whether words are folded to lower case (what a stage that reads no raw text, such as importing
    vectors, needs of the tokenizer's settings)."""

    lowercase: bool = setting(True, "fold case (SST-2 and MR are lower-cased already; IMDB is not)")


class Tokenize(Casing):
    """spaCy blank('en') tokenizer settings, shared by every stage that reads text."""

    strip_html: bool = setting(True, "replace HTML line breaks (<br />, common in IMDB) by spaces")


class Phrases(Group):
    """Collocations (new_york, the_matrix) with gensim Phrases, joined before word2vec."""

    passes: int = setting(0, "0 = off; 1 = bigrams; 2 = a second pass over the first's output (up to 4-grams)",
                          ge=0, le=2)
    min_count: int = setting(5, "words and word pairs seen fewer times are never joined", ge=1)
    threshold: float = setting(10.0, "join a pair when its score is above this (higher: fewer phrases); npmi: "
                               "in [-1, 1]", ge=-1)
    scoring: Literal["default", "npmi"] = setting("default", "default (the word2vec paper's score) | npmi")
    connector_words: Literal["english", "none"] = setting(
        "english", "english: a phrase may hold 'of', 'the', ... inside (bank_of_america); none")

    @model_validator(mode="after")
    def _npmi_threshold(self) -> Phrases:
        if self.scoring == "npmi" and not -1 <= self.threshold <= 1:
            raise ConfigError(f"phrases.threshold={self.threshold:g} is out of range for npmi scoring: "
                              "must be in [-1, 1]")
        return self


# -- word vectors ----------------------------------------------------------------------------------


class Word2Vec(Group):
    """word2vec, named as in the original tool and gensim; the defaults are word2vec's own."""

    engine: Literal["gensim", "torch"] = setting(
        "torch", "torch (ours: a C kernel on the CPU, PyTorch on CUDA) | gensim (C, Hogwild threads)")
    sg: Literal[0, 1] = setting(1, "1 = skip-gram, 0 = CBOW")
    vector_size: int = setting(100, "vector dimension", ge=1)
    window: int = setting(5, "maximum context window (the effective window is drawn per word in [1, window])", ge=1)
    negative: int = setting(5, "negative samples per positive pair (unigram^0.75 distribution)", ge=1)
    min_count: int = setting(5, "ignore words seen fewer times", ge=1)
    sample: float = setting(0.001, "frequent-word subsampling threshold; 0 = none", **FRACTION)
    epochs: int = setting(5, "passes over the text", ge=1)
    alpha: float = setting(0.025, "initial learning rate (decays to min_alpha as lr_schedule says)", gt=0, le=1)
    min_alpha: float = setting(0.0001, "final learning rate", ge=0, le=1)
    max_vocab_size: int | None = setting(None, "cap on the vocabulary while counting (memory); null = no cap", ge=1)
    seed: int = setting(13, "random seed of the vector initialisation and sampling", ge=0)
    kernel: Literal["auto", "native", "tensor"] = setting(
        "auto", "torch engine on the CPU: native (C loop, word2vec's in-place SGD) | tensor (batched tensor "
        "updates) | auto (native where a C compiler is found); CUDA always runs tensors")
    batch_words: int | None = setting(
        None, "torch engine, tensor path: centre words per batched update; null = 1024 skip-gram, 2048 CBOW", ge=1)
    max_row_updates: float | None = setting(
        None, "torch engine, tensor path: cap on a word's summed updates in one batch; null = 128 skip-gram, 32 CBOW; "
        "0 = no cap", ge=0)
    skip_saturated: bool = setting(False, "torch engine: no update for a pair scored beyond ±6 (gensim's rule)")
    negatives_per_pair: bool = setting(
        False, "torch engine, C kernel, skip-gram: fresh negatives for every (centre, context) pair, as word2vec "
        "and gensim draw them, instead of one draw per centre shared by its context words; measured: 0.65x the "
        "words/s and the same quality (300 d, 5M IMDB tokens, 2 seeds); the tensor path (CUDA) always shares",
        built_before=False)
    lr_schedule: Literal["linear", "per_epoch"] = setting(
        "per_epoch", "torch engine: per_epoch (gensim corpus_file mode's on 2 threads: within epoch e of E the rate "
        "falls from alpha·(1-e/E) only to alpha·(1-(e+0.5)/E), and the next starts at alpha·(1-(e+1)/E): a ~17% "
        "higher mean rate at 3 epochs) | linear (from alpha to min_alpha over all epochs, word2vec.c's and gensim "
        "iterable's). With init_range gensim, per_epoch gives gensim corpus_file's quality; linear word2vec.c's "
        "(docs/results.md, word2vec)", built_before="linear")
    streams: int = setting(
        2, "torch engine: the text is trained as this many contiguous parts taken in turn, as gensim's corpus_file "
        "mode and word2vec.c give each of their threads its own part of the file (per_epoch: each part's rate falls "
        "as one of gensim's two threads' does); 1 = the text in order. Measured, 2 against 1, ours minus gensim: 300-d "
        "CBOW SimLex -0.011 -> +0.013, skip-gram WordSim +0.02 -> 0.00 (docs/results.md, word2vec); the order does "
        "not follow the thread count",
        ge=1, built_before=1)
    init_range: Literal["word2vec", "gensim"] = setting(
        "gensim", "torch engine: where the input vectors start: gensim (uniform in ±1/dim, gensim 4's) | word2vec "
        "(±0.5/dim, word2vec.c's)", built_before="word2vec")

    @model_validator(mode="after")
    def _rate_decays(self) -> Word2Vec:
        if self.min_alpha > self.alpha:
            raise ConfigError(f"embed.min_alpha={self.min_alpha:g} is above embed.alpha={self.alpha:g}: the rate "
                              "decays from alpha down to min_alpha")
        return self


class VectorsFile(Group):
    vectors: str | None = setting(
        None, "your own vectors instead of training them: a word2vec .bin/.txt, GloVe .txt, fastText .vec (gzipped "
        "or not), or an embed artifact (key prefix, folder, latest)", role="input")


class Embed(Word2Vec, VectorsFile):
    """word2vec vectors trained on the unlabelled text, or your own (vectors)."""


class EvaluateVectors(Group):
    """What the report scores and shows of the vectors."""

    standard: bool = setting(True, "score WordSim-353, SimLex-999 and the Google analogies")
    pairs: tuple[str, ...] = setting((), "your word-similarity files: 'word1 word2 score' lines", role="input")
    analogies: tuple[str, ...] = setting((), "your analogy files, Google format (': section', then 'a b c d')",
                                         role="input")
    restrict_vocab: int = setting(30000, "analogies search the N most frequent words", ge=1)
    probes: tuple[str, ...] = setting(("good", "terrible", "movie", "actor", "funny", "music", "horror", "wife"),
                                      "words whose nearest neighbours are listed and highlighted on the map")
    neighbours: int = setting(8, "neighbours per probe word", ge=1)
    map_words: int = setting(1000, "the embedding map shows the N most frequent words; 0 = no map", ge=0)
    map_method: Literal["tsne", "umap", "pca"] = setting(
        "tsne", "PCA to 50 dimensions, then: tsne | umap (needs umap-learn) | pca (alone)")
    map_labels: int = setting(120, "how many of the map's words are labelled", ge=0)
    seed: int = setting(13, "seed of the projection (the same vectors give the same picture)", ge=0)


# -- models ----------------------------------------------------------------------------------------


class Encoder(Group):
    """The recurrent encoder and its word embeddings (classifier and tagger)."""

    encoder: Literal["rnn", "gru", "lstm", "bilstm"] = setting("bilstm", "rnn | gru | lstm | bilstm")
    embedding_mode: Literal["frozen", "fine-tuned", "random"] = setting(
        "fine-tuned", "frozen | fine-tuned (initialised from the vectors) | random (no vectors)")
    hidden_size: int = setting(150, "hidden units per direction", ge=1)
    num_layers: int = setting(1, "stacked recurrent layers", ge=1)
    dropout: float = setting(0.5, "dropout on the encoder's output (and between stacked layers)", **FRACTION)
    embedding_dropout: float = setting(0.3, "dropout on the word vectors before the encoder", **FRACTION)
    init: Literal["word2vec", "lm"] = setting(
        "word2vec", "where the embedding and encoder start: word2vec (the vectors; the encoder at random) | lm (a "
        "language model's embedding and recurrent layers: run lm first)", built_before="word2vec")
    nonlinearity: Literal["tanh", "relu"] = setting(
        "tanh", "the plain rnn's activation: tanh | relu (encoder: rnn only; gated cells have their own)",
        built_before="tanh")
    forget_bias: float | None = setting(
        None, "lstm, bilstm, gru: the forget (GRU: update) gate's bias starts here, so the cell keeps its state from "
        "the start (1: Jozefowicz et al. 2015; 5 keeps half of it over 100 steps); null: PyTorch's init (near 0: "
        "half forgotten each step); rnn: ignored", ge=-20, le=20, built_before=None)

    @model_validator(mode="after")
    def _relu_for_rnn(self) -> Encoder:
        if self.nonlinearity != "tanh" and self.encoder != "rnn":
            raise ConfigError(f"model.nonlinearity={self.nonlinearity} applies to the plain rnn only, not "
                              f"model.encoder={self.encoder} (its gates have their own activations)")
        return self


class LMStart(Group):
    """model.init=lm: which language models, and ULMFiT's fine-tuning on the task's text."""

    lm: tuple[str, ...] = setting(
        ("auto",), "model.init=lm: auto (the newest forward language model, and for a bilstm the newest backward "
        "one on the same text) | train_lm key prefixes or folders, forward first", role="input")
    lm_finetune_tokens: int = setting(
        0, "model.init=lm: first fine-tune the language model(s) on this many tokens of the task's training text "
        "(ULMFiT's second step); 0 = off", ge=0)
    lm_finetune_lr: float = setting(0.001, "Adam learning rate of that fine-tuning (half the pretraining rate)", gt=0)
    lm_finetune_batch_size: int = setting(32, "parallel rows of the task's token stream in that fine-tuning", ge=1,
                                          built_before=32)
    lm_finetune_bptt: int = setting(64, "truncated BPTT segment of that fine-tuning, in tokens", ge=1, built_before=64)
    lm_finetune_evaluations: int = setting(4, "held-out perplexity checks over that fine-tuning; the best weights "
                                           "are kept", ge=1, built_before=4)

    @model_validator(mode="after")
    def _language_models_to_start_from(self) -> LMStart:
        if getattr(self, "init", None) == "lm":  # the model section: LMStart with an Encoder
            if getattr(self, "embedding_mode", None) == "random":
                raise ConfigError("model.embedding_mode=random contradicts model.init=lm (the embedding comes from "
                                  "the language model): use frozen or fine-tuned")
            if not self.lm:
                raise ConfigError("model.lm is empty: give auto, or the language model(s) to start from")
        return self


class Pooling(Group):
    pooling: Literal["last", "max", "mean"] = setting("max", "how token states become one vector: last | max | mean")


class CharModel(Group):
    char_encoder: Literal["none", "cnn", "bilstm"] = setting(
        "cnn", "none | cnn | bilstm: a character model of each word's spelling (unseen words)")
    char_dim: int = setting(32, "character embedding size", ge=1)
    char_hidden: int = setting(64, "CNN filters, or character BiLSTM units per direction", ge=1)
    crf: bool = setting(False, "a linear-chain CRF output layer (Viterbi decoding) instead of a softmax per token")


class ClassifierModel(LMStart, Pooling, Encoder):
    """The classifier's architecture: a recurrent encoder over word vectors, pooled."""


class TaggerModel(LMStart, CharModel, Encoder):
    """The tagger's architecture: a recurrent encoder over word vectors and characters."""


# -- training --------------------------------------------------------------------------------------


class Training(Group):
    """The classifier's and tagger's training loop (Adam, clipping, early stopping on dev accuracy)."""

    epochs: int = setting(5, "maximum epochs", ge=1)
    batch_size: int = setting(128, "sequences per batch (batches are bucketed by length)", ge=1)
    optimizer: Literal["adam", "rmsprop", "sgd"] = setting(
        "adam", "adam | rmsprop | sgd (with momentum 0.9; wants a larger lr, e.g. 0.1)", built_before="adam")
    lr: float = setting(0.002, "learning rate (of the optimizer)", gt=0)
    embedding_lr_scale: float = setting(
        0.1, "fine-tuned embeddings learn at lr × this (< 1 keeps them close to the pretrained vectors)", ge=0)
    weight_decay: float = setting(0.0, "L2 penalty (the optimizer's weight decay)", ge=0)
    clip_norm: float = setting(5.0, "clip the gradient norm to this (exploding gradients); 0 disables", ge=0)
    patience: int = setting(2, "stop after this many epochs without a better dev accuracy (the best weights are "
                            "kept); 0 = never stop early", ge=0)
    lr_layer_decay: float = setting(
        1.0, "discriminative fine-tuning (ULMFiT): each layer below the output learns at the rate of the one above / "
        "this (2.6 in ULMFiT); 1 = every layer at lr", ge=1, built_before=1.0)
    unfreeze: Literal["all", "gradual"] = setting(
        "all", "all: every layer trains from the first epoch | gradual (ULMFiT): epoch 1 trains the layers above "
        "the encoder only, each later epoch also the next layer down, the embedding last", built_before="all")
    vocab_min_count: int = setting(1, "vocabulary: training words seen at least this often", ge=1)
    vocab_from_vectors: int = setting(
        50000, "after training, add the vectors' N most frequent words the training set lacks, so unseen words "
        "keep their pretrained vector instead of <unk>; 0 = off", ge=0)
    seed: int = setting(13, "seed of initialisation, shuffling and dropout", ge=0)


class ClassifierTraining(Training):
    """The classifier's training loop (Adam, clipping, early stopping on dev accuracy)."""

    max_length: int | None = setting(400, "truncate documents to this many tokens (long IMDB reviews); null = no "
                                     "limit", ge=1)
    label_smoothing: float = setting(0.0, "training targets put this share of their weight evenly on every label "
                                     "(less over-confident; 0.1 is common); 0 = off", ge=0, lt=1, built_before=0.0)


class TaggerTraining(Training):
    """The tagger's training loop (Adam, clipping, early stopping on dev accuracy)."""

    lr_decay: float = setting(0.5, "multiply the learning rates by this after each epoch without a better dev "
                              "accuracy; 1 = constant", gt=0, le=1)
    word_dropout: float = setting(0.25, "α: a training word seen c times becomes <unk> with probability α/(α+c); "
                                  "0 = off", ge=0)


# -- language models -------------------------------------------------------------------------------


class LMArchitecture(Group):
    direction: Literal["forward", "backward"] = setting(
        "forward", "forward (left to right) | backward (reads every document right to left: the other half of a "
        "bidirectional encoder)")
    cell: Literal["rnn", "gru", "lstm"] = setting("lstm", "rnn | gru | lstm")
    nonlinearity: Literal["tanh", "relu"] = setting(
        "tanh", "the plain rnn's activation: tanh | relu (cell: rnn only)", built_before="tanh")
    num_layers: int = setting(1, "stacked recurrent layers", ge=1)
    hidden_size: int = setting(512, "hidden units per layer", ge=1)
    embedding_init: Literal["word2vec", "random"] = setting("word2vec", "word2vec (the embed vectors) | random")
    embedding_dim: int = setting(300, "embedding size with embedding_init: random (with word2vec: the vectors')", ge=1)
    dropout: float = setting(0.1, "dropout on every recurrent layer's output", **FRACTION)
    embedding_dropout: float = setting(0.1, "dropout on the word vectors", **FRACTION)
    output: Literal["adaptive", "full"] = setting(
        "adaptive", "adaptive (adaptive softmax: exact, several times faster with a large vocabulary) | full")
    cutoffs: tuple[int, ...] = setting((2000, 10000), "adaptive softmax: word ranks where its clusters start")
    tie_weights: bool = setting(False, "share the embedding with the output layer (needs output: full)")

    @model_validator(mode="after")
    def _output_layer(self) -> LMArchitecture:
        if self.nonlinearity != "tanh" and self.cell != "rnn":
            raise ConfigError(f"lm.nonlinearity={self.nonlinearity} applies to the plain rnn only, not "
                              f"lm.cell={self.cell} (its gates have their own activations)")
        if self.tie_weights and self.output != "full":
            raise ConfigError("lm.tie_weights=true needs lm.output=full: an adaptive softmax has no one "
                              "word-by-dimension matrix to share with the embedding")
        if not self.cutoffs or any(c < 1 for c in self.cutoffs) or list(self.cutoffs) != sorted(set(self.cutoffs)):
            raise ConfigError(f"lm.cutoffs={list(self.cutoffs)} must be increasing positive word ranks, "
                              "e.g. [2000, 10000]")
        return self


class LMVocabulary(Group):
    vocab_size: int = setting(50000, "most frequent training words kept; the rest become <unk>", ge=1)
    min_count: int = setting(3, "words seen fewer times in the training documents become <unk>", ge=1)


class LMTraining(Group):
    epochs: int = setting(1, "passes over the training stream (documents in a new order each pass)", ge=1)
    max_tokens: int | None = setting(
        None, "training tokens in all, whatever the epochs (the cost on a CPU); null = every epoch in full", ge=1)
    batch_size: int = setting(64, "parallel rows of the token stream", ge=1)
    bptt: int = setting(64, "truncated BPTT: tokens per segment; the state carries across segments, the gradient "
                        "stops at their start", ge=1)
    optimizer: Literal["adam", "rmsprop", "sgd"] = setting(
        "adam", "adam | rmsprop | sgd (with momentum 0.9; wants a larger lr, e.g. 0.1)", built_before="adam")
    lr: float = setting(0.002, "learning rate (of the optimizer)", gt=0)
    lr_schedule: Literal["linear", "cosine", "constant"] = setting(
        "linear", "after warmup, linear | cosine decay to 10% of lr, or constant")
    warmup: float = setting(0.02, "share of the steps over which the rate rises from 0", **FRACTION)
    weight_decay: float = setting(0.0, "L2 penalty", ge=0)
    clip_norm: float = setting(1.0, "gradient clipping (max global norm); 0 = none", ge=0)
    evaluations: int = setting(10, "held-out perplexity is measured this many times over the run; the best weights "
                               "are kept", ge=1)
    seed: int = setting(13, "seed of the initial weights, dropout and document order", ge=0)


class LanguageModel(LMTraining, LMVocabulary, LMArchitecture):
    """The language model and its training."""


class Generate(Group):
    """The report's samples from the language model."""

    prompts: tuple[str, ...] = setting(("the movie was", "i have never seen", "the acting", ""),
                                       "each is continued by the model (a backward model: preceded); \"\" = nothing")
    max_tokens: int = setting(40, "the most words a sample adds (it ends sooner at the end of a document)", ge=1)
    temperature: float = setting(0.8, "below 1: safer words; 0: always the most likely word", ge=0)
    top_k: int = setting(0, "sample among the k most likely words only; 0 = all", ge=0)
    top_p: float = setting(0.95, "... and among the fewest words holding this much probability", gt=0, le=1)
    seed: int = setting(13, "seed of the sampling (prompt i uses seed + i)", ge=0)


# -- how a run executes ----------------------------------------------------------------------------


class Runtime(Group):
    """Execution settings: the same outputs whatever they are (or, where not, the key says so)."""

    device: str = setting(
        "auto", "auto (CUDA when present) | cpu | cuda | cuda:N", role="runtime",
        why="resolved once per command; the key holds only whether the build is deterministic")
    threads: int = setting(
        0, "CPU threads for torch, word2vec and the tokenizer's processes; 0 = all cores", ge=0, role="runtime",
        why="a scheduling choice; several word2vec threads (Hogwild) are not bit-reproducible, which the key holds")
    checkpoint_minutes: float = setting(
        5.0, "training stages save a checkpoint this often and at every epoch's end, which a run of the same key "
        "after a crash or kill resumes from; 0 = at epoch ends only", ge=0, role="runtime",
        why="when progress is saved; a resumed build ends with the same bytes as one never interrupted")


class Report(Group):
    """Where results go."""

    dir: str = setting("reports", "report folders go to <dir>/<pipeline>/<timestamp>/ (and .../latest)",
                       role="runtime", why="where report folders are written; no stage reads it")
    tensorboard: bool = setting(
        False, "TensorBoard event files of every training stage in the report, one run per variant "
        "(<report>/<variant>/tensorboard/), written as training goes: tensorboard --logdir <dir>/<pipeline> "
        "compares the variants live; needs pip install \"nlp-pipeline[tensorboard]\"", role="runtime",
        why="training writes the events where the runtime says and trains the same without it; a model from the "
            "cache gets them from the trace in its artifact")

    @model_validator(mode="after")
    def _tensorboard_installed(self) -> Report:
        import importlib.util

        if self.tensorboard and importlib.util.find_spec("tensorboard") is None:
            raise ConfigError("report.tensorboard=true needs the tensorboard package: "
                              "pip install \"nlp-pipeline[tensorboard]\"")
        return self


# -- the HTTP server (`nlp-pipeline serve`) --------------------------------------------------------

_SERVER = {"role": "runtime", "why": "how the server answers requests; no stage reads it"}


class Serve(Group):
    """`nlp-pipeline serve`: what one request may ask for, and how concurrent requests are batched.

    The limits keep one request from holding a worker for long or filling the memory; each refusal is a
    4xx error naming the field. Not part of any pipeline: `serve` exposes each as an option.
    """

    max_body_bytes: int = setting(1_000_000, "largest request body in bytes; a larger one is refused (413)",
                                  ge=1024, le=100_000_000, **_SERVER)
    max_texts: int = setting(256, "most texts (or query words, pairs, analogies) in one request", ge=1, le=100_000,
                             **_SERVER)
    max_text_chars: int = setting(20_000, "most characters in one text, prompt or word", ge=1, le=10_000_000,
                                  **_SERVER)
    max_topn: int = setting(100, "most answers one similar or analogy query may ask for", ge=1, le=100_000,
                            **_SERVER)
    max_generate_tokens: int = setting(500, "most words one generate request may ask for", ge=1, le=100_000,
                                       **_SERVER)
    max_map_words: int = setting(5000, "most words GET /v1/map projects (t-SNE time grows with them)", ge=3,
                                 le=100_000, **_SERVER)
    batching: bool = setting(True, "gather concurrent classify, tag and vector requests into one model call; "
                             "off: each request is its own call (the baseline to compare with)", **_SERVER)
    batch_wait_ms: float = setting(5.0, "how long a batch's first request waits for others to join, in ms",
                                   ge=0, le=1000, **_SERVER)
    batch_max_size: int = setting(128, "a batch runs as soon as it holds this many texts or queries", ge=1,
                                  le=100_000, **_SERVER)
    threads: int = setting(
        0, "torch threads; 0 = the cores but one (the event loop's) shared out among the loaded models' workers",
        ge=0, **_SERVER)


def role_of(group: type[Group], name: str) -> Role:
    extra = group.model_fields[name].json_schema_extra
    return extra["role"] if isinstance(extra, dict) else "key"  # type: ignore[return-value]


def key_fields(group: type[Group]) -> list[str]:
    """The fields of ``group`` a stage may take as parameters (neither inputs nor execution settings)."""
    return [n for n in group.model_fields if role_of(group, n) == "key"]


# -- stage parameters: projections of the settings ------------------------------------------------


class Params(Group):
    """A stage's parameters: the declared settings it reads, plus values derived from them.

    Made by `stage_params`, never written out field by field, so a setting added to a group reaches
    every stage that reads the group (and its key) with no other edit.
    """

    sources: ClassVar[dict[str, type[Group]]] = {}
    derived: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def of(cls, *sections: Group, **derived: Any) -> Params:
        """The params from a config's ``sections``: each field from the section of its declaring group."""
        values = dict(derived)
        for name, group in cls.sources.items():
            if name in values:
                continue
            section = next((sec for sec in sections if isinstance(sec, group)), None)
            if section is None:
                raise TypeError(f"{cls.__name__}.{name}: no {group.__name__} section among {sections!r}")
            values[name] = getattr(section, name)
        return cls(**values)


def stage_params(name: str, *groups: type[Group], exclude: tuple[str, ...] = (), only: tuple[str, ...] | None = None,
                 derived: dict[str, tuple[Any, Any]] | None = None) -> type[Params]:
    """A params class holding the key fields of ``groups`` (their declarations, not copies of them),
    less ``exclude`` (what reaches the stage another way) or only those named in ``only``, plus
    ``derived`` fields (name: (type, default)) that are computed from settings rather than set (an
    embedding size that follows the vectors). The class belongs to the calling module (so it pickles)."""
    derived = derived or {}
    fields: dict[str, Any] = {}
    sources: dict[str, type[Group]] = {}
    for group in groups:
        for field in key_fields(group):
            if field in exclude or field in derived or (only is not None and field not in only):
                continue
            if field in fields:
                raise TypeError(f"{name}: {field} is declared by both {sources[field].__name__} and {group.__name__}")
            fields[field] = (group.model_fields[field].annotation, group.model_fields[field])
            sources[field] = group
    fields.update(derived)
    module = sys._getframe(1).f_globals.get("__name__", __name__)
    cls = create_model(name, __base__=Params, __module__=module, **fields)
    cls.sources, cls.derived = sources, frozenset(derived)
    return cls
