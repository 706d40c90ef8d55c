#!/usr/bin/env bash
# Builds an offline GPT-2-token corpus (>= 300M tokens) from the text a machine already has: the source and
# documentation files of the running Python (standard library and every installed package: PyTorch, JAX,
# transformers, SciPy, ... on the GPU machine), C/C++/CUDA headers (/usr/include, the CUDA toolkit), and
# /usr/share/doc and the man pages. No network.
#
#   scripts/build_corpus.sh                      # -> .cache/corpus/{train,val}_*.bin, gpt2_tokenizer.bin, CORPUS.md
#   CORPUS=data/corpus MIN_TOKENS=0 scripts/build_corpus.sh
#   ROOTS="/some/dir /other/dir" scripts/build_corpus.sh
#
# Steps: (1) walk the roots for text files (extensions below; man pages are gunzipped troff source), skip
# files with NUL bytes, invalid UTF-8 or over MAX_FILE_BYTES; (2) drop exact duplicates (same bytes; the
# first path in sorted order wins: the same header or license ships in many packages); (3) order the documents
# by the SHA-1 of their bytes, a deterministic shuffle, so that every shard (and so every stretch of a short
# training run) mixes all sources instead of walking the tree one package at a time; (4) hold out every document whose SHA-1 falls in the first VAL_PERMILLE/1000 of the hash range as
# the validation split (whole documents, ~0.5% of the tokens, spread over every source; the split is a
# function of the file's bytes, so it is stable across machines); (5) tokenize both splits with
# data/prepare.py (GPT-2 BPE, <|endoftext|> before each document, one worker per core).
# The GPT-2 ranks come from $GPT2_TIKTOKEN, else .cache/gpt2.tiktoken if present, else prepare.py's search.
#
# Env: CORPUS (output directory, .cache/corpus), ROOTS (default: see below), EXTS, MAX_FILE_BYTES (2000000), VAL_PERMILLE (5),
# MIN_TOKENS (300000000: fail if the training split is smaller), SHARD_TOKENS (100000000), WORKERS (0 = cores),
# KEEP_STAGE=1 keeps the staged jsonl documents.
set -euo pipefail
cd "$(dirname "$0")/.."
CORPUS=${CORPUS:-.cache/corpus}
MAX_FILE_BYTES=${MAX_FILE_BYTES:-2000000}
VAL_PERMILLE=${VAL_PERMILLE:-5}
MIN_TOKENS=${MIN_TOKENS:-300000000}
SHARD_TOKENS=${SHARD_TOKENS:-100000000}
WORKERS=${WORKERS:-0}
EXTS=${EXTS:-"py pyi pyx pxd c h cc cpp cxx hpp hxx hh cu cuh inl cuhpp md rst txt"}
if [ -z "${GPT2_TIKTOKEN:-}" ] && [ -f .cache/gpt2.tiktoken ]; then export GPT2_TIKTOKEN=$PWD/.cache/gpt2.tiktoken; fi
if [ -z "${ROOTS:-}" ]; then
    # every directory of the running Python (stdlib, site-packages), then system headers and docs
    ROOTS=$(python3 -c 'import sys, sysconfig, os
p = sysconfig.get_paths()
c = [p["stdlib"], p["purelib"], p["platlib"], p["include"]] + [d for d in sys.path if d and os.path.isdir(d)]
print(" ".join(dict.fromkeys(os.path.realpath(d) for d in c if os.path.isdir(d))))')
    for d in /usr/include /usr/local/cuda/include /usr/local/cuda/targets /usr/local/cuda/extras \
             /usr/local/cuda/nvvm /usr/share/doc /usr/share/man; do
        [ -e "$d" ] && ROOTS="$ROOTS $(realpath "$d")"
    done
fi
STAGE="$CORPUS.stage"
rm -rf "$STAGE"
mkdir -p "$STAGE/train" "$STAGE/val" "$CORPUS"
rm -f "$CORPUS/CORPUS.md"  # written last: its presence marks a complete corpus
T0=$(date +%s)
echo "corpus roots: $ROOTS"

# (1)-(4): collect, deduplicate, sort, split; documents go to jsonl parts of <= 64 MB, in order
python3 - "$STAGE" "$MAX_FILE_BYTES" "$VAL_PERMILLE" "$EXTS" $ROOTS <<'EOF'
import collections, gzip, hashlib, json, os, sys
stage, max_bytes, val_permille, exts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), set(sys.argv[4].split())
roots = list(dict.fromkeys(os.path.realpath(r) for r in sys.argv[5:]))
def is_man(path):
    return "/man/" in path and (path.endswith(".gz") or path[-1:].isdigit())
paths = set()
for root in roots:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != "__pycache__" and not d.startswith(".")]
        for n in filenames:
            p = os.path.join(dirpath, n)
            ext = n.rsplit(".", 1)[-1] if "." in n else ""
            if ext in exts or is_man(p):
                if os.path.isfile(p):
                    paths.add(os.path.realpath(p))
paths = sorted(paths)
seen = {}
stats = collections.Counter()
by_root = collections.defaultdict(lambda: [0, 0])
by_ext = collections.defaultdict(lambda: [0, 0])
docs = []
for p in paths:
    try:
        if os.path.getsize(p) > 4 * max_bytes:
            stats["skipped: too large"] += 1
            continue
        with open(p, "rb") as f:
            data = f.read()
        if p.endswith(".gz"):
            data = gzip.decompress(data)
    except (OSError, EOFError, gzip.BadGzipFile):
        stats["skipped: unreadable"] += 1
        continue
    if len(data) > max_bytes:
        stats["skipped: too large"] += 1
        continue
    if not data.strip():
        stats["skipped: empty"] += 1
        continue
    if b"\0" in data:
        stats["skipped: binary"] += 1
        continue
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        stats["skipped: not utf-8"] += 1
        continue
    h = hashlib.sha1(data).digest()
    if h in seen:
        stats["skipped: duplicate"] += 1
        stats["duplicate bytes"] += len(data)
        continue
    seen[h] = p
    root = max((r for r in roots if p.startswith(r.rstrip("/") + "/")), key=len, default="other")
    ext = "man" if is_man(p) else p.rsplit(".", 1)[-1]
    by_root[root][0] += 1; by_root[root][1] += len(data)
    by_ext[ext][0] += 1; by_ext[ext][1] += len(data)
    split = "val" if int.from_bytes(h[:8], "big") % 1000 < val_permille else "train"
    docs.append((h, split, text, len(data)))
docs.sort(key=lambda d: d[0])  # (3): hash order, a shuffle that every machine reproduces
parts = {"train": [0, None, 0], "val": [0, None, 0]}
n = {"train": [0, 0], "val": [0, 0]}
for _, split, text, nb in docs:
    st = parts[split]
    if st[1] is None or st[2] >= 64 << 20:
        if st[1] is not None:
            st[1].close()
        st[1] = open(os.path.join(stage, split, "part_%05d.jsonl" % st[0]), "w")
        st[0] += 1; st[2] = 0
    line = json.dumps({"text": text}) + "\n"
    st[1].write(line); st[2] += len(line)
    n[split][0] += 1; n[split][1] += nb
for st in parts.values():
    if st[1] is not None:
        st[1].close()
with open(os.path.join(stage, "collect.md"), "w") as f:
    f.write("%d candidate files, %d documents kept (%.1f MB); train %d documents (%.1f MB), val %d documents (%.1f MB)\n\n"
            % (len(paths), len(docs), sum(d[3] for d in docs) / 1e6, n["train"][0], n["train"][1] / 1e6,
               n["val"][0], n["val"][1] / 1e6))
    f.write("skipped: %s\n\n" % ", ".join("%s %d" % kv for kv in sorted(stats.items())))
    f.write("| root | documents | MB |\n|---|---|---|\n")
    for r, (c, b) in sorted(by_root.items(), key=lambda kv: -kv[1][1]):
        f.write("| %s | %d | %.1f |\n" % (r, c, b / 1e6))
    f.write("\n| extension | documents | MB |\n|---|---|---|\n")
    for e, (c, b) in sorted(by_ext.items(), key=lambda kv: -kv[1][1]):
        f.write("| %s | %d | %.1f |\n" % (e, c, b / 1e6))
print(open(os.path.join(stage, "collect.md")).read(), flush=True)
EOF
T1=$(date +%s)
echo "collected in $((T1 - T0)) s"

# (5): tokenize; the val documents are tokenized on their own and their shard renamed val_000000.bin
if [ -z "$(ls -A "$STAGE/val" 2>/dev/null)" ]; then
    echo "build_corpus: no document fell into the validation split (VAL_PERMILLE=$VAL_PERMILLE per mille of" \
         "the documents): raise VAL_PERMILLE or add sources to ROOTS" >&2
    exit 1
fi
python3 data/prepare.py --input "$STAGE/val" --out "$STAGE/valout" --val-fraction 0 --shard-tokens 2147483647 \
    --workers "$WORKERS" | grep -v "^  read "
python3 data/prepare.py --input "$STAGE/train" --out "$CORPUS" --val-fraction 0 --shard-tokens "$SHARD_TOKENS" \
    --workers "$WORKERS" | grep -v "^  read "
mv "$STAGE/valout/train_000000.bin" "$CORPUS/val_000000.bin"
T2=$(date +%s)

# summary (token counts read back from the shard headers)
python3 - "$CORPUS" "$STAGE/collect.md" "$MIN_TOKENS" "$((T1 - T0))" "$((T2 - T1))" <<'EOF'
import glob, os, sys
import numpy as np
out, collect, min_tokens, t_collect, t_tok = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
def count(pattern):
    return sum(int(np.fromfile(p, dtype="<i4", count=3)[2]) for p in sorted(glob.glob(os.path.join(out, pattern))))
n_train, n_val = count("train_*.bin"), count("val_*.bin")
head = ("# Corpus\n\nBuilt by scripts/build_corpus.sh: %d training tokens in %d shard(s), %d validation tokens "
        "(GPT-2 BPE); collected in %s s, tokenized in %s s.\n\n"
        % (n_train, len(glob.glob(os.path.join(out, "train_*.bin"))), n_val, t_collect, t_tok))
print("corpus: %d train tokens, %d val tokens in %s" % (n_train, n_val, out))
if n_train < min_tokens:
    sys.exit("error: the corpus has %d training tokens, fewer than MIN_TOKENS=%d\n  hint: add ROOTS or EXTS" % (n_train, min_tokens))
with open(os.path.join(out, "CORPUS.md"), "w") as f:
    f.write(head + open(collect).read())
EOF
[ "${KEEP_STAGE:-0}" = 1 ] || rm -rf "$STAGE"
