# session 20, run 193 (written, not run: the device budget ran out). First `git apply
# dev/scratch/split2_run193.patch && make -j2 build/dev/bench_bsr build/test/test_bsr_kernels`, carry those
# two binaries. Variants 39 / 40 (32 / 26 with each output tile split over a 2-CTA cluster,
# half of the line each, fp32 partials summed through distributed shared memory): the resident CTAs
# span half the tokens (17 instead of 34 MB of the fcproj input panel at C 1600). Correctness (the
# variant pass of test_bsr_kernels runs them), then every variant at C 1600 0.5 / 0.8, 2 draws.
# (as run, these steps were written out here, with a 90 s test timeout; since factored into the helper)
bash dev/scratch/test_and_variants.sh "32|39|26|40" "0.5 0.8"
