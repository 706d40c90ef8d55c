D=.cache/smoke
med() { grep -E "^step +([6-9]|1[0-2])/" $1 | awk '{for(i=1;i<=NF;i++) if($i=="ms") print $(i-1)}' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for cfg in "12 64 0.5" "24 32 0.5" "24 32 0.95" "24 32 0.9"; do set -- $cfg
  for rep in 1 2; do for bin in build/old/train_gpt2cu_old ./train_gpt2cu; do
    BSR_VERBOSE=1 timeout 120 $bin -e d$1 -i "$D/train_*.bin" -j "" -b $2 -t 1024 -x 12 -v 0 -s 0 -r 1 --sparsity $3 --block 64 --schedule oneshot --prune-start 0 --prune-end 0 > $OUT/log_$1_$3_$(basename $bin)_$rep.txt 2>&1
    echo "d$1 sp $3 rep $rep $(basename $bin): $(med $OUT/log_$1_$3_$(basename $bin)_$rep.txt) ms"
  done; done
done
