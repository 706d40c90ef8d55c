# session 20, run 193 (written, not run: the device budget ran out). First `git apply
# dev/scratch/split2_run193.patch && make -j2 build/dev/bench_bsr build/test/test_bsr_kernels`, carry those
# two binaries. Variants 39 / 40 (32 / 26 with each output tile split over a 2-CTA cluster,
# half of the line each, fp32 partials summed through distributed shared memory): the resident CTAs
# span half the tokens (17 instead of 34 MB of the fcproj input panel at C 1600). Correctness (the
# variant pass of test_bsr_kernels runs them), then every variant at C 1600 0.5 / 0.8, 2 draws.
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
SECONDS=0
timeout 90 ./build/test/test_bsr_kernels --quick > $OUT/test.txt 2>&1; echo "test rc $?"; tail -1 $OUT/test.txt
grep FAIL $OUT/test.txt | head -8
for sp in 0.5 0.8; do
  timeout 60 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --variants --reps 20 --masks 2 --out $OUT/var_$sp.txt > /dev/null 2>&1
  echo "sp $sp rc $? at $SECONDS s"
  grep -E "^(fc|fcproj) |variant (32|39|26|40) " $OUT/var_$sp.txt | cut -c1-60
  grep -E "over 2 masks:" $OUT/var_$sp.txt | cut -c1-200
done
