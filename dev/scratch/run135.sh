# session 11, run 135: the L2 prefetch by rule (3 token tiles ahead for <= 2 k-steps per tile, BsrTune.l2_prefetch)
# and __launch_bounds__ 4 CTAs for the BM 128 TMA kernel (GELU_A instances 130-134 -> 122-125 registers):
# tests; A/B new default vs new --l2-prefetch 0 vs the previous commit's binaries (build/old)
for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; grep -i "fail" $OUT/$t.txt | grep -v " 0 failed" | head -5; done
for rep in 1 2 3; do
  echo "== C1600 0.9 new"; ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 2>&1 | grep -E "^fc" | cut -c1-200
  echo "== C1600 0.9 new pf0"; ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 --l2-prefetch 0 2>&1 | grep -E "^fc" | cut -c1-200
  echo "== C1600 0.9 old"; ./build/old/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 2>&1 | grep -E "^fc" | cut -c1-200
done
for rep in 1 2; do for a in "1600 --sp 0.95" "1024 --sp 0.9" "768 --sp 0.9" "1600 --sp 0.8"; do
  echo "== C$a new"; ./build/dev/bench_bsr --C $a --bs 64 --reps 20 2>&1 | grep -E "^fc" | cut -c1-200
  echo "== C$a pf0"; ./build/dev/bench_bsr --C $a --bs 64 --reps 20 --l2-prefetch 0 2>&1 | grep -E "^fc" | cut -c1-200
done; done
for rep in 1 2; do for sp in 0.9 0.5; do for b in dev old; do echo "== fused C1600 N8192 $sp $b"; ./build/$b/bench_bsr_fused --C 1600 --N 8192 --sp $sp --reps 20 2>&1 | grep -E "^dX  fused variant 28|^dX  unfused|^fwd|bench_bsr_fused:"; done; done; done
for b in dev old; do echo "== fused C768 N65536 0.9 $b"; ./build/$b/bench_bsr_fused --C 768 --N 65536 --sp 0.9 --reps 20 2>&1 | grep -E "^dX  fused variant 28|^fwd|bench_bsr_fused:"; done
