# session 15, run 175: every forward / dX variant at C 1600 bs 64, sparsity 0.5 / 0.8 / 0.95 (the
# fcproj forward's short rows against Blocked-ELL), the GPU held 300 us before each timed call
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
for sp in 0.95 0.8 0.5; do
  timeout 180 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 20 --variants --hold-us 300 > $OUT/variants_$sp.txt 2>&1; echo "sp $sp rc $?"
  grep -E "^f|variant|WARN" $OUT/variants_$sp.txt | cut -c1-200
done
