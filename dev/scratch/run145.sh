# session 11, run 145: short-list default 26 (2 stages) where the L2 prefetch runs, else 28 as before: tests, A/B
# against the previous commit (build/mid), alternated; fused paths; step A/B against build/old (af13353)
for t in test_bsr_kernels test_gpt2; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; done
for rep in 1 2; do for b in dev mid; do for a in "1600 --sp 0.9 --reps 30" "768 --N 65536 --sp 0.9 --reps 20" "1024 --sp 0.9 --reps 20"; do
  echo "== $b C$a"; ./build/$b/bench_bsr --C $a --bs 64 2>&1 | grep -E "^fc" | cut -c1-150; done; done; done
for b in dev mid; do echo "== fused $b C768 N65536 0.95"; ./build/$b/bench_bsr_fused --C 768 --N 65536 --sp 0.95 --reps 20 2>&1 | grep -E "^fwd GELU.*-1|^dX  fused variant 28|bench_bsr_fused:"; done
for b in dev mid; do echo "== fused $b C1600 N8192 0.9"; ./build/$b/bench_bsr_fused --C 1600 --N 8192 --sp 0.9 --reps 20 2>&1 | grep -E "^fwd GELU.*-1|^dX  fused variant 28|bench_bsr_fused:"; done
