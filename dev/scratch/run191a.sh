# session 20, run 191a: GPU tests with the measured forward / dX variants on by default, and the full
# bench_bsr table (every shape, block size and sparsity; the xover column runs the measured variant)
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
SECONDS=0; for t in test_bsr_kernels test_gpt2 test_layers; do timeout 150 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; done
grep FAIL $OUT/test_bsr_kernels.txt | head -5
echo "tests took $SECONDS s"
timeout 320 ./build/dev/bench_bsr --reps 20 --out $OUT/bench_full_run191.txt > $OUT/bench_full_stdout_run191.txt 2>&1
echo "bench rc $? at $SECONDS s"; tail -3 $OUT/bench_full_stdout_run191.txt
