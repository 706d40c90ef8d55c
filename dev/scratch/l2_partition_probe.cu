// session 12, run 157: which SMs sit on which L2 partition (H100: two partitions joined by a fabric).
// Each CTA (one per SM, by taking most of the shared memory) times chains of dependent atomics on one
// of K addresses; atomics resolve at the address's home partition, so the latency splits the SMs into
// near and far groups per address. nvcc -O3 -arch=sm_90a l2_partition_probe.cu -o probe
#include <cstdio>
#include <vector>
#include <algorithm>
#include <cuda_runtime.h>
#define K 8
__global__ void probe(unsigned *buf, long stride, unsigned mask, long long *lat, int *smids) {
    extern __shared__ char pad[];
    if (threadIdx.x) return;
    unsigned smid;
    asm volatile("mov.u32 %0, %%smid;" : "=r"(smid));
    smids[blockIdx.x] = smid;
    pad[0] = 0;
    for (int k = 0; k < K; k++) {
        unsigned *p = buf + k * stride;
        unsigned v = atomicAdd(p, 1u); // warm
        long long t0 = clock64();
        for (int i = 0; i < 64; i++) v = atomicAdd(p + (v & mask), 1u);
        long long t1 = clock64();
        lat[blockIdx.x * K + k] = (t1 - t0) / 64 + (v & mask);
    }
}
int main() {
    int nsm; cudaDeviceGetAttribute(&nsm, cudaDevAttrMultiProcessorCount, 0);
    const long stride = (1 << 20) + 4096 * 3; // ~4 MB apart, odd pages
    unsigned *buf; cudaMalloc(&buf, K * stride * 4 + 4096); cudaMemset(buf, 0, K * stride * 4 + 4096);
    long long *lat; int *smids; cudaMallocManaged(&lat, nsm * K * 8); cudaMallocManaged(&smids, nsm * 4);
    int smem = 200 * 1024;
    cudaFuncSetAttribute(probe, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    std::vector<long long> best(nsm * K, 1LL << 60);
    std::vector<int> seen(nsm, 0);
    for (int rep = 0; rep < 6; rep++) {
        probe<<<nsm, 32, smem>>>(buf, stride, 0u, lat, smids);
        cudaDeviceSynchronize();
        for (int b = 0; b < nsm; b++) {
            int s = smids[b]; if (s < 0 || s >= nsm) continue; seen[s] = 1;
            for (int k = 0; k < K; k++) best[s * K + k] = std::min(best[s * K + k], lat[b * K + k]);
        }
    }
    printf("cuda: %s\n", cudaGetErrorString(cudaGetLastError()));
    for (int k = 0; k < K; k++) {
        std::vector<long long> v; for (int s = 0; s < nsm; s++) if (seen[s]) v.push_back(best[s * K + k]);
        std::sort(v.begin(), v.end());
        long long med = v[v.size() / 2];
        printf("addr %d: min %lld med %lld max %lld  far(>mid of min,max):", k, v.front(), med, v.back());
        long long mid = (v.front() + v.back()) / 2;
        for (int s = 0; s < nsm; s++) printf("%c", !seen[s] ? '?' : best[s * K + k] > mid ? '1' : '0');
        printf("\n");
    }
    printf("latency of address 0 by smid:");
    for (int s = 0; s < nsm; s++) printf(" %lld", best[s * K]);
    printf("\n");
    return 0;
}
