# session 17, run 181: (1) CTA order in groups of G token tiles, each walked line by line longest first
# (BSR_TILE_GROUP: 1 = the plain order, 0 = as many tiles as the resident CTAs cover), against the
# ragged end of the long-list kernels (fc dX / fcproj forward: 800 CTAs at 0.5-0.8, tail idle share
# 6-8% vs 3% for the short lists in run 180); (2) each CTA pulling its own line's activation tiles of
# token tile y + P into L2 (BSR_OWN_PF=P) where the panel prefetch is off. Tests; timeline; bench A/B.
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
BSR_TILE_GROUP=0 BSR_OWN_PF=8 timeout 90 ./build/test/test_bsr_kernels > $OUT/test_g0_pf8.txt 2>&1; echo "test G 0 PF 8 rc $?"; tail -1 $OUT/test_g0_pf8.txt
BSR_TILE_GROUP=3 timeout 90 ./build/test/test_bsr_kernels > $OUT/test_g3.txt 2>&1; echo "test G 3 rc $?"; tail -1 $OUT/test_g3.txt
tl() { grep -A5 -E "^(fc dX|fcproj forward)" $1 | grep -E "^fc|^  SM|^fcproj|^  CTAs res" | sed 's/CTAs, //; s/(event), mean SM span/|/; s/ cycles (longest [0-9]*), mean steps [0-9.]*//; s/  SM spans .*(the tail/ (tail/; s/  CTAs resident.*CTA-cycles per SM/ cyc\/SM/' | paste -sd' ' | cut -c1-220; }
for sp in 0.5 0.8 0.95; do
  for g in 1 0 4 8; do
    BSR_TILE_GROUP=$g timeout 30 ./build/dev/timeline $sp > $OUT/timeline_${sp}_g$g.txt 2>&1
    echo "timeline $sp G $g: $(tl $OUT/timeline_${sp}_g$g.txt)"
  done
done
for sp in 0.9 0.95; do
  for p in 8 16 22 40; do
    BSR_OWN_PF=$p timeout 30 ./build/dev/timeline $sp > $OUT/timeline_${sp}_pf$p.txt 2>&1
    echo "timeline $sp PF $p: $(tl $OUT/timeline_${sp}_pf$p.txt)"
  done
done
for pass in 1 2; do
  for g in 1 0; do
    for sp in 0.5 0.8 0.95; do
      BSR_TILE_GROUP=$g timeout 60 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 15 --masks 3 > $OUT/bench_${sp}_g${g}_p$pass.txt 2>&1
      echo "bench $sp G $g pass $pass rc $?: $(grep -E "^fc " $OUT/bench_${sp}_g${g}_p$pass.txt | awk '{printf "%s ", $20}')| fcproj fwd/ell $(grep -E "^fcproj " $OUT/bench_${sp}_g${g}_p$pass.txt | awk '{printf "%s/%s ", $9, $12}')"
    done
  done
done
cd $OUT && tar czf run181.tgz *.txt && rm -f *.txt
