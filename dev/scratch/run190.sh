# session 18, run 190: the forward's 4-7-step lists below density 0.15 on 3 stages (27) by rule.
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
timeout 90 ./build/test/test_bsr_kernels --quick > $OUT/test.txt 2>&1; echo "test rc $?"; tail -1 $OUT/test.txt
timeout 200 ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.95 --masks 7 --reps 20 --out $OUT/c1600_0.95_masks7_run190.txt > /dev/null 2>&1
echo "c1600 0.95 7 draws rc $?"; grep "over 7" $OUT/c1600_0.95_masks7_run190.txt
for cfg in "1280 0.95" "1024 0.9" "768 0.9"; do
  set -- $cfg
  timeout 200 ./build/dev/bench_bsr --C $1 --bs 64 --sp $2 --masks 3 --reps 20 --variants --out $OUT/variants3_$1_$2_run190.txt > /dev/null 2>&1
  echo "C $1 sp $2 rc $?"
  awk '/variant (26|27) /{v[$2]=$6} /^fcproj /{printf "  fcproj fwd default %s | 26 %s 27 %s | ELL %s %s\n", $9, v[26], v[27], $12, $13}' $OUT/variants3_$1_$2_run190.txt
done
# (run 189, the 0.9 sweep, left out: the device budget was short)
