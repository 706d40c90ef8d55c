# session 16, run 180: the fused GELU_A forward on 26 everywhere (tests; bench_bsr_fused at the d12
# trainer's shape, C 768 N 65536, 0.95); the crossover's choices of d12's unpruned step (BSR_VERBOSE=1)
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
timeout 60 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "rc $?"; tail -1 $OUT/test_bsr_kernels.txt
timeout 60 ./build/dev/bench_bsr_fused --C 768 --N 65536 --sp 0.95 > $OUT/fused_768_N65536_0.95.txt 2>&1; echo "fused rc $?"
grep "^fwd" $OUT/fused_768_N65536_0.95.txt
BSR_VERBOSE=1 timeout 60 ./train_gpt2cu -e d12 -i ".cache/smoke/train_*.bin" -j "" -b 64 -t 1024 -x 6 -v 0 -s 0 -r 1 \
  --sparsity 0.9 --block 64 --schedule oneshot --prune-start 1000000 --prune-end 1000000 > $OUT/d12_unpruned_verbose.txt 2>&1
grep -c "bsr crossover" $OUT/d12_unpruned_verbose.txt; grep "bsr crossover" $OUT/d12_unpruned_verbose.txt | sort | uniq -c | head -12; grep "^step" $OUT/d12_unpruned_verbose.txt | tail -3
