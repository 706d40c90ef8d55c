#!/usr/bin/env bash
# GPT-2 350M (d24) with 90% block-sparse MLPs over several nodes through an
# mpirun hostfile. Run on the first node; every node needs the same build, the
# data at the same path and a shared -o directory (checkpoints are per rank, the
# DONE marker is written once every rank has written its state).
#
#   HOSTFILE=hosts.txt NP=16 scripts/run_multi_node.sh       # hosts.txt: "node1 slots=8" per line
#
# Figures: 1M tokens per step = 16 GPUs x 16 x 1024 x 4 micro-steps; 20k steps = 20B
# tokens. Not yet measured on several nodes.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
HOSTFILE=${HOSTFILE:?set HOSTFILE to an mpirun hostfile}
NP=${NP:?set NP to the total number of GPUs}
OUT=${OUT:-log_d24_sparse}
DATA=${DATA:-data/default}
source scripts/launch_common.sh
launch_preflight run_multi_node "$DATA" "$NP"
(( 1048576 % (NP * 16 * 1024) == 0 )) ||
    { echo "run_multi_node: NP=$NP must divide 64 (1M tokens per step = NP x 16 x 1024 x micro-steps)" >&2; exit 1; }
# NCCL over InfiniBand where present; NVLink multicast off (it needs fabric manager setup)
NCCL_ENV="-x NCCL_NVLS_ENABLE=0 -x NCCL_IB_DISABLE=${NCCL_IB_DISABLE:-0} -x NCCL_SOCKET_IFNAME=${NCCL_SOCKET_IFNAME:-^lo,docker} -x NCCL_DEBUG=${NCCL_DEBUG:-WARN}"
for attempt in $(seq 1 ${MAX_ATTEMPTS:-20}); do
    mpirun --allow-run-as-root --hostfile "$HOSTFILE" -np "$NP" --bind-to none $NCCL_ENV ./train_gpt2cu \
        -e d24 -i "$DATA/train_*.bin" -j "$DATA/val_*.bin" -o "$OUT" \
        -b 16 -t 1024 -d 1048576 -x 20000 -l 3e-4 -u 700 -q 0.1 -c 0.1 -v 500 -m 20 -s 2000 \
        --sparsity 0.9 --block 64 --prune-start 2000 --prune-end 12000 --prune-every 200 \
        -n 500 -nk 2 -y 1 --dist-timeout 900 && exit 0
    echo "run_multi_node: attempt $attempt failed; resuming from the newest checkpoint in $OUT"
    sleep 30
done
exit 1
