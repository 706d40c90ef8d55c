# session 9, run 108: the review mends of 52101ed on a GPU (tests, trainer resume, a bench check,
# bench_bsr_fused), then the dW load probes: bench_bsr built with -DBSR_PROBE_DW_NOA / _NOB (the dY
# or X slab loads of the wgmma dW replaced by zero-fill, timed without validation) to see whether
# the weight gradient is bound by its L2 -> SM operand traffic.
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader
./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test_bsr_kernels rc $?"; tail -1 $OUT/test_bsr_kernels.txt
./build/test/test_layers > $OUT/test_layers.txt 2>&1; echo "test_layers rc $?"; tail -2 $OUT/test_layers.txt
bash dev/scratch/run100.sh
./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 20 > $OUT/bench_c1600.txt 2>&1; echo "bench rc $?"
grep -E "^fc|layer" $OUT/bench_c1600.txt | head -30
for v in noa nob; do echo "== probe $v"; PROBE_TIME_ALL=1 ./build/dev/bench_bsr_$v --C 1600 --bs 64 --sp 0.9 --reps 20 2>&1 | grep -E "^fc" | head -8; done
./build/dev/bench_bsr_fused --C 1600 --N 8192 --sp 0.9 > $OUT/fused.txt 2>&1; echo "fused rc $?"; tail -15 $OUT/fused.txt
