# session 9, run 112: ncu of the default dW kernel (single blocks, 5-stage cp.async ring) at C 1600 0.9
timeout 300 ncu --kernel-name regex:bsr_dw_wgmma_kernel --launch-count 2 --section SpeedOfLight --section MemoryWorkloadAnalysis \
  --section WarpStateStats --section SchedulerStats --section Occupancy --section LaunchStats \
  ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 1 > $OUT/ncu_dw.txt 2>&1
echo "rc $?"
grep -E "bsr_dw_wgmma_kernel<|Duration|Throughput|Hit Rate|Busy|Stall|Issued|Eligible|Active Warps|Achieved|Registers|Block Limit|Warp Cycles|Bandwidth" $OUT/ncu_dw.txt | sed 's/(float \*.*//' | cut -c1-140 | head -90
