/*
 * adamw.cuh - AdamW from fp32 master weights with stochastic rounding to the bf16
 * parameters, and the deterministic global gradient norm.
 */
#ifndef LAYERS_ADAMW_CUH
#define LAYERS_ADAMW_CUH
#include "common.cuh"

/* PyTorch AdamW semantics, as adamw_update_cpu:
 *   g = grads * grad_scale; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 *   w -= lr * ((m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) + weight_decay * w)
 * w is master[i] (fp32) when master != NULL, else params[i] read as fp32. The result goes to master
 * (if any) and to params rounded stochastically to bf16 with bits from hash(seed, sr_first + i): pass a
 * seed that changes every step (and per tensor) for unbiased rounding; the same seed gives the same
 * bits. sr_first: 0 for a whole tensor; for a slice of one (a ZeRO-1 shard), the slice's first
 * element's place in the tensor, so that slices round as the whole tensor would.
 * t is the 1-based step. Elementwise over i < n, any n. */
void adamw_update(bf16 *params, float *master, const bf16 *grads, float *m, float *v, long n, float lr,
                  float beta1, float beta2, float eps, float weight_decay, float grad_scale, int t, uint32_t seed,
                  long sr_first, cudaStream_t stream);

/* The same with fp32 gradients (e.g. packed sparse weight gradients kept in fp32). */
void adamw_update_f32grads(bf16 *params, float *master, const float *grads, float *m, float *v, long n, float lr,
                           float beta1, float beta2, float eps, float weight_decay, float grad_scale, int t,
                           uint32_t seed, long sr_first, cudaStream_t stream);

/* Deterministic sum of squares: a fixed grid of GLOBAL_NORM_BLOCKS blocks (independent of the
 * device), each summing its grid-stride share of x in a fixed order into partials[block] (ADDED, so
 * several tensors can be accumulated one call after another; zero partials first). */
#define GLOBAL_NORM_BLOCKS 512
void global_norm_squared_accumulate(float *partials, const bf16 *x, long n, cudaStream_t stream);
void global_norm_squared_accumulate_f32(float *partials, const float *x, long n, cudaStream_t stream);
/* out[0] = sum of partials[0..GLOBAL_NORM_BLOCKS) in index order (the squared norm; sqrt on the host). */
void global_norm_squared_finish(float *out, const float *partials, cudaStream_t stream);
/* Convenience: zero partials, accumulate x, finish into out[0]. */
void global_norm_squared(float *out, float *partials, const bf16 *x, long n, cudaStream_t stream);
#endif
