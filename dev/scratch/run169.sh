# session 14, run 169: the final code re-verified (kernels unchanged since f39c74d / run 154): tests,
# the C 1600 kernel table, target rows, bench_bsr_fused with its new mask seed, then the step table
# (second call: `STEP=1 bash dev/scratch/run169.sh`). Needs .cache/smoke
# (python3 data/prepare.py --default-corpus --out .cache/smoke --max-bytes 8000000).
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
if [ -z "$STEP" ]; then
  for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; done
  ./build/dev/bench_bsr --C 1600 --reps 20 --out $OUT/bench_c1600_run169.txt > /dev/null 2>&1; echo "bench C 1600 rc $?"
  for rep in 1 2; do ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 2>&1 | grep -E "^fc|^device|target" | cut -c1-220; done
  ./build/dev/bench_bsr_fused --C 1600 --N 8192 --sp 0.9 --reps 20 > $OUT/fused_c1600_run169.txt 2>&1; echo "fused C 1600 rc $?"
  ./build/dev/bench_bsr_fused --C 768 --N 65536 --sp 0.9 --reps 20 > $OUT/fused_c768_run169.txt 2>&1; echo "fused C 768 rc $?"
  grep -E "^dX  (unfused|fused variant 28)|^fwd (on|GELU.*-1)|bench_bsr_fused:" $OUT/fused_*_run169.txt
else
  DATA=.cache/smoke STEPS=12 scripts/bench_sparse_step.sh 2>&1 | tee $OUT/step_run169.txt
fi
