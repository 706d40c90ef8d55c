# session 17, run 183: L2 cache policies on the TMA forward / dX kernel (BSR_L2_HINTS: 1 weight tiles
# evict_last, 4 output stores evict_first, 8 activation tiles evict_last) against the long-list
# kernels' DRAM re-fetch at 0.5 (run 180: 144 MB read where the floor counts 115). Test, bench A/B, ncu.
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
BSR_L2_HINTS=5 timeout 90 ./build/test/test_bsr_kernels --quick > $OUT/t.txt 2>&1; echo "test hints 5 rc $?"; tail -1 $OUT/t.txt
for pass in 1 2; do
  for sp in 0.5 0.8 0.95; do
    for h in 0 1 4 5 9; do
      BSR_L2_HINTS=$h timeout 40 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 15 --masks 3 > $OUT/b.txt 2>&1
      echo "bench $sp hints $h pass $pass rc $?: fc fwd/dX $(grep -E "^fc " $OUT/b.txt | awk '{printf "%s/%s ", $9, $20}')| fcproj fwd/ell/dX $(grep -E "^fcproj " $OUT/b.txt | awk '{printf "%s/%s/%s ", $9, $12, $20}')"
    done
  done
done
M=gpu__time_duration.sum,dram__bytes_read.sum,lts__t_sector_hit_rate.pct,lts__throughput.avg.pct_of_peak_sustained_elapsed
for h in 0 5; do
  BSR_L2_HINTS=$h timeout 100 ncu --kernel-name regex:bsr_spmm_tma_kernel --launch-skip 15 --launch-count 3 --metrics $M ./build/dev/timeline 0.5 > $OUT/n.txt 2>&1
  echo "ncu fcproj fwd 0.5 hints $h rc $?: $(grep -E "gpu__time|dram__|lts__" $OUT/n.txt | awk '{printf "%s %s; ", $1, $NF}')"
done
rm -f $OUT/*.txt
