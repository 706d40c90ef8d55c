/* classifier.cu - see classifier.cuh */
#include "classifier.cuh"

#define CLS_THREADS 1024

/* Pass 1: per-thread online (max, sum exp) over its 8-wide chunks, merged across the block.
 * Pass 2: rewrite the row with dloss * (p - onehot). */
__global__ void __launch_bounds__(CLS_THREADS) fused_classifier_kernel(bf16 *logits, float *losses, float dloss,
                                                                       const int *targets, int V, int Vp, int write)
{
    __shared__ float sh[32];
    int row = blockIdx.x;
    bf16 *x = logits + (long)row * Vp;
    float m = -INFINITY, s = 0.0f;
    int Vfull = V - V % 8;
    for (int c = threadIdx.x * 8; c < Vfull; c += blockDim.x * 8) {
        Bf16x8 v = load_bf16x8(x + c);
        float vm = m;
#pragma unroll
        for (int k = 0; k < 8; k++) vm = fmaxf(vm, __bfloat162float(v.v[k]));
        s *= __expf(m - vm);
#pragma unroll
        for (int k = 0; k < 8; k++) s += __expf(__bfloat162float(v.v[k]) - vm);
        m = vm;
    }
    for (int c = Vfull + threadIdx.x; c < V; c += blockDim.x) { /* ragged tail */
        float v = __bfloat162float(x[c]);
        float vm = fmaxf(m, v);
        s = s * __expf(m - vm) + __expf(v - vm);
        m = vm;
    }
    float gm = block_max(m, sh);
    float gs = block_sum(m == -INFINITY ? 0.0f : s * __expf(m - gm), sh);
    float lse = gm + __logf(gs);
    int tg = targets[row];
    if (threadIdx.x == 0) losses[row] += lse - __bfloat162float(x[tg]);
    if (!write) return;
    __syncthreads(); /* everyone has read x[tg] before it is overwritten */
    for (int c = threadIdx.x * 8; c < Vp; c += blockDim.x * 8) {
        Bf16x8 v = load_bf16x8(x + c), o;
#pragma unroll
        for (int k = 0; k < 8; k++) {
            int col = c + k;
            float p = __expf(__bfloat162float(v.v[k]) - lse);
            float g = col < V ? dloss * (p - (col == tg ? 1.0f : 0.0f)) : 0.0f;
            o.v[k] = __float2bfloat16_rn(g);
        }
        store_bf16x8(x + c, o);
    }
}

void fused_classifier(bf16 *logits, float *losses, float dloss, const int *targets, int N, int V, int Vp,
                      int write_dlogits, cudaStream_t stream)
{
    if (Vp % 8 || V > Vp) { fprintf(stderr, "fused_classifier: Vp=%d must be a multiple of 8 and >= V=%d\n", Vp, V); exit(1); }
    fused_classifier_kernel<<<N, CLS_THREADS, 0, stream>>>(logits, losses, dloss, targets, V, Vp, write_dlogits);
    LAYERS_LAUNCH_CHECK();
}
