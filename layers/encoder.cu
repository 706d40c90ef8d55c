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

/* dwte: grid.x = bucket, threads over channels; bucket k covers positions
 * pos[start[k] .. start[k+1]) of token tok[k]. */
__global__ void encoder_backward_wte_kernel(bf16 *dwte, const bf16 *dout, const int *ws, int nbuckets, int BT,
                                            int C)
{
    const int *start = ws, *tok = ws + (nbuckets + 1), *pos = ws + (2 * nbuckets + 1);
    int k = blockIdx.x;
    int s0 = start[k], s1 = start[k + 1];
    bf16 *g = dwte + (long)tok[k] * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float acc = 0.0f;
        /* frequent tokens have long buckets: keep several independent loads in flight */
#pragma unroll 8
        for (int s = s0; s < s1; s++) acc += __bfloat162float(dout[(long)pos[s] * C + c]);
        g[c] = __float2bfloat16_rn(__bfloat162float(g[c]) + acc);
    }
}

long encoder_backward_workspace_ints(int B, int T) { return 3L * B * T + 1; }

static int cmp_pair(const void *a, const void *b)
{
    const int *x = (const int *)a, *y = (const int *)b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : (x[1] > y[1]);
}

void encoder_backward(bf16 *dwte, bf16 *dwpe, const bf16 *dout, const int *tokens_host, int *ws_host,
                      int *ws_dev, int B, int T, int C, cudaStream_t stream)
{
    int BT = B * T;
    /* sort (token, position) pairs; the tail of ws_host is scratch for the pairs */
    int *pairs = (int *)malloc((size_t)BT * 2 * sizeof(int));
    if (!pairs) { fprintf(stderr, "encoder_backward: out of host memory\n"); exit(1); }
    for (int i = 0; i < BT; i++) { pairs[2 * i] = tokens_host[i]; pairs[2 * i + 1] = i; }
    qsort(pairs, BT, 2 * sizeof(int), cmp_pair);
    int nb = 0;
    for (int i = 0; i < BT; i++)
        if (i == 0 || pairs[2 * i] != pairs[2 * i - 2]) nb++;
    int *start = ws_host, *tok = ws_host + (nb + 1), *pos = ws_host + (2 * nb + 1);
    int k = 0;
    for (int i = 0; i < BT; i++) {
        if (i == 0 || pairs[2 * i] != pairs[2 * i - 2]) { start[k] = i; tok[k] = pairs[2 * i]; k++; }
        pos[i] = pairs[2 * i + 1];
    }
    start[nb] = BT;
    free(pairs);
    CUDA_CHECK(cudaMemcpyAsync(ws_dev, ws_host, (size_t)(2 * nb + 1 + BT) * sizeof(int), cudaMemcpyHostToDevice,
                               stream));
    int block = 256;
    encoder_backward_wpe_kernel<<<layers_ceil_div((long)T * C, block), block, 0, stream>>>(dwpe, dout, B, T, C);
    LAYERS_LAUNCH_CHECK();
    encoder_backward_wte_kernel<<<nb, C < 1024 ? ((C + 31) / 32) * 32 : 1024, 0, stream>>>(dwte, dout, ws_dev, nb,
                                                                                          BT, C);
    LAYERS_LAUNCH_CHECK();
}
