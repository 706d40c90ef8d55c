# session 20, run 191 (one call: start-ups are scarce): GPU tests with the measured forward / dX
# variants on by default, the step table (d12 / d24 / d48 at unpruned, 0.5, 0.9, 0.95 beside dense,
# same run), then the C 1600 0.9 7-draw floor fractions, then bench_bsr at C 768 / 1024 / 1280 (block 64) with the time left
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
SECONDS=0; for t in test_bsr_kernels test_gpt2 test_layers; do timeout 150 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; done
grep FAIL $OUT/test_bsr_kernels.txt | head -5
echo "tests took $SECONDS s"
DATA=.cache/smoke STEPS=12 timeout 380 scripts/bench_sparse_step.sh 2>&1 | tee $OUT/step_run191.txt
echo "step table done at $SECONDS s"
timeout 120 ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --masks 7 --reps 20 --out $OUT/bench_c1600_sp09_masks7_run191.txt > /dev/null 2>&1
echo "C 1600 0.9 7 draws rc $? at $SECONDS s"; grep -E "device|over 7" $OUT/bench_c1600_sp09_masks7_run191.txt
left=$((585 - SECONDS)); [ $left -gt 30 ] && for C in 1280 1024 768; do
  timeout $((585 - SECONDS)) ./build/dev/bench_bsr --C $C --bs 64 --reps 20 --out $OUT/bench_c${C}_run191.txt > /dev/null 2>&1
  echo "bench C $C rc $? at $SECONDS s"; [ $SECONDS -gt 560 ] && break
done
