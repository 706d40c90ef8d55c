# session 9, run 118: pair dW stage count 4 / 5 / 6 (_p4 _p5 _p6) at C 768-1600, 0.9 and 0.95,
# splits 1-2, beside single-5st and the default
for C in 1600 1280 1024 768; do for sp in 0.9 0.95; do
  echo "== C $C sp $sp"
  for v in _p4 _p5 _p6; do
    echo "-- $v"; timeout 120 ./build/dev/bench_bsr$v --C $C --bs 64 --sp $sp --variants --reps 20 2>&1 | grep -E "dW (default|single-5st|pairs) " | grep -E "splits +[12]:" | paste -sd' ' | sed 's/  */ /g'
  done
done; done
