/*
 * test_gpt2.cu - the GPU trainer's model against the CPU reference model, on a
 * small GPT-2 (L=2, C=128, 2 heads of 64, V=1000) with the same initial weights
 * and batches:
 *   1. loss, logits and every parameter gradient of one step, dense and at 50%
 *      block sparsity (blocks of 32 and 64), with the same masks on both sides;
 *   2. 10 AdamW steps with two prune events (cubic 0 -> 0.5): losses and masks;
 *   3. bit-exact resume on the GPU: a snapshot (masters, moments, bf16 weights,
 *      masks) restored into a fresh model continues with identical losses and
 *      identical master weights;
 *   4. gradient accumulation 4 x B/4 equals one step of B within bf16 tolerance.
 * Tolerances (bf16 activations and gradients against fp32): loss |diff| < 2e-2,
 * logits and gradients relative L2 error < 5e-2 per tensor.
 */
#define TRAIN_GPT2_NO_MAIN
#include "../train_gpt2.cu"
#include "../model/gpt2_cpu.h"

static void select_device(void) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
        DIE("run on a machine with an NVIDIA GPU and driver (nvidia-smi)", "no CUDA device available (%s)",
            e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    CUDA_CHECK(cudaSetDevice(0));
}

static int failures = 0;
#define EXPECT(cond, ...) do { if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

enum { TB = 4, TT = 64, NSTEPS = 10 };
static const char *DESC = "custom:L=2,C=128,NH=2,T=64,V=1000";

static float bf16_bits_to_float(uint16_t b) { uint32_t u = (uint32_t)b << 16; float f; memcpy(&f, &u, 4); return f; }

static float *download_bf16(const bf16 *dev, size_t n) {
    uint16_t *tmp = (uint16_t *)malloc_check(2 * n);
    CUDA_CHECK(cudaMemcpy(tmp, dev, 2 * n, cudaMemcpyDeviceToHost));
    float *out = (float *)malloc_check(4 * n);
    for (size_t i = 0; i < n; i++) out[i] = bf16_bits_to_float(tmp[i]);
    free(tmp);
    return out;
}

static double rel_l2(const float *a, const float *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) { double d = (double)a[i] - ref[i]; num += d * d; den += (double)ref[i] * ref[i]; }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

static void random_batch(Rng *rng, int *x, int *y, int n, int V) {
    for (int i = 0; i < n; i++) { x[i] = (int)rng_below(rng, V); y[i] = (int)rng_below(rng, V); }
}

/* With GPT2_DUMP_DIR set, write the model, batch and both gradients for the
 * PyTorch reference check (dev/torch_gpt2.py check DIR). */
static void dump_for_torch(const char *tag, GPT2Cpu *c, const int *x, const int *y, double cpu_loss, double gpu_loss,
                           const float *gpu_grads) {
    const char *dir = getenv("GPT2_DUMP_DIR");
    if (!dir) return;
    char path[1024], err[CKPT_ERR_LEN];
    float *flat = (float *)malloc_check(sizeof(float) * c->P.total);
    gpt2_cpu_get_flat_f32(c, c->params, flat);
    snprintf(path, sizeof(path), "%s/%s_model.bin", dir, tag);
    if (model_file_write(path, &c->config, c->layouts, flat, err, sizeof(err)) != 0) { printf("%s\n", err); exit(1); }
    snprintf(path, sizeof(path), "%s/%s_batch.bin", dir, tag);
    FILE *f = fopen_check(path, "wb", "");
    int bt[2] = {TB, TT};
    fwrite_check(bt, sizeof(int), 2, f, path);
    fwrite_check(x, sizeof(int), TB * TT, f, path);
    fwrite_check(y, sizeof(int), TB * TT, f, path);
    fclose(f);
    for (int who = 0; who < 2; who++) {
        snprintf(path, sizeof(path), "%s/%s_%s_grads.bin", dir, tag, who ? "gpu" : "cpu");
        f = fopen_check(path, "wb", "");
        float l = (float)(who ? gpu_loss : cpu_loss);
        fwrite_check(&l, sizeof(float), 1, f, path);
        if (who) fwrite_check(gpu_grads, sizeof(float), c->P.total, f, path);
        else { gpt2_cpu_get_flat_f32(c, c->grads, flat); fwrite_check(flat, sizeof(float), c->P.total, f, path); }
        fclose(f);
    }
    free(flat);
}

/* one forward/backward on both; compare loss, logits and each gradient region */
static void compare_one_step(GPT2 *g, GPT2Cpu *c, const int *x, const int *y, const char *what) {
    const GPT2Config *cfg = &g->p.config;
    const int N = TB * TT, Vp = cfg->padded_vocab_size, V = cfg->vocab_size;
    /* logits: a forward without targets keeps them */
    gpt2_set_batch(g, x, y);
    gpt2_forward(g, 0, 0, 0);
    float *logits = download_bf16(g->a.logits, (size_t)N * Vp);
    real cpu_loss = gpt2_cpu_forward(c, x, y, TB, TT);
    float *cl = (float *)malloc_check(sizeof(float) * N * V), *gl = (float *)malloc_check(sizeof(float) * N * V);
    for (int n = 0; n < N; n++)
        for (int v = 0; v < V; v++) { cl[n * V + v] = c->acts.logits[(size_t)n * Vp + v]; gl[n * V + v] = logits[(size_t)n * Vp + v]; }
    double lerr = rel_l2(gl, cl, (size_t)N * V);
    EXPECT(lerr < 5e-2, "%s: logits rel L2 error %.3g", what, lerr);
    /* loss and gradients */
    CUDA_CHECK(cudaMemset(g->p.grads, 0, 2 * g->p.P.total));
    gpt2_forward(g, 1, 1.0f / N, 1);
    gpt2_backward(g);
    double gpu_loss = gpt2_take_loss_sum(g) / N;
    gpt2_cpu_zero_grad(c);
    gpt2_cpu_backward(c, 1.0f);
    EXPECT(fabs(gpu_loss - cpu_loss) < 2e-2, "%s: loss gpu %.6f cpu %.6f", what, gpu_loss, (double)cpu_loss);
    printf("%s: loss gpu %.6f cpu %.6f, logits rel err %.2e\n", what, gpu_loss, (double)cpu_loss, lerr);
    EXPECT(g->p.P.total == c->P.total, "%s: flat sizes differ %zu vs %zu", what, g->p.P.total, c->P.total);
    float *gg = download_bf16(g->p.grads, g->p.P.total);
    double worst = 0;
    for (int t = 0; t < GPT2_NUM_PARAM_TENSORS; t++) {
        if (g->p.P.sparse && (t == P_FCW || t == P_FCPROJW)) continue;
        size_t off = g->p.P.tensor_offset[t], n = g->p.P.tensor_size[t];
        double e = rel_l2(gg + off, c->grads + off, n);
        if (e > worst) worst = e;
        EXPECT(e < 5e-2, "%s: grad %s rel L2 error %.3g", what, gpt2_tensor_name(t), e);
    }
    for (int m = 0; m < g->p.P.num_sparse; m++) {
        size_t off = g->p.P.sparse_offset[m], n = g->p.P.sparse_size[m];
        double e = rel_l2(gg + off, c->grads + off, n);
        if (e > worst) worst = e;
        EXPECT(e < 5e-2, "%s: grad of sparse matrix %d rel L2 error %.3g", what, m, e);
    }
    printf("%s: every gradient tensor within rel L2 %.2e of the CPU (limit 5e-2)\n", what, worst);
    dump_for_torch(g->p.P.sparse ? "sparse" : "dense", c, x, y, cpu_loss, gpu_loss, gg);
    free(logits); free(cl); free(gl); free(gg);
}

/* number of grid blocks whose mask differs between the two models */
static int mask_differences(const GPT2 *g, const GPT2Cpu *c) {
    if (!g->p.layouts) return 0;
    int diff = 0;
    for (int m = 0; m < g->p.P.num_sparse; m++)
        for (int i = 0; i < bsr_num_grid_blocks(&g->p.layouts[m]); i++) diff += g->p.layouts[m].mask[i] != c->layouts[m].mask[i];
    return diff;
}
static int masks_equal(const GPT2 *g, const GPT2Cpu *c) { return mask_differences(g, c) == 0; }

/* one optimizer step on the GPU model (grad clip 1.0, lr 1e-3, wd 0.1) */
static double gpu_step(GPT2 *g, const int *x, const int *y, int t) {
    const int N = TB * TT;
    CUDA_CHECK(cudaMemset(g->p.grads, 0, 2 * g->p.P.total));
    gpt2_set_batch(g, x, y);
    gpt2_forward(g, 1, 1.0f / N, 1);
    gpt2_backward(g);
    double loss = gpt2_take_loss_sum(g) / N;
    float norm = gpt2_grad_norm(g);
    gpt2_update(g, 1e-3f, 0.1f, norm > 1.0f ? 1.0f / norm : 1.0f, t, 1337);
    CUDA_CHECK(cudaStreamSynchronize(g->stream));
    return loss;
}

static double cpu_step(GPT2Cpu *c, const int *x, const int *y, int t) {
    double loss = gpt2_cpu_forward(c, x, y, TB, TT);
    gpt2_cpu_zero_grad(c);
    gpt2_cpu_backward(c, 1.0f);
    double norm = gpt2_cpu_grad_norm(c);
    gpt2_cpu_update(c, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, norm > 1.0 ? (float)(1.0 / norm) : 1.0f, t);
    return loss;
}

/* a dense flat vector with the sparse layout packed in when block > 0. With
 * spread, every 64 x 64 block of the MLP weights is scaled by a factor in
 * [0.5, 1.5]: block scores then differ by far more than the bf16-vs-fp32 drift
 * of a few training steps, so both trainers must pick the same masks (with the
 * plain init all block norms lie within ~1% and near-ties may flip). */
static float *initial_flat(const GPT2Config *cfg, int block, BsrLayout **layouts_out, int spread) {
    float *dense = (float *)malloc_check(sizeof(float) * gpt2_num_dense_params(cfg));
    gpt2_random_init_dense(cfg, 7, dense);
    if (spread) {
        ParamLayout P;
        param_layout_init(&P, cfg, NULL, 0);
        Rng rng;
        rng_seed(&rng, 99);
        for (int m = 0; m < 2 * cfg->num_layers; m++) {
            int rows, cols;
            gpt2_sparse_matrix_shape(cfg, m, &rows, &cols);
            float *w = dense + P.tensor_offset[m % 2 == 0 ? P_FCW : P_FCPROJW] + (size_t)(m / 2) * rows * cols;
            for (int br = 0; br < rows / 64; br++)
                for (int bc = 0; bc < cols / 64; bc++) {
                    float f = 0.5f + rng_uniform_f32(&rng);
                    for (int i = 0; i < 64; i++)
                        for (int j = 0; j < 64; j++) w[(size_t)(br * 64 + i) * cols + bc * 64 + j] *= f;
                }
        }
        param_layout_free(&P);
    }
    *layouts_out = NULL;
    if (!block) return dense;
    char err[256];
    BsrLayout *lay = (BsrLayout *)calloc_check(2 * cfg->num_layers, sizeof(BsrLayout));
    if (gpt2_sparse_layouts_init(cfg, block, lay, err, sizeof(err)) != 0) { printf("%s\n", err); exit(1); }
    ParamLayout P;
    param_layout_init(&P, cfg, lay, block);
    float *sp = (float *)malloc_check(sizeof(float) * P.total);
    gpt2_flat_dense_to_sparse(cfg, lay, dense, sp);
    param_layout_free(&P);
    free(dense);
    *layouts_out = lay;
    return sp;
}

int main(void) {
    select_device();
    GPT2Config cfg;
    char err[256];
    if (gpt2_config_from_descriptor(DESC, &cfg, err, sizeof(err)) != 0) { printf("%s\n", err); return 1; }
    Rng rng;
    rng_seed(&rng, 2024);
    const int N = TB * TT;
    int xs[NSTEPS][TB * TT], ys[NSTEPS][TB * TT];
    for (int s = 0; s < NSTEPS; s++) random_batch(&rng, xs[s], ys[s], N, cfg.vocab_size);

    /* 1. one step, dense and 50% sparse in blocks of 32 and 64 */
    static const int blocks[] = {0, 32, 64};
    for (int bi = 0; bi < 3; bi++) {
        const int block = blocks[bi];
        BsrLayout *lay;
        float *flat = initial_flat(&cfg, block, &lay, 0);
        GPT2 g;
        GPT2Cpu c;
        gpt2_init(&g, &cfg, block, NULL, flat, TB, TT, 1, NULL);
        gpt2_cpu_init(&c, &cfg, block, NULL, flat);
        char what[64];
        if (block) snprintf(what, sizeof(what), "sparse 50%%, block %d", block);
        else snprintf(what, sizeof(what), "dense");
        if (block) {
            PruneSchedule S = {PRUNE_ONESHOT, 0.0f, 0.5f, 0, 0, 1};
            int pg = gpt2_prune(&g, &S, 0, BSR_SCORE_L2, 0), pc = gpt2_cpu_prune(&c, &S, 0, BSR_SCORE_L2, 0);
            EXPECT(pg && pc, "prune did not run (gpu %d cpu %d)", pg, pc);
            EXPECT(masks_equal(&g, &c), "GPU and CPU chose different masks");
            EXPECT(fabs(parameters_sparsity(&g.p) - 0.5) < 1e-9, "GPU sparsity %.4f", parameters_sparsity(&g.p));
            /* the compacted masters equal the CPU's compacted weights exactly (same floats, moved) */
            float *gm = (float *)malloc_check(sizeof(float) * g.p.P.total);
            CUDA_CHECK(cudaMemcpy(gm, g.p.master, sizeof(float) * g.p.P.total, cudaMemcpyDeviceToHost));
            EXPECT(memcmp(gm, c.params, sizeof(float) * g.p.P.total) == 0, "GPU compaction differs from the CPU's");
            free(gm);
        }
        compare_one_step(&g, &c, xs[0], ys[0], what);
        gpt2_cpu_free(&c);
        free(flat);
        if (lay) { gpt2_sparse_layouts_free(&cfg, lay); free(lay); }
    }

    /* 2. ten steps with two prune events; 3. resume from a snapshot after step 5 */
    {
        BsrLayout *lay;
        float *flat = initial_flat(&cfg, 64, &lay, 1);
        GPT2 g;
        GPT2Cpu c;
        gpt2_init(&g, &cfg, 64, NULL, flat, TB, TT, 0, NULL);
        /* kernel choices by rule, not by timing (BSR_FORCE_PATH=rule, --gemm-tune 0): a resumed run
         * re-measures at the next mask update and may pick another kernel (other rounding) than the
         * uninterrupted one did; pinned choices make the resume below bit-exact */
        bsr_ctx_set_rule(&g.bsr, 1);
        g.mm.autotune = 0;
        gpt2_cpu_init(&c, &cfg, 64, NULL, flat);
        /* the same model under ZeRO-1 with one shard: its masters and moments live in the shard
         * arrays (padded to 64 elements), are updated through the shard's ranges and gathered whole
         * for pruning, compaction and the download, so it must follow g bit for bit */
        GPT2 z;
        const ZeroShards one_shard = {1, 1, 0};
        gpt2_init(&z, &cfg, 64, NULL, flat, TB, TT, 0, &one_shard);
        bsr_ctx_set_rule(&z.bsr, 1);
        z.mm.autotune = 0;
        int zero_same = z.p.shard_size % 64 == 0 && z.p.shard_size >= z.p.P.total && z.p.shard_count == z.p.P.total;
        PruneSchedule S = {PRUNE_CUBIC, 0.0f, 0.5f, 2, 6, 2};
        const int snap_step = 5;
        double gpu_loss[NSTEPS], cpu_loss[NSTEPS], worst = 0;
        float *snap_master = NULL, *snap_m = NULL, *snap_v = NULL;
        uint16_t *snap_bf16 = NULL;
        uint8_t **snap_masks = NULL;
        int prunes = 0;
        for (int s = 0; s < NSTEPS; s++) {
            if (s == snap_step) {
                size_t n = g.p.P.total;
                snap_master = gpt2_download(&g, g.p.master);
                snap_m = gpt2_download(&g, g.p.m);
                snap_v = gpt2_download(&g, g.p.v);
                snap_bf16 = (uint16_t *)malloc_check(2 * n);
                CUDA_CHECK(cudaMemcpy(snap_bf16, g.p.params, 2 * n, cudaMemcpyDeviceToHost));
                snap_masks = (uint8_t **)malloc_check(sizeof(uint8_t *) * g.p.P.num_sparse);
                for (int m = 0; m < g.p.P.num_sparse; m++) {
                    int gb = bsr_num_grid_blocks(&g.p.layouts[m]);
                    snap_masks[m] = (uint8_t *)malloc_check(gb);
                    memcpy(snap_masks[m], g.p.layouts[m].mask, gb);
                }
            }
            int pg = gpt2_prune(&g, &S, s, BSR_SCORE_L2, 0), pc = gpt2_cpu_prune(&c, &S, s, BSR_SCORE_L2, 0);
            EXPECT(pg == pc, "step %d: prune event on GPU %d, CPU %d", s, pg, pc);
            EXPECT(masks_equal(&g, &c), "step %d: %d mask blocks differ after the update", s, mask_differences(&g, &c));
            prunes += pg;
            zero_same &= gpt2_prune(&z, &S, s, BSR_SCORE_L2, 0) == pg;
            gpu_loss[s] = gpu_step(&g, xs[s], ys[s], s + 1);
            const double zl = gpu_step(&z, xs[s], ys[s], s + 1);
            zero_same &= memcmp(&zl, &gpu_loss[s], sizeof(double)) == 0;
            cpu_loss[s] = cpu_step(&c, xs[s], ys[s], s + 1);
            double d = fabs(gpu_loss[s] - cpu_loss[s]);
            if (d > worst) worst = d;
            EXPECT(d < 2e-2, "step %d: loss gpu %.6f cpu %.6f", s + 1, gpu_loss[s], cpu_loss[s]);
        }
        EXPECT(prunes == 2, "expected 2 prune events (steps 4 and 6), got %d", prunes);
        printf("10 steps with %d prune events: final loss gpu %.6f cpu %.6f, worst |diff| %.2e (limit 2e-2), sparsity %.3f\n",
               prunes, gpu_loss[NSTEPS - 1], cpu_loss[NSTEPS - 1], worst, parameters_sparsity(&g.p));

        {
            float *gm = gpt2_download(&g, g.p.master), *zm = gpt2_download(&z, z.p.master);
            /* the moments in odd-sized pieces: several gathers, the last one past the vector's end */
            float *gv = gpt2_download(&g, g.p.v), *zv = gpt2_download_in_pieces(&z, z.p.v, 1000);
            zero_same &= z.p.P.total == g.p.P.total && !memcmp(gm, zm, sizeof(float) * g.p.P.total) &&
                         !memcmp(gv, zv, sizeof(float) * g.p.P.total) && z.p.shard_count == z.p.P.total;
            EXPECT(zero_same, "ZeRO-1 with one shard differs from the plain model (losses, masks, masters or moments)");
            printf("ZeRO-1 with one shard, 10 steps and 2 prune events: losses, master weights and moments bit-identical "
                   "to the plain model: %s\n", zero_same ? "yes" : "NO");
            free(gm); free(zm); free(gv); free(zv);
        }

        /* resume: a fresh model from the snapshot replays steps 5..9 bit for bit */
        GPT2 h;
        gpt2_init(&h, &cfg, 64, snap_masks, snap_master, TB, TT, 0, NULL);
        bsr_ctx_set_rule(&h.bsr, 1);
        h.mm.autotune = 0;
        CUDA_CHECK(cudaMemcpy(h.p.m, snap_m, sizeof(float) * h.p.P.total, cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemcpy(h.p.v, snap_v, sizeof(float) * h.p.P.total, cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemcpy(h.p.params, snap_bf16, 2 * h.p.P.total, cudaMemcpyHostToDevice));
        int exact = 1;
        for (int s = snap_step; s < NSTEPS; s++) {
            gpt2_prune(&h, &S, s, BSR_SCORE_L2, 0);
            double l = gpu_step(&h, xs[s], ys[s], s + 1);
            if (memcmp(&l, &gpu_loss[s], sizeof(double)) != 0) { exact = 0; printf("step %d: %.9g vs %.9g\n", s + 1, l, gpu_loss[s]); }
        }
        float *m1 = gpt2_download(&g, g.p.master), *m2 = gpt2_download(&h, h.p.master);
        EXPECT(exact, "resumed losses differ from the uninterrupted run");
        EXPECT(g.p.P.total == h.p.P.total && memcmp(m1, m2, sizeof(float) * g.p.P.total) == 0, "resumed master weights differ");
        printf("resume from step %d on the GPU (a prune event after it; kernel choices by rule): losses and master weights "
               "bit-identical: %s\n", snap_step,
               exact ? "yes" : "NO");
        gpt2_cpu_free(&c);
    }

    /* 4. gradient accumulation: 4 micro-steps of B/4 vs one step of B (dense) */
    {
        BsrLayout *lay;
        float *flat = initial_flat(&cfg, 0, &lay, 0);
        GPT2 big, small;
        gpt2_init(&big, &cfg, 0, NULL, flat, TB, TT, 0, NULL);
        gpt2_init(&small, &cfg, 0, NULL, flat, TB / 4, TT, 0, NULL);
        CUDA_CHECK(cudaMemset(big.p.grads, 0, 2 * big.p.P.total));
        gpt2_set_batch(&big, xs[0], ys[0]);
        gpt2_forward(&big, 1, 1.0f / N, 1);
        gpt2_backward(&big);
        CUDA_CHECK(cudaMemset(small.p.grads, 0, 2 * small.p.P.total));
        for (int k = 0; k < 4; k++) {
            gpt2_set_batch(&small, xs[0] + k * N / 4, ys[0] + k * N / 4);
            gpt2_forward(&small, 1, 1.0f / N, 1);
            gpt2_backward(&small);
        }
        double lb = gpt2_take_loss_sum(&big) / N, ls = gpt2_take_loss_sum(&small) / N;
        float *g1 = download_bf16(big.p.grads, big.p.P.total), *g2 = download_bf16(small.p.grads, small.p.P.total);
        double e = rel_l2(g2, g1, big.p.P.total);
        EXPECT(fabs(lb - ls) < 1e-3, "accumulated loss %.6f vs %.6f", ls, lb);
        EXPECT(e < 2e-2, "accumulated gradient rel L2 error %.3g (limit 2e-2)", e);
        printf("gradient accumulation 4 x B/4 vs B: loss %.6f vs %.6f, gradient rel L2 error %.2e (limit 2e-2)\n", ls, lb, e);
        free(g1); free(g2); free(flat);
    }

    if (failures) { printf("test_gpt2: %d FAILURES\n", failures); return 1; }
    printf("test_gpt2: all checks passed\n");
    return 0;
}
