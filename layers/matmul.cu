/* matmul.cu - see matmul.cuh */
#include "matmul.cuh"
#include <string.h>

void matmul_context_init(MatmulContext *ctx, size_t workspace_bytes)
{
    if (workspace_bytes == 0) workspace_bytes = 32u << 20;
    CUBLAS_CHECK(cublasLtCreate(&ctx->lt));
    CUDA_CHECK(cudaMalloc(&ctx->workspace, workspace_bytes));
    ctx->workspace_bytes = workspace_bytes;
    ctx->autotune = 1;
    ctx->nchoices = 0;
}

void matmul_context_free(MatmulContext *ctx)
{
    if (ctx->workspace) CUDA_CHECK(cudaFree(ctx->workspace));
    if (ctx->lt) CUBLAS_CHECK(cublasLtDestroy(ctx->lt));
    ctx->workspace = NULL;
    ctx->lt = NULL;
}

/* Fill choice->algo for a problem met for the first time (see MatmulContext in matmul.cuh): timed
 * (core/lt_tune.cuh) only when the call overwrites an output that none of its inputs share. */
static void choose_algo(MatmulContext *ctx, MatmulAlgoChoice *choice, cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t la,
                        cublasLtMatrixLayout_t lb, cublasLtMatrixLayout_t ld, const bf16 *A, const bf16 *B, bf16 *D,
                        const bf16 *aux, float beta, int ldaux, cudaStream_t stream)
{
    const int m = choice->m, n = choice->n, k = choice->k;
    size_t dbytes = (size_t)choice->ldd * n * sizeof(bf16);
    size_t abytes = (size_t)choice->lda * (choice->transa ? m : k) * sizeof(bf16);
    size_t bbytes = (size_t)choice->ldb * (choice->transb ? k : n) * sizeof(bf16);
    size_t auxbytes = aux ? (size_t)ldaux * n * sizeof(bf16) : 0;
    /* aux is read by DGELU and written by GELU_AUX: either way it must not share memory with D, A or B */
    const int timed = ctx->autotune && lt_may_time(beta, D, dbytes, A, abytes, B, bbytes, aux, auxbytes);
    lt_choose_algo(ctx->lt, ctx->workspace, ctx->workspace_bytes, op, la, lb, ld, CUDA_R_16BF, m, n, k, choice->transb,
                   choice->ldb, choice->ldd, choice->epilogue, A, B, D, timed, &choice->algo, &choice->heuristic_us,
                   &choice->chosen_us, stream, "matmul");
}

/* Column-major core: D[m,n] (ld ldd) = alpha op(A) op(B) + beta D, with an optional epilogue.
 * A is m x k after op (stored k x m with lda if transa), B is k x n after op. */
static void lt_gemm(MatmulContext *ctx, bf16 *D, const bf16 *A, const bf16 *B, int m, int n, int k, int transa,
                    int transb, int lda, int ldb, int ldd, float alpha, float beta, cublasLtEpilogue_t epi,
                    const bf16 *bias, const bf16 *aux, int ldaux, cudaStream_t stream)
{
    if (((uintptr_t)A | (uintptr_t)B | (uintptr_t)D) % 16 || (bias && (uintptr_t)bias % 16) ||
        (aux && (uintptr_t)aux % 16)) {
        fprintf(stderr, "matmul: pointers must be 16-byte aligned\n");
        exit(1);
    }
    cublasLtMatmulDesc_t op;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = transa ? CUBLAS_OP_T : CUBLAS_OP_N, tb = transb ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    if (bias) {
        cudaDataType_t bt = CUDA_R_16BF;
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt));
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    }
    if (aux) {
        long ld = ldaux;
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof aux));
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld, sizeof ld));
    }
    cublasLtMatrixLayout_t la, lb, ld;
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, transa ? k : m, transa ? m : k, lda));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, transb ? n : k, transb ? k : n, ldb));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&ld, CUDA_R_16BF, m, n, ldd));
    MatmulAlgoChoice key;
    memset(&key, 0, sizeof key);
    key.m = m; key.n = n; key.k = k; key.transa = transa; key.transb = transb;
    key.lda = lda; key.ldb = ldb; key.ldd = ldd; key.epilogue = (int)epi; key.has_bias = bias != NULL;
    key.accumulate = beta != 0.0f;
    const MatmulAlgoChoice *choice = NULL;
    for (int i = 0; i < ctx->nchoices && !choice; i++) {
        const MatmulAlgoChoice *c = &ctx->choices[i];
        if (c->m == m && c->n == n && c->k == k && c->transa == transa && c->transb == transb && c->lda == lda &&
            c->ldb == ldb && c->ldd == ldd && c->epilogue == key.epilogue && c->has_bias == key.has_bias &&
            c->accumulate == key.accumulate)
            choice = c;
    }
    if (!choice) {
        /* a full table would re-time this problem on every call: take the heuristic's pick instead */
        int full = ctx->nchoices >= MATMUL_MAX_CHOICES, autotune = ctx->autotune;
        if (full) ctx->autotune = 0;
        choose_algo(ctx, &key, op, la, lb, ld, A, B, D, aux, beta, ldaux, stream);
        ctx->autotune = autotune;
        if (!full) ctx->choices[ctx->nchoices++] = key;
        choice = &key;
    }
    CUBLAS_CHECK(cublasLtMatmul(ctx->lt, op, &alpha, A, la, B, lb, &beta, D, ld, D, ld, &choice->algo, ctx->workspace,
                                ctx->workspace_bytes, stream));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(la));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(lb));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(ld));
    CUBLAS_CHECK(cublasLtMatmulDescDestroy(op));
}

/* C and OC are the leading dimensions (16-byte aligned rows of bf16); N (the token count) is free */
static void check_dims(const char *fn, int N, int C, int OC)
{
    if (N <= 0 || C % 8 || OC % 8) {
        fprintf(stderr, "%s: N=%d C=%d OC=%d: C and OC must be multiples of 8, N positive\n", fn, N, C, OC);
        exit(1);
    }
}

void matmul_forward(MatmulContext *ctx, bf16 *out, bf16 *pre_gelu, const bf16 *inp, const bf16 *weight,
                    const bf16 *bias, int N, int C, int OC, cudaStream_t stream)
{
    check_dims("matmul_forward", N, C, OC);
    /* column-major: out^T[OC,N] = W[OC,C] (stored C x OC, transposed) * inp^T (C x N) */
    cublasLtEpilogue_t epi;
    if (pre_gelu) epi = bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX;
    else epi = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    lt_gemm(ctx, out, weight, inp, OC, N, C, 1, 0, C, C, OC, 1.0f, 0.0f, epi, bias, pre_gelu, OC, stream);
}

#define DB_ROWS 512 /* rows per chunk of the bias-gradient reduction */
/* grid (ceil(OC/64), nchunks), block (32, 8): channel pair, 8 row lanes */
__global__ void bias_backward_partial_kernel(float *partial, const bf16 *dout, int N, int OC)
{
    __shared__ float sh[8][64];
    int c = blockIdx.x * 64 + threadIdx.x * 2;
    int r0 = blockIdx.y * DB_ROWS, r1 = min(N, r0 + DB_ROWS);
    float a0 = 0.0f, a1 = 0.0f;
    if (c < OC) {
        for (int r = r0 + threadIdx.y; r < r1; r += 8) {
            __nv_bfloat162 v = *reinterpret_cast<const __nv_bfloat162 *>(dout + (long)r * OC + c);
            a0 += __low2float(v);
            a1 += __high2float(v);
        }
    }
    sh[threadIdx.y][threadIdx.x * 2] = a0;
    sh[threadIdx.y][threadIdx.x * 2 + 1] = a1;
    __syncthreads();
    if (threadIdx.y == 0 && c < OC) {
        for (int y = 1; y < 8; y++) { a0 += sh[y][threadIdx.x * 2]; a1 += sh[y][threadIdx.x * 2 + 1]; }
        partial[(long)blockIdx.y * OC + c] = a0;
        partial[(long)blockIdx.y * OC + c + 1] = a1;
    }
}
/* block (32, 8): 32 columns; row y of the block sums chunks y, y + 8, ... and the 8 sums are added
 * in a fixed order (deterministic, and 8 loads in flight per column instead of one chain) */
__global__ void bias_backward_finish_kernel(bf16 *dbias, const float *partial, int nchunks, int OC)
{
    __shared__ float sh[8][32];
    int c = blockIdx.x * 32 + threadIdx.x;
    float s = 0.0f;
    if (c < OC)
        for (int k = threadIdx.y; k < nchunks; k += 8) s += partial[(long)k * OC + c];
    sh[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < OC) {
        for (int y = 1; y < 8; y++) s += sh[y][threadIdx.x];
        dbias[c] = __float2bfloat16_rn(__bfloat162float(dbias[c]) + s);
    }
}

long matmul_dbias_scratch_floats(int N, int OC) { return (long)layers_ceil_div(N, DB_ROWS) * OC; }

void bias_backward(bf16 *dbias, float *scratch, const bf16 *dout, int N, int OC, cudaStream_t stream)
{
    if (OC % 2) { fprintf(stderr, "bias_backward: OC=%d must be even\n", OC); exit(1); }
    int nchunks = layers_ceil_div(N, DB_ROWS);
    dim3 grid(layers_ceil_div(OC, 64), nchunks), blk(32, 8);
    bias_backward_partial_kernel<<<grid, blk, 0, stream>>>(scratch, dout, N, OC);
    LAYERS_LAUNCH_CHECK();
    bias_backward_finish_kernel<<<layers_ceil_div(OC, 32), dim3(32, 8), 0, stream>>>(dbias, scratch, nchunks, OC);
    LAYERS_LAUNCH_CHECK();
}

void bias_backward_finish(bf16 *dbias, const float *partial, int nchunks, int OC, cudaStream_t stream)
{
    bias_backward_finish_kernel<<<layers_ceil_div(OC, 32), dim3(32, 8), 0, stream>>>(dbias, partial, nchunks, OC);
    LAYERS_LAUNCH_CHECK();
}

void matmul_backward(MatmulContext *ctx, bf16 *dinp, bf16 *dweight, bf16 *dbias, float *scratch,
                     const bf16 *dout, const bf16 *inp, const bf16 *weight, const bf16 *pre_gelu, int N, int C,
                     int OC, cudaStream_t stream)
{
    check_dims("matmul_backward", N, C, OC);
    if (dbias) bias_backward(dbias, scratch, dout, N, OC, stream);
    if (dinp) {
        /* dinp^T[C,N] = W^T (W stored C x OC col-major, no trans) * dout^T (OC x N) */
        cublasLtEpilogue_t epi = pre_gelu ? CUBLASLT_EPILOGUE_DGELU : CUBLASLT_EPILOGUE_DEFAULT;
        lt_gemm(ctx, dinp, weight, dout, C, N, OC, 0, 0, C, OC, C, 1.0f, 0.0f, epi, NULL, pre_gelu, C, stream);
    }
    if (dweight) {
        /* dweight^T[C,OC] = inp^T (C x N, no trans) * dout (stored OC x N, transposed) */
        lt_gemm(ctx, dweight, inp, dout, C, OC, N, 0, 1, C, OC, C, 1.0f, 1.0f, CUBLASLT_EPILOGUE_DEFAULT, NULL, NULL,
                0, stream);
    }
}

void matmul_rowmajor(MatmulContext *ctx, bf16 *D, const bf16 *A, const bf16 *B, int M, int N, int K, int transA,
                     int transB, float alpha, float beta, cudaStream_t stream)
{
    /* row-major D[M,N] = op(A) op(B)  <=>  column-major D^T[N,M] = op(B)^T op(A)^T */
    int ldb = transB ? K : N, lda = transA ? M : K;
    lt_gemm(ctx, D, B, A, N, M, K, transB, transA, ldb, lda, N, alpha, beta, CUBLASLT_EPILOGUE_DEFAULT, NULL, NULL, 0,
            stream);
}
