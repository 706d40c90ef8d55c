# session 7, run 89: warp-specialized persistent paired forward / dX kernel (commit 17ca02e): the same tests and
# sweeps as runs 85 / 87
bash dev/scratch/run_ppair_run85.sh
