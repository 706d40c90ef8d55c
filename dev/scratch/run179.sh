# session 16, run 179: plain forward / dX default 26 instead of 28 on short lists the L2 prefetch skips
# (55078f3): tests; C 768 / 1024 at 0.95 over 2 draws (the default should now time as variant 26);
# the fused GELU_A forward's own choice there (bench_bsr_fused, variants 26 / 28 at N 8192);
# then the step table: DATA=.cache/smoke STEPS=12 scripts/bench_sparse_step.sh
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
for t in test_bsr_kernels test_gpt2 test_layers; do timeout 200 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; done
for C in 768 1024; do
  timeout 100 ./build/dev/bench_bsr --C $C --bs 64 --sp 0.95 --reps 20 --masks 2 --variants > $OUT/variants3_${C}_0.95.txt 2>&1; echo "bench_bsr C $C rc $?"
  timeout 60 ./build/dev/bench_bsr_fused --C $C --N 8192 --sp 0.95 > $OUT/fused_${C}_0.95.txt 2>&1; echo "fused C $C rc $?"
  grep "^fwd" $OUT/fused_${C}_0.95.txt
done
DATA=.cache/smoke STEPS=12 timeout 330 scripts/bench_sparse_step.sh 2>&1 | tee $OUT/step_run179.txt
