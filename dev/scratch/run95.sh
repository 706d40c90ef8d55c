# session 8, run 95: stream-K weight gradient (bsr_dw_streamk_kernel, dW variant 12 and the default for
# SMs <= nnz <= 3 SMs) against bd73349 (old) at C 1600, bs 64, alternated; test_bsr_kernels first.
. dev/scratch/ab_dw.sh
for rep in 1 2 3; do
  for sp in 0.9 0.95; do ab build/old/bench_bsr old $sp; ab build/dev/bench_bsr new $sp; done
done
for sp in 0.8944 0.9056 0.85 0.8; do ab build/old/bench_bsr old $sp; ab build/dev/bench_bsr new $sp; done
for C in 768 1024 1280; do ab build/old/bench_bsr old 0.9 $C; ab build/dev/bench_bsr new 0.9 $C; done
