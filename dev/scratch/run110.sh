# session 9, run 110: dW variant 12 (single blocks, TMA loads, bsr_dw_tma_kernel) - tests, then its
# time beside the cp.async single-block ring (single-5st) and the default per split count; the main
# build is BK 64 x 5 stages, bench_bsr_s4 / _s6 / _b32s8 / _b32s12 other rings (-DBSR_DW_TMA_*).
# (tests: first pass of run 110, 3517 checks 0 failed)

for sp in 0.9 0.8 0.5; do
  echo "== main C 1600 sp $sp"
  ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --variants --reps 20 2>&1 | grep -E "dW (default|single-5st|single-tma|col-n256) " | grep -E "splits +[1234]:"
done
for v in s4 s6 b32s8 b32s12; do
  echo "== $v C 1600 sp 0.9"
  ./build/dev/bench_bsr_$v --C 1600 --bs 64 --sp 0.9 --variants --reps 20 2>&1 | grep -E "dW (default|single-tma) " | grep -E "splits +[12]:"
done
