/*
 * test_bsr_kernels.cu - every BSR GPU kernel against the CPU reference of
 * sparse/bsr.h (bsr_matmul_forward_cpu / bsr_matmul_backward_cpu, float, on the
 * same bf16-rounded inputs).
 *
 * Cases: several shapes, block sizes 32, 64 and 128, densities from all-live to one
 * live block (and zero), masks with empty block rows and columns, N multiples of
 * the tile and ragged tails; outputs poisoned (all-ones bytes = NaN) before each
 * run so an unwritten element fails; accumulate and overwrite modes; the dense
 * cuBLASLt paths and the crossover dispatch; run-to-run bit equality.
 *
 * Tolerances (fp32 accumulation, bf16 inputs identical to the reference's):
 *   bf16 outputs: relative L2 error <= 1e-2 and max |err| <= 2e-2 * max |ref|
 *                 (one bf16 rounding of the output is 2^-9 relative)
 *   fp32 outputs: relative L2 error <= 1e-4 and max |err| <= 1e-4 * max |ref| + 1e-5
 *                 (summation order only)
 * NaN anywhere fails. Exit status 1 on any failure.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/utils.h"
#include "../sparse/bsr.h"
#include "../sparse/bsr_kernels.cuh"

static int g_fail = 0, g_checks = 0;


static void fill_bf16(Rng *rng, float *h, bf16 *hb, size_t n, float scale) {
    for (size_t i = 0; i < n; i++) {
        float v = (2.f * rng_uniform_f32(rng) - 1.f) * scale;
        if (v == 0.f) v = 0.5f * scale;
        hb[i] = __float2bfloat16(v);
        h[i] = __bfloat162float(hb[i]);
    }
}

static bf16 *to_dev_bf16(const bf16 *h, size_t n) {
    bf16 *d;
    CUDA_CHECK(cudaMalloc(&d, (n ? n : 1) * sizeof(bf16)));
    if (n) CUDA_CHECK(cudaMemcpy(d, h, n * sizeof(bf16), cudaMemcpyHostToDevice));
    return d;
}

/* compare out (n values) against ref; is_bf16 selects the tolerance */
static void check(const char *what, const char *cs, const float *out, const float *ref, size_t n, int is_bf16) {
    double num = 0, den = 0, maxerr = 0, maxref = 0;
    size_t nan_at = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
        if (!(out[i] == out[i]) || isinf(out[i])) { if (nan_at == (size_t)-1) nan_at = i; continue; }
        const double d = (double)out[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
        if (fabs(d) > maxerr) maxerr = fabs(d);
        if (fabs(ref[i]) > maxref) maxref = fabs(ref[i]);
    }
    const double rel = den > 0 ? sqrt(num / den) : sqrt(num);
    const double tol_rel = is_bf16 ? 1e-2 : 1e-4;
    const double tol_abs = is_bf16 ? 2e-2 * maxref : 1e-4 * maxref + 1e-5;
    const int ok = nan_at == (size_t)-1 && rel <= tol_rel && maxerr <= tol_abs + (den == 0 ? 1e-6 : 0);
    g_checks++;
    if (!ok) {
        g_fail++;
        printf("  FAIL %-28s %s: rel_l2 %.3e (tol %.0e) max_abs %.3e (tol %.3e)%s", what, cs, rel, tol_rel, maxerr,
               tol_abs, nan_at != (size_t)-1 ? " NaN/unwritten" : "");
        if (nan_at != (size_t)-1) printf(" first at %zu", nan_at);
        printf("\n");
    } else {
        printf("  ok   %-28s rel_l2 %.2e max_abs %.2e\n", what, rel, maxerr);
    }
}

static void dev_bf16_to_float(float *h, const bf16 *d, size_t n) {
    bf16 *tmp = (bf16 *)malloc_check((n ? n : 1) * sizeof(bf16));
    if (n) CUDA_CHECK(cudaMemcpy(tmp, d, n * sizeof(bf16), cudaMemcpyDeviceToHost));
    for (size_t i = 0; i < n; i++) h[i] = __bfloat162float(tmp[i]);
    free(tmp);
}

static float gelu_ref(float x) {
    const float s = 0.7978845608028654f;
    return 0.5f * x * (1.f + tanhf(s * (x + 0.044715f * x * x * x)));
}

static float gelu_grad_ref(float x) {
    const float s = 0.7978845608028654f;
    const float th = tanhf(s * (x + 0.044715f * x * x * x));
    return 0.5f * (1.f + th) + x * 0.5f * (1.f - th * th) * s * (1.f + 3.f * 0.044715f * x * x);
}

enum { MASK_RANDOM, MASK_EMPTY_RC, MASK_ONE, MASK_ALL, MASK_NONE };

typedef struct {
    int rows, cols, bs, N;
    int kind;
    float density;
} Case;

/* d_buf (bf16, n) <- random values v; returns v + add (the reference of an accumulate onto d_buf) */
static float *upload_random_plus(Rng *rng, bf16 *d_buf, const float *add, size_t n) {
    float *v = (float *)malloc_check(n * 4);
    bf16 *vb = (bf16 *)malloc_check(n * 2);
    fill_bf16(rng, v, vb, n, 1.f);
    CUDA_CHECK(cudaMemcpy(d_buf, vb, n * 2, cudaMemcpyHostToDevice));
    for (size_t i = 0; i < n; i++) v[i] += add[i];
    free(vb);
    return v;
}

/* A measured forward / dX decision's variant: one of spmm_candidates' (bsr_crossover.cu, written
 * again here as the test's oracle) where the crossover times them (ctx->tune forces none in these
 * tests; timed whichever path wins), else -1 (the default rule: block 32, no TMA / wgmma) */
static int spmm_decision_variant_ok(const BsrCtx *ctx, int v, int bs) {
    if (!bsr_ctx_times_spmm_variants(ctx, bs)) return v == -1;
    return v == 26 || v == 27 || v == 28 || (v == 32 && bs == 64);
}

static void make_mask(Rng *rng, uint8_t *m, int brows, int bcols, int kind, float density) {
    const int g = brows * bcols;
    for (int i = 0; i < g; i++) m[i] = 0;
    if (kind == MASK_ALL) { for (int i = 0; i < g; i++) m[i] = 1; return; }
    if (kind == MASK_NONE) return;
    if (kind == MASK_ONE) { m[rng_below(rng, g)] = 1; return; }
    for (int i = 0; i < g; i++) m[i] = rng_uniform_f32(rng) < density;
    if (kind == MASK_EMPTY_RC) { /* empty block row 0 and last block column, plus one more each */
        const int er = brows > 1 ? (int)rng_below(rng, brows) : 0;
        const int ec = bcols > 1 ? (int)rng_below(rng, bcols) : 0;
        for (int c = 0; c < bcols; c++) { m[c] = 0; m[er * bcols + c] = 0; }
        for (int r = 0; r < brows; r++) { m[r * bcols + bcols - 1] = 0; m[r * bcols + ec] = 0; }
    }
}

static void run_case(BsrCtx *ctx, Rng *rng, const Case *cs) {
    const int rows = cs->rows, cols = cs->cols, bs = cs->bs, N = cs->N;
    BsrLayout L;
    CHECK(bsr_layout_init(&L, rows, cols, bs) == 0, "rows/cols multiple of bs", "layout init");
    uint8_t *mask = (uint8_t *)malloc_check((size_t)L.brows * L.bcols);
    make_mask(rng, mask, L.brows, L.bcols, cs->kind, cs->density);
    bsr_layout_set_mask(&L, mask);
    const int nnz = L.row_offsets[L.brows];
    char desc[160];
    snprintf(desc, sizeof desc, "[%dx%d bs %d N %d nnz %d/%d kind %d]", rows, cols, bs, N, nnz, L.brows * L.bcols,
             cs->kind);
    printf("case %s\n", desc);

    BsrDeviceLayout D;
    bsr_device_layout_alloc(&D, rows, cols, bs);
    bsr_device_layout_upload(&D, &L);
    /* the weight gradient's block pairs (dW variant 12): the uploaded pairs are sparse/bsr.c's
     * bsr_dw_pairs (whose promises test_sparse checks on the CPU) for this GPU's SM count, in the
     * direction with fewer CTAs (equal: fewer cross pairs; then columns) */
    if (nnz > 0) {
        int sms = 0;
        CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0));
        int *got = (int *)malloc_check((size_t)3 * D.dw_npairs * sizeof(int));
        int *want[2], np[2], sh[2], xp[2];
        CUDA_CHECK(cudaMemcpy(got, D.dw_pairs, (size_t)3 * D.dw_npairs * sizeof(int), cudaMemcpyDeviceToHost));
        for (int r = 0; r < 2; r++) {
            want[r] = (int *)malloc_check((size_t)3 * (nnz + 1) * sizeof(int));
            np[r] = bsr_dw_pairs(&L, r, sms, want[r], &sh[r], &xp[r]);
        }
        const int rows_dir = np[1] != np[0] ? np[1] < np[0] : xp[1] < xp[0];
        const int ok = D.dw_pair_rows == rows_dir && D.dw_npairs == np[rows_dir] && D.dw_pairs_shared == sh[rows_dir] &&
                       !memcmp(got, want[rows_dir], (size_t)3 * D.dw_npairs * sizeof(int));
        g_checks++;
        if (!ok) {
            g_fail++;
            printf("  FAIL dW pairs %s: uploaded %d by %s, the host builder gives %d by rows / %d by columns\n", desc,
                   D.dw_npairs, D.dw_pair_rows ? "rows" : "columns", np[1], np[0]);
        } else {
            printf("  ok   dW pairs: %d for %d SMs (%d of two blocks, %d across; by %s)\n", D.dw_npairs, sms,
                   sh[rows_dir], xp[rows_dir], rows_dir ? "rows" : "columns");
        }
        free(got); free(want[0]); free(want[1]);
    }

    const size_t nx = (size_t)N * cols, ny = (size_t)N * rows, nw = (size_t)nnz * bs * bs;
    float *x = (float *)malloc_check(nx * 4), *w = (float *)malloc_check((nw ? nw : 1) * 4);
    float *bias = (float *)malloc_check(rows * 4), *dy = (float *)malloc_check(ny * 4);
    bf16 *xb = (bf16 *)malloc_check(nx * 2), *wb = (bf16 *)malloc_check((nw ? nw : 1) * 2);
    bf16 *biasb = (bf16 *)malloc_check(rows * 2), *dyb = (bf16 *)malloc_check(ny * 2);
    fill_bf16(rng, x, xb, nx, 1.f);
    fill_bf16(rng, w, wb, nw, 0.1f);
    fill_bf16(rng, bias, biasb, rows, 0.5f);
    fill_bf16(rng, dy, dyb, ny, 1.f);
    bf16 *d_x = to_dev_bf16(xb, nx), *d_w = to_dev_bf16(wb, nw), *d_bias = to_dev_bf16(biasb, rows);
    bf16 *d_dy = to_dev_bf16(dyb, ny);

    /* references */
    float *yref = (float *)malloc_check(ny * 4), *yref_nb = (float *)malloc_check(ny * 4);
    float *gref = (float *)malloc_check(ny * 4);
    bsr_matmul_forward_cpu(yref, x, &L, w, bias, N);
    bsr_matmul_forward_cpu(yref_nb, x, &L, w, NULL, N);
    for (size_t i = 0; i < ny; i++) gref[i] = gelu_ref(yref[i]);
    float *dxref = (float *)calloc_check(nx, 4), *dwref = (float *)calloc_check(nw ? nw : 1, 4);
    float *dbref = (float *)calloc_check(rows, 4);
    bsr_matmul_backward_cpu(dxref, dwref, dbref, dy, x, &L, w, N);

    size_t nmax = ny > nx ? ny : nx;
    if ((size_t)rows * cols > nmax) nmax = (size_t)rows * cols;
    if (nw > nmax) nmax = nw;
    float *hout = (float *)malloc_check(nmax * 4 + 16);
    bf16 *d_y, *d_pre, *d_dx;
    float *d_dw, *d_db;
    bf16 *d_dwb;
    CUDA_CHECK(cudaMalloc(&d_y, ny * 2));
    CUDA_CHECK(cudaMalloc(&d_pre, ny * 2));
    CUDA_CHECK(cudaMalloc(&d_dx, nx * 2));
    CUDA_CHECK(cudaMalloc(&d_dw, (nw ? nw : 1) * 4));
    CUDA_CHECK(cudaMalloc(&d_dwb, (nw ? nw : 1) * 2));
    CUDA_CHECK(cudaMalloc(&d_db, rows * 4));

    /* ---- forward, plain kernel: bias, no bias, GELU with pre_out */
    CUDA_CHECK(cudaMemset(d_y, 0xff, ny * 2));
    bsr_forward(d_y, NULL, d_x, d_w, d_bias, &D, N, 0, NULL, 0);
    CUDA_CHECK(cudaDeviceSynchronize());
    dev_bf16_to_float(hout, d_y, ny);
    check("forward+bias", desc, hout, yref, ny, 1);
    /* determinism */
    {
        bf16 *a = (bf16 *)malloc_check(ny * 2), *b = (bf16 *)malloc_check(ny * 2);
        CUDA_CHECK(cudaMemcpy(a, d_y, ny * 2, cudaMemcpyDeviceToHost));
        CUDA_CHECK(cudaMemset(d_y, 0xff, ny * 2));
        bsr_forward(d_y, NULL, d_x, d_w, d_bias, &D, N, 0, NULL, 0);
        CUDA_CHECK(cudaMemcpy(b, d_y, ny * 2, cudaMemcpyDeviceToHost));
        g_checks++;
        if (memcmp(a, b, ny * 2)) { g_fail++; printf("  FAIL forward not bit-identical run to run %s\n", desc); }
        free(a); free(b);
    }
    CUDA_CHECK(cudaMemset(d_y, 0xff, ny * 2));
    bsr_forward(d_y, NULL, d_x, d_w, NULL, &D, N, 0, NULL, 0);
    CUDA_CHECK(cudaDeviceSynchronize());
    dev_bf16_to_float(hout, d_y, ny);
    check("forward (no bias)", desc, hout, yref_nb, ny, 1);
    CUDA_CHECK(cudaMemset(d_y, 0xff, ny * 2));
    CUDA_CHECK(cudaMemset(d_pre, 0xff, ny * 2));
    bsr_forward(d_y, d_pre, d_x, d_w, d_bias, &D, N, 1, NULL, 0);
    CUDA_CHECK(cudaDeviceSynchronize());
    dev_bf16_to_float(hout, d_y, ny);
    check("forward+bias+gelu", desc, hout, gref, ny, 1);
    dev_bf16_to_float(hout, d_pre, ny);
    check("forward gelu pre_out", desc, hout, yref, ny, 1);

    /* ---- input gradient: overwrite, then accumulate onto random values */
    CUDA_CHECK(cudaMemset(d_dx, 0xff, nx * 2));
    bsr_backward_input(d_dx, d_dy, d_w, &D, N, 0, NULL, 0);
    CUDA_CHECK(cudaDeviceSynchronize());
    dev_bf16_to_float(hout, d_dx, nx);
    check("dinp", desc, hout, dxref, nx, 1);
    {
        float *ref2 = upload_random_plus(rng, d_dx, dxref, nx);
        bsr_backward_input(d_dx, d_dy, d_w, &D, N, 1, NULL, 0);
        CUDA_CHECK(cudaDeviceSynchronize());
        dev_bf16_to_float(hout, d_dx, nx);
        check("dinp accumulate", desc, hout, ref2, nx, 1);
        free(ref2);
    }

    /* ---- weight gradient: fp32 overwrite (with and without scratch), fp32 accumulate, bf16 */
    const size_t wsb = bsr_backward_weight_scratch_bytes(&D, N, NULL);
    if (nw) {
        for (int use_scratch = 0; use_scratch < 2; use_scratch++) {
            CUDA_CHECK(cudaMemset(d_dw, 0xff, nw * 4));
            bsr_backward_weight(d_dw, 1, 0, d_dy, d_x, &D, N, use_scratch ? ctx->scratch : NULL,
                                use_scratch ? ctx->scratch_bytes : 0, NULL, 0);
            CUDA_CHECK(cudaDeviceSynchronize());
            CUDA_CHECK(cudaMemcpy(hout, d_dw, nw * 4, cudaMemcpyDeviceToHost));
            check(use_scratch ? "dW fp32 (split-N)" : "dW fp32 (no split)", desc, hout, dwref, nw, 0);
        }
        /* determinism of the split path */
        {
            float *a = (float *)malloc_check(nw * 4);
            memcpy(a, hout, nw * 4);
            CUDA_CHECK(cudaMemset(d_dw, 0xff, nw * 4));
            bsr_backward_weight(d_dw, 1, 0, d_dy, d_x, &D, N, ctx->scratch, ctx->scratch_bytes, NULL, 0);
            CUDA_CHECK(cudaMemcpy(hout, d_dw, nw * 4, cudaMemcpyDeviceToHost));
            g_checks++;
            if (memcmp(a, hout, nw * 4)) { g_fail++; printf("  FAIL dW not bit-identical run to run %s\n", desc); }
            free(a);
        }
        {
            float *init = (float *)malloc_check(nw * 4), *ref2 = (float *)malloc_check(nw * 4);
            for (size_t i = 0; i < nw; i++) { init[i] = 2.f * rng_uniform_f32(rng) - 1.f; ref2[i] = init[i] + dwref[i]; }
            CUDA_CHECK(cudaMemcpy(d_dw, init, nw * 4, cudaMemcpyHostToDevice));
            bsr_backward_weight(d_dw, 1, 1, d_dy, d_x, &D, N, ctx->scratch, ctx->scratch_bytes, NULL, 0);
            CUDA_CHECK(cudaDeviceSynchronize());
            CUDA_CHECK(cudaMemcpy(hout, d_dw, nw * 4, cudaMemcpyDeviceToHost));
            check("dW fp32 accumulate", desc, hout, ref2, nw, 0);
            free(init); free(ref2);
        }
        CUDA_CHECK(cudaMemset(d_dwb, 0xff, nw * 2));
        bsr_backward_weight(d_dwb, 0, 0, d_dy, d_x, &D, N, ctx->scratch, ctx->scratch_bytes, NULL, 0);
        CUDA_CHECK(cudaDeviceSynchronize());
        dev_bf16_to_float(hout, d_dwb, nw);
        check("dW bf16", desc, hout, dwref, nw, 1);
    }
    (void)wsb;

    /* ---- every kernel variant (BsrTune): forward GELU+pre, dinp, dW split fp32; pass q runs
     * forward/dinp variant q of BSR_SPMM_VARIANTS (default past its end) and dW variant q */
    const int spmm_variants[] = BSR_SPMM_VARIANTS;
    const int n_spmm = (int)(sizeof spmm_variants / sizeof spmm_variants[0]);
    for (int q = 0; q < (n_spmm > BSR_DW_VARIANTS ? n_spmm : BSR_DW_VARIANTS); q++) {
        char what[64];
        BsrTune tune = bsr_tune_default();
        const int v = q < n_spmm ? spmm_variants[q] : -1;
        tune.fwd = tune.dinp = v;
        tune.dw = q < BSR_DW_VARIANTS ? q : -1;
        tune.l2_prefetch = q % 3 - 1; /* the rule, none, one token tile ahead */
        CUDA_CHECK(cudaMemset(d_y, 0xff, ny * 2));
        CUDA_CHECK(cudaMemset(d_pre, 0xff, ny * 2));
        bsr_forward(d_y, d_pre, d_x, d_w, d_bias, &D, N, 1, &tune, 0);
        CUDA_CHECK(cudaDeviceSynchronize());
        dev_bf16_to_float(hout, d_y, ny);
        snprintf(what, sizeof what, "v%d forward+bias+gelu", v);
        check(what, desc, hout, gref, ny, 1);
        dev_bf16_to_float(hout, d_pre, ny);
        snprintf(what, sizeof what, "v%d forward pre_out", v);
        check(what, desc, hout, yref, ny, 1);
        CUDA_CHECK(cudaMemset(d_dx, 0xff, nx * 2));
        bsr_backward_input(d_dx, d_dy, d_w, &D, N, 0, &tune, 0);
        CUDA_CHECK(cudaDeviceSynchronize());
        dev_bf16_to_float(hout, d_dx, nx);
        snprintf(what, sizeof what, "v%d dinp", v);
        check(what, desc, hout, dxref, nx, 1);
        if (nw) {
            for (int sc = 0; sc < 2; sc++) {
                CUDA_CHECK(cudaMemset(d_dw, 0xff, nw * 4));
                bsr_backward_weight(d_dw, 1, 0, d_dy, d_x, &D, N, sc ? ctx->scratch : NULL, sc ? ctx->scratch_bytes : 0, &tune, 0);
                CUDA_CHECK(cudaDeviceSynchronize());
                CUDA_CHECK(cudaMemcpy(hout, d_dw, nw * 4, cudaMemcpyDeviceToHost));
                snprintf(what, sizeof what, "dW v%d fp32 %s", tune.dw, sc ? "split" : "nosplit");
                check(what, desc, hout, dwref, nw, 0);
            }
            if (tune.dw >= 9) { /* the m64n256 variants (10, 11: transposed write) and block pairs (12): bf16 accumulate too */
                float *ref2 = upload_random_plus(rng, d_dwb, dwref, nw);
                bsr_backward_weight(d_dwb, 0, 1, d_dy, d_x, &D, N, NULL, 0, &tune, 0);
                CUDA_CHECK(cudaDeviceSynchronize());
                dev_bf16_to_float(hout, d_dwb, nw);
                snprintf(what, sizeof what, "dW v%d bf16 accumulate", tune.dw);
                check(what, desc, hout, ref2, nw, 1);
                free(ref2);
            }
        }
    }

    /* ---- fused GELU paths of the fcproj layer (input = gelu(pre)):
     *   input gradient through GELU' with the column sums of the result (the fc bias gradient),
     *   weight gradient and forward with X = gelu(pre) applied in shared memory.
     * The pre-activation is random; the GPU's GELU uses tanh.approx (fast math) where the CPU uses
     * tanhf, so gelu(pre) may round differently in the last bf16 bit: bf16 tolerances here. */
    {
        float *pre = (float *)malloc_check(nx * 4), *dgref = (float *)malloc_check(nx * 4);
        bf16 *preb = (bf16 *)malloc_check(nx * 2);
        fill_bf16(rng, pre, preb, nx, 2.f);
        bf16 *d_pre_x = to_dev_bf16(preb, nx), *d_gs;
        CUDA_CHECK(cudaMalloc(&d_gs, nx * 2));
        for (size_t i = 0; i < nx; i++) dgref[i] = dxref[i] * gelu_grad_ref(pre[i]);
        const int chunks = bsr_colsum_chunks(N);
        float *csref = (float *)calloc_check((size_t)chunks * cols + 1, 4), *dbgref = (float *)calloc_check(cols, 4);
        for (int n = 0; n < N; n++)
            for (int c = 0; c < cols; c++) {
                csref[(size_t)(n / BSR_COLSUM_ROWS) * cols + c] += dgref[(size_t)n * cols + c];
                dbgref[c] += dgref[(size_t)n * cols + c];
            }
        float *d_cs, *d_dbg;
        CUDA_CHECK(cudaMalloc(&d_cs, ((size_t)chunks * cols + 1) * 4));
        CUDA_CHECK(cudaMalloc(&d_dbg, cols * 4));
        /* dW reference on X = bf16(gelu(pre)) */
        float *xg = (float *)malloc_check(nx * 4), *dwgref = (float *)calloc_check(nw ? nw : 1, 4);
        float *dxg = (float *)calloc_check(nx, 4), *dbg2 = (float *)calloc_check(rows, 4);
        for (size_t i = 0; i < nx; i++) xg[i] = __bfloat162float(__float2bfloat16(gelu_ref(pre[i])));
        bsr_matmul_backward_cpu(dxg, dwgref, dbg2, dy, xg, &L, w, N);
        float *ygref = (float *)malloc_check(ny * 4);
        bsr_matmul_forward_cpu(ygref, xg, &L, w, bias, N);
        for (int variant = 0; variant < 12; variant++) {
            /* 0: default kernels (fused), 1: cp.async / mma.sync kernels (unfused fallbacks),
             * 2, 3: fused with a 3- and a 1-stage ring (and dW split in 8 / in 2), 11: forward on 3
             * stages, dX on 2 (with 2 and 3: every fused variant the crossover may measure),
             * 4-6: the crossover forced dense, forced sparse, measured,
             * 7, 8: fused with 256-token tiles over two warpgroups (8: with the L2 prefetch, one token tile ahead),
             * 9, 10: dW in row / column groups with one m64n256 product per k16 (10: GELU on the
             * A operand, the transposed write) */
            BsrTune tune = bsr_tune_default();
            if (variant == 1) { tune.fwd = 11; tune.dinp = 11; tune.dw = 7; }
            if (variant == 2) { tune.fwd = 26; tune.dinp = 27; tune.dw_split = 8; }
            if (variant == 3) { tune.fwd = 28; tune.dinp = 28; tune.dw_split = 2; tune.l2_prefetch = 1; }
            if (variant == 7) { tune.fwd = 32; tune.dinp = 32; }
            if (variant == 8) { tune.fwd = 32; tune.dinp = 32; tune.l2_prefetch = 1; }
            if (variant == 9) tune.dw = 9;
            if (variant == 10) tune.dw = 10;
            if (variant == 11) { tune.fwd = 27; tune.dinp = 26; }
            const char *vn[] = {"fused", "unfused", "fused 3 stages", "fused 1 stage", "linear dense", "linear sparse",
                                "linear measured", "fused 256 rows", "fused 256 rows prefetch", "fused dW n256 rows",
                                "fused dW n256 columns", "fused fwd 3 stages dX 2"};
            const int direct = variant < 4 || variant > 6; /* the kernels, not the crossover */
            char what[96];
            ctx->force_path = variant == 4 ? BSR_PATH_DENSE : variant == 5 ? BSR_PATH_SPARSE : 0;
            bsr_ctx_reset_decisions(ctx);
            CUDA_CHECK(cudaMemset(d_dx, 0xff, nx * 2));
            CUDA_CHECK(cudaMemset(d_cs, 0xff, ((size_t)chunks * cols + 1) * 4));
            if (direct) bsr_backward_input_dgelu(d_dx, d_cs, d_dy, d_w, d_pre_x, &D, N, &tune, 0);
            else bsr_linear_backward_input_dgelu(ctx, d_dx, d_cs, d_dy, d_w, d_pre_x, &D, N, 0);
            bsr_colsum_finish(d_dbg, d_cs, N, cols, 0, 0);
            CUDA_CHECK(cudaDeviceSynchronize());
            dev_bf16_to_float(hout, d_dx, nx);
            snprintf(what, sizeof what, "dinp dgelu (%s)", vn[variant]);
            check(what, desc, hout, dgref, nx, 1);
            CUDA_CHECK(cudaMemcpy(hout, d_cs, ((size_t)chunks * cols + 1) * 4, cudaMemcpyDeviceToHost));
            snprintf(what, sizeof what, "colsum partials (%s)", vn[variant]);
            check(what, desc, hout, csref, (size_t)chunks * cols, 1);
            g_checks++;
            { /* the word after the partials is not written */
                uint32_t guard;
                memcpy(&guard, hout + (size_t)chunks * cols, 4);
                if (guard != 0xffffffffu) { g_fail++; printf("  FAIL colsum wrote past its %d chunks %s\n", chunks, desc); }
            }
            CUDA_CHECK(cudaMemcpy(hout, d_dbg, cols * 4, cudaMemcpyDeviceToHost));
            snprintf(what, sizeof what, "dbias from colsum (%s)", vn[variant]);
            check(what, desc, hout, dbgref, cols, 1);
            /* forward of the layer on gelu(pre) */
            CUDA_CHECK(cudaMemset(d_y, 0xff, ny * 2));
            CUDA_CHECK(cudaMemset(d_gs, 0xff, nx * 2));
            if (direct) bsr_forward_gelu_input(d_y, d_pre_x, d_w, d_bias, d_gs, &D, N, &tune, 0);
            else bsr_linear_forward_gelu_input(ctx, d_y, d_pre_x, d_w, d_bias, d_gs, &D, N, 0);
            CUDA_CHECK(cudaDeviceSynchronize());
            dev_bf16_to_float(hout, d_y, ny);
            snprintf(what, sizeof what, "fwd on gelu(X) (%s)", vn[variant]);
            check(what, desc, hout, ygref, ny, 1);
            if (nw) {
                CUDA_CHECK(cudaMemset(d_dw, 0xff, nw * 4));
                CUDA_CHECK(cudaMemset(d_gs, 0xff, nx * 2));
                if (direct)
                    bsr_backward_weight_gelu(d_dw, 1, 0, d_dy, d_pre_x, d_gs, &D, N, ctx->scratch, ctx->scratch_bytes,
                                             &tune, 0);
                else {
                    CUDA_CHECK(cudaMemset(d_dw, 0, nw * 4));
                    bsr_linear_backward_weight_gelu(ctx, d_dw, 1, 1, d_dy, d_pre_x, d_gs, &D, N, 0);
                }
                CUDA_CHECK(cudaDeviceSynchronize());
                CUDA_CHECK(cudaMemcpy(hout, d_dw, nw * 4, cudaMemcpyDeviceToHost));
                snprintf(what, sizeof what, "dW gelu(X) (%s)", vn[variant]);
                check(what, desc, hout, dwgref, nw, 1);
            }
        }
        ctx->force_path = 0;
        CUDA_CHECK(cudaFree(d_pre_x)); CUDA_CHECK(cudaFree(d_gs)); CUDA_CHECK(cudaFree(d_cs)); CUDA_CHECK(cudaFree(d_dbg));
        free(pre); free(dgref); free(preb); free(csref); free(dbgref); free(xg); free(dwgref); free(dxg); free(dbg2); free(ygref);
    }

    /* ---- bias gradient */
    CUDA_CHECK(cudaMemset(d_db, 0xff, rows * 4));
    bsr_backward_bias(d_db, 0, d_dy, N, rows, ctx->scratch, 0);
    CUDA_CHECK(cudaDeviceSynchronize());
    CUDA_CHECK(cudaMemcpy(hout, d_db, rows * 4, cudaMemcpyDeviceToHost));
    check("dbias", desc, hout, dbref, rows, 0);

    /* ---- unpack */
    {
        bf16 *d_dense;
        const size_t nd = (size_t)rows * cols;
        CUDA_CHECK(cudaMalloc(&d_dense, nd * 2));
        CUDA_CHECK(cudaMemset(d_dense, 0xff, nd * 2));
        bsr_unpack_bf16(d_dense, d_w, &D, 0);
        CUDA_CHECK(cudaDeviceSynchronize());
        float *dref = (float *)malloc_check(nd * 4);
        bsr_unpack_f32(&L, w, dref);
        dev_bf16_to_float(hout, d_dense, nd);
        g_checks++;
        if (memcmp(hout, dref, nd * 4)) { g_fail++; printf("  FAIL unpack not exact %s\n", desc); }
        else printf("  ok   unpack exact\n");
        free(dref);
        CUDA_CHECK(cudaFree(d_dense));
    }

    /* ---- dispatch: forced dense, forced sparse, measured, by rule (no timing) */
    for (int p = 0; p < 4; p++) {
        const int path = p == 0 ? BSR_PATH_DENSE : p == 1 ? BSR_PATH_SPARSE : 0;
        const char *pn = p == 0 ? "dense" : p == 1 ? "sparse" : p == 2 ? "measured" : "rule";
        char what[64];
        ctx->force_path = path;
        ctx->by_rule = p == 3;
        bsr_ctx_reset_decisions(ctx);
        CUDA_CHECK(cudaMemset(d_y, 0xff, ny * 2));
        CUDA_CHECK(cudaMemset(d_pre, 0xff, ny * 2));
        bsr_linear_forward(ctx, d_y, d_pre, d_x, d_w, d_bias, &D, N, 1, 0);
        CUDA_CHECK(cudaDeviceSynchronize());
        dev_bf16_to_float(hout, d_y, ny);
        snprintf(what, sizeof what, "linear fwd gelu (%s)", pn);
        check(what, desc, hout, gref, ny, 1);
        dev_bf16_to_float(hout, d_pre, ny);
        snprintf(what, sizeof what, "linear fwd pre (%s)", pn);
        check(what, desc, hout, yref, ny, 1);
        CUDA_CHECK(cudaMemset(d_dx, 0xff, nx * 2));
        bsr_linear_backward_input(ctx, d_dx, d_dy, d_w, &D, N, 0, 0);
        CUDA_CHECK(cudaDeviceSynchronize());
        dev_bf16_to_float(hout, d_dx, nx);
        snprintf(what, sizeof what, "linear dinp (%s)", pn);
        check(what, desc, hout, dxref, nx, 1);
        if (p >= 2) { /* the forward / input-gradient decisions: measured, a variant the crossover may
                       * time (-1, the default rule, only where it has none to time: block 32 or no
                       * TMA / wgmma); by rule, none */
            const BsrDecision *dd[2] = {
                bsr_crossover_lookup(ctx, BSR_OP_FWD, &D, N, BSR_FWD_GELU | BSR_FWD_BIAS | BSR_FWD_PRE_OUT),
                bsr_crossover_lookup(ctx, BSR_OP_DINP, &D, N, 0)};
            for (int o = 0; o < 2; o++) {
                const int v = dd[o] ? dd[o]->spmm_variant : -9;
                const int known = spmm_decision_variant_ok(ctx, v, D.bs);
                g_checks++;
                if (!dd[o] || (p == 3 ? v != -1 : !known)) {
                    g_fail++;
                    printf("  FAIL %s decision (%s): %s variant %d %s\n", o ? "dinp" : "fwd", pn,
                           dd[o] ? "kernel" : "missing,", v, desc);
                }
            }
            if (p == 2 && dd[0] && dd[1]) { /* timing the dense path caches no copy: only a weight that a
                                              * decision sends to the dense path has one */
                const int dense_used = dd[0]->path == BSR_PATH_DENSE || dd[1]->path == BSR_PATH_DENSE;
                g_checks++;
                if (ctx->n_wcache != dense_used) {
                    g_fail++;
                    printf("  FAIL dense weight cache: %d entries after measured decisions fwd %s, dinp %s %s\n",
                           ctx->n_wcache, dd[0]->path == BSR_PATH_DENSE ? "dense" : "sparse",
                           dd[1]->path == BSR_PATH_DENSE ? "dense" : "sparse", desc);
                }
            }
        }
        if (p == 2) { /* a dX decision first made by an accumulating call (onto random values): measured
                       * on a scratch output, it carries a timed variant as a plain call's would, since
                       * later plain calls with its key reuse it */
            bsr_ctx_reset_decisions(ctx);
            float *ref3 = upload_random_plus(rng, d_dx, dxref, nx);
            bsr_linear_backward_input(ctx, d_dx, d_dy, d_w, &D, N, 1, 0);
            CUDA_CHECK(cudaDeviceSynchronize());
            dev_bf16_to_float(hout, d_dx, nx);
            check("linear dinp acc (measured)", desc, hout, ref3, nx, 1);
            free(ref3);
            const BsrDecision *dd = bsr_crossover_lookup(ctx, BSR_OP_DINP, &D, N, 0);
            const int v = dd ? dd->spmm_variant : -9;
            const int known = spmm_decision_variant_ok(ctx, v, D.bs);
            g_checks++;
            if (!dd || !known) {
                g_fail++;
                printf("  FAIL dinp decision made by an accumulating call: %s variant %d %s\n",
                       dd ? "kernel" : "missing,", v, desc);
            }
        }
        if (p == 0 && nw) {
            /* the dense path's cached copy of W: it must exist, and be refreshed after
             * bsr_ctx_weights_changed (weights negated: dX must negate exactly) */
            g_checks++;
            if (ctx->n_wcache < 1) { g_fail++; printf("  FAIL dense weight cache holds no weight %s\n", desc); }
            bf16 *neg = (bf16 *)malloc_check(nw * 2);
            float *negref = (float *)malloc_check(nx * 4);
            for (size_t i = 0; i < nw; i++) neg[i] = __hneg(wb[i]); /* exact: flips the sign bit */
            for (size_t i = 0; i < nx; i++) negref[i] = -dxref[i];
            CUDA_CHECK(cudaMemcpy(d_w, neg, nw * 2, cudaMemcpyHostToDevice));
            bsr_ctx_weights_changed(ctx);
            CUDA_CHECK(cudaMemset(d_dx, 0xff, nx * 2));
            const int n_algos = ctx->blas.nchoices; /* this GEMM shape's cuBLASLt pick is cached */
            bsr_linear_backward_input(ctx, d_dx, d_dy, d_w, &D, N, 0, 0);
            CUDA_CHECK(cudaDeviceSynchronize());
            g_checks++;
            if (n_algos < 1 || ctx->blas.nchoices != n_algos) {
                g_fail++;
                printf("  FAIL cuBLASLt algorithm cache: %d entries before a repeated GEMM, %d after %s\n", n_algos,
                       ctx->blas.nchoices, desc);
            }
            dev_bf16_to_float(hout, d_dx, nx);
            check("linear dinp, weights changed (dense)", desc, hout, negref, nx, 1);
            CUDA_CHECK(cudaMemcpy(d_w, wb, nw * 2, cudaMemcpyHostToDevice));
            bsr_ctx_weights_changed(ctx);
            free(neg);
            free(negref);
        }
        if (nw) {
            CUDA_CHECK(cudaMemset(d_dw, 0, nw * 4));
            CUDA_CHECK(cudaMemset(d_db, 0, rows * 4));
            bsr_linear_backward_weight(ctx, d_dw, 1, d_db, 1, d_dy, d_x, &D, N, 0);
            CUDA_CHECK(cudaDeviceSynchronize());
            CUDA_CHECK(cudaMemcpy(hout, d_dw, nw * 4, cudaMemcpyDeviceToHost));
            snprintf(what, sizeof what, "linear dW acc (%s)", pn);
            check(what, desc, hout, dwref, nw, 0);
            CUDA_CHECK(cudaMemcpy(hout, d_db, rows * 4, cudaMemcpyDeviceToHost));
            snprintf(what, sizeof what, "linear dbias (%s)", pn);
            check(what, desc, hout, dbref, rows, 0);
            /* the trainer's form: bf16 dW accumulated onto random values (the dense path
             * gathers a bf16 dense gradient) */
            float *ref2 = upload_random_plus(rng, d_dwb, dwref, nw);
            bsr_linear_backward_weight(ctx, d_dwb, 0, NULL, 1, d_dy, d_x, &D, N, 0);
            CUDA_CHECK(cudaDeviceSynchronize());
            dev_bf16_to_float(hout, d_dwb, nw);
            snprintf(what, sizeof what, "linear dW bf16 acc (%s)", pn);
            check(what, desc, hout, ref2, nw, 1);
            free(ref2);
            if (p == 3) { /* by rule: sparse at density <= 1/2 (else dense), default dW kernels, nothing timed */
                const BsrDecision *dd = bsr_crossover_lookup(ctx, BSR_OP_DW, &D, N, 0);
                const int want = 2L * D.nnz <= (long)D.brows * D.bcols ? BSR_PATH_SPARSE : BSR_PATH_DENSE;
                g_checks++;
                if (!dd || dd->path != want || dd->dw_variant != -1 || dd->dw_split != 0 || !isnan(dd->sparse_ms)) {
                    g_fail++;
                    printf("  FAIL rule decision: path %d (want %d), dW variant %d split %d, timed %s %s\n",
                           dd ? dd->path : -1, want, dd ? dd->dw_variant : -9, dd ? dd->dw_split : -1,
                           dd && !isnan(dd->sparse_ms) ? "yes" : "no", desc);
                } else {
                    printf("  ok   rule decision: %s at density %.2f, nothing timed\n",
                           want == BSR_PATH_SPARSE ? "sparse" : "dense", (double)D.nnz / (D.brows * D.bcols));
                }
            }
            if (p == 2) { /* the measured decision keeps a variant and split count the kernels accept */
                const BsrDecision *dd = bsr_crossover_lookup(ctx, BSR_OP_DW, &D, N, 0);
                g_checks++;
                if (!dd || dd->dw_split < 0 || dd->dw_split > 8 || dd->dw_variant < -1 ||
                    dd->dw_variant >= BSR_DW_VARIANTS) {
                    g_fail++;
                    printf("  FAIL dW decision missing, or variant %d / split %d out of range %s\n",
                           dd ? dd->dw_variant : -9, dd ? dd->dw_split : -1, desc);
                }
                /* one decision serves live-block counts within the density band, none past it */
                const int slack = D.brows * D.bcols / BSR_DECISION_NNZ_SLACK;
                BsrDeviceLayout near = D, far = D;
                near.nnz = D.nnz + slack;
                far.nnz = D.nnz + slack + 1;
                g_checks++;
                if (dd && (bsr_crossover_lookup(ctx, BSR_OP_DW, &near, N, 0) != dd ||
                           bsr_crossover_lookup(ctx, BSR_OP_DW, &far, N, 0) != NULL)) {
                    g_fail++;
                    printf("  FAIL decision band: nnz %d + %d should share the decision, + %d not %s\n", D.nnz, slack,
                           slack + 1, desc);
                }
            }
        }
    }
    ctx->force_path = 0;
    ctx->by_rule = 0;

    CUDA_CHECK(cudaFree(d_y)); CUDA_CHECK(cudaFree(d_pre)); CUDA_CHECK(cudaFree(d_dx));
    CUDA_CHECK(cudaFree(d_dw)); CUDA_CHECK(cudaFree(d_dwb)); CUDA_CHECK(cudaFree(d_db));
    CUDA_CHECK(cudaFree(d_x)); CUDA_CHECK(cudaFree(d_w)); CUDA_CHECK(cudaFree(d_bias)); CUDA_CHECK(cudaFree(d_dy));
    free(x); free(w); free(bias); free(dy); free(xb); free(wb); free(biasb); free(dyb);
    free(yref); free(yref_nb); free(gref); free(dxref); free(dwref); free(dbref); free(hout); free(mask);
    bsr_device_layout_free(&D);
    bsr_layout_free(&L);
}

/* The crossover keeps every decision it measured (300 keys: one forward per token count; the table
 * used to hold 256 and overwrote its first entry past that, so global pruning at d48 measured 32 keys
 * again on every step), and a key it has measured is found again, not measured anew. */
static void test_decision_table(BsrCtx *ctx, Rng *rng) {
    const int rows = 256, cols = 256, bs = 64, nkeys = 300, step = 8, maxN = nkeys * step;
    BsrLayout L;
    CHECK(bsr_layout_init(&L, rows, cols, bs) == 0, "rows/cols multiple of bs", "layout init");
    uint8_t *mask = (uint8_t *)malloc_check((size_t)L.brows * L.bcols);
    make_mask(rng, mask, L.brows, L.bcols, MASK_ALL, 1.f);
    bsr_layout_set_mask(&L, mask);
    BsrDeviceLayout D;
    bsr_device_layout_alloc(&D, rows, cols, bs);
    bsr_device_layout_upload(&D, &L);
    const size_t nx = (size_t)maxN * cols, nw = (size_t)L.row_offsets[L.brows] * bs * bs;
    float *x = (float *)malloc_check(nx * 4), *w = (float *)malloc_check(nw * 4);
    bf16 *xb = (bf16 *)malloc_check(nx * 2), *wb = (bf16 *)malloc_check(nw * 2);
    fill_bf16(rng, x, xb, nx, 1.f);
    fill_bf16(rng, w, wb, nw, 0.1f);
    bf16 *d_x = to_dev_bf16(xb, nx), *d_w = to_dev_bf16(wb, nw), *d_y;
    CUDA_CHECK(cudaMalloc(&d_y, (size_t)maxN * rows * 2));
    bsr_ctx_reset_decisions(ctx);
    for (int i = 1; i <= nkeys; i++) bsr_linear_forward(ctx, d_y, NULL, d_x, d_w, NULL, &D, i * step, 0, 0);
    const int measured = ctx->n_dec;
    bsr_linear_forward(ctx, d_y, NULL, d_x, d_w, NULL, &D, step, 0, 0); /* the first key again */
    CUDA_CHECK(cudaDeviceSynchronize());
    g_checks++;
    if (measured != nkeys || ctx->n_dec != nkeys || !bsr_crossover_lookup(ctx, BSR_OP_FWD, &D, step, 0)) {
        g_fail++;
        printf("  FAIL decision table: %d distinct token counts gave %d decisions, %d after repeating the first; "
               "first key %s\n", nkeys, measured, ctx->n_dec,
               bsr_crossover_lookup(ctx, BSR_OP_FWD, &D, step, 0) ? "found" : "lost");
    } else {
        printf("  ok   decision table keeps %d decisions (capacity %d); a measured key is found again\n", ctx->n_dec,
               ctx->cap_dec);
    }
    bsr_ctx_reset_decisions(ctx);
    CUDA_CHECK(cudaFree(d_x)); CUDA_CHECK(cudaFree(d_w)); CUDA_CHECK(cudaFree(d_y));
    bsr_device_layout_free(&D);
    bsr_layout_free(&L);
    free(mask); free(x); free(w); free(xb); free(wb);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    int dev_count = 0;
    if (cudaGetDeviceCount(&dev_count) != cudaSuccess || dev_count == 0) {
        printf("test_bsr_kernels: no CUDA device\n");
        return 1;
    }
    Rng rng;
    rng_seed(&rng, 1234);
    BsrCtx ctx;
    bsr_ctx_init(&ctx, (size_t)4096 * 1024, 0);
    bsr_ctx_cache_dense_weights(&ctx, (size_t)4 * 4096 * 1024 * 2);
    ctx.measure_spmm_variants = 1; /* the default, set whatever BSR_MEASURE_VARIANTS says: the measured
                                    * dispatch passes time (and then run) the variants too */
    const Case cases[] = {
        {256, 384, 64, 256, MASK_RANDOM, 0.5f},
        {256, 384, 64, 200, MASK_EMPTY_RC, 0.7f},   /* ragged N, empty block rows and columns */
        {384, 256, 64, 77, MASK_ALL, 1.f},           /* ragged N < tile */
        {512, 256, 64, 192, MASK_ONE, 0.f},
        {256, 256, 64, 64, MASK_NONE, 0.f},          /* no live block at all */
        {3072, 768, 64, 512, MASK_RANDOM, 0.1f},     /* d12 fc shape */
        {768, 3072, 64, 4096, MASK_EMPTY_RC, 0.2f},  /* d12 fcproj shape, split-N dW */
        {512, 384, 128, 256, MASK_RANDOM, 0.5f},
        {384, 512, 128, 300, MASK_EMPTY_RC, 0.6f},
        {256, 256, 128, 128, MASK_ALL, 1.f},
        {512, 256, 128, 1000, MASK_ONE, 0.f},
        {1024, 4096, 128, 2048, MASK_RANDOM, 0.1f},  /* d24 fcproj shape */
        {256, 2560, 64, 160, MASK_ALL, 1.f},         /* forward lists of 40 blocks (> 32) */
        {2560, 256, 64, 160, MASK_RANDOM, 0.9f},     /* input-gradient lists of ~36 blocks */
        {1024, 4096, 64, 256, MASK_RANDOM, 0.26f},   /* ~266 blocks: dW line pairs near 132 SMs (130 in run 172) */
        {256, 384, 32, 256, MASK_RANDOM, 0.5f},      /* block size 32 (mma.sync kernels) */
        {384, 256, 32, 200, MASK_EMPTY_RC, 0.6f},
        {256, 256, 32, 77, MASK_ALL, 1.f},
        {512, 256, 32, 192, MASK_ONE, 0.f},
        {3072, 768, 32, 1024, MASK_RANDOM, 0.1f},    /* d12 fc shape, single-block dW */
        {768, 3072, 32, 2048, MASK_EMPTY_RC, 0.3f},  /* d12 fcproj shape, column-group dW, split-N */
    };
    const int nc = (int)(sizeof cases / sizeof cases[0]);
    const int quick = argc > 1 && !strcmp(argv[1], "--quick");
    for (int i = 0; i < nc; i++) {
        if (quick && cases[i].N > 1024) continue;
        run_case(&ctx, &rng, &cases[i]);
    }
    test_decision_table(&ctx, &rng);
    bsr_ctx_free(&ctx);
    printf("test_bsr_kernels: %d checks, %d failed\n", g_checks, g_fail);
    return g_fail ? 1 : 0;
}
