/*
 * bsr.h - the packed block-sparse weight format and its host-side operations.
 *
 * A sparse weight W[rows = out, cols = in] is a grid of square bs x bs blocks,
 * brows = rows/bs by bcols = cols/bs. Only live blocks are stored, packed in
 * block-row-major (BSR) order: block k covers W[r*bs:(r+1)*bs, c*bs:(c+1)*bs]
 * with r = the block row of k and c = col_indices[k], and its bs*bs values are
 * row-major inside the block at values[k*bs*bs]. Every per-weight array (bf16 or
 * fp32 weights, fp32 master weights, both AdamW moments, gradients) is packed the
 * same way, so they all share one BsrLayout.
 *
 * The BSC index lists the same blocks column by column (ascending block row
 * inside a column) and points back into BSR order with bsc_blocks[], so the
 * input-gradient product dX = dY W walks columns without a transposed copy.
 *
 * The mask (uint8 per grid block, row-major over the grid, 1 = live) is the
 * canonical description; offsets and indices are derived from it.
 *
 * Pruning only removes blocks, so compaction is an order-preserving gather:
 * surviving block k_old moves to k_new <= k_old.
 *
 * The numeric functions take `real` (core/real.h): float in the trainer, double
 * in the finite-difference test build.
 */
#ifndef SPARSE_BSR_H
#define SPARSE_BSR_H

#include <stdint.h>
#include "../core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int rows, cols;      /* dense shape of W: rows = output features, cols = input features */
    int bs;              /* block size; divides rows and cols */
    int brows, bcols;    /* block grid: rows/bs x cols/bs */
    int nnz;             /* number of live blocks */
    uint8_t *mask;       /* [brows*bcols], 1 = live */
    int *row_offsets;    /* [brows+1]: live blocks of block row r are [row_offsets[r], row_offsets[r+1]) */
    int *col_indices;    /* [brows*bcols capacity]: block column of BSR block k */
    int *bsc_offsets;    /* [bcols+1]: column c's entries are [bsc_offsets[c], bsc_offsets[c+1]) */
    int *bsc_rows;       /* [capacity]: block row of each BSC entry */
    int *bsc_blocks;     /* [capacity]: BSR index k of each BSC entry */
} BsrLayout;

/* Allocate a layout for W[rows, cols] with block size bs, all blocks live.
 * Returns 0, or -1 if bs does not divide rows and cols, or any of rows, cols,
 * bs is not positive (nothing allocated; *L zeroed). */
int bsr_layout_init(BsrLayout *L, int rows, int cols, int bs);
void bsr_layout_free(BsrLayout *L);
/* Set the mask (copied; any non-zero byte means live, stored as 1; mask may be
 * L->mask itself) and rebuild every index from it. An all-zero mask is allowed
 * (nnz = 0), though pruning never produces one. */
void bsr_layout_set_mask(BsrLayout *L, const uint8_t *mask);
/* Number of grid blocks (brows*bcols) and values per block (bs*bs). */
static inline int bsr_num_grid_blocks(const BsrLayout *L) { return L->brows * L->bcols; }
static inline long bsr_block_elems(const BsrLayout *L) { return (long)L->bs * L->bs; }
/* Block row of BSR block k (binary search over row_offsets); -1 if k is not in [0, nnz). */
int bsr_block_row(const BsrLayout *L, int k);
/* The weight gradient's block pairs (two blocks of one block row or column per GPU CTA, sharing an
 * operand slab): pairs[3 p .. 3 p + 2] = {k0, k1 (-1: k0 alone), 1 if k0 and k1 share a block row
 * else 0 (a block column)}; pairs has room for 3 * nnz ints. The lines of the primary direction
 * (by_rows: block rows, else block columns) are paired; while the count exceeds max_pairs, the odd
 * blocks of two lines that meet in a line of the other direction pair there (greedy, maximal when it
 * cannot reach max_pairs). Returns the number of pairs; *n_shared: those of two blocks; *n_cross:
 * those across. */
int bsr_dw_pairs(const BsrLayout *L, int by_rows, int max_pairs, int *pairs, int *n_shared, int *n_cross);

/* dense[rows, cols] -> packed[nnz*bs*bs] (live blocks only) */
void bsr_pack(const BsrLayout *L, const real *dense, real *packed);
/* packed -> dense[rows, cols], dead blocks written as zero */
void bsr_unpack(const BsrLayout *L, const real *packed, real *dense);
/* float versions for file I/O and the GPU trainer's host side, whatever `real` is */
void bsr_pack_f32(const BsrLayout *L, const float *dense, float *packed);
void bsr_unpack_f32(const BsrLayout *L, const float *packed, float *dense);

/* Block scores of the live blocks, in BSR order: L2 (sqrt of sum of squares) or
 * L1 (sum of |w|), accumulated in double in a fixed order so every run and
 * every rank computes bit-identical scores. */
typedef enum { BSR_SCORE_L2 = 0, BSR_SCORE_L1 = 1 } BsrScoreKind;
void bsr_block_scores(const BsrLayout *L, const real *packed, BsrScoreKind kind, double *scores);

/* Compaction. Given the current layout and a new mask that is a subset of the
 * current one, fill keep[] with the old BSR indices of the surviving blocks in
 * (new) BSR order and return their count. Dies if new_mask has a block that the
 * layout does not have. Typical use, for every per-weight array, then the layout:
 *   n = bsr_compact_plan(L, new_mask, keep); bsr_gather_blocks(arr, keep, n, bs*bs); ...
 *   bsr_layout_set_mask(L, new_mask); */
int bsr_compact_plan(const BsrLayout *L, const uint8_t *new_mask, int *keep);
/* In-place gather of blocks: arr[i-th block] = arr[keep[i]-th block], i ascending
 * (safe because keep[i] >= i; dies if keep[] is not strictly ascending). block_elems = bs*bs. */
void bsr_gather_blocks(real *arr, const int *keep, int n_keep, long block_elems);
void bsr_gather_blocks_f32(float *arr, const int *keep, int n_keep, long block_elems);

/* CPU reference kernels (also the CPU trainer's sparse matmuls). OpenMP over
 * independent outputs, no cross-thread reductions: results are bit-identical
 * for any thread count.
 * Forward: out[N, rows] = inp[N, cols] W^T + bias (bias may be NULL; outputs of
 * block rows with no live block get the bias, or zero). */
void bsr_matmul_forward_cpu(real *out, const real *inp, const BsrLayout *L, const real *w_packed,
                            const real *bias, int N);
/* Backward, accumulating (+=) into dinp[N, cols], dw_packed[nnz*bs*bs] (live
 * blocks only: dW = dout^T inp restricted to live blocks) and dbias[rows] (may be NULL).
 * dinp = dout W walks the BSC index. dinp or dw_packed may also be NULL to skip
 * that product. */
void bsr_matmul_backward_cpu(real *dinp, real *dw_packed, real *dbias, const real *dout, const real *inp,
                             const BsrLayout *L, const real *w_packed, int N);

#ifdef __cplusplus
}
#endif
#endif /* SPARSE_BSR_H */
