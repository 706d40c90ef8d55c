# session 8, run 100: GPU trainer resume, d12 B 8 T 512, 24 steps, prune 0.8 at steps 4/8/12/16 (cubic),
# checkpoints every 8 steps; the copy of the run resumed from step 8 must write the same model_24 bytes.
# Twice: kernel choices by rule (BSR_FORCE_PATH=rule, --gemm-tune 0), and measured (the defaults).
# Then test_gpt2 (resume with pinned choices) and test_bsr_kernels. Outputs under $OUT.
./build/test/test_gpt2 > $OUT/test_gpt2.txt 2>&1; echo "test_gpt2 rc $?"; grep -E "resume|FAIL|FAILURES|passed" $OUT/test_gpt2.txt | tail -4
./build/test/test_bsr_kernels > $OUT/test_bsr_kernels.txt 2>&1; echo "test_bsr_kernels rc $?"; tail -1 $OUT/test_bsr_kernels.txt
T=(./train_gpt2cu -e d12 -i ".cache/smoke/train_*.bin" -j "" -b 8 -t 512 -x 24 -v 0 -s 0 -n 8 --sparsity 0.8 --block 64 --schedule cubic --prune-start 4 --prune-end 16 --prune-every 4)
for mode in rule measured; do
  d=/tmp/res_$mode; rm -rf $d ${d}_part
  if [ $mode = rule ]; then export BSR_FORCE_PATH=rule; X=(--gemm-tune 0); else unset BSR_FORCE_PATH; X=(); fi
  "${T[@]}" "${X[@]}" -o $d > $OUT/full_$mode.log 2>&1 || { echo "full $mode failed"; tail -5 $OUT/full_$mode.log; }
  cp -r $d ${d}_part; rm -f ${d}_part/*00000016* ${d}_part/*00000024*
  "${T[@]}" "${X[@]}" -o ${d}_part -y 1 > $OUT/part_$mode.log 2>&1 || { echo "part $mode failed"; tail -5 $OUT/part_$mode.log; }
  echo "$mode: model_24 identical: $(cmp -s $d/model_00000024.bin ${d}_part/model_00000024.bin && echo yes || echo no)"
  grep -E "^step +2[0-4]/" $OUT/full_$mode.log | tail -2; grep -E "^step +2[0-4]/" $OUT/part_$mode.log | tail -2
done
unset BSR_FORCE_PATH
