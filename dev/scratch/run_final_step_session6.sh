# final step table of session 6 (code of cc1583e): tests, the step bench with the unpruned row
for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -n 1 $OUT/$t.txt; grep -i "fail" $OUT/$t.txt | head -5; done
STEPS=12 DATA=.cache/smoke timeout 400 scripts/bench_sparse_step.sh > $OUT/step.txt 2>&1; echo "step rc $?"; cat $OUT/step.txt
