# session 15, run 174: the forward against Blocked-ELL over 7 mask draws per sparsity (C 1600, bs 64)
# with the GPU held 100 us before each timed call (bench_bsr's default since 7f209f2); run 166 is the
# same sweep without the hold
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
timeout 500 ./build/dev/bench_bsr --C 1600 --bs 64 --reps 20 --masks 7 --out $OUT/bench_masks7_run174.txt > $OUT/stdout.txt 2>&1; echo "rc $?"
grep -E "^device|masks:|INVALID|WARN" $OUT/stdout.txt | cut -c1-230
grep -E "^f.* 0.90 " $OUT/stdout.txt | cut -c1-230
