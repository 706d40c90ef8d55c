# session 19, run 190 (written, not run: no machine in session 19): the forward's 4-7-step lists on
# 3 stages (27) by rule (621345d), and the crossover's measured forward / dX variant
# (BSR_MEASURE_VARIANTS=1; xover column, S27 = variant 27 chosen); the trainer's tests; the d48 step
# with and without the measured variants.
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
SECONDS=0
timeout 90 ./build/test/test_bsr_kernels --quick > $OUT/test.txt 2>&1; echo "test rc $?"; tail -1 $OUT/test.txt
grep -E "FAIL" $OUT/test.txt | head -5
BSR_MEASURE_VARIANTS=1 timeout 150 ./build/dev/bench_bsr --C 1600 --bs 64 --masks 7 --reps 20 --out $OUT/c1600_masks7_run190.txt > /dev/null 2>&1
echo "c1600 7 draws rc $? at $SECONDS s"; grep "over 7" $OUT/c1600_masks7_run190.txt
for t in test_gpt2 test_layers; do timeout 90 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; done
echo "tests done at $SECONDS s"
for mv in 0 1; do
  BSR_MEASURE_VARIANTS=$mv CONFIGS="48:16" SPARSITIES="0.5 0.9" DENSE_START=0 DATA=.cache/smoke STEPS=12 timeout 160 \
    scripts/bench_sparse_step.sh 2>&1 | tee $OUT/step_d48_mv${mv}_run190.txt
  echo "step (BSR_MEASURE_VARIANTS=$mv) done at $SECONDS s"
done
