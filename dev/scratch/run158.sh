# session 12, run 158: L2-partition-affine tile order of the forward / input-gradient TMA kernels
# (BsrTune.l2_affinity, bench_bsr --l2-affinity 0|1): tests, A/B at C 1600 and C 768, ncu fabric traffic
timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test_bsr_kernels rc $?"; tail -1 $OUT/test_bsr_kernels.txt; grep -iE "fail|mismatch" $OUT/test_bsr_kernels.txt | head -5
for rep in 1 2; do for A in 0 1; do echo "== C1600 0.9 affinity $A"; ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 --l2-affinity $A 2>&1 | grep -E "^fc" | cut -c1-200; done; done
for sp in 0.5 0.8 0.95; do for A in 0 1; do echo "== C1600 $sp affinity $A"; ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 20 --l2-affinity $A 2>&1 | grep -E "^fc" | cut -c1-200; done; done
for A in 0 1; do echo "== C768 0.9 affinity $A"; ./build/dev/bench_bsr --C 768 --bs 64 --sp 0.9 --reps 20 --l2-affinity $A 2>&1 | grep -E "^fc" | cut -c1-200; done
for A in 0 1; do
  timeout 240 ncu --kernel-name-base demangled --kernel-name "regex:tma_kernel<.int.64, .int.128, .int.1, .int.2, .bool.1, .bool.0" --launch-count 1 \
    --metrics gpu__time_duration.sum,lts__t_sectors_srcunit_ltcfabric.sum,lts__ltcfabric2ltc_cycles_active.avg.pct_of_peak_sustained_elapsed,lts__t_sectors.sum,dram__bytes_read.sum,lts__lts2xbar_cycles_active_realtime.avg.pct_of_peak_sustained_elapsed \
    ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 1 --l2-affinity $A > $OUT/ncu158_$A.txt 2>&1
  echo "ncu affinity $A rc $?"; grep -E "gpu__|lts__|dram__" $OUT/ncu158_$A.txt
done
