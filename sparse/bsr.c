/*
 * bsr.c - the packed block-sparse weight format: layout from a mask, pack and
 * unpack, block scores, compaction, and the CPU reference kernels (which are
 * also the CPU trainer's sparse matmuls). See bsr.h for the contract.
 *
 * Determinism: every output element of every function here is computed by one
 * thread in an order fixed by the layout (never by the thread count or the
 * OpenMP schedule), so results are bit-identical for any OMP_NUM_THREADS.
 */
#include "bsr.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/utils.h"

/* rows of N handled by one task of the forward and input-gradient kernels */
#define BSR_N_CHUNK 32

/* ------------------------------------------------------------------ layout */

int bsr_layout_init(BsrLayout *L, int rows, int cols, int bs) {
    memset(L, 0, sizeof(*L));
    if (bs <= 0 || rows <= 0 || cols <= 0 || rows % bs != 0 || cols % bs != 0) return -1;
    L->rows = rows;
    L->cols = cols;
    L->bs = bs;
    L->brows = rows / bs;
    L->bcols = cols / bs;
    const size_t g = (size_t)L->brows * (size_t)L->bcols;
    L->mask = (uint8_t *)malloc_check(g * sizeof(uint8_t));
    L->row_offsets = (int *)malloc_check(((size_t)L->brows + 1) * sizeof(int));
    L->col_indices = (int *)malloc_check(g * sizeof(int));
    L->bsc_offsets = (int *)malloc_check(((size_t)L->bcols + 1) * sizeof(int));
    L->bsc_rows = (int *)malloc_check(g * sizeof(int));
    L->bsc_blocks = (int *)malloc_check(g * sizeof(int));
    memset(L->mask, 1, g);
    bsr_layout_set_mask(L, L->mask);
    return 0;
}

void bsr_layout_free(BsrLayout *L) {
    if (!L) return;
    free(L->mask);
    free(L->row_offsets);
    free(L->col_indices);
    free(L->bsc_offsets);
    free(L->bsc_rows);
    free(L->bsc_blocks);
    memset(L, 0, sizeof(*L));
}

void bsr_layout_set_mask(BsrLayout *L, const uint8_t *mask) {
    const int brows = L->brows, bcols = L->bcols;
    const int g = brows * bcols;
    /* copy (mask may alias L->mask), normalizing any non-zero byte to 1 */
    for (int i = 0; i < g; i++) L->mask[i] = mask[i] ? 1 : 0;

    /* BSR: row-major walk of the grid */
    int k = 0;
    for (int r = 0; r < brows; r++) {
        L->row_offsets[r] = k;
        const uint8_t *mrow = L->mask + (size_t)r * bcols;
        for (int c = 0; c < bcols; c++)
            if (mrow[c]) L->col_indices[k++] = c;
    }
    L->row_offsets[brows] = k;
    L->nnz = k;

    /* BSC: count per column, prefix sum, then fill walking BSR order, which
     * visits block rows in ascending order, so each column's entries come out
     * with ascending block row. */
    for (int c = 0; c <= bcols; c++) L->bsc_offsets[c] = 0;
    for (int i = 0; i < k; i++) L->bsc_offsets[L->col_indices[i] + 1]++;
    for (int c = 0; c < bcols; c++) L->bsc_offsets[c + 1] += L->bsc_offsets[c];
    /* next free BSC slot of each column */
    int *cursor = (int *)malloc_check(((size_t)bcols + 1) * sizeof(int));
    for (int c = 0; c < bcols; c++) cursor[c] = L->bsc_offsets[c];
    for (int r = 0; r < brows; r++) {
        for (int b = L->row_offsets[r]; b < L->row_offsets[r + 1]; b++) {
            const int c = L->col_indices[b];
            const int e = cursor[c]++;
            L->bsc_rows[e] = r;
            L->bsc_blocks[e] = b;
        }
    }
    free(cursor);
}

int bsr_block_row(const BsrLayout *L, int k) {
    if (k < 0 || k >= L->nnz) return -1;
    /* largest r with row_offsets[r] <= k; empty rows have row_offsets[r] ==
     * row_offsets[r+1], so the largest such r is the row that holds k */
    int lo = 0, hi = L->brows - 1;
    while (lo < hi) {
        const int mid = lo + (hi - lo + 1) / 2;
        if (L->row_offsets[mid] <= k) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/* ------------------------------------------------------------------ pack / unpack */

#define BSR_PACK_BODY(T)                                                                   \
    do {                                                                                   \
        const int bs = L->bs, cols = L->cols;                                              \
        const long be = bsr_block_elems(L);                                                \
        _Pragma("omp parallel for schedule(static)")                                       \
        for (int r = 0; r < L->brows; r++) {                                               \
            for (int k = L->row_offsets[r]; k < L->row_offsets[r + 1]; k++) {              \
                const int c = L->col_indices[k];                                           \
                T *dst = packed + (size_t)k * be;                                          \
                const T *src = dense + (size_t)r * bs * cols + (size_t)c * bs;             \
                for (int i = 0; i < bs; i++)                                               \
                    memcpy(dst + (size_t)i * bs, src + (size_t)i * cols, (size_t)bs * sizeof(T)); \
            }                                                                              \
        }                                                                                  \
    } while (0)

#define BSR_UNPACK_BODY(T)                                                                 \
    do {                                                                                   \
        const int bs = L->bs, cols = L->cols, bcols = L->bcols;                            \
        const long be = bsr_block_elems(L);                                                \
        _Pragma("omp parallel for schedule(static)")                                       \
        for (int r = 0; r < L->brows; r++) {                                               \
            int k = L->row_offsets[r];                                                     \
            for (int c = 0; c < bcols; c++) {                                              \
                T *dst = dense + (size_t)r * bs * cols + (size_t)c * bs;                   \
                if (k < L->row_offsets[r + 1] && L->col_indices[k] == c) {                 \
                    const T *src = packed + (size_t)k * be;                                \
                    for (int i = 0; i < bs; i++)                                           \
                        memcpy(dst + (size_t)i * cols, src + (size_t)i * bs, (size_t)bs * sizeof(T)); \
                    k++;                                                                   \
                } else {                                                                   \
                    for (int i = 0; i < bs; i++)                                           \
                        memset(dst + (size_t)i * cols, 0, (size_t)bs * sizeof(T));         \
                }                                                                          \
            }                                                                              \
        }                                                                                  \
    } while (0)

void bsr_pack(const BsrLayout *L, const real *dense, real *packed) { BSR_PACK_BODY(real); }
void bsr_unpack(const BsrLayout *L, const real *packed, real *dense) { BSR_UNPACK_BODY(real); }
void bsr_pack_f32(const BsrLayout *L, const float *dense, float *packed) { BSR_PACK_BODY(float); }
void bsr_unpack_f32(const BsrLayout *L, const float *packed, float *dense) { BSR_UNPACK_BODY(float); }

/* ------------------------------------------------------------------ scores */

void bsr_block_scores(const BsrLayout *L, const real *packed, BsrScoreKind kind, double *scores) {
    const long be = bsr_block_elems(L);
    const int nnz = L->nnz;
    #pragma omp parallel for schedule(static)
    for (int k = 0; k < nnz; k++) {
        const real *b = packed + (size_t)k * be;
        double acc = 0.0;
        if (kind == BSR_SCORE_L1) {
            for (long e = 0; e < be; e++) acc += fabs((double)b[e]);
            scores[k] = acc;
        } else {
            for (long e = 0; e < be; e++) { const double v = (double)b[e]; acc += v * v; }
            scores[k] = sqrt(acc);
        }
    }
}

/* ------------------------------------------------------------------ compaction */

int bsr_compact_plan(const BsrLayout *L, const uint8_t *new_mask, int *keep) {
    const int bcols = L->bcols, g = bsr_num_grid_blocks(L);
    for (int i = 0; i < g; i++)
        CHECK(!new_mask[i] || L->mask[i], "pruning may only remove blocks: build the new mask from the current layout (prune_select_mask)",
              "bsr_compact_plan: block %d (row %d, col %d) is live in the new mask but dead in the current layout",
              i, i / bcols, i % bcols);
    int n = 0;
    for (int r = 0; r < L->brows; r++)
        for (int k = L->row_offsets[r]; k < L->row_offsets[r + 1]; k++)
            if (new_mask[(size_t)r * bcols + L->col_indices[k]]) keep[n++] = k;
    return n;
}

#define BSR_GATHER_BODY(T)                                                                 \
    do {                                                                                   \
        for (int i = 0; i < n_keep; i++) {                                                 \
            CHECK(keep[i] >= i && (i == 0 || keep[i] > keep[i - 1]),                       \
                  "keep[] must come from bsr_compact_plan (strictly ascending, keep[i] >= i)", \
                  "bsr_gather_blocks: bad keep[%d] = %d", i, keep[i]);                      \
            if (keep[i] != i)                                                              \
                memcpy(arr + (size_t)i * block_elems, arr + (size_t)keep[i] * block_elems, \
                       (size_t)block_elems * sizeof(T));                                   \
        }                                                                                  \
    } while (0)

void bsr_gather_blocks(real *arr, const int *keep, int n_keep, long block_elems) { BSR_GATHER_BODY(real); }
void bsr_gather_blocks_f32(float *arr, const int *keep, int n_keep, long block_elems) { BSR_GATHER_BODY(float); }

/* ------------------------------------------------------------------ CPU kernels */

void bsr_matmul_forward_cpu(real *out, const real *inp, const BsrLayout *L, const real *w_packed,
                            const real *bias, int N) {
    const int bs = L->bs, rows = L->rows, cols = L->cols, brows = L->brows;
    const long be = bsr_block_elems(L);
    const int nchunks = (N + BSR_N_CHUNK - 1) / BSR_N_CHUNK;
    #pragma omp parallel
    {
        /* the block transposed, wt[j*bs + i] = W[i][j], so the inner loop runs
         * over contiguous output features i and vectorizes without reassociating
         * any sum: out[n, o] = bias[o] + sum over live blocks (BSR order), j ascending */
        real *wt = (real *)malloc_check((size_t)be * sizeof(real));
        #pragma omp for collapse(2) schedule(dynamic, 1)
        for (int ch = 0; ch < nchunks; ch++) {
            for (int r = 0; r < brows; r++) {
                const int n0 = ch * BSR_N_CHUNK;
                const int n1 = n0 + BSR_N_CHUNK < N ? n0 + BSR_N_CHUNK : N;
                for (int n = n0; n < n1; n++) {
                    real *o = out + (size_t)n * rows + (size_t)r * bs;
                    if (bias) { const real *b = bias + (size_t)r * bs; for (int i = 0; i < bs; i++) o[i] = b[i]; }
                    else { for (int i = 0; i < bs; i++) o[i] = (real)0; }
                }
                for (int k = L->row_offsets[r]; k < L->row_offsets[r + 1]; k++) {
                    const real *w = w_packed + (size_t)k * be;
                    for (int i = 0; i < bs; i++)
                        for (int j = 0; j < bs; j++) wt[(size_t)j * bs + i] = w[(size_t)i * bs + j];
                    const int c = L->col_indices[k];
                    for (int n = n0; n < n1; n++) {
                        real *restrict o = out + (size_t)n * rows + (size_t)r * bs;
                        const real *restrict x = inp + (size_t)n * cols + (size_t)c * bs;
                        for (int j = 0; j < bs; j++) {
                            const real xj = x[j];
                            const real *restrict wj = wt + (size_t)j * bs;
                            for (int i = 0; i < bs; i++) o[i] += wj[i] * xj;
                        }
                    }
                }
            }
        }
        free(wt);
    }
}

void bsr_matmul_backward_cpu(real *dinp, real *dw_packed, real *dbias, const real *dout, const real *inp,
                             const BsrLayout *L, const real *w_packed, int N) {
    const int bs = L->bs, rows = L->rows, cols = L->cols, bcols = L->bcols, brows = L->brows;
    const long be = bsr_block_elems(L);
    const int nnz = L->nnz;
    const int nchunks = (N + BSR_N_CHUNK - 1) / BSR_N_CHUNK;

    /* dinp[n, c*bs + j] += sum over column c's blocks (ascending block row), i ascending,
     * of dout[n, r*bs + i] * W[i][j]. Tasks: (chunk of N rows, block column). */
    if (dinp) {
        #pragma omp parallel for collapse(2) schedule(dynamic, 1)
        for (int ch = 0; ch < nchunks; ch++) {
            for (int c = 0; c < bcols; c++) {
                const int n0 = ch * BSR_N_CHUNK;
                const int n1 = n0 + BSR_N_CHUNK < N ? n0 + BSR_N_CHUNK : N;
                for (int e = L->bsc_offsets[c]; e < L->bsc_offsets[c + 1]; e++) {
                    const int r = L->bsc_rows[e];
                    const real *w = w_packed + (size_t)L->bsc_blocks[e] * be;
                    for (int n = n0; n < n1; n++) {
                        real *restrict d = dinp + (size_t)n * cols + (size_t)c * bs;
                        const real *restrict g = dout + (size_t)n * rows + (size_t)r * bs;
                        for (int i = 0; i < bs; i++) {
                            const real gi = g[i];
                            const real *restrict wi = w + (size_t)i * bs;
                            for (int j = 0; j < bs; j++) d[j] += gi * wi[j];
                        }
                    }
                }
            }
        }
    }

    /* dW[k][i][j] += sum over n ascending of dout[n, r*bs + i] * inp[n, c*bs + j];
     * one task per live block. */
    if (dw_packed) {
        #pragma omp parallel for schedule(static)
        for (int k = 0; k < nnz; k++) {
            const int r = bsr_block_row(L, k);
            const int c = L->col_indices[k];
            real *restrict dw = dw_packed + (size_t)k * be;
            for (int n = 0; n < N; n++) {
                const real *restrict g = dout + (size_t)n * rows + (size_t)r * bs;
                const real *restrict x = inp + (size_t)n * cols + (size_t)c * bs;
                for (int i = 0; i < bs; i++) {
                    const real gi = g[i];
                    real *restrict dwi = dw + (size_t)i * bs;
                    for (int j = 0; j < bs; j++) dwi[j] += gi * x[j];
                }
            }
        }
    }

    /* dbias[o] += sum over n ascending of dout[n, o]; one task per block row of outputs. */
    if (dbias) {
        #pragma omp parallel for schedule(static)
        for (int r = 0; r < brows; r++) {
            real *restrict db = dbias + (size_t)r * bs;
            for (int n = 0; n < N; n++) {
                const real *restrict g = dout + (size_t)n * rows + (size_t)r * bs;
                for (int i = 0; i < bs; i++) db[i] += g[i];
            }
        }
    }
}
