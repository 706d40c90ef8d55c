/* gpu_timing.cu - see gpu_timing.cuh */
#include "gpu_timing.cuh"

static __global__ void gpu_hold_kernel(unsigned long long ns) {
    unsigned long long t0, t;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    do {
        __nanosleep(500);
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
    } while (t - t0 < ns);
}

void gpu_hold(cudaStream_t stream, int hold_us) {
    if (hold_us <= 0) return;
    gpu_hold_kernel<<<1, 1, 0, stream>>>((unsigned long long)hold_us * 1000ull);
    LAUNCH_CHECK();
}
