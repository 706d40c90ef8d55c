# session 18, run 189: every forward / dX variant on the 7 draws at C 1600 0.9 (fc dX on draw 1 sits at
# 69% of the floor with the default 26: does another variant reach 70% there without losing elsewhere?)
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
timeout 400 ./build/dev/bench_bsr --C 1600 --bs 64 --sp 0.9 --masks 7 --variants --reps 20 --out $OUT/variants7_0.9_run189.txt > $OUT/stdout.txt 2>&1
echo "rc $?"
# the variant lines of a draw come before its table row
awk '/variant (26|27|28|30|31|32) /{printf "   v%s fwd %s dX %s\n", $2, $6, $8}
     /^(fc|fcproj) /{printf "%s above: default fwd %s (%s) dX %s (%s)\n", $1, $9, $16, $20, $23}' $OUT/variants7_0.9_run189.txt
