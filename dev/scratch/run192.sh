# session 20, run 192: the C 1600 7-draw table at every sparsity with the measured variants on by
# default and the new floor-fraction spread lines (default kernel and what the crossover runs)
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
SECONDS=0
timeout 200 ./build/dev/bench_bsr --C 1600 --bs 64 --masks 7 --reps 20 --out $OUT/bench_c1600_masks7_run192.txt > /dev/null 2>&1
echo "rc $? at $SECONDS s"; grep -E "device|over 7" $OUT/bench_c1600_masks7_run192.txt
