# session 7, run 81: block size 32 (mma.sync kernels): tests, bench rows, trainer step
for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; grep -i "fail" $OUT/$t.txt | head -8; done
grep -E "sparse 50%, block|bs 32|block 32" $OUT/test_gpt2.txt | head
for C in 768 1600; do timeout 200 ./build/dev/bench_bsr --C $C --bs 32 --reps 20 > $OUT/bench_bs32_c$C.txt 2>&1; echo "bench C $C rc $?"; grep -E "^(fc|fcproj) " $OUT/bench_bs32_c$C.txt | cut -c1-250; done
STEPS=12 DATA=.cache/smoke BLOCK=32 CONFIGS="12:64 48:16" SPARSITIES="0.5 0.9" DENSE_START=0 timeout 300 scripts/bench_sparse_step.sh > $OUT/step_bs32.txt 2>&1; echo "step rc $?"; cat $OUT/step_bs32.txt
