#!/usr/bin/env bash
# Sparse pretraining study: one model trained dense and pruned to several final block sparsities, one GPU,
# same seed, same data order, same token budget, same LR schedule; validation loss along the way. Writes
# RESULTS/<run>/{main.log,console.log,result.txt} and RESULTS/summary.md (the table of the README's
# "Sparse pretraining study"); scripts/plot_study.py RESULTS makes the figures.
#
#   make train_gpt2cu && scripts/sparse_study.sh                   # builds the corpus first if it is missing
#   SPARSITIES="0 0.9" STEPS=400 scripts/sparse_study.sh           # a subset / a shorter run
#   scripts/sparse_study.sh --summary [RESULTS]                    # only (re)write the table from the logs
#   (runs made in several sessions or on several machines: copy their RESULTS/<run> folders into one
#   directory and run --summary on it; that is how docs/study was assembled)
#
# Defaults: d12, T=1024, B=64 (65536 tokens per step), 800 steps = 52.4M tokens per run; AdamW, LR 6e-4,
# 40 warmup steps, cosine to 10%, weight decay 0.1, clip 1.0; pruning (block 64, per-matrix L2 block norm,
# cubic schedule from s=0) from 10% to 60% of the run with a mask update every 25 steps; validation every
# 50 steps over 16 batches (1.05M tokens) of the held-out split; a checkpoint at the end (its model file
# size is reported; the files are then deleted unless KEEP_CKPT=1).
#
# Env: CORPUS (.cache/corpus, built by scripts/build_corpus.sh if it has no CORPUS.md), RESULTS (log_study),
# DEPTH (12), B (64), T (1024), STEPS (800), LR (6e-4), WARMUP (40), FINAL_LR_FRAC (0.1), WD (0.1),
# SPARSITIES ("0 0.5 0.8 0.9 0.95"), BLOCK (64), PRUNE_START (STEPS/10), PRUNE_END (6*STEPS/10),
# PRUNE_EVERY (25), VAL_EVERY (50), VAL_STEPS (16), SEED (1337), RECOMPUTE (1, GPU trainer only),
# TRAINER (./train_gpt2cu; ./train_gpt2 runs the CPU reference), EXTRA (more trainer flags), SKIP_DONE=1
# (skip runs that already have a result.txt), COPY_TO (a directory that gets RESULTS as study.tar.gz and
# summary.md after every run), BUILD=0 (use the trainer binary as it is instead of running make first).
set -euo pipefail
cd "$(dirname "$0")/.."

summarize() { # RESULTS dir -> RESULTS/summary.md (and stdout)
python3 - "$1" <<'EOF'
import glob, os, statistics, sys
res = sys.argv[1]
runs = []
for rf in sorted(glob.glob(os.path.join(res, "*", "result.txt"))):
    d = os.path.dirname(rf)
    r = dict(l.rstrip("\n").split("=", 1) for l in open(rf) if "=" in l)
    steps, val, prunes = {}, {}, []
    for line in open(os.path.join(d, "main.log")):
        kv = dict(t.split(":", 1) for t in line.split() if ":" in t)
        s = int(kv["s"])
        if "trl" in kv:
            steps[s] = (float(kv["ms"]), float(kv["sp"]))
        elif "tel" in kv:
            val[s] = float(kv["tel"])
        elif "event" in kv and kv["event"] == "prune":
            prunes.append(s)
    r["val"], r["log"], r["prunes"] = val, steps, prunes
    runs.append(r)
if not runs:
    sys.exit("no finished runs (result.txt) under %s" % res)
runs.sort(key=lambda r: float(r["sparsity"]))
dense = next((r for r in runs if float(r["sparsity"]) == 0), None)
# steady state: the steps after the last mask update (for dense: after the sparse runs' prune-end)
prune_end = max([max(r["prunes"]) for r in runs if r["prunes"]] or [int(runs[0].get("prune_end", 0))])
def steady(r):
    after = max(r["prunes"]) if r["prunes"] else prune_end
    ms = [m for s, (m, _) in r["log"].items() if s > after + 1]  # the step right after an update re-times the kernels
    return statistics.median(ms) if ms else float("nan"), after
out = []
tps = int(runs[0]["tokens_per_step"])
out.append("d%s, T=%s, B=%s: %s steps x %d tokens = %.1fM tokens per run, same seed and data order; %s.\n"
           % (runs[0]["depth"], runs[0]["T"], runs[0]["B"], runs[0]["steps"], tps,
              int(runs[0]["steps"]) * tps / 1e6, runs[0].get("device", "?")))
out.append("| final sparsity | reached | final val loss | vs dense | whole run (s) | speedup | train steps (s) | "
           "steady step (ms) | step speedup | tokens/s steady | GPU mem (MiB) | model file (MB) | file ratio |")
out.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
nan = float("nan")
def fmt(x, spec):
    return spec % x if x == x else "-"
d_vl = dense["val"][max(dense["val"])] if dense else nan
d_ms = steady(dense)[0] if dense else nan
d_wall = float(dense["wall_s"]) if dense else nan
d_ck = int(dense["ckpt_bytes"]) if dense else nan
for r in runs:
    vl = r["val"][max(r["val"])]
    ms, after = steady(r)
    train_s = sum(m for m, _ in r["log"].values()) / 1000
    sp = r["log"][max(r["log"])][1]
    wall = float(r["wall_s"])
    ck = int(r["ckpt_bytes"])
    out.append("| %s | %.3f | %.4f | %s | %.1f | %s | %.1f | %.1f | %s | %.0fK | %s | %.1f | %s |" % (
        r["sparsity"], sp, vl, fmt(100 * (vl / d_vl - 1), "%+.2f%%"), wall, fmt(d_wall / wall, "%.3fx"), train_s, ms,
        fmt(d_ms / ms, "%.3fx"), tps / ms, r.get("mem_peak_mib", "-"), ck / 1e6, fmt(d_ck / ck, "%.2fx")))
out.append("")
out.append("final val loss: at step %s over %s held-out tokens; whole run: process start to exit (init, "
           "validation, checkpoint write included); train steps: sum of the logged step times; steady step: "
           "median step time after the last mask update (dense: after step %d); GPU mem: peak of nvidia-smi's "
           "memory.used during the run (the trainer's own figure at the end is in result.txt); model file: "
           "model_%08d.bin at the end." % (runs[0]["steps"], runs[0].get("val_tokens", "?"), prune_end,
                                                    int(runs[0]["steps"])))
text = "\n".join(out) + "\n"
open(os.path.join(res, "summary.md"), "w").write(text)
print(text)
EOF
}

if [ "${1:-}" = "--summary" ]; then summarize "${2:-${RESULTS:-log_study}}"; exit; fi

CORPUS=${CORPUS:-.cache/corpus}
RESULTS=${RESULTS:-log_study}
DEPTH=${DEPTH:-12}
B=${B:-64}
T=${T:-1024}
STEPS=${STEPS:-800}
LR=${LR:-6e-4}
WARMUP=${WARMUP:-40}
FINAL_LR_FRAC=${FINAL_LR_FRAC:-0.1}
WD=${WD:-0.1}
SPARSITIES=${SPARSITIES:-"0 0.5 0.8 0.9 0.95"}
BLOCK=${BLOCK:-64}
PRUNE_START=${PRUNE_START:-$((STEPS / 10))}
PRUNE_END=${PRUNE_END:-$((6 * STEPS / 10))}
PRUNE_EVERY=${PRUNE_EVERY:-25}
VAL_EVERY=${VAL_EVERY:-50}
VAL_STEPS=${VAL_STEPS:-16}
SEED=${SEED:-1337}
RECOMPUTE=${RECOMPUTE:-1}
TRAINER=${TRAINER:-./train_gpt2cu}
EXTRA=${EXTRA:-}

[ "${BUILD:-1}" = 0 ] || make "${TRAINER#./}" >/dev/null
if [ ! -f "$CORPUS/CORPUS.md" ]; then CORPUS="$CORPUS" scripts/build_corpus.sh; fi
head -3 "$CORPUS/CORPUS.md" | tail -1
GPU_ARGS=""
DEVICE="CPU"
if [ "$(basename "$TRAINER")" = train_gpt2cu ]; then
    GPU_ARGS="-r $RECOMPUTE"
    DEVICE=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
fi
mkdir -p "$RESULTS"
[ -n "${COPY_TO:-}" ] && cp "$CORPUS/CORPUS.md" "$COPY_TO/" 2>/dev/null || true
val_tokens=$(python3 -c "import numpy as np,glob; print(sum(int(np.fromfile(p,dtype='<i4',count=3)[2]) for p in glob.glob('$CORPUS/val_*.bin')))")
# the tokens a validation pass scores: whole batches of B*T (+1 target) per shard, at most VAL_STEPS of them
val_batches=$(python3 -c "import numpy as np,glob; print(sum((int(np.fromfile(p,dtype='<i4',count=3)[2]) - 1) // ($B * $T) for p in glob.glob('$CORPUS/val_*.bin')))")
val_used=$(( (VAL_STEPS >= 0 && VAL_STEPS < val_batches ? VAL_STEPS : val_batches) * B * T ))  # -1: the whole split

for s in $SPARSITIES; do
    name=$(printf "d%s_s%s" "$DEPTH" "$s")
    dir="$RESULTS/$name"
    if [ "${SKIP_DONE:-0}" = 1 ] && [ -f "$dir/result.txt" ]; then echo "$name: done already"; continue; fi
    rm -rf "$dir"; mkdir -p "$dir"
    prune_args=""
    if [ "$s" != 0 ]; then
        prune_args="--sparsity $s --block $BLOCK --schedule cubic --prune-start $PRUNE_START --prune-end $PRUNE_END --prune-every $PRUNE_EVERY"
    fi
    mem_log="$dir/mem.csv"
    mon=""
    if command -v nvidia-smi >/dev/null && [ "$DEVICE" != CPU ]; then
        nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 250 > "$mem_log" 2>/dev/null &
        mon=$!
    fi
    echo "== $name: $TRAINER -e d$DEPTH -b $B -t $T -x $STEPS $prune_args"
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086
    "$TRAINER" -e "d$DEPTH" -i "$CORPUS/train_*.bin" -j "$CORPUS/val_*.bin" -o "$dir" -b "$B" -t "$T" -x "$STEPS" \
        -l "$LR" -u "$WARMUP" -q "$FINAL_LR_FRAC" -k cosine -c "$WD" --grad-clip 1.0 --seed "$SEED" \
        -v "$VAL_EVERY" -m "$VAL_STEPS" -s 0 -n "$STEPS" $GPU_ARGS $prune_args $EXTRA > "$dir/console.log" 2>&1 \
        || { [ -n "$mon" ] && kill "$mon"; tail -20 "$dir/console.log"; echo "error: run $name failed"; exit 1; }
    t1=$(date +%s.%N)
    [ -n "$mon" ] && { kill "$mon"; wait "$mon" 2>/dev/null || true; }
    ckpt=$(printf "%s/model_%08d.bin" "$dir" "$STEPS")
    mem_peak=$( [ -s "$mem_log" ] && sort -n "$mem_log" | tail -1 || echo "-")
    mem_trainer=$(grep -oE "GPU memory in use [0-9.]+" "$dir/console.log" | grep -oE "[0-9.]+$" || echo "-")
    {
        echo "sparsity=$s"; echo "depth=$DEPTH"; echo "B=$B"; echo "T=$T"; echo "steps=$STEPS"
        echo "tokens_per_step=$((B * T))"; echo "tokens=$((B * T * STEPS))"; echo "lr=$LR"; echo "warmup=$WARMUP"
        echo "prune_start=$PRUNE_START"; echo "prune_end=$PRUNE_END"; echo "prune_every=$PRUNE_EVERY"; echo "block=$BLOCK"
        echo "val_tokens=$val_used"; echo "device=$DEVICE"
        echo "wall_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')"
        echo "ckpt_bytes=$(stat -c %s "$ckpt")"; echo "mem_peak_mib=$mem_peak"; echo "mem_trainer_mib=$mem_trainer"
        grep -E "^done:" "$dir/console.log" | sed 's/^/trainer_/; s/: /=/'
    } > "$dir/result.txt"
    [ "${KEEP_CKPT:-0}" = 1 ] || rm -f "$dir"/model_*.bin "$dir"/state_*.bin "$dir"/DONE_*
    grep -E "^done:" "$dir/console.log" || true
    echo "$name: $(grep -E '^(wall_s|ckpt_bytes|mem_peak_mib)=' "$dir/result.txt" | tr '\n' ' ')"
    if [ -n "${COPY_TO:-}" ]; then
        summarize "$RESULTS" > /dev/null || true
        tar czf "$COPY_TO/study.tar.gz" -C "$RESULTS" --exclude "*.bin" . && cp "$RESULTS/summary.md" "$COPY_TO/" 2>/dev/null || true
    fi
done
summarize "$RESULTS"
