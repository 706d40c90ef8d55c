# session 14, run 170: cross pairs for the paired weight gradient (odd blocks of two lines paired where
# they meet in a line of the other direction; pair count <= SMs on every C 1600 0.9 mask). Tests, then
# A/B against build/probe/bench_old (c186f8f's bsr_dw.cu / bsr_layout_gpu.cu linked with the same other
# objects), C 1600 bs 64 0.9 over 7 mask draws, alternated.
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test_bsr_kernels rc $?"; tail -1 $OUT/test_bsr_kernels.txt
grep -E "dW pairs" $OUT/test_bsr_kernels.txt | sort | uniq -c | sort -rn | head -8
for rep in 1 2; do for b in old new; do
  bin=./build/dev/bench_bsr; [ $b = old ] && bin=./build/probe/bench_old
  echo "== $b"; $bin --C 1600 --bs 64 --sp 0.9 --reps 20 --masks 7 2>&1 | grep -E "^fc" | cut -c1-60,150-240
done; done
