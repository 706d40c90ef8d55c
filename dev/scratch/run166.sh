# session 13, run 166: masks seeded per configuration, and the forward against Blocked-ELL over 7
# mask draws per sparsity (C 1600, bs 64); then the --sp 0.9 row alone, which must bench draw 0's matrix
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
timeout 400 ./build/dev/bench_bsr --C 1600 --bs 64 --reps 20 --masks 7 --out $OUT/bench_masks7.txt > $OUT/stdout.txt 2>&1; echo "rc $?"
grep -E "^device|masks:|INVALID" $OUT/stdout.txt | cut -c1-220
grep -E "^fcproj.* 0.90 " $OUT/stdout.txt | head -1 | cut -c1-110
./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 20 2>&1 | grep -E "^fcproj" | cut -c1-110
