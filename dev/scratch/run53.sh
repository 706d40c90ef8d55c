set -x
for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -2 $OUT/$t.txt; grep -i "fail" $OUT/$t.txt | head -5; done
timeout 200 ./build/dev/bench_bsr --C 1600 --bs 64 --reps 20 --out $OUT/bench_c1600.txt > $OUT/bench_c1600_stdout.txt 2>&1; echo "bench rc $?"
cat $OUT/bench_c1600.txt
timeout 100 ./build/dev/bench_bsr --C 768 --bs 64 --sp 0 --reps 20 | grep -E "^fc|layer"
D=.cache/smoke
run() { timeout 120 ./train_gpt2cu -e d12 -i "$D/train_*.bin" -j "" -b 16 -t 1024 -x 12 -v 0 -s 0 -r 1 "$@" > $OUT/log.txt 2>&1; echo "rc $?"; grep -E "^step +([6-9]|1[0-2])/" $OUT/log.txt | awk '{for(i=1;i<=NF;i++) if($i=="ms") print $(i-1)}' | sort -g | awk '{a[NR]=$1} END {print "median ms", a[int((NR+1)/2)]}'; }
run
BSR_VERBOSE=1 run --sparsity 0.9 --block 64 --schedule oneshot --prune-start 100000 --prune-end 100000; grep "bsr crossover" $OUT/log.txt | sort | uniq | head -20
