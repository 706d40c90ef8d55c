# session 10, run 129: sparse/bsr_kernels.cu split into bsr_common / bsr_spmm / bsr_dw / bsr_layout_gpu /
# bsr_crossover (every kernel's registers and shared memory unchanged per ptxas): GPU tests, the
# C 1600 0.9 bench rows, the fused-GELU bench, and the trainer resume check of run 100
for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; grep -i "fail" $OUT/$t.txt | grep -v " 0 failed" | head -5; done
./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 2>&1 | grep -E "^fc|target" | cut -c1-250
./build/dev/bench_bsr_fused --C 1600 --N 8192 --sp 0.9 > $OUT/fused.txt 2>&1; echo "fused rc $?"; grep -E "match|dW  fused, single|dW  fused, col m64n256" $OUT/fused.txt
bash dev/scratch/run100.sh 2>&1 | grep -E "identical|failed|rc"
