# session 23, run 195 (written, not run: no machine in session 23). First `bash dev/scratch/prep_run195.sh`
# here, then carry build/run195_bins.tar.gz (timeout ~300 s; after run 194 in the same call: `bash
# dev/scratch/run194.sh; bash dev/scratch/run195.sh`, carrying both tarballs and .cache/smoke).
# Forward variant 36: a CTA walks the union of three block rows' columns on 128-token tiles and
# multiplies each landed activation tile into every row that has the column live (96 accumulators per
# thread, 2 CTAs per SM). Expected: fewer bytes into the SMs at 0.5 (139 against 160 per live block per
# token for 32), about even at 0.7, more at 0.8. Correctness first (the variant pass and the measured
# crossover of test_bsr_kernels run 36), then 32 / 36 at C 1600 0.5 / 0.7 / 0.8 on 2 draws, then 7
# draws at 0.5 with 36 among the crossover's forward candidates.
tar xzf build/run195_bins.tar.gz || { echo "build/run195_bins.tar.gz missing: run dev/scratch/prep_run195.sh first"; exit 1; }
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
SECONDS=0
timeout 120 ./build/lg3/test_bsr_kernels --quick > $OUT/lg3_test.txt 2>&1; echo "lg3 test rc $?"; tail -1 $OUT/lg3_test.txt
grep FAIL $OUT/lg3_test.txt | head -8
if grep -q " 0 failed" $OUT/lg3_test.txt; then
  for sp in 0.5 0.7 0.8; do
    timeout 90 ./build/lg3/bench_bsr --C 1600 --bs 64 --sp $sp --variants --reps 20 --masks 2 --out $OUT/lg3_var_$sp.txt > /dev/null 2>&1
    echo "sp $sp rc $? at $SECONDS s"
    grep -E "^(fc|fcproj) |variant (32|36) " $OUT/lg3_var_$sp.txt | cut -c1-60
  done
  timeout 100 ./build/lg3/bench_bsr --C 1600 --bs 64 --sp 0.5 --masks 7 --reps 20 --out $OUT/lg3_masks7_0.5.txt > /dev/null 2>&1
  echo "masks7 0.5 rc $? at $SECONDS s"
  grep -E "over 7 masks:" $OUT/lg3_masks7_0.5.txt | cut -c1-260
fi
