/* write_probe.cu - how fast can the fc forward's output (N 8192 x 6400 bf16, 105 MB) be written
 * (session 8, run 93)? cudaMemset, a grid-stride 16-byte store kernel, and one CTA per 128 x 64
 * tile (the forward's output tiles, 128-byte row segments) in the forward's grid order, with and
 * without the column order permuted. Medians of 20, us and TB/s.
 *   nvcc -O3 -std=c++17 -gencode arch=compute_90a,code=sm_90a dev/scratch/write_probe.cu -o build/dev/write_probe
 */
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <vector>
#include <cuda_runtime.h>

#define CK(x) do { cudaError_t e_ = (x); if (e_ != cudaSuccess) { printf("%s:%d %s\n", __FILE__, __LINE__, cudaGetErrorString(e_)); exit(1); } } while (0)

__global__ void stride_store(uint4 *p, size_t n16) {
    const uint4 v = make_uint4(threadIdx.x, 1, 2, 3);
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n16; i += (size_t)gridDim.x * blockDim.x) p[i] = v;
}
/* one CTA (128 threads) per 128 x 64 bf16 tile: each thread writes 8 rows' 16-byte chunks */
__global__ void tile_store(unsigned char *y, int ldo_bytes, const int *perm, int ncolt) {
    const int ct = perm ? perm[blockIdx.x % ncolt] : blockIdx.x % ncolt, m0 = (blockIdx.x / ncolt) * 128;
    const uint4 v = make_uint4(threadIdx.x, 1, 2, 3);
    for (int i = threadIdx.x; i < 128 * 8; i += 128) {
        const int r = i / 8, c = i % 8;
        *(uint4 *)(y + (size_t)(m0 + r) * ldo_bytes + ct * 128 + c * 16) = v;
    }
}

int main() {
    const int N = 8192, OC = 6400;
    const size_t bytes = (size_t)N * OC * 2;
    unsigned char *y;
    CK(cudaMalloc(&y, bytes));
    int *perm;
    const int ncolt = OC / 64;
    std::vector<int> hp(ncolt);
    for (int i = 0; i < ncolt; i++) hp[i] = i;
    srand(1);
    std::random_shuffle(hp.begin(), hp.end());
    CK(cudaMalloc(&perm, ncolt * 4));
    CK(cudaMemcpy(perm, hp.data(), ncolt * 4, cudaMemcpyHostToDevice));
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    for (int which = 0; which < 5; which++) {
        std::vector<float> t;
        for (int r = 0; r < 23; r++) {
            CK(cudaEventRecord(e0));
            switch (which) {
            case 0: CK(cudaMemsetAsync(y, r, bytes)); break;
            case 1: stride_store<<<132 * 16, 256>>>((uint4 *)y, bytes / 16); break;
            case 2: tile_store<<<ncolt * (N / 128), 128>>>(y, OC * 2, NULL, ncolt); break;
            case 3: tile_store<<<ncolt * (N / 128), 128>>>(y, OC * 2, perm, ncolt); break;
            case 4: stride_store<<<132 * 4, 1024>>>((uint4 *)y, bytes / 16); break;
            }
            CK(cudaEventRecord(e1));
            CK(cudaEventSynchronize(e1));
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            if (r >= 3) t.push_back(ms);
        }
        std::sort(t.begin(), t.end());
        const float us = t[t.size() / 2] * 1000.f;
        static const char *name[] = {"cudaMemset", "grid-stride uint4 (16/SM x 256)", "128x64 tiles, forward order",
                                     "128x64 tiles, columns permuted", "grid-stride uint4 (4/SM x 1024)"};
        printf("%-36s %7.1f us  %.2f TB/s (write only)\n", name[which], us, bytes / (us * 1e-6) / 1e12);
    }
    return 0;
}
