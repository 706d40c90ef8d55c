"""Tests of scripts/build_corpus.sh on a small tree: every kept document is in exactly one split and
decodes back to its text, exact duplicates and binary files are dropped, the document order is the
content-hash order (a shuffle every machine reproduces), and a corpus below MIN_TOKENS is an error."""

import glob
import hashlib
import os
import subprocess

import numpy as np
import pytest

from test_prepare import EOT, enc, read_shard  # noqa: F401  (enc is a fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "scripts", "build_corpus.sh")


def build(tmp_path, roots, **env):
    e = dict(os.environ, ROOTS=" ".join(map(str, roots)), CORPUS=str(tmp_path / "corpus"), WORKERS="1", **env)
    return subprocess.run(["bash", SCRIPT], capture_output=True, text=True, env=e)


def documents(tokens):
    """Split a token stream at <|endoftext|> (prepare.py puts one before each document)."""
    docs, cur = [], None
    for t in tokens.tolist():
        if t == EOT:
            if cur is not None:
                docs.append(cur)
            cur = []
        else:
            cur.append(t)
    if cur is not None:
        docs.append(cur)
    return docs


def test_build_corpus_small_tree(tmp_path, enc):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    texts = {}
    for i in range(40):
        t = "def f%d(x):\n    return x * %d  # document %d\n" % (i, i, i)
        p = src / "pkg" / ("m%02d.py" % i)
        p.write_text(t)
        texts[p] = t
    (src / "pkg" / "copy.py").write_text(texts[src / "pkg" / "m03.py"])  # exact duplicate: dropped
    (src / "pkg" / "blob.h").write_bytes(b"int x;\0\1\2")                  # NUL byte: binary, dropped
    (src / "pkg" / "skip.bin").write_bytes(b"not a listed extension")      # not collected
    p = build(tmp_path, [src], MIN_TOKENS="0", VAL_PERMILLE="250")
    assert p.returncode == 0, p.stdout + p.stderr
    out = tmp_path / "corpus"
    assert (out / "CORPUS.md").exists() and (out / "gpt2_tokenizer.bin").exists()
    train = [documents(read_shard(f)) for f in sorted(glob.glob(str(out / "train_*.bin")))]
    val = [documents(read_shard(f)) for f in sorted(glob.glob(str(out / "val_*.bin")))]
    train_docs = [enc.decode(d) for shard in train for d in shard]
    val_docs = [enc.decode(d) for shard in val for d in shard]
    assert val_docs, "VAL_PERMILLE=250 of 40 documents holds some out"
    assert sorted(train_docs + val_docs) == sorted(texts.values()), "each document exactly once, duplicate and binary dropped"
    # the split is a function of the document's bytes; within a split the order is the SHA-1 order
    for docs in (train_docs, val_docs):
        keys = [hashlib.sha1(t.encode()).digest() for t in docs]
        assert keys == sorted(keys)
    for t in val_docs:
        assert int.from_bytes(hashlib.sha1(t.encode()).digest()[:8], "big") % 1000 < 250
    assert "duplicate 1" in (out / "CORPUS.md").read_text()
    # a second build gives the same bytes
    first = {f: open(f, "rb").read() for f in glob.glob(str(out / "*.bin"))}
    p = build(tmp_path, [src], MIN_TOKENS="0", VAL_PERMILLE="250")
    assert p.returncode == 0
    assert {f: open(f, "rb").read() for f in glob.glob(str(out / "*.bin"))} == first


def test_build_corpus_too_small_is_an_error(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(8):
        (src / ("d%d.txt" % i)).write_text("some text %d\n" % i)
    p = build(tmp_path, [src], MIN_TOKENS="1000000", VAL_PERMILLE="500")
    assert p.returncode != 0
    assert "MIN_TOKENS" in p.stdout + p.stderr and "ROOTS" in p.stdout + p.stderr
    assert not (tmp_path / "corpus" / "CORPUS.md").exists(), "no completion marker on failure"


def test_build_corpus_empty_validation_split_is_an_error(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i in range(8):
        (src / ("d%d.txt" % i)).write_text("some text %d\n" % i)
    p = build(tmp_path, [src], VAL_PERMILLE="0")
    assert p.returncode != 0
    assert "VAL_PERMILLE" in p.stderr and "validation split" in p.stderr, p.stdout + p.stderr
    assert not (tmp_path / "corpus" / "CORPUS.md").exists(), "no completion marker on failure"
