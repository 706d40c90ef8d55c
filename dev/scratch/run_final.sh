# final figures (tests, the full kernel table, the C 1600 rows again, the step table, sparsity-0 layers);
# BENCH_TIMEOUT: seconds for the full kernel table (300 in session 6, 450 once block 32 joined it).
# Used by run_final_session6.sh and run_final_session7.sh. Run on the device: outputs under $OUT.
for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; grep -i "fail" $OUT/$t.txt | head -5; done
timeout ${BENCH_TIMEOUT:-450} ./build/dev/bench_bsr --reps 20 --out $OUT/bench_full.txt > $OUT/bench_full_stdout.txt 2>&1; echo "bench rc $?"
grep -E "target" $OUT/bench_full_stdout.txt
timeout 200 ./build/dev/bench_bsr --C 1600 --bs 64 --reps 30 --out $OUT/bench_c1600.txt > $OUT/bench_c1600_stdout.txt 2>&1; echo "bench c1600 rc $?"
grep -E "target" $OUT/bench_c1600_stdout.txt
STEPS=12 DATA=.cache/smoke timeout 400 scripts/bench_sparse_step.sh > $OUT/step.txt 2>&1; echo "step rc $?"; cat $OUT/step.txt
for C in 768 1024 1280 1600; do timeout 120 ./build/dev/bench_bsr --C $C --bs 64 --sp 0 --reps 30 | awk '/^fc/{n=$1" "$2} /layer/{print n, $0}'; done
