/*
 * attention.cuh - causal multi-head self-attention, flash style: the [T, T]
 * attention matrix is never stored; the forward pass keeps the per-row
 * log-sum-exp for the backward pass. bf16 in/out, fp32 softmax and accumulation.
 * Layout as llm.c: qkv [B, T, 3C] (q | k | v, each C = NH * hs wide), out [B, T, C].
 * Scale 1/sqrt(hs). hs must be 64 (every GPT-2 size); T any positive value.
 * Deterministic: no atomics.
 */
#ifndef LAYERS_ATTENTION_CUH
#define LAYERS_ATTENTION_CUH
#include "common.cuh"

/* out [B,T,C]; lse [B,NH,T] fp32 (natural-log log-sum-exp of the scaled scores of each query row). */
void attention_forward(bf16 *out, float *lse, const bf16 *qkv, int B, int T, int C, int NH, cudaStream_t stream);

/* fp32 scratch floats attention_backward needs. */
long attention_backward_scratch_floats(int B, int T, int NH);

/* dqkv [B,T,3C] is OVERWRITTEN with the gradient w.r.t. qkv, from dout [B,T,C], the forward's qkv,
 * out and lse. */
void attention_backward(bf16 *dqkv, float *scratch, const bf16 *dout, const bf16 *qkv, const bf16 *out,
                        const float *lse, int B, int T, int C, int NH, cudaStream_t stream);

/* ---- cuDNN path: the same operation through cuDNN's fused SDPA kernels (C++ frontend) ----------------
 * Built when HAVE_CUDNN_FRONTEND is defined (the frontend headers on the include path, e.g. .cudnn/include
 * from PyPI's nvidia-cudnn-frontend); otherwise attention_cudnn_available() returns 0, create returns NULL
 * and the forward/backward die with a hint. Same layouts as above; lse is cuDNN's softmax "stats", the
 * same quantity as attention_forward's lse, so the two paths can be mixed. Any hs that is a multiple of 8
 * up to 128. The context owns the cuDNN handle, a workspace (grown on first use of a shape) and the
 * compiled graphs per (B, T, NH). deterministic != 0 asks cuDNN for its deterministic backward. */
typedef struct AttentionCudnn AttentionCudnn;
int attention_cudnn_available(void);
AttentionCudnn *attention_cudnn_create(int deterministic);
void attention_cudnn_destroy(AttentionCudnn *ctx);
void attention_forward_cudnn(AttentionCudnn *ctx, bf16 *out, float *lse, const bf16 *qkv, int B, int T, int C,
                             int NH, cudaStream_t stream);
/* dqkv OVERWRITTEN */
void attention_backward_cudnn(AttentionCudnn *ctx, bf16 *dqkv, const bf16 *dout, const bf16 *qkv, const bf16 *out,
                              const float *lse, int B, int T, int C, int NH, cudaStream_t stream);
#endif
