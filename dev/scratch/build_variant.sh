#!/bin/bash
# build_variant.sh SUFFIX "DEFINES": build/dev/bench_bsr_SUFFIX, build/test/test_bsr_kernels_SUFFIX and
# build/dev/timeline_SUFFIX with extra -D flags on the sparse/ kernel files (the session-8 experiments:
# BSR_TMA_LEAN_CTAS, BSR_EPI_DIRECT, BSR_PROBE_*, BSR_SK_* lived in reverted commits; see NOTES_runs
# 91-103). Needs `make build/dev/bench_bsr` first (the other CUDA objects).
set -e
cd "$(dirname "$0")/../.."
SUF=$1; DEFS=$2
F="-O3 --use_fast_math -std=c++17 -gencode arch=compute_90a,code=sm_90a -lineinfo -D_POSIX_C_SOURCE=200809L --expt-relaxed-constexpr"
KOBJS=""
for k in bsr_common bsr_spmm bsr_dw bsr_layout_gpu bsr_crossover; do
    nvcc $F $DEFS -I. -c sparse/$k.cu -o /tmp/bk_${k}_$SUF.o 2>&1 | grep -v C7512 || true
    KOBJS="$KOBJS /tmp/bk_${k}_$SUF.o"
done
OBJS=$(ls build/cu/*/*.o | grep -v -E "bsr_(kernels|common|spmm|dw|layout_gpu|crossover).o")
MPI="-L/usr/local/cuda/lib -lnccl -L/usr/lib/x86_64-linux-gnu/openmpi/lib -lmpi"
L="build/libhost_f32.a -lcublas -lcublasLt -lcudnn -lcusparse -lgomp -lm $MPI"
nvcc $F -Xcompiler -fopenmp dev/bench_bsr.cu $OBJS $KOBJS $L -o build/dev/bench_bsr_$SUF &
nvcc $F -Xcompiler -fopenmp test/test_bsr_kernels.cu $OBJS $KOBJS $L -o build/test/test_bsr_kernels_$SUF &
wait
nvcc $F $DEFS -DBSR_TIMELINE -I. dev/scratch/timeline.cu core/lt_gemm.cu core/gpu_timing.cu build/libhost_f32.a -lcublas -lcublasLt -lcuda -lgomp -lm -o build/dev/timeline_$SUF 2>&1 | grep -v C7512 || true
ls -la build/dev/*_$SUF build/test/*_$SUF
