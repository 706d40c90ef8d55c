# session 7, runs 85 and 87: persistent paired forward / dX kernel (variants 42 / 43 = 3 / 2 stages), tests and sweeps
timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test rc $?"; tail -1 $OUT/test_bsr_kernels.txt; grep FAIL $OUT/test_bsr_kernels.txt | head -5
for args in "--C 1600 --sp 0.5" "--C 1600 --sp 0.7" "--C 1600 --sp 0.8" "--C 1600 --sp 0.9" "--C 1600 --sp 0.5 --N 32768" "--C 1600 --sp 0.7 --N 32768" "--C 768 --sp 0.5 --N 65536" "--C 1024 --sp 0.5 --N 32768"; do
  timeout 120 ./build/dev/bench_bsr --bs 64 $args --variants --reps 10 > "$OUT/var_$(echo $args | tr ' ' '_').txt" 2>&1
  echo "$args: $(grep -E 'variant (26|28|32|42|43) ' "$OUT/var_$(echo $args | tr ' ' '_').txt" | awk '{printf "v%s %s/%s ", $2, $6, $8}')"
done
