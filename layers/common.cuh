/*
 * common.cuh - shared pieces of the GPU dense layers (the .cu files of layers/), on top of
 * core/cuda_common.cuh (bf16, CUDA_CHECK, CUBLAS_CHECK): 128-bit packed loads, warp/block reductions and the
 * stochastic-rounding hash. Header-only; device helpers are static inline.
 *
 * Conventions of every layers/ GPU function:
 *   - pointers are device pointers unless named *_host;
 *   - activations, parameters and gradients are bf16 (type bf16), accumulation
 *     is fp32; master weights, AdamW moments, layernorm statistics, losses are fp32;
 *   - every function takes the cudaStream_t it runs on and checks its launch;
 *   - no atomics on floating-point values: results are bit-identical run to run.
 */
#ifndef LAYERS_COMMON_CUH
#define LAYERS_COMMON_CUH

#include <stdint.h>
#include "../core/cuda_common.cuh" /* bf16, CUDA_CHECK, CUBLAS_CHECK */

/* Check the last kernel launch (configuration errors; asynchronous faults surface at the next sync). */
#define LAYERS_LAUNCH_CHECK() LAUNCH_CHECK()

#define LAYERS_WARP 32

static inline int layers_ceil_div(long a, long b) { return (int)((a + b - 1) / b); }

#ifdef __CUDACC__
/* 16 bytes = 8 bf16 */
struct __align__(16) Bf16x8 { bf16 v[8]; };

static __device__ __forceinline__ Bf16x8 load_bf16x8(const bf16 *p) { return *reinterpret_cast<const Bf16x8 *>(p); }
static __device__ __forceinline__ Bf16x8 load_bf16x8_cs(const bf16 *p)
{
    int4 r = __ldcs(reinterpret_cast<const int4 *>(p));
    return *reinterpret_cast<Bf16x8 *>(&r);
}
static __device__ __forceinline__ void store_bf16x8(bf16 *p, Bf16x8 x) { *reinterpret_cast<Bf16x8 *>(p) = x; }

static __device__ __forceinline__ float warp_sum(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}
static __device__ __forceinline__ float warp_max(float v)
{
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}
/* Block-wide sum in a fixed order; every thread gets the result. shared: >= 32 floats.
 * blockDim.x must be a multiple of 32. */
static __device__ __forceinline__ float block_sum(float v, float *shared)
{
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
    v = warp_sum(v);
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    float r = lane < nw ? shared[lane] : 0.0f;
    return warp_sum(r);
}
static __device__ __forceinline__ float block_max(float v, float *shared)
{
    int lane = threadIdx.x % 32, warp = threadIdx.x / 32, nw = blockDim.x / 32;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) shared[warp] = v;
    __syncthreads();
    float r = lane < nw ? shared[lane] : -INFINITY;
    return warp_max(r);
}

/* Deterministic 32-bit hash (for stochastic rounding): same (seed, index) -> same bits. */
static __device__ __forceinline__ uint32_t layers_hash(uint32_t seed, uint32_t idx)
{
    uint32_t h = idx * 0x9E3779B1u ^ seed;
    h ^= h >> 16; h *= 0x85EBCA6Bu;
    h ^= h >> 13; h *= 0xC2B2AE35u;
    h ^= h >> 16;
    return h;
}
/* Round fp32 to bf16 stochastically: add 16 random low bits, truncate. */
static __device__ __forceinline__ bf16 stochastic_round_bf16(float x, uint32_t rnd)
{
    uint32_t bits = __float_as_uint(x);
    if ((bits & 0x7f800000u) == 0x7f800000u) return __float2bfloat16_rn(x); /* inf / nan */
    bits += rnd & 0xFFFFu;
    bits &= 0xFFFF0000u;
    return __float2bfloat16_rn(__uint_as_float(bits)); /* exact: low bits are zero */
}
#endif /* __CUDACC__ */

#endif /* LAYERS_COMMON_CUH */
