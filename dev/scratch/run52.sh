set -x
timeout 300 ./build/test/test_bsr_kernels > $OUT/test.txt 2>&1; echo "test rc $?"
grep -i "fail" $OUT/test.txt | head; tail -1 $OUT/test.txt
for sp in 0 0.5 0.7 0.8 0.85 0.9; do
  timeout 150 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --variants --reps 10 > $OUT/var_$sp.txt 2>&1
  grep -E "^fc|default splits +1 |single-5st splits +1 |col-groups splits +[23] |col-n256 splits +[23] " $OUT/var_$sp.txt
done
timeout 100 ./build/dev/bench_bsr --C 768 --bs 64 --sp 0.5 --reps 10 | grep -E "^fc"
for a in "768 65536" "1024 32768" "1600 16384"; do set -- $a; timeout 100 ./build/dev/bench_bsr_fused --C $1 --N $2 --sp 0.5 > $OUT/fused_$1.txt 2>&1; grep -i "dW" $OUT/fused_$1.txt; done
