# session 8, run 95: stream-K weight gradient (bsr_dw_streamk_kernel, dW variant 12 and the default for
# SMs <= nnz <= 3 SMs) against bd73349 (old) at C 1600, bs 64, alternated; test_bsr_kernels first.
timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test rc $?"; grep -E "FAIL" $OUT/test_bsr_kernels.txt | head -8; tail -1 $OUT/test_bsr_kernels.txt
ab() { # binary label sparsity
  timeout 60 $1 --C 1600 --bs 64 --sp $3 --reps 30 2>&1 | grep -E '^(fc|fcproj) ' | awk -F'|' -v l="$2 $3" '{split($4,w," "); printf "%s %s dW %s cuBLAS %s %s %s; ", l, $1, w[2], w[3], w[4], w[5]} END {print ""}'
}
for rep in 1 2 3; do
  for sp in 0.9 0.95; do ab build/old/bench_bsr old $sp; ab build/dev/bench_bsr new $sp; done
done
for sp in 0.8944 0.9056 0.85 0.8; do ab build/old/bench_bsr old $sp; ab build/dev/bench_bsr new $sp; done
for C in 768 1024 1280; do
  for b in build/old/bench_bsr build/dev/bench_bsr; do
    timeout 60 $b --C $C --bs 64 --sp 0.9 --reps 30 2>&1 | grep -E '^(fc|fcproj) ' | awk -F'|' -v l="$b C$C" '{split($4,w," "); printf "%s %s dW %s cuBLAS %s; ", l, $1, w[2], w[3]} END {print ""}'
  done
done
