#!/usr/bin/env bash
# Sourced by the launch scripts (run_multi_gpu.sh, run_multi_node.sh, run_slurm.sh): checks that stop a
# launch before its retry loop when no retry could succeed (no trainer, no shards, a bad NP), so a typo
# costs one clear message instead of MAX_ATTEMPTS failed launches.

# launch_preflight NAME DATA NP: ./train_gpt2cu built, DATA/train_*.bin present, NP a positive count
launch_preflight() {
    local name=$1 data=$2 np=$3
    [ -x ./train_gpt2cu ] || { echo "$name: ./train_gpt2cu is not built: run make train_gpt2cu" >&2; exit 1; }
    compgen -G "$data/train_*.bin" > /dev/null ||
        { echo "$name: no shards match $data/train_*.bin: run make data, or set DATA to a shard directory" >&2; exit 1; }
    [[ $np =~ ^[1-9][0-9]*$ ]] || { echo "$name: NP=$np is not a positive number of GPUs (processes)" >&2; exit 1; }
}
