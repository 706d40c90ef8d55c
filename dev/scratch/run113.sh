# session 9, run 113: dW variant 12 = block pairs on 2-CTA clusters sharing an operand slab through
# multicast TMA (bsr_dw_pair_kernel): tests, then its time beside single-5st (the default at 0.9)
# per split count; bench_bsr_ps4 / _ps6: 4 / 6 stages (-DBSR_DW_PAIR_STAGES).
./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test_bsr_kernels rc $?"; tail -1 $OUT/test_bsr_kernels.txt
grep -E "FAIL" $OUT/test_bsr_kernels.txt | head -5
for sp in 0.9 0.8 0.7 0.5; do
  echo "== main C 1600 sp $sp"
  timeout 120 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --variants --reps 20 2>&1 | grep -E "dW (default|single-5st|pairs|col-n256) |INVALID|error" | grep -E "splits +[1234]:|INVALID|error"
done
for v in ps4 ps6; do
  echo "== $v C 1600 sp 0.9"
  timeout 120 ./build/dev/bench_bsr_$v --C 1600 --bs 64 --sp 0.9 --variants --reps 20 2>&1 | grep -E "dW (single-5st|pairs) " | grep -E "splits +[12]:"
done
echo "== main C 768 sp 0.9"
timeout 120 ./build/dev/bench_bsr --C 768 --bs 64 --sp 0.9 --variants --reps 20 2>&1 | grep -E "dW (default|single-5st|pairs) " | grep -E "splits +[1234]:"
