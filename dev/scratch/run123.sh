# session 9, run 123: forward / dX of line pairs (variant 33, bsr_spmm_pair_kernel: two block rows /
# columns per CTA sharing input blocks, the union of their lists): tests, then per-variant times at
# C 1600 0.9 / 0.8 / 0.95; main 2 stages, _s1 / _s3 1 / 3 stages (-DBSR_SPMM_PAIR_STAGES)
./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test_bsr_kernels rc $?"; tail -1 $OUT/test_bsr_kernels.txt
grep -E "FAIL" $OUT/test_bsr_kernels.txt | head -8
for v in "" _s1 _s3; do for sp in 0.9; do
  echo "== ${v:-main} sp $sp"
  timeout 120 ./build/dev/bench_bsr$v --C 1600 --bs 64 --sp $sp --variants --reps 20 2>&1 | grep -E "^fc|variant (28|26|32|33) " | cut -c1-200
done; done
for sp in 0.8 0.95; do echo "== main sp $sp"; timeout 120 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --variants --reps 20 2>&1 | grep -E "^fc|variant (28|26|32|33) " | cut -c1-200; done
