"""Tests of data/prepare.py: text -> llm.c shards -> tokens decode back to the text; gpt2_tokenizer.bin;
the offline default corpus. Needs numpy, tiktoken and the GPT-2 ranks (data/requirements.txt)."""

import glob
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "data", "prepare.py")
sys.path.insert(0, os.path.join(ROOT, "data"))
import prepare  # noqa: E402

EOT = 50256


def run(*args, ok=True):
    p = subprocess.run([sys.executable, SCRIPT, *map(str, args)], capture_output=True, text=True)
    if ok:
        assert p.returncode == 0, "prepare.py failed:\n%s\n%s" % (p.stdout, p.stderr)
    return p


def read_shard(path):
    with open(path, "rb") as f:
        data = f.read()
    header = struct.unpack("<256i", data[:1024])
    assert header[0] == 20240520, "magic"
    assert header[1] == 1, "version"
    assert all(h == 0 for h in header[3:]), "rest of the header is zero"
    assert len(data) == 1024 + 2 * header[2], "file size matches the header's token count"
    return np.frombuffer(data[1024:], dtype="<u2")


def all_tokens(out):
    """val shards then train shards, in order: the whole token stream."""
    val = sorted(glob.glob(os.path.join(out, "val_*.bin")))
    train = sorted(glob.glob(os.path.join(out, "train_*.bin")))
    return val, train, np.concatenate([read_shard(p) for p in val + train])


@pytest.fixture(scope="module")
def enc():
    return prepare.gpt2_encoding()


def test_encoding_is_gpt2(enc):
    assert enc.n_vocab == 50257
    assert enc.encode_ordinary("Hello world") == [15496, 995]
    assert enc.encode("<|endoftext|>", allowed_special="all") == [EOT]


def test_text_round_trip(tmp_path, enc):
    docs = {
        "a.txt": "First document.\nIt has two lines, numbers 12345 and unicode: caf\u00e9 \u2603 \U0001f600\n",
        "b.txt": "Second document  with  double spaces\tand a tab.\n\n" * 20,
        "c.md": "# Third\n\nThe <|endoftext|> string inside text is just text here.\n",
    }
    indir = tmp_path / "in"
    indir.mkdir()
    for name, text in docs.items():
        (indir / name).write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    p = run("--input", indir, "--out", out, "--shard-tokens", 60, "--val-tokens", 25)
    assert "tokens" in p.stdout  # progress/summary lines

    val, train, toks = all_tokens(out)
    assert len(val) == 1 and os.path.basename(val[0]) == "val_000000.bin"
    assert len(train) >= 2 and os.path.basename(train[0]) == "train_000000.bin"
    assert len(read_shard(val[0])) == 25
    sizes = [len(read_shard(p)) for p in train]
    assert max(sizes) <= 60 and max(sizes) - min(sizes) <= 1, sizes  # equal shards, none over the limit

    # the stream is <|endoftext|> before each document, files in sorted order
    expected = []
    for name in sorted(docs):
        expected += [EOT] + enc.encode_ordinary(docs[name])
    assert toks.tolist() == expected
    decoded = enc.decode(toks.tolist())
    assert decoded == "".join("<|endoftext|>" + docs[n] for n in sorted(docs))
    assert int(toks.max()) < 50257


def test_tokenizer_file(tmp_path, enc):
    out = tmp_path / "tok"
    run("--tokenizer-only", "--out", out)
    assert sorted(os.listdir(out)) == ["gpt2_tokenizer.bin"]
    data = (out / "gpt2_tokenizer.bin").read_bytes()
    header = struct.unpack("<256I", data[:1024])
    assert header[:4] == (20240328, 2, 50257, EOT)
    pieces, pos = [], 1024
    for _ in range(header[2]):
        n = data[pos]
        assert n > 0
        pieces.append(data[pos + 1:pos + 1 + n])
        pos += 1 + n
    assert pos == len(data), "no trailing bytes"
    assert pieces[EOT] == b"<|endoftext|>"
    assert pieces[15496] == b"Hello" and pieces[995] == b" world"
    assert all(pieces[i] == enc.decode_single_token_bytes(i) for i in range(0, 50257, 97))


def test_default_corpus(tmp_path, enc):
    out1, out2 = tmp_path / "d1", tmp_path / "d2"
    p = run("--default-corpus", "--max-bytes", 30000, "--out", out1, "--val-fraction", 0.1)
    run("--default-corpus", "--max-bytes", 30000, "--out", out2, "--val-fraction", 0.1)
    assert "default corpus" in p.stdout
    val, train, toks = all_tokens(out1)
    assert len(val) == 1 and len(train) == 1
    assert os.path.isfile(out1 / "gpt2_tokenizer.bin")
    n_val = len(read_shard(val[0]))
    assert abs(n_val - 0.1 * len(toks)) <= 1
    assert toks[0] == EOT
    # the text is the sorted stdlib .py files, cut at 30000 bytes in all
    root, files = prepare.stdlib_files()
    assert files == sorted(files, key=lambda f: os.path.relpath(f, root))
    assert not any("site-packages" in f for f in files)
    text = enc.decode(toks.tolist())
    first = open(files[0], "rb").read()[:30000].decode("utf-8", errors="replace")
    assert text.startswith("<|endoftext|>" + first)
    assert 30000 * 0.9 <= len(text.replace("<|endoftext|>", "").encode("utf-8")) <= 30000 + 16
    # deterministic: the same bytes twice
    for name in os.listdir(out1):
        assert (out1 / name).read_bytes() == (out2 / name).read_bytes(), name


def test_globs_jsonl_and_stale_shards(tmp_path, enc):
    indir = tmp_path / "in"
    indir.mkdir()
    (indir / "x.txt").write_text("plain text file\n")
    # a raw U+2028 inside a JSON string is valid JSON and must not end the line
    (indir / "y.jsonl").write_text(json.dumps({"text": "doc one"}) + "\n\n" + json.dumps({"text": "doc\u2028two"},
                                                                                       ensure_ascii=False) + "\n",
                                   encoding="utf-8")
    (indir / "skip.dat").write_text("not matched by the glob")
    out = tmp_path / "out"
    out.mkdir()
    (out / "train_000009.bin").write_bytes(b"stale")  # from an earlier run: must not survive
    run("--input", str(indir / "*.txt"), str(indir / "*.jsonl"), "--out", out, "--val-tokens", 0)
    assert not (out / "train_000009.bin").exists()
    assert not glob.glob(str(out / "val_*.bin"))
    toks = read_shard(out / "train_000000.bin").tolist()
    assert enc.decode(toks) == "<|endoftext|>plain text file\n<|endoftext|>doc one<|endoftext|>doc\u2028two"
    assert not [f for f in os.listdir(out) if ".tmp" in f], "temporary files removed"


def test_bad_input(tmp_path):
    p = run("--input", tmp_path / "missing.txt", "--out", tmp_path / "o", ok=False)
    assert p.returncode == 1 and "missing.txt" in p.stderr
    (tmp_path / "bad.jsonl").write_text("{not json}\n")
    p = run("--input", tmp_path / "bad.jsonl", "--out", tmp_path / "o", ok=False)
    assert p.returncode == 1 and "bad.jsonl:1" in p.stderr
    (tmp_path / "num.jsonl").write_text(json.dumps({"text": "fine"}) + "\n" + json.dumps({"text": 5}) + "\n")
    p = run("--input", tmp_path / "num.jsonl", "--out", tmp_path / "o", ok=False)
    assert p.returncode == 1 and "num.jsonl:2" in p.stderr and "not a string" in p.stderr, p.stderr
    p = run("--out", tmp_path / "o", ok=False)
    assert p.returncode != 0 and "--default-corpus" in p.stderr
    (tmp_path / "t.txt").write_text("hi")
    p = run("--input", tmp_path / "t.txt", "--out", tmp_path / "o", "--val-fraction", 1.5, ok=False)
    assert p.returncode != 0 and "val-fraction" in p.stderr
