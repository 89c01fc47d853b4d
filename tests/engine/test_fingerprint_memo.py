"""The file-hash memo trusts an entry only while size, mtime, ctime and inode are all unchanged."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from nlp_pipeline.engine import fingerprint
from nlp_pipeline.engine.fingerprint import fingerprint_file, sha256_file


@pytest.fixture
def reads(monkeypatch) -> list[Path]:
    """Every file the memo had to hash (a hit reads nothing)."""
    seen: list[Path] = []

    def counting(path):
        seen.append(Path(path))
        return sha256_file(path)

    monkeypatch.setattr(fingerprint, "sha256_file", counting)
    return seen


def _set_times_back(path: Path, st: os.stat_result) -> None:
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_an_unchanged_file_is_not_read_again_even_in_a_fresh_memo(tmp_path, reads):
    f, memo = tmp_path / "a.tsv", tmp_path / "memo.json"
    f.write_text("good\tpos\n")
    first = fingerprint_file(f, memo)
    fingerprint._memos.clear()  # as a new process would: the memo comes back from its file
    assert fingerprint_file(f, memo) == first
    assert reads == [f.resolve()]


def test_a_same_size_edit_with_the_mtime_set_back_is_hashed_again(tmp_path, reads):
    f, memo = tmp_path / "a.tsv", tmp_path / "memo.json"
    f.write_text("good\tpos\nbad\tneg\n")
    before = fingerprint_file(f, memo)
    st = f.stat()
    with open(f, "r+b") as fh:  # in place: same inode, same size
        fh.write(b"good\tneg\nbad\tpos\n")
    _set_times_back(f, st)
    assert (f.stat().st_size, f.stat().st_mtime_ns, f.stat().st_ino) == (st.st_size, st.st_mtime_ns, st.st_ino)
    assert fingerprint_file(f, memo) != before
    assert len(reads) == 2


def test_a_replaced_file_with_copied_times_is_hashed_again(tmp_path, reads):
    f, memo = tmp_path / "a.tsv", tmp_path / "memo.json"
    f.write_text("good\tpos\n")
    before = fingerprint_file(f, memo)
    st = f.stat()
    other = tmp_path / "b.tsv"
    other.write_text("good\tneg\n")
    shutil.copystat(f, other)  # cp -p: the old file's times on a new inode
    os.replace(other, f)
    assert fingerprint_file(f, memo) != before
    assert f.stat().st_ino != st.st_ino and len(reads) == 2


def test_an_old_three_field_entry_is_a_miss(tmp_path, reads):
    f, memo = tmp_path / "a.tsv", tmp_path / "memo.json"
    f.write_text("good\tpos\n")
    st = f.stat()
    memo.write_text(json.dumps({str(f.resolve()): [st.st_size, st.st_mtime_ns, "0" * 64]}))
    fingerprint._memos.pop(str(memo), None)
    assert fingerprint_file(f, memo) == sha256_file(f)
    assert json.loads(memo.read_text())[str(f.resolve())] == [
        st.st_size, st.st_mtime_ns, f.stat().st_ctime_ns, st.st_ino, sha256_file(f)]


def test_a_memo_file_of_another_shape_is_ignored(tmp_path):
    f, memo = tmp_path / "a.tsv", tmp_path / "memo.json"
    f.write_text("good\tpos\n")
    memo.write_text("[1, 2, 3]")
    assert fingerprint_file(f, memo) == sha256_file(f)
