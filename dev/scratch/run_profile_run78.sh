# session 7, run 78: where the unpruned sparse step (every block live, crossover paths) loses to the dense step, d12 B64
which nsys ncu
ARGS='-e d12 -i .cache/smoke/train_*.bin -j "" -b 64 -t 1024 -x 40 -v 0 -s 0 -r 1'
SP='--sparsity 0.9 --block 64 --schedule oneshot --prune-start 1000000 --prune-end 1000000'
if which nsys >/dev/null; then
  eval nsys profile -o $OUT/dense --delay 7 --duration 2 -t cuda -f true ./train_gpt2cu $ARGS > $OUT/dense_log.txt 2>&1
  eval nsys profile -o $OUT/unpruned --delay 7 --duration 2 -t cuda -f true ./train_gpt2cu $ARGS $SP > $OUT/unpruned_log.txt 2>&1
  for f in dense unpruned; do nsys stats --report cuda_gpu_kern_sum --format csv $OUT/$f.nsys-rep > $OUT/${f}_kern.csv 2>/dev/null; echo "$f: $(wc -l < $OUT/${f}_kern.csv) lines"; head -22 $OUT/${f}_kern.csv | cut -c1-220; done
  rm -f $OUT/*.nsys-rep $OUT/*.sqlite
fi
grep -E "^step +(20|30)/" $OUT/dense_log.txt $OUT/unpruned_log.txt | cut -c1-140
