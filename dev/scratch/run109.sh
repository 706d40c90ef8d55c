# session 9, run 109: is the weight gradient bound by DRAM latency? bench_bsr built with
# -DBSR_DW_PF=D (each dW step also issues prefetch.global.L2 for the slab rows D steps ahead;
# dev/scratch /tmp/bv.sh recipe: build_variant.sh without the test/timeline) against the base build,
# alternated, C 1600 bs 64 at 0.9 and 0.7.
for sp in 0.9 0.7; do for rep in 1 2; do for v in "" _pf4 _pf8 _pf16 _pf32; do
  echo "== sp $sp rep $rep variant ${v:-base}"
  ./build/dev/bench_bsr$v --C 1600 --bs 64 --sp $sp --reps 20 2>&1 | grep -E "^fc" | sed 's/|.*| dW/| dW/'
done; done; done
