# session 7, run 84: 192-token forward / dX tiles (variants 33 / 34: 1 / 2 stages, 4 / 3 CTAs per SM)
timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test rc $?"; tail -1 $OUT/test_bsr_kernels.txt
for rep in 1 2; do for C in 1600 768; do for sp in 0.9 0.8; do
  timeout 120 ./build/dev/bench_bsr --C $C --bs 64 --sp $sp --variants --reps 20 > $OUT/var_${rep}_${C}_$sp.txt 2>&1
  echo "rep $rep C $C sp $sp: $(grep -E 'variant (26|27|28|32|33|34) ' $OUT/var_${rep}_${C}_$sp.txt | awk '{printf "v%s %s/%s ", $2, $6, $8}')"
done; done; done
