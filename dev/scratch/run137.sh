# session 11, run 137: step time at 0.9 / 0.95, this commit's trainer vs the previous commit's (build/old), alternated
for rep in 1 2; do
  echo "== new"; DATA=.cache/smoke STEPS=12 SPARSITIES="0.9 0.95" DENSE_START=0 scripts/bench_sparse_step.sh 2>&1
  cp train_gpt2cu /tmp/new_train_gpt2cu; cp build/old/train_gpt2cu train_gpt2cu
  echo "== old"; DATA=.cache/smoke STEPS=12 SPARSITIES="0.9 0.95" DENSE_START=0 scripts/bench_sparse_step.sh 2>&1
  cp /tmp/new_train_gpt2cu train_gpt2cu
done
