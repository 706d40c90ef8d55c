# ncu of the default weight gradient at C 1600, bs 64, sparsity 0.9 (single blocks, 5 stages, one split)
timeout 300 ncu --kernel-name regex:bsr_dw_wgmma_kernel --launch-skip 3 --launch-count 1 --set full --import-source yes \
  -o $OUT/dw_09 ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 3 > $OUT/ncu_log.txt 2>&1; echo "ncu rc $?"
ncu -i $OUT/dw_09.ncu-rep --page details > $OUT/details.txt 2>&1
grep -E "bsr_dw_wgmma|Duration|Registers Per|Achieved Occupancy|Theoretical Occupancy|DRAM Throughput|L2 Hit|Compute \(SM\)|Warp Cycles Per Issued|No Eligible|Block Limit|Waves" $OUT/details.txt | head -20
ncu -i $OUT/dw_09.ncu-rep --page source --csv --print-source sass > $OUT/source_sass.csv 2>&1
