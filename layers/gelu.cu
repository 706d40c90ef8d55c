/* gelu.cu - see gelu.cuh */
#include "gelu.cuh"

#define GELU_S 0.7978845608028654f

__global__ void gelu_forward_kernel(bf16 *out, const bf16 *inp, long n)
{
    long i = ((long)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (i >= n) return;
    Bf16x8 x = load_bf16x8_cs(inp + i), o;
#pragma unroll
    for (int k = 0; k < 8; k++) {
        float v = __bfloat162float(x.v[k]);
        o.v[k] = __float2bfloat16_rn(0.5f * v * (1.0f + tanhf(GELU_S * (v + 0.044715f * v * v * v))));
    }
    store_bf16x8(out + i, o);
}

__global__ void gelu_backward_kernel(bf16 *dinp, const bf16 *inp, const bf16 *dout, long n)
{
    long i = ((long)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (i >= n) return;
    Bf16x8 x = load_bf16x8_cs(inp + i), d = load_bf16x8_cs(dout + i), o;
#pragma unroll
    for (int k = 0; k < 8; k++) {
        float v = __bfloat162float(x.v[k]);
        float th = tanhf(GELU_S * (v + 0.044715f * v * v * v));
        float g = 0.5f * (1.0f + th) + v * 0.5f * (1.0f - th * th) * GELU_S * (1.0f + 3.0f * 0.044715f * v * v);
        o.v[k] = __float2bfloat16_rn(g * __bfloat162float(d.v[k]));
    }
    store_bf16x8(dinp + i, o);
}

void gelu_forward(bf16 *out, const bf16 *inp, long n, cudaStream_t stream)
{
    if (n % 8) { fprintf(stderr, "gelu_forward: n=%ld must be a multiple of 8\n", n); exit(1); }
    gelu_forward_kernel<<<layers_ceil_div(n / 8, 256), 256, 0, stream>>>(out, inp, n);
    LAYERS_LAUNCH_CHECK();
}

void gelu_backward(bf16 *dinp, const bf16 *inp, const bf16 *dout, long n, cudaStream_t stream)
{
    if (n % 8) { fprintf(stderr, "gelu_backward: n=%ld must be a multiple of 8\n", n); exit(1); }
    gelu_backward_kernel<<<layers_ceil_div(n / 8, 256), 256, 0, stream>>>(dinp, inp, dout, n);
    LAYERS_LAUNCH_CHECK();
}
