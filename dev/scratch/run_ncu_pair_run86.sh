# session 7, run 86: why the persistent paired kernel (b2ef646, build/old/bench_bsr) is slow: ncu of its first
# launch (fc forward, C 1600, 0.5, variant 42) against the first TMA launch (the default there, variant 32)
for k in bsr_spmm_pair_kernel bsr_spmm_tma_kernel; do
timeout 250 ncu --kernel-name regex:$k --launch-count 1 --section SpeedOfLight --section WarpStateStats --section LaunchStats --section Occupancy --section MemoryWorkloadAnalysis \
  ./build/old/bench_bsr --C 1600 --bs 64 --sp 0.5 --reps 1 --variants > $OUT/ncu_$k.txt 2>&1
echo "$k rc $?"; grep -E "void bsr_spmm|Duration|Throughput|Stall|Warp Cycles Per|Registers Per|Dynamic Shared|Block Limit|Achieved Occupancy|Waves Per|L2 Hit" $OUT/ncu_$k.txt | sed 's/(CUtensorMap_st.*//' | head -40
done
