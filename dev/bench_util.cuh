/* bench_util.cuh - helpers shared by the dev/ benchmarks: random bf16 fill on the GPU, the median,
 * event timing with the GPU held ahead of the host, and the benchmarks' mask draws. */
#ifndef DEV_BENCH_UTIL_CUH
#define DEV_BENCH_UTIL_CUH

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include "../core/cuda_common.cuh"
#include "../core/gpu_timing.cuh"
#include "../core/utils.h"  /* Rng, checked allocators */
#include "../sparse/bsr.h"  /* BsrLayout */

/* p[i] = uniform(-scale, scale), never 0, from a splitmix64 hash of (seed, i) */
__global__ void bench_fill_kernel(bf16 *p, size_t n, uint64_t seed, float scale) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint64_t z = seed + i * 0x9E3779B97F4A7C15ULL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
        z ^= z >> 31;
        const float u = ((z >> 40) + 0.5f) * (1.0f / 16777216.0f); /* (0,1) never 0 */
        p[i] = __float2bfloat16((2.f * u - 1.f) * scale);
    }
}
static inline void bench_fill(bf16 *p, size_t n, uint64_t seed, float scale) {
    bench_fill_kernel<<<1024, 256>>>(p, n, seed, scale);
    CUDA_CHECK(cudaGetLastError());
}

static inline int bench_cmp_float(const void *a, const void *b) {
    const float x = *(const float *)a, y = *(const float *)b;
    return x < y ? -1 : x > y;
}
/* median of a[0..n), sorting a in place */
static inline float bench_median(float *a, int n) {
    qsort(a, n, sizeof(float), bench_cmp_float);
    return n % 2 ? a[n / 2] : 0.5f * (a[n / 2 - 1] + a[n / 2]);
}

/* ms between two events on stream 0 around fn(), the GPU held hold_us before the first (core/
 * gpu_timing.cuh: the interval then holds the GPU's time only; hold_us 0: the plain measurement,
 * host enqueue time included); *late
 * (may be NULL) counts the calls whose host enqueue outlasted the hold (the interval then holds
 * some host time again: raise the hold) */
template <class F>
static inline float bench_event_ms(int hold_us, cudaEvent_t e0, cudaEvent_t e1, F fn, long *late) {
    gpu_hold(0, hold_us);
    const double h0 = wall_clock_seconds();
    CUDA_CHECK(cudaEventRecord(e0, 0));
    fn();
    CUDA_CHECK(cudaEventRecord(e1, 0));
    if (late && hold_us > 0 && (wall_clock_seconds() - h0) * 1e6 > 0.8 * hold_us) (*late)++;
    CUDA_CHECK(cudaEventSynchronize(e1));
    float ms;
    CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
    return ms;
}

/* the range of --hold-us: 0 (off) to 100 ms */
#define BENCH_HOLD_US_MAX 100000
static inline int bench_hold_us_ok(int hold_us) { return hold_us >= 0 && hold_us <= BENCH_HOLD_US_MAX; }

/* the closing warning of a benchmark whose timed calls (bench_event_ms) were enqueued slower than the
 * hold: those times hold host time again */
static inline void bench_warn_late(const char *prog, long late, long timed, int hold_us) {
    if (late)
        printf("%s: WARNING %ld of %ld timed calls were enqueued slower than the %d us hold: their times include "
               "host time; raise --hold-us\n", prog, late, timed, hold_us);
}

/* the mask seed of one configuration (C, layer 0 = fc / 1 = fcproj, bs, sparsity, draw): a row is the
 * same matrix in any sweep and in either benchmark (the draws of one shared generator had made a row
 * depend on the rows benched before it) */
static inline uint64_t bench_mask_seed(int C, int layer, int bs, float sp, int draw) {
    uint64_t h = 42;
    const uint64_t parts[] = {(uint64_t)C, (uint64_t)layer, (uint64_t)bs, (uint64_t)lrintf(sp * 10000.f), (uint64_t)draw};
    for (int i = 0; i < 5; i++) h = (h ^ parts[i]) * 0x100000001b3ull; /* FNV-1a over the fields */
    return h;
}

/* L's mask (L initialized) at sparsity sp: g - round(sp g) of its g blocks live (at least one), drawn
 * uniformly at random from rng */
static inline void bench_random_mask(BsrLayout *L, float sp, Rng *rng) {
    const int g = L->brows * L->bcols;
    int nlive = g - (int)floor(sp * g + 0.5);
    if (nlive < 1) nlive = 1;
    int *perm = (int *)malloc_check(g * sizeof(int));
    for (int i = 0; i < g; i++) perm[i] = i;
    rng_shuffle_int(rng, perm, g);
    uint8_t *mask = (uint8_t *)calloc_check(g, 1);
    for (int i = 0; i < nlive; i++) mask[perm[i]] = 1;
    bsr_layout_set_mask(L, mask);
    free(perm);
    free(mask);
}

#endif /* DEV_BENCH_UTIL_CUH */
