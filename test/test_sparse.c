/*
 * test_sparse.c - CPU tests of the block-sparse format (sparse/bsr.c) and the
 * pruning schedule and mask selection (sparse/prune.c). Built against the f32
 * host library (real = float). All data is random (never all zeros).
 *
 *  - layout: BSR offsets/indices and the BSC index against the mask (every live
 *    block once, block rows ascending inside a column), bsr_block_row;
 *  - pack/unpack round trips (real and f32) on random shapes and block sizes,
 *    including empty block rows/columns, nnz = 0, one live block, all live;
 *  - block scores against hand-computed L2/L1 (same summation order: exact);
 *  - forward, dinp, dW, dbias against dense triple loops in double on the
 *    unpacked weight (dead blocks zero); dW only at live blocks, guard zones
 *    after every output prove nothing else is written; accumulation (+=) checked
 *    by starting from random gradients; bit-identical for 1 and 3 threads.
 *    Tolerance (float kernel vs double reference):
 *      |got - ref| <= 1e-5 * (sum of |terms| of that output + |initial value|)
 *    i.e. relative 1e-5 against the magnitude that float rounding scales with.
 *  - compaction: plan + in-place gather of weights and 3 other arrays equals
 *    pack(new layout, unpack(old layout, array)), exactly;
 *  - schedule: endpoints, monotone, update steps, live-block targets, a whole
 *    simulated schedule (random weight drift between updates) for every kind;
 *  - selection: against a brute-force rank, ties to the lower grid index,
 *    repeatability; global selection: total, at-least-one, tie order.
 * Prints one line per check; exits non-zero on any failure.
 */
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/real.h"
#include "../core/utils.h"
#include "../sparse/bsr.h"
#include "../sparse/prune.h"

#define KTOL 1e-5   /* kernel tolerance, relative to the sum of |terms| */
#define GUARD 64    /* sentinel elements after every output buffer */

static Rng rng;
static int n_checks = 0, n_failures = 0;
static int quiet = 0;   /* inside a format/kernel case: print failures only, then one summary line */

static void check(int ok, const char *fmt, ...) UTILS_PRINTF(2, 3);
static void check(int ok, const char *fmt, ...) {
    n_checks++;
    if (!ok) n_failures++;
    if (ok && quiet) return;
    va_list ap;
    va_start(ap, fmt);
    printf("[%s] ", ok ? " ok " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
}

/* uniform in [-1, 1), never exactly zero */
static float rnd1(void) {
    for (;;) {
        float v = 2.0f * rng_uniform_f32(&rng) - 1.0f;
        if (v != 0.0f) return v;
    }
}
static real *rnd_arr(long n) {
    real *x = (real *)malloc_check((size_t)n * sizeof(real));
    for (long i = 0; i < n; i++) x[i] = (real)rnd1();
    return x;
}
static float *rnd_arr_f32(long n) {
    float *x = (float *)malloc_check((size_t)n * sizeof(float));
    for (long i = 0; i < n; i++) x[i] = rnd1();
    return x;
}
/* buffer of n elements followed by GUARD sentinel elements, all random */
static real *guarded(long n) { return rnd_arr(n + GUARD); }
static int guard_intact(const real *buf, const real *copy, long n) {
    return memcmp(buf + n, copy + n, GUARD * sizeof(real)) == 0;
}
static real *dup_arr(const real *x, long n) {
    real *y = (real *)malloc_check((size_t)(n > 0 ? n : 1) * sizeof(real));
    memcpy(y, x, (size_t)n * sizeof(real));
    return y;
}

/* ------------------------------------------------------------------ masks */

typedef enum { PAT_RANDOM, PAT_SPARSE, PAT_EMPTY_ROW, PAT_EMPTY_COL, PAT_DEAD, PAT_ONE, PAT_ALL, PAT_N } Pattern;
static const char *pat_name[PAT_N] = { "random50", "random15", "empty-row+col", "empty-col", "all-dead", "one-live", "all-live" };

static void make_mask(uint8_t *m, int brows, int bcols, Pattern p) {
    const int g = brows * bcols;
    switch (p) {
    case PAT_RANDOM: for (int i = 0; i < g; i++) m[i] = (uint8_t)rng_below(&rng, 2); break;
    case PAT_SPARSE: for (int i = 0; i < g; i++) m[i] = rng_below(&rng, 100) < 15; break;
    case PAT_EMPTY_ROW: {
        for (int i = 0; i < g; i++) m[i] = rng_below(&rng, 100) < 70;
        const int r = (int)rng_below(&rng, (uint64_t)brows), c = (int)rng_below(&rng, (uint64_t)bcols);
        for (int j = 0; j < bcols; j++) m[r * bcols + j] = 0;
        for (int i = 0; i < brows; i++) m[i * bcols + c] = 0;
        break;
    }
    case PAT_EMPTY_COL: {
        for (int i = 0; i < g; i++) m[i] = rng_below(&rng, 100) < 70;
        const int c = (int)rng_below(&rng, (uint64_t)bcols);
        for (int i = 0; i < brows; i++) m[i * bcols + c] = 0;
        break;
    }
    case PAT_DEAD: memset(m, 0, (size_t)g); break;
    case PAT_ONE: memset(m, 0, (size_t)g); m[rng_below(&rng, (uint64_t)g)] = 1; break;
    default: memset(m, 1, (size_t)g); break;
    }
}

/* ------------------------------------------------------------------ layout checks */

static int layout_consistent(const BsrLayout *L, const uint8_t *mask, char *why, size_t whylen) {
    const int g = bsr_num_grid_blocks(L);
    int pop = 0;
    for (int i = 0; i < g; i++) {
        if ((L->mask[i] != 0) != (mask[i] != 0) || L->mask[i] > 1) { snprintf(why, whylen, "mask[%d]", i); return 0; }
        pop += mask[i] != 0;
    }
    if (L->nnz != pop) { snprintf(why, whylen, "nnz %d != popcount %d", L->nnz, pop); return 0; }
    if (L->row_offsets[0] != 0 || L->row_offsets[L->brows] != pop) { snprintf(why, whylen, "row_offsets ends"); return 0; }
    /* BSR: row r lists exactly the live columns of mask row r, ascending */
    for (int r = 0; r < L->brows; r++) {
        int k = L->row_offsets[r];
        if (L->row_offsets[r + 1] < k) { snprintf(why, whylen, "row_offsets not monotone at %d", r); return 0; }
        for (int c = 0; c < L->bcols; c++) {
            if (!mask[r * L->bcols + c]) continue;
            if (k >= L->row_offsets[r + 1] || L->col_indices[k] != c) { snprintf(why, whylen, "BSR row %d col %d", r, c); return 0; }
            k++;
        }
        if (k != L->row_offsets[r + 1]) { snprintf(why, whylen, "BSR row %d has extra blocks", r); return 0; }
    }
    /* bsr_block_row */
    for (int r = 0; r < L->brows; r++)
        for (int k = L->row_offsets[r]; k < L->row_offsets[r + 1]; k++)
            if (bsr_block_row(L, k) != r) { snprintf(why, whylen, "bsr_block_row(%d) = %d, expected %d", k, bsr_block_row(L, k), r); return 0; }
    if (bsr_block_row(L, -1) != -1 || bsr_block_row(L, L->nnz) != -1) { snprintf(why, whylen, "bsr_block_row out of range"); return 0; }
    /* BSC: every BSR block exactly once, in its column, block rows strictly ascending */
    if (L->bsc_offsets[0] != 0 || L->bsc_offsets[L->bcols] != pop) { snprintf(why, whylen, "bsc_offsets ends"); return 0; }
    int *seen = (int *)calloc_check((size_t)(pop > 0 ? pop : 1), sizeof(int));
    int ok = 1;
    for (int c = 0; c < L->bcols && ok; c++) {
        int col_pop = 0;
        for (int r = 0; r < L->brows; r++) col_pop += mask[r * L->bcols + c] != 0;
        if (L->bsc_offsets[c + 1] - L->bsc_offsets[c] != col_pop) { snprintf(why, whylen, "BSC column %d count", c); ok = 0; break; }
        for (int e = L->bsc_offsets[c]; e < L->bsc_offsets[c + 1]; e++) {
            const int k = L->bsc_blocks[e], r = L->bsc_rows[e];
            if (k < 0 || k >= pop || seen[k]++) { snprintf(why, whylen, "BSC entry %d block %d repeated or out of range", e, k); ok = 0; break; }
            if (L->col_indices[k] != c || bsr_block_row(L, k) != r) { snprintf(why, whylen, "BSC entry %d points to the wrong block", e); ok = 0; break; }
            if (e > L->bsc_offsets[c] && L->bsc_rows[e - 1] >= r) { snprintf(why, whylen, "BSC column %d rows not ascending", c); ok = 0; break; }
        }
    }
    for (int k = 0; k < pop && ok; k++)
        if (seen[k] != 1) { snprintf(why, whylen, "block %d missing from BSC", k); ok = 0; }
    free(seen);
    return ok;
}

/* ------------------------------------------------------------------ one format + kernel case */

static void zero_dead_blocks(const BsrLayout *L, const real *dense, real *out) {
    /* out = dense with dead blocks zeroed */
    const int bs = L->bs;
    for (int i = 0; i < L->rows; i++)
        for (int j = 0; j < L->cols; j++)
            out[(size_t)i * L->cols + j] = L->mask[(i / bs) * L->bcols + j / bs] ? dense[(size_t)i * L->cols + j] : (real)0;
}

static void test_case(int rows, int cols, int bs, Pattern pat, int N) {
    char tag[128], why[160] = "";
    snprintf(tag, sizeof tag, "%dx%d bs=%d %s N=%d", rows, cols, bs, pat_name[pat], N);
    const int checks0 = n_checks, fails0 = n_failures;
    double e_fwd = 0, e_dinp = 0, e_dw = 0, e_db = 0;
    quiet = 1;
    BsrLayout L;
    if (bsr_layout_init(&L, rows, cols, bs) != 0) { check(0, "%s: layout_init", tag); return; }
    const int g = bsr_num_grid_blocks(&L);
    const long be = bsr_block_elems(&L);
    const long nd = (long)rows * cols;

    /* all live after init */
    uint8_t *mask = (uint8_t *)malloc_check((size_t)g);
    memset(mask, 1, (size_t)g);
    check(L.nnz == g && layout_consistent(&L, mask, why, sizeof why), "%s: init is all live %s", tag, why);

    make_mask(mask, L.brows, L.bcols, pat);
    /* non-0/1 bytes count as live */
    uint8_t *mask7 = (uint8_t *)malloc_check((size_t)g);
    for (int i = 0; i < g; i++) mask7[i] = mask[i] ? (uint8_t)(1 + rng_below(&rng, 255)) : 0;
    bsr_layout_set_mask(&L, mask7);
    free(mask7);
    why[0] = 0;
    check(layout_consistent(&L, mask, why, sizeof why), "%s: BSR/BSC index consistent (nnz=%d/%d) %s", tag, L.nnz, g, why);
    const int nnz = L.nnz;
    const long np = (long)nnz * be;

    /* ---- pack / unpack */
    real *W = rnd_arr(nd);
    real *P = guarded(np), *Pg = dup_arr(P, np + GUARD);
    bsr_pack(&L, W, P);
    int ok = guard_intact(P, Pg, np);
    for (int r = 0; r < L.brows && ok; r++)
        for (int k = L.row_offsets[r]; k < L.row_offsets[r + 1] && ok; k++)
            for (int i = 0; i < bs && ok; i++)
                for (int j = 0; j < bs; j++)
                    if (P[k * be + i * bs + j] != W[(size_t)(r * bs + i) * cols + L.col_indices[k] * bs + j]) { ok = 0; break; }
    check(ok, "%s: pack copies each live block, nothing past nnz*bs*bs", tag);
    real *D = rnd_arr(nd), *Wz = rnd_arr(nd);   /* unpack target pre-filled with garbage */
    bsr_unpack(&L, P, D);
    zero_dead_blocks(&L, W, Wz);
    check(memcmp(D, Wz, (size_t)nd * sizeof(real)) == 0, "%s: unpack(pack(W)) == W with dead blocks zeroed", tag);
    real *P2 = rnd_arr(np > 0 ? np : 1);
    bsr_pack(&L, D, P2);
    check(memcmp(P2, P, (size_t)np * sizeof(real)) == 0, "%s: pack(unpack(P)) == P", tag);
    {
        float *Wf = rnd_arr_f32(nd), *Pf = rnd_arr_f32(np + 1), *Df = rnd_arr_f32(nd), *Pf2 = rnd_arr_f32(np + 1);
        bsr_pack_f32(&L, Wf, Pf);
        bsr_unpack_f32(&L, Pf, Df);
        int okf = 1;
        for (long e = 0; e < nd && okf; e++) {
            const int live = L.mask[((e / cols) / bs) * L.bcols + (e % cols) / bs];
            if (Df[e] != (live ? Wf[e] : 0.0f)) okf = 0;
        }
        bsr_pack_f32(&L, Df, Pf2);
        okf = okf && memcmp(Pf, Pf2, (size_t)np * sizeof(float)) == 0;
        check(okf, "%s: f32 pack/unpack round trip", tag);
        free(Wf); free(Pf); free(Df); free(Pf2);
    }

    /* ---- scores */
    {
        double *s2 = (double *)malloc_check((size_t)(nnz + 1) * sizeof(double));
        double *s1 = (double *)malloc_check((size_t)(nnz + 1) * sizeof(double));
        bsr_block_scores(&L, P, BSR_SCORE_L2, s2);
        bsr_block_scores(&L, P, BSR_SCORE_L1, s1);
        int oks = 1;
        for (int r = 0; r < L.brows; r++)
            for (int k = L.row_offsets[r]; k < L.row_offsets[r + 1]; k++) {
                double a2 = 0, a1 = 0;
                for (int i = 0; i < bs; i++)
                    for (int j = 0; j < bs; j++) {
                        const double v = (double)W[(size_t)(r * bs + i) * cols + L.col_indices[k] * bs + j];
                        a2 += v * v;
                        a1 += fabs(v);
                    }
                if (s2[k] != sqrt(a2) || s1[k] != a1) oks = 0;
            }
        check(oks, "%s: block scores == hand-computed L2 and L1 (exact)", tag);
        free(s2); free(s1);
    }

    /* ---- forward */
    real *x = rnd_arr((long)N * cols), *bias = rnd_arr(rows);
    const long no = (long)N * rows, ni = (long)N * cols;
    for (int with_bias = 1; with_bias >= 0; with_bias--) {
        real *y = guarded(no), *yg = dup_arr(y, no + GUARD);
        omp_set_num_threads(3);
        bsr_matmul_forward_cpu(y, x, &L, P, with_bias ? bias : NULL, N);
        double worst = 0;
        for (int n = 0; n < N; n++)
            for (int o = 0; o < rows; o++) {
                double ref = with_bias ? (double)bias[o] : 0.0, mag = fabs(ref);
                for (int j = 0; j < cols; j++) {
                    const double t = (double)D[(size_t)o * cols + j] * (double)x[(size_t)n * cols + j];
                    ref += t;
                    mag += fabs(t);
                }
                const double e = fabs((double)y[(size_t)n * rows + o] - ref) / (mag > 0 ? mag : 1e-30);
                if (e > worst) worst = e;
            }
        if (worst > e_fwd) e_fwd = worst;
        check(worst <= KTOL && guard_intact(y, yg, no), "%s: forward%s == dense (worst err/sum|terms| %.2e)",
              tag, with_bias ? "+bias" : " no bias", worst);
        real *y1 = rnd_arr(no);
        omp_set_num_threads(1);
        bsr_matmul_forward_cpu(y1, x, &L, P, with_bias ? bias : NULL, N);
        check(memcmp(y, y1, (size_t)no * sizeof(real)) == 0, "%s: forward%s bit-identical for 1 and 3 threads", tag,
              with_bias ? "+bias" : " no bias");
        free(y); free(yg); free(y1);
    }

    /* ---- backward (accumulating onto random initial gradients) */
    {
        real *dout = rnd_arr(no);
        real *dinp = guarded(ni), *dinp0 = dup_arr(dinp, ni + GUARD);
        real *dw = guarded(np), *dw0 = dup_arr(dw, np + GUARD);
        real *db = guarded(rows), *db0 = dup_arr(db, rows + GUARD);
        omp_set_num_threads(3);
        bsr_matmul_backward_cpu(dinp, dw, db, dout, x, &L, P, N);
        /* dinp = dinp0 + dout D */
        double wi = 0;
        for (int n = 0; n < N; n++)
            for (int j = 0; j < cols; j++) {
                double ref = (double)dinp0[(size_t)n * cols + j], mag = fabs(ref);
                for (int o = 0; o < rows; o++) {
                    const double t = (double)dout[(size_t)n * rows + o] * (double)D[(size_t)o * cols + j];
                    ref += t;
                    mag += fabs(t);
                }
                const double e = fabs((double)dinp[(size_t)n * cols + j] - ref) / mag;
                if (e > wi) wi = e;
            }
        e_dinp = wi;
        check(wi <= KTOL && guard_intact(dinp, dinp0, ni), "%s: dinp += dout W == dense (worst %.2e)", tag, wi);
        /* dense dW = dout^T x everywhere; packed dW must equal dw0 + it at live blocks */
        double *dWd = (double *)malloc_check((size_t)nd * sizeof(double));
        double *dWm = (double *)malloc_check((size_t)nd * sizeof(double));
        for (int o = 0; o < rows; o++)
            for (int j = 0; j < cols; j++) {
                double s = 0, m = 0;
                for (int n = 0; n < N; n++) {
                    const double t = (double)dout[(size_t)n * rows + o] * (double)x[(size_t)n * cols + j];
                    s += t;
                    m += fabs(t);
                }
                dWd[(size_t)o * cols + j] = s;
                dWm[(size_t)o * cols + j] = m;
            }
        double ww = 0;
        for (int r = 0; r < L.brows; r++)
            for (int k = L.row_offsets[r]; k < L.row_offsets[r + 1]; k++)
                for (int i = 0; i < bs; i++)
                    for (int j = 0; j < bs; j++) {
                        const size_t d = (size_t)(r * bs + i) * cols + L.col_indices[k] * bs + j;
                        const long pk = k * be + i * bs + j;
                        const double ref = (double)dw0[pk] + dWd[d];
                        const double e = fabs((double)dw[pk] - ref) / (dWm[d] + fabs((double)dw0[pk]));
                        if (e > ww) ww = e;
                    }
        /* the packed buffer has room for live blocks only, and the guard after it is
         * untouched, so the dense dW of dead blocks is written nowhere */
        e_dw = ww;
        check(ww <= KTOL && guard_intact(dw, dw0, np), "%s: dW += dout^T x at live blocks only (worst %.2e)", tag, ww);
        double wb = 0;
        for (int o = 0; o < rows; o++) {
            double ref = (double)db0[o], mag = fabs(ref);
            for (int n = 0; n < N; n++) { ref += (double)dout[(size_t)n * rows + o]; mag += fabs((double)dout[(size_t)n * rows + o]); }
            const double e = fabs((double)db[o] - ref) / mag;
            if (e > wb) wb = e;
        }
        e_db = wb;
        check(wb <= KTOL && guard_intact(db, db0, rows), "%s: dbias += colsum(dout) (worst %.2e)", tag, wb);
        /* 1 thread gives the same bits */
        real *dinp1 = dup_arr(dinp0, ni), *dw1 = dup_arr(dw0, np), *db1 = dup_arr(db0, rows);
        omp_set_num_threads(1);
        bsr_matmul_backward_cpu(dinp1, dw1, db1, dout, x, &L, P, N);
        check(memcmp(dinp1, dinp, (size_t)ni * sizeof(real)) == 0 && memcmp(dw1, dw, (size_t)np * sizeof(real)) == 0 &&
                  memcmp(db1, db, (size_t)rows * sizeof(real)) == 0,
              "%s: backward bit-identical for 1 and 3 threads", tag);
        /* NULL outputs are skipped, the others unchanged */
        memcpy(dinp1, dinp0, (size_t)ni * sizeof(real));
        memcpy(db1, db0, (size_t)rows * sizeof(real));
        bsr_matmul_backward_cpu(dinp1, NULL, NULL, dout, x, &L, P, N);
        bsr_matmul_backward_cpu(NULL, NULL, db1, dout, x, &L, P, N);
        check(memcmp(dinp1, dinp, (size_t)ni * sizeof(real)) == 0 && memcmp(db1, db, (size_t)rows * sizeof(real)) == 0,
              "%s: backward with NULL outputs computes the others alone", tag);
        omp_set_num_threads(3);
        free(dout); free(dinp); free(dinp0); free(dw); free(dw0); free(db); free(db0);
        free(dWd); free(dWm); free(dinp1); free(dw1); free(db1);
    }

    /* ---- compaction: new mask a random subset of the live blocks */
    {
        uint8_t *nm = (uint8_t *)malloc_check((size_t)g);
        for (int i = 0; i < g; i++) nm[i] = L.mask[i] && rng_below(&rng, 2);
        int *keep = (int *)malloc_check((size_t)g * sizeof(int));
        const int nk = bsr_compact_plan(&L, nm, keep);
        int okp = 1;
        for (int i = 0; i < nk; i++) okp = okp && keep[i] >= i && (i == 0 || keep[i] > keep[i - 1]);
        real *arr[4];
        arr[0] = P;
        for (int a = 1; a < 4; a++) arr[a] = rnd_arr(np > 0 ? np : 1);
        float *af = rnd_arr_f32(np > 0 ? np : 1);
        /* expected: pack(new layout, unpack(old layout, array)) */
        BsrLayout L2;
        bsr_layout_init(&L2, rows, cols, bs);
        bsr_layout_set_mask(&L2, nm);
        real *exp[4], *dd = (real *)malloc_check((size_t)nd * sizeof(real));
        for (int a = 0; a < 4; a++) {
            exp[a] = (real *)malloc_check((size_t)(L2.nnz * be + 1) * sizeof(real));
            bsr_unpack(&L, arr[a], dd);
            bsr_pack(&L2, dd, exp[a]);
        }
        float *expf = (float *)malloc_check((size_t)(L2.nnz * be + 1) * sizeof(float));
        float *ddf = (float *)malloc_check((size_t)nd * sizeof(float));
        bsr_unpack_f32(&L, af, ddf);
        bsr_pack_f32(&L2, ddf, expf);
        for (int a = 0; a < 4; a++) bsr_gather_blocks(arr[a], keep, nk, be);
        bsr_gather_blocks_f32(af, keep, nk, be);
        bsr_layout_set_mask(&L, nm);
        int okc = okp && nk == L2.nnz && L.nnz == nk;
        for (int a = 0; a < 4; a++) okc = okc && memcmp(arr[a], exp[a], (size_t)nk * be * sizeof(real)) == 0;
        okc = okc && memcmp(af, expf, (size_t)nk * be * sizeof(float)) == 0;
        why[0] = 0;
        okc = okc && layout_consistent(&L, nm, why, sizeof why);
        check(okc, "%s: compaction %d -> %d blocks: gather of 4 real + 1 f32 arrays == pack(new, unpack(old)) %s",
              tag, nnz, nk, why);
        bsr_layout_free(&L2);
        for (int a = 1; a < 4; a++) free(arr[a]);
        for (int a = 0; a < 4; a++) free(exp[a]);
        free(af); free(expf); free(ddf); free(dd); free(nm); free(keep);
    }

    free(W); free(P); free(Pg); free(D); free(Wz); free(P2); free(x); free(bias); free(mask);
    bsr_layout_free(&L);
    quiet = 0;
    printf("[%s] %-34s %2d checks: layout+BSC, pack/unpack(+f32), scores, fwd %.1e, dinp %.1e, dW %.1e, dbias %.1e, "
           "1 vs 3 threads, compaction\n",
           n_failures == fails0 ? " ok " : "FAIL", tag, n_checks - checks0, e_fwd, e_dinp, e_dw, e_db);
}

/* ------------------------------------------------------------------ schedule */

static void test_schedule_one(PruneScheduleKind kind, float si, float sf, int t0, int t1, int k) {
    PruneSchedule S = { kind, si, sf, t0, t1, k };
    char tag[128];
    snprintf(tag, sizeof tag, "schedule %s s %.2f->%.2f t %d..%d every %d", prune_schedule_kind_name(kind), si, sf, t0, t1, k);
    const double dsi = (double)si, dsf = (double)sf;
    const double s0 = prune_schedule_sparsity(&S, t0);
    if (kind == PRUNE_ONESHOT || t0 == t1) check(s0 == (double)sf, "%s: s(t0) == s_f (jump at t0)", tag);
    else check(s0 == (double)si, "%s: s(t0) == s_i", tag);
    check(prune_schedule_sparsity(&S, t0 - 1) == (double)si && prune_schedule_sparsity(&S, t0 - 1000) == (double)si,
          "%s: s(t < t0) == s_i", tag);
    check(prune_schedule_sparsity(&S, t1) == (double)sf, "%s: s(t1) == s_f", tag);
    int okp = 1;
    for (int t = t1 + 1; t < t1 + 50; t++) okp = okp && prune_schedule_sparsity(&S, t) == (double)sf;
    okp = okp && prune_schedule_sparsity(&S, t1 + 1000000) == (double)sf;
    check(okp, "%s: s(t > t1) == s_f", tag);
    int mono = 1;
    double prev = -1;
    for (int t = t0 - 3; t <= t1 + 3; t++) {
        const double s = prune_schedule_sparsity(&S, t);
        if (s < prev || s < (double)si || s > (double)sf) mono = 0;
        prev = s;
    }
    check(mono, "%s: monotone non-decreasing, inside [s_i, s_f]", tag);
    /* closed form inside the ramp */
    if (kind != PRUNE_ONESHOT && t1 > t0) {
        double worst = 0;
        for (int t = t0; t < t1; t++) {
            const double p = 1.0 - (double)(t - t0) / (double)(t1 - t0);
            const double ref = dsf + (dsi - dsf) * (kind == PRUNE_CUBIC ? p * p * p : p);
            const double e = fabs(prune_schedule_sparsity(&S, t) - ref);
            if (e > worst) worst = e;
        }
        check(worst <= 1e-12, "%s: matches the closed form inside the ramp (worst %.1e)", tag, worst);
    }
    /* update steps exactly {t0, t0+k, ..., t1} */
    int oku = 1;
    for (int t = t0 - 10; t <= t1 + 10; t++) {
        const int expect = t >= t0 && t <= t1 && ((t - t0) % k == 0 || t == t1);
        if (prune_schedule_is_update_step(&S, t) != expect) oku = 0;
    }
    check(oku, "%s: update steps are exactly {t0, t0+k, ..., t1}", tag);
}

static void test_schedule(void) {
    check(prune_schedule_kind_from_name("cubic") == PRUNE_CUBIC && prune_schedule_kind_from_name("linear") == PRUNE_LINEAR &&
              prune_schedule_kind_from_name("oneshot") == PRUNE_ONESHOT && prune_schedule_kind_from_name("cubicx") == -1 &&
              prune_schedule_kind_from_name("") == -1 && prune_schedule_kind_from_name(NULL) == -1,
          "schedule kind names parse, unknown names give -1");
    int okn = 1;
    for (int kd = 0; kd < 3; kd++) okn = okn && prune_schedule_kind_from_name(prune_schedule_kind_name((PruneScheduleKind)kd)) == kd;
    check(okn, "schedule kind name round trip");
    const PruneScheduleKind kinds[3] = { PRUNE_CUBIC, PRUNE_LINEAR, PRUNE_ONESHOT };
    for (int kd = 0; kd < 3; kd++) {
        test_schedule_one(kinds[kd], 0.0f, 0.9f, 100, 1000, 100);
        test_schedule_one(kinds[kd], 0.2f, 0.75f, 7, 50, 6);    /* t1 - t0 not a multiple of k */
        test_schedule_one(kinds[kd], 0.0f, 0.5f, 0, 3, 10);     /* k > t1 - t0 */
        test_schedule_one(kinds[kd], 0.1f, 0.95f, 20, 20, 1);   /* t0 == t1 */
        test_schedule_one(kinds[kd], 0.3f, 0.3f, 5, 25, 4);     /* s_i == s_f */
    }
    /* target live blocks: n - floor(s*n + 0.5) clamped to [1, n] */
    struct { int n; double s; int want; } tc[] = {
        { 10, 0.0, 10 }, { 8, 0.5, 4 }, { 4, 0.125, 3 }, { 10, 0.24, 8 }, { 10, 0.26, 7 },
        { 10, 0.96, 1 }, { 10, 0.999, 1 }, { 1, 0.9, 1 }, { 1, 0.0, 1 }, { 3072, 0.9, 307 }, { 100, 0.375, 62 },
    };
    int okt = 1;
    for (size_t i = 0; i < sizeof tc / sizeof tc[0]; i++) {
        const int got = prune_target_live_blocks(tc[i].n, tc[i].s);
        if (got != tc[i].want) { okt = 0; printf("       target(%d, %g) = %d, want %d\n", tc[i].n, tc[i].s, got, tc[i].want); }
    }
    check(okt, "prune_target_live_blocks on hand-computed values");
}

/* simulate a whole schedule: random weights drifting between updates, prune at
 * every update step, nnz == min(previous nnz, target) every time */
static void test_schedule_simulation(PruneScheduleKind kind, BsrScoreKind score, int global) {
    const int rows = 96, cols = 160, bs = 8;   /* 12 x 20 = 240 blocks */
    PruneSchedule S = { kind, 0.0f, 0.85f, 10, 130, 10 };
    BsrLayout L[2];
    bsr_layout_init(&L[0], rows, cols, bs);
    bsr_layout_init(&L[1], cols, rows, bs);
    const int g = bsr_num_grid_blocks(&L[0]);
    const long be = bsr_block_elems(&L[0]);
    real *w[2] = { rnd_arr((long)g * be), rnd_arr((long)g * be) };
    real *m1[2] = { rnd_arr((long)g * be), rnd_arr((long)g * be) };
    int ok = 1, n_updates = 0, prev_ok = 1, subset_ok = 1;
    uint8_t *nm[2] = { (uint8_t *)malloc_check((size_t)g), (uint8_t *)malloc_check((size_t)g) };
    int *keep = (int *)malloc_check((size_t)g * sizeof(int));
    double *sc[2] = { (double *)malloc_check((size_t)g * sizeof(double)), (double *)malloc_check((size_t)g * sizeof(double)) };
    for (int t = 0; t <= 200; t++) {
        /* weights drift */
        for (int a = 0; a < 2; a++)
            for (long e = 0; e < (long)L[a].nnz * be; e++) w[a][e] += (real)(0.3f * rnd1());
        if (!prune_schedule_is_update_step(&S, t)) continue;
        n_updates++;
        const double s = prune_schedule_sparsity(&S, t);
        int prev[2] = { L[0].nnz, L[1].nnz };
        for (int a = 0; a < 2; a++) bsr_block_scores(&L[a], w[a], score, sc[a]);
        if (global) {
            const BsrLayout *Ls[2] = { &L[0], &L[1] };
            const double *scs[2] = { sc[0], sc[1] };
            prune_select_global(Ls, scs, 2, prune_target_live_blocks(2 * g, s), nm);
        } else {
            for (int a = 0; a < 2; a++) prune_select_mask(&L[a], sc[a], prune_target_live_blocks(g, s), nm[a]);
        }
        for (int a = 0; a < 2; a++) {
            for (int i = 0; i < g; i++) if (nm[a][i] && !L[a].mask[i]) subset_ok = 0;
            const int nk = bsr_compact_plan(&L[a], nm[a], keep);
            bsr_gather_blocks(w[a], keep, nk, be);
            bsr_gather_blocks(m1[a], keep, nk, be);
            bsr_layout_set_mask(&L[a], nm[a]);
            if (nk != L[a].nnz) ok = 0;
        }
        if (global) {
            const int target = prune_target_live_blocks(2 * g, s);
            const int want = prev[0] + prev[1] < target ? prev[0] + prev[1] : target;
            if (L[0].nnz + L[1].nnz != want || L[0].nnz < 1 || L[1].nnz < 1) ok = 0;
        } else {
            const int target = prune_target_live_blocks(g, s);
            for (int a = 0; a < 2; a++) {
                const int want = prev[a] < target ? prev[a] : target;
                if (L[a].nnz != want) { ok = 0; printf("       t=%d nnz %d want %d\n", t, L[a].nnz, want); }
                if (L[a].nnz > prev[a]) prev_ok = 0;
            }
        }
    }
    const int final_target = global ? prune_target_live_blocks(2 * g, S.s_final) : prune_target_live_blocks(g, S.s_final);
    const int final_nnz = global ? L[0].nnz + L[1].nnz : L[0].nnz;
    check(ok && prev_ok && subset_ok && n_updates == 13 && final_nnz == final_target,
          "simulated %s schedule, %s scores, %s selection: %d updates, live == min(previous, target) every update, final %d == target %d",
          prune_schedule_kind_name(kind), score == BSR_SCORE_L2 ? "L2" : "L1", global ? "global" : "per-matrix", n_updates,
          final_nnz, final_target);
    for (int a = 0; a < 2; a++) { bsr_layout_free(&L[a]); free(w[a]); free(m1[a]); free(nm[a]); free(sc[a]); }
    free(keep);
}

/* ------------------------------------------------------------------ selection */

/* brute force: live block k is kept iff fewer than keep live blocks rank before it */
static void brute_select(const BsrLayout *L, const double *sc, int n_live, uint8_t *m) {
    const int g = bsr_num_grid_blocks(L);
    int keep = n_live < 1 ? 1 : n_live;
    if (keep > L->nnz) keep = L->nnz;
    memset(m, 0, (size_t)g);
    for (int a = 0; a < L->nnz; a++) {
        const int ga = bsr_block_row(L, a) * L->bcols + L->col_indices[a];
        int before = 0;
        for (int b = 0; b < L->nnz; b++) {
            const int gb = bsr_block_row(L, b) * L->bcols + L->col_indices[b];
            if (sc[b] > sc[a] || (sc[b] == sc[a] && gb < ga)) before++;
        }
        if (before < keep) m[ga] = 1;
    }
}

static void test_selection(void) {
    const int rows = 80, cols = 120, bs = 8;    /* 10 x 15 = 150 blocks */
    BsrLayout L;
    bsr_layout_init(&L, rows, cols, bs);
    const int g = bsr_num_grid_blocks(&L);
    uint8_t *mask = (uint8_t *)malloc_check((size_t)g), *m1 = (uint8_t *)malloc_check((size_t)g);
    uint8_t *m2 = (uint8_t *)malloc_check((size_t)g), *mb = (uint8_t *)malloc_check((size_t)g);
    double *sc = (double *)malloc_check((size_t)g * sizeof(double));
    make_mask(mask, L.brows, L.bcols, PAT_RANDOM);
    bsr_layout_set_mask(&L, mask);

    /* all-equal scores: the highest grid indices are pruned */
    const long be = bsr_block_elems(&L);
    real *w = (real *)malloc_check((size_t)L.nnz * be * sizeof(real));
    const real cval = (real)rnd1();
    for (long e = 0; e < (long)L.nnz * be; e++) w[e] = cval;
    bsr_block_scores(&L, w, BSR_SCORE_L2, sc);
    const int n_live = L.nnz / 3;
    prune_select_mask(&L, sc, n_live, m1);
    int okt = 1, seen = 0;
    for (int i = 0; i < g; i++) {
        const int want = mask[i] && seen < n_live;
        seen += mask[i] != 0;
        if (m1[i] != want) okt = 0;
    }
    check(okt, "selection with all-equal scores keeps the %d lowest-index live blocks of %d", n_live, L.nnz);
    free(w);

    /* quantized random scores (many ties) against brute force, and repeatability */
    int okb = 1, okr = 1, okd = 1;
    for (int trial = 0; trial < 20; trial++) {
        make_mask(mask, L.brows, L.bcols, trial % 2 ? PAT_RANDOM : PAT_EMPTY_ROW);
        bsr_layout_set_mask(&L, mask);
        for (int k = 0; k < L.nnz; k++) sc[k] = (double)(1 + rng_below(&rng, 5));
        const int nl = (int)rng_below(&rng, (uint64_t)L.nnz + 3);
        prune_select_mask(&L, sc, nl, m1);
        prune_select_mask(&L, sc, nl, m2);
        brute_select(&L, sc, nl, mb);
        okr = okr && memcmp(m1, m2, (size_t)g) == 0;
        okb = okb && memcmp(m1, mb, (size_t)g) == 0;
        for (int i = 0; i < g; i++) okd = okd && (!m1[i] || mask[i]);
    }
    check(okb, "selection with tied scores == brute-force rank (score desc, lower grid index first)");
    check(okr, "selection run twice gives identical masks");
    check(okd, "selection never revives a dead block");

    /* NaN scores rank last */
    make_mask(mask, L.brows, L.bcols, PAT_ALL);
    bsr_layout_set_mask(&L, mask);
    for (int k = 0; k < L.nnz; k++) sc[k] = 1.0 + rng_uniform_f32(&rng);
    sc[0] = NAN;
    prune_select_mask(&L, sc, L.nnz - 1, m1);
    check(m1[0] == 0, "selection: a NaN score is pruned first");

    /* ---- global selection */
    BsrLayout G[3];
    bsr_layout_init(&G[0], 48, 64, 8);    /* 6 x 8 = 48 */
    bsr_layout_init(&G[1], 64, 32, 8);    /* 8 x 4 = 32 */
    bsr_layout_init(&G[2], 40, 40, 8);    /* 5 x 5 = 25 */
    uint8_t *gm[3], *gm2[3];
    double *gs[3];
    for (int a = 0; a < 3; a++) {
        const int ga = bsr_num_grid_blocks(&G[a]);
        gm[a] = (uint8_t *)malloc_check((size_t)ga);
        gm2[a] = (uint8_t *)malloc_check((size_t)ga);
        gs[a] = (double *)malloc_check((size_t)ga * sizeof(double));
    }
    const BsrLayout *Gp[3] = { &G[0], &G[1], &G[2] };
    const double *gsp[3] = { gs[0], gs[1], gs[2] };
    int ok_total = 1, ok_one = 1, ok_top = 1, ok_rep = 1, ok_scale = 1;
    for (int trial = 0; trial < 30; trial++) {
        int total_live = 0;
        for (int a = 0; a < 3; a++) {
            uint8_t mm[64];
            make_mask(mm, G[a].brows, G[a].bcols, trial % 3 == 0 ? PAT_RANDOM : PAT_EMPTY_COL);
            bsr_layout_set_mask(&G[a], mm);
            /* matrix 2 gets scores scaled by 1/1024 on every other trial (exact in binary: the
             * ranking, by score over the matrix's mean, must not see it; checked below) */
            const double scale = (a == 2 && trial % 2) ? 1.0 / 1024.0 : 1.0;
            for (int k = 0; k < G[a].nnz; k++) gs[a][k] = scale * (double)(1 + rng_below(&rng, 4));
            total_live += G[a].nnz;
        }
        int nonempty = 0;
        for (int a = 0; a < 3; a++) nonempty += G[a].nnz > 0;
        const int want_total_n = (int)rng_below(&rng, (uint64_t)total_live + 2);
        prune_select_global(Gp, gsp, 3, want_total_n, gm);
        prune_select_global(Gp, gsp, 3, want_total_n, gm2);
        { /* a matrix's scale does not move the selection: matrix 0's scores x 4096 give the same masks */
            uint8_t *gm3[3];
            double *big = (double *)malloc_check((size_t)(G[0].nnz + 1) * sizeof(double));
            for (int k = 0; k < G[0].nnz; k++) big[k] = gs[0][k] * 4096.0;
            const double *bsp[3] = { big, gs[1], gs[2] };
            for (int a = 0; a < 3; a++) gm3[a] = (uint8_t *)malloc_check((size_t)bsr_num_grid_blocks(&G[a]));
            prune_select_global(Gp, bsp, 3, want_total_n, gm3);
            for (int a = 0; a < 3; a++) {
                ok_scale = ok_scale && memcmp(gm[a], gm3[a], (size_t)bsr_num_grid_blocks(&G[a])) == 0;
                free(gm3[a]);
            }
            free(big);
        }
        int kept = 0, kept_a[3] = { 0, 0, 0 };
        for (int a = 0; a < 3; a++) {
            const int ga = bsr_num_grid_blocks(&G[a]);
            for (int i = 0; i < ga; i++) { kept += gm[a][i]; kept_a[a] += gm[a][i]; if (gm[a][i] && !G[a].mask[i]) ok_total = 0; }
            ok_rep = ok_rep && memcmp(gm[a], gm2[a], (size_t)ga) == 0;
            if (G[a].nnz > 0 && kept_a[a] < 1) ok_one = 0;
        }
        int expect = want_total_n < nonempty ? nonempty : want_total_n;
        if (expect > total_live) expect = total_live;
        if (kept != expect) ok_total = 0;
        /* brute force: each matrix's best block, plus the best (expect - nonempty)
         * of the rest, in order (score / the matrix's mean live score desc, matrix asc, grid asc) */
        double unit[3];
        for (int a = 0; a < 3; a++) {
            double sum = 0.0;
            for (int k = 0; k < G[a].nnz; k++) sum += gs[a][k];
            unit[a] = G[a].nnz ? sum / G[a].nnz : 1.0;
        }
        int ok_unit = 1;
        for (int a = 0; a < 3; a++) ok_unit &= prune_score_unit(&G[a], gs[a]) == unit[a];
        if (!ok_unit) ok_top = 0;
        for (int a = 0; a < 3; a++)
            for (int k = 0; k < G[a].nnz; k++) {
                const int gk = bsr_block_row(&G[a], k) * G[a].bcols + G[a].col_indices[k];
                int before_own = 0, before_other_nonbest = 0, best = 1;
                for (int b = 0; b < 3; b++)
                    for (int q = 0; q < G[b].nnz; q++) {
                        const int gq = bsr_block_row(&G[b], q) * G[b].bcols + G[b].col_indices[q];
                        const double sq = gs[b][q] / unit[b], sk = gs[a][k] / unit[a];
                        const int ahead = sq > sk || (sq == sk && (b < a || (b == a && gq < gk)));
                        if (!ahead) continue;
                        if (b == a) { before_own++; best = 0; }
                        /* count non-best blocks of any matrix ahead of this one */
                        int q_best = 1;
                        for (int z = 0; z < G[b].nnz && q_best; z++) {
                            const int gz = bsr_block_row(&G[b], z) * G[b].bcols + G[b].col_indices[z];
                            const double sz = gs[b][z] / unit[b];
                            if (sz > sq || (sz == sq && gz < gq)) q_best = 0;
                        }
                        if (!q_best) before_other_nonbest++;
                    }
                (void)before_own;
                const int want = best || before_other_nonbest < expect - nonempty;
                if (gm[a][gk] != want) ok_top = 0;
            }
    }
    check(ok_total, "global selection keeps max(n_live_total, #non-empty) capped at the live count, never revives");
    check(ok_one, "global selection keeps at least one block per non-empty matrix");
    check(ok_top, "global selection == brute force (best of each matrix + best of the rest; ties: matrix, then grid index)");
    check(ok_rep, "global selection run twice gives identical masks");
    check(ok_scale, "global selection ranks by score over the matrix's mean: scaling one matrix's scores changes nothing");

    /* tie order across matrices: all-equal scores, budget 2 + 3 */
    {
        uint8_t all[64];
        memset(all, 1, sizeof all);
        bsr_layout_set_mask(&G[0], all);
        bsr_layout_set_mask(&G[1], all);
        const BsrLayout *two[2] = { &G[0], &G[1] };
        for (int k = 0; k < G[0].nnz; k++) gs[0][k] = 2.5;
        for (int k = 0; k < G[1].nnz; k++) gs[1][k] = 2.5;
        const double *two_s[2] = { gs[0], gs[1] };
        prune_select_global(two, two_s, 2, 5, gm);
        int ok = 1;
        for (int i = 0; i < bsr_num_grid_blocks(&G[0]); i++) ok = ok && gm[0][i] == (i < 4);
        for (int i = 0; i < bsr_num_grid_blocks(&G[1]); i++) ok = ok && gm[1][i] == (i < 1);
        check(ok, "global selection ties: lower matrix index first, then lower grid index; the other keeps its first block");
        /* budget below the number of matrices: one each */
        prune_select_global(Gp, gsp, 3, 1, gm);
        int c[3] = { 0, 0, 0 };
        for (int a = 0; a < 3; a++)
            for (int i = 0; i < bsr_num_grid_blocks(&G[a]); i++) c[a] += gm[a][i];
        check((c[0] == 1) && (c[1] == 1) && (c[2] == (G[2].nnz > 0)), "global selection with n_live_total=1 keeps one block per non-empty matrix");
        /* an empty matrix stays empty and does not count */
        uint8_t none[64];
        memset(none, 0, sizeof none);
        bsr_layout_set_mask(&G[2], none);
        prune_select_global(Gp, gsp, 3, 10, gm);
        int k2 = 0, kt = 0;
        for (int a = 0; a < 3; a++)
            for (int i = 0; i < bsr_num_grid_blocks(&G[a]); i++) { kt += gm[a][i]; if (a == 2) k2 += gm[a][i]; }
        check(k2 == 0 && kt == 10, "global selection with an all-dead matrix: it stays empty, the others share the budget");
    }
    for (int a = 0; a < 3; a++) { bsr_layout_free(&G[a]); free(gm[a]); free(gm2[a]); free(gs[a]); }
    free(mask); free(m1); free(m2); free(mb); free(sc);
    bsr_layout_free(&L);
}

/* ------------------------------------------------------------------ main */

/* ------------------------------------------------------------------ weight-gradient block pairs */

/* One call of bsr_dw_pairs checked against what it promises (bsr.h): every live block once; each
 * pair inside the line its flag names; the counts it reports; the line pairing alone when that fits
 * max_pairs; else exactly max_pairs, or a maximal cross matching (no two lone blocks' primary lines
 * meet in a line of the other direction). Returns the number of cross pairs. */
static int check_dw_pairs(const BsrLayout *L, int by_rows, int max_pairs, const char *tag) {
    const int nnz = L->nnz, nl = by_rows ? L->brows : L->bcols, nx = by_rows ? L->bcols : L->brows;
    const int *off = by_rows ? L->row_offsets : L->bsc_offsets;
    int *pairs = (int *)malloc_check((size_t)3 * (nnz + 1) * sizeof(int));
    int shared = -1, cross = -1;
    const int np = bsr_dw_pairs(L, by_rows, max_pairs, pairs, &shared, &cross);
    int line_pairs = 0, ok = 1, n2 = 0, nx2 = 0, nlone = 0;
    for (int l = 0; l < nl; l++) line_pairs += (off[l + 1] - off[l] + 1) / 2;
    int *seen = (int *)calloc_check((size_t)nnz + 1, sizeof(int));
    int *lone = (int *)malloc_check(((size_t)np + 1) * sizeof(int));
    for (int p = 0; p < np && ok; p++) {
        const int a = pairs[3 * p], b = pairs[3 * p + 1], r = pairs[3 * p + 2];
        ok &= a >= 0 && a < nnz && b >= -1 && b < nnz && (r == 0 || r == 1);
        if (!ok) break;
        ok &= !seen[a]++;
        const int ra = bsr_block_row(L, a), ca = L->col_indices[a];
        if (b < 0) { lone[nlone++] = by_rows ? ra : ca; continue; }
        ok &= !seen[b]++;
        ok &= r ? bsr_block_row(L, b) == ra : L->col_indices[b] == ca;
        n2++;
        nx2 += r != by_rows;
    }
    for (int k = 0; k < nnz && ok; k++) ok &= seen[k] == 1;
    int maximal = 1;
    for (int i = 0; i < nlone && ok && maximal; i++)
        for (int j = i + 1; j < nlone && maximal; j++)
            for (int x = 0; x < nx && maximal; x++) {
                const int ri = by_rows ? lone[i] : x, ci = by_rows ? x : lone[i];
                const int rj = by_rows ? lone[j] : x, cj = by_rows ? x : lone[j];
                if (L->mask[ri * L->bcols + ci] && L->mask[rj * L->bcols + cj]) maximal = 0;
            }
    const int count_ok = line_pairs <= max_pairs ? np == line_pairs && cross == 0
                                                 : np == max_pairs || (np > max_pairs && maximal);
    check(ok && count_ok && shared == n2 && cross == nx2 && np == nnz - n2 && cross == line_pairs - np,
          "%s: dW pairs by %s, max %d: %d pairs (%d of two, %d across; line pairing %d), blocks once in their "
          "lines %d, count %d (maximal %d)",
          tag, by_rows ? "rows" : "columns", max_pairs, np, shared, cross, line_pairs, ok, count_ok, maximal);
    free(pairs); free(seen); free(lone);
    return cross;
}

static void test_dw_pairs(void) {
    /* by hand: rows 0 and 1 hold one block each in column 0, row 2 one in column 1; rows primary,
     * 3 line pairs, room for 2: rows 0 and 1 pair across in column 0, row 2's block alone */
    BsrLayout L;
    bsr_layout_init(&L, 12, 8, 4);
    const uint8_t m3[6] = {1, 0, 1, 0, 0, 1};
    bsr_layout_set_mask(&L, m3);
    int pairs[9], ns, nx;
    const int np = bsr_dw_pairs(&L, 1, 2, pairs, &ns, &nx);
    check(np == 2 && ns == 1 && nx == 1 && pairs[0] == 0 && pairs[1] == 1 && pairs[2] == 0 && pairs[3] == 2 &&
              pairs[4] == -1 && pairs[5] == 1,
          "dW pairs by hand: {0, 1, column} {2, alone} (got %d pairs: {%d %d %d} {%d %d %d})", np, pairs[0], pairs[1],
          pairs[2], pairs[3], pairs[4], pairs[5]);
    check(bsr_dw_pairs(&L, 1, 3, pairs, &ns, &nx) == 3 && nx == 0, "dW pairs by hand: room for 3, no cross pair");
    bsr_layout_free(&L);
    /* random masks of the trainer's MLP shapes (25 x 100 blocks: C 1600 at bs 64) near 0.9 and 0.5,
     * with room for everything, one pair fewer than the line pairing, a few fewer, and none */
    const int shapes[][2] = {{25, 100}, {100, 25}, {12, 48}, {7, 9}};
    const int pct[] = {10, 11, 50};
    int total_cross = 0;
    for (int s = 0; s < 4; s++)
        for (int q = 0; q < 3; q++) {
            const int br = shapes[s][0], bc = shapes[s][1];
            bsr_layout_init(&L, br * 2, bc * 2, 2);
            uint8_t *m = (uint8_t *)malloc_check((size_t)br * bc);
            for (int i = 0; i < br * bc; i++) m[i] = rng_below(&rng, 100) < (uint64_t)pct[q];
            m[0] = 1; /* at least one live block */
            bsr_layout_set_mask(&L, m);
            char tag[64];
            for (int by_rows = 0; by_rows < 2; by_rows++) {
                const int *off = by_rows ? L.row_offsets : L.bsc_offsets;
                int lp = 0;
                for (int l = 0; l < (by_rows ? br : bc); l++) lp += (off[l + 1] - off[l] + 1) / 2;
                const int room[] = {1 << 30, lp - 1, lp - 3, 0};
                for (int r = 0; r < 4; r++) {
                    snprintf(tag, sizeof tag, "%dx%d blocks, %d%% live", br, bc, pct[q]);
                    total_cross += check_dw_pairs(&L, by_rows, room[r], tag);
                }
            }
            free(m);
            bsr_layout_free(&L);
        }
    check(total_cross > 0, "dW pairs: the random cases paired across at least once (%d cross pairs)", total_cross);
}

int main(void) {
    rng_seed(&rng, 1337);
    printf("test_sparse: real = %s, kernel tolerance %.0e relative to the sum of |terms|\n", REAL_NAME, KTOL);

    BsrLayout bad;
    check(bsr_layout_init(&bad, 64, 96, 48) == -1 && bsr_layout_init(&bad, 64, 96, 0) == -1 &&
              bsr_layout_init(&bad, 0, 96, 16) == -1 && bsr_layout_init(&bad, 60, 96, 16) == -1,
          "bsr_layout_init rejects a block size that does not divide the shape, and non-positive sizes");

    struct { int rows, cols, bs, N; } shapes[] = {
        { 64, 96, 16, 37 }, { 32, 32, 8, 70 }, { 48, 80, 16, 5 }, { 128, 64, 32, 33 },
        { 24, 40, 8, 1 }, { 7, 5, 1, 9 }, { 256, 128, 64, 40 }, { 128, 256, 128, 12 }, { 8, 8, 8, 3 },
        /* block sizes that are not a multiple of the kernels' register tile: tile + tail paths */
        { 96, 144, 48, 21 }, { 72, 108, 36, 10 }, { 80, 120, 40, 66 },
    };
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int p = 0; p < PAT_N; p++) {
            if (shapes[s].rows == shapes[s].bs && shapes[s].cols == shapes[s].bs && (p == PAT_EMPTY_ROW || p == PAT_EMPTY_COL)) continue;
            test_case(shapes[s].rows, shapes[s].cols, shapes[s].bs, (Pattern)p, shapes[s].N);
        }

    test_schedule();
    const PruneScheduleKind kinds[3] = { PRUNE_CUBIC, PRUNE_LINEAR, PRUNE_ONESHOT };
    for (int kd = 0; kd < 3; kd++) {
        test_schedule_simulation(kinds[kd], BSR_SCORE_L2, 0);
        test_schedule_simulation(kinds[kd], BSR_SCORE_L1, 0);
        test_schedule_simulation(kinds[kd], BSR_SCORE_L2, 1);
    }
    test_selection();
    test_dw_pairs();

    printf("test_sparse: %d checks, %d failed\n", n_checks, n_failures);
    return n_failures ? 1 : 0;
}
