#!/bin/bash
# build_variant.sh SUFFIX "DEFINES": build/dev/bench_bsr_SUFFIX, build/test/test_bsr_kernels_SUFFIX and
# build/dev/timeline_SUFFIX with extra -D flags on sparse/bsr_kernels.cu (the session-8 experiments:
# BSR_TMA_LEAN_CTAS, BSR_EPI_DIRECT, BSR_PROBE_*, BSR_SK_* lived in reverted commits; see NOTES_runs
# 91-103). Needs `make build/dev/bench_bsr` first (the other CUDA objects).
set -e
cd "$(dirname "$0")/../.."
SUF=$1; DEFS=$2
F="-O3 --use_fast_math -std=c++17 -gencode arch=compute_90a,code=sm_90a -lineinfo -D_POSIX_C_SOURCE=200809L --expt-relaxed-constexpr"
nvcc $F $DEFS -I. -c sparse/bsr_kernels.cu -o /tmp/bk_$SUF.o 2>&1 | grep -v C7512 || true
OBJS=$(ls build/cu/*/*.o | grep -v bsr_kernels.o)
MPI="-L/usr/local/cuda/lib -lnccl -L/usr/lib/x86_64-linux-gnu/openmpi/lib -lmpi"
L="build/libhost_f32.a -lcublas -lcublasLt -lcudnn -lcusparse -lgomp -lm $MPI"
nvcc $F -Xcompiler -fopenmp dev/bench_bsr.cu $OBJS /tmp/bk_$SUF.o $L -o build/dev/bench_bsr_$SUF &
nvcc $F -Xcompiler -fopenmp test/test_bsr_kernels.cu $OBJS /tmp/bk_$SUF.o $L -o build/test/test_bsr_kernels_$SUF &
wait
nvcc $F $DEFS -DBSR_TIMELINE -I. dev/scratch/timeline.cu core/lt_tune.cu build/libhost_f32.a -lcublas -lcublasLt -lcuda -lgomp -lm -o build/dev/timeline_$SUF 2>&1 | grep -v C7512 || true
ls -la build/dev/*_$SUF build/test/*_$SUF
