# session 11, runs 143 / 146: final figures of the session's code (143: 24cbfbf, 146: `RUN=146 bash
# dev/scratch/run143.sh` at 3227e96): tests, full kernel table, target rows with --reps 30, fused paths,
# step table
RUN=${RUN:-143}
for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; done
for C in 1600 768 1024 1280; do ./build/dev/bench_bsr --C $C --reps 20 --out $OUT/bench_full_run${RUN}_C$C.txt > /dev/null 2>&1; echo "bench C $C rc $?"; done
./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 2>&1 | grep -E "^fc|^device|target" | cut -c1-220
./build/dev/bench_bsr_fused --C 1600 --N 8192 --sp 0.9 --reps 20 2>&1 | grep -E "^dX  (unfused|fused variant 28)|^fwd (on|GELU.*-1)|bench_bsr_fused:"
./build/dev/bench_bsr_fused --C 768 --N 65536 --sp 0.9 --reps 20 2>&1 | grep -E "^dX  (unfused|fused variant 28)|^dW  (gelu|GELU)|^dW  split default|^fwd (on|GELU.*-1)|bench_bsr_fused:"
DATA=.cache/smoke STEPS=12 scripts/bench_sparse_step.sh 2>&1 | tee $OUT/step_run${RUN}.txt
