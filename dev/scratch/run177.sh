# session 15, run 177: forward / dX variants on 7 mask draws at C 1600 bs 64, 0.95 and 0.9 (is 3 stages,
# variant 27, better than the default 26 for 5-10 k-steps per tile?), held 300 us
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
for sp in 0.95 0.9; do
  timeout 250 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 20 --masks 7 --variants > $OUT/variants7_$sp.txt 2>&1; echo "sp $sp rc $?"
done
