#!/usr/bin/env bash
# Step time of block-sparse GPT-2 training against the dense step, same run, one GPU.
# For each model and sparsity, train_gpt2cu prunes one-shot at step 0 to the
# target (block 64) and runs STEPS steps; the median step time of the second
# half is reported beside the dense model's (--sparsity 0).
#
#   make train_gpt2cu && make data
#   scripts/bench_sparse_step.sh                          # d12 B=64, d24 B=32, d48 B=16; sparsity 0.5 0.9 0.95
#   CONFIGS="48:16" SPARSITIES="0.9" scripts/bench_sparse_step.sh
#
# Env: DATA (shards, default data/default), CONFIGS ("depth:batch ..."), SPARSITIES,
# BLOCK (64), STEPS (20), RECOMPUTE (train_gpt2cu -r, 1), DENSE_START (1: also the sparse model before
# its first pruning step, every block live, on the crossover's paths; row "unpruned"; default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/default}
CONFIGS=${CONFIGS:-"12:64 24:32 48:16"}
SPARSITIES=${SPARSITIES:-"0.5 0.9 0.95"}
BLOCK=${BLOCK:-64}
STEPS=${STEPS:-20}
RECOMPUTE=${RECOMPUTE:-1}
DENSE_START=${DENSE_START:-1}
T=1024
[ -x ./train_gpt2cu ] || { echo "error: ./train_gpt2cu not built (make train_gpt2cu)"; exit 1; }
ls "$DATA"/train_*.bin >/dev/null 2>&1 || { echo "error: no shards in $DATA (make data, or DATA=dir)"; exit 1; }
nvidia-smi --query-gpu=name --format=csv,noheader

median_ms() { # log -> median step ms over the second half
    grep -E "^step +[0-9]+/" "$1" | awk -v n=$STEPS '{ for (i=1;i<=NF;i++) if ($i=="ms") ms=$(i-1); k++; if (k > n/2) print ms }' \
        | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}

printf "%-6s %-4s %-9s %-12s %-12s %-9s\n" model B sparsity "step ms" "dense ms" speedup
for cfg in $CONFIGS; do
    d=${cfg%%:*}; b=${cfg##*:}
    log=$(mktemp)
    ./train_gpt2cu -e d$d -i "$DATA/train_*.bin" -j "" -b $b -t $T -x $STEPS -v 0 -s 0 -r $RECOMPUTE > "$log" 2>&1 || { tail -5 "$log"; exit 1; }
    dense=$(median_ms "$log")
    printf "%-6s %-4s %-9s %-12s %-12s %-9s\n" d$d $b 0 $dense $dense 1.000
    for s in $SPARSITIES; do
        ./train_gpt2cu -e d$d -i "$DATA/train_*.bin" -j "" -b $b -t $T -x $STEPS -v 0 -s 0 -r $RECOMPUTE \
            --sparsity $s --block $BLOCK --schedule oneshot --prune-start 0 --prune-end 0 > "$log" 2>&1 || { tail -5 "$log"; exit 1; }
        ms=$(median_ms "$log")
        printf "%-6s %-4s %-9s %-12s %-12s %-9s\n" d$d $b $s $ms $dense "$(awk -v a=$dense -v b=$ms 'BEGIN { printf "%.3f", a/b }')"
    done
    if [ "$DENSE_START" = 1 ]; then # sparse MLPs before the first pruning step: every block live, crossover
        ./train_gpt2cu -e d$d -i "$DATA/train_*.bin" -j "" -b $b -t $T -x $STEPS -v 0 -s 0 -r $RECOMPUTE \
            --sparsity 0.9 --block $BLOCK --schedule oneshot --prune-start 1000000 --prune-end 1000000 > "$log" 2>&1 || { tail -5 "$log"; exit 1; }
        ms=$(median_ms "$log")
        printf "%-6s %-4s %-9s %-12s %-12s %-9s\n" d$d $b unpruned $ms $dense "$(awk -v a=$dense -v b=$ms 'BEGIN { printf "%.3f", a/b }')"
    fi
    rm -f "$log"
done
