/* matmul.cu - see matmul.cuh */
#include "matmul.cuh"
#include <string.h>

void matmul_context_init(MatmulContext *ctx, size_t workspace_bytes) { lt_gemm_init(ctx, workspace_bytes); }
void matmul_context_free(MatmulContext *ctx) { lt_gemm_free(ctx); }

/* bf16 row-major GEMM through core/lt_gemm.cu, column-major view (see matmul.cuh), after the check
 * that cuBLASLt's bf16 kernels need: 16-byte aligned operands */
static void gemm(MatmulContext *ctx, bf16 *D, const bf16 *A, const bf16 *B, int m, int n, int k, int transa,
                 int transb, int lda, int ldb, int ldd, float alpha, float beta, cublasLtEpilogue_t epi,
                 const bf16 *bias, const bf16 *aux, int ldaux, cudaStream_t stream)
{
    const void *ptr[5] = {A, B, D, bias, aux};
    static const char *name[5] = {"A (first operand)", "B (second operand)", "D (output)", "bias", "aux (GELU operand)"};
    for (int i = 0; i < 5; i++)
        if ((uintptr_t)ptr[i] % 16) {
            fprintf(stderr, "matmul (m=%d n=%d k=%d): %s at %p is not 16-byte aligned, as cuBLASLt's bf16 kernels need\n"
                            "  hint: offsets into a bf16 buffer must be multiples of 8 elements\n", m, n, k, name[i], ptr[i]);
            exit(1);
        }
    lt_gemm(ctx, D, CUDA_R_16BF, A, B, m, n, k, transa, transb, lda, ldb, ldd, alpha, beta, epi, bias, aux, ldaux,
            stream, "matmul");
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
    gemm(ctx, out, weight, inp, OC, N, C, 1, 0, C, C, OC, 1.0f, 0.0f, epi, bias, pre_gelu, OC, stream);
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
        gemm(ctx, dinp, weight, dout, C, N, OC, 0, 0, C, OC, C, 1.0f, 0.0f, epi, NULL, pre_gelu, C, stream);
    }
    if (dweight) {
        /* dweight^T[C,OC] = inp^T (C x N, no trans) * dout (stored OC x N, transposed) */
        gemm(ctx, dweight, inp, dout, C, OC, N, 0, 1, C, OC, C, 1.0f, 1.0f, CUBLASLT_EPILOGUE_DEFAULT, NULL, NULL,
                0, stream);
    }
}

void matmul_rowmajor(MatmulContext *ctx, bf16 *D, const bf16 *A, const bf16 *B, int M, int N, int K, int transA,
                     int transB, float alpha, float beta, cudaStream_t stream)
{
    /* row-major D[M,N] = op(A) op(B)  <=>  column-major D^T[N,M] = op(B)^T op(A)^T */
    int ldb = transB ? K : N, lda = transA ? M : K;
    gemm(ctx, D, B, A, N, M, K, transB, transA, ldb, lda, N, alpha, beta, CUBLASLT_EPILOGUE_DEFAULT, NULL, NULL, 0,
            stream);
}
