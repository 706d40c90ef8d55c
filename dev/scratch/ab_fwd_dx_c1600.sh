# A/B of the forward / dX kernels, old (build/old/bench_bsr) against new (build/dev/bench_bsr), alternated
# three times at C 1600 (0.9, 0.5) and once at C 768 (0.9); used by runs 79 and 82 (run_head_run79.sh,
# run_lpt_run82.sh). Run on the device: outputs under $OUT.
timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test rc $?"; tail -1 $OUT/test_bsr_kernels.txt
for rep in 1 2 3; do
  for b in build/old/bench_bsr build/dev/bench_bsr; do
    for sp in 0.9 0.5; do
      timeout 60 $b --C 1600 --bs 64 --sp $sp --reps 30 > $OUT/ab_${rep}_$(basename $(dirname $b))_$sp.txt 2>&1
      echo "rep $rep $b sp $sp: $(grep -E '^(fc|fcproj) ' $OUT/ab_${rep}_$(basename $(dirname $b))_$sp.txt | awk -F'|' '{split($2,f," "); split($3,x," "); printf "%s fwd %s dX %s; ", $1, f[2], x[2]}')"
    done
  done
done
for b in build/old/bench_bsr build/dev/bench_bsr; do
  timeout 60 $b --C 768 --bs 64 --sp 0.9 --reps 30 | grep -E '^(fc|fcproj) ' | awk -F'|' -v b=$b '{split($2,f," "); split($3,x," "); printf "%s C768 %s fwd %s dX %s\n", b, $1, f[2], x[2]}'
done
