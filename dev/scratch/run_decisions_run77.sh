# session 7, run 77: two-round dW decision; global pruning d48 B16 as run 76 (new binary), tests, C 1600 crossover columns
for scope in global layer; do
  f=$OUT/dec_${scope}.txt
  BSR_VERBOSE=1 timeout 250 ./train_gpt2cu -e d48 -i ".cache/smoke/train_*.bin" -j "" -b 16 -t 1024 -x 24 -v 0 -s 0 -r 1 \
    --sparsity 0.9 --block 64 --schedule linear --prune-start 2 --prune-end 20 --prune-every 2 --prune-scope $scope > $f 2>&1
  echo "$scope rc $? decisions $(grep -c 'bsr crossover' $f)"
  grep -E "^step +[0-9]+/" $f | awk '{ for (i=1;i<=NF;i++) if ($i=="ms") ms=$(i-1); s+=ms; printf "%s ", ms } END { printf "\n  total %.0f ms\n", s }'
  grep -E "^step +24/" $f | cut -c1-120
done
timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test rc $?"; tail -1 $OUT/test_bsr_kernels.txt
for sp in 0.5 0.9; do timeout 100 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 20 > $OUT/bench_$sp.txt 2>&1; echo "bench $sp rc $?"; grep -E "^(fc|fcproj) " $OUT/bench_$sp.txt; done
