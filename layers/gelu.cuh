/*
 * gelu.cuh - GELU, tanh approximation (GPT-2): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
 * n % 8 == 0 and 16-byte aligned pointers.
 */
#ifndef LAYERS_GELU_CUH
#define LAYERS_GELU_CUH
#include "common.cuh"

void gelu_forward(bf16 *out, const bf16 *inp, long n, cudaStream_t stream);
/* dinp = gelu'(inp) * dout (OVERWRITTEN; dinp may alias dout for the in-place form). */
void gelu_backward(bf16 *dinp, const bf16 *inp, const bf16 *dout, long n, cudaStream_t stream);
#endif
