# session 11, run 132: grouped tile order of the TMA forward / dX kernel (BSR_TILE_GROUP = token
# tiles per group; lines longest first within a group). Correctness at G 1 and 5, then A/B.
for G in 1 5; do BSR_TILE_GROUP=$G timeout 300 ./build/test/test_bsr_kernels > $OUT/tbk_G$G.txt 2>&1; echo "G $G test rc $?"; tail -1 $OUT/tbk_G$G.txt; grep -i "fail" $OUT/tbk_G$G.txt | grep -v " 0 failed" | head -5; done
for rep in 1 2; do for G in 1 8 16 4 64; do echo "== C1600 0.9 G $G"; BSR_TILE_GROUP=$G ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 2>&1 | grep -E "^fc" | cut -c1-200; done; done
for sp in 0.5 0.95; do for G in 1 8 16; do echo "== C1600 $sp G $G"; BSR_TILE_GROUP=$G ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 20 2>&1 | grep -E "^fc" | cut -c1-200; done; done
for G in 1 8 16; do echo "== C768 0.9 G $G"; BSR_TILE_GROUP=$G ./build/dev/bench_bsr --C 768 --bs 64 --sp 0.9 --reps 20 2>&1 | grep -E "^fc" | cut -c1-200; done
for G in 1 8; do echo "== timeline G $G"; BSR_TILE_GROUP=$G ./build/dev/timeline 0.9; done
