# session 9, run 116: dW variant 12 = block pairs in one CTA (two warpgroups, one block each, one
# cp.async ring of [dY0][dY1][X0][X1] slabs; a shared pair loads 3): tests, then times per split beside
# single-5st / default. Main: 64-token stages x 5; _p4 / _p6: 4 / 6 stages; _p32: 32-token x 8.
./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test_bsr_kernels rc $?"; tail -1 $OUT/test_bsr_kernels.txt
grep -E "FAIL" $OUT/test_bsr_kernels.txt | head -5
for sp in 0.9 0.8 0.5; do
  echo "== main C 1600 sp $sp"
  timeout 120 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --variants --reps 20 2>&1 | grep -E "dW (default|single-5st|pairs) |INVALID" | grep -E "splits +[1234]:|INVALID"
done
for v in p4 p6 p32; do
  echo "== $v C 1600 sp 0.9"
  timeout 120 ./build/dev/bench_bsr_$v --C 1600 --bs 64 --sp 0.9 --variants --reps 20 2>&1 | grep -E "dW (single-5st|pairs) " | grep -E "splits +[12]:"
done
echo "== main C 768 sp 0.9"
timeout 120 ./build/dev/bench_bsr --C 768 --bs 64 --sp 0.9 --variants --reps 20 2>&1 | grep -E "dW (default|single-5st|pairs) " | grep -E "splits +[1234]:"
