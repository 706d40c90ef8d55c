/*
 * bsr_prune.cuh - the device side of a mask update: block scores from the fp32
 * master weights, and the gather that compacts a packed array after pruning.
 *
 * The mask selection itself runs on the host (sparse/prune.c, the same code as
 * the CPU trainer) on the scores copied back: it touches one double per block,
 * while scoring and compaction touch every weight, moment and gradient.
 */
#ifndef SPARSE_BSR_PRUNE_CUH
#define SPARSE_BSR_PRUNE_CUH

#include <cuda_runtime.h>
#include "bsr.h"

#ifdef __cplusplus
extern "C" {
#endif

/* scores[k] = L2 (sqrt of sum of squares) or L1 norm of block k of w_packed
 * (fp32, nnz blocks of block_elems values), accumulated in double in a fixed
 * order: the same input gives bit-identical scores on every run and rank. */
void bsr_block_scores_gpu(double *scores, const float *w_packed, int nnz, long block_elems, BsrScoreKind kind,
                          cudaStream_t stream);

/* dst block i = src block keep[i] for i < n_keep (keep on the device); elem_bytes
 * is 2 (bf16) or 4 (fp32). dst and src must not overlap: gather into a scratch
 * buffer, then copy back. */
void bsr_gather_blocks_gpu(void *dst, const void *src, const int *keep, int n_keep, long block_elems, int elem_bytes,
                           cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif /* SPARSE_BSR_PRUNE_CUH */
