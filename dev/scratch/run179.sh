# session 15, run 179: plain forward / dX default 26 instead of 28 on short lists the L2 prefetch skips:
# tests; C 768 / 1024 at 0.95 over 2 draws (the default should now time as variant 26)
# (the step table was left out: too little device time)
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
timeout 200 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test_bsr_kernels rc $?"; tail -1 $OUT/test_bsr_kernels.txt
for C in 768 1024; do
  timeout 100 ./build/dev/bench_bsr --C $C --bs 64 --sp 0.95 --reps 20 --masks 2 --variants > $OUT/variants3_${C}_0.95.txt 2>&1; echo "C $C rc $?"
done
