"""The word2vec side of a tokenized corpus: vocabulary, subsampling table, encoded id stream.

Why a separate encoded file: training reads the corpus ``epochs`` times, and turning tokens into
ids in Python costs more than a whole epoch of vectorised training. So the corpus is read twice
(once to count, once to encode) and every epoch streams int32 ids from a memory-mapped file in
chunks cut at sentence boundaries. Memory grows with the vocabulary and the chunk, never with
the corpus (10× the corpus = 10× the disk file, same RAM).

Counting, pruning, sorting and the subsampling formula follow gensim 4 (``Word2Vec.scan_vocab``,
``prepare_vocab``) so that both engines see the same vocabulary for the same parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from nlp_pipeline.data.readers import iter_lines
from nlp_pipeline.errors import DataError

MAX_SENTENCE_WORDS = 10_000  # gensim's corpus_file mode cuts longer lines into pieces of this size
MAX_CHUNK_SENTENCES = 1 << 16  # sentence lengths read per chunk (bounds memory for one-word lines)


@dataclass
class W2VVocab:
    """Words sorted by descending count (ties: first seen first), as gensim sorts them."""

    words: list[str]
    counts: np.ndarray  # int64, aligned with ``words``
    corpus_words: int  # raw tokens in the corpus, including words below min_count
    sentences: int

    def __len__(self) -> int:
        return len(self.words)

    @cached_property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}


def _prune(counts: dict[str, int], min_reduce: int) -> None:
    """gensim's ``utils.prune_vocab``: drop every word seen fewer than ``min_reduce`` times."""
    for word in [w for w, c in counts.items() if c < min_reduce]:
        del counts[word]


def _pieces(tokens: list[str]) -> Iterator[list[str]]:
    """A line's sentences: pieces of at most ``MAX_SENTENCE_WORDS`` tokens (an empty line is one empty sentence)."""
    for start in range(0, max(len(tokens), 1), MAX_SENTENCE_WORDS):
        yield tokens[start : start + MAX_SENTENCE_WORDS]


def _lines(corpus_file: str | Path) -> Iterator[tuple[int, list[str]]]:
    """Token lists per line; a missing, binary or non-UTF-8 file is a `DataError` naming the line."""
    for lineno, line in iter_lines(corpus_file):
        yield lineno, line.split()


def build_vocab(corpus_file: str | Path, min_count: int = 5, max_vocab_size: int | None = None) -> W2VVocab:
    """Count words in one pass; keep those with ``count >= min_count``.

    ``max_vocab_size`` caps memory while counting exactly as gensim does: whenever more distinct
    words are held, the rarest are pruned with a threshold that grows by one each time (so counts
    of rare words can end up slightly low, as in gensim and the original tool).
    """
    counts: dict[str, int] = {}
    min_reduce, corpus_words, sentences = 1, 0, 0
    for _, tokens in _lines(corpus_file):
        for piece in _pieces(tokens):
            sentences += 1
            corpus_words += len(piece)
            for word in piece:
                counts[word] = counts.get(word, 0) + 1
        if max_vocab_size and len(counts) > max_vocab_size:
            _prune(counts, min_reduce)
            min_reduce += 1
    kept = [(w, c) for w, c in counts.items() if c >= min_count]
    kept.sort(key=lambda wc: wc[1], reverse=True)  # stable: ties keep first-seen order
    if not kept:
        raise min_count_error(corpus_file, min_count, corpus_words, counts)
    return W2VVocab(words=[w for w, _ in kept], counts=np.array([c for _, c in kept], dtype=np.int64),
                    corpus_words=corpus_words, sentences=sentences)


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping each occurrence of a word (word2vec's subsampling formula).

    With ``t = sample × (total retained words)``, a word seen ``c`` times is kept with probability
    ``(sqrt(c / t) + 1) × t / c``, capped at 1; ``sample <= 0`` keeps everything.
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    return np.minimum((np.sqrt(counts / threshold) + 1.0) * threshold / counts, 1.0)


NEGATIVE_TABLE_SIZE = 10_000_000


def negative_table(counts: np.ndarray, power: float = 0.75, size: int = NEGATIVE_TABLE_SIZE) -> np.ndarray:
    """word2vec's unigram table: word ``w`` fills a share ``count^power / Σ count^power`` of it.

    A negative is then ``table[randint(size)]``: one gather, against ~70 ns per draw for a binary
    search of the cumulative distribution (measured; it was 9% of CBOW's time). Slot ``i`` holds the
    word whose cumulative share contains ``(i + 0.5) / size``, so every word with a share above
    ``1 / size`` is represented to within one slot.

    The slots are in word order, so the table is each word repeated over its run of slots: word ``w`` ends
    at the first slot whose point ``(i + 0.5) / size`` reaches its cumulative share. That end is computed
    from the share, then moved a slot if the same float64 comparison says so, so the table is the one a
    search per slot gives (the tests compare them), in 8 ms instead of 361 (10M slots, the 33,552 words of a
    5M-token text: the search had been 6% of a 300-d CBOW run).
    """
    weights = np.asarray(counts, dtype=np.float64) ** power
    cum = np.cumsum(weights)
    cum /= cum[-1]  # exactly 1 at the end: every slot's point is below it, so the last word ends the table
    ends = np.clip(np.ceil(cum * size - 0.5), 0, size).astype(np.int64)
    for _ in range(2):  # the estimate is off by at most a slot: the comparison decides
        ends -= (ends > 0) & ((ends - 1 + 0.5) / size >= cum)
        ends += (ends < size) & ((ends + 0.5) / size < cum)
    runs = np.diff(ends, prepend=0)
    return np.repeat(np.arange(len(cum), dtype=np.int32), runs)


@dataclass(frozen=True)
class TextPart:
    """A contiguous run of the encoded corpus's sentences: ``[start, stop)``, its first id's place in the id
    file (``first_id``) and its words before the vocabulary dropped any (``raw_words``)."""

    start: int
    stop: int
    first_id: int
    raw_words: int


@dataclass
class EncodedCorpus:
    """In-vocabulary word ids (int32) and sentence lengths on disk, streamed in chunks."""

    ids_path: Path
    lengths_path: Path
    raw_lengths_path: Path  # tokens per sentence before dropping out-of-vocabulary words
    tokens: int

    @property
    def sentences(self) -> int:
        return self.lengths_path.stat().st_size // 4

    def parts(self, count: int) -> list[TextPart]:
        """The text cut at sentence boundaries into ``count`` contiguous parts of about equal raw words (part
        ``k`` starts at the first sentence after ``k/count`` of them), as gensim's ``corpus_file`` mode and
        word2vec.c cut a file among their threads; a part may be empty when sentences are few and long.
        Read a block of lengths at a time: memory stays flat whatever the corpus."""
        total = 0
        with open(self.raw_lengths_path, "rb") as f_raw:  # first pass: the raw words
            while len(block := np.fromfile(f_raw, dtype=np.int32, count=MAX_CHUNK_SENTENCES)):
                total += int(block.sum(dtype=np.int64))
        goals = [total * k / count for k in range(1, count)]
        raw_before, id_before, sentence = 0, 0, 0
        bounds: list[tuple[int, int, int]] = [(0, 0, 0)]  # (sentence, raw words before it, ids before it)
        with open(self.raw_lengths_path, "rb") as f_raw, open(self.lengths_path, "rb") as f_len:
            while goals and len(raw := np.fromfile(f_raw, dtype=np.int32, count=MAX_CHUNK_SENTENCES)):
                kept = np.fromfile(f_len, dtype=np.int32, count=len(raw))
                raw_ends = raw_before + np.cumsum(raw, dtype=np.int64)
                id_ends = id_before + np.cumsum(kept, dtype=np.int64)
                while goals and raw_ends[-1] >= goals[0]:  # the part starts after the sentence that reaches it
                    at = int(np.searchsorted(raw_ends, goals.pop(0), side="left"))
                    bounds.append((sentence + at + 1, int(raw_ends[at]), int(id_ends[at])))
                raw_before, id_before, sentence = int(raw_ends[-1]), int(id_ends[-1]), sentence + len(raw)
        bounds += [(self.sentences, total, self.tokens)] * (count + 1 - len(bounds))
        return [TextPart(a[0], b[0], a[2], b[1] - a[1]) for a, b in zip(bounds, bounds[1:])]

    def chunks(self, chunk_tokens: int, part: TextPart | None = None) -> Iterator[tuple[np.ndarray, np.ndarray, int]]:
        """Yield ``(ids, sentence_lengths, raw_words)`` for runs of whole sentences ≈ chunk_tokens long, over
        the whole text or one `parts` entry.

        Read with plain file reads, a block at a time, not memory maps: pages of a mapped file
        count in the process's resident memory, which then grew with the corpus (measured: 933 MB
        on a 10× corpus vs 575 MB). A chunk also holds at most ``MAX_CHUNK_SENTENCES`` sentences.
        """
        part = part or TextPart(0, self.sentences, 0, -1)
        n_sentences = part.stop
        start_sent, start_tok = part.start, part.first_id
        with open(self.ids_path, "rb") as f_ids, open(self.lengths_path, "rb") as f_len, \
                open(self.raw_lengths_path, "rb") as f_raw:
            while start_sent < n_sentences:
                f_len.seek(start_sent * 4)
                block = np.fromfile(f_len, dtype=np.int32,
                                    count=min(MAX_CHUNK_SENTENCES, n_sentences - start_sent)).astype(np.int64)
                ends = np.cumsum(block)
                stop = max(int(np.searchsorted(ends, chunk_tokens, side="right")), 1)  # at least one sentence
                n_tok = int(ends[stop - 1])
                f_ids.seek(start_tok * 4)
                f_raw.seek(start_sent * 4)
                yield (np.fromfile(f_ids, dtype=np.int32, count=n_tok), block[:stop].astype(np.int32),
                       int(np.fromfile(f_raw, dtype=np.int32, count=stop).astype(np.int64).sum()))
                start_sent, start_tok = start_sent + stop, start_tok + n_tok


def encode_corpus(corpus_file: str | Path, vocab: W2VVocab, out_dir: str | Path) -> EncodedCorpus:
    """Second pass: write the ids of in-vocabulary words, sentence by sentence, to ``out_dir``.

    Out-of-vocabulary words are dropped before windows are formed, as in word2vec and gensim.
    Written in blocks, so memory stays flat whatever the corpus size.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    get = vocab.index.get
    paths = (out_dir / "ids.int32", out_dir / "lengths.int32", out_dir / "raw_lengths.int32")
    total = 0
    block, lengths, raw_lengths = [], [], []  # ids, in-vocabulary and raw sentence lengths, not yet written
    with open(paths[0], "wb") as f_ids, open(paths[1], "wb") as f_len, open(paths[2], "wb") as f_raw:

        def flush() -> None:
            for f, values in ((f_ids, block), (f_len, lengths), (f_raw, raw_lengths)):
                np.asarray(values, dtype=np.int32).tofile(f)
                values.clear()

        for _, tokens in _lines(corpus_file):
            for piece in _pieces(tokens):
                ids = [i for i in map(get, piece) if i is not None]
                block.extend(ids)
                lengths.append(len(ids))
                raw_lengths.append(len(piece))
                total += len(ids)
            if len(block) >= 1 << 20 or len(lengths) >= MAX_CHUNK_SENTENCES:
                flush()
        flush()
    return EncodedCorpus(*paths, tokens=total)


class _FirstSeen:
    """The first pass's output: first-seen ids and raw sentence lengths to two files, counts by id."""

    def __init__(self, seen_file, raw_file) -> None:
        self.seen_file, self.raw_file = seen_file, raw_file
        self.counts = np.zeros(0, dtype=np.int64)
        self.corpus_words = 0

    def write(self, ids: np.ndarray, lengths: np.ndarray, words: int) -> None:
        ids.astype(np.int32, copy=False).tofile(self.seen_file)
        lengths.astype(np.int32, copy=False).tofile(self.raw_file)
        counts = np.bincount(ids, minlength=words)
        counts[: len(self.counts)] += self.counts
        self.counts = counts
        self.corpus_words += len(ids)


def _first_pass_python(corpus_file: str | Path, out: _FirstSeen) -> list[str]:
    """First-seen ids with a Python dict: the words, in first-seen order."""
    index: dict[str, int] = {}
    get = index.get
    block: list[int] = []  # first-seen ids not yet written
    lengths: list[int] = []  # raw sentence lengths not yet written
    for _, tokens in _lines(corpus_file):
        ids = list(map(get, tokens))
        if None in ids:  # words seen for the first time get the next ids, in reading order
            for k, word in enumerate(tokens):
                if ids[k] is None:
                    ids[k] = index.setdefault(word, len(index))
        block.extend(ids)
        lengths.extend(map(len, _pieces(tokens)))
        if len(block) >= 1 << 20 or len(lengths) >= MAX_CHUNK_SENTENCES:
            out.write(np.asarray(block, dtype=np.int32), np.asarray(lengths, dtype=np.int32), len(index))
            block.clear()
            lengths.clear()
    out.write(np.asarray(block, dtype=np.int32), np.asarray(lengths, dtype=np.int32), len(index))
    return list(index)


SCAN_BLOCK_CHARS = 1 << 22  # characters of whole lines handed to the C scan at a time
# first-seen ids turned into final ids at a time; a block of MAX_CHUNK_SENTENCES long reviews was 18M tokens,
# whose temporaries took the scan's peak from 118 to 448 MB on a 20M-token corpus (measured)
REMAP_TOKENS = 1 << 20


def _first_pass_native(lib, corpus_file: str | Path, out: _FirstSeen) -> list[str]:
    """First-seen ids in the C kernel (`w2v_scan_block`): the same ids, no Python object per token.

    The lines still come from `iter_lines`, so a bad file is the same error, naming its line."""
    import ctypes

    handle = lib.w2v_scan_new()
    if not handle:
        raise MemoryError("the word2vec scan could not allocate its table")
    sizes = np.zeros(2, dtype=np.int64)

    def scan(lines: list[str]) -> None:
        data = ("\n".join(lines) + "\n").encode("utf-8")
        ids = np.empty(len(data) // 2 + 1, dtype=np.int32)
        lengths = np.empty(len(lines) + len(ids) // MAX_SENTENCE_WORDS + 1, dtype=np.int32)
        written = np.zeros(2, dtype=np.int64)
        if lib.w2v_scan_block(handle, data, len(data), MAX_SENTENCE_WORDS, ids.ctypes.data, lengths.ctypes.data,
                              written.ctypes.data):
            raise MemoryError("the word2vec scan ran out of memory")
        lib.w2v_scan_sizes(handle, sizes.ctypes.data)
        out.write(ids[: written[0]], lengths[: written[1]], int(sizes[0]))

    try:
        lines: list[str] = []
        chars = 0
        for _, line in iter_lines(corpus_file):
            lines.append(line)
            chars += len(line)
            if chars >= SCAN_BLOCK_CHARS or len(lines) >= MAX_CHUNK_SENTENCES:
                scan(lines)
                lines, chars = [], 0
        if lines:
            scan(lines)
        lib.w2v_scan_sizes(handle, sizes.ctypes.data)
        arena = ctypes.create_string_buffer(int(sizes[1]) or 1)
        offsets = np.zeros(int(sizes[0]) + 1, dtype=np.int64)
        lib.w2v_scan_words(handle, arena, offsets.ctypes.data)
    finally:
        lib.w2v_scan_free(handle)
    raw = arena.raw
    bounds = offsets.tolist()
    return [raw[bounds[k]:bounds[k + 1]].decode("utf-8") for k in range(len(bounds) - 1)]


def _scan_library():
    """The C kernel when it loads here (it is built on first use), else None: the scan then runs in Python."""
    from nlp_pipeline.embeddings.native import load_kernel

    return load_kernel()[0]


def scan_corpus(corpus_file: str | Path, min_count: int, max_vocab_size: int | None,
                out_dir: str | Path, native: bool | None = None) -> tuple[W2VVocab, EncodedCorpus]:
    """The vocabulary and the encoded corpus in one pass over the text (`build_vocab` + `encode_corpus`).

    Why one pass: the two passes each looked every token up in a Python dict, and together took longer
    than training CBOW for an epoch (measured: 4.0 s of an 11 s run on 5M tokens). Here each token gets a
    first-seen id once, in the C kernel where it loads (``native=None``: when it does, 0.35 s; False:
    Python's dict, 1.1 s); counting is a ``bincount`` of those ids, and turning them into the final ids (by
    descending count) is one numpy gather per block of the temporary id file. The result is identical
    to the two passes. With ``max_vocab_size`` the two passes run instead: pruning while counting
    forgets words, which first-seen ids cannot.
    """
    if max_vocab_size:
        vocab = build_vocab(corpus_file, min_count, max_vocab_size)
        return vocab, encode_corpus(corpus_file, vocab, out_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    first_seen_path, lengths_path = out_dir / "seen.int32", out_dir / "lengths.int32"
    raw_path = out_dir / "raw_lengths.int32"
    lib = _scan_library() if native is not False else None
    if native and lib is None:
        raise RuntimeError("the C kernel is not available here")
    with open(first_seen_path, "wb") as f_seen, open(raw_path, "wb") as f_raw:
        seen = _FirstSeen(f_seen, f_raw)
        words_seen = (_first_pass_native(lib, corpus_file, seen) if lib is not None
                      else _first_pass_python(corpus_file, seen))
    counts, corpus_words = seen.counts, seen.corpus_words
    kept = np.flatnonzero(counts >= min_count)
    if not len(kept):
        raise min_count_error(corpus_file, min_count, corpus_words, dict(zip(words_seen, counts.tolist())))
    kept = kept[np.argsort(-counts[kept], kind="stable")]  # ties keep first-seen order, as gensim's sort
    vocab = W2VVocab(words=[words_seen[i] for i in kept.tolist()], counts=counts[kept],
                     corpus_words=corpus_words, sentences=int(raw_path.stat().st_size // 4))
    final_id = np.full(len(words_seen), -1, dtype=np.int32)
    final_id[kept] = np.arange(len(kept), dtype=np.int32)
    ids_path, total = out_dir / "ids.int32", 0
    with open(first_seen_path, "rb") as f_seen, open(raw_path, "rb") as f_raw, open(ids_path, "wb") as f_ids, \
            open(lengths_path, "wb") as f_len:
        while len(raw := np.fromfile(f_raw, dtype=np.int32, count=MAX_CHUNK_SENTENCES)):
            ends = np.cumsum(raw, dtype=np.int64)
            first = 0
            while first < len(raw):  # whole sentences of about REMAP_TOKENS at a time: memory stays flat
                base = int(ends[first - 1]) if first else 0
                stop = max(int(np.searchsorted(ends, base + REMAP_TOKENS, side="right")), first + 1)
                mapped = final_id[np.fromfile(f_seen, dtype=np.int32, count=int(ends[stop - 1]) - base)]
                known = mapped >= 0
                before = np.concatenate(([0], np.cumsum(known, dtype=np.int64)))
                np.diff(before[np.concatenate(([0], ends[first:stop] - base))]).astype(np.int32).tofile(f_len)
                mapped[known].tofile(f_ids)
                total += int(before[-1])
                first = stop
    first_seen_path.unlink()
    return vocab, EncodedCorpus(ids_path, lengths_path, raw_path, tokens=total)


def min_count_error(corpus_file, min_count: int, tokens: int | None = None, counts: dict | None = None) -> DataError:
    """The error for a vocabulary left empty by ``min_count``, with the numbers that tell how to fix it."""
    if counts is None:  # gensim's path: count only now that training has failed
        counts, tokens = {}, 0
        with open(corpus_file, encoding="utf-8") as fh:
            for line in fh:
                words = line.split()
                tokens += len(words)
                for w in words:
                    counts[w] = counts.get(w, 0) + 1
    if not counts:
        return DataError("the pretraining text is empty: every document was empty or held out; "
                         "check embed.sources", path=corpus_file)
    top, top_count = max(counts.items(), key=lambda wc: wc[1])
    return DataError(f"no word occurs {min_count:,} times in the pretraining text ({tokens:,} tokens, most "
                     f"frequent word {top!r} seen {top_count:,} times): lower embed.min_count", path=corpus_file)
