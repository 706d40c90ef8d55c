/*
 * test_layers.cu - every GPU dense layer (the .cu files of layers/) against its CPU reference
 * (layers/layers_cpu.c, float) on random data. Inputs are rounded to bf16 first
 * and the CPU reference runs on exactly those values; GPU outputs are poisoned
 * (0xFFFF = NaN in bf16) before each call, so an unwritten element fails.
 *
 * Metric: relative L2 error ||gpu - ref|| / ||ref|| (NaN never passes).
 * Tolerances (bf16 storage has a relative rounding step of 2^-8 = 3.9e-3, RMS about 1e-3):
 *   elementwise bf16 outputs (encoder, gelu, residual): 5e-3
 *   reductions with bf16 output (layernorm, matmul, classifier, attention): 1e-2 (2e-2 for
 *   attention backward, whose inputs p and dp are recomputed from bf16 operands)
 *   fp32 outputs (losses, layernorm stats, AdamW master and moments, global norm): 1e-5 .. 1e-3 as stated
 * Every backward is also run twice from the same state and must be bit-identical.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/utils.h"
#include "../layers/layers_cpu.h"
#include "../layers/common.cuh"
#include "../layers/encoder.cuh"
#include "../layers/layernorm.cuh"
#include "../layers/matmul.cuh"
#include "../layers/gelu.cuh"
#include "../layers/classifier.cuh"
#include "../layers/adamw.cuh"
#include "../layers/attention.cuh"

static Rng rng;
static int failures = 0;
static cudaStream_t st;

static float bfr(float x) { return __bfloat162float(__float2bfloat16_rn(x)); }

/* random floats in [-scale, scale), rounded to bf16 */
static float *hrand(long n, float scale)
{
    float *x = (float *)malloc_check((size_t)n * sizeof(float));
    for (long i = 0; i < n; i++) x[i] = bfr((2.0f * rng_uniform_f32(&rng) - 1.0f) * scale);
    return x;
}
static float *hcopy(const float *x, long n)
{
    float *y = (float *)malloc_check((size_t)n * sizeof(float));
    memcpy(y, x, (size_t)n * sizeof(float));
    return y;
}
static float *hzero(long n) { return (float *)calloc_check((size_t)n, sizeof(float)); }
static bf16 *dalloc(long n)
{
    bf16 *p;
    CUDA_CHECK(cudaMalloc(&p, (size_t)n * sizeof(bf16)));
    CUDA_CHECK(cudaMemset(p, 0xFF, (size_t)n * sizeof(bf16))); /* poison: NaN */
    return p;
}
static float *dallocf(long n)
{
    float *p;
    CUDA_CHECK(cudaMalloc(&p, (size_t)n * sizeof(float)));
    CUDA_CHECK(cudaMemset(p, 0xFF, (size_t)n * sizeof(float)));
    return p;
}
static void up(bf16 *d, const float *h, long n)
{
    bf16 *t = (bf16 *)malloc_check((size_t)n * sizeof(bf16));
    for (long i = 0; i < n; i++) t[i] = __float2bfloat16_rn(h[i]);
    CUDA_CHECK(cudaMemcpy(d, t, (size_t)n * sizeof(bf16), cudaMemcpyHostToDevice));
    free(t);
}
static bf16 *dup_dev(const float *h, long n)
{
    bf16 *d = dalloc(n);
    up(d, h, n);
    return d;
}
static float *down(const bf16 *d, long n)
{
    CUDA_CHECK(cudaStreamSynchronize(st));
    bf16 *t = (bf16 *)malloc_check((size_t)n * sizeof(bf16));
    CUDA_CHECK(cudaMemcpy(t, d, (size_t)n * sizeof(bf16), cudaMemcpyDeviceToHost));
    float *h = (float *)malloc_check((size_t)n * sizeof(float));
    for (long i = 0; i < n; i++) h[i] = __bfloat162float(t[i]);
    free(t);
    return h;
}
static float *downf(const float *d, long n)
{
    CUDA_CHECK(cudaStreamSynchronize(st));
    float *h = (float *)malloc_check((size_t)n * sizeof(float));
    CUDA_CHECK(cudaMemcpy(h, d, (size_t)n * sizeof(float), cudaMemcpyDeviceToHost));
    return h;
}
static int bits_equal(const void *d1, const void *d2, size_t bytes)
{
    CUDA_CHECK(cudaStreamSynchronize(st));
    char *a = (char *)malloc_check(bytes), *b = (char *)malloc_check(bytes);
    CUDA_CHECK(cudaMemcpy(a, d1, bytes, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(b, d2, bytes, cudaMemcpyDeviceToHost));
    int eq = memcmp(a, b, bytes) == 0;
    free(a);
    free(b);
    return eq;
}

/* compare with a reference; also frees got */
static void cmp(const char *name, float *got, const float *ref, long n, double tol)
{
    double num = 0, den = 0, maxabs = 0;
    long nan = 0;
    for (long i = 0; i < n; i++) {
        if (!isfinite(got[i])) { nan++; continue; }
        double d = (double)got[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
        if (fabs(d) > maxabs) maxabs = fabs(d);
    }
    double rel = sqrt(num / (den > 0 ? den : 1e-300));
    int ok = nan == 0 && rel < tol;
    printf("  %-40s rel %.2e (tol %.0e) max|d| %.2e%s  %s\n", name, rel, tol, maxabs,
           nan ? " NON-FINITE/UNWRITTEN" : "", ok ? "ok" : "FAIL");
    if (!ok) failures++;
    free(got);
}
static void expect(const char *name, int ok)
{
    printf("  %-40s %s\n", name, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

/* ------------------------------------------------------------------ encoder */
static void test_encoder(int B, int T, int C, int V, int ntok)
{
    printf("encoder B=%d T=%d C=%d V=%d\n", B, T, C, V);
    long BT = (long)B * T;
    int *tok = (int *)malloc_check(sizeof(int) * BT);
    for (long i = 0; i < BT; i++) tok[i] = V - 1 - (int)rng_below(&rng, ntok); /* many repeats */
    float *wte = hrand((long)V * C, 1), *wpe = hrand((long)T * C, 1), *dout = hrand(BT * C, 1);
    int *dtok;
    CUDA_CHECK(cudaMalloc(&dtok, sizeof(int) * BT));
    CUDA_CHECK(cudaMemcpy(dtok, tok, sizeof(int) * BT, cudaMemcpyHostToDevice));
    bf16 *d_wte = dup_dev(wte, (long)V * C), *d_wpe = dup_dev(wpe, (long)T * C), *d_out = dalloc(BT * C);
    encoder_forward(d_out, dtok, d_wte, d_wpe, B, T, C, st);
    float *ref = hzero(BT * C);
    encoder_forward_cpu(ref, tok, wte, wpe, B, T, C);
    cmp("encoder_forward out", down(d_out, BT * C), ref, BT * C, 5e-3);
    /* backward: accumulate onto random gradients */
    float *gte = hrand((long)V * C, 1), *gpe = hrand((long)T * C, 1);
    bf16 *d_dout = dup_dev(dout, BT * C), *d_gte = dup_dev(gte, (long)V * C), *d_gpe = dup_dev(gpe, (long)T * C);
    bf16 *d_gte2 = dup_dev(gte, (long)V * C), *d_gpe2 = dup_dev(gpe, (long)T * C);
    long wsn = encoder_backward_workspace_ints(B, T);
    int *ws_h = (int *)malloc_check(sizeof(int) * wsn), *ws_d;
    CUDA_CHECK(cudaMalloc(&ws_d, sizeof(int) * wsn));
    encoder_backward(d_gte, d_gpe, d_dout, tok, ws_h, ws_d, B, T, C, st);
    encoder_backward(d_gte2, d_gpe2, d_dout, tok, ws_h, ws_d, B, T, C, st);
    encoder_backward_cpu(gte, gpe, dout, tok, B, T, C);
    cmp("encoder_backward dwte", down(d_gte, (long)V * C), gte, (long)V * C, 5e-3);
    cmp("encoder_backward dwpe", down(d_gpe, (long)T * C), gpe, (long)T * C, 5e-3);
    expect("encoder_backward deterministic",
           bits_equal(d_gte, d_gte2, sizeof(bf16) * V * C) && bits_equal(d_gpe, d_gpe2, sizeof(bf16) * T * C));
}

/* ---------------------------------------------------------------- layernorm */
static void test_layernorm(int N, int C)
{
    printf("layernorm N=%d C=%d\n", N, C);
    long NC = (long)N * C;
    float *a = hrand(NC, 2), *b = hrand(NC, 2), *w = hrand(C, 1), *bi = hrand(C, 1);
    /* the residual as the GPU rounds it */
    float *res = (float *)malloc_check(NC * sizeof(float));
    for (long i = 0; i < NC; i++) res[i] = bfr(a[i] + b[i]);
    bf16 *d_a = dup_dev(a, NC), *d_b = dup_dev(b, NC), *d_w = dup_dev(w, C), *d_bi = dup_dev(bi, C);
    bf16 *d_res = dalloc(NC), *d_out = dalloc(NC), *d_out2 = dalloc(NC);
    float *d_mean = dallocf(N), *d_rstd = dallocf(N);
    float *ref = hzero(NC), *mean = hzero(N), *rstd = hzero(N);
    layernorm_forward_cpu(ref, mean, rstd, res, w, bi, N, C);
    fused_residual_layernorm_forward(d_res, d_out, d_mean, d_rstd, d_a, d_b, d_w, d_bi, N, C, st);
    cmp("fused_residual residual", down(d_res, NC), res, NC, 5e-3);
    cmp("fused_residual layernorm out", down(d_out, NC), ref, NC, 1e-2);
    cmp("layernorm mean (fp32)", downf(d_mean, N), mean, N, 1e-4);
    cmp("layernorm rstd (fp32)", downf(d_rstd, N), rstd, N, 1e-5);
    layernorm_forward(d_out2, NULL, NULL, d_res, d_w, d_bi, N, C, st);
    cmp("layernorm_forward out", down(d_out2, NC), ref, NC, 1e-2);
    /* backward */
    float *dout = hrand(NC, 1), *gi = hrand(NC, 1), *gw = hrand(C, 1), *gb = hrand(C, 1);
    bf16 *d_dout = dup_dev(dout, NC), *d_gi = dup_dev(gi, NC), *d_gw = dup_dev(gw, C), *d_gb = dup_dev(gb, C);
    bf16 *d_gi2 = dup_dev(gi, NC), *d_gw2 = dup_dev(gw, C), *d_gb2 = dup_dev(gb, C);
    float *scratch = dallocf(layernorm_backward_scratch_floats(N, C));
    /* the CPU uses the GPU's statistics so both see the same mean/rstd */
    float *gmean = downf(d_mean, N), *grstd = downf(d_rstd, N);
    layernorm_backward(d_gi, d_gw, d_gb, scratch, d_dout, d_res, d_w, d_mean, d_rstd, N, C, st);
    layernorm_backward(d_gi2, d_gw2, d_gb2, scratch, d_dout, d_res, d_w, d_mean, d_rstd, N, C, st);
    layernorm_backward_cpu(gi, gw, gb, dout, res, w, gmean, grstd, N, C);
    cmp("layernorm_backward dinp (+=)", down(d_gi, NC), gi, NC, 1e-2);
    cmp("layernorm_backward dweight (+=)", down(d_gw, C), gw, C, 1e-2);
    cmp("layernorm_backward dbias (+=)", down(d_gb, C), gb, C, 1e-2);
    expect("layernorm_backward deterministic", bits_equal(d_gi, d_gi2, NC * 2) && bits_equal(d_gw, d_gw2, C * 2) &&
                                                   bits_equal(d_gb, d_gb2, C * 2));
}

/* ------------------------------------------------------------------- matmul */
static void test_matmul(MatmulContext *ctx)
{
    printf("matmul (cuBLASLt)\n");
    int N = 517, C = 768, OC = 3072; /* N not a multiple of 8 */
    long NC = (long)N * C, NO = (long)N * OC, OCC = (long)OC * C;
    float *x = hrand(NC, 1), *w = hrand(OCC, 0.05f), *b = hrand(OC, 0.5f);
    bf16 *d_x = dup_dev(x, NC), *d_w = dup_dev(w, OCC), *d_b = dup_dev(b, OC);
    bf16 *d_out = dalloc(NO), *d_pre = dalloc(NO);
    float *ref = hzero(NO), *ref_g = hzero(NO);
    matmul_forward_cpu(ref, x, w, b, N, C, OC);
    matmul_forward(ctx, d_out, NULL, d_x, d_w, d_b, N, C, OC, st);
    cmp("matmul_forward +bias", down(d_out, NO), ref, NO, 1e-2);
    gelu_forward_cpu(ref_g, ref, NO);
    matmul_forward(ctx, d_out, d_pre, d_x, d_w, d_b, N, C, OC, st);
    cmp("matmul_forward GELU epilogue: pre", down(d_pre, NO), ref, NO, 1e-2);
    cmp("matmul_forward GELU epilogue: out", down(d_out, NO), ref_g, NO, 1e-2);
    float *ref_nb = hzero(NO);
    matmul_forward_cpu(ref_nb, x, w, NULL, N, C, OC);
    matmul_forward(ctx, d_out, NULL, d_x, d_w, NULL, N, C, OC, st);
    cmp("matmul_forward no bias", down(d_out, NO), ref_nb, NO, 1e-2);
    /* backward */
    float *dout = hrand(NO, 1), *gw = hrand(OCC, 1), *gb = hrand(OC, 1), *gi = hzero(NC);
    bf16 *d_dout = dup_dev(dout, NO), *d_gi = dalloc(NC), *d_gw = dup_dev(gw, OCC), *d_gb = dup_dev(gb, OC);
    bf16 *d_gi2 = dalloc(NC), *d_gw2 = dup_dev(gw, OCC), *d_gb2 = dup_dev(gb, OC);
    float *scratch = dallocf(matmul_dbias_scratch_floats(N, OC));
    matmul_backward(ctx, d_gi, d_gw, d_gb, scratch, d_dout, d_x, d_w, NULL, N, C, OC, st);
    matmul_backward(ctx, d_gi2, d_gw2, d_gb2, scratch, d_dout, d_x, d_w, NULL, N, C, OC, st);
    matmul_backward_cpu(gi, gw, gb, dout, x, w, N, C, OC);
    cmp("matmul_backward dinp (=)", down(d_gi, NC), gi, NC, 1e-2);
    cmp("matmul_backward dweight (+=)", down(d_gw, OCC), gw, OCC, 1e-2);
    cmp("matmul_backward dbias (+=)", down(d_gb, OC), gb, OC, 1e-2);
    expect("matmul_backward deterministic", bits_equal(d_gi, d_gi2, NC * 2) && bits_equal(d_gw, d_gw2, OCC * 2) &&
                                                bits_equal(d_gb, d_gb2, OC * 2));
    /* DGELU epilogue: layer fcproj (C_in = OC here) whose input was gelu(pre): dinp = (dout W) * gelu'(pre).
     * Use W2 [C, OC]: out2 = gelu(pre) W2^T; dinp[N, OC] = (dout2[N, C] W2) * gelu'(pre). */
    float *w2 = hrand(OCC, 0.05f), *dout2 = hrand(NC, 1), *pre = hrand(NO, 2);
    bf16 *d_w2 = dup_dev(w2, OCC), *d_dout2 = dup_dev(dout2, NC), *d_pre2 = dup_dev(pre, NO), *d_gh = dalloc(NO);
    float *tmp = hzero(NO), *gh = hzero(NO);
    matmul_backward_cpu(tmp, NULL, NULL, dout2, NULL, w2, N, OC, C);
    for (long i = 0; i < NO; i++) tmp[i] = bfr(tmp[i]);
    gelu_backward_cpu(gh, pre, tmp, NO);
    matmul_backward(ctx, d_gh, NULL, NULL, NULL, d_dout2, NULL, d_w2, d_pre2, N, OC, C, st);
    cmp("matmul_backward DGELU epilogue dinp", down(d_gh, NO), gh, NO, 1e-2);
}

/* Algorithm choice (MatmulContext.autotune): the DGELU input gradient of an MLP at the GPT-2 d24
 * shape (C = 1024, 4C = 4096) for N = 32768 tokens, where cuBLASLt's heuristic offers a single sm80
 * kernel and the N/2 candidates are timed too. Checked: the autotuned result against the CPU on the
 * first and last 64 token rows, against the heuristic-only context everywhere, and a second call
 * reuses the choice bit for bit. The times of both are printed (not asserted). */
static void test_matmul_autotune(int N)
{
    printf("matmul algorithm choice (N=%d, DGELU, C=1024 -> 4096)\n", N);
    const int C = 1024, OC = 4096, R = 64;
    long NC = (long)N * C, NO = (long)N * OC, OCC = (long)OC * C;
    MatmulContext tuned, plain;
    matmul_context_init(&tuned, 0);
    matmul_context_init(&plain, 0);
    plain.autotune = 0;
    float *w2 = hrand(OCC, 0.05f), *dout2 = hrand(NC, 1), *pre = hrand(NO, 2);
    bf16 *d_w2 = dup_dev(w2, OCC), *d_dout2 = dup_dev(dout2, NC), *d_pre = dup_dev(pre, NO);
    bf16 *d_t = dalloc(NO), *d_t2 = dalloc(NO), *d_p = dalloc(NO);
    matmul_backward(&tuned, d_t, NULL, NULL, NULL, d_dout2, NULL, d_w2, d_pre, N, OC, C, st);
    CUDA_CHECK(cudaMemsetAsync(d_t2, 0xff, NO * sizeof(bf16), st)); /* poison: every element must be written */
    matmul_backward(&tuned, d_t2, NULL, NULL, NULL, d_dout2, NULL, d_w2, d_pre, N, OC, C, st);
    matmul_backward(&plain, d_p, NULL, NULL, NULL, d_dout2, NULL, d_w2, d_pre, N, OC, C, st);
    float *got = down(d_t, NO), *ref_plain = down(d_p, NO);
    for (int part = 0; part < 2; part++) { /* CPU reference on R rows at the start and at the end */
        long r0 = part == 0 ? 0 : N - R;
        float *tmp = hzero((long)R * OC), *gh = hzero((long)R * OC), *sub = hzero((long)R * OC);
        matmul_backward_cpu(tmp, NULL, NULL, dout2 + r0 * C, NULL, w2, R, OC, C);
        for (long i = 0; i < (long)R * OC; i++) tmp[i] = bfr(tmp[i]);
        gelu_backward_cpu(gh, pre + r0 * OC, tmp, (long)R * OC);
        memcpy(sub, got + r0 * OC, sizeof(float) * R * OC);
        cmp(part == 0 ? "autotuned DGELU dinp, first rows vs CPU" : "autotuned DGELU dinp, last rows vs CPU", sub, gh,
            (long)R * OC, 1e-2);
        free(tmp);
        free(gh);
    }
    cmp("autotuned vs heuristic-only DGELU dinp", got, ref_plain, NO, 1e-2);
    expect("autotuned choice reused bit for bit", bits_equal(d_t, d_t2, NO * 2));
    expect("one choice recorded per problem", tuned.nchoices == 1 && plain.nchoices == 1);
    if (tuned.nchoices == 1)
        printf("  heuristic's pick %.1f us, chosen %.1f us (%s)\n", tuned.choices[0].heuristic_us,
               tuned.choices[0].chosen_us,
               memcmp(&tuned.choices[0].algo, &plain.choices[0].algo, sizeof(cublasLtMatmulAlgo_t)) ? "another algorithm"
                                                                                                 : "the heuristic's");
    free(w2); free(dout2); free(pre); free(ref_plain);
    CUDA_CHECK(cudaFree(d_w2)); CUDA_CHECK(cudaFree(d_dout2)); CUDA_CHECK(cudaFree(d_pre));
    CUDA_CHECK(cudaFree(d_t)); CUDA_CHECK(cudaFree(d_t2)); CUDA_CHECK(cudaFree(d_p));
    matmul_context_free(&tuned);
    matmul_context_free(&plain);
}

/* --------------------------------------------------------------------- gelu */
static void test_gelu(void)
{
    printf("gelu\n");
    long n = 1 << 20;
    float *x = hrand(n, 4), *d = hrand(n, 1), *ref = hzero(n), *g = hzero(n);
    bf16 *d_x = dup_dev(x, n), *d_o = dalloc(n), *d_d = dup_dev(d, n), *d_g = dalloc(n);
    gelu_forward(d_o, d_x, n, st);
    gelu_forward_cpu(ref, x, n);
    cmp("gelu_forward", down(d_o, n), ref, n, 5e-3);
    gelu_backward(d_g, d_x, d_d, n, st);
    gelu_backward_cpu(g, x, d, n);
    cmp("gelu_backward (=)", down(d_g, n), g, n, 5e-3);
    gelu_backward(d_d, d_x, d_d, n, st); /* in place */
    cmp("gelu_backward in place", down(d_d, n), g, n, 5e-3);
}

/* --------------------------------------------------------------- classifier */
static void test_classifier(void)
{
    printf("fused classifier\n");
    int N = 96, V = 50257, Vp = 50304;
    long NV = (long)N * Vp;
    float *logits = hrand(NV, 4);
    int *tg = (int *)malloc_check(sizeof(int) * N);
    for (int n = 0; n < N; n++) tg[n] = n == 0 ? V - 1 : (int)rng_below(&rng, V); /* the ragged tail too */
    int *d_tg;
    CUDA_CHECK(cudaMalloc(&d_tg, sizeof(int) * N));
    CUDA_CHECK(cudaMemcpy(d_tg, tg, sizeof(int) * N, cudaMemcpyHostToDevice));
    bf16 *d_l = dup_dev(logits, NV), *d_l2 = dup_dev(logits, NV);
    float *d_loss;
    CUDA_CHECK(cudaMalloc(&d_loss, sizeof(float) * N));
    float *loss0 = hrand(N, 1);
    CUDA_CHECK(cudaMemcpy(d_loss, loss0, sizeof(float) * N, cudaMemcpyHostToDevice));
    float dloss = 1.0f / (N * 4);
    fused_classifier(d_l, d_loss, dloss, d_tg, N, V, Vp, 1, st);
    fused_classifier(d_l2, d_loss, dloss, d_tg, N, V, Vp, 1, st); /* second call: losses += again */
    float *probs = hzero(NV), *losses = hzero(N), *dl = hzero(NV), *dls = hzero(N);
    softmax_forward_cpu(probs, logits, N, V, Vp);
    crossentropy_forward_cpu(losses, probs, tg, N, Vp);
    for (int n = 0; n < N; n++) { losses[n] = loss0[n] + 2 * losses[n]; dls[n] = dloss; }
    crossentropy_softmax_backward_cpu(dl, dls, probs, tg, N, V, Vp);
    cmp("fused_classifier losses (fp32, +=)", downf(d_loss, N), losses, N, 1e-4);
    cmp("fused_classifier dlogits", down(d_l, NV), dl, NV, 1e-2);
    expect("fused_classifier deterministic", bits_equal(d_l, d_l2, NV * 2));
}

/* -------------------------------------------------------------------- adamw */
static void test_adamw(void)
{
    printf("adamw + global norm\n");
    long n = 1000003;
    float *p = hrand(n, 1), *g = hrand(n, 1), *m = hrand(n, 0.1f), *v = hrand(n, 0.1f);
    for (long i = 0; i < n; i++) v[i] = fabsf(v[i]);
    float *master = hcopy(p, n);
    bf16 *d_p = dup_dev(p, n), *d_g = dup_dev(g, n), *d_p2 = dup_dev(p, n);
    float *d_master, *d_m, *d_v;
    CUDA_CHECK(cudaMalloc(&d_master, n * 4)); CUDA_CHECK(cudaMalloc(&d_m, n * 4)); CUDA_CHECK(cudaMalloc(&d_v, n * 4));
    CUDA_CHECK(cudaMemcpy(d_master, master, n * 4, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(d_m, m, n * 4, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(d_v, v, n * 4, cudaMemcpyHostToDevice));
    float lr = 1e-3f, b1 = 0.9f, b2 = 0.95f, eps = 1e-8f, wd = 0.1f, gs = 0.7f;
    int t = 3;
    adamw_update(d_p, d_master, d_g, d_m, d_v, n, lr, b1, b2, eps, wd, gs, t, 1234u, 0, st);
    adamw_update_cpu(master, g, m, v, n, lr, b1, b2, eps, wd, gs, t);
    float *gm = downf(d_master, n);
    float *gp = down(d_p, n);
    cmp("adamw master (fp32)", hcopy(gm, n), master, n, 1e-6);
    cmp("adamw m (fp32)", downf(d_m, n), m, n, 1e-6);
    cmp("adamw v (fp32)", downf(d_v, n), v, n, 1e-6);
    /* stochastic rounding: each param is one of the two bf16 neighbours of the master value,
     * and on average unbiased */
    long bad = 0;
    double bias = 0;
    for (long i = 0; i < n; i++) {
        float lo = __bfloat162float(__float2bfloat16_rz(gm[i]));
        uint32_t bits;
        memcpy(&bits, &lo, 4);
        bits += 0x10000u;
        float hi;
        memcpy(&hi, &bits, 4);
        if (!(gp[i] == lo || gp[i] == hi)) bad++;
        bias += (double)gp[i] - gm[i];
    }
    bias /= n;
    printf("  stochastic rounding: %ld not a neighbour, mean(param - master) = %.2e\n", bad, bias);
    expect("adamw stochastic rounding", bad == 0 && fabs(bias) < 1e-5);
    /* a tensor updated in three slices with sr_first = each slice's start (ZeRO-1: each rank updates its
     * shard of a tensor) gives the bits of one call over the whole tensor: params, master and moments */
    {
        const long cut[4] = {0, 333331, 700001, n};
        bf16 *d_pa = dup_dev(p, n), *d_pb = dup_dev(p, n);
        float *fa[3], *fb[3]; /* master, m, v of the whole call / of the slices */
        const float *init[3] = {p, m, v};
        for (int k = 0; k < 3; k++) {
            CUDA_CHECK(cudaMalloc(&fa[k], n * 4)); CUDA_CHECK(cudaMalloc(&fb[k], n * 4));
            CUDA_CHECK(cudaMemcpy(fa[k], init[k], n * 4, cudaMemcpyHostToDevice));
            CUDA_CHECK(cudaMemcpy(fb[k], init[k], n * 4, cudaMemcpyHostToDevice));
        }
        adamw_update(d_pa, fa[0], d_g, fa[1], fa[2], n, lr, b1, b2, eps, wd, gs, t, 77u, 0, st);
        for (int k = 0; k < 3; k++)
            adamw_update(d_pb + cut[k], fb[0] + cut[k], d_g + cut[k], fb[1] + cut[k], fb[2] + cut[k], cut[k + 1] - cut[k],
                         lr, b1, b2, eps, wd, gs, t, 77u, cut[k], st);
        expect("adamw in three slices (sr_first) = one call: params, master, m, v bit for bit",
               bits_equal(d_pa, d_pb, n * 2) && bits_equal(fa[0], fb[0], n * 4) && bits_equal(fa[1], fb[1], n * 4) &&
                   bits_equal(fa[2], fb[2], n * 4));
        /* and sr_first does pick the rounding bits: slices that all start their draws at 0 round otherwise */
        CUDA_CHECK(cudaMemcpy(fb[0], p, n * 4, cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemcpy(fb[1], m, n * 4, cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemcpy(fb[2], v, n * 4, cudaMemcpyHostToDevice));
        for (int k = 0; k < 3; k++)
            adamw_update(d_pb + cut[k], fb[0] + cut[k], d_g + cut[k], fb[1] + cut[k], fb[2] + cut[k], cut[k + 1] - cut[k],
                         lr, b1, b2, eps, wd, gs, t, 77u, 0, st);
        expect("adamw slices without sr_first round differently", !bits_equal(d_pa, d_pb, n * 2) && bits_equal(fa[0], fb[0], n * 4));
        for (int k = 0; k < 3; k++) { CUDA_CHECK(cudaFree(fa[k])); CUDA_CHECK(cudaFree(fb[k])); }
        CUDA_CHECK(cudaFree(d_pa)); CUDA_CHECK(cudaFree(d_pb));
    }
    /* no-master path reads bf16 params */
    float *pm = hcopy(p, n), *m2 = hzero(n), *v2 = hzero(n);
    float *d_m2, *d_v2;
    CUDA_CHECK(cudaMalloc(&d_m2, n * 4)); CUDA_CHECK(cudaMalloc(&d_v2, n * 4));
    CUDA_CHECK(cudaMemset(d_m2, 0, n * 4)); CUDA_CHECK(cudaMemset(d_v2, 0, n * 4));
    adamw_update(d_p2, NULL, d_g, d_m2, d_v2, n, lr, b1, b2, eps, wd, gs, 1, 99u, 0, st);
    adamw_update_cpu(pm, g, m2, v2, n, lr, b1, b2, eps, wd, gs, 1);
    cmp("adamw without master (bf16 params, SR)", down(d_p2, n), pm, n, 5e-3);
    /* fp32-gradient variant: same master update as the bf16 one when the grads are the same values */
    {
        float *d_g32, *d_master2, *d_m3, *d_v3;
        CUDA_CHECK(cudaMalloc(&d_g32, n * 4)); CUDA_CHECK(cudaMalloc(&d_master2, n * 4));
        CUDA_CHECK(cudaMalloc(&d_m3, n * 4)); CUDA_CHECK(cudaMalloc(&d_v3, n * 4));
        CUDA_CHECK(cudaMemcpy(d_g32, g, n * 4, cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemcpy(d_master2, p, n * 4, cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemset(d_m3, 0, n * 4)); CUDA_CHECK(cudaMemset(d_v3, 0, n * 4));
        bf16 *d_p3 = dup_dev(p, n);
        float *pm2 = hcopy(p, n), *m4 = hzero(n), *v4 = hzero(n);
        adamw_update_f32grads(d_p3, d_master2, d_g32, d_m3, d_v3, n, lr, b1, b2, eps, wd, gs, 1, 5u, 0, st);
        adamw_update_cpu(pm2, g, m4, v4, n, lr, b1, b2, eps, wd, gs, 1);
        cmp("adamw_update_f32grads master (fp32)", downf(d_master2, n), pm2, n, 1e-6);
        CUDA_CHECK(cudaMemset(d_m3, 0, GLOBAL_NORM_BLOCKS * 4));
        global_norm_squared_accumulate_f32(d_m3, d_g32, n, st);
        global_norm_squared_finish(d_v3, d_m3, st);
        float r32 = (float)sum_squares_cpu(g, n);
        cmp("global norm^2 of fp32 grads", downf(d_v3, 1), &r32, 1, 1e-5);
    }
    /* global norm over two tensors */
    float *d_part, *d_out;
    CUDA_CHECK(cudaMalloc(&d_part, GLOBAL_NORM_BLOCKS * 4));
    CUDA_CHECK(cudaMalloc(&d_out, 4 * 2));
    CUDA_CHECK(cudaMemsetAsync(d_part, 0, GLOBAL_NORM_BLOCKS * 4, st));
    global_norm_squared_accumulate(d_part, d_g, n, st);
    global_norm_squared_accumulate(d_part, d_p2, 1000, st);
    global_norm_squared_finish(d_out, d_part, st);
    CUDA_CHECK(cudaMemsetAsync(d_part, 0, GLOBAL_NORM_BLOCKS * 4, st));
    global_norm_squared_accumulate(d_part, d_g, n, st);
    global_norm_squared_accumulate(d_part, d_p2, 1000, st);
    global_norm_squared_finish(d_out + 1, d_part, st);
    float *gp2 = down(d_p2, 1000);
    float ref = (float)(sum_squares_cpu(g, n) + sum_squares_cpu(gp2, 1000));
    float *got = downf(d_out, 2);
    int det = got[0] == got[1];
    cmp("global norm^2 (fp32)", got, &ref, 1, 1e-5);
    expect("global norm deterministic", det);
}

/* ---------------------------------------------------------------- attention */
static void test_attention(int B, int T, int NH)
{
    printf("attention B=%d T=%d NH=%d hs=64\n", B, T, NH);
    int C = NH * 64;
    long N3 = (long)B * T * 3 * C, NC = (long)B * T * C, NA = (long)B * NH * T * T;
    float *qkv = hrand(N3, 1.5f), *dout = hrand(NC, 1);
    float *out = hzero(NC), *pre = hzero(NA), *att = hzero(NA), *dqkv = hzero(N3), *dpre = hzero(NA),
          *datt = hzero(NA);
    attention_forward_cpu(out, pre, att, qkv, B, T, C, NH);
    attention_backward_cpu(dqkv, dpre, datt, dout, qkv, att, B, T, C, NH);
    bf16 *d_qkv = dup_dev(qkv, N3), *d_out = dalloc(NC), *d_dout = dup_dev(dout, NC), *d_dqkv = dalloc(N3),
         *d_dqkv2 = dalloc(N3);
    float *d_lse = dallocf((long)B * NH * T), *scratch = dallocf(attention_backward_scratch_floats(B, T, NH));
    attention_forward(d_out, d_lse, d_qkv, B, T, C, NH, st);
    cmp("attention_forward out", down(d_out, NC), out, NC, 1e-2);
    attention_backward(d_dqkv, scratch, d_dout, d_qkv, d_out, d_lse, B, T, C, NH, st);
    attention_backward(d_dqkv2, scratch, d_dout, d_qkv, d_out, d_lse, B, T, C, NH, st);
    float *g = down(d_dqkv, N3);
    /* split q, k, v parts */
    long n1 = (long)B * T * C;
    float *gq = hzero(n1), *gk = hzero(n1), *gv = hzero(n1), *rq = hzero(n1), *rk = hzero(n1), *rv = hzero(n1);
    for (long r = 0; r < (long)B * T; r++)
        for (int c = 0; c < C; c++) {
            gq[r * C + c] = g[r * 3 * C + c]; rq[r * C + c] = dqkv[r * 3 * C + c];
            gk[r * C + c] = g[r * 3 * C + C + c]; rk[r * C + c] = dqkv[r * 3 * C + C + c];
            gv[r * C + c] = g[r * 3 * C + 2 * C + c]; rv[r * C + c] = dqkv[r * 3 * C + 2 * C + c];
        }
    free(g);
    cmp("attention_backward dq (=)", gq, rq, n1, 2e-2);
    cmp("attention_backward dk (=)", gk, rk, n1, 2e-2);
    cmp("attention_backward dv (=)", gv, rv, n1, 2e-2);
    expect("attention_backward deterministic", bits_equal(d_dqkv, d_dqkv2, N3 * 2));

    if (attention_cudnn_available()) {
        AttentionCudnn *cd = attention_cudnn_create(1);
        float *d_lse2 = dallocf((long)B * NH * T);
        bf16 *d_out2 = dalloc(NC);
        attention_forward_cudnn(cd, d_out2, d_lse2, d_qkv, B, T, C, NH, st);
        cmp("cudnn attention_forward out", down(d_out2, NC), out, NC, 1e-2);
        float *lse_own = downf(d_lse, (long)B * NH * T);
        cmp("cudnn lse vs own lse (fp32)", downf(d_lse2, (long)B * NH * T), lse_own, (long)B * NH * T, 1e-5);
        free(lse_own);
        CUDA_CHECK(cudaMemset(d_dqkv, 0xFF, N3 * 2));
        attention_backward_cudnn(cd, d_dqkv, d_dout, d_qkv, d_out2, d_lse2, B, T, C, NH, st);
        attention_backward_cudnn(cd, d_dqkv2, d_dout, d_qkv, d_out2, d_lse2, B, T, C, NH, st);
        float *g2 = down(d_dqkv, N3);
        float *full = hzero(N3);
        memcpy(full, dqkv, N3 * sizeof(float));
        cmp("cudnn attention_backward dqkv (=)", g2, full, N3, 2e-2);
        free(full);
        expect("cudnn attention_backward deterministic", bits_equal(d_dqkv, d_dqkv2, N3 * 2));
        attention_cudnn_destroy(cd);
    } else {
        printf("  (cuDNN attention not built: HAVE_CUDNN_FRONTEND undefined)\n");
    }
}

int main(void)
{
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        fprintf(stderr, "test_layers: no CUDA device found\n  hint: run on a GPU machine (make test-gpu)\n");
        return 1;
    }
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    printf("test_layers on %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
    rng_seed(&rng, 42);
    CUDA_CHECK(cudaStreamCreate(&st));
    MatmulContext ctx;
    matmul_context_init(&ctx, 0);
    test_encoder(4, 64, 768, 500, 50);
    test_encoder(2, 48, 64, 70000, 9000); /* token ids above 65535: two-pass host sort */
    test_layernorm(1000, 768); /* N not a multiple of the chunk sizes */
    test_layernorm(77, 1600);  /* GPT-2 1.5B width */
    test_layernorm(300, 2560); /* wider than the fused kernel: two-kernel path */
    test_matmul(&ctx);
    test_matmul_autotune(32768); /* d24, B=32 */
    test_matmul_autotune(1000);  /* small and not a power of two */
    test_gelu();
    test_classifier();
    test_adamw();
    test_attention(2, 200, 4);  /* ragged last tile */
    test_attention(1, 64, 2);   /* one tile */
    test_attention(3, 65, 3);   /* one row into the second tile */
    test_attention(1, 1024, 2); /* GPT-2 context */
    CUDA_CHECK(cudaDeviceSynchronize());
    matmul_context_free(&ctx);
    if (failures) {
        printf("test_layers: %d check(s) FAILED\n", failures);
        return 1;
    }
    printf("test_layers: all checks passed\n");
    return 0;
}
