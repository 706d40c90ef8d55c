/*
 * cuda_common.cuh - the one place for what every CUDA unit shares: the bf16
 * type and the checking macros. CUDA_CHECK / CUBLAS_CHECK print the failing
 * call's error, file:line and a hint, then exit(1); LAUNCH_CHECK() checks the
 * last kernel launch (configuration errors; asynchronous faults surface at the
 * next synchronizing call).
 */
#ifndef CORE_CUDA_COMMON_CUH
#define CORE_CUDA_COMMON_CUH

#include <stdio.h>
#include <stdlib.h>
#include <cuda_runtime.h>
#include <cuda_bf16.h>

typedef __nv_bfloat16 bf16;

#define CUDA_CHECK(call) do { cudaError_t e_ = (call); if (e_ != cudaSuccess) { \
    fprintf(stderr, "error: CUDA %s: %s\n  at %s:%d\n  hint: check the GPU is present (nvidia-smi), that there is " \
            "enough free memory (smaller -b), and run under compute-sanitizer\n", \
            cudaGetErrorName(e_), cudaGetErrorString(e_), __FILE__, __LINE__); exit(1); } } while (0)

#define CUBLAS_CHECK(call) do { int s_ = (int)(call); if (s_ != 0) { \
    fprintf(stderr, "error: cuBLAS status %d\n  at %s:%d\n  hint: bf16 shapes and leading dimensions must be " \
            "multiples of 8; the workspace must be allocated\n", s_, __FILE__, __LINE__); exit(1); } } while (0)

#define LAUNCH_CHECK() CUDA_CHECK(cudaGetLastError())

#endif /* CORE_CUDA_COMMON_CUH */
