/*
 * bench_bsr_fused.cu - the fcproj layer's fused GELU paths against the unfused
 * sequences they replace, same run, same matrices.
 *
 *   ./build/dev/bench_bsr_fused [--C 768] [--N 65536] [--sp 0.9] [--reps 20] [--hold-us 300]
 *
 * fcproj is W[C, 4C] (out C, in 4C) and its input is gelu(pre), pre = the fc
 * output [N, 4C]. Times (median of --reps, cudaEvent, after warm-up, the GPU
 * held --hold-us before each timed call as in bench_bsr, us):
 *   dX   unfused: bsr_backward_input, then bsr_dgelu_colsum (dX *= gelu'(pre), fc
 *        bias-gradient partials) | fused bsr_backward_input_dgelu, variants 26 (2 stages),
 *        27 (3), 28 (1), 32 (256-token tiles, 2 warpgroups)
 *   dW   X = gelu(pre) kept in memory (-r 0): bsr_backward_weight | recomputed (-r 1, as the
 *        dense trainer does): layers' gelu_forward, then bsr_backward_weight | fused
 *        bsr_backward_weight_gelu, default
 *        split and forced splits 1, 2, 3, 4, 6, 8, 12
 *        (and the dW on the kept gelu(pre) at each split)
 *   fwd  on gelu(pre) kept in memory: bsr_forward | fused bsr_forward_gelu_input (default, 26, 27, 28, 32)
 * with the bytes each must move and the bandwidth that implies. The fused outputs
 * are compared with the unfused ones before timing (rel L2 < 1e-2 for dX and the
 * partials, 2e-2 for dW: the GELU is rounded to bf16 in either order).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/utils.h"
#include "../sparse/bsr.h"
#include "../sparse/bsr_kernels.cuh"
#include "../layers/gelu.cuh" /* the trainer's GELU pass: the recompute the fused dW replaces */
#include "bench_util.cuh"

typedef struct {
    int N, C, reps, hold_us;
    long timed, late; /* timed calls, and those enqueued slower than the hold */
    BsrDeviceLayout D;
    bf16 *dy, *w, *pre, *xg, *dx, *y, *bias;
    float *colsum, *dw, *scratch;
    size_t scratch_bytes;
    BsrTune tune;
} Bench;

enum { DX_UNFUSED, DX_FUSED, DW_KEPT, DW_RECOMPUTE, DW_FUSED, FWD_KEPT, FWD_FUSED };

static void run(Bench *b, int op) {
    switch (op) {
    case DX_UNFUSED:
        bsr_backward_input(b->dx, b->dy, b->w, &b->D, b->N, 0, NULL, 0);
        bsr_dgelu_colsum(b->dx, b->pre, b->colsum, b->N, 4 * b->C, 0);
        break;
    case DX_FUSED: bsr_backward_input_dgelu(b->dx, b->colsum, b->dy, b->w, b->pre, &b->D, b->N, &b->tune, 0); break;
    case DW_KEPT:
        bsr_backward_weight(b->dw, 1, 1, b->dy, b->xg, &b->D, b->N, b->scratch, b->scratch_bytes, &b->tune, 0);
        break;
    case DW_RECOMPUTE:
        gelu_forward(b->xg, b->pre, (long)b->N * 4 * b->C, 0);
        bsr_backward_weight(b->dw, 1, 1, b->dy, b->xg, &b->D, b->N, b->scratch, b->scratch_bytes, &b->tune, 0);
        break;
    case DW_FUSED:
        bsr_backward_weight_gelu(b->dw, 1, 1, b->dy, b->pre, NULL, &b->D, b->N, b->scratch, b->scratch_bytes,
                                 &b->tune, 0);
        break;
    case FWD_KEPT: bsr_forward(b->y, NULL, b->xg, b->w, b->bias, &b->D, b->N, 0, &b->tune, 0); break;
    case FWD_FUSED: bsr_forward_gelu_input(b->y, b->pre, b->w, b->bias, NULL, &b->D, b->N, &b->tune, 0); break;
    }
}

static float time_us(Bench *b, int op) {
    cudaEvent_t e0, e1;
    CUDA_CHECK(cudaEventCreate(&e0));
    CUDA_CHECK(cudaEventCreate(&e1));
    for (int i = 0; i < 3; i++) run(b, op);
    float *t = (float *)malloc_check(b->reps * sizeof(float));
    for (int i = 0; i < b->reps; i++) t[i] = bench_event_ms(b->hold_us, e0, e1, [&] { run(b, op); }, &b->late);
    b->timed += b->reps;
    const float m = bench_median(t, b->reps) * 1000.f;
    free(t);
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    return m;
}

/* rel L2 of two device arrays (bf16 if is_bf16, else fp32) */
static double rel_l2_dev(const void *a, const void *ref, size_t n, int is_bf16) {
    const size_t bytes = n * (is_bf16 ? 2 : 4);
    unsigned char *ha = (unsigned char *)malloc_check(bytes), *hr = (unsigned char *)malloc_check(bytes);
    CUDA_CHECK(cudaMemcpy(ha, a, bytes, cudaMemcpyDeviceToHost));
    CUDA_CHECK(cudaMemcpy(hr, ref, bytes, cudaMemcpyDeviceToHost));
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        const double x = is_bf16 ? __bfloat162float(((bf16 *)ha)[i]) : ((float *)ha)[i];
        const double r = is_bf16 ? __bfloat162float(((bf16 *)hr)[i]) : ((float *)hr)[i];
        if (x != x) return 1e30;
        num += (x - r) * (x - r);
        den += r * r;
    }
    free(ha);
    free(hr);
    return sqrt(num / (den > 0 ? den : 1));
}

int main(int argc, char **argv) {
    int C = 768, N = 65536, reps = 20, hold_us = BENCH_HOLD_US;
    float sp = 0.9f;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--C") && i + 1 < argc) C = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--N") && i + 1 < argc) N = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--sp") && i + 1 < argc) sp = (float)atof(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--hold-us") && i + 1 < argc) hold_us = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--C 768] [--N 65536] [--sp 0.9] [--reps 20] [--hold-us %d (0: off)]\n", argv[0], BENCH_HOLD_US);
            return 2;
        }
    }
    /* the flags first, so that a bad one is reported on a machine without a GPU too */
    char hold_range[48];
    snprintf(hold_range, sizeof hold_range, "--hold-us (0-%d us)", BENCH_HOLD_US_MAX);
    const char *bad_flag = C < 64 || C % 64            ? "--C (a positive multiple of 64)"
                           : N < 1                     ? "--N (>= 1 tokens)"
                           : reps < 1                  ? "--reps (>= 1)"
                           : sp < 0.f || sp >= 1.f     ? "--sp (0 <= sparsity < 1)"
                           : !bench_hold_us_ok(hold_us) ? hold_range
                                                       : NULL;
    if (bad_flag) {
        fprintf(stderr, "bench_bsr_fused: bad %s\n", bad_flag);
        return 2;
    }
    int ndev = 0;
    if (cudaGetDeviceCount(&ndev) != cudaSuccess || ndev == 0) {
        printf("bench_bsr_fused: no CUDA device\n");
        return 1;
    }
    const int rows = C, cols = 4 * C, bs = 64;
    BsrLayout L;
    CHECK(bsr_layout_init(&L, rows, cols, bs) == 0, "C a multiple of 64", "layout");
    Rng rng;
    rng_seed(&rng, bench_mask_seed(C, 1, bs, sp, 0)); /* bench_bsr's fcproj matrix (draw 0) */
    bench_random_mask(&L, sp, &rng);
    const int nnz = L.row_offsets[L.brows];

    Bench b;
    memset(&b, 0, sizeof b);
    b.N = N; b.C = C; b.reps = reps; b.hold_us = hold_us;
    b.tune = bsr_tune_default();
    bsr_device_layout_alloc(&b.D, rows, cols, bs);
    bsr_device_layout_upload(&b.D, &L);
    const size_t nx = (size_t)N * cols, ny = (size_t)N * rows, nw = (size_t)nnz * bs * bs;
    const int chunks = bsr_colsum_chunks(N);
    CUDA_CHECK(cudaMalloc(&b.dy, ny * 2));
    CUDA_CHECK(cudaMalloc(&b.w, nw * 2));
    CUDA_CHECK(cudaMalloc(&b.pre, nx * 2));
    CUDA_CHECK(cudaMalloc(&b.xg, nx * 2));
    CUDA_CHECK(cudaMalloc(&b.dx, nx * 2));
    CUDA_CHECK(cudaMalloc(&b.y, ny * 2));
    CUDA_CHECK(cudaMalloc(&b.bias, rows * 2));
    CUDA_CHECK(cudaMalloc(&b.colsum, (size_t)chunks * cols * 4));
    CUDA_CHECK(cudaMalloc(&b.dw, nw * 4));
    b.scratch_bytes = (size_t)12 * nw * 4 + ((size_t)64 << 20);
    CUDA_CHECK(cudaMalloc(&b.scratch, b.scratch_bytes));
    bench_fill(b.dy, ny, 1, 1.f);
    bench_fill(b.w, nw, 2, 0.05f);
    bench_fill(b.pre, nx, 3, 2.f);
    bench_fill(b.bias, rows, 4, 0.5f);
    gelu_forward(b.xg, b.pre, (long)nx, 0);
    CUDA_CHECK(cudaDeviceSynchronize());

    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    printf("device %s; fcproj %dx%d, bs 64, sparsity %.2f (nnz %d of %d), N %d, reps %d (median, us), GPU held %d us "
           "before each timed call\n", prop.name, rows, cols, sp, nnz, L.brows * L.bcols, N, reps, hold_us);

    /* validation: fused against unfused */
    bf16 *dx_ref;
    float *cs_ref, *dw_ref;
    CUDA_CHECK(cudaMalloc(&dx_ref, nx * 2));
    CUDA_CHECK(cudaMalloc(&cs_ref, (size_t)chunks * cols * 4));
    CUDA_CHECK(cudaMalloc(&dw_ref, nw * 4));
    run(&b, DX_UNFUSED);
    CUDA_CHECK(cudaMemcpy(dx_ref, b.dx, nx * 2, cudaMemcpyDeviceToDevice));
    CUDA_CHECK(cudaMemcpy(cs_ref, b.colsum, (size_t)chunks * cols * 4, cudaMemcpyDeviceToDevice));
    CUDA_CHECK(cudaMemset(b.dw, 0, nw * 4));
    run(&b, DW_KEPT);
    CUDA_CHECK(cudaMemcpy(dw_ref, b.dw, nw * 4, cudaMemcpyDeviceToDevice));
    int bad = 0;
    const int dg_variants[] = {26, 27, 28, 32};
    for (int q = 0; q < (int)(sizeof dg_variants / sizeof dg_variants[0]); q++) {
        b.tune.dinp = dg_variants[q];
        CUDA_CHECK(cudaMemset(b.dx, 0xff, nx * 2));
        run(&b, DX_FUSED);
        const double e1 = rel_l2_dev(b.dx, dx_ref, nx, 1), e2 = rel_l2_dev(b.colsum, cs_ref, (size_t)chunks * cols, 0);
        if (e1 > 1e-2 || e2 > 1e-2) { printf("INVALID dX dgelu variant %d: rel L2 %.2e / colsum %.2e\n", dg_variants[q], e1, e2); bad++; }
    }
    b.tune.dinp = -1;
    CUDA_CHECK(cudaMemset(b.dw, 0, nw * 4));
    run(&b, DW_FUSED);
    {
        const double e = rel_l2_dev(b.dw, dw_ref, nw, 0);
        if (e > 2e-2) { printf("INVALID dW gelu: rel L2 %.2e\n", e); bad++; }
    }

    const double mb_dx = (double)ny * 2 + 2.0 * nx * 2; /* dY + pre + dX */
    const float t_un = time_us(&b, DX_UNFUSED);
    printf("dX  unfused (dX, then dX *= gelu'(pre) + colsum)   %8.1f us\n", t_un);
    for (int q = 0; q < (int)(sizeof dg_variants / sizeof dg_variants[0]); q++) {
        b.tune.dinp = dg_variants[q];
        const float t = time_us(&b, DX_FUSED);
        printf("dX  fused variant %d                               %8.1f us  %.2fx unfused, %.2f TB/s of the %.0f MB "
               "the fused kernel must move\n", dg_variants[q], t, t_un / t, mb_dx / t * 1e-6, mb_dx * 1e-6);
    }
    b.tune.dinp = -1;
    const float t_kept = time_us(&b, DW_KEPT), t_rec = time_us(&b, DW_RECOMPUTE);
    printf("dW  gelu(pre) kept in memory (-r 0)                %8.1f us\n", t_kept);
    printf("dW  GELU recomputed, then dW (-r 1 unfused)         %8.1f us\n", t_rec);
    const int splits[] = {-1, 1, 2, 3, 4, 6, 8, 12};
    for (int q = 0; q < 8; q++) {
        b.tune.dw_split = splits[q];
        int ok = 1; /* each forced split validated before it is timed, fused and kept alike */
        for (int kept = 0; kept < 2; kept++) {
            CUDA_CHECK(cudaMemset(b.dw, 0, nw * 4));
            run(&b, kept ? DW_KEPT : DW_FUSED);
            const double e = rel_l2_dev(b.dw, dw_ref, nw, 0);
            if (e > 2e-2) { printf("INVALID dW %s split %d: rel L2 %.2e\n", kept ? "kept" : "fused", splits[q], e); bad++; ok = 0; }
        }
        if (!ok) continue;
        const float t = time_us(&b, DW_FUSED), tk = splits[q] < 0 ? t_kept : time_us(&b, DW_KEPT);
        char lab[16];
        if (splits[q] < 0) snprintf(lab, sizeof lab, "default");
        else snprintf(lab, sizeof lab, "%d", splits[q]);
        printf("dW  split %-8s fused %8.1f us (%.2fx recomputed, %.2fx kept)  kept %8.1f us\n", lab, t, t_rec / t,
               t_kept / t, tk);
    }
    /* fused dW by kernel variant (BsrTune.dw) and split: validated, then timed */
    {
        const int dwv[] = {4, 5, 9, 10};
        const char *dwn[] = {"single", "col m64n64", "row m64n256", "col m64n256"};
        const int sp2[] = {-1, 1, 2, 3, 4, 6};
        for (int v = 0; v < 4; v++) {
            b.tune = bsr_tune_default();
            b.tune.dw = dwv[v];
            printf("dW  fused, %-12s splits default/1/2/3/4/6:", dwn[v]);
            for (int q = 0; q < 6; q++) {
                b.tune.dw_split = sp2[q];
                CUDA_CHECK(cudaMemset(b.dw, 0, nw * 4));
                run(&b, DW_FUSED);
                const double e = rel_l2_dev(b.dw, dw_ref, nw, 0);
                if (e > 2e-2) { printf(" INVALID(%.1e)", e); bad++; continue; }
                printf(" %7.1f", time_us(&b, DW_FUSED));
            }
            printf(" us\n");
        }
        b.tune = bsr_tune_default();
    }
    /* forward of the layer: on gelu(pre) kept in memory, or GELU on the operand tiles */
    {
        bf16 *y_ref;
        CUDA_CHECK(cudaMalloc(&y_ref, ny * 2));
        b.tune = bsr_tune_default();
        run(&b, FWD_KEPT);
        CUDA_CHECK(cudaMemcpy(y_ref, b.y, ny * 2, cudaMemcpyDeviceToDevice));
        const int fv[] = {-1, 26, 27, 28, 32};
        for (int q = 0; q < (int)(sizeof fv / sizeof fv[0]); q++) {
            b.tune.fwd = fv[q];
            CUDA_CHECK(cudaMemset(b.y, 0xff, ny * 2));
            run(&b, FWD_FUSED);
            const double e = rel_l2_dev(b.y, y_ref, ny, 1);
            if (e > 1e-2) { printf("INVALID fwd gelu-input variant %d: rel L2 %.2e\n", fv[q], e); bad++; }
        }
        b.tune.fwd = -1;
        const float t_k = time_us(&b, FWD_KEPT);
        printf("fwd on gelu(pre) kept in memory                    %8.1f us\n", t_k);
        for (int q = 0; q < (int)(sizeof fv / sizeof fv[0]); q++) {
            b.tune.fwd = fv[q];
            const float t = time_us(&b, FWD_FUSED);
            printf("fwd GELU on the operand tiles, variant %-3d         %8.1f us  (the fc forward then writes %.0f MB "
                   "less)\n", fv[q], t, nx * 2e-6);
        }
        b.tune = bsr_tune_default();
        CUDA_CHECK(cudaFree(y_ref));
    }
    printf("bench_bsr_fused: %s\n", bad ? "INVALID results above" : "fused outputs match the unfused ones");
    bench_warn_late("bench_bsr_fused", b.late, b.timed, b.hold_us);
    return bad ? 1 : 0;
}
