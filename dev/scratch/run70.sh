# A/B: e21279f (old) vs the crossover's DGELU epilogue + fc-emits-GELU when fcproj's forward is on cuBLAS (new)
timeout 300 ./build/test/test_bsr_kernels > $OUT/test.txt 2>&1; echo "test_bsr_kernels rc $?"; tail -n 1 $OUT/test.txt; grep -i "fail" $OUT/test.txt | head -5
timeout 300 ./build/test/test_gpt2 > $OUT/test_gpt2.txt 2>&1; echo "test_gpt2 rc $?"; tail -n 1 $OUT/test_gpt2.txt
D=.cache/smoke
med() { grep -E "^step +([6-9]|1[0-2])/" $1 | awk '{for(i=1;i<=NF;i++) if($i=="ms") print $(i-1)}' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for cfg in "12 64 unpruned" "24 32 unpruned" "24 32 0.5" "12 64 0.5"; do set -- $cfg
  if [ $3 = unpruned ]; then extra="--sparsity 0.9 --prune-start 1000000 --prune-end 1000000"; else extra="--sparsity $3 --prune-start 0 --prune-end 0"; fi
  for rep in 1 2; do for bin in build/old/train_gpt2cu_old ./train_gpt2cu; do
    timeout 120 $bin -e d$1 -i "$D/train_*.bin" -j "" -b $2 -t 1024 -x 12 -v 0 -s 0 -r 1 --block 64 --schedule oneshot $extra > $OUT/log.txt 2>&1
    echo "d$1 $3 rep $rep $(basename $bin): $(med $OUT/log.txt) ms $(grep -E '^step +12/' $OUT/log.txt | grep -o 'loss [0-9.]*')"
  done; done
  timeout 120 ./train_gpt2cu -e d$1 -i "$D/train_*.bin" -j "" -b $2 -t 1024 -x 12 -v 0 -s 0 -r 1 > $OUT/log.txt 2>&1; echo "d$1 dense: $(med $OUT/log.txt) ms $(grep -E '^step +12/' $OUT/log.txt | grep -o 'loss [0-9.]*')"
done
