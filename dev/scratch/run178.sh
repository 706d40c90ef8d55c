# session 15, run 178: variants 26 / 27 (2 / 3 stages) at the other widths where the long-list kernels
# have 3-8 k-steps per tile (0.9 and 0.95, C 768 / 1024 / 1280), 3 draws each, held 300 us
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
for C in 768 1024 1280; do for sp in 0.9 0.95; do
  timeout 100 ./build/dev/bench_bsr --C $C --bs 64 --sp $sp --reps 20 --masks 3 --variants > $OUT/variants3_${C}_$sp.txt 2>&1; echo "C $C sp $sp rc $?"
done; done
