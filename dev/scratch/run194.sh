# session 21, run 194 (written, not run: no machine could be started). First `git apply
# dev/scratch/deep_a_run194.patch && make -j2 build/dev/bench_bsr build/test/test_bsr_kernels`, then
# carry those two binaries. Variants against 32: 33 gives the activation tiles a 3-slot ring beside
# the 2-slot weight ring (2 CTAs per SM in 228 KB); 34 walks each list from a start spread by its
# line's place, so that the CTAs of a token tile do not all read one activation tile at once;
# 35 is 33 with 34's walk. Correctness (the variant pass of test_bsr_kernels runs 33-35), then every variant at C 1600
# 0.5 / 0.8 on 2 draws, then 7 draws at 0.5 and 0.8 with 33-35 among the crossover's candidates.
bash dev/scratch/test_and_variants.sh "26|32|33|34|35" "0.5 0.8"
# the 7-draw table with 33-35 among the crossover's candidates (the default kernel stays the rule's)
if grep -q " 0 failed" $OUT/test.txt; then
  for sp in 0.5 0.8; do
    timeout 100 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --masks 7 --reps 20 --out $OUT/masks7_$sp.txt > /dev/null 2>&1
    echo "masks7 $sp rc $? at $SECONDS s"
    grep -E "over 7 masks:" $OUT/masks7_$sp.txt | cut -c1-260
  done
fi
