#!/usr/bin/env bash
# For clusters without MPI: one process per GPU started by srun, finding each
# other through a TCP rendezvous at rank 0's node (-pi tcp) or a shared
# directory (-pi fs). Rank, world size and local rank come from Slurm's
# variables (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID). Without Slurm, start
# ./train_gpt2cu with the same flags on each node yourself and add -pr/-pn/-pg.
#
#   sbatch -N 2 --ntasks-per-node 8 --gpus-per-node 8 scripts/run_slurm.sh
#   METHOD=fs scripts/run_slurm.sh            # rendezvous through $OUT/rendezvous
#
# Figures: as scripts/run_multi_node.sh; not yet measured on several nodes.
#SBATCH --job-name=blocksparse-gpt
#SBATCH --time=24:00:00
set -uo pipefail
cd "${SLURM_SUBMIT_DIR:-$(dirname "$0")/..}" || exit 1
OUT=${OUT:-log_d24_sparse}
DATA=${DATA:-data/default}
METHOD=${METHOD:-tcp}
source scripts/launch_common.sh
launch_preflight run_slurm "$DATA" "${SLURM_NTASKS:-1}"
MASTER=${MASTER:-$(scontrol show hostnames "${SLURM_JOB_NODELIST:-localhost}" 2>/dev/null | head -n1 || echo localhost)}
mkdir -p "$OUT/rendezvous"
export NCCL_NVLS_ENABLE=0
for attempt in $(seq 1 ${MAX_ATTEMPTS:-20}); do
    rm -f "$OUT/rendezvous/nccl_id.bin"   # a fresh id for every attempt
    srun ./train_gpt2cu -pi "$METHOD" -ps "$MASTER" -pf "$OUT/rendezvous" \
        -e d24 -i "$DATA/train_*.bin" -j "$DATA/val_*.bin" -o "$OUT" \
        -b 16 -t 1024 -d 1048576 -x 20000 -l 3e-4 -u 700 -q 0.1 -c 0.1 -v 500 -s 2000 \
        --sparsity 0.9 --block 64 --prune-start 2000 --prune-end 12000 --prune-every 200 \
        -n 500 -nk 2 -y 1 --dist-timeout 900 && exit 0
    echo "run_slurm: attempt $attempt failed; resuming from the newest checkpoint in $OUT"
    sleep 30
done
exit 1
