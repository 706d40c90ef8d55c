# ncu of the default fc forward at C 1600, bs 64, sparsity 0.9 (TMA variant 26, 2.5 k-steps per tile)
which ncu && ncu --version | tail -1
timeout 300 ncu --kernel-name regex:bsr_spmm_tma_kernel --launch-skip 4 --launch-count 1 --set full --import-source yes \
  -o $OUT/fwd_fc_09 ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 3 > $OUT/ncu_log.txt 2>&1; echo "ncu rc $?"
tail -3 $OUT/ncu_log.txt
ncu -i $OUT/fwd_fc_09.ncu-rep --page details > $OUT/details.txt 2>&1
grep -E "Function Name|Grid Size|Duration|Registers|Achieved Occupancy|Theoretical Occupancy|Memory Throughput|DRAM Throughput|L2 Hit|L1/TEX Hit|Compute \(SM\)|Issue Slots|Warp Cycles Per Issued|No Eligible|Stall|One or More" $OUT/details.txt | head -40
ncu -i $OUT/fwd_fc_09.ncu-rep --page raw --csv 2>/dev/null | head -3 | cut -c1-200 >/dev/null
ncu -i $OUT/fwd_fc_09.ncu-rep --page source --csv --print-source sass > $OUT/source_sass.csv 2>&1; echo "source rc $?"; wc -l $OUT/source_sass.csv
