/*
 * encoder.cuh - token + position embedding, forward and deterministic backward.
 */
#ifndef LAYERS_ENCODER_CUH
#define LAYERS_ENCODER_CUH
#include "common.cuh"

/* out[B,T,C] = wte[tokens[b,t]] + wpe[t]. C % 8 == 0. */
void encoder_forward(bf16 *out, const int *tokens, const bf16 *wte, const bf16 *wpe, int B, int T, int C,
                     cudaStream_t stream);

/* Number of ints of each of the two workspaces encoder_backward needs (host and device). */
long encoder_backward_workspace_ints(int B, int T);

/* dwpe[t] += sum_b dout[b,t];  dwte[v] += sum over (b,t) with tokens[b,t] == v of dout[b,t].
 * Deterministic: positions are bucketed by token on the host (from tokens_host, the same tokens as on
 * the device, stable counting sort), each bucket is summed in fp32 in a fixed order (positions split
 * over 16 warps by index, warp sums added in warp order), then added to the bf16 gradient (round to nearest). ws_host and ws_dev hold
 * encoder_backward_workspace_ints(B, T) ints each (ws_host: pageable host memory, NOT pinned; it may be reused as
 * soon as the call returns). C % 8 == 0. */
void encoder_backward(bf16 *dwte, bf16 *dwpe, const bf16 *dout, const int *tokens_host, int *ws_host,
                      int *ws_dev, int B, int T, int C, cudaStream_t stream);
#endif
