for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; grep -i "fail" $OUT/$t.txt | head -5; done
start=$(date +%s)
timeout 480 ./build/dev/bench_bsr --reps 20 --out $OUT/bench_full.txt > $OUT/bench_full_stdout.txt 2>&1; echo "bench rc $? $(( $(date +%s) - start )) s"
grep -E "^(fc|fcproj) +1600 .* 64 " $OUT/bench_full.txt
grep -iE "target|invalid" $OUT/bench_full_stdout.txt | head -20
