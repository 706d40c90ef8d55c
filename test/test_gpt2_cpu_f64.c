/*
 * test_gpt2_cpu_f64.c - the CPU model's gradients against central finite
 * differences, in double precision (this file and the host library are built
 * with -DREAL_IS_DOUBLE), dense and with 50% block sparsity; sparse forward and
 * backward against the dense model with the dead blocks zeroed; pruned blocks
 * get no gradient and stay exactly zero through optimizer steps.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/utils.h"
#include "../model/gpt2.h"
#include "../model/gpt2_cpu.h"

static int failures = 0;
#define EXPECT(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

enum { B = 2, T = 8 };

static void random_tokens(Rng *rng, int *x, int n, int V) { for (int i = 0; i < n; i++) x[i] = (int)rng_below(rng, V); }

/* random weights with O(1) scale so every path carries signal (0.02-scaled init
 * would make the finite differences of the deeper paths vanish) */
static void random_flat_dense(const GPT2Config *c, Rng *rng, float *flat) {
    ParamLayout P;
    param_layout_init(&P, c, NULL, 0);
    for (int t = 0; t < GPT2_NUM_PARAM_TENSORS; t++) {
        float *p = flat + P.tensor_offset[t];
        for (size_t i = 0; i < P.tensor_size[t]; i++) {
            double z = rng_normal(rng);
            p[i] = (float)((t == P_LN1W || t == P_LN2W || t == P_LNFW) ? 1.0 + 0.2 * z : 0.3 * z);
        }
    }
    param_layout_free(&P);
}

static double loss_of(GPT2Cpu *m, const int *x, const int *y) { return (double)gpt2_cpu_forward(m, x, y, B, T); }

/* central differences on `samples` random entries of every tensor region */
static void finite_difference_check(GPT2Cpu *model, const int *x, const int *y, Rng *rng, const char *what) {
    gpt2_cpu_forward(model, x, y, B, T);
    gpt2_cpu_zero_grad(model);
    gpt2_cpu_backward(model, 1.0);
    const ParamLayout *P = &model->P;
    /* regions: the dense tensors, plus each sparse matrix's packed values */
    int nreg = 0;
    size_t off[GPT2_NUM_PARAM_TENSORS + 256], len[GPT2_NUM_PARAM_TENSORS + 256];
    for (int t = 0; t < GPT2_NUM_PARAM_TENSORS; t++) {
        if (P->sparse && (t == P_FCW || t == P_FCPROJW)) continue;
        off[nreg] = P->tensor_offset[t]; len[nreg++] = P->tensor_size[t];
    }
    for (int m = 0; m < P->num_sparse; m++) { off[nreg] = P->sparse_offset[m]; len[nreg++] = P->sparse_size[m]; }
    const double eps = 1e-4; /* truncation O(eps^2) ~1e-8 relative, rounding ~1e-12 absolute */
    double worst = 0;
    int checked = 0;
    for (int r = 0; r < nreg; r++) {
        if (len[r] == 0) continue;
        for (int s = 0; s < 12; s++) {
            size_t i = off[r] + rng_below(rng, len[r]);
            double saved = model->params[i];
            model->params[i] = saved + eps;
            double lp = loss_of(model, x, y);
            model->params[i] = saved - eps;
            double lm = loss_of(model, x, y);
            model->params[i] = saved;
            double num = (lp - lm) / (2 * eps), ana = model->grads[i];
            /* tolerance: 1e-4 relative plus 2e-9 absolute, which covers the O(eps^2)
             * truncation (~1e-10 here) and entries whose true gradient is 0 (the key
             * bias); a wrong gradient is off by O(|grad|) */
            double tol = 1e-4 * fmax(fabs(num), fabs(ana)) + 2e-9;
            double err = fabs(num - ana) / tol;
            if (err > worst) worst = err;
            EXPECT(err <= 1.0, "%s: param %zu analytic %.12g numeric %.12g |diff| %.3g > tol %.3g", what, i, ana, num,
                   fabs(num - ana), tol);
            checked++;
        }
    }
    printf("%s: %d gradient entries vs central differences (eps %g), worst |diff|/tol %.3g (tol = 1e-4 |g| + 2e-9, pass <= 1)\n", what,
           checked, eps, worst);
}

int main(void) {
    GPT2Config c;
    char err[256];
    if (gpt2_config_from_descriptor("custom:L=2,C=16,NH=2,T=8,V=61", &c, err, sizeof(err)) != 0) { printf("%s\n", err); return 1; }
    Rng rng;
    rng_seed(&rng, 42);
    int x[B * T], y[B * T];
    random_tokens(&rng, x, B * T, c.vocab_size);
    random_tokens(&rng, y, B * T, c.vocab_size);
    size_t nd = gpt2_num_dense_params(&c);
    float *dense_flat = (float *)malloc_check(sizeof(float) * nd);
    random_flat_dense(&c, &rng, dense_flat);

    /* 1. dense model */
    GPT2Cpu dense;
    gpt2_cpu_init(&dense, &c, 0, NULL, dense_flat);
    finite_difference_check(&dense, x, y, &rng, "dense d2-shaped model (L=2, C=16, V=61)");

    /* 2. 50% block-sparse model, block 4: pack, prune one-shot by L2 score */
    const int bs = 4;
    BsrLayout *all_live = (BsrLayout *)calloc_check(2 * c.num_layers, sizeof(BsrLayout));
    if (gpt2_sparse_layouts_init(&c, bs, all_live, err, sizeof(err)) != 0) { printf("%s\n", err); return 1; }
    ParamLayout Ps;
    param_layout_init(&Ps, &c, all_live, bs);
    float *sparse_flat = (float *)malloc_check(sizeof(float) * Ps.total);
    gpt2_flat_dense_to_sparse(&c, all_live, dense_flat, sparse_flat);
    GPT2Cpu sparse;
    gpt2_cpu_init(&sparse, &c, bs, NULL, sparse_flat);
    PruneSchedule S = {PRUNE_ONESHOT, 0.0f, 0.5f, 0, 0, 1};
    int changed = gpt2_cpu_prune(&sparse, &S, 0, BSR_SCORE_L2, 0);
    EXPECT(changed == 1, "one-shot prune at step 0 changed nothing");
    EXPECT(fabs(gpt2_cpu_sparsity(&sparse) - 0.5) < 1e-12, "sparsity %.6f, expected 0.5", gpt2_cpu_sparsity(&sparse));
    printf("pruned to sparsity %.3f (%zu live params of %zu)\n", gpt2_cpu_sparsity(&sparse), sparse.P.total, nd);
    finite_difference_check(&sparse, x, y, &rng, "50% block-sparse model (block 4)");

    /* 3. sparse forward/backward == dense model with the dead blocks zeroed */
    float *sp_now = (float *)malloc_check(sizeof(float) * sparse.P.total);
    float *zeroed = (float *)malloc_check(sizeof(float) * nd);
    gpt2_cpu_get_flat_f32(&sparse, sparse.params, sp_now);
    gpt2_flat_sparse_to_dense(&c, sparse.layouts, sp_now, zeroed);
    GPT2Cpu dz;
    gpt2_cpu_init(&dz, &c, 0, NULL, zeroed);
    double ls = gpt2_cpu_forward(&sparse, x, y, B, T), ld = gpt2_cpu_forward(&dz, x, y, B, T);
    EXPECT(fabs(ls - ld) < 1e-12, "sparse loss %.15g != dense-with-zeroed-blocks loss %.15g", ls, ld);
    printf("sparse forward loss %.12f, dense with dead blocks zeroed %.12f\n", ls, ld);
    gpt2_cpu_forward(&sparse, x, y, B, T);
    gpt2_cpu_zero_grad(&sparse);
    gpt2_cpu_backward(&sparse, 1.0);
    gpt2_cpu_forward(&dz, x, y, B, T);
    gpt2_cpu_zero_grad(&dz);
    gpt2_cpu_backward(&dz, 1.0);
    /* compare: dense grads restricted to live blocks (pack) vs sparse grads */
    float *gs = (float *)malloc_check(sizeof(float) * sparse.P.total), *gd = (float *)malloc_check(sizeof(float) * nd);
    float *gd_packed = (float *)malloc_check(sizeof(float) * sparse.P.total);
    for (size_t i = 0; i < sparse.P.total; i++) gs[i] = (float)sparse.grads[i];
    for (size_t i = 0; i < nd; i++) gd[i] = (float)dz.grads[i];
    gpt2_flat_dense_to_sparse(&c, sparse.layouts, gd, gd_packed);
    double maxdiff = 0;
    for (size_t i = 0; i < sparse.P.total; i++) {
        double d = fabs((double)sparse.grads[i] - (double)gd_packed[i]);
        if (d > maxdiff) maxdiff = d;
    }
    EXPECT(maxdiff < 1e-6, "sparse grads differ from the zeroed dense model's live-block grads by %.3g", maxdiff);
    printf("sparse gradients vs dense-with-zeroed-blocks gradients on live blocks: max |diff| %.3g (float-rounded compare, limit 1e-6)\n", maxdiff);

    /* 4. dead blocks: no gradient, and exactly zero after optimizer steps */
    for (int step = 1; step <= 3; step++) {
        gpt2_cpu_forward(&sparse, x, y, B, T);
        gpt2_cpu_zero_grad(&sparse);
        gpt2_cpu_backward(&sparse, 1.0);
        gpt2_cpu_update(&sparse, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f, step);
    }
    for (size_t i = 0; i < sparse.P.total; i++) { sp_now[i] = (float)sparse.params[i]; gs[i] = (float)sparse.grads[i]; }
    gpt2_flat_sparse_to_dense(&c, sparse.layouts, sp_now, zeroed);
    gpt2_flat_sparse_to_dense(&c, sparse.layouts, gs, gd);
    long dead_nonzero = 0, dead_total = 0;
    ParamLayout Pd;
    param_layout_init(&Pd, &c, NULL, 0);
    for (int m = 0; m < 2 * c.num_layers; m++) {
        BsrLayout *L = &sparse.layouts[m];
        size_t base = Pd.tensor_offset[m % 2 == 0 ? P_FCW : P_FCPROJW] + (size_t)(m / 2) * 4 * c.channels * c.channels;
        for (int br = 0; br < L->brows; br++)
            for (int bc = 0; bc < L->bcols; bc++) {
                if (L->mask[br * L->bcols + bc]) continue;
                for (int i = 0; i < bs; i++)
                    for (int j = 0; j < bs; j++) {
                        size_t idx = base + (size_t)(br * bs + i) * L->cols + bc * bs + j;
                        dead_total++;
                        if (zeroed[idx] != 0.0f || gd[idx] != 0.0f) dead_nonzero++;
                    }
            }
    }
    EXPECT(dead_total > 0 && dead_nonzero == 0, "%ld of %ld dead-block weights or grads are nonzero after 3 AdamW steps", dead_nonzero, dead_total);
    printf("after 3 AdamW steps with weight decay: %ld dead-block weights, all exactly zero with zero gradient\n", dead_total);
    EXPECT(sparse.P.total < nd, "sparse model stores %zu params, dense %zu", sparse.P.total, nd);

    param_layout_free(&Pd);
    param_layout_free(&Ps);
    gpt2_sparse_layouts_free(&c, all_live);
    free(all_live);
    gpt2_cpu_free(&dense); gpt2_cpu_free(&sparse); gpt2_cpu_free(&dz);
    free(dense_flat); free(sparse_flat); free(sp_now); free(zeroed); free(gs); free(gd); free(gd_packed);
    if (failures) { printf("test_gpt2_cpu_f64: %d FAILURES\n", failures); return 1; }
    printf("test_gpt2_cpu_f64: all checks passed\n");
    return 0;
}
