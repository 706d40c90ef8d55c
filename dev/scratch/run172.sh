# session 14, run 172: the final code (cross pairs capped at the SMs' count): tests, then the step table
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; done
grep -A1 "1024x4096 bs 64 N 256" $OUT/test_bsr_kernels.txt | head -2
DATA=.cache/smoke STEPS=12 timeout 420 scripts/bench_sparse_step.sh 2>&1 | tee $OUT/step_run172.txt
