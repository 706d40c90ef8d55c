# session 12, run 156: which L2 unit sets the long-list input gradient (fc dX, C 1600 bs 64 0.9, 1600 CTAs
# of 10 k-steps): ncu's breakdown of lts__throughput for the default (variant 26) kernel
timeout 240 ncu --kernel-name-base demangled --kernel-name "regex:tma_kernel<.int.64, .int.128, .int.1, .int.2, .bool.1, .bool.0" --launch-count 2 \
  --metrics breakdown:lts__throughput.avg.pct_of_peak_sustained_elapsed,gpu__time_duration.sum,lts__t_sectors_srcunit_ltcfabric.sum,lts__t_sectors.sum,lts__t_requests.sum \
  ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 1 > $OUT/ncu156.txt 2>&1
echo "rc $?"; grep -vE "^==PROF==|^fc|^ +layer|target" $OUT/ncu156.txt | sed 's/(CUtensorMap_st.*//' | cut -c1-120 | tail -45
