# session 17, run 182: bench A/B of the CTA order in groups of G token tiles (bench_bsr --tile-group;
# run 181 measured only G 1 against the resident span, G 0, which lost 3-4%), C 1600 bs 64, 3 draws
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
for pass in 1 2; do
  for sp in 0.5 0.8 0.9 0.95; do
    for g in 1 2 4 8; do
      timeout 40 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 15 --masks 3 --tile-group $g > $OUT/b.txt 2>&1
      echo "bench $sp G $g pass $pass rc $?: fc fwd/dX $(grep -E "^fc " $OUT/b.txt | awk '{printf "%s/%s ", $9, $20}')| fcproj fwd/ell/dX $(grep -E "^fcproj " $OUT/b.txt | awk '{printf "%s/%s/%s ", $9, $12, $20}')"
    done
  done
done
rm -f $OUT/b.txt
