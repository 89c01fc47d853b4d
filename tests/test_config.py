"""Pipeline configuration: defaults, overrides, validation, grids."""

import re

import pytest

from nlp_pipeline.config import PIPELINES_DIR, SCHEMAS, expand_grid, load_config, numeric_keys
from nlp_pipeline.errors import ConfigError
from nlp_pipeline.settings import bounds


def test_default_sentiment_config_loads():
    cfg = load_config("sentiment")
    assert cfg.data.corpus == "sst2"
    assert cfg.model.encoder == "bilstm" and cfg.model.embedding_mode == "fine-tuned"
    assert cfg.embed.sg == 1


def test_overrides_are_typed():
    cfg = load_config("sentiment", ["model.encoder=lstm", "embed.sg=0", "train.lr=2e-3", "train.max_length=null"])
    assert cfg.model.encoder == "lstm"
    assert cfg.embed.sg == 0
    assert cfg.train.lr == pytest.approx(0.002)
    assert cfg.train.max_length is None


def test_list_override_from_commas():
    cfg = load_config("sentiment", ["data.text=imdb_unsup,sst2:train"])
    assert cfg.data.text == ("imdb_unsup", "sst2:train")


@pytest.mark.parametrize("override", ["lm.cutoffs=20000,40000", "lm.cutoffs=[20000, 40000]"])
def test_a_list_of_numbers_from_commas_reads_each_item_as_a_number(override):
    assert load_config("lm", [override]).lm.cutoffs == (20000, 40000)


def test_one_number_for_a_list_of_numbers_is_a_list_of_one():
    assert load_config("lm", ["lm.cutoffs=20000"]).lm.cutoffs == (20000,)


def test_a_word_in_a_list_of_numbers_is_named():
    with pytest.raises(ConfigError, match=r"lm.cutoffs='2000a' must be an integer"):
        load_config("lm", ["lm.cutoffs=20000,2000a"])


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("embed.vectors=5883361850", "5883361850"),  # a cache key prefix that is all digits
        ("embed.vectors=0123", "0123"),  # YAML 1.1 would read the octal number 83
        ("embed.vectors=1e5", "1e5"),
        ("data.corpus=yes", "yes"),  # YAML 1.1 would read True
        ("data.corpus=\"on\"", "on"),  # quoting still gives YAML's reading
        ("data.data_dir=null", None),
        ("data.text=123", ("123",)),
        ("data.text=\"imdb_unsup,sst2:train\"", ("imdb_unsup", "sst2:train")),  # quoted: YAML's reading
        ("data.text=[imdb_unsup, sst2:train]", ("imdb_unsup", "sst2:train")),
        ("model.lm=[5883361850, abc]", ("5883361850", "abc")),  # each bracketed item as typed
        ("model.lm=[\"0123\", yes]", ("0123", "yes")),
    ],
)
def test_a_string_key_takes_the_value_as_typed(override, expected):
    cfg = load_config("sentiment", [override])
    section, name = override.split("=")[0].split(".")
    assert getattr(getattr(cfg, section), name) == expected


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("model.encodr=lstm", "unknown key 'model.encodr'"),
        ("nosuch.key=1", "unknown key 'nosuch.key'"),
        ("model.encoder=cnn", "choose one of: rnn, gru, lstm, bilstm"),
        ("train.epochs=many", "must be an integer"),
        ("train.epochs=0", "train.epochs=0 is out of range: must be >= 1"),
        ("data.dev_fraction=1.5", "data.dev_fraction=1.5 is out of range: must be [0, 1)"),
        ("model", "expected KEY=VALUE"),
        ("model.encoder.x=1", "use SECTION.KEY"),
    ],
)
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config("sentiment", [override])


def test_unknown_pipeline_lists_valid_ones():
    with pytest.raises(ConfigError, match="valid: .*sentiment"):
        load_config("nope")


def test_grid_expansion_is_a_cartesian_product():
    grid = expand_grid(["model.encoder=rnn,lstm,bilstm", "model.embedding_mode=frozen,fine-tuned"])
    assert len(grid) == 6
    assert ["model.encoder=rnn", "model.embedding_mode=frozen"] in grid
    assert expand_grid([]) == [[]]


def test_every_key_of_every_pipeline_file_has_a_comment():
    for path in PIPELINES_DIR.glob("*.yaml"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith("#") or stripped.startswith("pipeline:"):
                continue
            assert "#" in line, f"{path.name}:{number} has no comment: {line!r}"


@pytest.mark.parametrize("pipeline", sorted(SCHEMAS))
def test_every_numeric_setting_has_a_declared_range(pipeline):
    missing = [key for key, field in numeric_keys(SCHEMAS[pipeline]) if not bounds(field)]
    assert not missing, f"no range declared for {missing}"


@pytest.mark.parametrize("key", ["embed.alpha", "embed.negative", "embed.sample", "train.lr", "model.dropout",
                                 "embed.window", "train.clip_norm", "data.test_fraction"])
def test_a_value_below_its_range_is_an_error_naming_the_key(key):
    section, name = key.split(".")
    field = SCHEMAS["sentiment"].model_fields[section].annotation.model_fields[name]
    low = next(getattr(m, a) for m in field.metadata for a in ("ge", "gt") if getattr(m, a, None) is not None)
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_config("sentiment", [f"{key}={low - 1}"])


@pytest.mark.parametrize(("old", "new"), [("embed.sources", "data.text"), ("train.device", "runtime.device"),
                                          ("tokenize.n_process", "runtime.threads"),
                                          ("embed.workers", "runtime.threads")])
def test_a_renamed_key_is_an_error_naming_the_new_one(old, new, tmp_path):
    with pytest.raises(ConfigError, match=re.escape(f"'{old}' is now '{new}'")):
        load_config("sentiment", [f"{old}=2"])
    path = tmp_path / "old.yaml"
    section, name = old.split(".")
    path.write_text(f"pipeline: sentiment\n{section}:\n  {name}: 2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape(f"'{old}' is now '{new}'")):
        load_config(str(path))


def test_the_text_pipelines_take_data_text_not_data_corpus():
    with pytest.raises(ConfigError, match=re.escape("'data.corpus' is now 'data.text'")):
        load_config("embeddings", ["data.corpus=[imdb_unsup]"])


def test_a_partial_pipeline_file_takes_the_pipelines_defaults_for_the_rest(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text("pipeline: sentiment\nembed:\n  window: 8\n", encoding="utf-8")
    cfg = load_config(str(path))
    assert cfg.embed.window == 8 and cfg.embed.vector_size == 300  # the sentiment pipeline's, not word2vec's 100


def test_a_number_where_a_pipeline_file_wants_text_says_to_quote_it(tmp_path):
    text = (PIPELINES_DIR / "sentiment.yaml").read_text(encoding="utf-8")
    assert "  vectors: null" in text
    path = tmp_path / "mine.yaml"
    path.write_text(text.replace("  vectors: null", "  vectors: 5883361850", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("embed.vectors=5883361850 must be a string: put it in quotes")):
        load_config(str(path))
