# session 13, run 162: weight-replica probe (dev/scratch/probe_run162.patch, BSR_PROBE=3): BSR_WREP=R
# copies of the packed weights, the CTAs of token tile y read copy y % R, so fewer CTAs at a time
# read the same weight lines from L2 (results stay correct: validation on). bench_base: no patch.
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
for sp in 0.9 0.5; do for rep in 1 2; do
  echo "== $sp base"; ./.probe/bench_base --C 1600 --bs 64 --sp $sp --reps 20 2>&1 | grep -E "^fc|INVALID" | cut -c1-150
  for R in 1 2 4 8; do echo "== $sp R $R"; BSR_WREP=$R ./.probe/bench_p3 --C 1600 --bs 64 --sp $sp --reps 20 2>&1 | grep -E "^fc|INVALID" | cut -c1-150; done
done; done
