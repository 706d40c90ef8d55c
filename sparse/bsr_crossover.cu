/*
 * bsr_crossover.cu - the dense cuBLASLt paths (dense_*) and the sparse-or-dense crossover of the
 * block-sparse linear layer (BsrCtx, bsr_linear_*; bsr_kernels.cuh): per layer shape, live-block
 * count and token count, the first call times both paths (and the weight gradient's kernel
 * variants) and every later call takes the faster.
 */
#include "bsr_common.cuh"
#include "../core/utils.h"   /* realloc_check */
#include "../core/gpu_timing.cuh"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ============================================================================ */
/* host: cuBLASLt dense paths                                                    */
/* ============================================================================ */

extern "C" void bsr_blas_init(BsrBlas *b) { lt_gemm_init(b, 32u << 20); }
extern "C" void bsr_blas_free(BsrBlas *b) { lt_gemm_free(b); }

/* Column-major D[m, n] = op(A) op(B) (+ beta D), bf16 inputs, fp32 compute, through core/lt_gemm.cu.
 * gelu: 0 none, 1 GELU (aux: the pre-activation written, may be NULL), 2 DGELU (D *= GELU'(aux), aux read) */
static void lt_matmul(BsrBlas *b, void *D, cudaDataType dtype, const bf16 *A, int lda, int transA, const bf16 *B,
                      int ldb, int transB, int m, int n, int k, int ldd, float beta, const bf16 *bias, int gelu,
                      bf16 *aux, cudaStream_t stream) {
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
    if (gelu == 2) epi = CUBLASLT_EPILOGUE_DGELU;
    else if (gelu) epi = bias ? (aux ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_BIAS)
                              : (aux ? CUBLASLT_EPILOGUE_GELU_AUX : CUBLASLT_EPILOGUE_GELU);
    else if (bias) epi = CUBLASLT_EPILOGUE_BIAS;
    lt_gemm(b, D, dtype, A, B, m, n, k, transA, transB, lda, ldb, ldd, 1.0f, beta, epi, bias, gelu ? aux : NULL, ldd,
            stream, "bsr dense path");
}

extern "C" void dense_forward(BsrBlas *b, bf16 *out, bf16 *pre_out, const bf16 *inp, const bf16 *W, const bf16 *bias,
                              int N, int C, int OC, int gelu, cudaStream_t stream) {
    /* out^T[OC, N] = W[OC, C] (row-major = col-major C x OC, transposed) x inp^T[C, N] */
    lt_matmul(b, out, CUDA_R_16BF, W, C, 1, inp, C, 0, OC, N, C, OC, 0.f, bias, gelu, gelu ? pre_out : NULL, stream);
}
extern "C" void dense_backward_input(BsrBlas *b, bf16 *dinp, const bf16 *dout, const bf16 *W, int N, int C, int OC,
                                     int accumulate, cudaStream_t stream) {
    /* dinp^T[C, N] = W^T[C, OC] (col-major view of W, ld C) x dout^T[OC, N] */
    lt_matmul(b, dinp, CUDA_R_16BF, W, C, 0, dout, OC, 0, C, N, OC, C, accumulate ? 1.f : 0.f, NULL, 0, NULL, stream);
}
extern "C" void dense_backward_input_dgelu(BsrBlas *b, bf16 *dinp, const bf16 *dout, const bf16 *W, const bf16 *pre,
                                           int N, int C, int OC, cudaStream_t stream) {
    lt_matmul(b, dinp, CUDA_R_16BF, W, C, 0, dout, OC, 0, C, N, OC, C, 0.f, NULL, 2, (bf16 *)pre, stream);
}
extern "C" void dense_backward_weight_f32(BsrBlas *b, float *dW, const bf16 *dout, const bf16 *inp, int N, int C,
                                          int OC, cudaStream_t stream) {
    /* dW^T[C, OC] (col-major) = inp^T[C, N] x dout[N, OC] (dout^T col-major, transposed) */
    lt_matmul(b, dW, CUDA_R_32F, inp, C, 0, dout, OC, 1, C, OC, N, C, 0.f, NULL, 0, NULL, stream);
}
extern "C" void dense_backward_weight_bf16(BsrBlas *b, bf16 *dW, const bf16 *dout, const bf16 *inp, int N, int C,
                                           int OC, int accumulate, cudaStream_t stream) {
    lt_matmul(b, dW, CUDA_R_16BF, inp, C, 0, dout, OC, 1, C, OC, N, C, accumulate ? 1.f : 0.f, NULL, 0, NULL,
              stream);
}

/* ============================================================================ */
/* host: crossover                                                               */
/* ============================================================================ */

extern "C" void bsr_ctx_init(BsrCtx *ctx, size_t max_dense_elems, size_t scratch_bytes) {
    memset(ctx, 0, sizeof(*ctx));
    bsr_blas_init(&ctx->blas);
    ctx->max_dense_elems = max_dense_elems;
    CUDA_CHECK(cudaMalloc(&ctx->dense_w, max_dense_elems * sizeof(bf16)));
    CUDA_CHECK(cudaMalloc(&ctx->dense_dw, max_dense_elems * sizeof(float)));
    ctx->scratch_bytes = scratch_bytes ? scratch_bytes : (64u << 20);
    CUDA_CHECK(cudaMalloc(&ctx->scratch, ctx->scratch_bytes));
    ctx->tune = bsr_tune_default();
    for (int i = 0; i <= BSR_TIME_RUNS_MAX; i++) CUDA_CHECK(cudaEventCreate(&ctx->ev[i]));
    const char *v = getenv("BSR_VERBOSE"); /* print each crossover measurement */
    ctx->verbose = v && atoi(v) > 0;
    const char *e = getenv("BSR_FORCE_PATH");
    if (e && !strcmp(e, "sparse")) ctx->force_path = BSR_PATH_SPARSE;
    if (e && !strcmp(e, "dense")) ctx->force_path = BSR_PATH_DENSE;
    if (e && !strcmp(e, "rule")) bsr_ctx_set_rule(ctx, 1);
    if (e && strcmp(e, "sparse") && strcmp(e, "dense") && strcmp(e, "rule")) {
        fprintf(stderr, "BSR_FORCE_PATH=%s: unknown value (sparse, dense or rule; unset: measure)\n", e);
        exit(1);
    }
    const char *mv = getenv("BSR_MEASURE_VARIANTS");
    if (mv && strcmp(mv, "0") && strcmp(mv, "1")) {
        fprintf(stderr, "BSR_MEASURE_VARIANTS=%s: unknown value (1, the default: time the forward / input-gradient "
                        "kernel variants in the crossover's measurement; 0: run the rule's pick)\n", mv);
        exit(1);
    }
    ctx->measure_spmm_variants = !(mv && !strcmp(mv, "0")); /* on unless 0 (run 190: tests clean, d48 step equal) */
}
static void drop_dense_weights(BsrCtx *ctx) {
    for (int i = 0; i < ctx->n_wcache; i++) CUDA_CHECK(cudaFree(ctx->wcache[i].dense));
    ctx->n_wcache = 0;
    ctx->wcache_bytes = 0;
}
extern "C" void bsr_ctx_cache_dense_weights(BsrCtx *ctx, size_t max_bytes) {
    drop_dense_weights(ctx);
    ctx->wcache_limit = max_bytes;
}
extern "C" void bsr_ctx_weights_changed(BsrCtx *ctx) { ctx->weights_version++; }

/* The dense bf16 copy of w for cuBLASLt: the cached one if it is current, else unpacked now (into
 * the cache when it has room, else into the shared buffer). While the crossover times the dense path
 * of a weight that has no cache entry but room for one, the copy goes to the shared buffer, unpacked
 * at the first (warm-up) run only: the timed runs see what a cached weight costs per call, and a
 * weight that the measurement sends to the sparse path takes no cache memory. */
static const bf16 *dense_weight(BsrCtx *ctx, const bf16 *w, const BsrDeviceLayout *L, cudaStream_t s) {
    BsrDenseWeight *e = NULL;
    if (ctx->wcache_limit) {
        const size_t bytes = (size_t)L->rows * L->cols * sizeof(bf16);
        for (int i = 0; i < ctx->n_wcache && !e; i++)
            if (ctx->wcache[i].w_packed == w && ctx->wcache[i].rows == L->rows && ctx->wcache[i].cols == L->cols)
                e = &ctx->wcache[i];
        const int room = ctx->n_wcache < BSR_MAX_DENSE_WEIGHTS && ctx->wcache_bytes + bytes <= ctx->wcache_limit;
        if (!e && room && ctx->timing_dense) {
            if (!ctx->timing_unpacked) bsr_unpack_bf16(ctx->dense_w, w, L, s);
            ctx->timing_unpacked = 1;
            return ctx->dense_w;
        }
        if (!e && room) {
            e = &ctx->wcache[ctx->n_wcache++];
            memset(e, 0, sizeof(*e));
            e->w_packed = w;
            e->rows = L->rows;
            e->cols = L->cols;
            e->version = ctx->weights_version - 1; /* not unpacked yet */
            CUDA_CHECK(cudaMalloc(&e->dense, bytes));
            ctx->wcache_bytes += bytes;
        }
    }
    if (!e) {
        bsr_unpack_bf16(ctx->dense_w, w, L, s);
        return ctx->dense_w;
    }
    if (e->version != ctx->weights_version || e->row_offsets != L->row_offsets || e->generation != L->generation ||
        e->bs != L->bs || e->nnz != L->nnz) {
        bsr_unpack_bf16(e->dense, w, L, s);
        e->version = ctx->weights_version;
        e->row_offsets = L->row_offsets;
        e->generation = L->generation;
        e->bs = L->bs;
        e->nnz = L->nnz;
    }
    return e->dense;
}

extern "C" void bsr_ctx_set_rule(BsrCtx *ctx, int on) {
    if (ctx->by_rule != (on != 0)) ctx->n_dec = 0; /* decisions made the other way do not carry over */
    ctx->by_rule = on != 0;
    ctx->blas.autotune = on == 0;
}
extern "C" void bsr_ctx_free(BsrCtx *ctx) {
    drop_dense_weights(ctx);
    free(ctx->dec);
    bsr_blas_free(&ctx->blas);
    cudaFree(ctx->dense_w);
    cudaFree(ctx->dense_dw);
    cudaFree(ctx->scratch);
    for (int i = 0; i <= BSR_TIME_RUNS_MAX; i++) cudaEventDestroy(ctx->ev[i]);
    memset(ctx, 0, sizeof(*ctx));
}
extern "C" void bsr_ctx_reset_decisions(BsrCtx *ctx) {
    ctx->n_dec = 0;
    drop_dense_weights(ctx); /* layouts and pointers may have changed with the densities */
}

/* the decision for this key: the exact live-block count, else the nearest within the slack */
static BsrDecision *find_dec(const BsrCtx *ctx, int op, const BsrDeviceLayout *L, int N, int flags) {
    const int slack = L->brows * L->bcols / BSR_DECISION_NNZ_SLACK;
    BsrDecision *best = NULL;
    int best_gap = slack + 1;
    for (int i = 0; i < ctx->n_dec; i++) {
        BsrDecision *d = &ctx->dec[i];
        if (d->op != op || d->rows != L->rows || d->cols != L->cols || d->bs != L->bs || d->N != N ||
            d->flags != flags)
            continue;
        const int gap = abs(d->nnz - L->nnz);
        if (gap == 0) return d; /* every call of a measured layout (the hot path) */
        if (ctx->by_rule) continue; /* the rule is per density: a neighbour's may fall on the other side */
        if (gap < best_gap) { best = d; best_gap = gap; }
    }
    return best;
}
extern "C" const BsrDecision *bsr_crossover_lookup(const BsrCtx *ctx, int op, const BsrDeviceLayout *L, int N,
                                                   int flags) {
    return find_dec(ctx, op, L, N, flags);
}

static int fits_dense(const BsrCtx *ctx, const BsrDeviceLayout *L) {
    return (size_t)L->rows * L->cols <= ctx->max_dense_elems;
}

typedef void (*RunFn)(BsrCtx *ctx, int path, void *arg, cudaStream_t stream);

/* the fastest of `runs` (<= BSR_TIME_RUNS_MAX) calls after one warm-up call, in GPU time: the GPU is
 * held (core/gpu_timing.cuh) while the host enqueues the runs back to back with an event between
 * each two, so every interval holds one call's GPU time (from the second on the host stays ahead as
 * the GPU works through the one before). Unheld, the dense path's longer host path (unpack +
 * cuBLASLt) had tilted the choice toward the sparse one by up to ~10 us. */
static float time_path_n(BsrCtx *ctx, RunFn fn, int path, void *arg, cudaStream_t stream, int runs) {
    if (runs < 1 || runs > BSR_TIME_RUNS_MAX) { /* ctx->ev holds BSR_TIME_RUNS_MAX + 1 events */
        fprintf(stderr, "%s:%d: time_path_n: %d runs, not 1-%d (raise BSR_TIME_RUNS_MAX in sparse/bsr_kernels.cuh)\n",
                __FILE__, __LINE__, runs, BSR_TIME_RUNS_MAX);
        exit(1);
    }
    fn(ctx, path, arg, stream); /* warm-up */
    gpu_hold(stream, GPU_HOLD_US);
    CUDA_CHECK(cudaEventRecord(ctx->ev[0], stream));
    for (int i = 0; i < runs; i++) {
        fn(ctx, path, arg, stream);
        CUDA_CHECK(cudaEventRecord(ctx->ev[i + 1], stream));
    }
    CUDA_CHECK(cudaEventSynchronize(ctx->ev[runs]));
    float best = 1e30f;
    for (int i = 0; i < runs; i++) {
        float ms;
        CUDA_CHECK(cudaEventElapsedTime(&ms, ctx->ev[i], ctx->ev[i + 1]));
        if (ms < best) best = ms;
    }
    return best;
}
static float time_path(BsrCtx *ctx, RunFn fn, int path, void *arg, cudaStream_t stream) {
    return time_path_n(ctx, fn, path, arg, stream, 3);
}

int bsr_ctx_times_spmm_variants(const BsrCtx *ctx, int bs) {
    return ctx->measure_spmm_variants && bs != 32 && bsr_have_wgmma() && bsr_tma_available();
}

/* The forward / input-gradient kernel variants the crossover times for a layer when
 * ctx->measure_spmm_variants is on (the default; sm_90a TMA kernels, block 64 or 128):
 * 2 stages (26), 3 (27), 1 (28) and, block 64 without a fused GELU, 256-token tiles over two
 * warpgroups (32). The default rule (spmm_default_variant) picks among these from the mean list
 * length, but the longest line sets the tail, so the best one moves with the mask: on the 7 random
 * C 1600 0.9 masks of run 177 the rule's 26 for fc dX was 0.9-1.9% slower than 27 on 6 of them (59.8
 * vs 58.7 us on one), the fused dX's 28 is 1.5-5% behind 26 at C 1600 0.5-0.7 (run 139), and the
 * masks magnitude pruning makes need not be as even as the random ones the rule was fitted on.
 * On by default since run 190 (H100: test_bsr_kernels clean, including the two instances only this
 * choice can pick, the fused GELU-operand forward on 3 stages and the fused GELU' input gradient on 2;
 * the d48 step at 0.5 / 0.9 equal within 0.2% with and without it). BSR_MEASURE_VARIANTS=0 turns it off.
 * Returns the count written to v (0: nothing to choose on this build / GPU / setting). */
static int spmm_candidates(const BsrCtx *ctx, const BsrDeviceLayout *L, int op, int fused, int *v) {
    const int forced = op == BSR_OP_FWD ? ctx->tune.fwd : ctx->tune.dinp;
    if (forced >= 0 || !bsr_ctx_times_spmm_variants(ctx, L->bs)) return 0;
    int n = 0;
    v[n++] = 26;
    v[n++] = 27;
    v[n++] = 28;
    if (!fused && L->bs == 64) v[n++] = 32;
    return n;
}

/* What the sparse path's measurement also chooses: nothing, the weight gradient's {variant, split}
 * (the measure argument's choice fields), or the forward / input gradient's variant (choice[0];
 * SPMM_FUSED: a fused GELU form, which has no 256-token two-warpgroup instance) */
enum { CHOOSE_NONE = 0, CHOOSE_DW = 1, CHOOSE_SPMM = 2, CHOOSE_SPMM_FUSED = 3 };

/* the fastest of n candidates of the sparse path: each once after a warm-up, then the best `finalists`
 * of them three times more; candidate c runs with cand[c] written into choice (the measure argument's
 * fields). Returns the index of the fastest candidate if it beat *best_ms (which it lowers), or -1. */
static int time_candidates(BsrCtx *ctx, RunFn fn, void *measure_arg, int *choice, const int (*cand)[2], int n,
                           int finalists, float *best_ms, cudaStream_t stream) {
    enum { NC = 24 };
    float ms[NC];
    int order[NC];
    if (n > NC) n = NC;
    for (int c = 0; c < n; c++) {
        choice[0] = cand[c][0];
        choice[1] = cand[c][1];
        ms[c] = time_path_n(ctx, fn, BSR_PATH_SPARSE, measure_arg, stream, 1);
        order[c] = c;
    }
    for (int i = 0; i < n && i < finalists; i++) /* partial selection sort: the fastest first */
        for (int k = i + 1; k < n; k++)
            if (ms[order[k]] < ms[order[i]]) { const int x = order[i]; order[i] = order[k]; order[k] = x; }
    int best = -1;
    for (int i = 0; i < n && i < finalists; i++) {
        const int c = order[i];
        choice[0] = cand[c][0];
        choice[1] = cand[c][1];
        const float t = fminf(ms[c], time_path_n(ctx, fn, BSR_PATH_SPARSE, measure_arg, stream, 3));
        if (t < *best_ms) { *best_ms = t; best = c; }
    }
    return best;
}

/* choose: what the sparse path's measurement also picks (CHOOSE_*), into choice[2] (the measure
 * argument's fields; on return: the decision's, also for a decision made before).
 * CHOOSE_DW: the sparse path is timed with the kernels' defaults and with single blocks (4), column
 * groups (10, bs 64) and block pairs (12, bs 64, no GELU) in 1-8 splits, and the fastest is kept. The
 * best choice moves with wave quantization, the partials' traffic and (GELU input) the GELU recomputed
 * per slab in ways the defaults' rules missed by up to 40% (run 52: C 1600 N 8192 fc at 0.7 best in 1
 * split, at 0.8 in 3, at 0.85 in 2; run 58: fused-GELU d48 at 0.9 206 us in column groups, 6 splits,
 * against 240). CHOOSE_SPMM(_FUSED): the candidates of spmm_candidates, in place of the default's timing (the
 * rule's pick is one of them). */
static int decide(BsrCtx *ctx, int op, const BsrDeviceLayout *L, int N, int flags, RunFn fn, void *measure_arg,
                  int *choice, int choose, cudaStream_t stream) {
    if (ctx->force_path) return ctx->force_path;
    BsrDecision *d = find_dec(ctx, op, L, N, flags);
    if (d) {
        if (choose == CHOOSE_DW) { choice[0] = d->dw_variant; choice[1] = d->dw_split; }
        else if (choose != CHOOSE_NONE) choice[0] = d->spmm_variant;
        return d->path;
    }
    BsrDecision nd;
    nd.op = op; nd.rows = L->rows; nd.cols = L->cols; nd.bs = L->bs; nd.nnz = L->nnz; nd.N = N; nd.flags = flags;
    nd.dw_variant = -1;
    nd.dw_split = 0;
    nd.spmm_variant = -1;
    if (choose != CHOOSE_NONE) { choice[0] = -1; choice[1] = 0; } /* the defaults first */
    if (ctx->by_rule) { /* no timing: the same choice in every process (bit-exact resume) */
        nd.sparse_ms = nd.dense_ms = NAN;
        nd.path = (long)L->nnz * BSR_RULE_DENSITY_DEN <= (long)L->brows * L->bcols * BSR_RULE_DENSITY_NUM ||
                          !fits_dense(ctx, L)
                      ? BSR_PATH_SPARSE
                      : BSR_PATH_DENSE;
    } else {
        int spmm_v[4];
        const int n_spmm = choose == CHOOSE_SPMM || choose == CHOOSE_SPMM_FUSED
                               ? spmm_candidates(ctx, L, op, choose == CHOOSE_SPMM_FUSED, spmm_v)
                               : 0;
        /* the defaults' time; with forward / dX candidates the rule's pick is one of them, timed there */
        nd.sparse_ms = n_spmm ? INFINITY : time_path(ctx, fn, BSR_PATH_SPARSE, measure_arg, stream);
        if (choose == CHOOSE_DW && ctx->tune.dw < 0 && ctx->tune.dw_split <= 0 && bsr_have_wgmma()) {
            /* two rounds (a decision per mask update and density band; with global pruning that is
             * dozens per update, and the weight gradient's are most of their cost) */
            static const int variants[] = {-1, 4, 10, 12}, splits[] = {1, 2, 3, 4, 6, 8};
            const int nv = L->bs == 64 ? (flags & 2 ? 3 : 4) : 1; /* bs 128 has one weight-gradient kernel;
                                                                   * block pairs (12) have no GELU form */
            int cand[24][2], nc = 0;
            for (int v = 0; v < nv; v++)
                for (int q = 0; q < 6; q++, nc++) { cand[nc][0] = variants[v]; cand[nc][1] = splits[q]; }
            const int c = time_candidates(ctx, fn, measure_arg, choice, cand, nc, 3, &nd.sparse_ms, stream);
            if (c >= 0) { nd.dw_variant = cand[c][0]; nd.dw_split = cand[c][1]; }
            choice[0] = nd.dw_variant;
            choice[1] = nd.dw_split;
        } else if (n_spmm) { /* two finalists */
            int cand[4][2];
            for (int i = 0; i < n_spmm; i++) { cand[i][0] = spmm_v[i]; cand[i][1] = 0; }
            const int c = time_candidates(ctx, fn, measure_arg, choice, cand, n_spmm, 2, &nd.sparse_ms, stream);
            nd.spmm_variant = c >= 0 ? cand[c][0] : -1; /* c >= 0: every finite time beats INFINITY */
            choice[0] = nd.spmm_variant;
        }
        ctx->timing_dense = 1;
        ctx->timing_unpacked = 0;
        nd.dense_ms = fits_dense(ctx, L) ? time_path(ctx, fn, BSR_PATH_DENSE, measure_arg, stream) : INFINITY;
        ctx->timing_dense = 0;
        nd.path = nd.sparse_ms <= nd.dense_ms ? BSR_PATH_SPARSE : BSR_PATH_DENSE;
    }
    if (ctx->verbose) {
        char what[48] = "";
        if (choose == CHOOSE_DW) snprintf(what, sizeof what, " (dW variant %d split %d)", nd.dw_variant, nd.dw_split);
        else if (choose != CHOOSE_NONE) snprintf(what, sizeof what, " (variant %d)", nd.spmm_variant);
        printf("bsr crossover: op %d %dx%d bs %d nnz %d N %d: sparse %.3f ms%s dense %.3f ms -> %s\n", op, L->rows,
               L->cols, L->bs, L->nnz, N, nd.sparse_ms, what, nd.dense_ms,
               nd.path == BSR_PATH_SPARSE ? "sparse" : "dense");
    }
    if (ctx->n_dec == ctx->cap_dec) {
        ctx->cap_dec = ctx->cap_dec ? 2 * ctx->cap_dec : 64;
        ctx->dec = (BsrDecision *)realloc_check(ctx->dec, ctx->cap_dec * sizeof(BsrDecision));
    }
    ctx->dec[ctx->n_dec++] = nd;
    return nd.path;
}

typedef struct {
    bf16 *out, *pre_out; const bf16 *inp, *w, *bias; const BsrDeviceLayout *L; int N, gelu;
    bf16 *gelu_scratch; /* non-NULL: inp is a pre-activation, the operand gelu(inp) */
    int choice[2];      /* [0]: the measured kernel variant (decide), or -1: the default rule */
} FwdArgs;
/* the context's kernel choice with a measured forward / input-gradient variant (if any) in place */
static BsrTune tune_with(const BsrCtx *ctx, int op, int variant) {
    BsrTune t = ctx->tune;
    if (variant >= 0) {
        if (op == BSR_OP_FWD) t.fwd = variant;
        else t.dinp = variant;
    }
    return t;
}
static void run_fwd(BsrCtx *ctx, int path, void *arg, cudaStream_t s) {
    FwdArgs *a = (FwdArgs *)arg;
    if (path == BSR_PATH_SPARSE || !fits_dense(ctx, a->L)) {
        const BsrTune t = tune_with(ctx, BSR_OP_FWD, a->choice[0]);
        if (a->gelu_scratch)
            bsr_forward_gelu_input(a->out, a->inp, a->w, a->bias, a->gelu_scratch, a->L, a->N, &t, s);
        else
            bsr_forward(a->out, a->pre_out, a->inp, a->w, a->bias, a->L, a->N, a->gelu, &t, s);
    } else {
        const bf16 *x = a->inp;
        if (a->gelu_scratch) {
            bsr_gelu(a->gelu_scratch, a->inp, (size_t)a->N * a->L->cols, s);
            x = a->gelu_scratch;
        }
        dense_forward(&ctx->blas, a->out, a->pre_out, x, dense_weight(ctx, a->w, a->L, s), a->bias, a->N, a->L->cols,
                      a->L->rows, a->gelu, s);
    }
}
extern "C" void bsr_linear_forward_gelu_input(BsrCtx *ctx, bf16 *out, const bf16 *pre, const bf16 *w_packed,
                                              const bf16 *bias, bf16 *gelu_scratch, const BsrDeviceLayout *L, int N,
                                              cudaStream_t stream) {
    if (!gelu_scratch) {
        fprintf(stderr, "bsr_linear_forward_gelu_input: gelu_scratch (bf16 [N, cols]) is required\n");
        exit(1);
    }
    FwdArgs a = {out, NULL, pre, w_packed, bias, L, N, 0, gelu_scratch, {-1, 0}};
    const int flags = BSR_FWD_GELU_INPUT | (bias ? BSR_FWD_BIAS : 0);
    const int path = decide(ctx, BSR_OP_FWD, L, N, flags, run_fwd, &a, a.choice, CHOOSE_SPMM_FUSED, stream);
    run_fwd(ctx, path, &a, stream);
}
extern "C" void bsr_linear_forward(BsrCtx *ctx, bf16 *out, bf16 *pre_out, const bf16 *inp, const bf16 *w_packed,
                                   const bf16 *bias, const BsrDeviceLayout *L, int N, int gelu, cudaStream_t stream) {
    FwdArgs a = {out, pre_out, inp, w_packed, bias, L, N, gelu, NULL, {-1, 0}};
    const int flags = (gelu ? BSR_FWD_GELU : 0) | (bias ? BSR_FWD_BIAS : 0) | (pre_out ? BSR_FWD_PRE_OUT : 0);
    /* the forward overwrites its outputs, so the measurement can use them */
    const int path = decide(ctx, BSR_OP_FWD, L, N, flags, run_fwd, &a, a.choice, CHOOSE_SPMM, stream);
    run_fwd(ctx, path, &a, stream);
}

typedef struct {
    bf16 *dinp; const bf16 *dout, *w; const BsrDeviceLayout *L; int N, accumulate;
    int choice[2]; /* as FwdArgs' */
} DinpArgs;
static void run_dinp(BsrCtx *ctx, int path, void *arg, cudaStream_t s) {
    DinpArgs *a = (DinpArgs *)arg;
    if (path == BSR_PATH_SPARSE || !fits_dense(ctx, a->L)) {
        const BsrTune t = tune_with(ctx, BSR_OP_DINP, a->choice[0]);
        bsr_backward_input(a->dinp, a->dout, a->w, a->L, a->N, a->accumulate, &t, s);
    } else {
        dense_backward_input(&ctx->blas, a->dinp, a->dout, dense_weight(ctx, a->w, a->L, s), a->N, a->L->cols,
                             a->L->rows, a->accumulate, s);
    }
}
extern "C" void bsr_linear_backward_input(BsrCtx *ctx, bf16 *dinp, const bf16 *dout, const bf16 *w_packed,
                                          const BsrDeviceLayout *L, int N, int accumulate, cudaStream_t stream) {
    DinpArgs a = {dinp, dout, w_packed, L, N, accumulate, {-1, 0}};
    /* an accumulating run takes the cp.async kernels whatever the variant (spmm_dispatch); the
     * decision still carries the variant measured on the scratch output below, for the plain calls
     * that share its key */
    int path = ctx->force_path;
    if (!path) {
        BsrDecision *d = find_dec(ctx, BSR_OP_DINP, L, N, 0);
        if (d) { path = d->path; a.choice[0] = d->spmm_variant; }
    }
    if (!path && ctx->by_rule) /* runs nothing */
        path = decide(ctx, BSR_OP_DINP, L, N, 0, run_dinp, &a, a.choice, CHOOSE_SPMM, stream);
    if (!path && !accumulate) /* measured on dinp itself: the call overwrites it anyway */
        path = decide(ctx, BSR_OP_DINP, L, N, 0, run_dinp, &a, a.choice, CHOOSE_SPMM, stream);
    if (!path) { /* accumulating: measure on a scratch output, not accumulating (dinp holds values to keep) */
        bf16 *tmp;
        CUDA_CHECK(cudaMalloc(&tmp, (size_t)N * L->cols * sizeof(bf16)));
        DinpArgs m = {tmp, dout, w_packed, L, N, 0, {-1, 0}};
        path = decide(ctx, BSR_OP_DINP, L, N, 0, run_dinp, &m, m.choice, CHOOSE_SPMM, stream);
        a.choice[0] = m.choice[0];
        CUDA_CHECK(cudaStreamSynchronize(stream));
        CUDA_CHECK(cudaFree(tmp));
    }
    run_dinp(ctx, path, &a, stream);
}

typedef struct {
    bf16 *dinp; float *colsum; const bf16 *dout, *w, *pre; const BsrDeviceLayout *L; int N;
    int choice[2]; /* as FwdArgs' */
} DgeluArgs;
static void run_dinp_dgelu(BsrCtx *ctx, int path, void *arg, cudaStream_t s) {
    DgeluArgs *a = (DgeluArgs *)arg;
    if (path == BSR_PATH_SPARSE || !fits_dense(ctx, a->L)) {
        const BsrTune t = tune_with(ctx, BSR_OP_DINP, a->choice[0]);
        bsr_backward_input_dgelu(a->dinp, a->colsum, a->dout, a->w, a->pre, a->L, a->N, &t, s);
    } else {
        /* GELU' in cuBLASLt's epilogue (as the dense trainer does), then the column sums alone:
         * one pass over dinp fewer than a separate GELU'-and-sum pass */
        dense_backward_input_dgelu(&ctx->blas, a->dinp, a->dout, dense_weight(ctx, a->w, a->L, s), a->pre, a->N,
                                   a->L->cols, a->L->rows, s);
        bsr_dgelu_colsum(a->dinp, NULL, a->colsum, a->N, a->L->cols, s);
    }
}
extern "C" void bsr_linear_backward_input_dgelu(BsrCtx *ctx, bf16 *dinp, float *colsum, const bf16 *dout,
                                                const bf16 *w_packed, const bf16 *pre, const BsrDeviceLayout *L,
                                                int N, cudaStream_t stream) {
    if (!pre) {
        fprintf(stderr, "%s:%d: bsr_linear_backward_input_dgelu: pre (the GELU input) is NULL; without GELU' call "
                        "bsr_linear_backward_input\n", __FILE__, __LINE__);
        exit(1);
    }
    DgeluArgs a = {dinp, colsum, dout, w_packed, pre, L, N, {-1, 0}};
    /* overwrites its outputs, so the measurement can use them */
    const int path = decide(ctx, BSR_OP_DINP, L, N, 1, run_dinp_dgelu, &a, a.choice, CHOOSE_SPMM_FUSED, stream);
    run_dinp_dgelu(ctx, path, &a, stream);
}

typedef struct {
    void *dw; int dw_fp32, accumulate; const bf16 *dout, *inp; const BsrDeviceLayout *L; int N;
    bf16 *gelu_scratch; /* non-NULL: inp is the pre-activation, X = gelu(inp) */
    int choice[2];      /* the measured dW {variant, split} (decide), or {-1, 0}: the kernels' defaults */
} DwArgs;
static void run_dw(BsrCtx *ctx, int path, void *arg, cudaStream_t s) {
    DwArgs *a = (DwArgs *)arg;
    if (path == BSR_PATH_SPARSE || !fits_dense(ctx, a->L)) {
        BsrTune t = ctx->tune;
        if (a->choice[0] >= 0) t.dw = a->choice[0];
        if (a->choice[1] > 0) t.dw_split = a->choice[1];
        if (a->gelu_scratch)
            bsr_backward_weight_gelu(a->dw, a->dw_fp32, a->accumulate, a->dout, a->inp, a->gelu_scratch, a->L, a->N,
                                     ctx->scratch, ctx->scratch_bytes, &t, s);
        else
            bsr_backward_weight(a->dw, a->dw_fp32, a->accumulate, a->dout, a->inp, a->L, a->N, ctx->scratch,
                                ctx->scratch_bytes, &t, s);
    } else {
        const bf16 *x = a->inp;
        if (a->gelu_scratch) {
            bsr_gelu(a->gelu_scratch, a->inp, (size_t)a->N * a->L->cols, s);
            x = a->gelu_scratch;
        }
        if (a->dw_fp32) {
            dense_backward_weight_f32(&ctx->blas, ctx->dense_dw, a->dout, x, a->N, a->L->cols, a->L->rows, s);
            bsr_pack_add_f32(a->dw, 1, a->accumulate, ctx->dense_dw, a->L, s);
        } else { /* bf16 dense gradient: half the bytes to write and gather (the trainer's case) */
            bf16 *d16 = (bf16 *)ctx->dense_dw;
            dense_backward_weight_bf16(&ctx->blas, d16, a->dout, x, a->N, a->L->cols, a->L->rows, 0, s);
            bsr_pack_add_bf16((bf16 *)a->dw, a->accumulate, d16, a->L, s);
        }
    }
}
/* the weight gradient through the crossover; gelu_scratch != NULL: inp is a pre-activation */
static void linear_backward_weight(BsrCtx *ctx, void *dw, int dw_fp32, int accumulate, const bf16 *dout,
                                   const bf16 *inp, bf16 *gelu_scratch, const BsrDeviceLayout *L, int N,
                                   cudaStream_t stream) {
    DwArgs a = {dw, dw_fp32, accumulate, dout, inp, L, N, gelu_scratch, {-1, 0}};
    const int flags = (dw_fp32 ? 1 : 0) | (gelu_scratch ? 2 : 0);
    int path = ctx->force_path;
    if (!path) {
        BsrDecision *d = find_dec(ctx, BSR_OP_DW, L, N, flags);
        if (d) { path = d->path; a.choice[0] = d->dw_variant; a.choice[1] = d->dw_split; }
    }
    if (!path && L->nnz > 0 && ctx->by_rule) /* runs nothing: no scratch output */
        path = decide(ctx, BSR_OP_DW, L, N, flags, run_dw, &a, a.choice, CHOOSE_DW, stream);
    if (!path && L->nnz > 0) { /* measure on a scratch output (the real one is accumulated into) */
        void *tmp;
        const size_t bytes = (size_t)L->nnz * L->bs * L->bs * (dw_fp32 ? 4 : 2);
        CUDA_CHECK(cudaMalloc(&tmp, bytes));
        DwArgs m = {tmp, dw_fp32, 0, dout, inp, L, N, gelu_scratch, {-1, 0}};
        path = decide(ctx, BSR_OP_DW, L, N, flags, run_dw, &m, m.choice, CHOOSE_DW, stream);
        a.choice[0] = m.choice[0];
        a.choice[1] = m.choice[1];
        CUDA_CHECK(cudaStreamSynchronize(stream));
        CUDA_CHECK(cudaFree(tmp));
    }
    if (L->nnz > 0) run_dw(ctx, path ? path : BSR_PATH_SPARSE, &a, stream);
}
extern "C" void bsr_linear_backward_weight_gelu(BsrCtx *ctx, void *dw, int dw_fp32, int accumulate,
                                                const bf16 *dout, const bf16 *pre, bf16 *gelu_scratch,
                                                const BsrDeviceLayout *L, int N, cudaStream_t stream) {
    if (!gelu_scratch) {
        fprintf(stderr, "bsr_linear_backward_weight_gelu: gelu_scratch (bf16 [N, cols]) is required\n");
        exit(1);
    }
    linear_backward_weight(ctx, dw, dw_fp32, accumulate, dout, pre, gelu_scratch, L, N, stream);
}
extern "C" void bsr_linear_backward_weight(BsrCtx *ctx, void *dw, int dw_fp32, float *dbias, int accumulate,
                                           const bf16 *dout, const bf16 *inp, const BsrDeviceLayout *L, int N,
                                           cudaStream_t stream) {
    linear_backward_weight(ctx, dw, dw_fp32, accumulate, dout, inp, NULL, L, N, stream);
    if (dbias) {
        const size_t need = bsr_backward_bias_scratch_bytes(N, L->rows);
        if (need > ctx->scratch_bytes) {
            fprintf(stderr, "%s:%d: bsr_linear_backward_weight: the bias gradient needs %zu bytes of scratch, the context "
                            "has %zu: pass at least that as scratch_bytes to bsr_ctx_init\n", __FILE__, __LINE__, need,
                    ctx->scratch_bytes);
            exit(1);
        }
        bsr_backward_bias(dbias, accumulate, dout, N, L->rows, ctx->scratch, stream);
    }
}

