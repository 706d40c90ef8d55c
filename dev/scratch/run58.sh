for a in "768 65536" "1024 32768" "1600 16384"; do for sp in 0.5 0.7 0.9; do set -- $a
  echo "== C $1 N $2 sp $sp"; timeout 100 ./build/dev/bench_bsr_fused --C $1 --N $2 --sp $sp --reps 10 > $OUT/fused_$1_$sp.txt 2>&1
  grep -E "^dW|INVALID" $OUT/fused_$1_$sp.txt | grep -E "kept in|default  |fused, |INVALID"
done; done
