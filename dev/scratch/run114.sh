# session 9, run 114: why the pair dW (run 113) is 3.7x slower: -DPAIR_NO_SHARE (every pair local, no
# multicast, still a cluster launch), -DPAIR_LOCAL_ARRIVE (own stage released by a CTA-scope arrive,
# producer waits at CTA scope), both.
for v in "" _nosh _la _nosh_la; do
  echo "== ${v:-main}"
  timeout 120 ./build/dev/bench_bsr$v --C 1600 --bs 64 --sp 0.9 --variants --reps 10 2>&1 | grep -E "dW (single-5st|pairs) " | grep -E "splits +[14]:"
  timeout 120 ./build/dev/bench_bsr$v --C 768 --bs 64 --sp 0.9 --variants --reps 10 2>&1 | grep -E "dW (single-5st|pairs) " | grep -E "splits +[14]:" | head -4
done
