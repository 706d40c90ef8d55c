# session 18, run 187: why 384-token tiles (variant 33) lose to 32 on the long lists at 0.5 (run 186):
# ncu bytes of the same four kernels at C 1600 N 8192 bs 64 (timeline = 32, timeline_b384 = 33)
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
M=gpu__time_duration.sum,launch__grid_size,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sector_hit_rate.pct,dram__throughput.avg.pct_of_peak_sustained_elapsed,lts__throughput.avg.pct_of_peak_sustained_elapsed,lts__t_sectors_srcunit_tex.sum,lts__t_sectors_srcunit_ltcfabric.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed,launch__occupancy_limit_shared_mem,sm__warps_active.avg.pct_of_peak_sustained_active
for b in timeline timeline_b384; do
  timeout 200 ncu --kernel-name regex:bsr_spmm_tma_kernel --launch-count 20 --metrics $M ./build/dev/$b 0.5 > $OUT/ncu_$b.txt 2>&1
  echo "ncu $b rc $? (launches: 5 fc fwd, 5 fcproj dX, 5 fc dX, 5 fcproj fwd)"
  grep -E "gpu__time|grid_size|dram__|lts__|sm__|launch__occ" $OUT/ncu_$b.txt | awk '{print $1, $(NF)}' > $OUT/short_$b.txt
  # launches 1 (fc fwd), 11 (fc dX), 16 and 20 (fcproj fwd): one line each
  for k in 1 11 16 20; do echo "launch $k: $(sed -n "$(( (k-1)*12+1 )),$(( k*12 ))p" $OUT/short_$b.txt | tr '\n' ' ')"; done
done
