#!/usr/bin/env bash
# Dense GPT-2 training throughput on one GPU: train_gpt2cu beside PyTorch
# (torch.compile, scaled_dot_product_attention, fused AdamW, bf16 autocast),
# same shapes, same machine, same run. Prints a table of tokens/s and memory.
#
#   make train_gpt2cu && make data
#   scripts/bench_throughput.sh                       # d12 B=64, d24 B=32, d48 B=16 at T=1024
#   CONFIGS="12:64" STEPS=10 scripts/bench_throughput.sh
#
# Env: DATA (shard directory, default data/default), CONFIGS ("depth:batch ..."),
# STEPS (optimizer steps per run; the median of the second half is reported),
# TORCH=0 to skip PyTorch, RECOMPUTE (train_gpt2cu -r, default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/default}
CONFIGS=${CONFIGS:-"12:64 24:32 48:16"}
STEPS=${STEPS:-20}
RECOMPUTE=${RECOMPUTE:-1}
T=1024
[ -x ./train_gpt2cu ] || { echo "error: ./train_gpt2cu not built (make train_gpt2cu)"; exit 1; }
ls "$DATA"/train_*.bin >/dev/null 2>&1 || { echo "error: no shards in $DATA (make data, or DATA=dir)"; exit 1; }
nvidia-smi --query-gpu=name --format=csv,noheader
results=()
for cfg in $CONFIGS; do
    d=${cfg%%:*}; b=${cfg##*:}
    log=$(mktemp)
    ./train_gpt2cu -e d$d -i "$DATA/train_*.bin" -j "" -b $b -t $T -x $STEPS -v 0 -s 0 -r $RECOMPUTE > "$log" 2>&1 || { tail -5 "$log"; exit 1; }
    # median step time over the second half of the run
    ours=$(grep -E "^step +[0-9]+/" "$log" | awk -v n=$STEPS '{ for (i=1;i<=NF;i++) if ($i=="ms") ms=$(i-1); k++; if (k > n/2) print ms }' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    ours_tok=$(awk -v ms=$ours -v b=$b -v t=$T 'BEGIN { printf "%.0f", b*t/(ms/1000) }')
    mem=$(grep -oE "GPU memory in use [0-9.]+ MiB" "$log" | grep -oE "[0-9.]+" | head -1)
    torch_tok="-"; torch_mem="-"
    if [ "${TORCH:-1}" = 1 ]; then
        tl=$(python3 dev/torch_gpt2.py bench --depth $d --batch $b --seq $T --steps $STEPS 2>&1 | tail -1)
        echo "$tl"
        torch_tok=$(echo "$tl" | grep -oE "[0-9]+ tok/s" | grep -oE "[0-9]+")
        torch_mem=$(echo "$tl" | grep -oE "peak memory [0-9.]+ GiB" | grep -oE "[0-9.]+")
    fi
    echo "ours d$d B=$b: median step $ours ms, $ours_tok tok/s, GPU memory in use ${mem} MiB"
    results+=("d$d $b $ours_tok $torch_tok $mem $torch_mem")
    rm -f "$log"
done
echo
printf "%-6s %-4s %-14s %-14s %-8s %-16s %-14s\n" model B "ours tok/s" "torch tok/s" ratio "ours mem (MiB)" "torch peak (GiB)"
for r in "${results[@]}"; do
    set -- $r
    ratio=$( [ "$4" != "-" ] && awk -v a=$3 -v b=$4 'BEGIN { printf "%.3f", a/b }' || echo "-")
    printf "%-6s %-4s %-14s %-14s %-8s %-16s %-14s\n" $1 $2 $3 $4 $ratio $5 $6
done
