# session 7, run 80: ncu speed-of-light / memory sections of the short-K forward and dX kernels at C 1600, 0.9, and v32 at 0.5
for sp in 0.9 0.5; do
  timeout 240 ncu --kernel-name regex:bsr_spmm_tma_kernel --launch-count 4 --section SpeedOfLight --section MemoryWorkloadAnalysis \
    ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 1 > $OUT/ncu_$sp.txt 2>&1
  echo "sp $sp rc $?"
  grep -E "bsr_spmm_tma_kernel<|Duration|DRAM Throughput|L2 Cache Throughput|L1/TEX Cache Throughput|Memory Throughput|Compute \(SM\) Throughput|Max Bandwidth|L2 Hit Rate|Mem Busy|Mem Pipes Busy" $OUT/ncu_$sp.txt | sed 's/(CUtensorMap_st.*//' | cut -c1-150
done
