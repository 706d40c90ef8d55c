# session 9, run 125: review mends (for_slab_chunks shared by the dW kernels' loads and GELU pass;
# one branch for the block-pair dW launch): tests, the C 1600 0.9 rows, the fused GELU paths
for t in test_bsr_kernels test_gpt2; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; grep -i "fail" $OUT/$t.txt | head -5; done
./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 2>&1 | grep -E "^fc|target" | cut -c1-250
./build/dev/bench_bsr_fused --C 1600 --N 8192 --sp 0.9 > $OUT/fused.txt 2>&1; echo "fused rc $?"; grep -E "match|dW  fused, single|dW  fused, col m64n256" $OUT/fused.txt
