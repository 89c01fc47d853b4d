"""Pipeline configuration: defaults, overrides, validation, grids."""

import re

import pytest

from nlp_pipeline.config import PIPELINES_DIR, expand_grid, load_config
from nlp_pipeline.errors import ConfigError


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
    cfg = load_config("sentiment", ["embed.sources=imdb_unsup,sst2:train"])
    assert cfg.embed.sources == ["imdb_unsup", "sst2:train"]


@pytest.mark.parametrize("override", ["lm.cutoffs=20000,40000", "lm.cutoffs=[20000, 40000]"])
def test_a_list_of_numbers_from_commas_reads_each_item_as_a_number(override):
    assert load_config("lm", [override]).lm.cutoffs == [20000, 40000]


def test_one_number_for_a_list_of_numbers_is_a_list_of_one():
    assert load_config("lm", ["lm.cutoffs=20000"]).lm.cutoffs == [20000]


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
        ("embed.sources=123", ["123"]),
        ("embed.sources=\"imdb_unsup,sst2:train\"", ["imdb_unsup", "sst2:train"]),  # quoted: YAML's reading
        ("embed.sources=[imdb_unsup, sst2:train]", ["imdb_unsup", "sst2:train"]),
        ("model.lm=[5883361850, abc]", ["5883361850", "abc"]),  # each bracketed item as typed
        ("model.lm=[\"0123\", yes]", ["0123", "yes"]),
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
            if not stripped or stripped.startswith("#"):
                continue
            assert "#" in line, f"{path.name}:{number} has no comment: {line!r}"


@pytest.mark.parametrize("pipeline", sorted(p.stem for p in PIPELINES_DIR.glob("*.yaml")))
def test_every_numeric_setting_has_a_declared_range(pipeline):
    from nlp_pipeline.config import RANGES, numeric_settings

    cfg = load_config(pipeline)
    missing = [key for key, _ in numeric_settings(cfg) if key not in RANGES]
    assert not missing, f"no range declared in config.RANGES for {missing}"
    # and a nullable numeric key (null by default) is covered too
    for key in ("embed.max_vocab_size", "embed.batch_words"):
        assert key in RANGES


@pytest.mark.parametrize("key", ["embed.alpha", "embed.negative", "embed.sample", "train.lr", "model.dropout",
                                 "embed.window", "train.clip_norm", "data.test_fraction"])
def test_a_value_below_its_range_is_an_error_naming_the_key(key):
    from nlp_pipeline.config import RANGES

    low = RANGES[key].low
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_config("sentiment", [f"{key}={low - 1}"])


def test_a_number_where_a_pipeline_file_wants_text_says_to_quote_it(tmp_path):
    text = (PIPELINES_DIR / "sentiment.yaml").read_text(encoding="utf-8")
    assert "  vectors: null" in text
    path = tmp_path / "mine.yaml"
    path.write_text(text.replace("  vectors: null", "  vectors: 5883361850", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=re.escape("embed.vectors=5883361850 must be a string: put it in quotes")):
        load_config(str(path))
