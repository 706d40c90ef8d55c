# session 8, run 103: stream-K weight gradient again (run 97's kernel), the last CTA of a cut block
# summing the partials with one slot computation per CTA instead of a 64-bit division per element;
# A/B against bd73349 (old) alternated; test_bsr_kernels first.
. dev/scratch/ab_dw.sh
for rep in 1 2 3; do ab build/old/bench_bsr old 0.9; ab build/dev/bench_bsr new 0.9; done
for sp in 0.9056 0.8944 0.85 0.95; do ab build/old/bench_bsr old $sp; ab build/dev/bench_bsr new $sp; done
for C in 1024 1280; do ab build/old/bench_bsr old 0.9 $C; ab build/dev/bench_bsr new 0.9 $C; done
