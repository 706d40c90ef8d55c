# session 13, run 164: what the cluster launch costs by itself. bench_mc: run 163's variants 36 / 37
# (weight-tile multicast, clusters of two); bench_p4: the same cluster launch with each CTA loading
# its whole weight tile itself and no empty barriers (BSR_PROBE=4). Both print the occupancy query
# (active clusters vs CTAs per SM unclustered).
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
for sp in 0.9 0.5; do for b in mc p4; do echo "== C1600 $sp $b"; ./.probe/bench_$b --C 1600 --bs 64 --sp $sp --reps 20 --variants 2>&1 | grep -E "probe:|variant (26|32|36|37) |INVALID" | sort -u | cut -c1-150; done; done
