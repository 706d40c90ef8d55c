# session 17, run 181: CTA order in groups of G token tiles, each walked line by line longest first
# (BSR_TILE_GROUP: 1 = the plain order, 0 = as many tiles as the resident CTAs cover), against the
# ragged end of the long-list kernels (fc dX / fcproj forward: 800 CTAs at 0.5-0.8, tail idle share
# 6-8% vs 3% for the short lists in run 180). Tests under G 0 and 3; timeline; bench_bsr A/B.
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
for g in 0 3; do
  BSR_TILE_GROUP=$g timeout 90 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels_g$g.txt 2>&1; echo "test_bsr_kernels G $g rc $?"; tail -1 $OUT/test_bsr_kernels_g$g.txt
done
for sp in 0.5 0.8 0.95; do
  for g in 1 0 4 8; do
    BSR_TILE_GROUP=$g timeout 30 ./build/dev/timeline $sp > $OUT/timeline_${sp}_g$g.txt 2>&1
    echo "== timeline $sp G $g"; grep -A4 -E "^(fc dX|fcproj forward)" $OUT/timeline_${sp}_g$g.txt | grep -E "^fc|^  SM|^fcproj" | cut -c1-110
  done
done
for pass in 1 2; do
  for g in 1 0; do
    for sp in 0.5 0.8 0.95; do
      BSR_TILE_GROUP=$g timeout 100 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 20 --masks 3 > $OUT/bench_${sp}_g${g}_p$pass.txt 2>&1
      echo "== bench $sp G $g pass $pass rc $?"; grep -E "over 3 masks" $OUT/bench_${sp}_g${g}_p$pass.txt
      grep -E "^fc " $OUT/bench_${sp}_g${g}_p$pass.txt | awk '{printf "fc dX %s ", $20}'; grep -E "^fcproj " $OUT/bench_${sp}_g${g}_p$pass.txt | awk '{printf "| fcproj fwd %s ell %s ", $9, $12}'; echo
    done
  done
done
cd $OUT && tar czf run181.tgz *.txt && rm -f *.txt
