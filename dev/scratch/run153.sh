# session 12, run 153: every forward / input-gradient variant at C 1600 bs 64 (is the rule's pick still
# the fastest at 0.5-0.95?)
for sp in 0.5 0.7 0.8 0.9 0.95; do echo "== C1600 $sp"; ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --reps 20 --variants 2>&1 | grep -E "^fc|variant (0|5|11|2[6-9]|3[0-2]) " | cut -c1-200; done
