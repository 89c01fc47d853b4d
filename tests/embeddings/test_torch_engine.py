"""The PyTorch word2vec engine: formulas, planted structure, gensim compatibility, reproducibility."""

import random

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors, Word2Vec
from gensim.test.utils import datapath

from nlp_pipeline.embeddings import Word2VecParams, save_vectors
from nlp_pipeline.embeddings.native import kernel_available
from nlp_pipeline.embeddings.torch_engine import (
    TorchW2VOptions,
    context_matrix,
    sample_negatives,
    subsample,
    train_torch,
)
from nlp_pipeline.embeddings.w2v_corpus import (
    build_vocab,
    encode_corpus,
    keep_probabilities,
    negative_table,
    scan_corpus,
)
from nlp_pipeline.errors import DataError

LEE = datapath("lee_background.cor")


# -- vocabulary and the subsampling table, against gensim itself -----------------------------


@pytest.mark.parametrize("max_vocab_size", [None, 3000])
def test_vocabulary_matches_gensim(max_vocab_size):
    vocab = build_vocab(LEE, min_count=3, max_vocab_size=max_vocab_size)
    model = Word2Vec(min_count=3, max_vocab_size=max_vocab_size, sample=1e-3)
    model.build_vocab(corpus_file=LEE)
    assert sorted(vocab.words) == sorted(model.wv.index_to_key)
    counts = dict(zip(vocab.words, vocab.counts.tolist()))
    assert all(counts[w] == model.wv.get_vecattr(w, "count") for w in vocab.words)
    assert vocab.corpus_words == model.corpus_total_words
    assert list(vocab.counts) == sorted(vocab.counts, reverse=True)


def test_keep_probabilities_follow_word2vecs_formula_and_gensims_table():
    vocab = build_vocab(LEE, min_count=3)
    sample = 1e-3
    keep = keep_probabilities(vocab.counts, sample)
    t = sample * vocab.counts.sum()
    for c, k in zip(vocab.counts[:50], keep[:50]):
        assert k == pytest.approx(min(1.0, (np.sqrt(c / t) + 1) * t / c))
    model = Word2Vec(min_count=3, sample=sample)
    model.build_vocab(corpus_file=LEE)
    gensim_keep = np.array([model.wv.get_vecattr(w, "sample_int") for w in vocab.words]) / 2**32
    assert np.allclose(keep, gensim_keep, atol=1e-6)
    assert keep[0] < 0.2 and keep[-1] == 1.0  # frequent words dropped often, rare words never
    assert np.all(keep_probabilities(vocab.counts, 0) == 1.0)


def test_subsampling_keeps_words_at_the_formulas_rate():
    keep_prob = torch.tensor([0.1, 0.5, 1.0])
    ids = torch.arange(3).repeat(100_000)
    kept = subsample(ids, keep_prob, torch.Generator().manual_seed(0))
    rates = torch.bincount(ids[kept], minlength=3).double() / 100_000
    assert torch.allclose(rates, keep_prob.double(), atol=0.005)


def _table_by_search(counts: np.ndarray, size: int) -> np.ndarray:
    """The unigram table by its definition: each slot's point searched in the cumulative shares."""
    cum = np.cumsum(np.asarray(counts, dtype=np.float64) ** 0.75)
    cum /= cum[-1]
    slots = (np.arange(size, dtype=np.float64) + 0.5) / size
    return np.minimum(np.searchsorted(cum, slots, side="right"), len(cum) - 1).astype(np.int32)


@pytest.mark.parametrize("size", [1, 7, 1000, 100_003])
def test_negative_table_is_the_search_per_slot_exactly(size):
    rng = np.random.default_rng(size)
    for counts in (rng.zipf(1.3, 5000).clip(1, 10**7), np.array([5]), np.array([3, 3, 3]),
                   np.array([10**9, 1, 1, 1]), rng.integers(1, 4, 40)):
        table = negative_table(counts, size=size)
        assert table.dtype == np.int32 and table.shape == (size,)
        assert np.array_equal(table, _table_by_search(counts, size))


def test_negatives_follow_unigram_to_the_three_quarters():
    counts = np.array([1000, 300, 100, 10, 1])
    table = negative_table(counts, size=100_000)
    expected = counts**0.75 / (counts**0.75).sum()
    assert np.allclose(np.bincount(table, minlength=5) / table.size, expected, atol=1e-5)  # shares, to a slot
    draws = sample_negatives(torch.from_numpy(table), (400_000,), torch.Generator().manual_seed(1))
    freq = torch.bincount(draws, minlength=5).double().numpy() / draws.numel()
    assert np.allclose(freq, expected, atol=0.003)
    assert freq[4] > 0  # the rarest word can be drawn


# -- dynamic window ----------------------------------------------------------------------------


def test_window_shrinks_uniformly_and_never_crosses_a_sentence():
    window = 4
    ids = torch.arange(10_000)
    sentences = torch.arange(10_000) // 50  # sentences of 50 words
    contexts, valid = context_matrix(ids, sentences, window, torch.Generator().manual_seed(2))
    offsets = torch.tensor([-4, -3, -2, -1, 1, 2, 3, 4])
    assert torch.equal(contexts[valid], (ids.unsqueeze(1) + offsets)[valid])  # the right neighbours
    assert torch.equal(sentences[contexts][valid], sentences.unsqueeze(1).expand_as(contexts)[valid])
    # away from sentence edges, a centre uses r words each side, r uniform in 1..window
    middle = (ids % 50 >= window) & (ids % 50 < 50 - window)
    left = valid[middle][:, :window].sum(1)
    right = valid[middle][:, window:].sum(1)
    assert torch.equal(left, right)
    share = torch.bincount(left, minlength=window + 1)[1:].double() / left.numel()
    assert torch.allclose(share, torch.full((window,), 1 / window, dtype=torch.float64), atol=0.02)
    # the shrunk window is contiguous: offset ±k used only if every closer offset is
    assert torch.all(valid[middle][:, window - 1] >= valid[middle][:, 0])


# -- training ------------------------------------------------------------------------------------


def planted_corpus(path, sentences=3000, seed=0):
    """Four topics; a sentence mixes words of one topic only, so topic mates co-occur."""
    rng = random.Random(seed)
    topics = [[f"{name}{i}" for i in range(6)] for name in ("fruit", "tool", "city", "color")]
    with open(path, "w") as fh:
        for _ in range(sentences):
            topic = rng.choice(topics)
            fh.write(" ".join(rng.choice(topic) for _ in range(12)) + "\n")
    return topics


@pytest.mark.parametrize("sg", [1, 0])
def test_planted_cooccurrence_puts_topic_mates_nearest(tmp_path, sg):
    topics = planted_corpus(tmp_path / "planted.txt")
    params = Word2VecParams(sg=sg, vector_size=16, window=3, negative=5, min_count=1, sample=0, epochs=3,
                            workers=1, seed=3)
    model = train_torch(tmp_path / "planted.txt", params, options=TorchW2VOptions(batch_words=64), progress=False)
    kv = model.to_keyed_vectors()
    for topic in topics:
        for word in topic:
            neighbours = [w for w, _ in kv.most_similar(word, topn=5)]
            assert set(neighbours) <= set(topic), (word, neighbours)
    losses = model.info["epoch_loss"]
    assert len(losses) == 3 and losses[-1] < losses[0]


@pytest.fixture(scope="module")
def lee_model():
    params = Word2VecParams(vector_size=24, epochs=2, min_count=3, workers=1, seed=5)
    return params, train_torch(LEE, params, progress=False)


def test_fixed_seed_reproduces_vectors_on_cpu(lee_model):
    params, model = lee_model
    again = train_torch(LEE, params, progress=False)
    assert np.array_equal(again.input_vectors, model.input_vectors)
    other = train_torch(LEE, params.model_copy(update={"seed": 6}), progress=False)
    assert not np.allclose(other.input_vectors, model.input_vectors)


def test_output_is_the_gensim_artifact_format(lee_model, tmp_path):
    _, model = lee_model
    files = save_vectors(model.to_keyed_vectors(), tmp_path)
    loaded = KeyedVectors.load_word2vec_format(str(tmp_path / files["vectors"]), binary=True)
    assert loaded.index_to_key == model.vocab.words
    assert np.allclose(loaded.vectors, model.input_vectors)
    counts = dict(line.split("\t") for line in (tmp_path / files["words"]).read_text().splitlines())
    assert int(counts["the"]) == model.vocab.counts[model.vocab.index["the"]]


def test_info_reports_speed_loss_and_examples(lee_model):
    params, model = lee_model
    info = model.info
    assert info["engine"] == "torch" and info["device"] == "cpu" and info["workers"] == 1
    assert info["words_per_second"] > 0 and info["corpus_words"] == build_vocab(LEE, 3).corpus_words
    assert len(info["epoch_loss"]) == params.epochs and info["epoch_loss"][-1] < info["epoch_loss"][0]
    assert all(n > 0 for n in info["epoch_examples"])


def test_hogwild_workers_train_as_well(tmp_path):
    topics = planted_corpus(tmp_path / "planted.txt", sentences=2000)
    params = Word2VecParams(sg=1, vector_size=16, window=3, min_count=1, sample=0, epochs=3, workers=2, seed=3)
    model = train_torch(tmp_path / "planted.txt", params,
                        options=TorchW2VOptions(batch_words=64, chunk_tokens=4096), progress=False)
    kv = model.to_keyed_vectors()
    assert model.info["workers"] == 2
    hits = sum(set(w for w, _ in kv.most_similar(t[0], topn=5)) <= set(t) for t in topics)
    assert hits == len(topics)


# -- streaming -----------------------------------------------------------------------------------


def test_encoded_corpus_streams_in_bounded_chunks_of_whole_sentences(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("a b c\n\nb c d e\nzz a\n" * 500)
    vocab = build_vocab(corpus, min_count=2)
    assert "zz" in vocab.words and vocab.sentences == 2000
    encoded = encode_corpus(corpus, vocab, tmp_path / "enc")
    chunks = list(encoded.chunks(100))
    assert sum(len(ids) for ids, _, _ in chunks) == encoded.tokens == 9 * 500
    assert sum(raw for _, _, raw in chunks) == vocab.corpus_words
    assert max(len(ids) for ids, _, _ in chunks) <= 100
    for ids, lengths, _ in chunks:
        assert lengths.sum() == len(ids)  # chunks end on sentence boundaries
    first = chunks[0][0][:3]
    assert [vocab.words[i] for i in first] == ["a", "b", "c"]


def _encoded_files(encoded):
    return [path.read_bytes() for path in (encoded.ids_path, encoded.lengths_path, encoded.raw_lengths_path)]


SCANS = [pytest.param(False, id="python"),
         pytest.param(True, id="native", marks=pytest.mark.skipif(not kernel_available(), reason="no C kernel"))]


@pytest.mark.parametrize("native", SCANS)
@pytest.mark.parametrize("min_count", [1, 2, 31])
def test_one_pass_scan_equals_counting_then_encoding(tmp_path, monkeypatch, min_count, native):
    """The engine's one-pass scan, in Python and in C: the same vocabulary (ties in first-seen order) and
    the same id files as `build_vocab` + `encode_corpus`, across blocks, empty and blank lines, lines cut at
    gensim's limit, dropped words, and every whitespace Python's str.split() splits on (and a few it does not)."""
    import nlp_pipeline.embeddings.w2v_corpus as w2v_corpus

    monkeypatch.setattr(w2v_corpus, "MAX_CHUNK_SENTENCES", 5)
    monkeypatch.setattr(w2v_corpus, "MAX_SENTENCE_WORDS", 7)
    monkeypatch.setattr(w2v_corpus, "SCAN_BLOCK_CHARS", 50)
    monkeypatch.setattr(w2v_corpus, "REMAP_TOKENS", 13)
    rng = random.Random(3)
    words = [f"w{i}" for i in range(50)] + ["café", "naïve", "日本", "a\u200bb", "x\u2030y", "€", "🙂"]
    spaces = [" ", "\t", "\x0b", "\x0c", "\r", "\x1c", "\x1d", "\x1e", "\x1f", "\x85", "\xa0", "\u1680",
              "\u2000", "\u2005", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "  "]
    assert all(("a" + sp + "b").split() == ["a", "b"] for sp in spaces)
    lines = []
    for _ in range(200):
        tokens = rng.choices(words, weights=range(len(words), 0, -1), k=rng.randint(0, 20))
        lines.append(rng.choice(["", " ", "\u3000"]) + "".join(t + rng.choice(spaces) for t in tokens))
    corpus = tmp_path / "c.txt"
    corpus.write_text("\n".join(lines) + "\n", encoding="utf-8")
    vocab = build_vocab(corpus, min_count=min_count)
    encoded = encode_corpus(corpus, vocab, tmp_path / "two")
    vocab1, encoded1 = scan_corpus(corpus, min_count, None, tmp_path / "one", native=native)
    assert vocab1.words == vocab.words and vocab1.counts.tolist() == vocab.counts.tolist()
    assert (vocab1.corpus_words, vocab1.sentences) == (vocab.corpus_words, vocab.sentences)
    assert encoded1.tokens == encoded.tokens and _encoded_files(encoded1) == _encoded_files(encoded)
    assert sorted(p.name for p in (tmp_path / "one").iterdir()) == ["ids.int32", "lengths.int32", "raw_lengths.int32"]


@pytest.mark.parametrize("native", SCANS)
def test_one_pass_scan_of_a_file_without_a_final_newline_and_a_long_line(tmp_path, native):
    corpus = tmp_path / "c.txt"
    corpus.write_text("b a\n" + " ".join(["w"] * 25_000) + " a\nlast b", encoding="utf-8")
    vocab, encoded = scan_corpus(corpus, 1, None, tmp_path / "one", native=native)
    assert vocab.words == ["w", "b", "a", "last"] and vocab.counts.tolist() == [25_000, 2, 2, 1]
    assert vocab.sentences == 1 + 3 + 1 and vocab.corpus_words == 2 + 25_001 + 2
    assert np.fromfile(encoded.lengths_path, dtype=np.int32).tolist() == [2, 10_000, 10_000, 5_001, 2]


@pytest.mark.parametrize("native", SCANS)
def test_one_pass_scan_errors_like_the_two_passes(tmp_path, native):
    rare = tmp_path / "rare.txt"
    rare.write_text("one two three\n")
    with pytest.raises(DataError, match="no word occurs 5 times .*3 tokens, most frequent word 'one' seen 1 times"):
        scan_corpus(rare, 5, None, tmp_path / "out", native=native)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"ok line\n\xff\xfebad\n")
    with pytest.raises(DataError, match=r"binary.txt:2: not valid utf-8"):
        scan_corpus(binary, 1, None, tmp_path / "out", native=native)


def test_chunks_also_bound_the_number_of_sentences(tmp_path, monkeypatch):
    import nlp_pipeline.embeddings.w2v_corpus as w2v_corpus

    monkeypatch.setattr(w2v_corpus, "MAX_CHUNK_SENTENCES", 7)
    corpus = tmp_path / "c.txt"
    corpus.write_text("x\n" * 30 + "a b\n" * 40)  # 'x' is below min_count: 30 empty sentences
    vocab = build_vocab(corpus, min_count=31)
    encoded = encode_corpus(corpus, vocab, tmp_path / "enc")
    chunks = list(encoded.chunks(1000))
    assert max(len(lengths) for _, lengths, _ in chunks) <= 7
    assert sum(len(lengths) for _, lengths, _ in chunks) == 70
    assert sum(raw for _, _, raw in chunks) == 110 and sum(len(ids) for ids, _, _ in chunks) == 80


@pytest.mark.parametrize("sg", [1, 0])
def test_one_word_sentences_train_nothing_and_do_not_fail(tmp_path, sg):
    corpus = tmp_path / "one.txt"
    corpus.write_text("a\nb\na\nb\nc\n")
    params = Word2VecParams(sg=sg, vector_size=4, min_count=1, sample=0, epochs=1, workers=1)
    model = train_torch(corpus, params, progress=False)
    assert model.info["epoch_loss"] == [0.0] and model.info["epoch_examples"] == [0]
    assert np.count_nonzero(model.output_vectors) == 0  # no context, no update


def test_long_lines_are_cut_like_gensim(tmp_path):
    corpus = tmp_path / "long.txt"
    corpus.write_text(" ".join(["w"] * 25_000) + "\n")
    vocab = build_vocab(corpus, min_count=1)
    assert vocab.sentences == 3 and vocab.corpus_words == 25_000


def test_bad_corpora_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="missing.txt"):
        build_vocab(tmp_path / "missing.txt")
    rare = tmp_path / "rare.txt"
    rare.write_text("one two three\n")
    with pytest.raises(DataError, match="no word occurs 5 times .*3 tokens, most frequent word 'one' seen 1 times"):
        build_vocab(rare, min_count=5)
    binary = tmp_path / "binary.txt"
    binary.write_bytes(b"ok line\n\xff\xfebad\n")
    with pytest.raises(DataError, match=r"binary.txt:2: not valid utf-8"):
        build_vocab(binary, min_count=1)


@pytest.mark.parametrize("streams", [1, 2])
@pytest.mark.parametrize("schedule", ["linear", "per_epoch"])
def test_learning_rate_per_job_follows_the_declared_schedule(tmp_path, monkeypatch, schedule, streams):
    """Every job's rates, start and end: linear falls from alpha to min_alpha over all the words trained, in
    the order they are; per_epoch falls over each stream of epoch e from alpha·(1 - e/E) to
    alpha·(1 - (e + 1/2)/E) (the progress; min_alpha as the floor), as each of gensim's two threads' does,
    and the next epoch starts at alpha·(1 - (e + 1)/E)."""
    from nlp_pipeline.embeddings import torch_engine

    path = tmp_path / "tiny.txt"
    path.write_text("".join(" ".join(f"w{(i * 7 + j) % 20}" for j in range(10)) + "\n" for i in range(200)))
    params = Word2VecParams(vector_size=8, min_count=1, epochs=3, workers=1, sample=0, alpha=0.025,
                            min_alpha=0.0001, lr_schedule=schedule, streams=streams)
    calls = []
    rate = torch_engine._Trainer.learning_rate

    def spy(self, job, done=0.0):
        calls.append((job, done, rate(self, job, done)))
        return calls[-1][2]

    monkeypatch.setattr(torch_engine._Trainer, "learning_rate", spy)
    model = train_torch(path, params, progress=False, options=TorchW2VOptions(chunk_tokens=300))
    per_epoch, span = model.info["corpus_words"], params.alpha - params.min_alpha
    assert per_epoch == 2000 and len({job.number for job, _, _ in calls}) > 3 * 5  # several jobs an epoch
    stream_words = per_epoch / streams  # 200 lines of 10 words: the parts are exact halves
    for job, done, lr in calls:
        if schedule == "linear":
            progress = (job.words_before + done * job.raw_words) / (3 * per_epoch)
        else:
            progress = (job.epoch + 0.5 * (job.stream_words_before + done * job.raw_words) / stream_words) / 3
        assert lr == pytest.approx(params.alpha - span * progress)
    ends = {e: min(lr for job, _, lr in calls if job.epoch == e) for e in range(3)}
    starts = {e: max(lr for job, _, lr in calls if job.epoch == e) for e in range(3)}
    for e in range(3):
        assert starts[e] == pytest.approx(params.alpha - span * e / 3)
        assert ends[e] == pytest.approx(params.alpha - span * (e + (1 if schedule == "linear" else 0.5)) / 3)
    if schedule == "per_epoch":  # each epoch starts where linear would, below where the last one ended
        assert ends[0] > starts[1] and ends[1] > starts[2]
        for e in range(3):  # every stream starts the epoch at its top rate
            tops = [lr for job, done, lr in calls if job.epoch == e and job.stream_words_before == 0 and done == 0]
            assert len(tops) == streams and tops == pytest.approx([starts[e]] * streams)


def test_streams_take_the_texts_parts_in_turn(tmp_path):
    """Two streams: the text cut at the sentence after half its words, a chunk of each part in turn, every
    sentence once an epoch, each part from its own start (gensim's corpus_file mode on two threads)."""
    from nlp_pipeline.embeddings.torch_engine import _jobs
    from nlp_pipeline.embeddings.w2v_corpus import scan_corpus

    path = tmp_path / "lines.txt"
    # line i: its own word twice, then i % 7 + 1 fillers (raw words differ by line); line 3's words are seen once,
    # below min_count, so it has raw words and no ids
    lines = ["r1 r2 r3" if i == 3 else f"l{i} l{i} " + " ".join(["x"] * (i % 7 + 1)) for i in range(101)]
    path.write_text("\n".join(lines) + "\n")
    vocab, encoded = scan_corpus(path, 2, None, tmp_path / "enc")
    first, second = encoded.parts(2)
    assert (first.start, first.first_id, second.stop) == (0, 0, 101) and first.stop == second.start
    assert first.raw_words + second.raw_words == vocab.corpus_words
    raw = [len(line.split()) for line in lines]
    assert sum(raw[:first.stop - 1]) < vocab.corpus_words / 2 <= sum(raw[:first.stop])  # cut after the halfway line
    assert second.first_id == int(np.fromfile(encoded.lengths_path, dtype=np.int32)[:second.start].sum())
    jobs = list(_jobs(encoded, 2, 40, streams=2))
    every_id = np.fromfile(encoded.ids_path, dtype=np.int32)
    for epoch in (0, 1):
        mine = [job for job in jobs if job.epoch == epoch]
        streams = [[job for job in mine if job.stream == k] for k in (0, 1)]
        turns = 2 * min(map(len, streams))
        assert [job.stream for job in mine[:turns]] == [0, 1] * (turns // 2)  # in turn while both have text
        assert len(streams[0]) > 2 and len(streams[1]) > 2
        words = sorted(vocab.words[i] for job in mine for i in job.ids)
        assert words == sorted(w for line in lines for w in line.split() if w[0] != "r")  # every word once
        assert vocab.words[mine[1].ids[0]] == f"l{second.start}"  # the second part from its first sentence
        for part, stream in zip((first, second), streams):
            ids = np.concatenate([job.ids for job in stream])
            assert np.array_equal(ids, every_id[part.first_id:part.first_id + len(ids)])  # each part in its order
            assert len(ids) == (second.first_id if part == first else len(every_id) - second.first_id)
            assert [job.stream_words_before for job in stream] == list(np.cumsum([0] + [
                job.raw_words for job in stream[:-1]]))
            assert {job.stream_words for job in stream} == {part.raw_words}
    assert [job.words_before for job in jobs] == list(np.cumsum([0] + [job.raw_words for job in jobs[:-1]]))


@pytest.mark.parametrize("count", [2, 3, 5])
def test_text_parts_are_the_in_memory_cut_across_block_edges(tmp_path, monkeypatch, count):
    """`EncodedCorpus.parts`, read a block of lengths at a time, cuts where the whole arrays in memory say:
    part k starts after the first sentence whose running raw words reach k/count of them (empty lines, lines
    of out-of-vocabulary words and several blocks included)."""
    import random

    from nlp_pipeline.embeddings import w2v_corpus

    monkeypatch.setattr(w2v_corpus, "MAX_CHUNK_SENTENCES", 7)  # many blocks, goals falling inside and on their edges
    rng = random.Random(count)
    lines = [" ".join(rng.choice(["a", "b", "c", f"once{i}"]) for _ in range(rng.choice([0, 1, 3, 9])))
             for i in range(120)]
    path = tmp_path / "text.txt"
    path.write_text("\n".join(lines) + "\n")
    vocab, encoded = w2v_corpus.scan_corpus(path, 2, None, tmp_path / "enc")
    raw = np.cumsum(np.fromfile(encoded.raw_lengths_path, dtype=np.int32))
    kept = np.concatenate(([0], np.cumsum(np.fromfile(encoded.lengths_path, dtype=np.int32))))
    starts = [0] + [int(np.searchsorted(raw, raw[-1] * k / count, side="left")) + 1 for k in range(1, count)]
    stops = starts[1:] + [len(raw)]
    parts = encoded.parts(count)
    assert [(p.start, p.stop) for p in parts] == list(zip(starts, stops))
    assert [p.first_id for p in parts] == [int(kept[s]) for s in starts]
    assert sum(p.raw_words for p in parts) == vocab.corpus_words == int(raw[-1])
    ids = np.fromfile(encoded.ids_path, dtype=np.int32)
    for part in parts:  # each part's chunks are its own sentences' ids
        got = [c[0] for c in encoded.chunks(5, part)]
        want = ids[kept[part.start]:kept[part.stop]]
        assert np.array_equal(np.concatenate(got) if got else np.zeros(0, np.int32), want)
