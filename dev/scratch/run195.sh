# session 23, run 195 (written, not run: no machine in sessions 23 and 24). First `bash dev/scratch/prep_run195.sh`
# here, then carry build/run195_bins.tar.gz in its own device call (timeout ~500 s; run 194 fills a call
# by itself). Forward variants 36 and 37: a CTA walks the union of three block rows' columns and
# multiplies each landed activation tile into every row that has the column live (three m64n64
# accumulators per thread, 122 registers). 36: 128-token tiles at 2 CTAs per SM (2 stages); 37
# (session 24): 192-token tiles, three warpgroups, 4 stages, one CTA per SM. Predicted bytes into the
# SMs per live block per token (dev/scratch/line_group_bytes.py), against 160 for 32: 36 139 / 157 / 168
# at 0.5 / 0.7 / 0.8; 37 120 / 137 / 148 (2.93 waves of 387 CTAs at C 1600 N 8192, 36: 2.18 of 576).
# Correctness first (the variant pass and the measured crossover of test_bsr_kernels run 36 and 37),
# then 32 / 36 / 37 at C 1600 0.5 / 0.8 on 2 draws, then 7 draws at 0.5 and 0.8 with both among the
# crossover's forward candidates.
tar xzf build/run195_bins.tar.gz || { echo "build/run195_bins.tar.gz missing: run dev/scratch/prep_run195.sh first"; exit 1; }
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
SECONDS=0
timeout 120 ./build/lg3/test_bsr_kernels --quick > $OUT/lg3_test.txt 2>&1; echo "lg3 test rc $?"; tail -1 $OUT/lg3_test.txt
grep FAIL $OUT/lg3_test.txt | head -8
if grep -q " 0 failed" $OUT/lg3_test.txt; then
  for sp in 0.5 0.8; do
    timeout 90 ./build/lg3/bench_bsr --C 1600 --bs 64 --sp $sp --variants --reps 20 --masks 2 --out $OUT/lg3_var_$sp.txt > /dev/null 2>&1
    echo "sp $sp rc $? at $SECONDS s"
    grep -E "^(fc|fcproj) |variant (32|36|37) " $OUT/lg3_var_$sp.txt | cut -c1-60
  done
  for sp in 0.5 0.8; do
    timeout 100 ./build/lg3/bench_bsr --C 1600 --bs 64 --sp $sp --masks 7 --reps 20 --out $OUT/lg3_masks7_$sp.txt > /dev/null 2>&1
    echo "masks7 $sp rc $? at $SECONDS s"
    grep -E "over 7 masks:" $OUT/lg3_masks7_$sp.txt | cut -c1-260
  done
fi
