/*
 * gpt2_cpu.h - the CPU GPT-2 model: parameters, activations, forward, backward,
 * AdamW update and block pruning. Written in `real` (core/real.h): float in the
 * CPU trainer, double in the finite-difference gradient check.
 *
 * With block_size > 0 the fc and fcproj weights of every layer are block-sparse
 * (sparse/bsr.h) and live in the flat vectors as packed live blocks (model/gpt2.h
 * describes the flat layout). Pruned blocks are gone: they get no gradient, no
 * optimizer state and no storage.
 */
#ifndef MODEL_GPT2_CPU_H
#define MODEL_GPT2_CPU_H

#include <stddef.h>
#include "../core/real.h"
#include "../sparse/bsr.h"
#include "../sparse/prune.h"
#include "gpt2.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Activations of one forward pass (and, in grads_acts, their gradients). */
typedef struct {
    real *encoded;    /* (B, T, C) */
    real *ln1;        /* (L, B, T, C) */
    real *ln1_mean;   /* (L, B, T) */
    real *ln1_rstd;   /* (L, B, T) */
    real *qkv;        /* (L, B, T, 3C) */
    real *atty;       /* (L, B, T, C) */
    real *preatt;     /* (L, B, NH, T, T) */
    real *att;        /* (L, B, NH, T, T) */
    real *attproj;    /* (L, B, T, C) */
    real *residual2;  /* (L, B, T, C) */
    real *ln2;        /* (L, B, T, C) */
    real *ln2_mean;   /* (L, B, T) */
    real *ln2_rstd;   /* (L, B, T) */
    real *fch;        /* (L, B, T, 4C) */
    real *fch_gelu;   /* (L, B, T, 4C) */
    real *fcproj;     /* (L, B, T, C) */
    real *residual3;  /* (L, B, T, C) */
    real *lnf;        /* (B, T, C) */
    real *lnf_mean;   /* (B, T) */
    real *lnf_rstd;   /* (B, T) */
    real *logits;     /* (B, T, Vp) */
    real *probs;      /* (B, T, Vp) */
    real *losses;     /* (B, T) */
    real *memory;     /* the one allocation behind all of the above */
    size_t num_elements;
} GPT2Activations;

typedef struct {
    GPT2Config config;
    int block_size;          /* 0: dense model */
    BsrLayout *layouts;      /* [2L] sparse matrix layouts, NULL for a dense model */
    ParamLayout P;           /* flat layout for the current live-block counts */
    size_t capacity;         /* elements allocated for each flat vector */
    real *params, *grads, *m, *v;
    int B, T;                /* batch the activations are allocated for (0: none yet) */
    GPT2Activations acts, grads_acts;
    int *inputs, *targets;   /* copies of the last forward's batch */
    int have_targets;
    real mean_loss;          /* mean loss of the last forward with targets, -1 otherwise */
} GPT2Cpu;

/* Build a model from a flat fp32 parameter vector. For a sparse model pass the
 * block size and masks[2L] (grid masks; NULL = all live) and a flat vector in
 * the sparse layout for those masks; for a dense model block_size = 0. */
void gpt2_cpu_init(GPT2Cpu *model, const GPT2Config *cfg, int block_size, uint8_t *const *masks, const float *flat);
void gpt2_cpu_free(GPT2Cpu *model);

/* Forward pass on tokens[B*T]; targets may be NULL. Returns the mean loss, or -1. */
real gpt2_cpu_forward(GPT2Cpu *model, const int *inputs, const int *targets, int B, int T);
void gpt2_cpu_zero_grad(GPT2Cpu *model);
/* Backward of the last forward (which must have had targets), accumulating into
 * model->grads the gradient of loss_scale * mean loss (loss_scale = 1 / grad_accum_steps). */
void gpt2_cpu_backward(GPT2Cpu *model, real loss_scale);
/* Global L2 norm of the live gradients, summed in double in a fixed order. */
double gpt2_cpu_grad_norm(const GPT2Cpu *model);
/* AdamW over every live parameter; weight decay on llm.c's 2-D tensors only. */
void gpt2_cpu_update(GPT2Cpu *model, float lr, float beta1, float beta2, float eps, float weight_decay,
                     float grad_scale, int t);

/* Block pruning at training step t: if t is a mask-update step of the schedule,
 * score the live blocks (from the fp32 weights), keep the schedule's number of
 * blocks (per matrix, or ranked across all matrices if global), and compact
 * params, grads and both moments. Returns 1 if any block was removed. */
int gpt2_cpu_prune(GPT2Cpu *model, const PruneSchedule *S, int t, BsrScoreKind score, int global);
/* Fraction of dead blocks over all sparse matrices (0 for a dense model). */
double gpt2_cpu_sparsity(const GPT2Cpu *model);

/* Copy the live flat parameters out as float (for checkpoints). */
void gpt2_cpu_get_flat_f32(const GPT2Cpu *model, const real *src, float *dst);
void gpt2_cpu_set_flat_f32(GPT2Cpu *model, real *dst, const float *src);

/* Per-layer parameter pointers, resolving the flat layout. */
real *gpt2_cpu_tensor(const GPT2Cpu *model, real *flat, int tensor, int layer);
real *gpt2_cpu_sparse_values(const GPT2Cpu *model, real *flat, int m);

#ifdef __cplusplus
}
#endif
#endif /* MODEL_GPT2_CPU_H */
