# session 11, run 140: final kernel table of the session's code (make bench = bench_bsr --reps 20, per C so that a
# partial run keeps its rows), then the C 1600 target rows once more with --reps 30
for C in 1600 768 1024 1280; do ./build/dev/bench_bsr --C $C --reps 20 --out $OUT/bench_full_run140_C$C.txt > $OUT/bench_stdout_C$C.txt 2>&1; echo "C $C rc $?"; done
./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 30 2>&1 | grep -E "^fc|peak|bandwidth" | cut -c1-220
