/*
 * layernorm.cuh - layernorm forward (optionally fused with the residual add) and
 * backward (accumulating into the residual-stream gradient). eps = 1e-5.
 * Rows of C channels, N = B*T rows; C % 8 == 0. mean and rstd are fp32 [N].
 */
#ifndef LAYERS_LAYERNORM_CUH
#define LAYERS_LAYERNORM_CUH
#include "common.cuh"

/* out = (inp - mean) * rstd * weight + bias; mean/rstd may be NULL (inference). */
void layernorm_forward(bf16 *out, float *mean, float *rstd, const bf16 *inp, const bf16 *weight,
                       const bf16 *bias, int N, int C, cudaStream_t stream);

/* residual = inp1 + inp2 (rounded to bf16), then out = layernorm(residual). */
void fused_residual_layernorm_forward(bf16 *residual, bf16 *out, float *mean, float *rstd, const bf16 *inp1,
                                      const bf16 *inp2, const bf16 *weight, const bf16 *bias, int N, int C,
                                      cudaStream_t stream);

/* fp32 scratch floats layernorm_backward needs for N rows of C. */
long layernorm_backward_scratch_floats(int N, int C);

/* dinp += dLN/dinp (the fused residual backward: pass the residual-stream gradient as dinp);
 * dweight += sum_n dout*norm; dbias += sum_n dout. Deterministic: fixed row chunks, partial sums in
 * fp32 scratch, summed in chunk order. dinp must not alias dout. */
void layernorm_backward(bf16 *dinp, bf16 *dweight, bf16 *dbias, float *scratch, const bf16 *dout,
                        const bf16 *inp, const bf16 *weight, const float *mean, const float *rstd, int N, int C,
                        cudaStream_t stream);
#endif
