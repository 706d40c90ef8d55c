# session 11, run 134: prefetch-distance sweep of run 133's L2 prefetch (BSR_L2_PREFETCH token tiles ahead)
for C in 1600 768 1024; do for sp in 0.9 0.95 0.8; do for P in 0 1 2 3 4 5 6 0 2 4; do echo "== C$C $sp PF $P"; BSR_L2_PREFETCH=$P ./build/dev/bench_bsr --C $C --bs 64 --sp $sp --reps 20 2>&1 | grep -E "^fc" | cut -c1-200; done; done; done
