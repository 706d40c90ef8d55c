# session 9, run 115: pair dW with the remote arrive at the default (CTA) semantics instead of
# release.cluster: _pcl (all arrives through mapa, producer waits acquire.cluster), _pla (own stage
# by a local arrive, producer waits at CTA scope)
for v in _pcl _pla; do
  echo "== $v"
  for sp in 0.9 0.8; do timeout 120 ./build/dev/bench_bsr$v --C 1600 --bs 64 --sp $sp --variants --reps 20 2>&1 | grep -E "dW (single-5st|pairs|default) " | grep -E "splits +[123]:"; done
  timeout 120 ./build/dev/bench_bsr$v --C 768 --bs 64 --sp 0.9 --variants --reps 10 2>&1 | grep -E "dW (single-5st|pairs) " | grep -E "splits +[14]:" | head -4
done
