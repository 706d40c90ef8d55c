#!/usr/bin/env bash
# GPT-2 124M (d12) with 90% block-sparse MLPs on all GPUs of one node, launched
# by mpirun; re-launches with -y 1 until the run is done, so a crash or a
# preemption costs at most one checkpoint interval.
#
#   make train_gpt2cu && make data
#   NP=8 scripts/run_multi_gpu.sh
#   NP=2 STEPS=40 OUT=/tmp/short scripts/run_multi_gpu.sh      # a short run of the same script
#
# Figures: 0.5M tokens per step = 8 GPUs x 16 x 1024 x 4 micro-steps; 10k steps = 5B
# tokens. On one H100, d12 dense runs at ~540K tokens/s (scripts/bench_throughput.sh),
# so expect up to ~8x that on 8 GPUs of one node; not yet measured on several GPUs.
# Env: NP (GPUs, default all), OUT (log_d12_sparse), DATA (data/default), STEPS (10000; pruning
# runs from 10% to 60% of them, 50 mask updates), MAX_ATTEMPTS (20).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
NP=${NP:-$(nvidia-smi -L | wc -l)}
OUT=${OUT:-log_d12_sparse}
DATA=${DATA:-data/default}
STEPS=${STEPS:-10000}
EVERY=$(( STEPS / 100 > 0 ? STEPS / 100 : 1 ))
CKPT=$(( STEPS / 20 > 0 ? STEPS / 20 : 1 ))
source scripts/launch_common.sh
launch_preflight run_multi_gpu "$DATA" "$NP"
export NCCL_NVLS_ENABLE=${NCCL_NVLS_ENABLE:-0}
for attempt in $(seq 1 ${MAX_ATTEMPTS:-20}); do
    mpirun --allow-run-as-root -np "$NP" --bind-to none -x NCCL_NVLS_ENABLE ./train_gpt2cu \
        -e d12 -i "$DATA/train_*.bin" -j "$DATA/val_*.bin" -o "$OUT" \
        -b 16 -t 1024 -d $(( NP * 16 * 1024 * 4 )) -x "$STEPS" -l 6e-4 -u $(( STEPS * 7 / 100 )) -q 0.1 -c 0.1 \
        -v $(( STEPS / 40 > 0 ? STEPS / 40 : 1 )) -m 20 -s $(( STEPS / 10 > 0 ? STEPS / 10 : 1 )) \
        --sparsity 0.9 --block 64 --prune-start $(( STEPS / 10 )) --prune-end $(( 6 * STEPS / 10 )) --prune-every "$EVERY" \
        -n "$CKPT" -nk 2 -y 1 && exit 0
    echo "run_multi_gpu: attempt $attempt failed (exit $?); resuming from the newest checkpoint in $OUT"
    sleep 10
done
echo "run_multi_gpu: giving up after ${MAX_ATTEMPTS:-20} attempts"; exit 1
