# session 12, run 152: the tail split (BsrTune.tail_split, bench_bsr --tail-split R: the last R token
# tiles split each line's k-steps over two CTAs): tests, then C 1600 sweeps of R
timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test_bsr_kernels rc $?"; tail -1 $OUT/test_bsr_kernels.txt; grep -i "fail" $OUT/test_bsr_kernels.txt | head -5
./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 5 2>&1 | grep -E "^device|peak"
for rep in 1 2; do for R in 0 1 2 4 8; do echo "== C1600 0.9 R $R"; ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 --tail-split $R 2>&1 | grep -E "^fc" | cut -c1-200; done; done
for sp in 0.5 0.7 0.8 0.95; do for R in 0 1 2 4; do echo "== C1600 $sp R $R"; ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 20 --tail-split $R 2>&1 | grep -E "^fc" | cut -c1-200; done; done
