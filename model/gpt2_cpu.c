/* gpt2_cpu.c - the CPU GPT-2 model (see gpt2_cpu.h). */
#include "gpt2_cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/utils.h"
#include "../layers/layers_cpu.h"

/* ------------------------------------------------------------------ parameters */

real *gpt2_cpu_tensor(const GPT2Cpu *model, real *flat, int t, int layer) {
    return flat + model->P.tensor_offset[t] + (size_t)layer * gpt2_tensor_elems_per_layer(&model->config, t);
}

real *gpt2_cpu_sparse_values(const GPT2Cpu *model, real *flat, int m) { return flat + model->P.sparse_offset[m]; }

void gpt2_cpu_get_flat_f32(const GPT2Cpu *model, const real *src, float *dst) {
    for (size_t i = 0; i < model->P.total; i++) dst[i] = (float)src[i];
}

void gpt2_cpu_set_flat_f32(GPT2Cpu *model, real *dst, const float *src) {
    for (size_t i = 0; i < model->P.total; i++) dst[i] = (real)src[i];
}

void gpt2_cpu_init(GPT2Cpu *model, const GPT2Config *cfg, int block_size, uint8_t *const *masks, const float *flat) {
    memset(model, 0, sizeof(*model));
    model->config = *cfg;
    model->block_size = block_size;
    model->mean_loss = -1;
    if (block_size > 0) {
        int M = gpt2_num_sparse_matrices(cfg);
        model->layouts = (BsrLayout *)calloc_check(M, sizeof(BsrLayout));
        char err[256];
        if (gpt2_sparse_layouts_init(cfg, block_size, model->layouts, err, sizeof(err)) != 0)
            DIE("pick a --block that divides the model width", "%s", err);
        if (masks)
            for (int m = 0; m < M; m++) bsr_layout_set_mask(&model->layouts[m], masks[m]);
    }
    param_layout_init(&model->P, cfg, model->layouts, block_size);
    model->capacity = model->P.total;
    model->params = (real *)malloc_check(sizeof(real) * model->capacity);
    model->grads = (real *)calloc_check(model->capacity, sizeof(real));
    model->m = (real *)calloc_check(model->capacity, sizeof(real));
    model->v = (real *)calloc_check(model->capacity, sizeof(real));
    gpt2_cpu_set_flat_f32(model, model->params, flat);
}

static void acts_free(GPT2Activations *a) { free(a->memory); memset(a, 0, sizeof(*a)); }

void gpt2_cpu_free(GPT2Cpu *model) {
    if (model->layouts) gpt2_sparse_layouts_free(&model->config, model->layouts);
    free(model->layouts);
    param_layout_free(&model->P);
    free(model->params); free(model->grads); free(model->m); free(model->v);
    acts_free(&model->acts);
    acts_free(&model->grads_acts);
    free(model->inputs); free(model->targets);
    memset(model, 0, sizeof(*model));
}

/* ------------------------------------------------------------------ activations */

static void acts_alloc(GPT2Activations *a, const GPT2Config *c, int B, int T) {
    size_t L = c->num_layers, C = c->channels, NH = c->num_heads, Vp = c->padded_vocab_size;
    size_t BT = (size_t)B * T;
    size_t sizes[23] = {
        BT * C, L * BT * C, L * BT, L * BT, L * BT * 3 * C, L * BT * C, L * B * NH * T * T, L * B * NH * T * T,
        L * BT * C, L * BT * C, L * BT * C, L * BT, L * BT, L * BT * 4 * C, L * BT * 4 * C, L * BT * C,
        L * BT * C, BT * C, BT, BT, BT * Vp, BT * Vp, BT};
    real **ptrs[23] = {
        &a->encoded, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->qkv, &a->atty, &a->preatt, &a->att,
        &a->attproj, &a->residual2, &a->ln2, &a->ln2_mean, &a->ln2_rstd, &a->fch, &a->fch_gelu, &a->fcproj,
        &a->residual3, &a->lnf, &a->lnf_mean, &a->lnf_rstd, &a->logits, &a->probs, &a->losses};
    size_t total = 0;
    for (int i = 0; i < 23; i++) total += sizes[i];
    a->memory = (real *)calloc_check(total, sizeof(real));
    a->num_elements = total;
    real *p = a->memory;
    for (int i = 0; i < 23; i++) { *ptrs[i] = p; p += sizes[i]; }
}

static void ensure_acts(GPT2Cpu *model, int B, int T) {
    if (T > model->config.max_seq_len)
        DIE("use -t <= the model's max_seq_len", "sequence length %d exceeds the model's max_seq_len %d", T,
            model->config.max_seq_len);
    if (model->B == B && model->T == T) return;
    acts_free(&model->acts);
    acts_free(&model->grads_acts);
    free(model->inputs); free(model->targets);
    acts_alloc(&model->acts, &model->config, B, T);
    acts_alloc(&model->grads_acts, &model->config, B, T);
    model->inputs = (int *)malloc_check(sizeof(int) * B * T);
    model->targets = (int *)malloc_check(sizeof(int) * B * T);
    model->B = B;
    model->T = T;
}

/* ------------------------------------------------------------------ forward */

/* y = x W^T + b for the MLP matrices: dense or block-sparse */
static void mlp_matmul_forward(GPT2Cpu *model, int m, real *out, const real *inp, real *bias, int N) {
    const GPT2Config *c = &model->config;
    if (model->layouts) {
        bsr_matmul_forward_cpu(out, inp, &model->layouts[m], gpt2_cpu_sparse_values(model, model->params, m), bias, N);
    } else {
        int rows, cols;
        gpt2_sparse_matrix_shape(c, m, &rows, &cols);
        real *w = gpt2_cpu_tensor(model, model->params, m % 2 == 0 ? P_FCW : P_FCPROJW, m / 2);
        matmul_forward_cpu(out, inp, w, bias, N, cols, rows);
    }
}

real gpt2_cpu_forward(GPT2Cpu *model, const int *inputs, const int *targets, int B, int T) {
    const GPT2Config *c = &model->config;
    const int L = c->num_layers, C = c->channels, NH = c->num_heads, V = c->vocab_size, Vp = c->padded_vocab_size;
    const int N = B * T;
    for (int i = 0; i < N; i++) {
        if (inputs[i] < 0 || inputs[i] >= V) DIE("the data does not match the model's vocabulary", "input token %d out of range [0, %d)", inputs[i], V);
        if (targets && (targets[i] < 0 || targets[i] >= V)) DIE("the data does not match the model's vocabulary", "target token %d out of range [0, %d)", targets[i], V);
    }
    ensure_acts(model, B, T);
    memcpy(model->inputs, inputs, sizeof(int) * N);
    model->have_targets = targets != NULL;
    if (targets) memcpy(model->targets, targets, sizeof(int) * N);

    GPT2Activations *a = &model->acts;
    real *p = model->params;
    encoder_forward_cpu(a->encoded, inputs, gpt2_cpu_tensor(model, p, P_WTE, 0), gpt2_cpu_tensor(model, p, P_WPE, 0), B, T, C);
    for (int l = 0; l < L; l++) {
        size_t nc = (size_t)N * C, n = N, att = (size_t)B * NH * T * T;
        real *residual = l == 0 ? a->encoded : a->residual3 + (l - 1) * nc;
        real *ln1 = a->ln1 + l * nc, *qkv = a->qkv + l * 3 * nc, *atty = a->atty + l * nc;
        real *preatt = a->preatt + l * att, *attn = a->att + l * att, *attproj = a->attproj + l * nc;
        real *residual2 = a->residual2 + l * nc, *ln2 = a->ln2 + l * nc, *fch = a->fch + l * 4 * nc;
        real *fch_gelu = a->fch_gelu + l * 4 * nc, *fcproj = a->fcproj + l * nc, *residual3 = a->residual3 + l * nc;
        layernorm_forward_cpu(ln1, a->ln1_mean + l * n, a->ln1_rstd + l * n, residual,
                              gpt2_cpu_tensor(model, p, P_LN1W, l), gpt2_cpu_tensor(model, p, P_LN1B, l), N, C);
        matmul_forward_cpu(qkv, ln1, gpt2_cpu_tensor(model, p, P_QKVW, l), gpt2_cpu_tensor(model, p, P_QKVB, l), N, C, 3 * C);
        attention_forward_cpu(atty, preatt, attn, qkv, B, T, C, NH);
        matmul_forward_cpu(attproj, atty, gpt2_cpu_tensor(model, p, P_ATTPROJW, l), gpt2_cpu_tensor(model, p, P_ATTPROJB, l), N, C, C);
        residual_forward_cpu(residual2, residual, attproj, nc);
        layernorm_forward_cpu(ln2, a->ln2_mean + l * n, a->ln2_rstd + l * n, residual2,
                              gpt2_cpu_tensor(model, p, P_LN2W, l), gpt2_cpu_tensor(model, p, P_LN2B, l), N, C);
        mlp_matmul_forward(model, 2 * l, fch, ln2, gpt2_cpu_tensor(model, p, P_FCB, l), N);
        gelu_forward_cpu(fch_gelu, fch, 4 * nc);
        mlp_matmul_forward(model, 2 * l + 1, fcproj, fch_gelu, gpt2_cpu_tensor(model, p, P_FCPROJB, l), N);
        residual_forward_cpu(residual3, residual2, fcproj, nc);
    }
    real *last = a->residual3 + (size_t)(L - 1) * N * C;
    layernorm_forward_cpu(a->lnf, a->lnf_mean, a->lnf_rstd, last, gpt2_cpu_tensor(model, p, P_LNFW, 0),
                          gpt2_cpu_tensor(model, p, P_LNFB, 0), N, C);
    /* the classifier shares the token embedding (weight tying), no bias */
    matmul_forward_cpu(a->logits, a->lnf, gpt2_cpu_tensor(model, p, P_WTE, 0), NULL, N, C, Vp);
    softmax_forward_cpu(a->probs, a->logits, N, V, Vp);
    if (!targets) { model->mean_loss = -1; return -1; }
    crossentropy_forward_cpu(a->losses, a->probs, targets, N, Vp);
    double sum = 0;
    for (int i = 0; i < N; i++) sum += a->losses[i];
    model->mean_loss = (real)(sum / N);
    return model->mean_loss;
}

/* ------------------------------------------------------------------ backward */

void gpt2_cpu_zero_grad(GPT2Cpu *model) { memset(model->grads, 0, sizeof(real) * model->P.total); }

static void mlp_matmul_backward(GPT2Cpu *model, int m, real *dinp, real *dbias, const real *dout, const real *inp, int N) {
    const GPT2Config *c = &model->config;
    if (model->layouts) {
        bsr_matmul_backward_cpu(dinp, gpt2_cpu_sparse_values(model, model->grads, m), dbias, dout, inp,
                                &model->layouts[m], gpt2_cpu_sparse_values(model, model->params, m), N);
    } else {
        int rows, cols, t = m % 2 == 0 ? P_FCW : P_FCPROJW;
        gpt2_sparse_matrix_shape(c, m, &rows, &cols);
        matmul_backward_cpu(dinp, gpt2_cpu_tensor(model, model->grads, t, m / 2), dbias, dout, inp,
                            gpt2_cpu_tensor(model, model->params, t, m / 2), N, cols, rows);
    }
}

void gpt2_cpu_backward(GPT2Cpu *model, real loss_scale) {
    CHECK(model->have_targets, "call gpt2_cpu_forward with targets first", "backward without a forward pass with targets");
    const GPT2Config *c = &model->config;
    const int B = model->B, T = model->T, L = c->num_layers, C = c->channels, NH = c->num_heads;
    const int V = c->vocab_size, Vp = c->padded_vocab_size, N = B * T;
    GPT2Activations *a = &model->acts, *g = &model->grads_acts;
    real *p = model->params, *gp = model->grads;
    memset(g->memory, 0, sizeof(real) * g->num_elements);

    const real dloss = loss_scale / (real)N;
    for (int i = 0; i < N; i++) g->losses[i] = dloss;
    crossentropy_softmax_backward_cpu(g->logits, g->losses, a->probs, model->targets, N, V, Vp);
    matmul_backward_cpu(g->lnf, gpt2_cpu_tensor(model, gp, P_WTE, 0), NULL, g->logits, a->lnf,
                        gpt2_cpu_tensor(model, p, P_WTE, 0), N, C, Vp);
    size_t nc = (size_t)N * C, n = N, att = (size_t)B * NH * T * T;
    real *last = a->residual3 + (L - 1) * nc, *dlast = g->residual3 + (L - 1) * nc;
    layernorm_backward_cpu(dlast, gpt2_cpu_tensor(model, gp, P_LNFW, 0), gpt2_cpu_tensor(model, gp, P_LNFB, 0), g->lnf,
                           last, gpt2_cpu_tensor(model, p, P_LNFW, 0), a->lnf_mean, a->lnf_rstd, N, C);
    for (int l = L - 1; l >= 0; l--) {
        real *residual = l == 0 ? a->encoded : a->residual3 + (l - 1) * nc;
        real *dresidual = l == 0 ? g->encoded : g->residual3 + (l - 1) * nc;
        /* layer l's forward: residual -> ln1 -> qkv -> atty -> attproj -> residual2 -> ln2 -> fch -> gelu -> fcproj -> residual3 */
        residual_backward_cpu(g->residual2 + l * nc, g->fcproj + l * nc, g->residual3 + l * nc, nc);
        mlp_matmul_backward(model, 2 * l + 1, g->fch_gelu + l * 4 * nc, gpt2_cpu_tensor(model, gp, P_FCPROJB, l),
                            g->fcproj + l * nc, a->fch_gelu + l * 4 * nc, N);
        gelu_backward_cpu(g->fch + l * 4 * nc, a->fch + l * 4 * nc, g->fch_gelu + l * 4 * nc, 4 * nc);
        mlp_matmul_backward(model, 2 * l, g->ln2 + l * nc, gpt2_cpu_tensor(model, gp, P_FCB, l), g->fch + l * 4 * nc,
                            a->ln2 + l * nc, N);
        layernorm_backward_cpu(g->residual2 + l * nc, gpt2_cpu_tensor(model, gp, P_LN2W, l), gpt2_cpu_tensor(model, gp, P_LN2B, l),
                               g->ln2 + l * nc, a->residual2 + l * nc, gpt2_cpu_tensor(model, p, P_LN2W, l),
                               a->ln2_mean + l * n, a->ln2_rstd + l * n, N, C);
        residual_backward_cpu(dresidual, g->attproj + l * nc, g->residual2 + l * nc, nc);
        matmul_backward_cpu(g->atty + l * nc, gpt2_cpu_tensor(model, gp, P_ATTPROJW, l), gpt2_cpu_tensor(model, gp, P_ATTPROJB, l),
                            g->attproj + l * nc, a->atty + l * nc, gpt2_cpu_tensor(model, p, P_ATTPROJW, l), N, C, C);
        attention_backward_cpu(g->qkv + l * 3 * nc, g->preatt + l * att, g->att + l * att, g->atty + l * nc,
                               a->qkv + l * 3 * nc, a->att + l * att, B, T, C, NH);
        matmul_backward_cpu(g->ln1 + l * nc, gpt2_cpu_tensor(model, gp, P_QKVW, l), gpt2_cpu_tensor(model, gp, P_QKVB, l),
                            g->qkv + l * 3 * nc, a->ln1 + l * nc, gpt2_cpu_tensor(model, p, P_QKVW, l), N, C, 3 * C);
        layernorm_backward_cpu(dresidual, gpt2_cpu_tensor(model, gp, P_LN1W, l), gpt2_cpu_tensor(model, gp, P_LN1B, l),
                               g->ln1 + l * nc, residual, gpt2_cpu_tensor(model, p, P_LN1W, l), a->ln1_mean + l * n,
                               a->ln1_rstd + l * n, N, C);
    }
    encoder_backward_cpu(gpt2_cpu_tensor(model, gp, P_WTE, 0), gpt2_cpu_tensor(model, gp, P_WPE, 0), g->encoded,
                         model->inputs, B, T, C);
}

double gpt2_cpu_grad_norm(const GPT2Cpu *model) { return sqrt(sum_squares_cpu(model->grads, (long)model->P.total)); }

/* ------------------------------------------------------------------ update */

void gpt2_cpu_update(GPT2Cpu *model, float lr, float beta1, float beta2, float eps, float weight_decay,
                     float grad_scale, int t) {
    const ParamLayout *P = &model->P;
    for (int k = 0; k < GPT2_NUM_PARAM_TENSORS; k++) {
        if (P->sparse && (k == P_FCW || k == P_FCPROJW)) continue;
        size_t off = P->tensor_offset[k];
        float wd = gpt2_tensor_is_decayed(k) ? weight_decay : 0.0f;
        adamw_update_cpu(model->params + off, model->grads + off, model->m + off, model->v + off,
                         (long)P->tensor_size[k], lr, beta1, beta2, eps, wd, grad_scale, t);
    }
    if (P->sparse) {
        /* the packed live blocks of every sparse matrix are one contiguous, decayed region */
        size_t off = P->dense_part, n = P->total - P->dense_part;
        adamw_update_cpu(model->params + off, model->grads + off, model->m + off, model->v + off, (long)n, lr, beta1,
                         beta2, eps, weight_decay, grad_scale, t);
    }
}

/* ------------------------------------------------------------------ pruning */

double gpt2_cpu_sparsity(const GPT2Cpu *model) {
    if (!model->layouts) return 0.0;
    long live = 0, total = 0;
    for (int m = 0; m < model->P.num_sparse; m++) {
        live += model->layouts[m].nnz;
        total += bsr_num_grid_blocks(&model->layouts[m]);
    }
    return total ? 1.0 - (double)live / (double)total : 0.0;
}

/* Move the surviving blocks of every sparse matrix down to the new flat layout.
 * Matrices are visited in ascending order and blocks in ascending order; every
 * destination is at or below its source, so the moves never overwrite a block
 * that is still to be read. */
static void compact_flat(real *flat, const ParamLayout *old_P, const ParamLayout *new_P, int *const *keep,
                         const int *n_keep, long block_elems) {
    for (int m = 0; m < old_P->num_sparse; m++) {
        real *src = flat + old_P->sparse_offset[m], *dst = flat + new_P->sparse_offset[m];
        for (int i = 0; i < n_keep[m]; i++)
            memmove(dst + (size_t)i * block_elems, src + (size_t)keep[m][i] * block_elems, sizeof(real) * block_elems);
    }
}

int gpt2_cpu_prune(GPT2Cpu *model, const PruneSchedule *S, int t, BsrScoreKind score, int global) {
    if (!model->layouts || !prune_schedule_is_update_step(S, t)) return 0;
    const int M = model->P.num_sparse;
    const double s = prune_schedule_sparsity(S, t);
    double **scores = (double **)malloc_check(sizeof(double *) * M);
    uint8_t **masks = (uint8_t **)malloc_check(sizeof(uint8_t *) * M);
    int **keep = (int **)malloc_check(sizeof(int *) * M);
    int *n_keep = (int *)malloc_check(sizeof(int) * M);
    long grid_total = 0, live_before = 0;
    for (int m = 0; m < M; m++) {
        BsrLayout *L = &model->layouts[m];
        scores[m] = (double *)malloc_check(sizeof(double) * (L->nnz ? L->nnz : 1));
        masks[m] = (uint8_t *)malloc_check(bsr_num_grid_blocks(L));
        keep[m] = (int *)malloc_check(sizeof(int) * (L->nnz ? L->nnz : 1));
        bsr_block_scores(L, gpt2_cpu_sparse_values(model, model->params, m), score, scores[m]);
        grid_total += bsr_num_grid_blocks(L);
        live_before += L->nnz;
    }
    if (global) {
        const BsrLayout **lp = (const BsrLayout **)malloc_check(sizeof(BsrLayout *) * M);
        for (int m = 0; m < M; m++) lp[m] = &model->layouts[m];
        prune_select_global(lp, (const double *const *)scores, M, prune_target_live_blocks((int)grid_total, s), masks);
        free(lp);
    } else {
        for (int m = 0; m < M; m++) {
            BsrLayout *L = &model->layouts[m];
            prune_select_mask(L, scores[m], prune_target_live_blocks(bsr_num_grid_blocks(L), s), masks[m]);
        }
    }
    long live_after = 0;
    for (int m = 0; m < M; m++) {
        n_keep[m] = bsr_compact_plan(&model->layouts[m], masks[m], keep[m]);
        live_after += n_keep[m];
    }
    int changed = live_after < live_before;
    if (changed) {
        ParamLayout old_P = model->P, new_P;
        for (int m = 0; m < M; m++) bsr_layout_set_mask(&model->layouts[m], masks[m]);
        param_layout_init(&new_P, &model->config, model->layouts, model->block_size);
        long be = bsr_block_elems(&model->layouts[0]);
        compact_flat(model->params, &old_P, &new_P, keep, n_keep, be);
        compact_flat(model->grads, &old_P, &new_P, keep, n_keep, be);
        compact_flat(model->m, &old_P, &new_P, keep, n_keep, be);
        compact_flat(model->v, &old_P, &new_P, keep, n_keep, be);
        param_layout_free(&old_P);
        model->P = new_P;
    }
    for (int m = 0; m < M; m++) { free(scores[m]); free(masks[m]); free(keep[m]); }
    free(scores); free(masks); free(keep); free(n_keep);
    return changed;
}
