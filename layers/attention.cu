/* attention.cu - see attention.cuh. Simple reference-grade kernels: one thread per row. */
#include "attention.cuh"

#include <math.h>

#define ATT_HS 64

static __device__ __forceinline__ void load_row64(float *r, const bf16 *p)
{
#pragma unroll
    for (int j = 0; j < ATT_HS; j += 8) {
        Bf16x8 v = load_bf16x8(p + j);
#pragma unroll
        for (int k = 0; k < 8; k++) r[j + k] = __bfloat162float(v.v[k]);
    }
}
static __device__ __forceinline__ void store_row64(bf16 *p, const float *r, float scale)
{
#pragma unroll
    for (int j = 0; j < ATT_HS; j += 8) {
        Bf16x8 v;
#pragma unroll
        for (int k = 0; k < 8; k++) v.v[k] = __float2bfloat16_rn(r[j + k] * scale);
        store_bf16x8(p + j, v);
    }
}
static __device__ __forceinline__ float dot_row64(const float *q, const bf16 *p)
{
    float s = 0.0f;
#pragma unroll
    for (int j = 0; j < ATT_HS; j += 8) {
        Bf16x8 v = load_bf16x8(p + j);
#pragma unroll
        for (int k = 0; k < 8; k++) s += q[j + k] * __bfloat162float(v.v[k]);
    }
    return s;
}
static __device__ __forceinline__ void axpy_row64(float *acc, float a, const bf16 *p)
{
#pragma unroll
    for (int j = 0; j < ATT_HS; j += 8) {
        Bf16x8 v = load_bf16x8(p + j);
#pragma unroll
        for (int k = 0; k < 8; k++) acc[j + k] += a * __bfloat162float(v.v[k]);
    }
}

/* grid (ceil(T/64), B*NH), block 64: thread = query row t of head (b, h) */
__global__ void attn_fwd_simple_kernel(bf16 *out, float *lse, const bf16 *qkv, int T, int C, int NH, float scale)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    int bh = blockIdx.y, b = bh / NH, h = bh % NH;
    if (t >= T) return;
    long C3 = 3L * C;
    const bf16 *base = qkv + (long)b * T * C3 + h * ATT_HS;
    float q[ATT_HS], o[ATT_HS];
    load_row64(q, base + t * C3);
#pragma unroll
    for (int j = 0; j < ATT_HS; j++) o[j] = 0.0f;
    float m = -INFINITY, l = 0.0f;
    for (int t2 = 0; t2 <= t; t2++) {
        float s = dot_row64(q, base + t2 * C3 + C) * scale;
        float mn = fmaxf(m, s);
        float corr = __expf(m - mn), p = __expf(s - mn);
        l = l * corr + p;
#pragma unroll
        for (int j = 0; j < ATT_HS; j++) o[j] *= corr;
        axpy_row64(o, p, base + t2 * C3 + 2 * C);
        m = mn;
    }
    store_row64(out + ((long)b * T + t) * C + h * ATT_HS, o, 1.0f / l);
    lse[(long)bh * T + t] = m + __logf(l);
}

/* D[bh, t] = dout[t] . out[t] */
__global__ void attn_bwd_d_kernel(float *D, const bf16 *dout, const bf16 *out, int T, int C, int NH)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    int bh = blockIdx.y, b = bh / NH, h = bh % NH;
    if (t >= T) return;
    float d[ATT_HS];
    load_row64(d, dout + ((long)b * T + t) * C + h * ATT_HS);
    D[(long)bh * T + t] = dot_row64(d, out + ((long)b * T + t) * C + h * ATT_HS);
}

/* dq[t] = scale * sum_{t2<=t} p(t,t2) (dout[t].v[t2] - D[t]) k[t2] */
__global__ void attn_bwd_dq_simple_kernel(bf16 *dqkv, const float *D, const bf16 *dout, const bf16 *qkv,
                                          const float *lse, int T, int C, int NH, float scale)
{
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    int bh = blockIdx.y, b = bh / NH, h = bh % NH;
    if (t >= T) return;
    long C3 = 3L * C;
    const bf16 *base = qkv + (long)b * T * C3 + h * ATT_HS;
    float q[ATT_HS], d[ATT_HS], dq[ATT_HS];
    load_row64(q, base + t * C3);
    load_row64(d, dout + ((long)b * T + t) * C + h * ATT_HS);
#pragma unroll
    for (int j = 0; j < ATT_HS; j++) dq[j] = 0.0f;
    float L = lse[(long)bh * T + t], Dt = D[(long)bh * T + t];
    for (int t2 = 0; t2 <= t; t2++) {
        float p = __expf(dot_row64(q, base + t2 * C3 + C) * scale - L);
        float dp = dot_row64(d, base + t2 * C3 + 2 * C);
        axpy_row64(dq, p * (dp - Dt) * scale, base + t2 * C3 + C);
    }
    store_row64(dqkv + (long)b * T * C3 + t * C3 + h * ATT_HS, dq, 1.0f);
}

/* mode 0: dk[t2] = scale * sum_{t>=t2} p(t,t2) (dout[t].v[t2] - D[t]) q[t];  mode 1: dv[t2] = sum p dout[t] */
__global__ void attn_bwd_dkv_simple_kernel(bf16 *dqkv, const float *D, const bf16 *dout, const bf16 *qkv,
                                           const float *lse, int T, int C, int NH, float scale, int mode)
{
    int t2 = blockIdx.x * blockDim.x + threadIdx.x;
    int bh = blockIdx.y, b = bh / NH, h = bh % NH;
    if (t2 >= T) return;
    long C3 = 3L * C;
    const bf16 *base = qkv + (long)b * T * C3 + h * ATT_HS;
    const bf16 *dbase = dout + (long)b * T * C + h * ATT_HS;
    float k[ATT_HS], acc[ATT_HS];
    load_row64(k, base + t2 * C3 + C);
#pragma unroll
    for (int j = 0; j < ATT_HS; j++) acc[j] = 0.0f;
    const bf16 *vrow = base + t2 * C3 + 2 * C;
    for (int t = t2; t < T; t++) {
        float p = __expf(dot_row64(k, base + t * C3) * scale - lse[(long)bh * T + t]);
        if (mode == 0) {
            /* dout[t] . v[t2]: v row re-read from cache */
            float dp = 0.0f;
#pragma unroll
            for (int j = 0; j < ATT_HS; j += 8) {
                Bf16x8 dv = load_bf16x8(dbase + (long)t * C + j), vv = load_bf16x8(vrow + j);
#pragma unroll
                for (int kk = 0; kk < 8; kk++) dp += __bfloat162float(dv.v[kk]) * __bfloat162float(vv.v[kk]);
            }
            axpy_row64(acc, p * (dp - D[(long)bh * T + t]) * scale, base + t * C3);
        } else {
            axpy_row64(acc, p, dbase + (long)t * C);
        }
    }
    store_row64(dqkv + (long)b * T * C3 + t2 * C3 + (mode == 0 ? C : 2 * C) + h * ATT_HS, acc, 1.0f);
}

static void check_shape(const char *fn, int C, int NH)
{
    if (NH <= 0 || C % NH || C / NH != ATT_HS) {
        fprintf(stderr, "%s: head size C/NH = %d/%d must be %d\n", fn, C, NH, ATT_HS);
        exit(1);
    }
}

void attention_forward(bf16 *out, float *lse, const bf16 *qkv, int B, int T, int C, int NH, cudaStream_t stream)
{
    check_shape("attention_forward", C, NH);
    float scale = 1.0f / sqrtf((float)ATT_HS);
    dim3 grid(layers_ceil_div(T, 64), B * NH);
    attn_fwd_simple_kernel<<<grid, 64, 0, stream>>>(out, lse, qkv, T, C, NH, scale);
    LAYERS_LAUNCH_CHECK();
}

long attention_backward_scratch_floats(int B, int T, int NH) { return (long)B * NH * T; }

void attention_backward(bf16 *dqkv, float *scratch, const bf16 *dout, const bf16 *qkv, const bf16 *out,
                        const float *lse, int B, int T, int C, int NH, cudaStream_t stream)
{
    check_shape("attention_backward", C, NH);
    float scale = 1.0f / sqrtf((float)ATT_HS);
    dim3 grid(layers_ceil_div(T, 64), B * NH);
    attn_bwd_d_kernel<<<grid, 64, 0, stream>>>(scratch, dout, out, T, C, NH);
    LAYERS_LAUNCH_CHECK();
    attn_bwd_dq_simple_kernel<<<grid, 64, 0, stream>>>(dqkv, scratch, dout, qkv, lse, T, C, NH, scale);
    LAYERS_LAUNCH_CHECK();
    attn_bwd_dkv_simple_kernel<<<grid, 64, 0, stream>>>(dqkv, scratch, dout, qkv, lse, T, C, NH, scale, 0);
    LAYERS_LAUNCH_CHECK();
    attn_bwd_dkv_simple_kernel<<<grid, 64, 0, stream>>>(dqkv, scratch, dout, qkv, lse, T, C, NH, scale, 1);
    LAYERS_LAUNCH_CHECK();
}
