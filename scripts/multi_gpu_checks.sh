#!/usr/bin/env bash
# The multi-GPU checks of one node, in one go (2 to 8 GPUs): equivalence with gradient accumulation on one
# GPU, resume, ZeRO-1 against the whole optimizer state on every rank, weak scaling with all-reduce bytes
# (with and without ZeRO-1), a rank that dies, mismatched masks, and the single-node launch script as written. Each prints PASS/FAIL lines and a table; everything goes to RESULTS/.
#
#   make train_gpt2cu && make data
#   scripts/multi_gpu_checks.sh                         # every check, NP = all GPUs
#   CHECKS="equiv resume" NP=2 scripts/multi_gpu_checks.sh
#
# Env: NP (GPUs to use, default all, at least 2), DATA (shards, data/default), RESULTS (log_multi_gpu),
# CHECKS ("equiv resume zero scaling death mismatch launch"), EQ_TOL (largest |loss difference| accepted between
# 2 GPUs and 1 GPU x 2 micro-steps, 0.05), SCALE_STEPS (20), SCALE_CONFIGS ("24:16 48:8": depth:B per GPU).
# NVLink multicast stays off (NCCL_NVLS_ENABLE=0). Exit status: the number of FAIL lines.
#
# What each check does:
#   equiv    d12, B=8 per GPU, T=1024, 50 steps: `mpirun -np 2` with -d 16384 (one micro-step each) against one
#            GPU with -d 16384 (2 micro-steps of the same 16 sequences: the data split puts sample 2k on rank 0
#            and 2k+1 on rank 1, the order the single GPU reads them in); dense, and sparse 0.8 with mask
#            updates at steps 20 and 30; losses within EQ_TOL, the same prune events (sparsity and live
#            parameter count), and every update confirmed "masks identical on every rank".
#   resume   a sparse 2-GPU run as in equiv, with the kernel choices pinned (BSR_FORCE_PATH=rule,
#            --gemm-tune 0: a timed choice can differ between the two runs), checkpoints at 25 and 50,
#            resumed from 25 in a copy: steps 26-50 give the same losses and a byte-identical
#            model_00000050.bin.
#   zero     the resume check's uninterrupted run again with -z 1 (ZeRO-1: each rank keeps and updates its
#            shard of the fp32 masters and AdamW moments, the bf16 weights are all-gathered): the updates
#            round as without it, so losses must be identical and model_00000050.bin byte-identical to the
#            -z 0 run's (which the resume check writes; run it first), and the state files identical too.
#   scaling  tokens/s for 1, 2, 4, 8 GPUs (up to NP) per config, dense and sparse 0.9 (one-shot at step 0),
#            B per GPU fixed (weak scaling), with -z 0 and (from 2 GPUs) -z 1; efficiency = tok/s(n) /
#            (n tok/s(1)); all-reduce bytes per step = 2 bytes x live parameters (bf16 gradients; sparse
#            matrices send only live blocks); ZeRO-1 adds an all-gather of the same size.
#   death    2 processes through the shared-file rendezvous (-pi fs, no mpirun), checkpoints every 5 steps;
#            rank 1 is killed with SIGKILL after step 12: rank 0 must exit non-zero within --dist-timeout
#            (30 s) + 60 s, and the newest complete checkpoint must still load (a 1-step resume from it).
#   mismatch `mpirun -np 2` with TRAIN_GPT2_TEST_MASK_MISMATCH_RANK=1 (that rank's mask checksum is altered at
#            its first mask update): the run must stop with "differs across ranks", checkpoints before it kept.
#   launch   scripts/run_multi_gpu.sh as written, with STEPS=40.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
NP=${NP:-$(nvidia-smi -L | wc -l)}
DATA=${DATA:-data/default}
RES=${RESULTS:-log_multi_gpu}
CHECKS=${CHECKS:-"equiv resume zero scaling death mismatch launch"}
EQ_TOL=${EQ_TOL:-0.05}
SCALE_STEPS=${SCALE_STEPS:-20}
SCALE_CONFIGS=${SCALE_CONFIGS:-"24:16 48:8"}
export NCCL_NVLS_ENABLE=0
MPI=(mpirun --allow-run-as-root --bind-to none -x NCCL_NVLS_ENABLE)
[ -x ./train_gpt2cu ] || { echo "error: ./train_gpt2cu not built (make train_gpt2cu)"; exit 1; }
ls "$DATA"/train_*.bin >/dev/null 2>&1 || { echo "error: no shards in $DATA (make data, or DATA=dir)"; exit 1; }
[ "$NP" -ge 2 ] || { echo "error: NP=$NP: these checks need at least 2 GPUs"; exit 1; }
mkdir -p "$RES"
FAILS=0
verdict() { # name ok(0/1) detail
    if [ "$2" = 1 ]; then echo "PASS $1: $3"; else echo "FAIL $1: $3"; FAILS=$((FAILS + 1)); fi
    echo "$([ "$2" = 1 ] && echo PASS || echo FAIL) $1: $3" >> "$RES/verdicts.txt"
}
TRAIN=(./train_gpt2cu -i "$DATA/train_*.bin" -j "" -t 1024 -v 0 -s 0 -r 1)
SPARSE_ARGS="--sparsity 0.8 --block 64 --schedule cubic --prune-start 10 --prune-end 30 --prune-every 10"

# losses of a main.log as "step loss" lines (the last value per step: a resumed log repeats steps)
losses() { awk '{ split($1, a, ":"); if ($2 ~ /^trl:/) { split($2, b, ":"); v[a[2]] = b[2] } }
               END { for (s in v) print s, v[s] }' "$1" | sort -n; }
events() { grep "event:prune" "$1" | sed 's/^s://' ; }
compare_losses() { # log1 log2 tol from to -> "maxdiff ok"
    awk -v t="$3" -v a="$4" -v b="$5" 'NR == FNR { v[$1] = $2; next }
        ($1 in v) && $1 >= a && $1 <= b { d = v[$1] - $2; if (d < 0) d = -d; if (d > m) m = d; n++ }
        END { printf "%.6f %d %d\n", m, n, (n > 0 && m <= t) }' <(losses "$1") <(losses "$2")
}

for check in $CHECKS; do
case $check in
equiv)
    for kind in dense sparse; do
        args=""; [ $kind = sparse ] && args="$SPARSE_ARGS -n 25"  # its checkpoints serve the resume check
        d1="$RES/equiv_${kind}_1gpu"; d2="$RES/equiv_${kind}_2gpu"; rm -rf "$d1" "$d2"
        # shellcheck disable=SC2086  # $args: several words
        "${TRAIN[@]}" -e d12 -b 8 -d 16384 -x 50 -o "$d1" $args > "$d1.log" 2>&1
        "${MPI[@]}" -np 2 "${TRAIN[@]}" -e d12 -b 8 -d 16384 -x 50 -o "$d2" $args > "$d2.log" 2>&1
        read -r m n ok < <(compare_losses "$d1/main.log" "$d2/main.log" "$EQ_TOL" 1 50)
        verdict "equiv $kind: 2 GPUs x B=8 vs 1 GPU x 2 micro-steps" "$ok" "max |loss diff| $m over $n steps (tol $EQ_TOL)"
        if [ $kind = sparse ]; then
            e1=$(events "$d1/main.log" | md5sum); e2=$(events "$d2/main.log" | md5sum)
            ne=$(events "$d2/main.log" | wc -l); nid=$(grep -c "masks identical on every rank" "$d2.log")
            verdict "equiv sparse: prune events" "$([ "$e1" = "$e2" ] && [ "$ne" -ge 2 ] && [ "$nid" = "$ne" ] && echo 1 || echo 0)" \
                "$ne events, same sparsity and live parameters on 1 and 2 GPUs: $([ "$e1" = "$e2" ] && echo yes || echo no); masks identical on every rank at $nid of them"
        fi
    done ;;
resume)
    # the uninterrupted run, then its copy resumed from step 25; kernel choices by rule in both
    full="$RES/resume_full"; part="$RES/resume_part"; rm -rf "$full" "$part"
    export BSR_FORCE_PATH=rule
    PIN=(-x BSR_FORCE_PATH)
    "${MPI[@]}" "${PIN[@]}" -np 2 "${TRAIN[@]}" --gemm-tune 0 -e d12 -b 8 -d 16384 -x 50 -n 25 -o "$full" $SPARSE_ARGS \
        > "$full.log" 2>&1
    cp -r "$full" "$part"
    rm -f "$part"/*00000050*
    "${MPI[@]}" "${PIN[@]}" -np 2 "${TRAIN[@]}" --gemm-tune 0 -e d12 -b 8 -d 16384 -x 50 -n 25 -o "$part" -y 1 \
        $SPARSE_ARGS > "$part.log" 2>&1
    unset BSR_FORCE_PATH
    read -r m n ok < <(compare_losses "$full/main.log" "$part/main.log" 0 26 50)
    same=$(cmp -s "$full/model_00000050.bin" "$part/model_00000050.bin" && echo 1 || echo 0)
    verdict "resume (2 GPUs, sparse, from step 25)" "$([ "$ok" = 1 ] && [ "$n" = 25 ] && [ "$same" = 1 ] && echo 1 || echo 0)" \
        "steps 26-50: max |loss diff| $m over $n steps; model_00000050.bin identical: $([ "$same" = 1 ] && echo yes || echo no)"
    ;;
zero)
    # the resume check's uninterrupted run with -z 1 (same pinned kernel choices)
    full="$RES/resume_full"; z="$RES/zero_full"; rm -rf "$z"
    [ -f "$full/model_00000050.bin" ] || { verdict "zero: needs the resume check's run first" 0 "no $full/model_00000050.bin"; continue; }
    export BSR_FORCE_PATH=rule
    "${MPI[@]}" -x BSR_FORCE_PATH -np 2 "${TRAIN[@]}" --gemm-tune 0 -z 1 -e d12 -b 8 -d 16384 -x 50 -n 25 -o "$z" $SPARSE_ARGS \
        > "$z.log" 2>&1
    unset BSR_FORCE_PATH
    read -r m n ok < <(compare_losses "$full/main.log" "$z/main.log" 0 1 50)
    same=$(cmp -s "$full/model_00000050.bin" "$z/model_00000050.bin" && echo 1 || echo 0)
    states=1; for f in "$full"/state_00000050_*.bin; do cmp -s "$f" "$z/$(basename "$f")" || states=0; done
    verdict "zero: 2 GPUs, -z 1 against -z 0 (sparse, 50 steps)" "$([ "$ok" = 1 ] && [ "$n" = 50 ] && [ "$same" = 1 ] && [ "$states" = 1 ] && echo 1 || echo 0)" \
        "max |loss diff| $m over $n steps; model_00000050.bin identical: $([ "$same" = 1 ] && echo yes || echo no); state files identical: $([ "$states" = 1 ] && echo yes || echo no); $(grep -m1 "^ZeRO-1" "$z.log")"
    ;;
scaling)
    table="$RES/scaling.md"
    echo "| model | B/GPU | sparsity | ZeRO | GPUs | step ms | tokens/s | efficiency | all-reduce MB/step |" > "$table"
    echo "|---|---|---|---|---|---|---|---|---|" >> "$table"
    measured=1
    for cfg in $SCALE_CONFIGS; do
        dd=${cfg%%:*}; b=${cfg##*:}
        for sp in 0 0.9; do
            base=""
            for run in 1:0 2:0 2:1 4:0 4:1 8:0 8:1; do
                n=${run%%:*}; zs=${run##*:}
                [ "$n" -le "$NP" ] || continue
                log="$RES/scale_d${dd}_s${sp}_n${n}_z${zs}.log"
                args=""; [ "$sp" != 0 ] && args="--sparsity $sp --block 64 --schedule oneshot --prune-start 0 --prune-end 0"
                "${MPI[@]}" -np "$n" "${TRAIN[@]}" -z "$zs" -e "d$dd" -b "$b" -d $((n * b * 1024)) -x "$SCALE_STEPS" -o "" $args > "$log" 2>&1
                ms=$(grep -E "^step +[0-9]+/" "$log" | awk -v n="$SCALE_STEPS" '{ for (i=1;i<=NF;i++) if ($i=="ms") ms=$(i-1); k++; if (k > n/2) print ms }' \
                     | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
                params=$(grep -oE "params [0-9]+" "$log" | tail -1 | grep -oE "[0-9]+")
                [ -n "$params" ] || params=$(grep -oE "[0-9]+ parameters" "$log" | head -1 | grep -oE "[0-9]+")
                [ -n "$ms" ] || measured=0
                tok=$(awk -v ms="${ms:-0}" -v t=$((n * b * 1024)) 'BEGIN { if (ms > 0) printf "%.0f", t / (ms / 1000); else print 0 }')
                [ -z "$base" ] && base=$tok
                eff=$(awk -v a="$tok" -v b="$base" -v n="$n" 'BEGIN { if (b > 0) printf "%.3f", a / (n * b); else print "-" }')
                mb=$(awk -v p="${params:-0}" -v n="$n" 'BEGIN { if (n > 1) printf "%.1f", 2 * p / 1e6; else print "-" }')
                echo "| d$dd | $b | $sp | $zs | $n | ${ms:-?} | $tok | $eff | $mb |" >> "$table"
            done
        done
    done
    cat "$table"
    verdict "scaling table" "$measured" "$table (every run timed: $([ "$measured" = 1 ] && echo yes || echo no))" ;;
death)
    dir="$RES/death"; fsd="$RES/death_rendezvous"; rm -rf "$dir" "$fsd"; mkdir -p "$fsd"
    for r in 0 1; do
        "${TRAIN[@]}" -e d12 -b 8 -x 400 -n 5 -o "$dir" -pi fs -pf "$fsd" -pn 2 -pr $r -pg "$NP" --dist-timeout 30 \
            > "$dir.rank$r.log" 2>&1 &
        pids[r]=$!   # a simple command in the background: $! is the trainer itself
    done
    for _ in $(seq 1 600); do grep -qE "^step +1[2-9]/" "$dir.rank0.log" 2>/dev/null && break; sleep 0.5; done
    kill -9 "${pids[1]}"; t0=$(date +%s)
    wait "${pids[0]}"; rc0=$?; t1=$(date +%s)
    last=$(ls "$dir"/DONE_* 2>/dev/null | sort | tail -1)
    verdict "death: rank 1 killed after step 12" "$([ "$rc0" != 0 ] && [ $((t1 - t0)) -le 90 ] && echo 1 || echo 0)" \
        "rank 0 exited with $rc0 after $((t1 - t0)) s: $(grep -E "error|another rank" "$dir.rank0.log" | head -2 | tr '\n' ' ')"
    # the newest complete checkpoint still loads: one more step from it on a single GPU
    step=${last##*DONE_}
    if [ -n "$last" ]; then
        "${TRAIN[@]}" -e "$dir/model_${step}.bin" -b 8 -x 1 -o "" > "$dir.reload.log" 2>&1
        verdict "death: newest complete checkpoint ($last) loads" "$([ $? = 0 ] && echo 1 || echo 0)" "$(tail -1 "$dir.reload.log")"
    else
        verdict "death: a complete checkpoint exists" 0 "no DONE_* in $dir"
    fi ;;
mismatch)
    dir="$RES/mismatch"; rm -rf "$dir"
    # mpirun -x forwards the variable; the trainer alters that rank's checksum (see train_gpt2.cu)
    "${MPI[@]}" -np 2 -x TRAIN_GPT2_TEST_MASK_MISMATCH_RANK=1 "${TRAIN[@]}" -e d12 -b 8 -x 50 -n 5 -o "$dir" $SPARSE_ARGS \
        > "$dir.log" 2>&1 < /dev/null
    rc=$?
    msg=$(grep -m1 "differs across ranks" "$dir.log")
    kept=$(ls "$dir"/DONE_* 2>/dev/null | wc -l)
    verdict "mismatch: altered mask checksum on rank 1" "$([ "$rc" != 0 ] && [ -n "$msg" ] && [ "$kept" -ge 1 ] && echo 1 || echo 0)" \
        "exit $rc; \"$msg\"; $kept complete checkpoint(s) kept"
    ;;
launch)
    out="$RES/launch"; rm -rf "$out"
    NP=$NP STEPS=40 OUT="$out" DATA="$DATA" MAX_ATTEMPTS=1 scripts/run_multi_gpu.sh > "$out.log" 2>&1
    rc=$?
    verdict "launch: scripts/run_multi_gpu.sh (NP=$NP, STEPS=40)" "$([ $rc = 0 ] && [ -f "$out/DONE_00000040" ] && echo 1 || echo 0)" \
        "exit $rc; $(grep -E "^done:" "$out.log" | tail -1)"
    ;;
*) echo "error: unknown check '$check' (equiv resume zero scaling death mismatch launch)"; exit 1 ;;
esac
done
echo "multi_gpu_checks: $FAILS failure(s); verdicts in $RES/verdicts.txt"
exit "$FAILS"
