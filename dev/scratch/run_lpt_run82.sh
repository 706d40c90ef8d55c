# session 7, run 82: lines longest first (LPT order of the forward / dX CTAs within each token tile), A/B alternated
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
timeout 300 ./build/test/test_gpt2 > $OUT/test_gpt2.txt 2>&1; echo "test_gpt2 rc $?"; tail -1 $OUT/test_gpt2.txt
STEPS=12 DATA=.cache/smoke CONFIGS="12:64 48:16" SPARSITIES="0.9" DENSE_START=0 timeout 200 scripts/bench_sparse_step.sh 2>&1 | tail -4
