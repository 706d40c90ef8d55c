# session 18, run 186: variant 33 (384-token tiles, 2 warpgroups x 3 m64 row groups, 2 stages) against 32
# where the rule picks 32 (bench_bsr_b384: BSR_TRY_BM384), alternated, 3 draws; tests incl. variant 33
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
mkdir -p $OUT/r
timeout 120 ./build/test/test_bsr_kernels > $OUT/r/test.txt 2>&1; echo "test rc $?"; tail -2 $OUT/r/test.txt
timeout 90 ./build/test/test_bsr_kernels_b384 --quick > $OUT/r/test_b384.txt 2>&1; echo "test b384 rc $?"; tail -1 $OUT/r/test_b384.txt
for pass in 1 2; do
  for sp in 0.5 0.8 0.7 0.9; do
    for b in bench_bsr bench_bsr_b384; do
      timeout 60 ./build/dev/$b --C 1600 --bs 64 --sp $sp --reps 15 --masks 3 > $OUT/r/${b}_${sp}_$pass.txt 2>&1
      echo "$b sp $sp pass $pass rc $?: fc fwd/dX $(grep -E "^fc " $OUT/r/${b}_${sp}_$pass.txt | awk '{printf "%s/%s ", $9, $20}')| fcproj fwd/ell/dX $(grep -E "^fcproj " $OUT/r/${b}_${sp}_$pass.txt | awk '{printf "%s/%s/%s ", $9, $12, $20}')"
      grep "over 3 masks" $OUT/r/${b}_${sp}_$pass.txt | grep fcproj
    done
  done
done
for sp in 0.5 0.95; do
  timeout 100 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 15 --variants > $OUT/r/variants_$sp.txt 2>&1
  echo "variants sp $sp rc $?"; grep -E "^(fc|fcproj) |variant (26|27|32|33) " $OUT/r/variants_$sp.txt | grep -v "^ *variant.*dW -1" | cut -c1-150
done
tar czf $OUT/run186.tgz -C $OUT r && rm -rf $OUT/r
