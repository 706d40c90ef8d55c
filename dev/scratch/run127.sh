# session 10, run 127: why variant 36 is slow (ncu at C 768 fc forward) and the C 1600 bench exit
timeout 120 ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 5 --variants > $OUT/c1600.txt 2>&1; echo "c1600 rc $?"; grep -v "^  dW" $OUT/c1600.txt | tail -5
which ncu || ls /usr/local/cuda/bin | grep -i ncu
timeout 300 ncu -k regex:resident -c 1 --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis --section LaunchStats --section Occupancy ./build/dev/bench_bsr --C 768 --bs 64 --sp 0.9 --reps 2 --variants > $OUT/ncu.txt 2>&1; echo "ncu rc $?"
grep -E "Duration|Throughput|Stall|Issue|Eligible|Active Warps|Warp Cycles|Registers|Shared Memory|Mem Busy|Max Bandwidth|L1/TEX Hit|L2 Hit|smsp__pcsamp" $OUT/ncu.txt | head -50
