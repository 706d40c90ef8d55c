/*
 * matmul.cuh - dense linear layers through cuBLASLt (bf16 operands, fp32 accumulation),
 * with the bias and GELU epilogues, and a deterministic bias-gradient kernel.
 * Shapes follow llm.c: inp [N, C], weight [OC, C] (out, in), out [N, OC], all row-major.
 * C and OC must be multiples of 8 (16-byte alignment of bf16 rows); N is any positive count.
 */
#ifndef LAYERS_MATMUL_CUH
#define LAYERS_MATMUL_CUH
#include <cublasLt.h>
#include "common.cuh"
#include "../core/lt_tune.cuh" /* the timed algorithm choice */

/* The algorithm chosen for one GEMM problem (shapes, transposes, epilogue), on first use. */
typedef struct {
    int m, n, k, transa, transb, lda, ldb, ldd, epilogue, has_bias, accumulate;
    cublasLtMatmulAlgo_t algo;
    float heuristic_us, chosen_us; /* timed candidates (0 when the problem was not timed) */
} MatmulAlgoChoice;

#define MATMUL_MAX_CHOICES 64

/* A cuBLASLt handle, its persistent workspace and the per-problem algorithm choices.
 * Create once, pass to every call.
 *
 * Algorithm choice: cuBLASLt's heuristic is right most of the time but not always (on H100,
 * the DGELU input-gradient GEMM of d24 at N = 32768 tokens gets a single sm80 candidate that
 * runs at 380 TFLOP/s, while the same problem at N/2 gets an sm90 kernel at 600). So on the
 * first call of each problem that overwrites its output (beta = 0), the candidates of the
 * heuristic for N tokens and for N/2 tokens (checked to support N) are timed on the call's own
 * buffers, and one replaces the heuristic's pick only if it is at least 5% faster (a margin,
 * so that a re-run on the same machine picks the same algorithm: same numerics). Accumulating
 * GEMMs (beta = 1) take the heuristic's pick untimed. */
typedef struct {
    cublasLtHandle_t lt;
    void *workspace;
    size_t workspace_bytes;
    int autotune; /* 1 (default): time candidates as above; 0: always the heuristic's first pick */
    int nchoices;
    MatmulAlgoChoice choices[MATMUL_MAX_CHOICES];
} MatmulContext;

/* workspace_bytes: 32 MiB is what Hopper kernels want (0 picks that). Autotuning on. */
void matmul_context_init(MatmulContext *ctx, size_t workspace_bytes);
void matmul_context_free(MatmulContext *ctx);

/* out = inp W^T (+ bias, if bias != NULL).
 * pre_gelu != NULL: the GELU epilogue: pre_gelu = inp W^T + bias, out = gelu_tanh(pre_gelu). */
void matmul_forward(MatmulContext *ctx, bf16 *out, bf16 *pre_gelu, const bf16 *inp, const bf16 *weight,
                    const bf16 *bias, int N, int C, int OC, cudaStream_t stream);

/* Bias-gradient scratch floats for N rows of OC outputs. */
long matmul_dbias_scratch_floats(int N, int OC);

/* Backward of out = inp W^T + bias:
 *   dinp    = dout W                 (OVERWRITTEN; if pre_gelu != NULL: dinp = (dout W) * gelu'(pre_gelu),
 *                                     the DGELU epilogue, for the layer whose input was gelu(pre_gelu));
 *                                     dinp == NULL skips it
 *   dweight += dout^T inp            (accumulated, fp32 inside cuBLAS, rounded to bf16)
 *   dbias   += column sums of dout   (accumulated; dbias == NULL skips it; needs scratch of
 *                                     matmul_dbias_scratch_floats(N, OC) floats; deterministic). */
void matmul_backward(MatmulContext *ctx, bf16 *dinp, bf16 *dweight, bf16 *dbias, float *scratch,
                     const bf16 *dout, const bf16 *inp, const bf16 *weight, const bf16 *pre_gelu, int N, int C,
                     int OC, cudaStream_t stream);

/* Column sums: dbias[OC] += sum_n dout[n, :], deterministic (fixed row chunks, fixed-order sum). */
void bias_backward(bf16 *dbias, float *scratch, const bf16 *dout, int N, int OC, cudaStream_t stream);
/* The last step of bias_backward on partial column sums computed elsewhere (a fused epilogue):
 * dbias[OC] += sum over k < nchunks of partial[k][OC], in ascending k. */
void bias_backward_finish(bf16 *dbias, const float *partial, int nchunks, int OC, cudaStream_t stream);

/* General row-major GEMM, D[M,N] = alpha * op(A) op(B) + beta * D, for other layers (bf16, fp32 accum).
 * A is [M,K] (transA = 0) or [K,M] (transA = 1); B is [K,N] (transB = 0) or [N,K] (transB = 1). */
void matmul_rowmajor(MatmulContext *ctx, bf16 *D, const bf16 *A, const bf16 *B, int M, int N, int K, int transA,
                     int transB, float alpha, float beta, cudaStream_t stream);
#endif
