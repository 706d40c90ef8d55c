# session 15, run 173: GPU tests of the code since ff97e0f (bsr_dw_pairs in sparse/bsr.c, the GPU
# test comparing uploaded pairs with it); then bench_bsr's target row timed with the GPU held 0 us
# (the old measurement: host enqueue time inside the events) and 100 us before each call, alternated
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
for t in test_bsr_kernels test_gpt2 test_layers; do timeout 300 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $?"; tail -1 $OUT/$t.txt; done
grep -i "pairs" $OUT/test_bsr_kernels.txt | head -4
for rep in 1 2; do
  for h in 0 100; do
    echo "== hold $h us"
    ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 --hold-us $h 2>&1 | grep -E "^fc|^device|target|WARN" | cut -c1-230
  done
done
