# session 10, run 128: BM 64 tiles for the short-K forward / dX (variants 38 / 39: 1 / 2 stages)
timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test rc $?"; tail -1 $OUT/test_bsr_kernels.txt; grep -i "fail" $OUT/test_bsr_kernels.txt | head -8
for C in 1600 768; do for sp in 0.9 0.95 0.5; do
echo "== C $C sp $sp"
timeout 200 ./build/dev/bench_bsr --C $C --bs 64 --sp $sp --reps 20 --variants 2>&1 | grep -E "^fc|variant -1|variant 2[68]|variant 3[2-9]|target|FAIL|mismatch|rror" | cut -c1-200
done; done
