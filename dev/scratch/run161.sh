# session 13, run 161: load probes of the long-list kernels (fc dX, fcproj forward; dev/scratch/
# probe_run161.patch): bench_p1 skips the weight-tile loads, bench_p2 the activation-tile loads
# (results wrong, times only; bench_base = the same commit without the patch)
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
for sp in 0.9 0.95 0.5; do for rep in 1 2; do for b in base p1 p2; do
  echo "== $sp $b"; ./.probe/bench_$b --C 1600 --bs 64 --sp $sp --reps 20 2>&1 | grep -E "^fc" | cut -c1-150
done; done; done
