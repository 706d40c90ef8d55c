# session 11, run 138: the fused dX (GELU', colsum) 1-stage TMA kernel at 5 CTAs per SM (launch bounds: 101 -> 96
# registers, no spills): tests; bench_bsr_fused against commit 0599d5e's (build/mid), alternated
for t in test_bsr_kernels test_gpt2; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; grep -i "fail" $OUT/$t.txt | grep -v " 0 failed" | head -5; done
for rep in 1 2 3; do for b in dev mid; do
  echo "== $b C1600 N8192 0.9"; ./build/$b/bench_bsr_fused --C 1600 --N 8192 --sp 0.9 --reps 20 2>&1 | grep -E "^dX  fused variant|bench_bsr_fused:"
  echo "== $b C768 N65536 0.9"; ./build/$b/bench_bsr_fused --C 768 --N 65536 --sp 0.9 --reps 20 2>&1 | grep -E "^dX  fused variant 2[68]|^dX  unfused"
  echo "== $b C1600 N16384 0.5"; ./build/$b/bench_bsr_fused --C 1600 --N 16384 --sp 0.5 --reps 20 2>&1 | grep -E "^dX  fused variant 2[68]"
done; done
