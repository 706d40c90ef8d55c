/* bsr_prune.cu - block scores and block gather on the device (see bsr_prune.cuh). */
#include "bsr_prune.cuh"

#include <stdio.h>
#include <stdlib.h>

#include "../core/cuda_common.cuh"

#define PRUNE_THREADS 256

/* one thread block per live block: strided partial sums per thread, then a
 * fixed-shape tree in shared memory (deterministic) */
__global__ void block_scores_kernel(double *scores, const float *w, long block_elems, int l1) {
    __shared__ double partial[PRUNE_THREADS];
    const float *blk = w + (long)blockIdx.x * block_elems;
    double s = 0.0;
    for (long i = threadIdx.x; i < block_elems; i += blockDim.x) {
        double x = (double)blk[i];
        s += l1 ? fabs(x) : x * x;
    }
    partial[threadIdx.x] = s;
    __syncthreads();
    for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
        if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
        __syncthreads();
    }
    if (threadIdx.x == 0) scores[blockIdx.x] = l1 ? partial[0] : sqrt(partial[0]);
}

void bsr_block_scores_gpu(double *scores, const float *w_packed, int nnz, long block_elems, BsrScoreKind kind,
                          cudaStream_t stream) {
    if (nnz <= 0) return;
    block_scores_kernel<<<nnz, PRUNE_THREADS, 0, stream>>>(scores, w_packed, block_elems, kind == BSR_SCORE_L1);
    LAUNCH_CHECK();
}

/* one thread block per kept block, 16-byte copies */
__global__ void gather_blocks_kernel(uint4 *dst, const uint4 *src, const int *keep, long vecs_per_block) {
    const uint4 *s = src + (long)keep[blockIdx.x] * vecs_per_block;
    uint4 *d = dst + (long)blockIdx.x * vecs_per_block;
    for (long i = threadIdx.x; i < vecs_per_block; i += blockDim.x) d[i] = s[i];
}

void bsr_gather_blocks_gpu(void *dst, const void *src, const int *keep, int n_keep, long block_elems, int elem_bytes,
                           cudaStream_t stream) {
    if (n_keep <= 0) return;
    long bytes = block_elems * elem_bytes;
    if (bytes % 16 != 0 || ((size_t)dst | (size_t)src) % 16 != 0) {
        fprintf(stderr, "error: bsr_gather_blocks_gpu needs 16-byte aligned blocks (block of %ld bytes)\n  at %s:%d\n", bytes,
                __FILE__, __LINE__);
        exit(1);
    }
    gather_blocks_kernel<<<n_keep, PRUNE_THREADS, 0, stream>>>((uint4 *)dst, (const uint4 *)src, keep, bytes / 16);
    LAUNCH_CHECK();
}
