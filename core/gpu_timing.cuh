/*
 * gpu_timing.cuh - event timing of GPU work as the trainer sees it: without the host's enqueue time.
 *
 * Why: events recorded around a call on an idle GPU also count the host's work between them (the
 * tensor maps our kernels encode, cuBLASLt's and cuSPARSE's host paths: 4-14 us against 50-400 us
 * calls, dev/NOTES_bsr.md session 15), because the GPU reaches the call only when the host has
 * launched it. The trainer's host runs ahead of the GPU, so that time is not in its steps. With
 * gpu_hold enqueued before the first event, one GPU thread spins while the host enqueues the event,
 * the call and the second event, and the interval holds GPU time only (nvbench's blocking kernel).
 */
#ifndef CORE_GPU_TIMING_CUH
#define CORE_GPU_TIMING_CUH

#include "cuda_common.cuh"

/* the hold of the library's own timings (crossover, cuBLASLt algorithm choice): above the slowest
 * host path timed there (the crossover's dense path: unpack + cuBLASLt, ~15-30 us) with margin */
#define GPU_HOLD_US 100
/* the default hold of the dev/ benchmarks (--hold-us where they take it): above the slowest host
 * path they time (cuBLASLt / cuSPARSE calls and our kernels' tensor-map encodes, 4-14 us) with a
 * wide margin, so that a busy host does not leak into the intervals (they warn when it does) */
#define BENCH_HOLD_US 300

/* enqueue on stream one single-thread kernel that spins for hold_us microseconds (<= 0: nothing) */
void gpu_hold(cudaStream_t stream, int hold_us);

#endif /* CORE_GPU_TIMING_CUH */
