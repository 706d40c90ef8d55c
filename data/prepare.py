#!/usr/bin/env python3
"""prepare.py - turn text files into llm.c token shards (GPT-2 BPE), offline.

    python3 data/prepare.py --input FILES_OR_DIRS_OR_GLOBS... --out DIR
                            [--shard-tokens N] [--val-fraction F | --val-tokens N] [--max-bytes N]
                            [--workers N]
    python3 data/prepare.py --default-corpus --out data/default      (what `make data` runs)
    python3 data/prepare.py --tokenizer-only --out DIR

Writes DIR/train_000000.bin ..., DIR/val_000000.bin ... and DIR/gpt2_tokenizer.bin.

Documents: every input file is one document, except *.jsonl files, where every line is a JSON object whose
"text" field is one document. Like llm.c, each document is preceded by <|endoftext|> (50256). The token stream
is the documents in order (directories and globs expand in sorted order): its first tokens form the
validation split (--val-tokens N, or --val-fraction of the total, default 0.01), the rest the training split.
Each split is cut into shards of equal size (at most --shard-tokens, default 100M), so no shard is a tiny
remainder.

--default-corpus uses a corpus every machine has without a download: the .py sources of the running
Python's standard library (site-packages excluded), in sorted order; --max-bytes limits it.

Shard format (llm.c): 256 x int32 header (magic 20240520, version 1, token count), then uint16 tokens.
Tokenizer format (llm.c): 256 x uint32 header (magic 20240328, version 2, vocab size, eot id), then per
token a uint8 length and its bytes.

The GPT-2 BPE ranks are read from a local file, never downloaded: $GPT2_TIKTOKEN if set, else the
gpt2.tiktoken that the openai-whisper package ships (pip install --no-deps openai-whisper), else tiktoken's
own "gpt2" encoding if it is already cached. Requires numpy and tiktoken (data/requirements.txt).
"""

import argparse
import collections
import glob
import importlib.util
import json
import os
import sys
import sysconfig
import time

SHARD_MAGIC = 20240520
SHARD_VERSION = 1
TOKENIZER_MAGIC = 20240328
TOKENIZER_VERSION = 2
HEADER_INTS = 256
EOT = 50256
VOCAB_SIZE = 50257
MAX_SHARD_TOKENS = 2**31 - 1  # the header's token count is an int32

# GPT-2's pre-tokenizer split pattern (the one tiktoken calls r50k_base's)
GPT2_PAT_STR = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""

INSTALL_HINT = ("install the packages: pip install numpy tiktoken && pip install --no-deps openai-whisper "
                "(see data/requirements.txt)")


def fail(msg, hint=""):
    sys.stderr.write("error: %s\n" % msg)
    if hint:
        sys.stderr.write("  hint: %s\n" % hint)
    sys.exit(1)


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------------------- encoding

def find_gpt2_ranks_file():
    """Path of a local gpt2.tiktoken ranks file, or None."""
    env = os.environ.get("GPT2_TIKTOKEN")
    if env:
        if not os.path.isfile(env):
            fail("GPT2_TIKTOKEN='%s' is not a file" % env, "point it at a gpt2.tiktoken ranks file or unset it")
        return env
    try:
        # find the package without importing it (whisper's __init__ imports torch)
        spec = importlib.util.find_spec("whisper")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.origin:
        path = os.path.join(os.path.dirname(spec.origin), "assets", "gpt2.tiktoken")
        if os.path.isfile(path):
            return path
    return None


def load_ranks(path):
    """A .tiktoken file: one 'base64(token bytes) rank' per line."""
    import base64
    ranks = {}
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                fail("%s:%d: expected 'base64token rank'" % (path, lineno), "the ranks file is corrupt; reinstall it")
            ranks[base64.b64decode(parts[0])] = int(parts[1])
    return ranks


_ENCODING = None


def gpt2_encoding():
    """The GPT-2 tiktoken Encoding, built from local files only."""
    global _ENCODING
    if _ENCODING is not None:
        return _ENCODING
    try:
        import tiktoken
    except ImportError:
        fail("python package 'tiktoken' is not installed", INSTALL_HINT)
    try:
        from tiktoken_ext.openai_public import r50k_pat_str as pat_str
    except ImportError:
        pat_str = GPT2_PAT_STR
    path = find_gpt2_ranks_file()
    if path is not None:
        ranks = load_ranks(path)
        if len(ranks) != EOT:
            fail("ranks file '%s' has %d tokens, expected %d: not GPT-2's" % (path, len(ranks), EOT),
                 "reinstall openai-whisper or point GPT2_TIKTOKEN at GPT-2's gpt2.tiktoken")
        enc = tiktoken.Encoding(name="gpt2", pat_str=pat_str, mergeable_ranks=ranks,
                                special_tokens={"<|endoftext|>": EOT}, explicit_n_vocab=VOCAB_SIZE)
    else:
        try:  # works if tiktoken has the encoding cached (or there is network)
            enc = tiktoken.get_encoding("gpt2")
        except Exception as e:  # noqa: BLE001 - any failure means: no ranks available
            fail("no GPT-2 BPE ranks found locally and tiktoken could not load them (%s)" % e.__class__.__name__,
                 INSTALL_HINT + ", or set GPT2_TIKTOKEN=/path/to/gpt2.tiktoken")
    # sanity check against known GPT-2 ids
    if enc.encode_ordinary("Hello world") != [15496, 995] or enc.n_vocab != VOCAB_SIZE:
        fail("the GPT-2 encoding built from '%s' gives wrong ids" % path, "reinstall the ranks package")
    _ENCODING = enc
    return enc


# ---------------------------------------------------------------------------------------- files

def write_tokenizer(enc, path):
    import numpy as np
    header = np.zeros(HEADER_INTS, dtype=np.uint32)
    header[:4] = [TOKENIZER_MAGIC, TOKENIZER_VERSION, enc.n_vocab, EOT]
    chunks = [header.tobytes()]
    for i in range(enc.n_vocab):
        b = enc.decode_single_token_bytes(i)
        if not 0 < len(b) < 256:
            fail("token %d has %d bytes, the format allows 1..255" % (i, len(b)))
        chunks.append(bytes([len(b)]) + b)
    atomic_write(path, b"".join(chunks))


def atomic_write(path, data):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_shard(path, tokens):
    """tokens: a 1-D array-like of ids < 65536."""
    import numpy as np
    tokens = np.asarray(tokens)
    if len(tokens) > MAX_SHARD_TOKENS:
        fail("shard '%s' would have %d tokens, the format allows %d" % (path, len(tokens), MAX_SHARD_TOKENS))
    if len(tokens) and int(tokens.max()) >= 2**16:
        fail("token id %d does not fit the uint16 shard format" % int(tokens.max()))
    header = np.zeros(HEADER_INTS, dtype=np.int32)
    header[:3] = [SHARD_MAGIC, SHARD_VERSION, len(tokens)]
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(header.tobytes())
        f.write(tokens.astype("<u2", copy=False).tobytes())
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_shard(path):
    """Returns the tokens of an llm.c shard as a numpy uint16 array (checks the header)."""
    import numpy as np
    with open(path, "rb") as f:
        header = np.frombuffer(f.read(HEADER_INTS * 4), dtype="<i4")
        if len(header) != HEADER_INTS or header[0] != SHARD_MAGIC or header[1] != SHARD_VERSION:
            raise ValueError("'%s' is not an llm.c token shard" % path)
        tokens = np.frombuffer(f.read(), dtype="<u2")
    if len(tokens) != header[2]:
        raise ValueError("'%s': header says %d tokens, file has %d" % (path, header[2], len(tokens)))
    return tokens


def stdlib_files():
    """The .py files of the running Python's standard library, sorted by relative path."""
    root = sysconfig.get_paths()["stdlib"]
    skip = {"site-packages", "dist-packages", "__pycache__"}
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in skip)
        for name in filenames:
            if name.endswith(".py"):
                found.append(os.path.relpath(os.path.join(dirpath, name), root))
    return root, [os.path.join(root, rel) for rel in sorted(found)]


def expand_inputs(items):
    """Files named directly, globs and directories (recursively), each expanded in sorted order."""
    files, seen = [], set()

    def add(path):
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            files.append(path)

    for item in items:
        if os.path.isdir(item):
            found = []
            for dirpath, dirnames, filenames in os.walk(item):
                dirnames[:] = [d for d in dirnames if not d.startswith(".")]
                found += [os.path.join(dirpath, n) for n in filenames if not n.startswith(".")]
            if not found:
                fail("input directory '%s' has no files" % item, "pass files, directories with text, or globs")
            for p in sorted(found):
                add(p)
        elif os.path.isfile(item):
            add(item)
        else:
            matches = sorted(p for p in glob.glob(item, recursive=True) if os.path.isfile(p))
            if not matches:
                fail("input '%s' is not a file or directory and matches no files" % item,
                     "check the path; quote globs so the script expands them")
            for p in matches:
                add(p)
    return files


def documents(files, max_bytes):
    """Yields (path, text) per document, reading at most max_bytes bytes of input in all (None: no limit)."""
    used = 0
    for path in files:
        if max_bytes is not None and used >= max_bytes:
            return
        with open(path, "rb") as f:
            data = f.read() if max_bytes is None else f.read(max_bytes - used)
        used += len(data)
        if b"\0" in data[:8192] and not path.endswith(".jsonl"):
            log("  skipping binary file %s" % path)
            continue
        if path.endswith(".jsonl"):
            # split on "\n" only: JSON strings may hold U+2028 / U+2029 / U+0085 raw, which str.splitlines
            # would take for line ends
            lines = data.split(b"\n")
            cut = max_bytes is not None and used >= max_bytes and not data.endswith(b"\n")
            for lineno, raw in enumerate(lines, 1):
                line = raw.decode("utf-8", errors="replace")
                if not line.strip():
                    continue
                try:
                    text = json.loads(line)["text"]
                except (ValueError, KeyError, TypeError):
                    if cut and lineno == len(lines):
                        break  # the last line, cut by --max-bytes
                    fail("%s:%d: expected a JSON object with a \"text\" field" % (path, lineno),
                         "use one JSON object per line, or rename the file if it is plain text")
                if not isinstance(text, str):
                    fail("%s:%d: \"text\" is %s, not a string" % (path, lineno, type(text).__name__),
                         "give each line a string \"text\" field (or drop the line)")
                yield path, text
        else:
            yield path, data.decode("utf-8", errors="replace")


# ---------------------------------------------------------------------------------------- main

def encode_documents(texts):
    """One batch of documents -> uint16 tokens, <|endoftext|> before each document (runs in a worker)."""
    import numpy as np
    enc = gpt2_encoding()
    parts = []
    for text in texts:
        parts.append(np.array([EOT], dtype="<u2"))
        parts.append(np.asarray(enc.encode_ordinary(text), dtype="<u2"))
    return np.concatenate(parts) if parts else np.zeros(0, dtype="<u2")


def split_sizes(n, max_per_shard):
    """n tokens cut into the fewest shards of at most max_per_shard, sizes as equal as possible."""
    if n == 0:
        return []
    k = -(-n // max_per_shard)
    return [n // k + (1 if i < n % k else 0) for i in range(k)]


def remove_old_shards(out):
    old = sorted(glob.glob(os.path.join(out, "train_*.bin")) + glob.glob(os.path.join(out, "val_*.bin")))
    for p in old:
        os.remove(p)
    if old:
        log("removed %d old shard(s) from %s" % (len(old), out))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    src = ap.add_mutually_exclusive_group()
    src.add_argument("--input", nargs="+", metavar="PATH", help="text files, directories or globs")
    src.add_argument("--default-corpus", action="store_true", help="the Python standard library sources")
    src.add_argument("--tokenizer-only", action="store_true", help="only write DIR/gpt2_tokenizer.bin")
    ap.add_argument("--out", required=True, metavar="DIR", help="output directory")
    ap.add_argument("--shard-tokens", type=int, default=100_000_000, metavar="N",
                    help="most tokens per shard (default 100M)")
    val = ap.add_mutually_exclusive_group()
    val.add_argument("--val-fraction", type=float, default=None, metavar="F",
                     help="fraction of the tokens for validation (default 0.01)")
    val.add_argument("--val-tokens", type=int, default=None, metavar="N", help="tokens for validation")
    ap.add_argument("--max-bytes", type=int, default=None, metavar="N", help="read at most N bytes of input")
    ap.add_argument("--workers", type=int, default=0, metavar="N",
                    help="tokenizer processes (default 0 = one per CPU core; 1 = in this process)")
    args = ap.parse_args(argv)

    if not (args.input or args.default_corpus or args.tokenizer_only):
        ap.error("give --input PATH..., --default-corpus or --tokenizer-only")
    if not 0 < args.shard_tokens <= MAX_SHARD_TOKENS:
        ap.error("--shard-tokens must be in 1..%d" % MAX_SHARD_TOKENS)
    if args.val_fraction is not None and not 0 <= args.val_fraction < 1:
        ap.error("--val-fraction must be in [0, 1)")
    if args.val_tokens is not None and args.val_tokens < 0:
        ap.error("--val-tokens must be >= 0")
    if args.max_bytes is not None and args.max_bytes <= 0:
        ap.error("--max-bytes must be positive")
    if args.workers < 0:
        ap.error("--workers must be >= 0")

    try:
        import numpy as np
    except ImportError:
        fail("python package 'numpy' is not installed", INSTALL_HINT)
    enc = gpt2_encoding()
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    tok_path = os.path.join(args.out, "gpt2_tokenizer.bin")
    write_tokenizer(enc, tok_path)
    log("wrote %s (%d tokens, eot %d)" % (tok_path, enc.n_vocab, EOT))
    if args.tokenizer_only:
        return 0

    if args.default_corpus:
        root, files = stdlib_files()
        log("default corpus: %d .py files of the Python %d.%d standard library under %s"
            % (len(files), sys.version_info[0], sys.version_info[1], root))
    else:
        files = expand_inputs(args.input)
        log("input: %d file(s)" % len(files))
    if not files:
        fail("no input files", "pass --input PATH... or --default-corpus")

    # pass 1: tokenize every document into a temporary token file. Batches of documents go to a pool of
    # worker processes (tiktoken's own threads hold the GIL for much of the work, so they barely scale);
    # results are written in submission order, so the output does not depend on the worker count.
    tmp_path = os.path.join(args.out, ".tokens.tmp.%d" % os.getpid())
    n_docs = n_bytes = n_tokens = 0
    files_seen = set()
    last_report = time.time()
    batch, batch_bytes = [], 0
    workers = args.workers if args.workers > 0 else max(1, os.cpu_count() or 1)
    pool = None
    if workers > 1:
        import multiprocessing as mp
        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        pool = ctx.Pool(workers)
    pending = collections.deque()
    try:
        with open(tmp_path, "wb") as tmp:

            def write_done(keep):
                nonlocal n_tokens
                while len(pending) > keep:
                    arr = pending.popleft().get()
                    arr.tofile(tmp)
                    n_tokens += len(arr)

            def flush():
                nonlocal batch, batch_bytes, n_tokens
                if not batch:
                    return
                if pool is None:
                    arr = encode_documents(batch)
                    arr.tofile(tmp)
                    n_tokens += len(arr)
                else:
                    pending.append(pool.apply_async(encode_documents, (batch,)))
                    write_done(2 * workers)  # bounded: at most ~2 batches per worker in memory
                batch, batch_bytes = [], 0

            limit = 8 << 20 if pool is None else 2 << 20
            for path, text in documents(files, args.max_bytes):
                files_seen.add(path)
                n_docs += 1
                b = len(text.encode("utf-8", errors="replace"))
                n_bytes += b
                batch.append(text)
                batch_bytes += b
                if batch_bytes >= limit or len(batch) >= 4096:
                    flush()
                if time.time() - last_report > 5:
                    log("  read %d/%d files, %.1f MB, %d tokens so far" % (len(files_seen), len(files),
                                                                          n_bytes / 1e6, n_tokens))
                    last_report = time.time()
            flush()
            write_done(0)
        if pool is not None:
            pool.close()
            pool.join()
            pool = None
        log("tokenized %d document(s) from %d file(s): %.2f MB of text -> %d tokens (%.2f bytes/token) in %.1fs"
            % (n_docs, len(files_seen), n_bytes / 1e6, n_tokens, n_bytes / max(1, n_tokens), time.time() - t0))
        if n_tokens == 0:
            fail("the input has no documents", "check the input files")

        # pass 2: split and write shards
        if args.val_tokens is not None:
            n_val = min(args.val_tokens, n_tokens)
        else:
            frac = 0.01 if args.val_fraction is None else args.val_fraction
            n_val = int(round(frac * n_tokens))
        n_train = n_tokens - n_val
        if n_train == 0:
            fail("no tokens left for training (%d tokens, %d for validation)" % (n_tokens, n_val),
                 "lower --val-tokens / --val-fraction or add input")
        remove_old_shards(args.out)
        tokens = np.memmap(tmp_path, dtype="<u2", mode="r")
        written = []
        for split, start, count in (("val", 0, n_val), ("train", n_val, n_train)):
            offset = start
            for i, size in enumerate(split_sizes(count, args.shard_tokens)):
                path = os.path.join(args.out, "%s_%06d.bin" % (split, i))
                write_shard(path, tokens[offset:offset + size])
                offset += size
                written.append((path, size))
                log("  wrote %s: %d tokens" % (path, size))
        del tokens
    finally:
        if pool is not None:
            pool.terminate()
        if os.path.exists(tmp_path):
            os.remove(tmp_path)

    n_tr = sum(1 for p, _ in written if os.path.basename(p).startswith("train_"))
    log("done in %.1fs: %d train shard(s) with %d tokens, %d val shard(s) with %d tokens in %s"
        % (time.time() - t0, n_tr, n_train, len(written) - n_tr, n_val, args.out))
    if 0 < n_val < 64 * 1024 + 1:
        log("note: the val split has %d tokens: it holds floor((%d-1)/(B*T)) batches, so pick -b, -t to fit"
            % (n_val, n_val))
    return 0


if __name__ == "__main__":
    sys.exit(main())
