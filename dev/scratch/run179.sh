# session 16, run 179: GPU tests of 55078f3 (plain forward / dX default 26 instead of 28 on short
# lists the L2 prefetch skips) and of the held crossover / cuBLASLt timings (c55384b, eecf405); the step
# table (DATA=.cache/smoke STEPS=12 scripts/bench_sparse_step.sh); C 768 / 1024 at 0.95 over 2 draws
# (the default should now time as variant 26) and the fused GELU_A forward's own choice there
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
SECONDS=0; for t in test_bsr_kernels test_gpt2 test_layers; do timeout 150 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; done
echo "tests took $SECONDS s"
DATA=.cache/smoke STEPS=12 timeout 300 scripts/bench_sparse_step.sh 2>&1 | tee $OUT/step_run179.txt
echo "step table done at $SECONDS s"
for C in 768 1024; do
  timeout 100 ./build/dev/bench_bsr --C $C --bs 64 --sp 0.95 --reps 20 --masks 2 --variants > $OUT/variants3_${C}_0.95.txt 2>&1; echo "bench_bsr C $C rc $?"
  timeout 60 ./build/dev/bench_bsr_fused --C $C --N 8192 --sp 0.95 > $OUT/fused_${C}_0.95.txt 2>&1; echo "fused C $C rc $?"
  grep "^fwd" $OUT/fused_${C}_0.95.txt
done
