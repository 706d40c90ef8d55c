/*
 * lt_tune.cuh - the timed choice among cuBLASLt's candidate algorithms for one GEMM problem, shared
 * by the dense layers (layers/matmul.cu) and the block-sparse crossover's dense paths
 * (sparse/bsr_crossover.cu).
 *
 * Why: cuBLASLt's heuristic is right most of the time but not always (on H100 the DGELU
 * input-gradient GEMM of d24 at N = 32768 tokens gets a single sm80 candidate at 720 us where an
 * sm90 kernel takes 442). So the candidates for n columns (tokens) and for n/2 columns (checked to
 * support n) are timed on the call's own buffers, and one replaces the heuristic's first pick only
 * when at least 5% faster (a margin, so that a re-run on the same machine keeps the same algorithm).
 */
#ifndef CORE_LT_TUNE_CUH
#define CORE_LT_TUNE_CUH

#include <cublasLt.h>
#include "cuda_common.cuh"

/* 1 when a GEMM call may be timed on its own buffers: it overwrites its output D (beta 0) and D and
 * aux (an epilogue's read or written operand, may be NULL) share no memory with each other or the
 * inputs A and B (byte sizes as given) */
int lt_may_time(float beta, const void *D, size_t dbytes, const void *A, size_t abytes, const void *B, size_t bbytes,
                const void *aux, size_t auxbytes);

/* *algo for D[m, n] (type dtype, ld ldd) = op(A)[m, k] op(B)[k, n] under descriptor op and layouts
 * la / lb / ld (B's ld ldb, transposed when transb): cuBLASLt's first pick, or with timed != 0 the
 * fastest candidate as above (timed on A, B, D with beta = 0: D is overwritten, so the caller times
 * only calls that lt_may_time allows). *first_us and *chosen_us (either may be NULL) receive the
 * first pick's and the chosen algorithm's times (0 when not timed). Exits with a message naming the shape
 * when cuBLASLt offers no algorithm (who: the caller's name). */
void lt_choose_algo(cublasLtHandle_t lt, void *workspace, size_t workspace_bytes, cublasLtMatmulDesc_t op,
                    cublasLtMatrixLayout_t la, cublasLtMatrixLayout_t lb, cublasLtMatrixLayout_t ld, cudaDataType dtype,
                    int m, int n, int k, int transb, int ldb, int ldd, int epilogue, const void *A, const void *B,
                    void *D, int timed, cublasLtMatmulAlgo_t *algo, float *first_us, float *chosen_us,
                    cudaStream_t stream, const char *who);

#endif /* CORE_LT_TUNE_CUH */
