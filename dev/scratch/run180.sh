# session 17, run 180: GPU tests of session 16's final code (fused GELU_A forward on 26 everywhere);
# where the fcproj forward's time goes at 0.5 / 0.8 / 0.95 (C 1600 N 8192 bs 64): CTA timeline (the
# ragged end: SM spans against the longest) and ncu bytes (does the 105 MB input re-fetch from DRAM,
# is the L2 the limit), fc forward / fc dX beside it; then session 16's pending checks.
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
timeout 90 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test_bsr_kernels rc $?"; tail -1 $OUT/test_bsr_kernels.txt
timeout 60 ./build/test/test_gpt2 > $OUT/test_gpt2.txt 2>&1; echo "test_gpt2 rc $?"; tail -2 $OUT/test_gpt2.txt
for sp in 0.5 0.8 0.95; do
  timeout 30 ./build/dev/timeline $sp > $OUT/timeline_$sp.txt 2>&1; echo "timeline $sp rc $?"
  grep -vE "^    T=" $OUT/timeline_$sp.txt
done
M=gpu__time_duration.sum,launch__grid_size,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sector_hit_rate.pct,dram__throughput.avg.pct_of_peak_sustained_elapsed,lts__throughput.avg.pct_of_peak_sustained_elapsed,lts__t_sectors_srcunit_tex.sum,lts__t_sectors_srcunit_ltcfabric.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed
for sp in 0.5 0.8; do
  timeout 150 ncu --kernel-name regex:bsr_spmm_tma_kernel --launch-count 20 --metrics $M ./build/dev/timeline $sp > $OUT/ncu_$sp.txt 2>&1
  echo "ncu $sp rc $? (launches: 5 fc fwd, 5 fcproj dX, 5 fc dX, 5 fcproj fwd)"
  grep -E "gpu__time|grid_size|dram__|lts__|sm__" $OUT/ncu_$sp.txt | awk '{print $1, $(NF)}' > $OUT/ncu_${sp}_short.txt
done
timeout 60 ./build/dev/bench_bsr_fused --C 768 --N 65536 --sp 0.95 > $OUT/fused_768_N65536_0.95.txt 2>&1; echo "fused rc $?"
grep "^fwd" $OUT/fused_768_N65536_0.95.txt
BSR_VERBOSE=1 timeout 60 ./train_gpt2cu -e d12 -i ".cache/smoke/train_*.bin" -j "" -b 64 -t 1024 -x 6 -v 0 -s 0 -r 1 \
  --sparsity 0.9 --block 64 --schedule oneshot --prune-start 1000000 --prune-end 1000000 > $OUT/d12_unpruned_verbose.txt 2>&1
grep -c "bsr crossover" $OUT/d12_unpruned_verbose.txt; grep "bsr crossover" $OUT/d12_unpruned_verbose.txt | sort | uniq -c | head -12; grep "^step" $OUT/d12_unpruned_verbose.txt | tail -3
