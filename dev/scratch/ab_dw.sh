# Sourced by the stream-K dW A/B scripts (run95.sh, run103.sh): test_bsr_kernels first, then
# ab BINARY LABEL SPARSITY [C]: one bench_bsr run (C 1600 unless given), a line of its dW times and
# cuBLAS's, speedup and % of floor per layer. Run on the device: outputs under $OUT.
timeout 300 ./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test rc $?"; grep -E "FAIL" $OUT/test_bsr_kernels.txt | head -8; tail -1 $OUT/test_bsr_kernels.txt
ab() {
  timeout 60 $1 --C ${4:-1600} --bs 64 --sp $3 --reps 30 2>&1 | grep -E '^(fc|fcproj) ' | awk -F'|' -v l="$2 $3" '{split($4,w," "); printf "%s %s dW %s cuBLAS %s %s %s; ", l, $1, w[2], w[3], w[4], w[5]} END {print ""}'
}
