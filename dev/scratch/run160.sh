# session 13, run 160: the transposed m64n256 forward / dX (TOUT, variants 36 / 37) of the cut-off
# session 13 try: correctness (test_bsr_kernels runs them in its variants 9 / 10) and every forward /
# dX variant at C 1600 bs 64 beside the rule's picks
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu --format=csv,noheader
( time timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test_bsr_kernels rc $?" ) 2>&1 | grep -v "^$\|user\|sys"
grep -iE "fail|mismatch" $OUT/test_bsr_kernels.txt | head -20; tail -1 $OUT/test_bsr_kernels.txt
for sp in 0.9 0.5 0.8 0.95; do echo "== C1600 $sp"; timeout 150 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 20 --variants > $OUT/var_$sp.txt 2>&1; grep -E "^fc|^device|variant (26|27|28|29|30|32|36|37) |FAIL|fail" $OUT/var_$sp.txt | cut -c1-160; done
