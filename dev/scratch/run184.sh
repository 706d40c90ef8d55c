# session 17, run 184: the forward / dX TMA kernel's bias pairs loaded before the main loop instead of
# in the epilogue (BSR_EARLY_BIAS build, bench_bsr_eb) against today's kernel, alternated, 3 draws
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
timeout 90 ./build/test/test_bsr_kernels_eb --quick > $OUT/t.txt 2>&1; echo "test eb rc $?"; tail -1 $OUT/t.txt
for pass in 1 2; do
  for cfg in "1600 0.95" "1600 0.9" "1600 0.5" "768 0.95"; do
    set -- $cfg
    for b in bench_bsr bench_bsr_eb; do
      timeout 40 ./build/dev/$b --C $1 --bs 64 --sp $2 --reps 15 --masks 3 > $OUT/b.txt 2>&1
      echo "$b C $1 sp $2 pass $pass rc $?: fc fwd/dX $(grep -E "^fc " $OUT/b.txt | awk '{printf "%s/%s ", $9, $20}')| fcproj fwd/ell/dX $(grep -E "^fcproj " $OUT/b.txt | awk '{printf "%s/%s/%s ", $9, $12, $20}')"
    done
  done
done
rm -f $OUT/*.txt
