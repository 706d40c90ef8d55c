# session 11, run 133: L2 prefetch of the input row panel pf_ahead token tiles ahead in the TMA
# forward / dX kernel (BSR_L2_PREFETCH = pf_ahead, 0 = off)
BSR_L2_PREFETCH=6 timeout 300 ./build/test/test_bsr_kernels > $OUT/tbk_pf6.txt 2>&1; echo "pf 6 test rc $?"; tail -1 $OUT/tbk_pf6.txt
for rep in 1 2; do for P in 0 4 8 12 24; do echo "== C1600 0.9 PF $P"; BSR_L2_PREFETCH=$P ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 2>&1 | grep -E "^fc" | cut -c1-200; done; done
for sp in 0.5 0.95; do for P in 0 8; do echo "== C1600 $sp PF $P"; BSR_L2_PREFETCH=$P ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 20 2>&1 | grep -E "^fc" | cut -c1-200; done; done
for P in 0 8; do echo "== C768 0.9 PF $P"; BSR_L2_PREFETCH=$P ./build/dev/bench_bsr --C 768 --bs 64 --sp 0.9 --reps 20 2>&1 | grep -E "^fc" | cut -c1-200; done
for P in 0 8; do echo "== timeline PF $P"; BSR_L2_PREFETCH=$P ./build/dev/timeline 0.9 | grep -v "T="; done
