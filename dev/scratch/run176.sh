# session 15, run 176: bench_bsr's default hold (300 us): the C 1600 table (every block size and
# sparsity), the layer at sparsity 0 for every width, and bench_bsr_fused, all with the GPU held
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
timeout 240 ./build/dev/bench_bsr --C 1600 --reps 20 --out $OUT/bench_c1600_run176.txt > $OUT/c1600.txt 2>&1; echo "bench C 1600 rc $?"
grep -E "^device|target|WARN|INVALID" $OUT/c1600.txt | cut -c1-220
for C in 768 1024 1280 1600; do ./build/dev/bench_bsr --C $C --bs 64 --sp 0 --reps 30 2>&1 | grep -E "layer fwd|WARN" | cut -c1-200; done
./build/dev/bench_bsr_fused --C 1600 --N 8192 --sp 0.9 --reps 20 > $OUT/fused_c1600_run176.txt 2>&1; echo "fused C 1600 rc $?"
./build/dev/bench_bsr_fused --C 768 --N 65536 --sp 0.9 --reps 20 > $OUT/fused_c768_run176.txt 2>&1; echo "fused C 768 rc $?"
grep -E "^dX  (unfused|fused variant 28)|^fwd (on|GELU.*-1)|bench_bsr_fused:" $OUT/fused_*_run176.txt
# A/B: tensor-map descriptors prefetched at CTA start (build_variant.sh tp "-DBSR_TMAP_PREFETCH")
for rep in 1 2; do for sp in 0.95 0.9 0.8 0.5; do for b in bench_bsr bench_bsr_tp; do
  echo "== $b sp $sp"; ./build/dev/$b --C 1600 --bs 64 --sp $sp --reps 20 2>&1 | grep -E "^f" | cut -c1-150
done; done; done
timeout 120 ./build/test/test_bsr_kernels_tp --quick > $OUT/test_tp.txt 2>&1; echo "test_tp rc $?"; tail -1 $OUT/test_tp.txt
