# session 11, run 142: prefetch rule restricted to >= 4 readers per prefetched box (C 768 0.95 fc dX / fcproj forward
# had 0.6 and ran 1.5x slower under the first rule): test, C 768 N 65536 rule vs off, step A/B against build/old (af13353)
timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test rc $?"; tail -1 $OUT/test_bsr_kernels.txt
for sp in 0.9 0.95; do for P in -1 0; do echo "== C768 N65536 $sp P $P"; ./build/dev/bench_bsr --C 768 --N 65536 --bs 64 --sp $sp --reps 20 --l2-prefetch $P 2>&1 | grep -E "^fc" | cut -c1-150; done; done
bash dev/scratch/run137.sh 2>&1 | grep -v "^NVIDIA"
