# session 13, run 165: the final commit of session 13 (kernels = run 159's): GPU tests, the C 1600 bs 64
# rows at every sparsity, then the 0.9 target rows three times
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; done
timeout 200 ./build/dev/bench_bsr --C 1600 --bs 64 --reps 20 > $OUT/bench_c1600.txt 2>&1; grep -E "^device|^layer|^fc" $OUT/bench_c1600.txt | cut -c1-200
for rep in 1 2 3; do ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 2>&1 | grep -E "^fc" | cut -c1-200; done
