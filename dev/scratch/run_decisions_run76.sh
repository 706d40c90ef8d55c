# session 7, run 76: crossover decisions under global pruning, old (1d04210) vs new binary, d48 B16
# prune every 2 steps from step 2 to 20 (linear to 0.9), 24 steps; then tests of the new build
for scope in global layer; do
for bin in build/old/train_gpt2cu ./train_gpt2cu; do
  BSR_VERBOSE=1 timeout 250 $bin -e d48 -i ".cache/smoke/train_*.bin" -j "" -b 16 -t 1024 -x 24 -v 0 -s 0 -r 1 \
    --sparsity 0.9 --block 64 --schedule linear --prune-start 2 --prune-end 20 --prune-every 2 --prune-scope $scope > $OUT/dec_${scope}_$(basename $(dirname $bin)).txt 2>&1
  f=$OUT/dec_${scope}_$(basename $(dirname $bin)).txt
  echo "$scope $bin rc $? decisions $(grep -c 'bsr crossover' $f)"
  grep -E "^step +[0-9]+/" $f | awk '{ for (i=1;i<=NF;i++) if ($i=="ms") ms=$(i-1); s+=ms; printf "%s ", ms } END { printf "\n  total %.0f ms\n", s }'
done; done
for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; grep -i "fail" $OUT/$t.txt | head -5; done
