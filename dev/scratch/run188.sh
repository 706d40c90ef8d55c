# session 18, run 188: the 7-draw C 1600 table on this session's code (the kernels of run 185 plus
# session 17's review mend), the issue-4 target rows with cuBLAS and cuSPARSE beside them
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
timeout 580 ./build/dev/bench_bsr --C 1600 --bs 64 --reps 20 --masks 7 --out $OUT/bench_c1600_masks7_run188.txt > $OUT/stdout.txt 2>&1
echo "bench rc $?"
grep -E "over 7 masks|^device|layer fwd" $OUT/bench_c1600_masks7_run188.txt | grep -v "layer fwd" | cut -c1-260
