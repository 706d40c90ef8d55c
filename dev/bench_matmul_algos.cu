/*
 * bench_matmul_algos.cu - every cuBLASLt candidate algorithm for the GPT-2 MLP GEMMs, timed.
 *
 * cuBLASLt's heuristic picks one algorithm per (shape, epilogue); this lists the first 16
 * candidates it offers for the MLP matmuls of d12/d24/d48 (forward with the GELU_AUX_BIAS
 * epilogue, input gradient with and without the DGELU epilogue) and times each, so that a slow
 * first pick (an sm80 kernel where an sm90 one exists) shows up. Median of 20 runs, events.
 *
 *   make build/dev/bench_matmul_algos && ./build/dev/bench_matmul_algos [--tokens N]
 */
#include <cublasLt.h>
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>
#include "../core/cuda_common.cuh"
#include "../core/gpu_timing.cuh"

static float time_algo(cublasLtHandle_t lt, cublasLtMatmulDesc_t op, cublasLtMatrixLayout_t la,
                       cublasLtMatrixLayout_t lb, cublasLtMatrixLayout_t ld, const cublasLtMatmulAlgo_t *algo,
                       const void *A, const void *B, void *D, void *ws, size_t ws_bytes, cudaStream_t s)
{
    float alpha = 1.0f, beta = 0.0f;
    cudaEvent_t e0, e1;
    CUDA_CHECK(cudaEventCreate(&e0));
    CUDA_CHECK(cudaEventCreate(&e1));
    std::vector<float> t;
    for (int r = 0; r < 23; r++) {
        gpu_hold(s, BENCH_HOLD_US); /* GPU time only: core/gpu_timing.cuh */
        CUDA_CHECK(cudaEventRecord(e0, s));
        cublasStatus_t st = cublasLtMatmul(lt, op, &alpha, A, la, B, lb, &beta, D, ld, D, ld, algo, ws, ws_bytes, s);
        if (st != CUBLAS_STATUS_SUCCESS) return -1.0f;
        CUDA_CHECK(cudaEventRecord(e1, s));
        CUDA_CHECK(cudaEventSynchronize(e1));
        float ms;
        CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
        if (r >= 3) t.push_back(ms);
    }
    CUDA_CHECK(cudaEventDestroy(e0));
    CUDA_CHECK(cudaEventDestroy(e1));
    std::sort(t.begin(), t.end());
    return t[t.size() / 2] * 1000.0f;
}

int main(int argc, char **argv)
{
    long N = 32768;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokens") && i + 1 < argc) N = atol(argv[++i]);
        else { fprintf(stderr, "usage: %s [--tokens N]\n", argv[0]); return 1; }
    }
    cublasLtHandle_t lt;
    CUBLAS_CHECK(cublasLtCreate(&lt));
    size_t ws_bytes = 32u << 20;
    void *ws;
    CUDA_CHECK(cudaMalloc(&ws, ws_bytes));
    cudaStream_t s;
    CUDA_CHECK(cudaStreamCreate(&s));
    const int Cs[] = {768, 1024, 1600};
    size_t maxel = (size_t)N * 4 * 1600;
    bf16 *X, *W, *D, *aux, *bias;
    CUDA_CHECK(cudaMalloc(&X, maxel * 2));
    CUDA_CHECK(cudaMalloc(&W, (size_t)4 * 1600 * 1600 * 2));
    CUDA_CHECK(cudaMalloc(&D, maxel * 2));
    CUDA_CHECK(cudaMalloc(&aux, maxel * 2));
    CUDA_CHECK(cudaMalloc(&bias, 4 * 1600 * 2));
    /* small random-ish values, so that no kernel takes a zero shortcut */
    std::vector<uint16_t> h(maxel);
    uint32_t x = 12345;
    for (size_t i = 0; i < maxel; i++) { x = x * 1664525u + 1013904223u; h[i] = 0x3c00 | (x >> 25); }
    CUDA_CHECK(cudaMemcpy(X, h.data(), maxel * 2, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(aux, h.data(), maxel * 2, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(W, h.data(), (size_t)4 * 1600 * 1600 * 2, cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(bias, h.data(), 4 * 1600 * 2, cudaMemcpyHostToDevice));
    printf("tokens N = %ld; times in us, median of 20; candidate 0 is what the heuristic picks\n", N);
    for (int C : Cs) {
        struct Case { const char *name; int m, n, k, ta; cublasLtEpilogue_t epi; };
        /* column-major, as layers/matmul.cu calls them */
        Case cases[] = {
            {"fc forward, GELU_AUX_BIAS", 4 * C, (int)N, C, 1, CUBLASLT_EPILOGUE_GELU_AUX_BIAS},
            {"fcproj dinp, DGELU", 4 * C, (int)N, C, 0, CUBLASLT_EPILOGUE_DGELU},
            {"fcproj dinp, no epilogue", 4 * C, (int)N, C, 0, CUBLASLT_EPILOGUE_DEFAULT},
        };
        for (const Case &c : cases) {
            cublasLtMatmulDesc_t op;
            CUBLAS_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
            cublasOperation_t ta = c.ta ? CUBLAS_OP_T : CUBLAS_OP_N, tb = CUBLAS_OP_N;
            CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
            CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
            CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &c.epi, sizeof c.epi));
            if (c.epi == CUBLASLT_EPILOGUE_GELU_AUX_BIAS) {
                cudaDataType_t bt = CUDA_R_16BF;
                CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt));
                CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
            }
            if (c.epi != CUBLASLT_EPILOGUE_DEFAULT) {
                long ldaux = c.m;
                CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof aux));
                CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ldaux, sizeof ldaux));
            }
            cublasLtMatrixLayout_t la, lb, ld;
            /* A = W: m x k after op; stored k x m if transposed */
            CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, c.ta ? c.k : c.m, c.ta ? c.m : c.k, c.ta ? c.k : c.m));
            CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, c.k, c.n, c.k));
            CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&ld, CUDA_R_16BF, c.m, c.n, c.m));
            cublasLtMatmulPreference_t pref;
            CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
            CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws_bytes,
                                                              sizeof ws_bytes));
            cublasLtMatmulHeuristicResult_t heur[16];
            int found = 0;
            CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, ld, ld, pref, 16, heur, &found));
            double flops = 2.0 * c.m * (double)c.n * c.k;
            printf("C=%d %-28s m=%d n=%d k=%d: %d candidate(s)\n", C, c.name, c.m, c.n, c.k, found);
            for (int i = 0; i < found; i++) {
                int id = 0, tile = 0, stages = 0, splitk = 0;
                size_t sz;
                cublasLtMatmulAlgoConfigGetAttribute(&heur[i].algo, CUBLASLT_ALGO_CONFIG_ID, &id, sizeof id, &sz);
                cublasLtMatmulAlgoConfigGetAttribute(&heur[i].algo, CUBLASLT_ALGO_CONFIG_TILE_ID, &tile, sizeof tile, &sz);
                cublasLtMatmulAlgoConfigGetAttribute(&heur[i].algo, CUBLASLT_ALGO_CONFIG_STAGES_ID, &stages, sizeof stages, &sz);
                cublasLtMatmulAlgoConfigGetAttribute(&heur[i].algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM, &splitk, sizeof splitk, &sz);
                const void *A = W, *B = c.ta ? (const void *)X : (const void *)X;
                float us = time_algo(lt, op, la, lb, ld, &heur[i].algo, A, B, D, ws, ws_bytes, s);
                printf("  [%2d] algo id %3d tile %3d stages %3d splitK %2d ws %8zu: %8.1f us  %6.1f TFLOP/s\n", i, id,
                       tile, stages, splitk, heur[i].workspaceSize, us, us > 0 ? flops / us / 1e6 : 0.0);
            }
            CUBLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
            CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(la));
            CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(lb));
            CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(ld));
            CUBLAS_CHECK(cublasLtMatmulDescDestroy(op));
        }
    }
    CUDA_CHECK(cudaFree(X)); CUDA_CHECK(cudaFree(W)); CUDA_CHECK(cudaFree(D)); CUDA_CHECK(cudaFree(aux));
    CUDA_CHECK(cudaFree(bias)); CUDA_CHECK(cudaFree(ws));
    CUBLAS_CHECK(cublasLtDestroy(lt));
    return 0;
}
