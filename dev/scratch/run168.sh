# session 14, run 168: is there room for weights resident in shared memory (long lists, C 1600 0.9)?
# build/probe/bench_p0 / bench_p1: dev/scratch/probe_run168.patch = the run 161 probe + a BSR_SMEM_PAD env (extra bytes of
# shared memory per TMA CTA, to set the occupancy); p0 keeps every load, p1 skips the weight-tile loads
# (results wrong, times only). Variant 26 takes 50176 B: pad 0 = 4 CTAs per SM, 20000 = 3, 50000 = 2,
# 120000 = 1. The upper bound of a resident-weight kernel is p1 at the occupancy it could have.
# (built with -DBSR_PROBE=0 / 1 on the five sparse/ files and dev/bench_bsr.cu, as dev/scratch/build_variant.sh does)
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
for rep in 1 2; do
  echo "== base"; ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --reps 20 2>&1 | grep -E "^fc" | cut -c1-170
  for b in p0 p1; do for pad in 0 20000 50000 120000; do
    echo "== $b pad $pad"; BSR_SMEM_PAD=$pad ./build/probe/bench_$b --C 1600 --bs 64 --sp 0.9 --reps 20 2>&1 | grep -E "^fc" | cut -c1-170
  done; done
done
