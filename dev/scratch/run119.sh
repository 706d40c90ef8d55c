# session 9, run 119: block-pair dW (variant 12, default for dw_deep layouts that fit one wave of
# pairs, and a candidate of the measured crossover): tests, trainer resume, C 1600 kernel rows twice
for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; grep -i "fail" $OUT/$t.txt | head -5; done
grep -E "dW pairs" $OUT/test_bsr_kernels.txt | sort | uniq -c | head -20
bash dev/scratch/run100.sh 2>&1 | grep -E "identical|failed"
for r in 1 2; do timeout 200 ./build/dev/bench_bsr --C 1600 --bs 64 --reps 30 --out $OUT/bench_c1600_$r.txt > $OUT/bench_c1600_stdout_$r.txt 2>&1; echo "bench c1600 rc $?"
grep -E "^fc|target" $OUT/bench_c1600_stdout_$r.txt | cut -c1-250; done
