# session 7: paired-row forward / dX kernel (variants 42 / 43): tests, then variant sweeps
timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test rc $?"; tail -2 $OUT/test_bsr_kernels.txt; grep -i "fail" $OUT/test_bsr_kernels.txt | head -5
for sp in 0.5 0.7 0.8 0.9; do
  timeout 120 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --variants --reps 20 > $OUT/var_$sp.txt 2>&1
  echo "sp $sp rc $?"; grep -E "^(fc|fcproj) |variant (26|28|32|42|43|-1) " $OUT/var_$sp.txt | cut -c1-140
done
timeout 120 ./build/dev/bench_bsr --C 1600 --bs 64 --N 32768 --sp 0.5 --variants --reps 10 > $OUT/var_n32k.txt 2>&1
echo "n32k rc $?"; grep -E "^(fc|fcproj) |variant (26|28|32|42|43|-1) " $OUT/var_n32k.txt | cut -c1-140
