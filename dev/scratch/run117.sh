# session 9, run 117: dW variant 12 reworked: shared pairs only (a line's odd block runs alone),
# stages of 3 slabs (24 KB at 64 tokens), 8 stages (main) / 6 / 7 / 9 (_p6 / _p7 / _p9). Tests first.
./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test_bsr_kernels rc $?"; tail -1 $OUT/test_bsr_kernels.txt
grep -E "FAIL" $OUT/test_bsr_kernels.txt | head -5
for v in "" _p6 _p7 _p9; do
  echo "== ${v:-main} C 1600 sp 0.9"
  timeout 120 ./build/dev/bench_bsr$v --C 1600 --bs 64 --sp 0.9 --variants --reps 20 2>&1 | grep -E "dW (single-5st|pairs) " | grep -E "splits +[12]:"
done
for sp in 0.8 0.7 0.5; do
  echo "== main C 1600 sp $sp"
  timeout 120 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --variants --reps 20 2>&1 | grep -E "dW (default|single-5st|pairs) " | grep -E "splits +[123]:"
done
for C in 768 1024 1280; do echo "== main C $C sp 0.9"
timeout 120 ./build/dev/bench_bsr --C $C --bs 64 --sp 0.9 --variants --reps 20 2>&1 | grep -E "dW (default|single-5st|pairs) " | grep -E "splits +[1234]:"; done
