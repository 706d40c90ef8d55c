# session 11, run 144: with the L2 prefetch, 2 stages (26) against 1 stage (28, the short-list default) for the
# forward / dX: --variants at short-list shapes, twice
for rep in 1 2; do for a in "1600 --sp 0.9" "1600 --sp 0.95" "1024 --sp 0.9" "1024 --sp 0.95" "768 --sp 0.9" "768 --N 65536 --sp 0.9" "1280 --sp 0.9"; do
  echo "== C$a"; ./build/dev/bench_bsr --C $a --bs 64 --reps 20 --variants 2>&1 | grep -E "^fc|variant (26|27|28) |variant -1 \(dW 10" | cut -c1-60
done; done
