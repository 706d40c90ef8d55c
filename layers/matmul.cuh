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
#include "../core/lt_gemm.cuh" /* the cuBLASLt call and its timed algorithm choice */

/* A cuBLASLt handle, its persistent workspace and the per-problem algorithm choices (see
 * core/lt_gemm.cuh for how a problem's algorithm is chosen: timed on its first call when that call
 * overwrites its output; the weight gradient, which accumulates, takes the heuristic's pick).
 * Create once, pass to every call. */
typedef LtGemm MatmulContext;

/* workspace_bytes: 0 picks 32 MiB (what Hopper kernels want). Autotuning on. */
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
