# session 8, runs 92-94: write probe, and the forward / dX epilogue as 16-byte global stores from the
# staged tile (BSR_EPI_DIRECT=1) against the bulk tensor store (new base) and bd73349 (old), alternated.
./build/test/test_bsr_kernels_direct --quick 2>&1 | tail -1
for sp in 0.9 0.9999; do echo "== direct $sp"; ./build/dev/timeline_direct $sp | grep -v "T=[0-9]:"; done
ab() { # binary label sparsity
  timeout 60 $1 --C 1600 --bs 64 --sp $3 --reps 30 2>&1 | grep -E '^(fc|fcproj) ' | awk -F'|' -v l="$2 $3" '{split($2,f," "); split($3,x," "); printf "%s %s fwd %s dX %s; ", l, $1, f[2], x[2]} END {print ""}'
}
for rep in 1 2 3; do
  ab build/old/bench_bsr old 0.9; ab build/dev/bench_bsr base 0.9; ab build/dev/bench_bsr_direct direct 0.9
done
for sp in 0.5 0.95; do
  ab build/old/bench_bsr old $sp; ab build/dev/bench_bsr base $sp; ab build/dev/bench_bsr_direct direct $sp
done
