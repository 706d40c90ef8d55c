# A/B: 82cea14 (old) vs shared-space stores + batched bias (mid) vs mid + index prefetch (new), alternated
timeout 300 ./build/test/test_bsr_kernels > $OUT/test.txt 2>&1; echo "test rc $?"; tail -1 $OUT/test.txt; grep -i "fail" $OUT/test.txt | head -5
for rep in 1 2; do for b in build/old/bench_bsr_old build/old/bench_bsr_mid build/dev/bench_bsr; do
  for sp in 0.9 0.5; do
    timeout 120 $b --C 1600 --bs 64 --sp $sp --reps 30 > $OUT/ab_$(basename $b)_${sp}_$rep.txt 2>&1
    grep -E "^fc" $OUT/ab_$(basename $b)_${sp}_$rep.txt | awk -v b=$(basename $b) '{print b, $1, $5, "fwd", $9, "dX", $19, "dW", $26}'
  done
  timeout 120 $b --C 768 --bs 64 --sp 0.9 --reps 30 | grep -E "^fc" | awk -v b=$(basename $b) '{print b, $1, $2, $5, "fwd", $9, "dX", $19, "dW", $26}'
done; done
