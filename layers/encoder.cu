/* encoder.cu - see encoder.cuh */
#include "encoder.cuh"

#include <string.h>

__global__ void encoder_forward_kernel(bf16 *out, const int *tokens, const bf16 *wte, const bf16 *wpe, int BT,
                                       int T, int C)
{
    long idx = ((long)blockIdx.x * blockDim.x + threadIdx.x) * 8;
    if (idx >= (long)BT * C) return;
    int bt = (int)(idx / C), c = (int)(idx % C), t = bt % T;
    Bf16x8 a = load_bf16x8(wte + (long)tokens[bt] * C + c);
    Bf16x8 p = load_bf16x8(wpe + (long)t * C + c);
    Bf16x8 o;
#pragma unroll
    for (int k = 0; k < 8; k++) o.v[k] = __float2bfloat16_rn(__bfloat162float(a.v[k]) + __bfloat162float(p.v[k]));
    store_bf16x8(out + idx, o);
}

void encoder_forward(bf16 *out, const int *tokens, const bf16 *wte, const bf16 *wpe, int B, int T, int C,
                     cudaStream_t stream)
{
    if (C % 8) { fprintf(stderr, "encoder_forward: C=%d must be a multiple of 8\n", C); exit(1); }
    long n8 = (long)B * T * C / 8;
    int block = 256;
    encoder_forward_kernel<<<layers_ceil_div(n8, block), block, 0, stream>>>(out, tokens, wte, wpe, B * T, T, C);
    LAYERS_LAUNCH_CHECK();
}

/* dwpe: one thread per (t, c), sum over b in order */
__global__ void encoder_backward_wpe_kernel(bf16 *dwpe, const bf16 *dout, int B, int T, int C)
{
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)T * C) return;
    float acc = 0.0f;
    for (int b = 0; b < B; b++) acc += __bfloat162float(dout[(long)b * T * C + idx]);
    dwpe[idx] = __float2bfloat16_rn(__bfloat162float(dwpe[idx]) + acc);
}

/* dwte: one block of ENC_WARPS warps per bucket k (positions pos[start[k] .. start[k+1]) of token tok[k]).
 * For each 256-channel chunk, lane l of warp w sums channels 8l..8l+7 over the bucket's positions
 * w, w + ENC_WARPS, ... in order; the warps' sums are then added in warp order. Frequent tokens
 * (thousands of positions) are spread over all warps; the result is deterministic. */
#define ENC_WARPS 16
__global__ void __launch_bounds__(ENC_WARPS * 32) encoder_backward_wte_kernel(bf16 *dwte, const bf16 *dout,
                                                                              const int *ws, int nbuckets, int BT,
                                                                              int C)
{
    __shared__ float sh[ENC_WARPS][256];
    const int *start = ws, *tok = ws + (nbuckets + 1), *pos = ws + (2 * nbuckets + 1);
    int k = blockIdx.x, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int s0 = start[k], s1 = start[k + 1];
    bf16 *g = dwte + (long)tok[k] * C;
    for (int c0 = 0; c0 < C; c0 += 256) {
        int c = c0 + lane * 8;
        float acc[8];
#pragma unroll
        for (int e = 0; e < 8; e++) acc[e] = 0.0f;
        if (c < C) {
#pragma unroll 4
            for (int s = s0 + warp; s < s1; s += ENC_WARPS) {
                Bf16x8 v = load_bf16x8(dout + (long)pos[s] * C + c);
#pragma unroll
                for (int e = 0; e < 8; e++) acc[e] += __bfloat162float(v.v[e]);
            }
        }
#pragma unroll
        for (int e = 0; e < 8; e++) sh[warp][lane * 8 + e] = acc[e];
        __syncthreads();
        for (int j = threadIdx.x; j < 256 && c0 + j < C; j += blockDim.x) {
            float t = 0.0f;
            for (int w = 0; w < ENC_WARPS; w++) t += sh[w][j];
            g[c0 + j] = __float2bfloat16_rn(__bfloat162float(g[c0 + j]) + t);
        }
        __syncthreads();
    }
}

long encoder_backward_workspace_ints(int B, int T) { return 3L * B * T + 1; }

/* Stable LSD counting sort of positions 0..n-1 by token (16 bits per pass; one pass when every
 * token < 65536, as for GPT-2's 50257): O(n + 65536), positions stay ascending inside a token. */
static void sort_positions_by_token(int *order, const int *tokens, int n)
{
    int *cnt = (int *)malloc(65536 * sizeof(int)), *tmp = (int *)malloc((size_t)n * sizeof(int));
    if (!cnt || !tmp) { fprintf(stderr, "encoder_backward: out of host memory\n"); exit(1); }
    unsigned maxtok = 0;
    for (int i = 0; i < n; i++) {
        if (tokens[i] < 0) { fprintf(stderr, "encoder_backward: negative token id %d at %d\n", tokens[i], i); exit(1); }
        if ((unsigned)tokens[i] > maxtok) maxtok = (unsigned)tokens[i];
    }
    for (int i = 0; i < n; i++) tmp[i] = i;
    int passes = maxtok >= 65536u ? 2 : 1;
    int *src = tmp, *dst = order;
    for (int pass = 0; pass < passes; pass++) {
        int shift = 16 * pass;
        memset(cnt, 0, 65536 * sizeof(int));
        for (int i = 0; i < n; i++) cnt[((unsigned)tokens[src[i]] >> shift) & 0xFFFF]++;
        int sum = 0;
        for (int k = 0; k < 65536; k++) { int c = cnt[k]; cnt[k] = sum; sum += c; }
        for (int i = 0; i < n; i++) dst[cnt[((unsigned)tokens[src[i]] >> shift) & 0xFFFF]++] = src[i];
        int *t = src; src = dst; dst = t;
    }
    if (src != order) memcpy(order, src, (size_t)n * sizeof(int));
    free(cnt);
    free(tmp);
}

void encoder_backward(bf16 *dwte, bf16 *dwpe, const bf16 *dout, const int *tokens_host, int *ws_host,
                      int *ws_dev, int B, int T, int C, cudaStream_t stream)
{
    int BT = B * T;
    int *order = (int *)malloc((size_t)BT * sizeof(int));
    if (!order) { fprintf(stderr, "encoder_backward: out of host memory\n"); exit(1); }
    sort_positions_by_token(order, tokens_host, BT);
    int nb = 0;
    for (int i = 0; i < BT; i++)
        if (i == 0 || tokens_host[order[i]] != tokens_host[order[i - 1]]) nb++;
    int *start = ws_host, *tok = ws_host + (nb + 1), *pos = ws_host + (2 * nb + 1);
    int k = 0;
    for (int i = 0; i < BT; i++) {
        if (i == 0 || tokens_host[order[i]] != tokens_host[order[i - 1]]) { start[k] = i; tok[k] = tokens_host[order[i]]; k++; }
        pos[i] = order[i];
    }
    start[nb] = BT;
    free(order);
    CUDA_CHECK(cudaMemcpyAsync(ws_dev, ws_host, (size_t)(2 * nb + 1 + BT) * sizeof(int), cudaMemcpyHostToDevice,
                               stream));
    int block = 256;
    encoder_backward_wpe_kernel<<<layers_ceil_div((long)T * C, block), block, 0, stream>>>(dwpe, dout, B, T, C);
    LAYERS_LAUNCH_CHECK();
    encoder_backward_wte_kernel<<<nb, ENC_WARPS * 32, 0, stream>>>(dwte, dout, ws_dev, nb, BT, C);
    LAYERS_LAUNCH_CHECK();
}
