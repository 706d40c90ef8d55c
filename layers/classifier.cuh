/*
 * classifier.cuh - fused softmax + cross-entropy over the vocabulary: the loss
 * and the logits gradient in one kernel, one block per row, without ever
 * writing probabilities.
 */
#ifndef LAYERS_CLASSIFIER_CUH
#define LAYERS_CLASSIFIER_CUH
#include "common.cuh"

/* logits [N, Vp] bf16 (only the first V columns are real; Vp % 8 == 0).
 *   losses[n] += logsumexp(logits[n, :V]) - logits[n, targets[n]]   (fp32, ACCUMULATED: zero it per step)
 *   if write_dlogits: logits[n, v] = dloss * (softmax(logits[n])[v] - [v == targets[n]]) for v < V,
 *                     and 0 for the padded columns V..Vp-1 (the logits are overwritten in place).
 * dloss is the gradient of the optimised loss w.r.t. each per-token loss (1 / (B*T*grad_accum_steps)). */
void fused_classifier(bf16 *logits, float *losses, float dloss, const int *targets, int N, int V, int Vp,
                      int write_dlogits, cudaStream_t stream);
#endif
