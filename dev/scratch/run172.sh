# session 14, run 172: the final code (cross pairs capped at the SMs' count): tests; `STEP=1 bash
# dev/scratch/run172.sh`: the d48 rows of the step table; the full table followed as
# `DATA=.cache/smoke STEPS=12 scripts/bench_sparse_step.sh` (dev/scratch/step_run172.txt)
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
if [ -z "$STEP" ]; then
  for t in test_bsr_kernels test_gpt2 test_layers; do timeout 200 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; done
  grep -A1 "1024x4096 bs 64 N 256" $OUT/test_bsr_kernels.txt | head -2
else
  DATA=.cache/smoke STEPS=12 CONFIGS="48:16" SPARSITIES="0.9 0.95" DENSE_START=0 timeout 360 scripts/bench_sparse_step.sh 2>&1 | tee $OUT/step_run172.txt
fi
