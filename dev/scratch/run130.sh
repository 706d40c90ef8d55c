# session 10, run 130: 192-token tiles for the short-K forward / dX (variants 44 / 45: BM 192, one
# warpgroup with 3 m64 row groups, 1 / 2 stages; 122 registers: 4 CTAs per SM)
timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test rc $?"; tail -1 $OUT/test_bsr_kernels.txt; grep -i "fail" $OUT/test_bsr_kernels.txt | grep -v " 0 failed" | head -8
for C in 1600 768; do for sp in 0.9 0.95 0.8; do
echo "== C $C sp $sp"
timeout 200 ./build/dev/bench_bsr --C $C --bs 64 --sp $sp --reps 20 --variants 2>&1 | grep -E "^fc|variant -1|variant 2[6-9]|variant 3[0-2]|variant 4[45]|rror" | cut -c1-200
done; done
