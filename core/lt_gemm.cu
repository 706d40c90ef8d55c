/* lt_gemm.cu - see lt_gemm.cuh */
#include "lt_gemm.cuh"
#include "gpu_timing.cuh"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the alignment cuBLASLt may rely on for pointer p: its lowest set address bit, at most 256 (NULL: 256) */
static int pointer_alignment(const void *p) {
    const uintptr_t x = (uintptr_t)p;
    if (!x) return 256;
    const uintptr_t low = x & (~x + 1);
    return low >= 256 ? 256 : (int)low;
}

static int ranges_overlap(const void *a, size_t abytes, const void *b, size_t bbytes) {
    const uintptr_t x = (uintptr_t)a, y = (uintptr_t)b;
    return a && b && x < y + bbytes && y < x + abytes;
}

/* 1 when a call may be timed on its own buffers: it overwrites D (beta 0) and D and aux (an
 * epilogue's operand, read by DGELU, written by GELU_AUX; may be NULL) share no memory with each
 * other or the inputs A and B (byte sizes as given) */
static int may_time(float beta, const void *D, size_t dbytes, const void *A, size_t abytes, const void *B,
                    size_t bbytes, const void *aux, size_t auxbytes) {
    return beta == 0.0f && !ranges_overlap(D, dbytes, A, abytes) && !ranges_overlap(D, dbytes, B, bbytes) &&
           !ranges_overlap(D, dbytes, aux, auxbytes) && !ranges_overlap(aux, auxbytes, A, abytes) &&
           !ranges_overlap(aux, auxbytes, B, bbytes);
}

/* one candidate on the call's buffers: one warm-up, then the best of 3 runs (us; < 0 if it fails), in
 * GPU time: the GPU is held (gpu_timing.cuh) while the host enqueues the runs back to back, an event
 * between each two (ev: 4 events) */
static float time_candidate(cublasLtHandle_t lt, void *workspace, size_t workspace_bytes, cublasLtMatmulDesc_t op,
                            cublasLtMatrixLayout_t la, cublasLtMatrixLayout_t lb, cublasLtMatrixLayout_t ld,
                            const cublasLtMatmulAlgo_t *algo, const void *A, const void *B, void *D,
                            const cudaEvent_t ev[4], cudaStream_t stream) {
    const float alpha = 1.0f, beta = 0.0f;
    if (cublasLtMatmul(lt, op, &alpha, A, la, B, lb, &beta, D, ld, D, ld, algo, workspace, workspace_bytes, stream) !=
        CUBLAS_STATUS_SUCCESS)
        return -1.0f; /* warm-up */
    gpu_hold(stream, GPU_HOLD_US);
    CUDA_CHECK(cudaEventRecord(ev[0], stream));
    int ok = 1;
    for (int r = 0; r < 3; r++) {
        ok &= cublasLtMatmul(lt, op, &alpha, A, la, B, lb, &beta, D, ld, D, ld, algo, workspace, workspace_bytes,
                             stream) == CUBLAS_STATUS_SUCCESS;
        CUDA_CHECK(cudaEventRecord(ev[r + 1], stream));
    }
    CUDA_CHECK(cudaEventSynchronize(ev[3]));
    if (!ok) return -1.0f;
    float best = -1.0f;
    for (int r = 0; r < 3; r++) {
        float ms;
        CUDA_CHECK(cudaEventElapsedTime(&ms, ev[r], ev[r + 1]));
        if (best < 0 || ms * 1000.0f < best) best = ms * 1000.0f;
    }
    return best;
}

/* *algo for the problem under descriptor op and layouts la / lb / ld: cuBLASLt's first pick, or
 * with timed != 0 the fastest candidate as lt_gemm.cuh says (timed on A, B, D with beta = 0).
 * *first_us and *chosen_us receive the first pick's and the chosen algorithm's times (0 when not
 * timed). Exits with a message naming the shape when cuBLASLt offers no algorithm. */
static void choose_algo(cublasLtHandle_t lt, void *workspace, size_t workspace_bytes, cublasLtMatmulDesc_t op,
                        cublasLtMatrixLayout_t la, cublasLtMatrixLayout_t lb, cublasLtMatrixLayout_t ld,
                        cudaDataType dtype, int m, int n, int k, int transb, int ldb, int ldd, int epilogue,
                        const void *A, const void *B, void *D, const int align[5], int timed, cublasLtMatmulAlgo_t *algo,
                        float *first_us, float *chosen_us, cudaStream_t stream, const char *who) {
    enum { PER_QUERY = 8 };
    cublasLtMatmulPreference_t pref;
    CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &workspace_bytes,
                                                      sizeof workspace_bytes));
    /* the operands' real alignment: by default the heuristic assumes 256 bytes and may pick an algorithm
     * that needs it (layer slices at C 1600 are only 128-byte aligned); the bias and aux pointers it
     * reads from the descriptor */
    const uint32_t aa = (uint32_t)align[0], ab = (uint32_t)align[1], ad = (uint32_t)align[2];
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, &aa, sizeof aa));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, &ab, sizeof ab));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, &ad, sizeof ad));
    CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, &ad, sizeof ad));
    cublasLtMatmulHeuristicResult_t cand[2 * PER_QUERY];
    int found = 0;
    CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, ld, ld, pref, timed ? PER_QUERY : 1, cand, &found));
    if (found == 0) {
        fprintf(stderr, "%s: no cuBLASLt algorithm for m=%d n=%d k=%d epilogue=%d (alignment of A %d, B %d, D %d, "
                "bias %d, aux %d bytes)\n  hint: dimensions must be multiples of 8 and pointers 16-byte aligned\n",
                who, m, n, k, epilogue, align[0], align[1], align[2], align[3], align[4]);
        exit(1);
    }
    *algo = cand[0].algo;
    *first_us = 0.0f;
    *chosen_us = 0.0f;
    if (!timed) {
        CUBLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
        return;
    }
    /* the candidates for half the columns (tokens), where they also support all of them */
    if (n >= 512 && n % 2 == 0) {
        cublasLtMatrixLayout_t lb2, ld2;
        CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lb2, CUDA_R_16BF, transb ? n / 2 : k, transb ? k : n / 2, ldb));
        CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&ld2, dtype, m, n / 2, ldd));
        cublasLtMatmulHeuristicResult_t half[PER_QUERY];
        int nhalf = 0;
        CUBLAS_CHECK(cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb2, ld2, ld2, pref, PER_QUERY, half, &nhalf));
        for (int i = 0; i < nhalf; i++) {
            int dup = 0;
            for (int j = 0; j < found && !dup; j++) dup = !memcmp(&half[i].algo, &cand[j].algo, sizeof(cublasLtMatmulAlgo_t));
            cublasLtMatmulHeuristicResult_t check;
            if (dup || cublasLtMatmulAlgoCheck(lt, op, la, lb, ld, ld, &half[i].algo, &check) != CUBLAS_STATUS_SUCCESS ||
                check.workspaceSize > workspace_bytes)
                continue;
            cand[found++] = half[i];
        }
        CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(lb2));
        CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(ld2));
    }
    CUBLAS_CHECK(cublasLtMatmulPreferenceDestroy(pref));
    if (found < 2) return;
    cudaEvent_t ev[4];
    for (int i = 0; i < 4; i++) CUDA_CHECK(cudaEventCreate(&ev[i]));
    const float t0 = time_candidate(lt, workspace, workspace_bytes, op, la, lb, ld, &cand[0].algo, A, B, D, ev, stream);
    float best = t0;
    int pick = 0;
    for (int i = 1; i < found; i++) {
        const float t = time_candidate(lt, workspace, workspace_bytes, op, la, lb, ld, &cand[i].algo, A, B, D, ev,
                                       stream);
        if (t > 0 && (best <= 0 || t < best)) { best = t; pick = i; }
    }
    for (int i = 0; i < 4; i++) CUDA_CHECK(cudaEventDestroy(ev[i]));
    if (t0 > 0 && best >= 0.95f * t0) pick = 0; /* keep the heuristic's pick unless clearly beaten */
    *algo = cand[pick].algo;
    *first_us = t0;
    *chosen_us = pick == 0 ? t0 : best;
}

void lt_gemm_init(LtGemm *g, size_t workspace_bytes) {
    memset(g, 0, sizeof(*g));
    g->workspace_bytes = workspace_bytes ? workspace_bytes : (32u << 20);
    CUBLAS_CHECK(cublasLtCreate(&g->lt));
    CUDA_CHECK(cudaMalloc(&g->workspace, g->workspace_bytes));
    g->autotune = 1;
}

void lt_gemm_free(LtGemm *g) {
    if (g->workspace) CUDA_CHECK(cudaFree(g->workspace));
    if (g->lt) CUBLAS_CHECK(cublasLtDestroy(g->lt));
    memset(g, 0, sizeof(*g));
}

void lt_gemm(LtGemm *g, void *D, cudaDataType dtype, const bf16 *A, const bf16 *B, int m, int n, int k, int transa,
             int transb, int lda, int ldb, int ldd, float alpha, float beta, cublasLtEpilogue_t epi, const bf16 *bias,
             const bf16 *aux, int ldaux, cudaStream_t stream, const char *who) {
    if (dtype != CUDA_R_16BF && (bias || aux)) {
        fprintf(stderr, "%s: lt_gemm takes a bias or an epilogue operand (bf16) only with a bf16 output\n", who);
        exit(1);
    }
    cublasLtMatmulDesc_t op;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t ta = transa ? CUBLAS_OP_T : CUBLAS_OP_N, tb = transb ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof ta));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof tb));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    if (bias) {
        const cudaDataType bt = CUDA_R_16BF;
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt));
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias));
    }
    if (aux) {
        const int64_t ld = ldaux;
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof aux));
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ld, sizeof ld));
        const cudaDataType at = CUDA_R_16BF; /* the default is D's type: bf16 here, said once */
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_DATA_TYPE, &at, sizeof at));
    }
    cublasLtMatrixLayout_t la, lb, ld;
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, transa ? k : m, transa ? m : k, lda));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, transb ? n : k, transb ? k : n, ldb));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&ld, dtype, m, n, ldd));

    LtGemmChoice key;
    memset(&key, 0, sizeof key);
    key.dtype = (int)dtype; key.transa = transa; key.transb = transb; key.m = m; key.n = n; key.k = k;
    key.lda = lda; key.ldb = ldb; key.ldd = ldd; key.epilogue = (int)epi; key.has_bias = bias != NULL;
    key.accumulate = beta != 0.0f;
    key.align[0] = pointer_alignment(A); key.align[1] = pointer_alignment(B); key.align[2] = pointer_alignment(D);
    key.align[3] = pointer_alignment(bias); key.align[4] = pointer_alignment(aux);
    const LtGemmChoice *choice = NULL;
    for (int i = 0; i < g->nchoices && !choice; i++) {
        const LtGemmChoice *c = &g->choices[i];
        if (c->dtype == key.dtype && c->transa == transa && c->transb == transb && c->m == m && c->n == n &&
            c->k == k && c->lda == lda && c->ldb == ldb && c->ldd == ldd && c->epilogue == key.epilogue &&
            c->has_bias == key.has_bias && c->accumulate == key.accumulate && !memcmp(c->align, key.align, sizeof key.align))
            choice = c;
    }
    if (!choice) {
        const size_t esize = dtype == CUDA_R_32F ? 4 : 2;
        const size_t dbytes = (size_t)ldd * n * esize, abytes = (size_t)lda * (transa ? m : k) * 2,
                     bbytes = (size_t)ldb * (transb ? k : n) * 2, auxbytes = aux ? (size_t)ldaux * n * 2 : 0;
        const int full = g->nchoices >= LT_GEMM_MAX_CHOICES;
        const int timed = g->autotune && !full && may_time(beta, D, dbytes, A, abytes, B, bbytes, aux, auxbytes);
        choose_algo(g->lt, g->workspace, g->workspace_bytes, op, la, lb, ld, dtype, m, n, k, transb, ldb, ldd,
                    (int)epi, A, B, D, key.align, timed, &key.algo, &key.heuristic_us, &key.chosen_us, stream, who);
        if (!full) g->choices[g->nchoices++] = key;
        choice = &key;
    }
    CUBLAS_CHECK(cublasLtMatmul(g->lt, op, &alpha, A, la, B, lb, &beta, D, ld, D, ld, &choice->algo, g->workspace,
                                g->workspace_bytes, stream));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(la));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(lb));
    CUBLAS_CHECK(cublasLtMatrixLayoutDestroy(ld));
    CUBLAS_CHECK(cublasLtMatmulDescDestroy(op));
}
