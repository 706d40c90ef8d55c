# session 13, run 163: weight-tile multicast in clusters of two token tiles with per-slot empty
# barriers (variants 36 / 37 = 26 / 32 clustered): correctness, then every variant at C 1600 bs 64
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
( time timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test_bsr_kernels rc $?" ) 2>&1 | grep -v "^$\|user\|sys"
grep -iE "fail" $OUT/test_bsr_kernels.txt | head -20; tail -1 $OUT/test_bsr_kernels.txt
for sp in 0.9 0.5 0.8 0.95; do echo "== C1600 $sp"; timeout 150 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 20 --variants > $OUT/var_$sp.txt 2>&1; grep -E "^fc|variant (26|27|30|32|36|37) |INVALID" $OUT/var_$sp.txt | cut -c1-150; done
