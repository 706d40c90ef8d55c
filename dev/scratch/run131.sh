# session 10, run 131: review mend: the mma.sync forward / dW kernels use the shared cp.async ring
# helpers (ring_prologue / ring_advance without the async-proxy fence): tests, bs 32 and bs 64 rows
for t in test_bsr_kernels test_gpt2; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; grep -i "fail" $OUT/$t.txt | grep -v " 0 failed" | head -5; done
./build/dev/bench_bsr --C 1600 --bs 32 --sp 0.9 --reps 20 2>&1 | grep -E "^fc" | cut -c1-250
./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 2>&1 | grep -E "^fc|target" | cut -c1-250
