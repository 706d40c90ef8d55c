for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; grep -i "fail" $OUT/$t.txt | head -5; done
timeout 200 ./build/dev/bench_bsr --C 1600 --bs 64 --reps 20 --out $OUT/bench_c1600.txt > /dev/null 2>&1; echo "bench rc $?"
grep -E "^fc" $OUT/bench_c1600.txt | awk '{print $1, $5, "dW sparse", $26, "cublas", $27, "xover", $30}'
for a in "768 65536" "1024 32768" "1600 16384"; do for sp in 0.5 0.7 0.9; do set -- $a
  timeout 100 ./build/dev/bench_bsr_fused --C $1 --N $2 --sp $sp --reps 10 > $OUT/fused_$1_$sp.txt 2>&1
  echo "C $1 sp $sp: $(grep -E "split default" $OUT/fused_$1_$sp.txt)"; grep INVALID $OUT/fused_$1_$sp.txt
done; done
