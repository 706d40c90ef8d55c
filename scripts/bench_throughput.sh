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
# TORCH=0 to skip PyTorch, RECOMPUTE (train_gpt2cu -r, default 1),
# LLMC=/path/to/llm.c/train_gpt2cu to run llm.c too (built outside this repository,
# e.g. with USE_CUDNN=1; it reads the same shards).
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-data/default}
CONFIGS=${CONFIGS:-"12:64 24:32 48:16"}
STEPS=${STEPS:-20}
RECOMPUTE=${RECOMPUTE:-1}
T=1024
[ -x ./train_gpt2cu ] || { echo "error: ./train_gpt2cu not built (make train_gpt2cu)"; exit 1; }
[ -z "${LLMC:-}" ] || [ -x "$LLMC" ] || { echo "error: LLMC=$LLMC is not an executable (build llm.c's train_gpt2cu first)"; exit 1; }
ls "$DATA"/train_*.bin >/dev/null 2>&1 || { echo "error: no shards in $DATA (make data, or DATA=dir)"; exit 1; }
nvidia-smi --query-gpu=name --format=csv,noheader
# Peak memory, measured the same way for all three: nvidia-smi's memory.used of
# GPU 0 sampled every 100 ms while the run lasts (process memory incl. context).
peak_start() { nvidia-smi -i 0 --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "$1" 2>/dev/null & PEAK_PID=$!; }
peak_stop() { kill $PEAK_PID 2>/dev/null; wait $PEAK_PID 2>/dev/null; sort -g "$1" | tail -1; }
results=()
for cfg in $CONFIGS; do
    d=${cfg%%:*}; b=${cfg##*:}
    log=$(mktemp)
    peak_start "$log.mem"
    ./train_gpt2cu -e d$d -i "$DATA/train_*.bin" -j "" -b $b -t $T -x $STEPS -v 0 -s 0 -r $RECOMPUTE > "$log" 2>&1 || { tail -5 "$log"; exit 1; }
    mem=$(peak_stop "$log.mem")
    # median step time over the second half of the run
    ours=$(grep -E "^step +[0-9]+/" "$log" | awk -v n=$STEPS '{ for (i=1;i<=NF;i++) if ($i=="ms") ms=$(i-1); k++; if (k > n/2) print ms }' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    ours_tok=$(awk -v ms=$ours -v b=$b -v t=$T 'BEGIN { printf "%.0f", b*t/(ms/1000) }')
    torch_tok="-"; torch_mem="-"; llmc_tok="-"; llmc_mem="-"
    if [ -n "${LLMC:-}" ]; then
        peak_start "$log.mem"
        "$LLMC" -e d$d -i "$DATA/train_*.bin" -j "$(ls $DATA/val_*.bin | head -1)" -b $b -t $T -x $STEPS -v 100000 -s 100000 \
            -r $RECOMPUTE -z 0 > "$log.llmc" 2>&1 || { tail -5 "$log.llmc"; }
        llmc_mem=$(peak_stop "$log.mem")
        llmc_ms=$(grep -E "^step +[0-9]+/" "$log.llmc" || true)
        llmc_ms=$(echo "$llmc_ms" | grep -E "^step" | awk -v n=$STEPS '{ for (i=1;i<=NF;i++) if ($i=="ms") ms=$(i-1); k++; if (k > n/2) print ms }' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
        [ -n "$llmc_ms" ] && llmc_tok=$(awk -v ms=$llmc_ms -v b=$b -v t=$T 'BEGIN { printf "%.0f", b*t/(ms/1000) }')
        echo "llm.c d$d B=$b: median step ${llmc_ms:-?} ms, $llmc_tok tok/s, peak memory ${llmc_mem:-?} MiB"
        rm -f "$log.llmc"
    fi
    if [ "${TORCH:-1}" = 1 ]; then
        peak_start "$log.mem"
        tl=$(python3 dev/torch_gpt2.py bench --depth $d --batch $b --seq $T --steps $STEPS 2>&1 | tail -1)
        torch_mem=$(peak_stop "$log.mem")
        echo "$tl"
        torch_tok=$(echo "$tl" | grep -oE "[0-9]+ tok/s" | grep -oE "[0-9]+")
    fi
    echo "ours d$d B=$b: median step $ours ms, $ours_tok tok/s, peak memory ${mem} MiB"
    results+=("d$d $b $ours_tok $torch_tok $llmc_tok $mem $torch_mem ${llmc_mem:--}")
    rm -f "$log" "$log.mem"
done
echo
printf "%-6s %-4s %-11s %-12s %-12s %-12s %-15s %-17s %-15s\n" model B "ours tok/s" "torch tok/s" "llm.c tok/s" "ours/best" \
    "ours peak MiB" "torch peak MiB" "llm.c peak MiB"
for r in "${results[@]}"; do
    set -- $r
    best=$(awk -v a="$4" -v b="$5" 'BEGIN { x = (a == "-" ? 0 : a); y = (b == "-" ? 0 : b); print (x > y ? x : y) }')
    ratio=$(awk -v a=$3 -v b=$best 'BEGIN { if (b > 0) printf "%.3f", a/b; else print "-" }')
    printf "%-6s %-4s %-11s %-12s %-12s %-12s %-15s %-17s %-15s\n" $1 $2 $3 $4 $5 $ratio $6 $7 $8
done
