/* layernorm.cu - see layernorm.cuh */
#include "layernorm.cuh"

/* One warp per row. If inp2 != NULL: x = round_bf16(inp1 + inp2) is written to residual first. */
__global__ void layernorm_forward_kernel(bf16 *residual, bf16 *out, float *mean, float *rstd, const bf16 *inp1,
                                         const bf16 *inp2, const bf16 *weight, const bf16 *bias, int N, int C)
{
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= N) return;
    const bf16 *x = inp1 + (long)row * C;
    if (inp2) {
        const bf16 *y = inp2 + (long)row * C;
        bf16 *r = residual + (long)row * C;
        for (int c = lane * 8; c < C; c += 256) {
            Bf16x8 a = load_bf16x8(x + c), b = load_bf16x8(y + c), s;
#pragma unroll
            for (int k = 0; k < 8; k++) s.v[k] = __float2bfloat16_rn(__bfloat162float(a.v[k]) + __bfloat162float(b.v[k]));
            store_bf16x8(r + c, s);
        }
        __syncwarp();
        x = r; /* this warp wrote it; read back through L1/L2 */
    }
    float sum = 0.0f;
    for (int c = lane * 8; c < C; c += 256) {
        Bf16x8 a = load_bf16x8(x + c);
#pragma unroll
        for (int k = 0; k < 8; k++) sum += __bfloat162float(a.v[k]);
    }
    float m = warp_sum(sum) / C;
    float var = 0.0f;
    for (int c = lane * 8; c < C; c += 256) {
        Bf16x8 a = load_bf16x8(x + c);
#pragma unroll
        for (int k = 0; k < 8; k++) { float d = __bfloat162float(a.v[k]) - m; var += d * d; }
    }
    float s = rsqrtf(warp_sum(var) / C + 1e-5f);
    bf16 *o = out + (long)row * C;
    for (int c = lane * 8; c < C; c += 256) {
        Bf16x8 a = load_bf16x8(x + c), w = load_bf16x8(weight + c), b = load_bf16x8(bias + c), r;
#pragma unroll
        for (int k = 0; k < 8; k++)
            r.v[k] = __float2bfloat16_rn((__bfloat162float(a.v[k]) - m) * s * __bfloat162float(w.v[k]) +
                                         __bfloat162float(b.v[k]));
        store_bf16x8(o + c, r);
    }
    if (lane == 0) {
        if (mean) mean[row] = m;
        if (rstd) rstd[row] = s;
    }
}

static void check_c(const char *fn, int C)
{
    if (C % 8) { fprintf(stderr, "%s: C=%d must be a multiple of 8\n", fn, C); exit(1); }
}

void layernorm_forward(bf16 *out, float *mean, float *rstd, const bf16 *inp, const bf16 *weight,
                       const bf16 *bias, int N, int C, cudaStream_t stream)
{
    check_c("layernorm_forward", C);
    int block = 256, rows_per_block = block / 32;
    layernorm_forward_kernel<<<layers_ceil_div(N, rows_per_block), block, 0, stream>>>(
        NULL, out, mean, rstd, inp, NULL, weight, bias, N, C);
    LAYERS_LAUNCH_CHECK();
}

void fused_residual_layernorm_forward(bf16 *residual, bf16 *out, float *mean, float *rstd, const bf16 *inp1,
                                      const bf16 *inp2, const bf16 *weight, const bf16 *bias, int N, int C,
                                      cudaStream_t stream)
{
    check_c("fused_residual_layernorm_forward", C);
    int block = 256, rows_per_block = block / 32;
    layernorm_forward_kernel<<<layers_ceil_div(N, rows_per_block), block, 0, stream>>>(
        residual, out, mean, rstd, inp1, inp2, weight, bias, N, C);
    LAYERS_LAUNCH_CHECK();
}

/* dinp: one warp per row */
__global__ void layernorm_backward_dinp_kernel(bf16 *dinp, const bf16 *dout, const bf16 *inp, const bf16 *weight,
                                               const float *mean, const float *rstd, int N, int C)
{
    int lane = threadIdx.x % 32;
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= N) return;
    const bf16 *d = dout + (long)row * C, *x = inp + (long)row * C;
    float m = mean[row], s = rstd[row];
    float a = 0.0f, b = 0.0f;
    for (int c = lane * 8; c < C; c += 256) {
        Bf16x8 dv = load_bf16x8(d + c), xv = load_bf16x8(x + c), wv = load_bf16x8(weight + c);
#pragma unroll
        for (int k = 0; k < 8; k++) {
            float norm = (__bfloat162float(xv.v[k]) - m) * s;
            float dn = __bfloat162float(wv.v[k]) * __bfloat162float(dv.v[k]);
            a += dn;
            b += dn * norm;
        }
    }
    a = warp_sum(a) / C;
    b = warp_sum(b) / C;
    bf16 *g = dinp + (long)row * C;
    for (int c = lane * 8; c < C; c += 256) {
        Bf16x8 dv = load_bf16x8(d + c), xv = load_bf16x8(x + c), wv = load_bf16x8(weight + c), gv = load_bf16x8(g + c);
#pragma unroll
        for (int k = 0; k < 8; k++) {
            float norm = (__bfloat162float(xv.v[k]) - m) * s;
            float dn = __bfloat162float(wv.v[k]) * __bfloat162float(dv.v[k]);
            gv.v[k] = __float2bfloat16_rn(__bfloat162float(gv.v[k]) + (dn - a - norm * b) * s);
        }
        store_bf16x8(g + c, gv);
    }
}

#define LNB_ROWS 256 /* rows per chunk of the dweight/dbias reduction */
#define LNB_TY 8     /* row lanes per block */
/* grid (ceil(C/64), nchunks), block (32, LNB_TY): channel pair 2*tx of tile, rows ty, ty+8, ... of the chunk.
 * partial[chunk][0..C) = dweight part, partial[nchunks + chunk][..] = dbias part. */
__global__ void layernorm_backward_dwdb_kernel(float *partial, const bf16 *dout, const bf16 *inp, const float *mean,
                                               const float *rstd, int N, int C)
{
    __shared__ float sw[LNB_TY][64], sb[LNB_TY][64];
    int c = blockIdx.x * 64 + threadIdx.x * 2;
    int chunk = blockIdx.y, nchunks = gridDim.y;
    int r0 = chunk * LNB_ROWS, r1 = min(N, r0 + LNB_ROWS);
    float w0 = 0, w1 = 0, b0 = 0, b1 = 0;
    if (c < C) {
        for (int r = r0 + threadIdx.y; r < r1; r += LNB_TY) {
            __nv_bfloat162 dv = *reinterpret_cast<const __nv_bfloat162 *>(dout + (long)r * C + c);
            __nv_bfloat162 xv = *reinterpret_cast<const __nv_bfloat162 *>(inp + (long)r * C + c);
            float m = mean[r], s = rstd[r];
            float d0 = __low2float(dv), d1 = __high2float(dv);
            w0 += (__low2float(xv) - m) * s * d0;
            w1 += (__high2float(xv) - m) * s * d1;
            b0 += d0;
            b1 += d1;
        }
    }
    sw[threadIdx.y][threadIdx.x * 2] = w0; sw[threadIdx.y][threadIdx.x * 2 + 1] = w1;
    sb[threadIdx.y][threadIdx.x * 2] = b0; sb[threadIdx.y][threadIdx.x * 2 + 1] = b1;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        for (int y = 1; y < LNB_TY; y++) {
            w0 += sw[y][threadIdx.x * 2]; w1 += sw[y][threadIdx.x * 2 + 1];
            b0 += sb[y][threadIdx.x * 2]; b1 += sb[y][threadIdx.x * 2 + 1];
        }
        partial[(long)chunk * C + c] = w0; partial[(long)chunk * C + c + 1] = w1;
        partial[(long)(nchunks + chunk) * C + c] = b0; partial[(long)(nchunks + chunk) * C + c + 1] = b1;
    }
}

__global__ void layernorm_backward_finish_kernel(bf16 *dweight, bf16 *dbias, const float *partial, int nchunks, int C)
{
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= C) return;
    float w = 0.0f, b = 0.0f;
    for (int k = 0; k < nchunks; k++) {
        w += partial[(long)k * C + c];
        b += partial[(long)(nchunks + k) * C + c];
    }
    dweight[c] = __float2bfloat16_rn(__bfloat162float(dweight[c]) + w);
    dbias[c] = __float2bfloat16_rn(__bfloat162float(dbias[c]) + b);
}

long layernorm_backward_scratch_floats(int N, int C) { return 2L * layers_ceil_div(N, LNB_ROWS) * C; }

void layernorm_backward(bf16 *dinp, bf16 *dweight, bf16 *dbias, float *scratch, const bf16 *dout,
                        const bf16 *inp, const bf16 *weight, const float *mean, const float *rstd, int N, int C,
                        cudaStream_t stream)
{
    check_c("layernorm_backward", C);
    int block = 256, rows_per_block = block / 32;
    layernorm_backward_dinp_kernel<<<layers_ceil_div(N, rows_per_block), block, 0, stream>>>(dinp, dout, inp, weight,
                                                                                            mean, rstd, N, C);
    LAYERS_LAUNCH_CHECK();
    int nchunks = layers_ceil_div(N, LNB_ROWS);
    dim3 grid(layers_ceil_div(C, 64), nchunks), blk(32, LNB_TY);
    layernorm_backward_dwdb_kernel<<<grid, blk, 0, stream>>>(scratch, dout, inp, mean, rstd, N, C);
    LAYERS_LAUNCH_CHECK();
    layernorm_backward_finish_kernel<<<layers_ceil_div(C, 256), 256, 0, stream>>>(dweight, dbias, scratch, nchunks, C);
    LAYERS_LAUNCH_CHECK();
}
