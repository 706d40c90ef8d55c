# session 8, run 91: CTA timeline of the short-list forward / dX (BSR_TIMELINE builds), and A/B of
# old (bd73349) / new (bias in shared memory, first loads before the CTA barrier, GELU epilogue as
# its own kernel) / new built for 6 CTAs per SM (BSR_TMA_LEAN_CTAS=6, spills), alternated 3 times.
timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test rc $?"; tail -1 $OUT/test_bsr_kernels.txt
for t in build/dev/timeline build/dev/timeline6; do
  for v in -1 26; do echo "== $t 0.9 variant $v"; timeout 60 $t 0.9 $v; done
done 2>&1 | tee $OUT/timeline.txt
echo "== timeline 0.5"; timeout 60 build/dev/timeline 0.5 | tee -a $OUT/timeline.txt
for rep in 1 2 3; do
  for b in build/old/bench_bsr build/dev/bench_bsr build/dev/bench_bsr_lean6; do
    for sp in 0.9 0.5; do
      f=$OUT/ab_${rep}_$(basename $b)_$sp.txt
      timeout 60 $b --C 1600 --bs 64 --sp $sp --reps 30 > $f 2>&1
      echo "rep $rep $b sp $sp: $(grep -E '^(fc|fcproj) ' $f | awk -F'|' '{split($2,f," "); split($3,x," "); printf "%s fwd %s dX %s; ", $1, f[2], x[2]}')"
    done
  done
done
