# session 11, run 148: block-128 input gradient of the fc layer 9-15% slower since run 140 (runs 140, 143, 146 vs 120):
# af13353 (build/old) vs 3227e96+ (build/mid, launch bounds 4 on every BM 128 instance) vs launch bounds only on the
# GELU_A / 1-stage DG instances (build/dev), alternated twice
for rep in 1 2; do for b in old mid dev; do for a in "1280 --sp 0.9" "1280 --sp 0.95" "1024 --sp 0.9" "768 --sp 0.95"; do
  echo "== $b C$a"; ./build/$b/bench_bsr --C $a --bs 128 --reps 20 2>&1 | grep -E "^fc" | cut -c1-160; done; done; done
