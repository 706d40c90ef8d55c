/*
 * train_gpt2.cu - the GPU trainer: GPT-2 in bf16 with fp32 master weights, whose
 * MLP weights are pruned to block sparsity during training.
 *
 * Same flags, files and semantics as the CPU reference trainer (train_gpt2.c):
 * the flat parameter layout of model/gpt2.h, the checkpoints of
 * model/checkpoint.h (the model file holds the fp32 master weights, so a
 * checkpoint written here resumes bit-exactly here, with the kernel choices
 * pinned: BSR_FORCE_PATH=rule and --gemm-tune 0, and loads in the CPU
 * trainer), the schedules of core/train_common.h and sparse/prune.h.
 *
 * Reads top to bottom: configuration, parameters, activations, forward,
 * backward, update, pruning, then the training loop in main; helpers for
 * evaluation, sampling and checkpoints sit before main.
 *
 *   ./train_gpt2cu -e d12 -b 64 -t 1024 -x 5000 --sparsity 0.9 --block 64 -o log_d12
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime.h>

#include "core/train_args.h"
#include "core/train_common.h"
#include "core/utils.h"
#include "data/dataloader.h"
#include "data/tokenizer.h"
#include "dist/dist.h"
#include "dist/dist_nccl.cuh"
#include "layers/adamw.cuh"
#include "layers/attention.cuh"
#include "layers/classifier.cuh"
#include "layers/common.cuh"
#include "layers/encoder.cuh"
#include "layers/gelu.cuh"
#include "layers/layernorm.cuh"
#include "layers/matmul.cuh"
#include "model/checkpoint.h"
#include "model/gpt2.h"
#include "model/train_setup.h"
#include "sparse/bsr.h"
#include "sparse/bsr_kernels.cuh"
#include "sparse/bsr_prune.cuh"
#include "sparse/prune.h"

/* bf16 tensor-core peak of the GPU for MFU (H100 SXM dense bf16); override with BF16_PEAK_TFLOPS */
#define DEFAULT_BF16_PEAK_TFLOPS 989.0

/* ------------------------------------------------------------------ device memory */

/* cudaMalloc that says what it was for and what to do when the GPU is full;
 * *allocated counts the bytes this model holds (for the report and the error) */
static void *device_alloc(size_t *allocated, size_t bytes, const char *what) {
    void *p = NULL;
    if (bytes == 0) bytes = 16;
    cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaErrorMemoryAllocation) {
        size_t free_b = 0, total_b = 0;
        cudaGetLastError();
        cudaMemGetInfo(&free_b, &total_b);
        DIE("activations shrink with a smaller -b (keep the total with -d) and with -r 1 (the default); the weights and "
            "optimizer state (16 bytes per parameter) with -z 1 over several GPUs, or a smaller model",
            "out of GPU memory allocating %.1f MiB for %s (%.1f MiB free of %.1f MiB, %.1f MiB already taken by this run)",
            bytes / 1048576.0, what, free_b / 1048576.0, total_b / 1048576.0, *allocated / 1048576.0);
    }
    CUDA_CHECK(e);
    *allocated += bytes;
    return p;
}

/* ------------------------------------------------------------------ parameters */

typedef struct {
    GPT2Config config;
    int block_size;            /* 0: dense model */
    BsrLayout *layouts;        /* [2L] host layouts of the sparse MLP matrices, NULL if dense */
    BsrDeviceLayout *dlayouts; /* [2L] their device copies */
    ParamLayout P;             /* flat layout for the current live-block counts */
    size_t capacity;           /* elements allocated in params and grads */
    bf16 *params;              /* bf16 weights used by the kernels */
    float *master;             /* fp32 master weights (what checkpoints hold): this rank's shard */
    bf16 *grads;
    float *m, *v;              /* AdamW moments: this rank's shard */
    /* ZeRO-1 (-z 1): master, m and v hold only this rank's shard, elements [shard_begin, shard_begin +
     * shard_count) of the flat vector (dist_shard_range over `shards` ranks); params and grads stay
     * whole on every rank (padded to shards * shard_size), each rank updates its shard and the ranks
     * all-gather their shards of params after every update. Without ZeRO-1 the shard is the whole
     * vector: shard_begin 0, shard_count = shard_size = P.total. */
    int zero, shards, shard_rank;
    size_t shard_size, shard_begin, shard_count;
    size_t shard_capacity;     /* elements allocated in master, m and v */
} Parameters;

/* Who shares the optimizer state (ZeRO-1): on = 0 keeps it whole on every rank. */
typedef struct {
    int on, shards, rank;
} ZeroShards;

/* 64 elements: each rank's part of the bf16 all-gather starts 128-byte aligned */
#define ZERO_SHARD_ALIGN 64
/* ZeRO-1 moves whole fp32 vectors between host and device (start-up, checkpoints) in pieces of this many
 * elements (per shard), so the device never holds the whole fp32 vector that ZeRO-1 exists to avoid. */
#define ZERO_PIECE ((size_t)1 << 22)

/* This rank's shard of a flat vector of total elements: the whole vector without ZeRO-1. */
static void shard_range(const Parameters *p, size_t total, size_t *size, size_t *begin, size_t *count) {
    if (!p->zero) {
        *begin = 0;
        *size = *count = total;
        return;
    }
    dist_shard_range(total, p->shards, p->shard_rank, ZERO_SHARD_ALIGN, size, begin, count);
}
/* ... for the current P.total (again after every compaction) */
static void parameters_set_shards(Parameters *p) { shard_range(p, p->P.total, &p->shard_size, &p->shard_begin, &p->shard_count); }
/* Elements params and grads need: the flat vector, padded to whole shards under ZeRO-1. */
static size_t parameters_whole_elems(const Parameters *p) { return p->zero ? (size_t)p->shards * p->shard_size : p->P.total; }

static bf16 *param(const Parameters *p, int tensor, int layer) {
    return p->params + p->P.tensor_offset[tensor] + (size_t)layer * gpt2_tensor_elems_per_layer(&p->config, tensor);
}
static bf16 *grad(const Parameters *p, int tensor, int layer) {
    return p->grads + p->P.tensor_offset[tensor] + (size_t)layer * gpt2_tensor_elems_per_layer(&p->config, tensor);
}
static bf16 *sparse_param(const Parameters *p, int m) { return p->params + p->P.sparse_offset[m]; }
static bf16 *sparse_grad(const Parameters *p, int m) { return p->grads + p->P.sparse_offset[m]; }

__global__ static void f32_to_bf16_kernel(bf16 *dst, const float *src, size_t n) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = __float2bfloat16_rn(src[i]);
}
static void f32_to_bf16(bf16 *dst, const float *src, size_t n, cudaStream_t s) {
    if (n == 0) return;
    f32_to_bf16_kernel<<<1024, 256, 0, s>>>(dst, src, n);
    LAYERS_LAUNCH_CHECK();
}

/* Upload a flat fp32 parameter vector (and, for a sparse model, its masks); zero (may be NULL):
 * keep only this rank's shard of the masters and moments. */
static void parameters_init(Parameters *p, const GPT2Config *cfg, int block_size, uint8_t *const *masks,
                            const float *flat_host, const ZeroShards *zero, size_t *mem, cudaStream_t s) {
    memset(p, 0, sizeof(*p));
    p->config = *cfg;
    p->block_size = block_size;
    if (block_size > 0) {
        int M = gpt2_num_sparse_matrices(cfg);
        char err[256];
        p->layouts = (BsrLayout *)calloc_check(M, sizeof(BsrLayout));
        if (gpt2_sparse_layouts_init(cfg, block_size, p->layouts, err, sizeof(err)) != 0)
            DIE("pick a --block that divides the model width", "%s", err);
        p->dlayouts = (BsrDeviceLayout *)calloc_check(M, sizeof(BsrDeviceLayout));
        for (int m = 0; m < M; m++) {
            if (masks) bsr_layout_set_mask(&p->layouts[m], masks[m]);
            bsr_device_layout_alloc(&p->dlayouts[m], p->layouts[m].rows, p->layouts[m].cols, block_size);
            bsr_device_layout_upload(&p->dlayouts[m], &p->layouts[m]);
        }
    }
    param_layout_init(&p->P, cfg, p->layouts, block_size);
    p->zero = zero && zero->on;
    p->shards = p->zero ? zero->shards : 1;
    p->shard_rank = p->zero ? zero->rank : 0;
    parameters_set_shards(p);
    p->capacity = parameters_whole_elems(p);
    p->shard_capacity = p->shard_size;
    p->params = (bf16 *)device_alloc(mem, sizeof(bf16) * p->capacity, "bf16 parameters");
    p->master = (float *)device_alloc(mem, sizeof(float) * p->shard_capacity, "fp32 master weights");
    p->grads = (bf16 *)device_alloc(mem, sizeof(bf16) * p->capacity, "gradients");
    p->m = (float *)device_alloc(mem, sizeof(float) * p->shard_capacity, "AdamW first moment");
    p->v = (float *)device_alloc(mem, sizeof(float) * p->shard_capacity, "AdamW second moment");
    CUDA_CHECK(cudaMemsetAsync(p->params, 0, sizeof(bf16) * p->capacity, s));
    CUDA_CHECK(cudaMemsetAsync(p->master, 0, sizeof(float) * p->shard_capacity, s));
    if (!p->zero) {
        CUDA_CHECK(cudaMemcpyAsync(p->master, flat_host, sizeof(float) * p->P.total, cudaMemcpyHostToDevice, s));
        f32_to_bf16(p->params, p->master, p->P.total, s);
    } else { /* the bf16 weights whole, through a 16 MiB fp32 piece at a time; the masters: this rank's shard */
        const size_t piece = p->P.total < ZERO_PIECE ? p->P.total : ZERO_PIECE;
        float *staged = (float *)device_alloc(mem, sizeof(float) * piece, "fp32 weights at start-up (one piece)");
        for (size_t off = 0; off < p->P.total; off += piece) {
            const size_t n = p->P.total - off < piece ? p->P.total - off : piece;
            CUDA_CHECK(cudaMemcpyAsync(staged, flat_host + off, sizeof(float) * n, cudaMemcpyHostToDevice, s));
            f32_to_bf16(p->params + off, staged, n, s);
        }
        if (p->shard_count) /* an empty last shard (more ranks than 64-element pieces) starts past the end */
            CUDA_CHECK(cudaMemcpyAsync(p->master, flat_host + p->shard_begin, sizeof(float) * p->shard_count,
                                       cudaMemcpyHostToDevice, s));
        CUDA_CHECK(cudaStreamSynchronize(s));
        CUDA_CHECK(cudaFree(staged));
        *mem -= sizeof(float) * piece;
    }
    CUDA_CHECK(cudaMemsetAsync(p->grads, 0, sizeof(bf16) * p->capacity, s));
    CUDA_CHECK(cudaMemsetAsync(p->m, 0, sizeof(float) * p->shard_capacity, s));
    CUDA_CHECK(cudaMemsetAsync(p->v, 0, sizeof(float) * p->shard_capacity, s));
    CUDA_CHECK(cudaStreamSynchronize(s)); /* flat_host is pageable and the caller's */
}

static double parameters_sparsity(const Parameters *p) {
    if (!p->layouts) return 0.0;
    long live = 0, total = 0;
    for (int m = 0; m < p->P.num_sparse; m++) {
        live += p->layouts[m].nnz;
        total += bsr_num_grid_blocks(&p->layouts[m]);
    }
    return 1.0 - (double)live / (double)total;
}

/* ------------------------------------------------------------------ activations */

typedef struct {
    bf16 *encoded;               /* (B,T,C) */
    bf16 *ln1, *ln2;             /* (L,B,T,C) */
    float *ln1_mean, *ln1_rstd;  /* (L,B,T) */
    float *ln2_mean, *ln2_rstd;
    bf16 *qkv;                   /* (L,B,T,3C) */
    bf16 *atty;                  /* (L,B,T,C) */
    float *att_lse;              /* (L,B,NH,T) */
    bf16 *residual2, *residual3; /* (L,B,T,C) */
    bf16 *fch;                   /* (L,B,T,4C) pre-GELU */
    bf16 *fch_gelu;              /* (L,B,T,4C), or (B,T,4C) recomputed in backward when recompute >= 1 */
    bf16 *lnf;                   /* (B,T,C) */
    float *lnf_mean, *lnf_rstd;
    bf16 *logits;                /* (B,T,Vp); the classifier overwrites it with dlogits */
    bf16 *proj_out;              /* (B,T,C) attproj / fcproj output before the residual add */
    float *losses;               /* (B,T), accumulated over micro-steps */
    /* backward */
    bf16 *dresidual;             /* (B,T,C) gradient of the residual stream */
    bf16 *dbig;                  /* (B,T,4C) dfch, dqkv */
    bf16 *dmid;                  /* (B,T,C) dln, datty */
    float *scratch;              /* layernorm / bias / attention backward scratch */
    size_t scratch_floats;
    int *enc_ws_host, *enc_ws_dev;
    int *tokens, *targets;       /* (B,T) on the device */
} Activations;

static void activations_init(Activations *a, const GPT2Config *c, int B, int T, int recompute, size_t *mem) {
    size_t L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size, N = (size_t)B * T;
    memset(a, 0, sizeof(*a));
    a->encoded = (bf16 *)device_alloc(mem, 2 * N * C, "activations (encoded)");
    a->ln1 = (bf16 *)device_alloc(mem, 2 * L * N * C, "activations (ln1)");
    a->ln2 = (bf16 *)device_alloc(mem, 2 * L * N * C, "activations (ln2)");
    a->ln1_mean = (float *)device_alloc(mem, 4 * L * N, "activations (ln1 stats)");
    a->ln1_rstd = (float *)device_alloc(mem, 4 * L * N, "activations (ln1 stats)");
    a->ln2_mean = (float *)device_alloc(mem, 4 * L * N, "activations (ln2 stats)");
    a->ln2_rstd = (float *)device_alloc(mem, 4 * L * N, "activations (ln2 stats)");
    a->qkv = (bf16 *)device_alloc(mem, 2 * L * N * 3 * C, "activations (qkv)");
    a->atty = (bf16 *)device_alloc(mem, 2 * L * N * C, "activations (attention out)");
    a->att_lse = (float *)device_alloc(mem, 4 * L * B * NH * T, "activations (attention lse)");
    a->residual2 = (bf16 *)device_alloc(mem, 2 * L * N * C, "activations (residual2)");
    a->residual3 = (bf16 *)device_alloc(mem, 2 * L * N * C, "activations (residual3)");
    a->fch = (bf16 *)device_alloc(mem, 2 * L * N * 4 * C, "activations (fch)");
    a->fch_gelu = (bf16 *)device_alloc(mem, 2 * (recompute >= 1 ? 1 : L) * N * 4 * C, "activations (fch_gelu)");
    a->lnf = (bf16 *)device_alloc(mem, 2 * N * C, "activations (lnf)");
    a->lnf_mean = (float *)device_alloc(mem, 4 * N, "activations (lnf stats)");
    a->lnf_rstd = (float *)device_alloc(mem, 4 * N, "activations (lnf stats)");
    a->logits = (bf16 *)device_alloc(mem, 2 * N * Vp, "activations (logits)");
    a->proj_out = (bf16 *)device_alloc(mem, 2 * N * C, "activations (projection out)");
    a->losses = (float *)device_alloc(mem, 4 * N, "losses");
    a->dresidual = (bf16 *)device_alloc(mem, 2 * N * C, "backward (dresidual)");
    a->dbig = (bf16 *)device_alloc(mem, 2 * N * 4 * C, "backward (dfch)");
    a->dmid = (bf16 *)device_alloc(mem, 2 * N * C, "backward (dln)");
    size_t s = (size_t)layernorm_backward_scratch_floats((int)N, (int)C);
    size_t s2 = (size_t)matmul_dbias_scratch_floats((int)N, (int)(4 * C));
    size_t s3 = (size_t)attention_backward_scratch_floats(B, T, (int)NH);
    size_t s4 = (size_t)bsr_colsum_chunks((int)N) * 4 * C; /* sparse fc bias-gradient partials */
    if (s2 > s) s = s2;
    if (s3 > s) s = s3;
    if (s4 > s) s = s4;
    a->scratch_floats = s;
    a->scratch = (float *)device_alloc(mem, 4 * s, "backward scratch");
    long ws = encoder_backward_workspace_ints(B, T);
    a->enc_ws_host = (int *)malloc_check(sizeof(int) * ws);
    a->enc_ws_dev = (int *)device_alloc(mem, sizeof(int) * ws, "encoder backward workspace");
    a->tokens = (int *)device_alloc(mem, sizeof(int) * N, "tokens");
    a->targets = (int *)device_alloc(mem, sizeof(int) * N, "targets");
}

/* ------------------------------------------------------------------ the model */

typedef struct {
    Parameters p;
    Activations a;
    size_t device_bytes;         /* device memory this model holds */
    int B, T, recompute;
    MatmulContext mm;
    BsrCtx bsr;
    cudaStream_t stream;
    AttentionCudnn *cudnn_attention; /* NULL: our own flash attention */
    /* data parallelism: when reduce_grads is set (the last micro-step of a step),
     * the backward pass hands each layer's finished gradients to an all-reduce on
     * comm_stream while it goes on with the layers below */
    Dist *dist;                  /* NULL: one process */
    int reduce_grads;
    cudaStream_t comm_stream;
    cudaEvent_t *layer_done;     /* [L + 1] */
    cudaEvent_t comm_done;
    int *inputs_host;            /* the last forward's tokens (the encoder backward buckets them on the host) */
    float *norm_partials, *norm_out;
} GPT2;

/* ------------------------------------------------------------------ forward */

/* Layer l's MLP activations: its input ln2, the pre-activation fch and the GELU output fch_gelu
 * (with recompute >= 1 one layer's scratch shared by all layers). */
static void mlp_activations(GPT2 *g, int l, int N, bf16 **ln2, bf16 **fch, bf16 **fch_gelu) {
    Activations *a = &g->a;
    const size_t nc = (size_t)N * g->p.config.channels;
    *ln2 = a->ln2 + l * nc;
    *fch = a->fch + l * 4 * nc;
    *fch_gelu = a->fch_gelu + (g->recompute >= 1 ? 0 : l * 4 * nc);
}

/* 1 when the crossover has put the fcproj forward on GELU input (-r 1) on cuBLAS: cuBLAS cannot
 * apply the GELU to its operand, so that path runs a separate GELU pass over the 4C-wide fch; the
 * fc forward then writes gelu(fch) in its epilogue instead, as the dense trainer does (the
 * unpruned step: about 1% faster at d12 / d24, dev/NOTES_runs.md run 70). */
static int fcproj_forward_on_cublas(const GPT2 *g, int mp, int N) {
    const Parameters *p = &g->p;
    const BsrDecision *d =
        bsr_crossover_lookup(&g->bsr, BSR_OP_FWD, &p->dlayouts[mp], N, BSR_FWD_GELU_INPUT | BSR_FWD_BIAS);
    return d && d->path == BSR_PATH_DENSE;
}

/* Layer l's MLP: proj_out = fcproj(gelu(fc(ln2))), keeping the pre-activation fch[l] (and, with
 * recompute 0, the GELU output fch_gelu[l]) for the backward pass; dense or block-sparse. */
static void mlp_forward(GPT2 *g, int l, int N) {
    Parameters *p = &g->p;
    Activations *a = &g->a;
    const int C = p->config.channels;
    bf16 *ln2, *fch, *fch_gelu;
    mlp_activations(g, l, N, &ln2, &fch, &fch_gelu);
    cudaStream_t s = g->stream;
    const int mf = 2 * l, mp = 2 * l + 1; /* fc, fcproj */
    if (!p->layouts) { /* dense: cuBLASLt, the GELU in the fc epilogue (GELU_AUX) */
        matmul_forward(&g->mm, fch_gelu, fch, ln2, param(p, P_FCW, l), param(p, P_FCB, l), N, C, 4 * C, s);
        matmul_forward(&g->mm, a->proj_out, NULL, fch_gelu, param(p, P_FCPROJW, l), param(p, P_FCPROJB, l), N, 4 * C,
                       C, s);
    } else if (g->recompute >= 1 && !fcproj_forward_on_cublas(g, mp, N)) {
        /* the GELU output is not kept: fc writes the pre-activation only, and fcproj applies the
         * GELU to its operand tiles in shared memory (one 4C-wide write per layer instead of two) */
        bsr_linear_forward(&g->bsr, fch, NULL, ln2, sparse_param(p, mf), param(p, P_FCB, l), &p->dlayouts[mf], N, 0, s);
        bsr_linear_forward_gelu_input(&g->bsr, a->proj_out, fch, sparse_param(p, mp), param(p, P_FCPROJB, l), fch_gelu,
                                      &p->dlayouts[mp], N, s);
    } else { /* (-r 1: fch_gelu is one layer's scratch, read right away by fcproj) */
        bsr_linear_forward(&g->bsr, fch_gelu, fch, ln2, sparse_param(p, mf), param(p, P_FCB, l), &p->dlayouts[mf], N, 1,
                           s);
        bsr_linear_forward(&g->bsr, a->proj_out, NULL, fch_gelu, sparse_param(p, mp), param(p, P_FCPROJB, l),
                           &p->dlayouts[mp], N, 0, s);
    }
}

/* Forward pass on g->a.tokens; with targets, losses[n] += per-token loss and (if
 * write_dlogits) the logits are replaced by dloss * dlogits for the backward pass. */
static void gpt2_forward(GPT2 *g, int with_targets, float dloss, int write_dlogits) {
    Parameters *p = &g->p;
    Activations *a = &g->a;
    const GPT2Config *c = &p->config;
    const int B = g->B, T = g->T, L = c->num_layers, C = c->channels, NH = c->num_heads;
    const int V = c->vocab_size, Vp = c->padded_vocab_size, N = B * T;
    const size_t nc = (size_t)N * C;
    cudaStream_t s = g->stream;

    encoder_forward(a->encoded, a->tokens, param(p, P_WTE, 0), param(p, P_WPE, 0), B, T, C, s);
    layernorm_forward(a->ln1, a->ln1_mean, a->ln1_rstd, a->encoded, param(p, P_LN1W, 0), param(p, P_LN1B, 0), N, C, s);
    for (int l = 0; l < L; l++) {
        bf16 *residual = l == 0 ? a->encoded : a->residual3 + (l - 1) * nc;
        bf16 *ln1 = a->ln1 + l * nc, *qkv = a->qkv + l * 3 * nc, *atty = a->atty + l * nc;
        bf16 *residual2 = a->residual2 + l * nc, *ln2 = a->ln2 + l * nc, *residual3 = a->residual3 + l * nc;
        float *lse = a->att_lse + (size_t)l * B * NH * T;

        matmul_forward(&g->mm, qkv, NULL, ln1, param(p, P_QKVW, l), param(p, P_QKVB, l), N, C, 3 * C, s);
        if (g->cudnn_attention) attention_forward_cudnn(g->cudnn_attention, atty, lse, qkv, B, T, C, NH, s);
        else attention_forward(atty, lse, qkv, B, T, C, NH, s);
        matmul_forward(&g->mm, a->proj_out, NULL, atty, param(p, P_ATTPROJW, l), param(p, P_ATTPROJB, l), N, C, C, s);
        fused_residual_layernorm_forward(residual2, ln2, a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, residual,
                                         a->proj_out, param(p, P_LN2W, l), param(p, P_LN2B, l), N, C, s);
        mlp_forward(g, l, N);
        /* the residual add, fused with the next layernorm: the next layer's ln1, or the final lnf */
        if (l + 1 < L)
            fused_residual_layernorm_forward(residual3, a->ln1 + (l + 1) * nc, a->ln1_mean + (size_t)(l + 1) * N,
                                             a->ln1_rstd + (size_t)(l + 1) * N, residual2, a->proj_out,
                                             param(p, P_LN1W, l + 1), param(p, P_LN1B, l + 1), N, C, s);
        else
            fused_residual_layernorm_forward(residual3, a->lnf, a->lnf_mean, a->lnf_rstd, residual2, a->proj_out,
                                             param(p, P_LNFW, 0), param(p, P_LNFB, 0), N, C, s);
    }
    /* classifier, weight-tied to the token embedding */
    matmul_forward(&g->mm, a->logits, NULL, a->lnf, param(p, P_WTE, 0), NULL, N, C, Vp, s);
    if (with_targets) fused_classifier(a->logits, a->losses, dloss, a->targets, N, V, Vp, write_dlogits, s);
}

/* ------------------------------------------------------------------ backward */

/* Backward of layer l's MLP: from dresidual (the gradient of its output) to dmid (the gradient of
 * ln2), accumulating the fcproj and fc weight and bias gradients; dbig holds dfch in between. */
static void mlp_backward(GPT2 *g, int l, int N) {
    Parameters *p = &g->p;
    Activations *a = &g->a;
    const int C = p->config.channels;
    bf16 *ln2, *fch, *fch_gelu;
    mlp_activations(g, l, N, &ln2, &fch, &fch_gelu);
    cudaStream_t s = g->stream;
    if (!p->layouts) { /* dense: cuBLASLt, the GELU backward in the fcproj input-gradient epilogue (DGELU) */
        if (g->recompute >= 1) gelu_forward(fch_gelu, fch, (long)N * 4 * C, s);
        matmul_backward(&g->mm, a->dbig, grad(p, P_FCPROJW, l), grad(p, P_FCPROJB, l), a->scratch, a->dresidual,
                        fch_gelu, param(p, P_FCPROJW, l), fch, N, 4 * C, C, s);
        matmul_backward(&g->mm, a->dmid, grad(p, P_FCW, l), grad(p, P_FCB, l), a->scratch, a->dbig, ln2,
                        param(p, P_FCW, l), NULL, N, C, 4 * C, s);
        return;
    }
    const int mp = 2 * l + 1, mf = 2 * l; /* fcproj, fc */
    /* fcproj weight gradient on live blocks; without the GELU output (-r 1) the kernel applies
     * the GELU to its operand tiles in shared memory, so gelu(fch) is never recomputed into memory */
    if (g->recompute >= 1)
        bsr_linear_backward_weight_gelu(&g->bsr, sparse_grad(p, mp), 0, 1, a->dresidual, fch, fch_gelu,
                                        &p->dlayouts[mp], N, s);
    else
        bsr_linear_backward_weight(&g->bsr, sparse_grad(p, mp), 0, NULL, 1, a->dresidual, fch_gelu,
                                   &p->dlayouts[mp], N, s);
    bias_backward(grad(p, P_FCPROJB, l), a->scratch, a->dresidual, N, C, s);
    /* dbig = (dresidual W) * gelu'(fch) and the column sums of dbig (the fc bias gradient) in one
     * kernel: dbig is written once and not read again for the bias */
    bsr_linear_backward_input_dgelu(&g->bsr, a->dbig, a->scratch, a->dresidual, sparse_param(p, mp), fch,
                                    &p->dlayouts[mp], N, s);
    bias_backward_finish(grad(p, P_FCB, l), a->scratch, bsr_colsum_chunks(N), 4 * C, s);
    /* fc */
    bsr_linear_backward_weight(&g->bsr, sparse_grad(p, mf), 0, NULL, 1, a->dbig, ln2, &p->dlayouts[mf], N, s);
    bsr_linear_backward_input(&g->bsr, a->dmid, a->dbig, sparse_param(p, mf), &p->dlayouts[mf], N, 0, s);
}

/* Average layer l's gradients over the ranks on the communication stream, once
 * the main stream has finished them. The per-layer slices of the llm.c tensors,
 * and the packed live blocks of the layer's two MLP matrices (adjacent in the
 * flat vector), go out as one NCCL group; sparse layers send only live blocks. */
static void reduce_layer_grads(GPT2 *g, int l) {
    Parameters *p = &g->p;
    CUDA_CHECK(cudaEventRecord(g->layer_done[l], g->stream));
    CUDA_CHECK(cudaStreamWaitEvent(g->comm_stream, g->layer_done[l], 0));
    static const int per_layer[] = {P_LN1W, P_LN1B, P_QKVW, P_QKVB, P_ATTPROJW, P_ATTPROJB, P_LN2W, P_LN2B, P_FCB, P_FCPROJB};
    dist_group_start(g->dist);
    for (size_t i = 0; i < sizeof(per_layer) / sizeof(per_layer[0]); i++)
        dist_allreduce_avg_bf16(g->dist, grad(p, per_layer[i], l), gpt2_tensor_elems_per_layer(&p->config, per_layer[i]),
                                g->comm_stream);
    if (p->layouts) {
        dist_allreduce_avg_bf16(g->dist, sparse_grad(p, 2 * l), p->P.sparse_size[2 * l] + p->P.sparse_size[2 * l + 1], g->comm_stream);
    } else {
        dist_allreduce_avg_bf16(g->dist, grad(p, P_FCW, l), gpt2_tensor_elems_per_layer(&p->config, P_FCW), g->comm_stream);
        dist_allreduce_avg_bf16(g->dist, grad(p, P_FCPROJW, l), gpt2_tensor_elems_per_layer(&p->config, P_FCPROJW), g->comm_stream);
    }
    dist_group_end(g->dist);
}

/* The embeddings and the final layernorm, after the encoder backward; then the
 * main stream waits for every reduction of this step. */
static void reduce_remaining_grads(GPT2 *g) {
    Parameters *p = &g->p;
    const int L = p->config.num_layers;
    CUDA_CHECK(cudaEventRecord(g->layer_done[L], g->stream));
    CUDA_CHECK(cudaStreamWaitEvent(g->comm_stream, g->layer_done[L], 0));
    static const int rest[] = {P_WTE, P_WPE, P_LNFW, P_LNFB};
    dist_group_start(g->dist);
    for (size_t i = 0; i < sizeof(rest) / sizeof(rest[0]); i++)
        dist_allreduce_avg_bf16(g->dist, grad(p, rest[i], 0), p->P.tensor_size[rest[i]], g->comm_stream);
    dist_group_end(g->dist);
    CUDA_CHECK(cudaEventRecord(g->comm_done, g->comm_stream));
    CUDA_CHECK(cudaStreamWaitEvent(g->stream, g->comm_done, 0));
}

/* Backward of the last forward (which wrote dlogits); accumulates into grads. */
static void gpt2_backward(GPT2 *g) {
    Parameters *p = &g->p;
    Activations *a = &g->a;
    const GPT2Config *c = &p->config;
    const int B = g->B, T = g->T, L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
    const int N = B * T;
    const size_t nc = (size_t)N * C;
    cudaStream_t s = g->stream;

    /* classifier: dlnf = dlogits wte, dwte += dlogits^T lnf */
    matmul_backward(&g->mm, a->dmid, grad(p, P_WTE, 0), NULL, a->scratch, a->logits, a->lnf, param(p, P_WTE, 0), NULL, N, C,
                    Vp, s);
    CUDA_CHECK(cudaMemsetAsync(a->dresidual, 0, sizeof(bf16) * nc, s));
    layernorm_backward(a->dresidual, grad(p, P_LNFW, 0), grad(p, P_LNFB, 0), a->scratch, a->dmid,
                       a->residual3 + (L - 1) * nc, param(p, P_LNFW, 0), a->lnf_mean, a->lnf_rstd, N, C, s);
    for (int l = L - 1; l >= 0; l--) {
        bf16 *residual = l == 0 ? a->encoded : a->residual3 + (l - 1) * nc;
        float *lse = a->att_lse + (size_t)l * B * NH * T;
        /* dresidual is the gradient of residual3[l] = residual2[l] + fcproj(gelu(fc(ln2))) */
        mlp_backward(g, l, N); /* dmid = dln2 */
        layernorm_backward(a->dresidual, grad(p, P_LN2W, l), grad(p, P_LN2B, l), a->scratch, a->dmid, a->residual2 + l * nc,
                           param(p, P_LN2W, l), a->ln2_mean + (size_t)l * N, a->ln2_rstd + (size_t)l * N, N, C, s);
        /* dresidual is now the gradient of residual2[l] = residual + attproj(...) */
        matmul_backward(&g->mm, a->dmid, grad(p, P_ATTPROJW, l), grad(p, P_ATTPROJB, l), a->scratch, a->dresidual,
                        a->atty + l * nc, param(p, P_ATTPROJW, l), NULL, N, C, C, s);
        if (g->cudnn_attention)
            attention_backward_cudnn(g->cudnn_attention, a->dbig, a->dmid, a->qkv + l * 3 * nc, a->atty + l * nc, lse, B, T, C, NH, s);
        else
            attention_backward(a->dbig, a->scratch, a->dmid, a->qkv + l * 3 * nc, a->atty + l * nc, lse, B, T, C, NH, s);
        matmul_backward(&g->mm, a->dmid, grad(p, P_QKVW, l), grad(p, P_QKVB, l), a->scratch, a->dbig, a->ln1 + l * nc,
                        param(p, P_QKVW, l), NULL, N, C, 3 * C, s);
        layernorm_backward(a->dresidual, grad(p, P_LN1W, l), grad(p, P_LN1B, l), a->scratch, a->dmid, residual,
                           param(p, P_LN1W, l), a->ln1_mean + (size_t)l * N, a->ln1_rstd + (size_t)l * N, N, C, s);
        if (g->reduce_grads) reduce_layer_grads(g, l); /* layer l's gradients are final: overlap their all-reduce */
    }
    encoder_backward(grad(p, P_WTE, 0), grad(p, P_WPE, 0), a->dresidual, g->inputs_host, a->enc_ws_host, a->enc_ws_dev, B,
                     T, C, s);
    if (g->reduce_grads) reduce_remaining_grads(g);
}

/* ------------------------------------------------------------------ update */

/* Global L2 norm of the live gradients (deterministic). */
static float gpt2_grad_norm(GPT2 *g) {
    global_norm_squared(g->norm_out, g->norm_partials, g->p.grads, (long)g->p.P.total, g->stream);
    float sq;
    CUDA_CHECK(cudaMemcpyAsync(&sq, g->norm_out, sizeof(float), cudaMemcpyDeviceToHost, g->stream));
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
    return sqrtf(sq);
}

/* ZeRO-1: every rank's shard (count elements of fp32 or bf16 at shard, this rank's part) into the
 * whole vector at whole on every rank (count per rank), on the model's stream. One process: a copy.
 * With several, it returns once the gather is done, under the watchdog: a rank that died must not
 * leave this one waiting in a later synchronization. */
static void gather_shards(GPT2 *g, const void *shard, void *whole, size_t count, int fp32) {
    if (!g->dist && g->p.shards > 1) DIE("run one process per shard (mpirun)", "ZeRO-1 over %d shards without a communicator", g->p.shards);
    if (!g->dist) {
        if (shard != whole) CUDA_CHECK(cudaMemcpyAsync(whole, shard, count * (fp32 ? 4 : 2), cudaMemcpyDeviceToDevice, g->stream));
        return;
    }
    if (fp32) dist_allgather_f32(g->dist, (const float *)shard, (float *)whole, count, g->stream);
    else dist_allgather_bf16(g->dist, shard, whole, count, g->stream);
    dist_wait(g->dist, g->stream, "a ZeRO-1 all-gather");
}

/* AdamW on the elements [off, off + n) of the flat vector that lie in this rank's shard (all of them
 * without ZeRO-1). sr_first gives each element the stochastic-rounding bits it gets when the whole
 * range is updated in one call, so sharded ranks update exactly as one process does. */
static void update_range(GPT2 *g, size_t off, size_t n, float lr, float wd, float grad_scale, int t, uint32_t sr_seed) {
    Parameters *p = &g->p;
    const size_t end = p->shard_begin + p->shard_count;
    const size_t lo = off > p->shard_begin ? off : p->shard_begin, hi = off + n < end ? off + n : end;
    if (lo >= hi) return;
    const size_t s = lo - p->shard_begin; /* the shard's index of element lo */
    adamw_update(p->params + lo, p->master + s, p->grads + lo, p->m + s, p->v + s, (long)(hi - lo), lr, 0.9f, 0.95f,
                 1e-8f, wd, grad_scale, t, sr_seed, (long)(lo - off), g->stream);
}

/* AdamW over every live parameter, weight decay on llm.c's 2-D tensors; the
 * stochastic-rounding seed changes with the step and the tensor. Under ZeRO-1 each
 * rank updates its shard, then the ranks all-gather the bf16 weights. */
static void gpt2_update(GPT2 *g, float lr, float weight_decay, float grad_scale, int t, uint64_t seed) {
    Parameters *p = &g->p;
    const ParamLayout *P = &p->P;
    for (int k = 0; k < GPT2_NUM_PARAM_TENSORS; k++) {
        if (P->sparse && (k == P_FCW || k == P_FCPROJW)) continue;
        float wd = gpt2_tensor_is_decayed(k) ? weight_decay : 0.0f;
        uint32_t sr_seed = (uint32_t)(seed * 2654435761ULL + (uint64_t)t * 97 + (uint64_t)k);
        update_range(g, P->tensor_offset[k], P->tensor_size[k], lr, wd, grad_scale, t, sr_seed);
    }
    if (P->sparse) {
        uint32_t sr_seed = (uint32_t)(seed * 2654435761ULL + (uint64_t)t * 97 + 31);
        update_range(g, P->dense_part, P->total - P->dense_part, lr, weight_decay, grad_scale, t, sr_seed);
    }
    if (p->zero) gather_shards(g, p->params + p->shard_begin, p->params, p->shard_size, 0);
    if (P->sparse) bsr_ctx_weights_changed(&g->bsr); /* the dense-path copies of the MLP weights are stale */
}

/* ------------------------------------------------------------------ pruning */

/* Compact one flat array of elem_bytes-sized elements after a mask update:
 * gather the kept blocks of every sparse matrix into scratch (out of place,
 * because blocks move down and would overwrite their neighbours), then copy the
 * new sparse region back. */
static void compact_flat(void *flat, int elem_bytes, const ParamLayout *old_P, const ParamLayout *new_P, int *const *keep_dev,
                         const int *n_keep, long block_elems, void *scratch, cudaStream_t s) {
    char *base = (char *)flat;
    for (int m = 0; m < old_P->num_sparse; m++)
        bsr_gather_blocks_gpu((char *)scratch + (new_P->sparse_offset[m] - new_P->dense_part) * elem_bytes,
                              base + old_P->sparse_offset[m] * elem_bytes, keep_dev[m], n_keep[m], block_elems, elem_bytes, s);
    CUDA_CHECK(cudaMemcpyAsync(base + new_P->dense_part * elem_bytes, scratch,
                               (new_P->total - new_P->dense_part) * elem_bytes, cudaMemcpyDeviceToDevice, s));
}

/* Move a flat array into a fresh allocation of n elements (pruning shrinks the
 * model: give the memory back). One array at a time, so the extra memory needed
 * is at most one copy of the new size. */
static void *shrink_allocation(size_t *mem, void *old, size_t n, size_t old_n, int elem_bytes, const char *what, cudaStream_t s) {
    void *fresh = device_alloc(mem, n * elem_bytes, what);
    CUDA_CHECK(cudaMemcpyAsync(fresh, old, n * elem_bytes, cudaMemcpyDeviceToDevice, s));
    CUDA_CHECK(cudaStreamSynchronize(s));
    CUDA_CHECK(cudaFree(old));
    *mem -= old_n * elem_bytes;
    return fresh;
}

/* At a mask-update step: score live blocks on the device from the fp32 master
 * weights, select the masks on the host with the CPU trainer's code, compact
 * params, master weights, gradients and both moments on the device. Under
 * ZeRO-1 the masters and each moment are gathered whole (one at a time, into one
 * scratch vector), scored and compacted as without it, and this rank's new shard
 * is taken back: the same masks and values as one process. Every rank calls it.
 * Returns 1 if any block was removed. */
static int gpt2_prune(GPT2 *g, const PruneSchedule *S, int t, BsrScoreKind score, int global) {
    Parameters *p = &g->p;
    size_t *mem = &g->device_bytes;
    if (!p->layouts || !prune_schedule_is_update_step(S, t)) return 0;
    const int M = p->P.num_sparse;
    const long be = bsr_block_elems(&p->layouts[0]);
    const double target = prune_schedule_sparsity(S, t);
    double **scores = (double **)malloc_check(sizeof(double *) * M);
    uint8_t **masks = (uint8_t **)malloc_check(sizeof(uint8_t *) * M);
    int **keep = (int **)malloc_check(sizeof(int *) * M);
    int *n_keep = (int *)malloc_check(sizeof(int) * M);
    double *scores_dev = (double *)device_alloc(mem, sizeof(double) * (p->layouts[0].brows * p->layouts[0].bcols + 1), "block scores");
    long grid_total = 0, live_before = 0, live_after = 0;
    const float *master_whole = p->master;
    float *whole = NULL; /* ZeRO-1: one whole fp32 vector at a time */
    const size_t whole_bytes = sizeof(float) * p->shards * p->shard_size;
    if (p->zero) {
        whole = (float *)device_alloc(mem, whole_bytes, "ZeRO-1 gather of the masters / moments");
        gather_shards(g, p->master, whole, p->shard_size, 1);
        master_whole = whole;
    }
    for (int m = 0; m < M; m++) {
        BsrLayout *L = &p->layouts[m];
        scores[m] = (double *)malloc_check(sizeof(double) * (L->nnz + 1));
        masks[m] = (uint8_t *)malloc_check(bsr_num_grid_blocks(L));
        keep[m] = (int *)malloc_check(sizeof(int) * (L->nnz + 1));
        bsr_block_scores_gpu(scores_dev, master_whole + p->P.sparse_offset[m], L->nnz, be, score, g->stream);
        CUDA_CHECK(cudaMemcpyAsync(scores[m], scores_dev, sizeof(double) * L->nnz, cudaMemcpyDeviceToHost, g->stream));
        CUDA_CHECK(cudaStreamSynchronize(g->stream));
        grid_total += bsr_num_grid_blocks(L);
        live_before += L->nnz;
    }
    if (global) {
        const BsrLayout **lp = (const BsrLayout **)malloc_check(sizeof(BsrLayout *) * M);
        for (int m = 0; m < M; m++) lp[m] = &p->layouts[m];
        prune_select_global(lp, (const double *const *)scores, M, prune_target_live_blocks((int)grid_total, target), masks);
        free(lp);
    } else {
        for (int m = 0; m < M; m++)
            prune_select_mask(&p->layouts[m], scores[m], prune_target_live_blocks(bsr_num_grid_blocks(&p->layouts[m]), target),
                              masks[m]);
    }
    for (int m = 0; m < M; m++) {
        n_keep[m] = bsr_compact_plan(&p->layouts[m], masks[m], keep[m]);
        live_after += n_keep[m];
    }
    int changed = live_after < live_before;
    if (changed) {
        ParamLayout old_P = p->P, new_P;
        for (int m = 0; m < M; m++) bsr_layout_set_mask(&p->layouts[m], masks[m]);
        param_layout_init(&new_P, &p->config, p->layouts, p->block_size);
        int **keep_dev = (int **)malloc_check(sizeof(int *) * M);
        for (int m = 0; m < M; m++) {
            keep_dev[m] = (int *)device_alloc(mem, sizeof(int) * (n_keep[m] + 1), "prune keep list");
            CUDA_CHECK(cudaMemcpy(keep_dev[m], keep[m], sizeof(int) * n_keep[m], cudaMemcpyHostToDevice));
        }
        void *scratch = device_alloc(mem, sizeof(float) * (new_P.total - new_P.dense_part), "compaction scratch");
        compact_flat(p->params, 2, &old_P, &new_P, keep_dev, n_keep, be, scratch, g->stream);
        compact_flat(p->grads, 2, &old_P, &new_P, keep_dev, n_keep, be, scratch, g->stream);
        if (!p->zero) {
            compact_flat(p->master, 4, &old_P, &new_P, keep_dev, n_keep, be, scratch, g->stream);
            compact_flat(p->m, 4, &old_P, &new_P, keep_dev, n_keep, be, scratch, g->stream);
            compact_flat(p->v, 4, &old_P, &new_P, keep_dev, n_keep, be, scratch, g->stream);
        } else {
            size_t new_size, new_begin, new_count; /* this rank's shard of the new layout */
            shard_range(p, new_P.total, &new_size, &new_begin, &new_count);
            float *sharded[3] = {p->master, p->m, p->v};
            for (int k = 0; k < 3; k++) {
                if (k > 0) gather_shards(g, sharded[k], whole, p->shard_size, 1); /* the old shards */
                compact_flat(whole, 4, &old_P, &new_P, keep_dev, n_keep, be, scratch, g->stream);
                CUDA_CHECK(cudaMemcpyAsync(sharded[k], whole + new_begin, sizeof(float) * new_count,
                                           cudaMemcpyDeviceToDevice, g->stream));
                CUDA_CHECK(cudaMemsetAsync(sharded[k] + new_count, 0, sizeof(float) * (p->shard_capacity - new_count),
                                           g->stream));
            }
        }
        CUDA_CHECK(cudaStreamSynchronize(g->stream));
        CUDA_CHECK(cudaFree(scratch));
        *mem -= sizeof(float) * (new_P.total - new_P.dense_part);
        for (int m = 0; m < M; m++) {
            CUDA_CHECK(cudaFree(keep_dev[m]));
            *mem -= sizeof(int) * (n_keep[m] + 1);
            bsr_device_layout_upload(&p->dlayouts[m], &p->layouts[m]);
        }
        free(keep_dev);
        param_layout_free(&old_P);
        p->P = new_P;
        parameters_set_shards(p);
        /* at least 1/8 of the storage freed: hand it back */
        const size_t n = parameters_whole_elems(p), ns = p->shard_size;
        if (n < p->capacity - p->capacity / 8) {
            p->params = (bf16 *)shrink_allocation(mem, p->params, n, p->capacity, 2, "bf16 parameters", g->stream);
            p->grads = (bf16 *)shrink_allocation(mem, p->grads, n, p->capacity, 2, "gradients", g->stream);
            p->capacity = n;
        }
        if (ns < p->shard_capacity - p->shard_capacity / 8) {
            p->master = (float *)shrink_allocation(mem, p->master, ns, p->shard_capacity, 4, "fp32 master weights", g->stream);
            p->m = (float *)shrink_allocation(mem, p->m, ns, p->shard_capacity, 4, "AdamW first moment", g->stream);
            p->v = (float *)shrink_allocation(mem, p->v, ns, p->shard_capacity, 4, "AdamW second moment", g->stream);
            p->shard_capacity = ns;
        }
        /* densities changed: the sparse-vs-dense crossover is measured again */
        bsr_ctx_reset_decisions(&g->bsr);
    }
    CUDA_CHECK(cudaFree(scores_dev));
    *mem -= sizeof(double) * (p->layouts[0].brows * p->layouts[0].bcols + 1);
    if (whole) {
        CUDA_CHECK(cudaFree(whole));
        *mem -= whole_bytes;
    }
    for (int m = 0; m < M; m++) { free(scores[m]); free(masks[m]); free(keep[m]); }
    free(scores); free(masks); free(keep); free(n_keep);
    return changed;
}

/* ------------------------------------------------------------------ model setup */

static void gpt2_init(GPT2 *g, const GPT2Config *cfg, int block_size, uint8_t *const *masks, const float *flat, int B, int T,
                      int recompute, const ZeroShards *zero) {
    memset(g, 0, sizeof(*g));
    CUDA_CHECK(cudaStreamCreate(&g->stream));
    g->B = B;
    g->T = T;
    g->recompute = recompute;
    size_t *mem = &g->device_bytes;
    parameters_init(&g->p, cfg, block_size, masks, flat, zero, mem, g->stream);
    activations_init(&g->a, cfg, B, T, recompute, mem);
    matmul_context_init(&g->mm, 0);
    if (block_size > 0) {
        bsr_ctx_init(&g->bsr, (size_t)4 * cfg->channels * cfg->channels, 0);
        /* MLP weights that run on the dense path (low sparsity) keep an unpacked copy, refreshed once
         * per optimizer step and shared by the forward and the input gradient of every micro-step:
         * at most one dense bf16 copy of the MLP weights, dropped at each mask update */
        bsr_ctx_cache_dense_weights(&g->bsr, (size_t)2 * cfg->num_layers * 4 * cfg->channels * cfg->channels * sizeof(bf16));
    }
    g->inputs_host = (int *)malloc_check(sizeof(int) * B * T);
    g->norm_partials = (float *)device_alloc(mem, sizeof(float) * GLOBAL_NORM_BLOCKS, "norm partials");
    g->norm_out = (float *)device_alloc(mem, sizeof(float), "norm");
    CUDA_CHECK(cudaStreamCreate(&g->comm_stream));
    g->layer_done = (cudaEvent_t *)malloc_check(sizeof(cudaEvent_t) * (cfg->num_layers + 1));
    for (int l = 0; l <= cfg->num_layers; l++) CUDA_CHECK(cudaEventCreateWithFlags(&g->layer_done[l], cudaEventDisableTiming));
    CUDA_CHECK(cudaEventCreateWithFlags(&g->comm_done, cudaEventDisableTiming));
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
}

/* Which dense GEMMs the first step's timing moved off cuBLASLt's first pick (layers/matmul.cuh). */
static void print_matmul_choices(const MatmulContext *mm) {
    int changed = 0;
    double saved = 0;
    for (int i = 0; i < mm->nchoices; i++) {
        const LtGemmChoice *c = &mm->choices[i];
        if (c->chosen_us > 0 && c->chosen_us < c->heuristic_us) { changed++; saved += c->heuristic_us - c->chosen_us; }
    }
    printf("matmul: %d GEMM problem(s); %d run on a faster algorithm than cuBLASLt's first pick (%.0f us less per call "
           "of each)\n", mm->nchoices, changed, saved);
    for (int i = 0; i < mm->nchoices; i++) {
        const LtGemmChoice *c = &mm->choices[i];
        if (c->chosen_us > 0 && c->chosen_us < c->heuristic_us)
            printf("  m=%d n=%d k=%d epilogue %d: %.1f us -> %.1f us\n", c->m, c->n, c->k, c->epilogue, c->heuristic_us,
                   c->chosen_us);
    }
}

/* Upload one micro-batch. */
static void gpt2_set_batch(GPT2 *g, const int *inputs, const int *targets) {
    size_t n = (size_t)g->B * g->T;
    memcpy(g->inputs_host, inputs, sizeof(int) * n);
    CUDA_CHECK(cudaMemcpyAsync(g->a.tokens, inputs, sizeof(int) * n, cudaMemcpyHostToDevice, g->stream));
    if (targets) CUDA_CHECK(cudaMemcpyAsync(g->a.targets, targets, sizeof(int) * n, cudaMemcpyHostToDevice, g->stream));
}

/* Sum of the per-token losses accumulated in a->losses, then reset them. */
static double gpt2_take_loss_sum(GPT2 *g) {
    size_t n = (size_t)g->B * g->T;
    float *h = (float *)malloc_check(sizeof(float) * n);
    CUDA_CHECK(cudaMemcpyAsync(h, g->a.losses, sizeof(float) * n, cudaMemcpyDeviceToHost, g->stream));
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
    double sum = 0;
    for (size_t i = 0; i < n; i++) sum += h[i];
    free(h);
    CUDA_CHECK(cudaMemsetAsync(g->a.losses, 0, sizeof(float) * n, g->stream));
    return sum;
}

/* The live fp32 master weights (or a moment: dev is p->master, p->m or p->v) whole on the host, for
 * checkpoints. Under ZeRO-1 the ranks' shards are gathered piece by piece: every rank must call it. */
static float *gpt2_download_in_pieces(GPT2 *g, const float *dev, size_t piece) {
    const Parameters *p = &g->p;
    float *h = (float *)malloc_check(sizeof(float) * p->P.total);
    if (!p->zero) {
        CUDA_CHECK(cudaMemcpy(h, dev, sizeof(float) * p->P.total, cudaMemcpyDeviceToHost));
        return h;
    }
    const size_t chunk = p->shard_size < piece ? p->shard_size : piece;
    const size_t bytes = sizeof(float) * p->shards * chunk;
    float *pieces = (float *)device_alloc(&g->device_bytes, bytes, "ZeRO-1 gather for a checkpoint");
    for (size_t c = 0; c < p->shard_size; c += chunk) {
        const size_t n = p->shard_size - c < chunk ? p->shard_size - c : chunk;
        gather_shards(g, dev + c, pieces, n, 1); /* rank r's elements [c, c + n) at pieces + r * n */
        for (int r = 0; r < p->shards; r++) {
            const size_t at = (size_t)r * p->shard_size + c; /* their place in the flat vector */
            if (at >= p->P.total) break;                     /* the last shards' padding */
            const size_t live = p->P.total - at < n ? p->P.total - at : n;
            CUDA_CHECK(cudaMemcpyAsync(h + at, pieces + (size_t)r * n, sizeof(float) * live, cudaMemcpyDeviceToHost, g->stream));
        }
        CUDA_CHECK(cudaStreamSynchronize(g->stream)); /* the next piece reuses the buffer */
    }
    CUDA_CHECK(cudaFree(pieces));
    g->device_bytes -= bytes;
    return h;
}
static float *gpt2_download(GPT2 *g, const float *dev) { return gpt2_download_in_pieces(g, dev, ZERO_PIECE); }

/* ------------------------------------------------------------------ the run */

typedef struct {
    TrainArgs args;
    Dist dist;                /* data parallelism: rank, world size, NCCL */
    int master;               /* rank 0: prints, logs, writes the model file */
    GPT2 model;
    TrainData data;
    Logger logger;
    PruneSetup prune;
    int pruning;
    int start_step;
    Rng rng;
    int *inputs, *targets;
    double peak_flops;                 /* bf16 peak per GPU for the MFU figures (BF16_PEAK_TFLOPS) */
    cudaEvent_t step_start, step_end;  /* each optimizer step's GPU time */
    double timed_ms;                   /* sum over the steps after the first */
    int timed_steps;
} Run;

/* Mean validation loss over every rank's share of up to val_max_steps batches. */
static double evaluate(Run *r) {
    GPT2 *g = &r->model;
    dataloader_reset(r->data.val);
    long long n = dataloader_samples_per_epoch(r->data.val);
    if (r->args.val_max_steps >= 0 && r->args.val_max_steps < n) n = r->args.val_max_steps;
    CUDA_CHECK(cudaMemsetAsync(g->a.losses, 0, sizeof(float) * g->B * g->T, g->stream));
    for (long long i = 0; i < n; i++) {
        dataloader_next_batch(r->data.val, r->inputs, r->targets);
        gpt2_set_batch(g, r->inputs, r->targets);
        gpt2_forward(g, 1, 0.0f, 0);
    }
    double sum = dist_sum_host(&r->dist, gpt2_take_loss_sum(g));
    return n > 0 ? sum / ((double)n * g->B * g->T * r->dist.env.world_size) : NAN;
}

/* Generate gen_tokens tokens from <|endoftext|> (rank 0 only); its own RNG
 * stream, so sampling never changes the training trajectory. */
static void sample_and_print(Run *r, int step) {
    GPT2 *g = &r->model;
    const GPT2Config *c = &g->p.config;
    const int B = g->B, T = g->T;
    int eot = tokenizer_eot(r->data.tokenizer);
    Rng rng;
    rng_seed(&rng, (uint64_t)r->args.seed * 1000003ULL + (uint64_t)step);
    for (int i = 0; i < B * T; i++) r->inputs[i] = eot;
    int n = r->args.gen_tokens < T ? r->args.gen_tokens : T - 1;
    bf16 *row = (bf16 *)malloc_check(sizeof(bf16) * c->padded_vocab_size);
    float *probs = (float *)malloc_check(sizeof(float) * c->vocab_size);
    printf("generating:\n---\n");
    for (int t = 1; t <= n; t++) {
        gpt2_set_batch(g, r->inputs, NULL);
        gpt2_forward(g, 0, 0.0f, 0);
        CUDA_CHECK(cudaMemcpyAsync(row, g->a.logits + (size_t)(t - 1) * c->padded_vocab_size, sizeof(bf16) * c->padded_vocab_size,
                                   cudaMemcpyDeviceToHost, g->stream));
        CUDA_CHECK(cudaStreamSynchronize(g->stream));
        float mx = -INFINITY;
        for (int v = 0; v < c->vocab_size; v++) { probs[v] = __bfloat162float(row[v]); if (probs[v] > mx) mx = probs[v]; }
        double sum = 0;
        for (int v = 0; v < c->vocab_size; v++) { probs[v] = expf(probs[v] - mx); sum += probs[v]; }
        for (int v = 0; v < c->vocab_size; v++) probs[v] = (float)(probs[v] / sum);
        int next = sample_from_probs(probs, c->vocab_size, rng_uniform_f32(&rng));
        r->inputs[t] = next;
        tokenizer_print_safe(tokenizer_decode(r->data.tokenizer, (uint32_t)next));
        fflush(stdout);
    }
    printf("\n---\n");
    free(row);
    free(probs);
}

static void checkpoint_barrier(void *ctx) { dist_barrier((Dist *)ctx, "the checkpoint barrier"); }

/* The fp32 masters, both moments and the exact bf16 weights go to the host;
 * model/train_setup.c writes the files (rank 0 the model, every rank its state,
 * DONE after the barrier). */
static void save_checkpoint(Run *r, long step) {
    GPT2 *g = &r->model;
    Parameters *p = &g->p;
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
    float *flat = gpt2_download(g, p->master), *mom = gpt2_download(g, p->m), *vel = gpt2_download(g, p->v);
    uint16_t *pbf = (uint16_t *)malloc_check(sizeof(uint16_t) * p->P.total);
    CUDA_CHECK(cudaMemcpy(pbf, p->params, sizeof(uint16_t) * p->P.total, cudaMemcpyDeviceToHost));
    CheckpointWrite w = {r->args.output_dir, step, r->dist.env.rank, r->dist.env.world_size, &p->config, p->layouts, flat, mom,
                         vel, p->P.total, pbf, r->data.train, &r->rng, &r->prune, r->args.keep_checkpoints,
                         r->args.checkpoint_every, r->dist.active ? checkpoint_barrier : NULL, &r->dist};
    checkpoint_save(&w, r->master);
    free(flat); free(mom); free(vel); free(pbf);
}

/* The model on the GPU from the shared set-up (checkpoint, model file or
 * descriptor), with the optimizer state and exact bf16 weights when resuming. */
static void init_model(Run *r, InitialModel *im) {
    TrainArgs *a = &r->args;
    static const int gpu_blocks[] = {32, 64, 128, 0};
    initial_model_load(im, a, r->dist.env.rank, r->dist.env.world_size, r->master, gpu_blocks);
    const GPT2Config *cfg = &im->config;
    if (cfg->channels % 64 != 0 || (cfg->channels / cfg->num_heads) != 64)
        DIE("use a GPT-2 shape (d12, d24, d36, d48: head size 64, C a multiple of 64)",
            "the GPU kernels need head size 64 and C %% 64 == 0; this model has C = %d, %d heads", cfg->channels, cfg->num_heads);
    if (im->block_size != 0 && im->block_size != 32 && im->block_size != 64 && im->block_size != 128)
        DIE("convert the model with the CPU trainer or retrain with --block 32/64/128", "the model's block size %d: the GPU kernels support 32, 64 and 128",
            im->block_size);
    const ZeroShards zero = {a->zero_stage == 1, r->dist.env.world_size, r->dist.env.rank};
    gpt2_init(&r->model, cfg, im->block_size, im->masks, im->flat, a->batch_size, a->seq_len, a->recompute, &zero);
    r->model.mm.autotune = a->gemm_tune; /* layers/matmul.cuh: timed choice among cuBLASLt's candidates */
    if (!a->gemm_tune) r->model.bsr.blas.autotune = 0; /* the same for the crossover's dense paths */
    if (!strcmp(a->attention, "cudnn") && !attention_cudnn_available())
        DIE("rebuild with the cuDNN frontend headers (pip install nvidia-cudnn-frontend; make) or use --attention own",
            "--attention cudnn: this build has no cuDNN attention");
    if (strcmp(a->attention, "own") != 0 && attention_cudnn_available())
        r->model.cudnn_attention = attention_cudnn_create(1); /* deterministic backward: bit-exact resume, identical ranks */
    if (r->master) printf("attention: %s\n", r->model.cudnn_attention ? "cuDNN fused SDPA (deterministic)" : "own flash attention");
    if (im->resume_step >= 0) {
        Parameters *p = &r->model.p;
        const TrainState *rs = &im->state;
        if (rs->num_params != p->P.total)
            DIE("the state file does not belong to this model file; resume from an intact checkpoint",
                "state has %zu optimizer entries, model has %zu parameters", rs->num_params, p->P.total);
        if (p->layouts && rs->mask_checksum != gpt2_mask_checksum(p->layouts, p->P.num_sparse))
            DIE("the model and state files come from different checkpoints", "mask checksum mismatch in checkpoint %ld", im->resume_step);
        /* this rank's shard of the moments (all of them without ZeRO-1; none in an empty last shard) */
        if (p->shard_count) {
            CUDA_CHECK(cudaMemcpy(p->m, rs->m + p->shard_begin, sizeof(float) * p->shard_count, cudaMemcpyHostToDevice));
            CUDA_CHECK(cudaMemcpy(p->v, rs->v + p->shard_begin, sizeof(float) * p->shard_count, cudaMemcpyHostToDevice));
        }
        if (rs->params_bf16) /* the exact bf16 weights; without them they are re-rounded from the masters */
            CUDA_CHECK(cudaMemcpy(p->params, rs->params_bf16, sizeof(uint16_t) * p->P.total, cudaMemcpyHostToDevice));
        r->start_step = (int)rs->step;
    }
}

/* Find the other processes (if any) and this process's GPU. */
static void setup_processes(Run *r) {
    TrainArgs *a = &r->args;
    DistEnv env;
    char err[512];
    if (dist_env_resolve(&env, (DistInitMethod)dist_method_from_name(a->dist_init), a->dist_num_processes, a->dist_rank,
                         a->dist_gpus_per_node, a->dist_server, a->dist_port, a->dist_fs_path, a->dist_timeout, err,
                         sizeof(err)) != 0)
        DIE("fix the -pi/-ps/-pf/-pn/-pr/-pg flags or the launcher", "%s", err);
    dist_init(&r->dist, &env);
    r->master = env.rank == 0;
    cudaDeviceProp prop;
    CUDA_CHECK(cudaGetDeviceProperties(&prop, env.local_rank));
    if (r->master)
        printf("device: %s, %.1f GiB, compute capability %d.%d; %d process(es)\n", prop.name, prop.totalGlobalMem / 1073741824.0,
               prop.major, prop.minor, env.world_size);
}

#ifndef TRAIN_GPT2_NO_MAIN /* test/test_gpt2.cu includes this file for its model code */

/* ------------------------------------------------------------------ the training loop */

/* The model, the data (each rank reads its share), the pruning schedule (restored when resuming),
 * the output folder and the log: everything the loop needs, identical masks on every rank. */
static void setup_run(Run *r) {
    TrainArgs *a = &r->args;
    const int rank = r->dist.env.rank, world = r->dist.env.world_size;
    /* the model: the newest checkpoint (-y 1), a model file or a descriptor (-e) */
    InitialModel im;
    init_model(r, &im);
    GPT2 *g = &r->model;
    g->dist = r->dist.active ? &r->dist : NULL;
    const GPT2Config *c = &g->p.config;
    if (r->master)
        printf("model: L=%d C=%d NH=%d V=%d maxT=%d, %zu parameters (%zu dense), %.1f MiB of weights, optimizer state and "
               "activations on the GPU (workspaces and the crossover's dense copies come on top; the run's last line "
               "gives the device total)\n", c->num_layers, c->channels,
               c->num_heads, c->vocab_size, c->max_seq_len, g->p.P.total, gpt2_num_dense_params(c), g->device_bytes / 1048576.0);

    train_data_open(&r->data, a, c->vocab_size, rank, world, r->master, r->master);
    r->inputs = (int *)malloc_check(sizeof(int) * a->batch_size * a->seq_len);
    r->targets = (int *)malloc_check(sizeof(int) * a->batch_size * a->seq_len);
    train_resume_setup(&r->prune, &r->rng, a, r->data.max_steps, &im, r->data.train);
    initial_model_free(&im);
    const PruneSchedule *S = &r->prune.schedule;
    r->pruning = g->p.layouts && S->s_final > 0;
    if (r->pruning && r->master) prune_setup_print(&r->prune, g->p.block_size, r->data.max_steps);
    if (g->p.layouts) /* every rank must start from the same masks */
        dist_check_equal_u64(&r->dist, gpt2_mask_checksum(g->p.layouts, g->p.P.num_sparse), "the initial mask checksum");
    if (world > 1 && r->master) printf("gradient all-reduce: %.1f MB per step\n", 2.0 * g->p.P.total / 1e6);
    if (g->p.zero && r->master)
        printf("ZeRO-1: the fp32 master weights and AdamW moments in %d shards of %zu elements (%.1f MiB per rank instead of "
               "%.1f); bf16 weights all-gathered after each update (%.1f MB per step)\n",
               world, g->p.shard_size, 12.0 * g->p.shard_size / 1048576.0, 12.0 * g->p.P.total / 1048576.0,
               2.0 * g->p.shards * g->p.shard_size / 1e6);
    if (r->master) ensure_output_dir(a->output_dir);
    dist_barrier(&r->dist, "start-up");
    if (r->master) logger_open(&r->logger, a->output_dir, r->start_step > 0);
    const char *peak_env = getenv("BF16_PEAK_TFLOPS");
    r->peak_flops = 1e12 * (peak_env ? atof(peak_env) : DEFAULT_BF16_PEAK_TFLOPS);
    CUDA_CHECK(cudaMemsetAsync(g->a.losses, 0, sizeof(float) * a->batch_size * a->seq_len, g->stream));
    CUDA_CHECK(cudaEventCreate(&r->step_start));
    CUDA_CHECK(cudaEventCreate(&r->step_end));
}

/* Validation loss and samples at their intervals and after the last step. */
static void evaluate_and_sample(Run *r, int step, int last) {
    const TrainArgs *a = &r->args;
    if (r->data.val && ((a->val_every > 0 && step % a->val_every == 0) || last)) {
        double vl = evaluate(r);
        if (r->master) printf("step %5d | val loss %.6f\n", step, vl);
        logger_val(&r->logger, step, vl);
    }
    if (r->data.tokenizer && a->sample_every > 0 && (step % a->sample_every == 0 || last) && step > 0) sample_and_print(r, step);
}

/* New masks when the schedule says so. They come from identical weights with deterministic ties,
 * so every rank must reach the same ones: the checksums prove it. */
static void prune_if_due(Run *r, int step) {
    GPT2 *g = &r->model;
    if (!gpt2_prune(g, &r->prune.schedule, step, r->prune.score, r->prune.global)) return;
    r->prune.last_prune_step = step;
    uint64_t checksum = gpt2_mask_checksum(g->p.layouts, g->p.P.num_sparse);
    /* fault injection for scripts/multi_gpu_checks.sh: this rank's masks look different */
    const char *fault = getenv("TRAIN_GPT2_TEST_MASK_MISMATCH_RANK");
    if (fault && atoi(fault) == r->dist.env.rank) checksum ^= 1;
    dist_check_equal_u64(&r->dist, checksum, "the mask checksum");
    char what[160];
    snprintf(what, sizeof(what), "prune sparsity %.4f params %zu", parameters_sparsity(&g->p), g->p.P.total);
    if (r->master) printf("step %5d | %s%s\n", step, what, r->dist.env.world_size > 1 ? ", masks identical on every rank" : "");
    logger_event(&r->logger, step, what);
}

typedef struct {
    double loss; /* mean over every rank's tokens */
    float norm, lr, ms;
} StepStats;

/* One optimizer step: grad_accum_steps micro-batches forward and backward, the gradient clip and the
 * AdamW update, timed by events on the model's stream. */
static StepStats train_step(Run *r, int step) {
    GPT2 *g = &r->model;
    const TrainArgs *a = &r->args;
    const int B = a->batch_size, T = a->seq_len, accum = r->data.grad_accum_steps;
    StepStats st;
    CUDA_CHECK(cudaEventRecord(r->step_start, g->stream));
    CUDA_CHECK(cudaMemsetAsync(g->p.grads, 0, sizeof(bf16) * g->p.P.total, g->stream));
    const float dloss = 1.0f / (float)(B * T * accum);
    for (int micro = 0; micro < accum; micro++) {
        dataloader_next_batch(r->data.train, r->inputs, r->targets);
        gpt2_set_batch(g, r->inputs, r->targets);
        gpt2_forward(g, 1, dloss, 1);
        /* on the last micro-step the backward pass averages each layer's live
         * gradients over the ranks as soon as they are final (bytes shrink with density) */
        g->reduce_grads = g->dist != NULL && micro == accum - 1;
        gpt2_backward(g);
    }
    g->reduce_grads = 0;
    dist_wait(&r->dist, g->stream, "the gradient all-reduce");
    st.loss = dist_sum_host(&r->dist, gpt2_take_loss_sum(g)) / ((double)B * T * accum * r->dist.env.world_size);
    st.norm = gpt2_grad_norm(g);
    float scale = (a->grad_clip > 0 && st.norm > a->grad_clip) ? a->grad_clip / st.norm : 1.0f;
    st.lr = lr_schedule_value(a->lr_schedule, a->learning_rate, step, a->warmup_iters, r->data.max_steps, a->final_lr_frac);
    gpt2_update(g, st.lr, a->weight_decay, scale, step + 1, (uint64_t)a->seed);
    CUDA_CHECK(cudaEventRecord(r->step_end, g->stream));
    CUDA_CHECK(cudaEventSynchronize(r->step_end));
    CUDA_CHECK(cudaEventElapsedTime(&st.ms, r->step_start, r->step_end));
    return st;
}

/* The step's line (loss, throughput, MFU on live and on dense-equivalent FLOPs) and its log entry. */
static void report_step(Run *r, int step, const StepStats *st) {
    GPT2 *g = &r->model;
    const GPT2Config *c = &g->p.config;
    const int world = r->dist.env.world_size, total = r->data.tokens_per_step;
    if (step > r->start_step) { r->timed_ms += st->ms; r->timed_steps++; } /* the first step includes warm-up and crossover timing */
    if (step == r->start_step && r->master) print_matmul_choices(&g->mm);
    double sp = parameters_sparsity(&g->p);
    double live_flops = gpt2_flops_per_token(c, r->args.seq_len, &g->p.P, 1) * total;
    double dense_flops = gpt2_flops_per_token(c, r->args.seq_len, &g->p.P, 0) * total;
    double per_gpu = (st->ms / 1000.0) * r->peak_flops * world;
    if (r->master)
        printf("step %5d/%d | loss %.6f | norm %.4f | lr %.2e | sparsity %.3f | %.1f ms | %.0f tok/s | MFU %.1f%% (dense-equiv %.1f%%)\n",
               step + 1, r->data.max_steps, st->loss, st->norm, st->lr, sp, st->ms, total / (st->ms / 1000.0),
               100.0 * live_flops / per_gpu, 100.0 * dense_flops / per_gpu);
    logger_train(&r->logger, step + 1, st->loss, sp, st->lr, st->norm, st->ms);
}

/* The summary line, the optional dense export, and the release of what setup_run opened. */
static void finish_run(Run *r, double loop_start) {
    GPT2 *g = &r->model;
    const TrainArgs *a = &r->args;
    const int total = r->data.tokens_per_step;
    size_t free_b, total_b;
    CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
    double mean_ms = r->timed_steps ? r->timed_ms / r->timed_steps : 0.0;
    if (r->master)
        printf("done: %d steps in %.1f s; mean step %.2f ms (%.0f tok/s) after the first; GPU memory in use %.1f MiB\n",
               r->data.max_steps - r->start_step, wall_clock_seconds() - loop_start, mean_ms,
               mean_ms > 0 ? total / (mean_ms / 1000.0) : 0.0, (total_b - free_b) / 1048576.0);
    if (a->export_dense[0]) {
        float *flat = gpt2_download(g, g->p.master); /* every rank: under ZeRO-1 a gather */
        char cerr[CKPT_ERR_LEN];
        if (r->master) {
            if (model_file_export_dense(a->export_dense, &g->p.config, g->p.layouts, flat, cerr, sizeof(cerr)) != 0)
                DIE("check the --export-dense path", "%s", cerr);
            printf("exported the model as a dense llm.c file: %s\n", a->export_dense);
        }
        free(flat);
    }
    CUDA_CHECK(cudaEventDestroy(r->step_start));
    CUDA_CHECK(cudaEventDestroy(r->step_end));
    logger_close(&r->logger);
    train_data_close(&r->data);
    free(r->inputs);
    free(r->targets);
    dist_finalize(&r->dist);
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv) {
    Run run;
    memset(&run, 0, sizeof(run));
    Run *r = &run;
    train_args_parse(&r->args, argc, argv, TRAINER_GPU);
    setup_processes(r);
    if (r->master) train_args_print(&r->args, TRAINER_GPU);
    setup_run(r);

    /* step counts completed optimizer steps; the last pass only evaluates and samples */
    const int max_steps = r->data.max_steps, every = r->args.checkpoint_every;
    double loop_start = wall_clock_seconds();
    for (int step = r->start_step; step <= max_steps; step++) {
        int last = step == max_steps;
        evaluate_and_sample(r, step, last);
        if (last) break;
        if (r->pruning) prune_if_due(r, step);
        StepStats st = train_step(r, step);
        report_step(r, step, &st);
        if (r->args.output_dir[0] && every > 0 && ((step + 1) % every == 0 || step + 1 == max_steps)) save_checkpoint(r, step + 1);
    }
    finish_run(r, loop_start);
    return 0;
}
#endif /* TRAIN_GPT2_NO_MAIN */
