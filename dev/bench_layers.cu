/*
 * bench_layers.cu - timings of the GPU dense layers at GPT-2 shapes (T = 1024).
 * Median of 20 timed runs after 3 warm-ups, CUDA events, random bf16 inputs.
 * Usage: build/dev/bench_layers [B] [C] [NH]   (default 16 768 12: GPT-2 124M)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "../layers/common.cuh"
#include "../layers/attention.cuh"
#include "../layers/layernorm.cuh"
#include "../layers/matmul.cuh"
#include "../layers/classifier.cuh"
#include "../layers/gelu.cuh"
#include "../layers/encoder.cuh"
#include "../core/gpu_timing.cuh"

static __global__ void fill_kernel(bf16 *x, long n, uint32_t seed, float scale)
{
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) x[i] = __float2bfloat16_rn(((layers_hash(seed, (uint32_t)i) & 0xFFFFFF) / 16777216.0f * 2 - 1) * scale);
}
static bf16 *rand_dev(long n, uint32_t seed, float scale)
{
    bf16 *p;
    CUDA_CHECK(cudaMalloc(&p, n * sizeof(bf16)));
    fill_kernel<<<layers_ceil_div(n, 256), 256>>>(p, n, seed, scale);
    LAYERS_LAUNCH_CHECK();
    return p;
}
static int cmpf(const void *a, const void *b) { float x = *(const float *)a, y = *(const float *)b; return (x > y) - (x < y); }

#define TIME(label, flops, bytes, stmt) do { \
    for (int w_ = 0; w_ < 3; w_++) { stmt; } \
    float ms_[20]; \
    for (int r_ = 0; r_ < 20; r_++) { \
        gpu_hold(0, hold_us); /* GPU time only (core/gpu_timing.cuh); hold_us: main's */ \
        CUDA_CHECK(cudaEventRecord(e0, 0)); stmt; CUDA_CHECK(cudaEventRecord(e1, 0)); \
        CUDA_CHECK(cudaEventSynchronize(e1)); CUDA_CHECK(cudaEventElapsedTime(&ms_[r_], e0, e1)); } \
    qsort(ms_, 20, sizeof(float), cmpf); float md_ = ms_[10]; \
    printf("%-34s %8.3f ms  %7.1f TFLOP/s  %7.1f GB/s\n", label, md_, (flops) / md_ / 1e9, (bytes) / md_ / 1e6); \
} while (0)

int main(int argc, char **argv)
{
    int B = argc > 1 ? atoi(argv[1]) : 16, C = argc > 2 ? atoi(argv[2]) : 768, NH = argc > 3 ? atoi(argv[3]) : 12;
    int T = 1024, N = B * T, V = 50257, Vp = 50304;
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, 0));
    printf("bench_layers on %s: B=%d T=%d C=%d NH=%d\n", prop.name, B, T, C, NH);
    int hold_us = BENCH_HOLD_US; /* TIME holds the GPU this long before each timed call */
    cudaEvent_t e0, e1;
    CUDA_CHECK(cudaEventCreate(&e0));
    CUDA_CHECK(cudaEventCreate(&e1));
    cudaStream_t st = 0;
    MatmulContext ctx;
    matmul_context_init(&ctx, 0);

    bf16 *qkv = rand_dev((long)N * 3 * C, 1, 1.5f), *dout = rand_dev((long)N * C, 2, 1.0f);
    bf16 *out, *dqkv;
    float *lse, *scr;
    CUDA_CHECK(cudaMalloc(&out, (long)N * C * 2));
    CUDA_CHECK(cudaMalloc(&dqkv, (long)N * 3 * C * 2));
    CUDA_CHECK(cudaMalloc(&lse, (long)B * NH * T * 4));
    CUDA_CHECK(cudaMalloc(&scr, attention_backward_scratch_floats(B, T, NH) * 4));
    double fl_att = 4.0 * B * NH * (double)T * T * (C / NH) / 2; /* causal */
    TIME("attention_forward", fl_att, 0, attention_forward(out, lse, qkv, B, T, C, NH, st));
    TIME("attention_backward (2.5x fwd flops)", 2.5 * fl_att, 0,
         attention_backward(dqkv, scr, dout, qkv, out, lse, B, T, C, NH, st));

    if (attention_cudnn_available()) {
        AttentionCudnn *cd = attention_cudnn_create(1), *cn = attention_cudnn_create(0);
        TIME("cudnn attention_forward", fl_att, 0, attention_forward_cudnn(cd, out, lse, qkv, B, T, C, NH, st));
        TIME("cudnn attention_backward determ.", 2.5 * fl_att, 0,
             attention_backward_cudnn(cd, dqkv, dout, qkv, out, lse, B, T, C, NH, st));
        TIME("cudnn attention_backward nondet.", 2.5 * fl_att, 0,
             attention_backward_cudnn(cn, dqkv, dout, qkv, out, lse, B, T, C, NH, st));
        attention_cudnn_destroy(cd);
        attention_cudnn_destroy(cn);
    }
    bf16 *x = rand_dev((long)N * C, 3, 1.0f), *w = rand_dev((long)4 * C * C, 4, 0.05f), *bias = rand_dev(4 * C, 5, 0.1f);
    bf16 *h, *pre, *dh, *dw, *db;
    CUDA_CHECK(cudaMalloc(&h, (long)N * 4 * C * 2));
    CUDA_CHECK(cudaMalloc(&pre, (long)N * 4 * C * 2));
    CUDA_CHECK(cudaMalloc(&dh, (long)N * 4 * C * 2));
    CUDA_CHECK(cudaMalloc(&dw, (long)4 * C * C * 2));
    CUDA_CHECK(cudaMalloc(&db, (long)4 * C * 2));
    float *mscr;
    CUDA_CHECK(cudaMalloc(&mscr, matmul_dbias_scratch_floats(N, 4 * C) * 4));
    double fl_fc = 2.0 * N * C * 4 * C;
    TIME("matmul fc fwd +bias", fl_fc, 0, matmul_forward(&ctx, h, NULL, x, w, bias, N, C, 4 * C, st));
    TIME("matmul fc fwd +bias+GELU", fl_fc, 0, matmul_forward(&ctx, h, pre, x, w, bias, N, C, 4 * C, st));
    TIME("matmul fc bwd (dinp,dW,db)", 2 * fl_fc, 0,
         matmul_backward(&ctx, dh, dw, db, mscr, h, x, w, NULL, N, C, 4 * C, st));
    TIME("gelu fwd", 0, (double)N * 4 * C * 4, gelu_forward(dh, h, (long)N * 4 * C, st));

    float *mean, *rstd, *lscr;
    CUDA_CHECK(cudaMalloc(&mean, N * 4));
    CUDA_CHECK(cudaMalloc(&rstd, N * 4));
    CUDA_CHECK(cudaMalloc(&lscr, layernorm_backward_scratch_floats(N, C) * 4));
    bf16 *res, *ln, *dres;
    CUDA_CHECK(cudaMalloc(&res, (long)N * C * 2));
    CUDA_CHECK(cudaMalloc(&ln, (long)N * C * 2));
    CUDA_CHECK(cudaMalloc(&dres, (long)N * C * 2));
    CUDA_CHECK(cudaMemset(dres, 0, (long)N * C * 2));
    TIME("fused residual+layernorm fwd", 0, (double)N * C * 2 * 4,
         fused_residual_layernorm_forward(res, ln, mean, rstd, x, out, w, bias, N, C, st));
    TIME("layernorm bwd", 0, (double)N * C * 2 * 4, layernorm_backward(dres, dw, db, lscr, out, res, w, mean, rstd, N, C, st));

    bf16 *logits = rand_dev((long)N * Vp, 6, 4.0f);
    int *tg;
    float *losses;
    CUDA_CHECK(cudaMalloc(&tg, N * 4));
    CUDA_CHECK(cudaMemset(tg, 0, N * 4));
    CUDA_CHECK(cudaMalloc(&losses, N * 4));
    TIME("fused classifier (loss+dlogits)", 0, (double)N * Vp * 2 * 2,
         fused_classifier(logits, losses, 1.0f / N, tg, N, V, Vp, 1, st));
    /* encoder backward with log-uniform (Zipf-like) token ids: token 0 is ~6% of positions;
     * the time includes the host-side bucketing */
    {
        int *tok_h = (int *)malloc(sizeof(int) * N);
        uint32_t st32 = 12345u;
        for (int i = 0; i < N; i++) {
            st32 = st32 * 1664525u + 1013904223u;
            double u = (st32 >> 8) / 16777216.0;
            int t = (int)exp(u * log((double)V)) - 1;
            tok_h[i] = t < 0 ? 0 : (t >= V ? V - 1 : t);
        }
        long wsn = encoder_backward_workspace_ints(B, T);
        int *ws_h = (int *)malloc(sizeof(int) * wsn), *ws_d;
        CUDA_CHECK(cudaMalloc(&ws_d, sizeof(int) * wsn));
        bf16 *dwte, *dwpe;
        CUDA_CHECK(cudaMalloc(&dwte, (long)V * C * 2));
        CUDA_CHECK(cudaMalloc(&dwpe, (long)T * C * 2));
        hold_us = 0; /* the host's bucketing belongs in this time: no hold */
        TIME("encoder bwd (host bucketing incl.)", 0, (double)N * C * 2,
             encoder_backward(dwte, dwpe, x, tok_h, ws_h, ws_d, B, T, C, st));
        free(tok_h);
        free(ws_h);
    }
    CUDA_CHECK(cudaDeviceSynchronize());
    matmul_context_free(&ctx);
    return 0;
}
