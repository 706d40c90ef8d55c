# session 8, run 104: the crossover's dense paths time cuBLASLt's candidates (core/lt_tune.cu, shared
# with layers/matmul.cu): tests, the step table (unpruned = the dense paths), the layer at sparsity 0.
for t in test_layers test_bsr_kernels test_gpt2; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; grep -E "FAIL" $OUT/$t.txt | head -3; tail -1 $OUT/$t.txt; done
STEPS=12 DATA=.cache/smoke timeout 400 scripts/bench_sparse_step.sh > $OUT/step.txt 2>&1; echo "step rc $?"; cat $OUT/step.txt
for C in 1024 1600; do timeout 120 ./build/dev/bench_bsr --C $C --bs 64 --sp 0 --reps 30 | awk '/^fc/{n=$1" "$2} /layer/{print n, $0}'; done
timeout 100 ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 20 2>&1 | grep -E "target"
