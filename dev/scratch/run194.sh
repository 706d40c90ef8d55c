# session 21, run 194 (written, not run: no machine could be started in sessions 21 and 22). First
# `bash dev/scratch/prep_run194.sh` here (applies dev/scratch/deep_a_run194.patch, builds, packs the
# binaries), then carry build/run194_bins.tar.gz and .cache/smoke (timeout ~560 s). Variants against 32: 33 gives the activation tiles a 3-slot ring beside
# the 2-slot weight ring (2 CTAs per SM in 228 KB); 34 walks each list from a start spread by its
# line's place, so that the CTAs of a token tile do not all read one activation tile at once;
# 35 is 33 with 34's walk. Correctness (the variant pass of test_bsr_kernels runs 33-35), then every variant at C 1600
# 0.5 / 0.8 on 2 draws, then 7 draws at 0.5 and 0.8 with 33-35 among the crossover's candidates.
tar xzf build/run194_bins.tar.gz || { echo "build/run194_bins.tar.gz missing: run dev/scratch/prep_run194.sh first"; exit 1; }
nvidia-smi --query-gpu=name,clocks.sm,temperature.gpu --format=csv,noheader
SECONDS=0
# correctness first (session 24: the checks of sessions 22-24's code come before the timings)
timeout 150 ./build/test/test_bsr_kernels --quick > $OUT/test.txt 2>&1; echo "test rc $? at $SECONDS s"; tail -1 $OUT/test.txt
grep FAIL $OUT/test.txt | head -8
# session 22's trainer refactor (b369529: main split into setup_run / train_step / report_step ...,
# code moved, not changed): the trainer before and after it, kernel choices pinned, must print the same
# losses, validation losses, prune events and samples; then a resume from the step-4 checkpoint must
# replay steps 5-8 of the uninterrupted run.
D=.cache/smoke
targs=(-e d12 -i "$D/train_*.bin" -j "$D/val_*.bin" -b 16 -t 1024 -x 8 -v 4 -m 2 -s 4 -g 16 --gemm-tune 0
       --sparsity 0.9 --prune-start 2 --prune-end 6 --prune-every 2 -n 4)
strip() { grep -vE "^(device|model|attention|done|  m=|matmul)" "$1" | sed -E 's/ \| [0-9.]+ ms \|.*//; s#/tmp/ck_[a-z0-9_]+#/tmp/ck#' | tr -s ' '; }
for v in pre_b369529 new; do
  bin=./train_gpt2cu; [ $v = new ] || bin=build/old/train_gpt2cu_$v
  BSR_FORCE_PATH=rule timeout 120 $bin "${targs[@]}" -o /tmp/ck_$v > $OUT/trainer_$v.txt 2>&1; echo "trainer $v rc $? at $SECONDS s"
done
grep -E "^step +8/8" $OUT/trainer_new.txt
diff <(strip $OUT/trainer_pre_b369529.txt) <(strip $OUT/trainer_new.txt) > /tmp/trainer_diff.txt && echo "trainer: same output before and after b369529" || head -20 /tmp/trainer_diff.txt
rm -f /tmp/ck_new/DONE_00000008 /tmp/ck_new/model_00000008.bin /tmp/ck_new/state_00000008_*.bin
BSR_FORCE_PATH=rule timeout 120 ./train_gpt2cu "${targs[@]}" -o /tmp/ck_new -y 1 > $OUT/trainer_resume.txt 2>&1; echo "resume rc $?"
diff <(strip $OUT/trainer_new.txt | grep -E "^step +[5-8]/8") <(strip $OUT/trainer_resume.txt | grep -E "^step +[5-8]/8") && echo "resume: steps 5-8 identical"
# session 23: ZeRO-1 on one process (one shard) must print what -z 0 printed, and its checkpoint files
# must be byte-identical (test_gpt2 below checks the same inside one process)
BSR_FORCE_PATH=rule timeout 120 ./train_gpt2cu "${targs[@]}" -z 1 -o /tmp/ck_zero > $OUT/trainer_zero.txt 2>&1; echo "zero rc $?"
diff <(strip $OUT/trainer_new.txt | grep -viE "^ZeRO-1|zero") <(strip $OUT/trainer_zero.txt | grep -viE "^ZeRO-1|zero") > /tmp/zero_diff.txt && echo "zero: same output as -z 0" || head -20 /tmp/zero_diff.txt
grep "^ZeRO-1" $OUT/trainer_zero.txt
for f in model_00000004.bin state_00000004_00000.bin; do cmp /tmp/ck_new/$f /tmp/ck_zero/$f && echo "zero: $f identical"; done
# session 23: layers/ and sparse/ share one cuBLASLt GEMM (core/lt_gemm.cu, replacing lt_tune.cu and
# the crossover's own copy): the dense layers' tests (the timed algorithm choice included) and the
# whole model against the CPU
for t in test_layers test_gpt2; do
  timeout 200 ./build/test/$t > $OUT/$t.txt 2>&1; echo "$t rc $? at $SECONDS s"; tail -n 1 $OUT/$t.txt; grep -i "fail" $OUT/$t.txt | head -5
done
# then the timings: every variant at C 1600 0.5 / 0.8 on 2 draws, and the 7-draw tables while time is left
if grep -q " 0 failed" $OUT/test.txt && [ $SECONDS -lt "${TIMINGS_UNTIL:-400}" ]; then  # TIMINGS_UNTIL=0: checks only
  for sp in 0.5 0.8; do
    timeout 90 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --variants --reps 20 --masks 2 --out $OUT/var_$sp.txt > /dev/null 2>&1
    echo "sp $sp rc $? at $SECONDS s"
    grep -E "^(fc|fcproj) |variant (26|32|33|34|35) " $OUT/var_$sp.txt | cut -c1-60
    grep -E "over 2 masks:" $OUT/var_$sp.txt | cut -c1-200
  done
  # the 7-draw tables with 33-35 among the crossover's candidates (the default kernel stays the rule's)
  for sp in 0.5 0.8; do
    [ $SECONDS -lt 430 ] || { echo "masks7 $sp skipped: $SECONDS s used"; continue; }
    timeout 100 ./build/dev/bench_bsr --C 1600 --bs 64 --sp $sp --masks 7 --reps 20 --out $OUT/masks7_$sp.txt > /dev/null 2>&1
    echo "masks7 $sp rc $? at $SECONDS s"
    grep -E "over 7 masks:" $OUT/masks7_$sp.txt | cut -c1-260
  done
fi
