# session 11, run 136: step-time table with run 135's kernels (prefetch rule, launch bounds)
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
DATA=.cache/smoke STEPS=12 scripts/bench_sparse_step.sh 2>&1 | tee $OUT/step_run136.txt
