/*
 * lt_gemm.cuh - the project's one cuBLASLt GEMM: a handle, its workspace, and the algorithm chosen
 * per problem, shared by the dense layers (layers/matmul.cu, MatmulContext) and the block-sparse
 * crossover's dense paths (sparse/bsr_crossover.cu, BsrBlas). bf16 operands, fp32 compute, bf16 or
 * fp32 output, with cuBLASLt's bias / GELU / DGELU epilogues.
 *
 * Algorithm choice: cuBLASLt's heuristic is right most of the time but not always (on H100 the
 * DGELU input-gradient GEMM of d24 at N = 32768 tokens gets a single sm80 candidate at 720 us where
 * an sm90 kernel takes 442). So on the first call of each problem that overwrites its output
 * (beta = 0) and shares no memory between output and inputs, the heuristic's candidates for n
 * columns (tokens) and for n/2 columns (checked to support n) are timed on the call's own buffers
 * (GPU time, core/gpu_timing.cuh), and one replaces the heuristic's first pick only when at least
 * 5% faster (a margin, so that a re-run on the same machine keeps the same algorithm: the same
 * numerics). Accumulating calls (beta != 0) take the heuristic's pick untimed. The choice is kept
 * per problem (types, shapes, leading dimensions, epilogue, bias, accumulate), not per pointer.
 */
#ifndef CORE_LT_GEMM_CUH
#define CORE_LT_GEMM_CUH

#include <cublasLt.h>
#include "cuda_common.cuh"

/* The algorithm chosen for one GEMM problem, on its first call. */
typedef struct {
    int dtype, transa, transb, m, n, k, lda, ldb, ldd, epilogue, has_bias, accumulate; /* the problem */
    int align[5];                  /* the byte alignment (<= 256) of A, B, D, bias and aux: the algorithm
                                    * was chosen for these, and may need them */
    cublasLtMatmulAlgo_t algo;
    float heuristic_us, chosen_us; /* the heuristic's first pick and the chosen one (0: not timed) */
} LtGemmChoice;

/* past this many problems, each new one takes the heuristic's pick, asked again on every call
 * (timing it on every call would cost more than it saves) */
#define LT_GEMM_MAX_CHOICES 128 /* d48 has ~12 GEMM problems per alignment class of its slices */

typedef struct {
    cublasLtHandle_t lt;
    void *workspace;
    size_t workspace_bytes;
    int autotune; /* 1 (lt_gemm_init): timed choice as above; 0: always the heuristic's first pick */
    int nchoices;
    LtGemmChoice choices[LT_GEMM_MAX_CHOICES];
} LtGemm;

/* workspace_bytes: 0 picks 32 MiB (what Hopper kernels want). Autotuning on. */
void lt_gemm_init(LtGemm *g, size_t workspace_bytes);
void lt_gemm_free(LtGemm *g);

/* Column-major D[m, n] (dtype CUDA_R_16BF or CUDA_R_32F, leading dimension ldd) =
 * alpha op(A)[m, k] op(B)[k, n] + beta D, A and B bf16 (A stored k x m with lda when transa, B
 * stored n x k with ldb when transb), with epilogue epi: bias (bf16 [m], may be NULL), aux (bf16,
 * leading dimension ldaux: the pre-activation written by GELU_AUX*, read by DGELU; may be NULL).
 * who names the caller in the error when cuBLASLt has no algorithm for the problem. */
void lt_gemm(LtGemm *g, void *D, cudaDataType dtype, const bf16 *A, const bf16 *B, int m, int n, int k, int transa,
             int transb, int lda, int ldb, int ldd, float alpha, float beta, cublasLtEpilogue_t epi, const bf16 *bias,
             const bf16 *aux, int ldaux, cudaStream_t stream, const char *who);

#endif /* CORE_LT_GEMM_CUH */
