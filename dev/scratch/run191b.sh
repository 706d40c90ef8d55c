# session 20, run 191b: the step table (d12 / d24 / d48 at unpruned, 0.5, 0.9, 0.95 beside dense, same
# run) with the measured forward / dX variants on by default
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
SECONDS=0
DATA=.cache/smoke STEPS=12 timeout 560 scripts/bench_sparse_step.sh 2>&1 | tee $OUT/step_run191.txt
echo "step table done at $SECONDS s"
