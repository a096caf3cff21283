"""autograd_rnn.data: vocabularies, corpora, splits, batches."""

import json
import math
import subprocess
import sys
import sysconfig
import textwrap

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograd_rnn.data import (
    DataError,
    LineBatches,
    StreamBatches,
    Vocabulary,
    default_corpus,
    lines_of,
    load_text,
    split_lines,
    split_stream,
    tokenize_words,
    unigram_entropy,
)
from autograd_rnn.data import corpus as data

# ------------------------------------------------------------------------------------------------
# tokenize_words


def test_tokenize_words_words_punctuation_apostrophes_newlines():
    text = "Hello, world!\nDon't 'panic'... x_1 = 3.14"
    assert tokenize_words(text) == [
        "Hello", ",", "world", "!", "Don't", "'", "panic", "'", ".", ".", ".", "x_1", "=", "3", ".", "14",
    ]
    assert tokenize_words(" \n\t ") == []


# ------------------------------------------------------------------------------------------------
# Vocabulary


def test_char_vocab_sorted_without_unk():
    v = Vocabulary.build("hello world", "char")
    assert v.tokens == [" ", "d", "e", "h", "l", "o", "r", "w"]
    assert v.unk_id is v.pad_id is v.bos_id is v.eos_id is None
    assert v.level == "char" and len(v) == 8 and v.index["h"] == 3
    ids = v.encode("hello")
    assert ids.dtype == np.int64 and ids.shape == (5,)
    assert v.decode(ids) == "hello"


def test_char_vocab_max_size_truncates_and_adds_unk():
    v = Vocabulary.build("bbaaacd", "char", max_size=3)  # <unk> + the two most frequent, sorted
    assert v.tokens == ["<unk>", "a", "b"]
    assert v.encode("abcz").tolist() == [1, 2, 0, 0]
    # a cap gives <unk> even where it drops nothing, so that unseen characters can be encoded
    assert Vocabulary.build("bbaaacd", "char", max_size=5).tokens == ["<unk>", "a", "b", "c", "d"]


def test_unk_on_request_at_both_levels_and_the_unknown_count():
    assert Vocabulary.build("bbaaacd", "char").unk_id is None
    v = Vocabulary.build("bbaaacd", "char", unk=True)
    assert v.tokens == ["<unk>", "a", "b", "c", "d"]
    ids = v.encode("abzzé")
    assert ids.tolist() == [1, 2, 0, 0, 0] and v.unknown(ids) == 3
    w = Vocabulary.build("the cat", "word", unk=True, sentence_markers=True)
    assert w.tokens == ["<pad>", "<unk>", "<s>", "</s>", "the", "cat"]
    assert w.unknown(w.encode("the dog and the cat")) == 2
    assert Vocabulary.build("abc", "char").unknown(np.array([0, 1])) == 0  # no <unk>: nothing is unknown


def test_word_vocab_max_size_most_frequent_ties_by_first_occurrence():
    v = Vocabulary.build(["b a c", "c a d b e"], "word", max_size=4)
    # counts: b 2, a 2, c 2, d 1, e 1: ties keep first-occurrence order b, a, c
    assert v.tokens == ["<unk>", "b", "a", "c"]
    assert len(v) == 4 and v.unk_id == 0
    assert v.encode("a d zebra").tolist() == [2, 0, 0]


def test_special_token_order_and_sentence_markers():
    v = Vocabulary.build("The cat. the dog.", "word", max_size=100, sentence_markers=True, lowercase=True)
    assert v.tokens[:4] == ["<pad>", "<unk>", "<s>", "</s>"]
    assert (v.pad_id, v.unk_id, v.bos_id, v.eos_id) == (0, 1, 2, 3)
    assert v.tokens[4] == "the"  # lowercase merged "The" and "the"
    line = v.encode_line("The cat.")
    assert line.tolist() == [2, v.index["the"], v.index["cat"], v.index["."], 3]
    assert v.decode(line) == "<s> the cat. </s>"
    assert v.decode(line, skip_special=True) == "the cat."
    nomark = Vocabulary.build("a b", "word")
    assert nomark.encode_line("a b").tolist() == nomark.encode("a b").tolist()
    c = Vocabulary.build("ab", "char", sentence_markers=True)
    assert c.tokens == ["<pad>", "<s>", "</s>", "a", "b"]
    assert c.decode(c.encode_line("ba"), skip_special=True) == "ba"


def test_unknown_word_without_unk_raises_with_token_and_position():
    v = Vocabulary.build("a b c", "word")
    with pytest.raises(DataError) as e:
        v.encode("a b\nc zebra c")
    msg = str(e.value)
    assert "'zebra'" in msg and "token 3" in msg and "line 2, column 3" in msg and "no '<unk>'" in msg


def test_unknown_char_without_unk_raises():
    v = Vocabulary.build("abc", "char")
    with pytest.raises(DataError, match=r"unknown char 'z' at character 2 \(line 1, column 3\).*no '<unk>'"):
        v.encode("abz")


def test_decode_spacing_and_bad_ids():
    v = Vocabulary.build("f ( x , y ) . 50 % [ a ] !", "word")
    assert v.decode(v.encode("f (x, y). 50% [a]!")) == "f (x, y). 50% [a]!"
    with pytest.raises(DataError, match=r"id 99 at position 1 is out of range; expected ids in \[0, "):
        v.decode([0, 99])


def test_to_dict_from_dict_round_trip_through_json():
    v = Vocabulary.build("Some Text, some text.", "word", max_size=5, sentence_markers=True, lowercase=True)
    d = json.loads(json.dumps(v.to_dict()))
    w = Vocabulary.from_dict(d)
    assert w == v and w.tokens == v.tokens and w.index == v.index and w.lowercase
    assert (w.pad_id, w.unk_id, w.bos_id, w.eos_id, w.level) == (v.pad_id, v.unk_id, v.bos_id, v.eos_id, v.level)
    assert w.encode("SOME text").tolist() == v.encode("SOME text").tolist()
    c = Vocabulary.build("xyz\n", "char")
    assert Vocabulary.from_dict(json.loads(json.dumps(c.to_dict()))) == c


@pytest.mark.parametrize(
    "d, match",
    [
        ({"format": "other"}, "expected a dict with format"),
        ({"format": "autograd_rnn.Vocabulary", "version": 1, "level": "char"}, "missing \\['lowercase', 'tokens'\\]"),
        ({"format": "autograd_rnn.Vocabulary", "version": 1, "level": "byte", "lowercase": False, "tokens": ["a"]},
         "level must be 'char' or 'word'"),
        ({"format": "autograd_rnn.Vocabulary", "version": 1, "level": "word", "lowercase": False,
          "tokens": ["a", "<unk>"]}, "special tokens must come first"),
        ({"format": "autograd_rnn.Vocabulary", "version": 1, "level": "word", "lowercase": False,
          "tokens": ["a", "a"]}, "appears more than once"),
    ],
)
def test_from_dict_rejects_bad_input(d, match):
    with pytest.raises(DataError, match=match):
        Vocabulary.from_dict(d)


def test_build_rejects_bad_arguments():
    with pytest.raises(DataError, match="level must be 'char' or 'word'"):
        Vocabulary.build("abc", "byte")
    with pytest.raises(DataError, match="max_size must be an int >= 5"):
        Vocabulary.build("abc", "word", max_size=4, sentence_markers=True)
    with pytest.raises(DataError, match="contain no word tokens"):
        Vocabulary.build(["", "  \n"], "word")


@given(st.text(min_size=1, max_size=50), st.data())
def test_char_encode_decode_round_trip(alphabet_text, draw):
    v = Vocabulary.build(alphabet_text, "char")
    text = draw.draw(st.text(alphabet=sorted(set(alphabet_text)), max_size=100))
    ids = v.encode(text)
    assert ids.shape == (len(text),) and ids.dtype == np.int64
    assert v.decode(ids) == text


@given(st.text(alphabet=st.sampled_from(list("ab1_'.,;:!?()[]{}%\"- \n")), max_size=80))
def test_word_decode_retokenizes_to_the_same_tokens(text):
    if not tokenize_words(text):
        return
    v = Vocabulary.build(text, "word")
    assert tokenize_words(v.decode(v.encode(text))) == tokenize_words(text)


# ------------------------------------------------------------------------------------------------
# load_text


def test_load_text_reads_utf8_drops_bom_and_normalizes_newlines(tmp_path):
    p = tmp_path / "c.txt"
    p.write_bytes("\ufeffcafé\r\nnaïve\rend\n".encode())
    assert load_text(p) == "café\nnaïve\nend\n"


def test_load_text_missing_file(tmp_path):
    p = tmp_path / "nope.txt"
    with pytest.raises(DataError, match="does not exist") as e:
        load_text(p)
    assert str(p) in str(e.value)


def test_load_text_directory(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        load_text(tmp_path)


def test_load_text_not_utf8_reports_offset_line_column_and_bytes(tmp_path):
    p = tmp_path / "latin1.txt"
    p.write_bytes("first line\nsecond\nthé \xe9t\xe9\n".encode("latin-1"))  # é is one byte, 0xe9, in latin-1
    with pytest.raises(DataError) as e:
        load_text(p)
    msg = str(e.value)
    assert "not valid UTF-8" in msg and str(p) in msg
    assert "byte offset 20" in msg and "line 3, column 3" in msg and "e9" in msg
    q = tmp_path / "mixed.txt"
    q.write_bytes("ok\nαβ".encode() + b"\xff\xfe")  # column counts characters, not bytes
    with pytest.raises(DataError, match=r"bytes ff at byte offset 7 \(line 2, column 3\)"):
        load_text(q)


@pytest.mark.parametrize("content", [b"", b"  \n\t\n"])
def test_load_text_empty_corpus(tmp_path, content):
    p = tmp_path / "empty.txt"
    p.write_bytes(content)
    with pytest.raises(DataError, match=r"corpus .* is empty"):
        load_text(p)


def test_lines_of():
    assert lines_of("  a b \n\n\t\nc\r\n  ") == ["a b", "c"]


# ------------------------------------------------------------------------------------------------
# default_corpus

BUILD_IN_SUBPROCESS = textwrap.dedent(
    """
    import json, sys, sysconfig
    sysconfig.get_paths()  # imports sysconfig's own data module, before the snapshot
    import autograd_rnn.data as d
    before = set(sys.modules)
    text = d.default_corpus(sys.argv[1], verbose=True)
    print(json.dumps({"new_modules": sorted(set(sys.modules) - before), "chars": len(text)}))
    """
)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The one cold build of the real corpus, in a fresh interpreter, cached to a temporary directory."""
    cache = tmp_path_factory.mktemp("corpus-cache")
    proc = subprocess.run([sys.executable, "-c", BUILD_IN_SUBPROCESS, str(cache)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    return cache, json.loads(proc.stdout), proc.stderr


def test_default_corpus_builds_without_importing_the_stdlib(built):
    cache, info, stderr = built
    # Only codecs named by PEP 263 coding lines may be loaded; no stdlib module is imported (no
    # tkinter, no turtle, no antigravity opening a browser, no `this` printing the Zen).
    assert [m for m in info["new_modules"] if not m.startswith("encodings.")] == []
    assert "standard library" in stderr and "built in" in stderr and "files" in stderr and "MB" in stderr
    assert len(list(cache.glob("stdlib-docstrings-*.txt"))) == 1


def test_default_corpus_is_large_and_comes_from_the_cache(built, capsys):
    cache, info, _ = built
    text = default_corpus(cache, verbose=True)
    err = capsys.readouterr().err
    assert "from the cache" in err and f"{len(text):,} characters" in err
    assert len(text) == info["chars"] > 1_000_000
    v = sys.version_info
    assert f"Python {v.major}.{v.minor} standard library" in err
    assert "Return" in text and "\n\n" in text
    assert default_corpus(cache, verbose=False) == text


def test_default_corpus_is_deterministic(built):
    """A second, in-process build of the real corpus (another process, hash seed and import state)
    equals the cached one. This is the only other full build in this file."""
    cache, _, _ = built
    text, n_files = data._docstrings_of(data.Path(sysconfig.get_paths()["stdlib"]))
    assert default_corpus(cache, verbose=False) == text and n_files > 100


def test_docstring_extraction_rules(tmp_path):
    files = {
        "b.py": '"""Module b."""\n\nclass C:\n    """Class C.\n\n    More."""\n\n    def m(self):\n'
                '        """Method m."""\n        def inner():\n            """Inner."""\n\nasync def f():\n'
                '    """Async f."""\n\ndef nodoc():\n    pass\n',
        "a.py": '"""Module a."""\n',
        "pkg/latin.py": '# -*- coding: latin-1 -*-\n"""Caf\xe9."""\n',
        "pkg/bad_encoding.py": '"""Caf\xe9 without a coding line."""\n',
        "pkg/broken.py": '"""Never."""\ndef (:\n',
        "test/t.py": '"""Test."""\n',
        "pkg/tests/t.py": '"""Tests."""\n',
        "idlelib/idle_test/t.py": '"""Idle test."""\n',
        "lib2to3/tests/data/t.py": '"""Data."""\n',
        "site-packages/x/x.py": '"""Third party."""\n',
    }
    for rel, src in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(src.encode("latin-1"))
    text, n_files = data._docstrings_of(tmp_path)
    assert text == "Module a.\n\nModule b.\n\nClass C.\n\nMore.\n\nMethod m.\n\nInner.\n\nAsync f.\n\nCafé.\n"
    assert n_files == 3
    assert data._docstrings_of(tmp_path) == (text, n_files)


def test_default_corpus_cache_unwritable_warns_and_still_returns(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(data, "_docstrings_of", lambda root: ("Fake docstring.\n", 1))
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.warns(RuntimeWarning, match="cannot write the cache"):
        assert default_corpus(blocker / "cache", verbose=True) == "Fake docstring.\n"
    assert "not cached" in capsys.readouterr().err


def test_default_corpus_rebuilds_a_corrupt_cache_and_uses_xdg(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_docstrings_of", lambda root: ("Fake docstring.\n", 1))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_corpus(verbose=False) == "Fake docstring.\n"
    (cached,) = (tmp_path / "autograd_rnn").glob("stdlib-docstrings-*.txt")
    assert cached.name == f"stdlib-docstrings-{data.platform.python_version()}.txt"
    assert list((tmp_path / "autograd_rnn").glob("*.tmp")) == []
    cached.write_text(cached.read_text()[:-3])  # truncated
    monkeypatch.setattr(data, "_docstrings_of", lambda root: ("Rebuilt.\n", 1))
    assert default_corpus(verbose=False) == "Rebuilt.\n"
    assert default_corpus(verbose=False) == "Rebuilt.\n"


def test_default_corpus_cache_returns_exactly_what_was_built(tmp_path, monkeypatch, capsys):
    odd = "Carriage\rreturn, CRLF\r\n, tab\t, unicode \u00e9\u4e2d\U0001f600.\n"
    monkeypatch.setattr(data, "_docstrings_of", lambda root: (odd, 1))
    assert default_corpus(tmp_path) == odd
    monkeypatch.setattr(data, "_docstrings_of", lambda root: pytest.fail("rebuilt instead of using the cache"))
    assert default_corpus(tmp_path) == odd
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "built in" in err[0] and "from the cache" in err[1]


# ------------------------------------------------------------------------------------------------
# Splits


def test_split_stream_is_contiguous():
    ids = np.arange(100)
    tr, va, te = split_stream(ids)
    assert (len(tr), len(va), len(te)) == (90, 5, 5)
    assert np.concatenate([tr, va, te]).tolist() == ids.tolist()
    tr, va, te = split_stream(np.arange(10), (1.0, 0.0, 0.0))
    assert len(tr) == 10 and len(va) == len(te) == 0


def test_split_lines_is_a_deterministic_shuffle():
    lines = [f"line {i}" for i in range(50)]
    a = split_lines(lines, seed=3)
    assert a == split_lines(lines, seed=3) and a != split_lines(lines, seed=4)
    assert [len(p) for p in a] == [45, 2, 3] or [len(p) for p in a] == [45, 3, 2]
    assert sorted(a[0] + a[1] + a[2]) == sorted(lines) and a[0] != lines[:45]


@pytest.mark.parametrize(
    "fractions, match",
    [
        ((0.9, 0.2, -0.1), "non-negative"),
        ((0.5, 0.2, 0.2), "sum to 1"),
        ((0.9, 0.1), "three numbers"),
        (("a", 0, 0), "three numbers"),
        ((0.0, 0.5, 0.5), "train part is empty"),
    ],
)
def test_split_fractions_are_validated(fractions, match):
    with pytest.raises(DataError, match=match):
        split_stream(np.arange(10), fractions)
    with pytest.raises(DataError, match=match):
        split_lines(list(range(10)), fractions)


def test_split_train_part_empty_for_tiny_data():
    with pytest.raises(DataError, match=r"train part is empty \(1 tokens"):
        split_stream(np.arange(1), (0.4, 0.3, 0.3))


# ------------------------------------------------------------------------------------------------
# StreamBatches


def test_stream_batches_small_example():
    sb = StreamBatches(np.arange(11), batch_size=2, seq_len=2)  # streams 0..4 and 5..9, token 10 dropped
    chunks = list(sb)
    assert len(sb) == len(chunks) == 2 and sb.tokens_per_epoch == 8
    (x0, y0), (x1, y1) = chunks
    assert x0.tolist() == [[0, 5], [1, 6]] and y0.tolist() == [[1, 6], [2, 7]]
    assert x1.tolist() == [[2, 7], [3, 8]] and y1.tolist() == [[3, 8], [4, 9]]
    assert x0.dtype == y0.dtype == np.int64


@given(n=st.integers(2, 200), batch=st.integers(1, 8), seq_len=st.integers(1, 12))
def test_stream_batches_cover_every_target_once_in_order(n, batch, seq_len):
    ids = np.random.default_rng(n).integers(0, 50, size=n)
    if n < 2 * batch:
        with pytest.raises(DataError, match="too short"):
            StreamBatches(ids, batch, seq_len)
        return
    sb = StreamBatches(ids, batch, seq_len)
    chunks = list(sb)
    assert len(chunks) == len(sb)
    for x, y in chunks:
        assert x.shape == y.shape and x.shape[1] == batch and 1 <= x.shape[0] <= seq_len
        assert x.dtype == y.dtype == np.int64
    assert all(x.shape[0] == seq_len for x, _ in chunks[:-1])
    xs = np.concatenate([x for x, _ in chunks])
    ys = np.concatenate([y for _, y in chunks])
    length = n // batch
    streams = ids[: length * batch].reshape(batch, length)
    for b in range(batch):
        assert xs[:, b].tolist() == streams[b, :-1].tolist()
        assert ys[:, b].tolist() == streams[b, 1:].tolist()
    assert ys.size == sb.tokens_per_epoch
    assert [x.tolist() for x, _ in sb] == [x.tolist() for x, _ in chunks]  # every epoch the same


def test_stream_batches_too_short_says_what_is_needed():
    with pytest.raises(DataError) as e:
        StreamBatches(np.arange(7), batch_size=4, seq_len=10)
    msg = str(e.value)
    assert "7 tokens" in msg and "at least 8" in msg and "44" in msg and "--batch" in msg and "--seq-len" in msg


@pytest.mark.parametrize("kwargs, match", [
    ({"batch_size": 0, "seq_len": 3}, "batch_size must be a positive int"),
    ({"batch_size": 2, "seq_len": 1.5}, "seq_len must be a positive int"),
])
def test_stream_batches_bad_arguments(kwargs, match):
    with pytest.raises(DataError, match=match):
        StreamBatches(np.arange(20), **kwargs)
    with pytest.raises(DataError, match="must be 1-D"):
        StreamBatches(np.zeros((4, 4), dtype=np.int64), 2, 2)
    with pytest.raises(DataError, match="must be integers"):
        StreamBatches(np.zeros(20), 2, 2)


# ------------------------------------------------------------------------------------------------
# LineBatches


@given(lengths=st.lists(st.integers(0, 9), min_size=1, max_size=25), batch=st.integers(1, 6), seed=st.integers(0, 3))
def test_line_batches_pad_and_mask_exactly_the_padding(lengths, batch, seed):
    lines = [np.arange(100 * i + 1, 100 * i + 1 + k) for i, k in enumerate(lengths)]
    usable = [a for a in lines if len(a) >= 2]
    if not usable:
        with pytest.raises(DataError, match="no usable lines"):
            LineBatches(lines, batch, pad_id=0, seed=seed)
        return
    lb = LineBatches(lines, batch, pad_id=0, seed=seed)
    assert lb.skipped == len(lines) - len(usable) and len(lb) == math.ceil(len(usable) / batch)
    seen = []
    batches = list(lb)
    assert len(batches) == len(lb)
    for i, (x, y, m) in enumerate(batches):
        assert x.shape == y.shape == m.shape and x.dtype == y.dtype == np.int64 and m.dtype == np.float64
        assert x.shape[1] == (batch if i < len(batches) - 1 else len(usable) - batch * (len(batches) - 1))
        for j in range(x.shape[1]):
            k = int(m[:, j].sum())
            assert m[:k, j].tolist() == [1.0] * k and not m[k:, j].any()  # 1 on targets, 0 on padding
            assert (x[k:, j] == 0).all() and (y[k:, j] == 0).all()
            line = [int(x[0, j]), *y[:k, j].tolist()]
            assert x[:k, j].tolist() == line[:-1]
            seen.append(line)
        assert m[:, :].sum(axis=0).max() == x.shape[0]  # padded to the longest line of the batch
    assert sorted(seen) == sorted(a.tolist() for a in usable)
    assert sum(float(m.sum()) for _, _, m in batches) == lb.tokens_per_epoch


def test_line_batches_shuffle_is_deterministic_per_epoch():
    lines = [np.array([1, 10 + i, 2]) for i in range(40)]

    def order(batches):
        return [int(v) for x, _, _ in batches for v in x[1]]

    a, b = LineBatches(lines, 8, pad_id=0, seed=5), LineBatches(lines, 8, pad_id=0, seed=5)
    e0, e1 = order(a), order(a)  # each iter() is the next epoch
    assert e0 != e1 and sorted(e0) == sorted(e1) == list(range(10, 50))
    assert order(b) == e0 and order(b) == e1
    assert order(a.epoch(0)) == e0 and order(a.epoch(1)) == e1
    assert e0 == [10 + int(i) for i in np.random.default_rng([5, 0]).permutation(40)]
    assert order(LineBatches(lines, 8, pad_id=0, seed=6)) != e0
    assert order(LineBatches(lines, 8, pad_id=0, shuffle=False)) == list(range(10, 50))


def test_line_batches_errors():
    with pytest.raises(DataError, match="no usable lines: got 0 lines"):
        LineBatches([], 4, pad_id=0)
    with pytest.raises(DataError, match="2 of them shorter than 2 tokens"):
        LineBatches([np.array([1]), np.array([], dtype=np.int64)], 4, pad_id=0)
    with pytest.raises(DataError, match="pad_id must be an int"):
        LineBatches([np.array([1, 2])], 4, pad_id=None)


def test_line_batches_with_a_vocabulary():
    v = Vocabulary.build("the cat sat.\nthe dog.", "word", sentence_markers=True)
    lines = [v.encode_line(s) for s in lines_of("the cat sat.\nthe dog.")]
    x, y, m = next(iter(LineBatches(lines, 2, pad_id=v.pad_id, shuffle=False)))
    assert x.shape == (5, 2) and x[0].tolist() == [v.bos_id] * 2
    assert y[:, 1].tolist() == [v.index["the"], v.index["dog"], v.index["."], v.eos_id, v.pad_id]
    assert m[:, 1].tolist() == [1, 1, 1, 1, 0]


# ------------------------------------------------------------------------------------------------
# unigram_entropy


def test_unigram_entropy():
    assert unigram_entropy(np.array([0, 1, 2, 3] * 5), 4) == pytest.approx(math.log(4))
    assert unigram_entropy(np.array([2, 2, 2]), 10) == 0.0
    p = np.array([0.5, 0.25, 0.25])
    assert unigram_entropy(np.array([0, 0, 1, 2]), 3) == pytest.approx(float(-(p * np.log(p)).sum()))
    with pytest.raises(DataError, match=r"id 5 at position 1 is out of range; expected ids in \[0, 5\)"):
        unigram_entropy(np.array([0, 5]), 5)
    with pytest.raises(DataError, match="ids is empty"):
        unigram_entropy(np.array([], dtype=np.int64), 5)
