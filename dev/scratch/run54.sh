for sp in 0 0.5 0.7 0.8; do
  timeout 150 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --variants --reps 10 > $OUT/var_$sp.txt 2>&1
  grep -E "^fc|col-n256.*splits +[1-4]:" $OUT/var_$sp.txt | awk '{printf "%s | ", $0; if ($0 ~ /^fc/) print ""}' | sed 's/  */ /g;s/ us//g;s/ dW / /g' | sed 's/| fc.*//'; echo
done
