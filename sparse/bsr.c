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
#define BSR_N_CHUNK 64

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

/* bsr_dw_pairs (bsr.h). Why the cut: the GPU's paired dW kernel (bsr_dw_pair_kernel) runs one CTA
 * per pair at one CTA per SM, so the pairs must fit the SMs; at C 1600 0.9 one mask in four left 133
 * for 132 SMs and the default fell back to single blocks, 6-8% slower (runs 169-170). Why only down
 * to max_pairs: on masks that already fit, cross-pairing every odd line was 0-3% slower (run 170). */
/* packed index of entry e: BSC entries map through blk (bsc_blocks), BSR entries are their own */
static inline int entry_block(const int *blk, int e) { return blk ? blk[e] : e; }
int bsr_dw_pairs(const BsrLayout *L, int by_rows, int max_pairs, int *pairs, int *n_shared, int *n_cross) {
    const int nl = by_rows ? L->brows : L->bcols, nx = by_rows ? L->bcols : L->brows;
    const int *off = by_rows ? L->row_offsets : L->bsc_offsets;
    const int nnz = L->nnz;
    /* entry e of the primary order -> packed block k, and the line of the other direction it sits in */
    const int *blk = by_rows ? NULL : L->bsc_blocks, *cross = by_rows ? L->col_indices : L->bsc_rows;
    /* the odd lines' entries by cross line: who could meet whom */
    int *xoff = (int *)calloc_check(nx + 1, sizeof(int)), *xent = (int *)malloc_check((nnz + 1) * sizeof(int));
    for (int l = 0; l < nl; l++)
        if ((off[l + 1] - off[l]) & 1)
            for (int e = off[l]; e < off[l + 1]; e++) xoff[cross[e] + 1]++;
    for (int x = 0; x < nx; x++) xoff[x + 1] += xoff[x];
    int *xfill = (int *)malloc_check((nx + 1) * sizeof(int));
    memcpy(xfill, xoff, (nx + 1) * sizeof(int));
    int *line_of = (int *)malloc_check((nnz + 1) * sizeof(int));
    for (int l = 0; l < nl; l++)
        for (int e = off[l]; e < off[l + 1]; e++) {
            line_of[e] = l;
            if ((off[l + 1] - off[l]) & 1) xent[xfill[cross[e]]++] = e;
        }
    /* out[l]: the entry line l gives away (-1: none yet) */
    int *out = (int *)malloc_check((nl + 1) * sizeof(int));
    for (int l = 0; l < nl; l++) out[l] = -1;
    int np = 0, ns = 0, line_pairs = 0;
    for (int l = 0; l < nl; l++) line_pairs += (off[l + 1] - off[l] + 1) / 2;
    for (int l = 0; l < nl && line_pairs - np > max_pairs; l++) { /* each cross pair: one CTA fewer */
        if (!((off[l + 1] - off[l]) & 1) || out[l] >= 0) continue;
        for (int e = off[l]; e < off[l + 1] && out[l] < 0; e++)
            for (int i = xoff[cross[e]]; i < xoff[cross[e] + 1]; i++) {
                const int f = xent[i], m = line_of[f];
                if (m == l || out[m] >= 0) continue;
                out[l] = e;
                out[m] = f;
                pairs[3 * np] = entry_block(blk, e), pairs[3 * np + 1] = entry_block(blk, f), pairs[3 * np + 2] = !by_rows;
                np++, ns++;
                break;
            }
    }
    for (int l = 0; l < nl; l++) {
        int first = -1; /* a kept entry waiting for its partner */
        for (int e = off[l]; e < off[l + 1]; e++) {
            if (e == out[l]) continue;
            if (first < 0) { first = e; continue; }
            pairs[3 * np] = entry_block(blk, first), pairs[3 * np + 1] = entry_block(blk, e), pairs[3 * np + 2] = by_rows;
            np++, ns++;
            first = -1;
        }
        if (first >= 0) {
            pairs[3 * np] = entry_block(blk, first), pairs[3 * np + 1] = -1, pairs[3 * np + 2] = by_rows;
            np++;
        }
    }
    free(xoff); free(xent); free(xfill); free(line_of); free(out);
    *n_cross = line_pairs - np; /* np counts every CTA now: line_pairs less one per cross pair */
    *n_shared = ns;
    return np;
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

/* Register tiles: MR rows x VR contiguous columns of accumulators. Every output
 * element is summed in the same order whichever path (tile or scalar tail)
 * computes it, so the split between the paths never changes a bit. */
#define MR 4
#ifdef REAL_IS_DOUBLE
#define VR 16
#else
#define VR 32
#endif
/* rows of N per weight-gradient pass, so the dout/inp slices stay in cache */
#define BSR_DW_NB 64

/* out[n][i] (i in [i0, bs)) += sum over j ascending of W[i][j] * x[n][j]; the
 * accumulator starts from out. w is the block, row-major. */
static void fwd_rows(real *out, long ldo, const real *x, long ldx, const real *w, int bs, int nrows, int i0) {
    for (int n = 0; n < nrows; n++) {
        real *o = out + (size_t)n * ldo;
        const real *xn = x + (size_t)n * ldx;
        for (int i = i0; i < bs; i++) {
            const real *wi = w + (size_t)i * bs;
            real acc = o[i];
            for (int j = 0; j < bs; j++) acc += wi[j] * xn[j];
            o[i] = acc;
        }
    }
}

/* Repack block w into panels of VR output features: panel p holds
 * wp[(p*bs + j)*VR + v] = W[p*VR + v][j], so a tile reads its weights contiguously. */
static void fwd_panels(real *wp, const real *w, int bs) {
    const int npan = bs / VR;
    for (int p = 0; p < npan; p++)
        for (int v = 0; v < VR; v++) {
            const real *wi = w + (size_t)(p * VR + v) * bs;
            real *dst = wp + (size_t)p * bs * VR + v;
            for (int j = 0; j < bs; j++) dst[(size_t)j * VR] = wi[j];
        }
}

static void fwd_block(real *out, long ldo, const real *x, long ldx, const real *w, const real *wp, int bs, int nrows) {
    const int npan = bs / VR, ntile = nrows - nrows % MR;
    for (int p = 0; p < npan; p++) {
        const real *pan = wp + (size_t)p * bs * VR;
        const int i0 = p * VR;
        for (int n = 0; n < ntile; n += MR) {
            real acc[MR][VR];
            for (int a = 0; a < MR; a++)
                for (int v = 0; v < VR; v++) acc[a][v] = out[(size_t)(n + a) * ldo + i0 + v];
            for (int j = 0; j < bs; j++) {
                const real *wj = pan + (size_t)j * VR;
                for (int a = 0; a < MR; a++) {
                    const real xa = x[(size_t)(n + a) * ldx + j];
                    for (int v = 0; v < VR; v++) acc[a][v] += wj[v] * xa;
                }
            }
            for (int a = 0; a < MR; a++)
                for (int v = 0; v < VR; v++) out[(size_t)(n + a) * ldo + i0 + v] = acc[a][v];
        }
    }
    if (npan * VR < bs) fwd_rows(out, ldo, x, ldx, w, bs, ntile, npan * VR);
    if (ntile < nrows) fwd_rows(out + (size_t)ntile * ldo, ldo, x + (size_t)ntile * ldx, ldx, w, bs, nrows - ntile, 0);
}

void bsr_matmul_forward_cpu(real *out, const real *inp, const BsrLayout *L, const real *w_packed,
                            const real *bias, int N) {
    const int bs = L->bs, rows = L->rows, cols = L->cols, brows = L->brows;
    const long be = bsr_block_elems(L);
    const int nchunks = (N + BSR_N_CHUNK - 1) / BSR_N_CHUNK;
    #pragma omp parallel
    {
        /* out[n, o] = bias[o] + sum over the live blocks of its block row (BSR
         * order) of sum over j ascending of W[o][j] x[n][j] */
        real *wp = (real *)malloc_check((size_t)be * sizeof(real));
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
                    fwd_panels(wp, w, bs);
                    const int c = L->col_indices[k];
                    fwd_block(out + (size_t)n0 * rows + (size_t)r * bs, rows, inp + (size_t)n0 * cols + (size_t)c * bs, cols,
                              w, wp, bs, n1 - n0);
                }
            }
        }
        free(wp);
    }
}

/* dinp[n][j] (j in [j0, bs)) += sum over the column's blocks e (ascending block
 * row), i ascending, of dout[n][r_e*bs + i] * W_e[i][j]. */
static void dinp_rows(real *d, long ldd, const real *g, long ldg, const BsrLayout *L, const real *w_packed, int c,
                      int nrows, int j0) {
    const int bs = L->bs;
    const long be = bsr_block_elems(L);
    for (int n = 0; n < nrows; n++) {
        real *dn = d + (size_t)n * ldd;
        for (int j = j0; j < bs; j++) {
            real acc = dn[j];
            for (int e = L->bsc_offsets[c]; e < L->bsc_offsets[c + 1]; e++) {
                const real *w = w_packed + (size_t)L->bsc_blocks[e] * be;
                const real *gn = g + (size_t)n * ldg + (size_t)L->bsc_rows[e] * bs;
                for (int i = 0; i < bs; i++) acc += gn[i] * w[(size_t)i * bs + j];
            }
            dn[j] = acc;
        }
    }
}

static void dinp_column(real *d, long ldd, const real *g, long ldg, const BsrLayout *L, const real *w_packed, int c,
                        int nrows) {
    const int bs = L->bs;
    const long be = bsr_block_elems(L);
    const int jvec = bs - bs % VR;
    int n = 0;
    for (; n + MR <= nrows; n += MR) {
        for (int j0 = 0; j0 < jvec; j0 += VR) {
            real acc[MR][VR];
            for (int a = 0; a < MR; a++)
                for (int v = 0; v < VR; v++) acc[a][v] = d[(size_t)(n + a) * ldd + j0 + v];
            for (int e = L->bsc_offsets[c]; e < L->bsc_offsets[c + 1]; e++) {
                const real *w = w_packed + (size_t)L->bsc_blocks[e] * be + j0;
                const real *gb = g + (size_t)n * ldg + (size_t)L->bsc_rows[e] * bs;
                for (int i = 0; i < bs; i++) {
                    const real *wi = w + (size_t)i * bs;
                    for (int a = 0; a < MR; a++) {
                        const real ga = gb[(size_t)a * ldg + i];
                        for (int v = 0; v < VR; v++) acc[a][v] += ga * wi[v];
                    }
                }
            }
            for (int a = 0; a < MR; a++)
                for (int v = 0; v < VR; v++) d[(size_t)(n + a) * ldd + j0 + v] = acc[a][v];
        }
        if (jvec < bs) dinp_rows(d + (size_t)n * ldd, ldd, g + (size_t)n * ldg, ldg, L, w_packed, c, MR, jvec);
    }
    if (n < nrows) dinp_rows(d + (size_t)n * ldd, ldd, g + (size_t)n * ldg, ldg, L, w_packed, c, nrows - n, 0);
}

/* dw[i][j] (i in [i0, i1), j in [j0, bs)) += sum over n ascending of g[n][i] * x[n][j] */
static void dw_rect(real *dw, int bs, const real *g, long ldg, const real *x, long ldx, int nrows, int i0, int i1, int j0) {
    for (int i = i0; i < i1; i++)
        for (int j = j0; j < bs; j++) {
            real acc = dw[(size_t)i * bs + j];
            for (int n = 0; n < nrows; n++) acc += g[(size_t)n * ldg + i] * x[(size_t)n * ldx + j];
            dw[(size_t)i * bs + j] = acc;
        }
}

static void dw_block(real *dw, int bs, const real *g, long ldg, const real *x, long ldx, int nrows) {
    const int ivec = bs - bs % MR, jvec = bs - bs % VR;
    for (int i0 = 0; i0 < ivec; i0 += MR) {
        for (int j0 = 0; j0 < jvec; j0 += VR) {
            real acc[MR][VR];
            for (int a = 0; a < MR; a++)
                for (int v = 0; v < VR; v++) acc[a][v] = dw[(size_t)(i0 + a) * bs + j0 + v];
            for (int n = 0; n < nrows; n++) {
                const real *gn = g + (size_t)n * ldg + i0;
                const real *xn = x + (size_t)n * ldx + j0;
                for (int a = 0; a < MR; a++) {
                    const real ga = gn[a];
                    for (int v = 0; v < VR; v++) acc[a][v] += ga * xn[v];
                }
            }
            for (int a = 0; a < MR; a++)
                for (int v = 0; v < VR; v++) dw[(size_t)(i0 + a) * bs + j0 + v] = acc[a][v];
        }
        if (jvec < bs) dw_rect(dw, bs, g, ldg, x, ldx, nrows, i0, i0 + MR, jvec);
    }
    if (ivec < bs) dw_rect(dw, bs, g, ldg, x, ldx, nrows, ivec, bs, 0);
}

void bsr_matmul_backward_cpu(real *dinp, real *dw_packed, real *dbias, const real *dout, const real *inp,
                             const BsrLayout *L, const real *w_packed, int N) {
    const int bs = L->bs, rows = L->rows, cols = L->cols, bcols = L->bcols, brows = L->brows;
    const long be = bsr_block_elems(L);
    const int nnz = L->nnz;
    const int nchunks = (N + BSR_N_CHUNK - 1) / BSR_N_CHUNK;

    /* dinp = dout W through the BSC index. Tasks: (chunk of N rows, block column). */
    if (dinp) {
        #pragma omp parallel for collapse(2) schedule(dynamic, 1)
        for (int ch = 0; ch < nchunks; ch++) {
            for (int c = 0; c < bcols; c++) {
                const int n0 = ch * BSR_N_CHUNK;
                const int n1 = n0 + BSR_N_CHUNK < N ? n0 + BSR_N_CHUNK : N;
                dinp_column(dinp + (size_t)n0 * cols + (size_t)c * bs, cols, dout + (size_t)n0 * rows, rows, L, w_packed, c,
                            n1 - n0);
            }
        }
    }

    /* dW = dout^T inp at live blocks only, n ascending (in slices of BSR_DW_NB rows,
     * taken in order); one task per live block. Each slice of dout and inp is
     * first copied to a contiguous buffer: the rows of dout and inp are a large
     * power-of-two-ish stride apart, which would alias in the cache. */
    if (dw_packed && nnz > 0) {
        #pragma omp parallel
        {
            real *gbuf = (real *)malloc_check((size_t)BSR_DW_NB * bs * sizeof(real));
            real *xbuf = (real *)malloc_check((size_t)BSR_DW_NB * bs * sizeof(real));
            #pragma omp for schedule(dynamic, 1)
            for (int k = 0; k < nnz; k++) {
                const int r = bsr_block_row(L, k);
                const int c = L->col_indices[k];
                real *dw = dw_packed + (size_t)k * be;
                for (int n0 = 0; n0 < N; n0 += BSR_DW_NB) {
                    const int nb = N - n0 < BSR_DW_NB ? N - n0 : BSR_DW_NB;
                    for (int n = 0; n < nb; n++) {
                        memcpy(gbuf + (size_t)n * bs, dout + (size_t)(n0 + n) * rows + (size_t)r * bs, (size_t)bs * sizeof(real));
                        memcpy(xbuf + (size_t)n * bs, inp + (size_t)(n0 + n) * cols + (size_t)c * bs, (size_t)bs * sizeof(real));
                    }
                    dw_block(dw, bs, gbuf, bs, xbuf, bs, nb);
                }
            }
            free(gbuf);
            free(xbuf);
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
