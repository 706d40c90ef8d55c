# test_bsr_kernels --quick, then `bench_bsr --variants` at C 1600 block 64 on 2 draws for each
# sparsity in $2, printing the variants matching $1 (an egrep alternation, e.g. "32|33") and the
# forward / Blocked-ELL spread. Used by run193.sh and run194.sh. Run on the device: outputs under $OUT.
variants=$1 sps=$2
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
SECONDS=0
timeout 120 ./build/test/test_bsr_kernels --quick > $OUT/test.txt 2>&1; echo "test rc $?"; tail -1 $OUT/test.txt
grep FAIL $OUT/test.txt | head -8
for sp in $sps; do
  timeout 90 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --variants --reps 20 --masks 2 --out $OUT/var_$sp.txt > /dev/null 2>&1
  echo "sp $sp rc $? at $SECONDS s"
  grep -E "^(fc|fcproj) |variant ($variants) " $OUT/var_$sp.txt | cut -c1-60
  grep -E "over 2 masks:" $OUT/var_$sp.txt | cut -c1-200
done
