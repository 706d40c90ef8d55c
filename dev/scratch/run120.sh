# session 9, run 120: final code - tests (incl. the dW pair structure check), the full kernel table
for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; grep -i "fail" $OUT/$t.txt | head -5; done
grep -E "dW pairs" $OUT/test_bsr_kernels.txt | head -30
timeout 430 ./build/dev/bench_bsr --reps 20 --out $OUT/bench_full.txt > $OUT/bench_full_stdout.txt 2>&1; echo "bench rc $?"
grep -E "target" $OUT/bench_full_stdout.txt
