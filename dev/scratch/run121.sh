# session 9, run 121: step table on the final code (pair dW) and the layer at sparsity 0
STEPS=12 DATA=.cache/smoke timeout 480 scripts/bench_sparse_step.sh > $OUT/step.txt 2>&1; echo "step rc $?"; cat $OUT/step.txt
for C in 768 1600; do timeout 60 ./build/dev/bench_bsr --C $C --bs 64 --sp 0 --reps 30 | awk '/^fc/{n=$1" "$2} /layer/{print n, $0}'; done
