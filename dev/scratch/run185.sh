# session 17, run 185: GPU tests and the step table of the final code (bias pairs loaded before the
# main loop in the forward / dX TMA kernel, run 184)
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
SECONDS=0; for t in test_bsr_kernels test_gpt2 test_layers; do timeout 150 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; done
echo "tests took $SECONDS s"
DATA=.cache/smoke STEPS=12 timeout 330 scripts/bench_sparse_step.sh 2>&1 | tee $OUT/step_run185.txt
echo "step table done at $SECONDS s"
