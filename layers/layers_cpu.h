/*
 * layers_cpu.h - CPU reference implementations of the dense GPT-2 layers.
 *
 * These are the CPU trainer's layers and the references every GPU kernel in
 * layers/ is tested against. Shapes follow llm.c: activations are [B, T, C]
 * row-major, with N = B*T rows where batch and time do not matter. Weights of a
 * linear layer are [OC, C] (out, in), so out = inp W^T + b. All backward
 * functions ACCUMULATE (+=) into their gradient outputs, as in llm.c, so that
 * gradient accumulation and residual branches compose.
 *
 * Written in `real` (core/real.h) and compiled as float and as double.
 * Parallelised with OpenMP over independent outputs only (no reductions across
 * threads), so results do not depend on the thread count.
 */
#ifndef LAYERS_LAYERS_CPU_H
#define LAYERS_LAYERS_CPU_H

#include "../core/real.h"

#ifdef __cplusplus
extern "C" {
#endif

/* out[B,T,C] = wte[tokens[b,t]] + wpe[t] */
void encoder_forward_cpu(real *out, const int *tokens, const real *wte, const real *wpe, int B, int T, int C);
void encoder_backward_cpu(real *dwte, real *dwpe, const real *dout, const int *tokens, int B, int T, int C);

/* out = (x - mean) * rstd * weight + bias per row of C, eps 1e-5; mean, rstd are [N] */
void layernorm_forward_cpu(real *out, real *mean, real *rstd, const real *inp, const real *weight,
                           const real *bias, int N, int C);
void layernorm_backward_cpu(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                            const real *weight, const real *mean, const real *rstd, int N, int C);

/* out[N,OC] = inp[N,C] weight[OC,C]^T + bias[OC] (bias may be NULL) */
void matmul_forward_cpu(real *out, const real *inp, const real *weight, const real *bias, int N, int C, int OC);
/* dinp[N,C] += dout weight; dweight[OC,C] += dout^T inp; dbias[OC] += sum dout (dbias may be NULL) */
void matmul_backward_cpu(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                         const real *weight, int N, int C, int OC);

/* Causal multi-head attention. inp is qkv [B,T,3C] (q, k, v each C wide, NH heads
 * of hs = C/NH); out is [B,T,C]; preatt and att are [B,NH,T,T] scratch kept for
 * the backward pass (att holds the softmax). */
void attention_forward_cpu(real *out, real *preatt, real *att, const real *inp, int B, int T, int C, int NH);
void attention_backward_cpu(real *dinp, real *dpreatt, real *datt, const real *dout, const real *inp,
                            const real *att, int B, int T, int C, int NH);

/* GELU, tanh approximation (as GPT-2) */
void gelu_forward_cpu(real *out, const real *inp, long n);
void gelu_backward_cpu(real *dinp, const real *inp, const real *dout, long n);

/* out = a + b */
void residual_forward_cpu(real *out, const real *a, const real *b, long n);
/* da += dout; db += dout */
void residual_backward_cpu(real *da, real *db, const real *dout, long n);

/* probs[N,Vp] = softmax(logits[N,Vp]) over the first V entries; entries V..Vp-1 are set to 0 */
void softmax_forward_cpu(real *probs, const real *logits, int N, int V, int Vp);
/* losses[N] = -log probs[n, targets[n]] */
void crossentropy_forward_cpu(real *losses, const real *probs, const int *targets, int N, int Vp);
/* dlogits[n, v] += dloss[n] * (probs[n, v] - [v == target]) for v < V; padded entries untouched */
void crossentropy_softmax_backward_cpu(real *dlogits, const real *dlosses, const real *probs,
                                       const int *targets, int N, int V, int Vp);

/* AdamW, PyTorch semantics: g = grads * grad_scale (the clip factor), m,v moments,
 * bias correction with step t (1-based), decoupled weight decay lr*wd*param
 * (pass wd = 0 for biases, layernorms and embeddings that are not decayed). */
void adamw_update_cpu(real *params, const real *grads, real *m, real *v, long n, float lr, float beta1,
                      float beta2, float eps, float weight_decay, float grad_scale, int t);

/* Sum of squares of x[0..n) accumulated in double in a fixed order. */
double sum_squares_cpu(const real *x, long n);

#ifdef __cplusplus
}
#endif
#endif /* LAYERS_LAYERS_CPU_H */
