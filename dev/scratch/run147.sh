# session 11, run 147: prefetch distance with the 2-stage short-list default (P 2-5; rule = 3), twice
for rep in 1 2; do for a in "1600 --sp 0.9 --reps 30" "1024 --sp 0.9 --reps 20" "768 --N 65536 --sp 0.9 --reps 20"; do for P in 2 3 4 5; do
  echo "== C$a P $P"; ./build/dev/bench_bsr --C $a --bs 64 --l2-prefetch $P 2>&1 | grep -E "^fc" | cut -c1-150; done; done; done
