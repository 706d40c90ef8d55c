# session 7, run 82: lines longest first (LPT order of the forward / dX CTAs within each token tile), A/B alternated
bash dev/scratch/ab_fwd_dx_c1600.sh
timeout 300 ./build/test/test_gpt2 > $OUT/test_gpt2.txt 2>&1; echo "test_gpt2 rc $?"; tail -1 $OUT/test_gpt2.txt
STEPS=12 DATA=.cache/smoke CONFIGS="12:64 48:16" SPARSITIES="0.9" DENSE_START=0 timeout 200 scripts/bench_sparse_step.sh 2>&1 | tail -4
