set -x
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv
timeout 300 ./build/test/test_bsr_kernels > $OUT/test.txt 2>&1; echo "test rc $?"
grep -c "ok " $OUT/test.txt; grep -i "fail\|checks" $OUT/test.txt | tail -8
for sp in 0 0.5 0.8 0.9; do
  timeout 120 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --variants --reps 10 > $OUT/var_$sp.txt 2>&1
  grep -E "^fc|variant -?[0-9]+ \(dW (4|5|6|9|10)\)|n256|col-groups splits +[23] |single splits +1 " $OUT/var_$sp.txt
done
