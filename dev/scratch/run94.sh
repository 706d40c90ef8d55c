# session 8, run 94: half-K TMA stages (variants 36 / 37 / 38: 3 / 2 / 4 stages of 32 k, 12 KB) against
# 26 / 28 (2 / 1 stages of 64 k) at C 1600, bs 64; test_bsr_kernels (full) first.
timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test rc $?"; grep -E "FAIL|half-K" $OUT/test_bsr_kernels.txt | head -8; tail -1 $OUT/test_bsr_kernels.txt
for sp in 0.9 0.95 0.9 0.8 0.5; do
  echo "== sp $sp"
  timeout 120 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 30 --variants 2>&1 | grep -E "^(fc|fcproj) |variant (26|28|32|36|37|38) |INVALID" | cut -c1-120
done
