/*
 * bsr_common.cu - host helpers shared by the block-sparse kernel files (bsr_common.cuh):
 * the wgmma probe, the SM count, TMA tensor maps, the layout check, the tuning defaults and the
 * elementwise GELU.
 */
#include "bsr_common.cuh"
#include <stdio.h>
#include <stdlib.h>

static __global__ void bsr_probe_wgmma_kernel(int *out) {
#ifdef BSR_WGMMA
    *out = 1;
#else
    *out = 0;
#endif
}
/* 1 when this binary's device code for the current GPU has the wgmma kernels (sm_90a). */
int bsr_have_wgmma(void) {
    static int have = -1;
    if (have < 0) {
        int *d, h = 0;
        CUDA_CHECK(cudaMalloc(&d, sizeof(int)));
        bsr_probe_wgmma_kernel<<<1, 1>>>(d);
        CUDA_CHECK(cudaGetLastError());
        CUDA_CHECK(cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost));
        CUDA_CHECK(cudaFree(d));
        have = h;
    }
    return have;
}

extern "C" BsrTune bsr_tune_default(void) {
    BsrTune t = {-1, -1, -1, -1, -1};
    return t;
}

int bsr_num_sms(void) {
    static int n = 0;
    if (!n) {
        int dev;
        CUDA_CHECK(cudaGetDevice(&dev));
        CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
    }
    return n;
}

/* 2D row-major bf16 tensor map: rows x cols (cols contiguous, row stride ld elements),
 * box box_rows x 64, 128B swizzle, zero fill out of bounds. */
static PFN_cuTensorMapEncodeTiled_v12000 g_encode = NULL;
int bsr_tma_available(void) {
    static int state = -1;
    if (state < 0) {
        cudaDriverEntryPointQueryResult q;
        void *fn = NULL;
        state = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &q) ==
                        cudaSuccess &&
                    q == cudaDriverEntryPointSuccess && fn;
        g_encode = (PFN_cuTensorMapEncodeTiled_v12000)fn;
        cudaGetLastError();
    }
    return state;
}
void bsr_make_map(CUtensorMap *m, const void *ptr, long rows, long cols, long ld, int box_rows) {
    cuuint64_t dims[2] = {(cuuint64_t)cols, (cuuint64_t)(rows > 0 ? rows : 1)};
    cuuint64_t strides[1] = {(cuuint64_t)ld * 2};
    cuuint32_t box[2] = {64, (cuuint32_t)box_rows};
    cuuint32_t es[2] = {1, 1};
    CUresult r = g_encode(m, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, (void *)ptr, dims, strides, box, es,
                          CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
                          CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) {
        fprintf(stderr, "%s:%d: cuTensorMapEncodeTiled failed (%d) for a bf16 [%ld x %ld] tensor at %p, row stride %ld "
                        "elements, box %d x 64: TMA needs the address 16-byte aligned, the row stride a multiple of "
                        "8 elements (16 bytes) and below 2^40 bytes\n",
                __FILE__, __LINE__, (int)r, rows, cols, ptr, ld, box_rows);
        exit(1);
    }
}

void bsr_check_layout(const BsrDeviceLayout *L, const char *who) {
    if (L->bs != 32 && L->bs != 64 && L->bs != 128) {
        fprintf(stderr, "%s:%d: %s: block size %d not supported (32, 64, 128)%s\n", __FILE__, __LINE__, who, L->bs,
                L->bs == 0 ? "; block size 0: the device layout was never allocated (bsr_device_layout_alloc) or was "
                             "freed" : "");
        exit(1);
    }
}

/* out = gelu_tanh(inp), elementwise, n a multiple of 8 (the unfused path of bsr_backward_weight_gelu) */
static __global__ void bsr_gelu_kernel(bf16 *out, const bf16 *inp, size_t n8) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n8; i += (size_t)gridDim.x * blockDim.x) {
        ((uint4 *)out)[i] = gelu_bf16x8(((const uint4 *)inp)[i]);
    }
}
void bsr_gelu(bf16 *out, const bf16 *inp, size_t n, cudaStream_t stream) {
    const size_t n8 = n / 8;
    size_t blocks = (n8 + 255) / 256;
    if (blocks > (size_t)bsr_num_sms() * 16) blocks = (size_t)bsr_num_sms() * 16;
    if (blocks) bsr_gelu_kernel<<<(unsigned)blocks, 256, 0, stream>>>(out, inp, n8);
    CUDA_CHECK(cudaGetLastError());
}

