# session 12, run 155: ncu DRAM / L2 bytes of the forward / input-gradient TMA kernels at C 1600 bs 64
# 0.9 (is the long-list pair, 1600 CTAs of 10 k-steps, reading more DRAM bytes than the floor counts?)
# plus test_bsr_kernels (the tensor-map change of this commit)
timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test_bsr_kernels rc $?"; tail -1 $OUT/test_bsr_kernels.txt
which ncu || ls /usr/local/cuda/bin | grep -i ncu
M=gpu__time_duration.sum,launch__grid_size,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sector_hit_rate.pct,dram__throughput.avg.pct_of_peak_sustained_elapsed,lts__throughput.avg.pct_of_peak_sustained_elapsed,lts__t_sectors_srcunit_tex.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed
for sp in 0.9 0.95; do
  timeout 240 ncu --kernel-name regex:bsr_spmm_tma_kernel --launch-count 8 --metrics $M \
    ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 1 > $OUT/ncu155_$sp.txt 2>&1
  echo "sp $sp rc $?"
  grep -E "bsr_spmm_tma_kernel<|gpu__time|grid_size|dram__|lts__|sm__" $OUT/ncu155_$sp.txt | sed 's/(CUtensorMap_st.*//' | cut -c1-120
done
