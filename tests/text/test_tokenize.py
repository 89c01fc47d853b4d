"""The spaCy tokenizer wrapper: PTB-style clitics, HTML breaks, order and bounded streaming."""

import pytest

from nlp_pipeline.text import Tokenizer, TokenizerConfig
from nlp_pipeline.text.tokenize import read_token_lines


def test_tokenize_splits_clitics_strips_html_and_lowercases():
    assert Tokenizer().tokenize("I don't like it.<br /><br />Really!") == [
        "i", "do", "n't", "like", "it", ".", "really", "!"
    ]


def test_already_tokenized_text_is_stable():
    assert Tokenizer().tokenize("it does n't work , ( really ) . ") == [
        "it", "does", "n't", "work", ",", "(", "really", ")", "."
    ]


def test_options_keep_case_and_html():
    tok = Tokenizer(TokenizerConfig(lowercase=False, strip_html=False))
    assert tok.tokenize("Great<br />Film") != Tokenizer().tokenize("Great<br />Film")
    assert "Great" in "".join(tok.tokenize("Great<br />Film"))


@pytest.mark.parametrize("n_process", [1, 2])
def test_pipe_keeps_order_and_empty_documents(n_process):
    texts = [f"document number {i} ." if i % 7 else "" for i in range(50)]
    out = list(Tokenizer(n_process=n_process, batch_size=4).pipe(texts))
    assert len(out) == 50
    assert out[3] == ["document", "number", "3", "."]
    assert out[7] == []


def test_multiprocess_pipe_reads_input_lazily():
    """Memory must not grow with the corpus: the input is consumed only a bounded window ahead."""
    pulled = 0

    def texts():
        nonlocal pulled
        for i in range(10_000):
            pulled += 1
            yield f"text {i}"

    tok = Tokenizer(n_process=2, batch_size=10)
    stream = tok.pipe(texts())
    next(stream)
    assert pulled <= (2 * 2 + 1) * 10
    assert sum(1 for _ in stream) == 9_999


def test_tokenize_to_file_round_trips(tmp_path):
    path = tmp_path / "out.txt"
    counts = Tokenizer().tokenize_to_file(["A cat.", "", "c"], path)
    assert counts == {"documents": 3, "tokens": 4}
    assert list(read_token_lines(path)) == [["a", "cat", "."], [], ["c"]]
