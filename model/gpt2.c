/* gpt2.c - config, descriptors and the flat parameter layout (see gpt2.h). */
#include "gpt2.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/utils.h"

int gpt2_padded_vocab(int V) { return ((V + 127) / 128) * 128; }

int gpt2_config_validate(const GPT2Config *c, char *err, size_t n) {
    if (c->num_layers < 1 || c->num_layers > 120) { snprintf(err, n, "num_layers %d outside [1, 120]", c->num_layers); return -1; }
    if (c->channels < 1 || c->num_heads < 1 || c->channels % c->num_heads != 0) {
        snprintf(err, n, "channels %d must be a positive multiple of num_heads %d", c->channels, c->num_heads);
        return -1;
    }
    if (c->max_seq_len < 1) { snprintf(err, n, "max_seq_len %d must be positive", c->max_seq_len); return -1; }
    if (c->vocab_size < 2 || c->vocab_size > 65536) {
        snprintf(err, n, "vocab_size %d outside [2, 65536] (tokens are stored as uint16)", c->vocab_size);
        return -1;
    }
    if (c->padded_vocab_size < c->vocab_size) { snprintf(err, n, "padded_vocab_size %d < vocab_size %d", c->padded_vocab_size, c->vocab_size); return -1; }
    return 0;
}

int gpt2_config_from_descriptor(const char *desc, GPT2Config *c, char *err, size_t n) {
    c->max_seq_len = 1024;
    c->vocab_size = 50257;
    if (strncmp(desc, "custom:", 7) == 0) {
        c->num_layers = 12; c->channels = 768; c->num_heads = 12;
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", desc + 7);
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            char *eq = strchr(tok, '=');
            int v;
            if (!eq || parse_int(eq + 1, &v) != 0) {
                snprintf(err, n, "bad item '%s' in model descriptor '%s': expected KEY=INTEGER", tok, desc);
                return -1;
            }
            *eq = '\0';
            if (!strcmp(tok, "L")) c->num_layers = v;
            else if (!strcmp(tok, "C")) c->channels = v;
            else if (!strcmp(tok, "NH")) c->num_heads = v;
            else if (!strcmp(tok, "T")) c->max_seq_len = v;
            else if (!strcmp(tok, "V")) c->vocab_size = v;
            else { snprintf(err, n, "unknown key '%s' in model descriptor '%s' (keys: L, C, NH, T, V)", tok, desc); return -1; }
        }
    } else if (desc[0] == 'd' && parse_int(desc + 1, &c->num_layers) == 0) {
        int d = c->num_layers;
        if (d >= 1 && d <= 12) { c->channels = 64 * d; c->num_heads = d; }
        else if (d == 24) { c->channels = 1024; c->num_heads = 16; }
        else if (d == 36) { c->channels = 1280; c->num_heads = 20; }
        else if (d == 48) { c->channels = 1600; c->num_heads = 25; }
        else { snprintf(err, n, "unknown depth in model descriptor '%s': use d1..d12, d24, d36, d48 or custom:L=..,C=..,NH=..", desc); return -1; }
    } else {
        snprintf(err, n, "'%s' is neither a model file nor a descriptor (d1..d12, d24, d36, d48, custom:L=..,C=..,NH=..[,T=..,V=..])", desc);
        return -1;
    }
    c->padded_vocab_size = gpt2_padded_vocab(c->vocab_size);
    return gpt2_config_validate(c, err, n);
}

void gpt2_dense_tensor_sizes(const GPT2Config *c, size_t s[GPT2_NUM_PARAM_TENSORS]) {
    size_t Vp = c->padded_vocab_size, C = c->channels, L = c->num_layers, T = c->max_seq_len;
    s[P_WTE] = Vp * C;
    s[P_WPE] = T * C;
    s[P_LN1W] = L * C;
    s[P_LN1B] = L * C;
    s[P_QKVW] = L * 3 * C * C;
    s[P_QKVB] = L * 3 * C;
    s[P_ATTPROJW] = L * C * C;
    s[P_ATTPROJB] = L * C;
    s[P_LN2W] = L * C;
    s[P_LN2B] = L * C;
    s[P_FCW] = L * 4 * C * C;
    s[P_FCB] = L * 4 * C;
    s[P_FCPROJW] = L * C * 4 * C;
    s[P_FCPROJB] = L * C;
    s[P_LNFW] = C;
    s[P_LNFB] = C;
}

size_t gpt2_num_dense_params(const GPT2Config *c) {
    size_t s[GPT2_NUM_PARAM_TENSORS], total = 0;
    gpt2_dense_tensor_sizes(c, s);
    for (int t = 0; t < GPT2_NUM_PARAM_TENSORS; t++) total += s[t];
    return total;
}

size_t gpt2_tensor_elems_per_layer(const GPT2Config *c, int t) {
    size_t C = c->channels;
    switch (t) {
        case P_LN1W: case P_LN1B: case P_LN2W: case P_LN2B: case P_ATTPROJB: case P_FCPROJB: return C;
        case P_QKVW: return 3 * C * C;
        case P_QKVB: return 3 * C;
        case P_ATTPROJW: return C * C;
        case P_FCW: case P_FCPROJW: return 4 * C * C;
        case P_FCB: return 4 * C;
        default: return 0;
    }
}

const char *gpt2_tensor_name(int t) {
    static const char *names[GPT2_NUM_PARAM_TENSORS] = {
        "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
        "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"};
    return (t >= 0 && t < GPT2_NUM_PARAM_TENSORS) ? names[t] : "?";
}

int gpt2_tensor_is_decayed(int t) {
    return t == P_WTE || t == P_WPE || t == P_QKVW || t == P_ATTPROJW || t == P_FCW || t == P_FCPROJW;
}

void gpt2_sparse_matrix_shape(const GPT2Config *c, int m, int *rows, int *cols) {
    if (m % 2 == 0) { *rows = 4 * c->channels; *cols = c->channels; }  /* fc: [4C, C] */
    else { *rows = c->channels; *cols = 4 * c->channels; }              /* fcproj: [C, 4C] */
}

void param_layout_init(ParamLayout *P, const GPT2Config *c, const BsrLayout *layouts, int block_size) {
    memset(P, 0, sizeof(*P));
    size_t s[GPT2_NUM_PARAM_TENSORS];
    gpt2_dense_tensor_sizes(c, s);
    P->sparse = layouts != NULL;
    P->block_size = layouts ? block_size : 0;
    size_t off = 0;
    for (int t = 0; t < GPT2_NUM_PARAM_TENSORS; t++) {
        if (P->sparse && (t == P_FCW || t == P_FCPROJW)) continue;
        P->tensor_offset[t] = off;
        P->tensor_size[t] = s[t];
        off += s[t];
    }
    P->dense_part = off;
    if (P->sparse) {
        int M = gpt2_num_sparse_matrices(c);
        P->num_sparse = M;
        P->sparse_offset = (size_t *)malloc_check(sizeof(size_t) * M);
        P->sparse_size = (size_t *)malloc_check(sizeof(size_t) * M);
        size_t fc_total = 0, fcproj_total = 0;
        for (int m = 0; m < M; m++) {
            P->sparse_offset[m] = off;
            P->sparse_size[m] = (size_t)layouts[m].nnz * (size_t)bsr_block_elems(&layouts[m]);
            off += P->sparse_size[m];
            if (m % 2 == 0) fc_total += P->sparse_size[m]; else fcproj_total += P->sparse_size[m];
        }
        /* the fc/fcproj entries describe the whole interleaved sparse region; their sizes are totals */
        P->tensor_offset[P_FCW] = P->dense_part;
        P->tensor_size[P_FCW] = fc_total;
        P->tensor_offset[P_FCPROJW] = P->dense_part;
        P->tensor_size[P_FCPROJW] = fcproj_total;
    }
    P->total = off;
}

void param_layout_free(ParamLayout *P) {
    free(P->sparse_offset);
    free(P->sparse_size);
    memset(P, 0, sizeof(*P));
}

int gpt2_sparse_layouts_init(const GPT2Config *c, int bs, BsrLayout *layouts, char *err, size_t n) {
    if (bs <= 0 || c->channels % bs != 0) {
        snprintf(err, n, "block size %d does not divide the model width C = %d (choose a divisor, e.g. 64)", bs, c->channels);
        return -1;
    }
    int M = gpt2_num_sparse_matrices(c);
    for (int m = 0; m < M; m++) {
        int rows, cols;
        gpt2_sparse_matrix_shape(c, m, &rows, &cols);
        if (bsr_layout_init(&layouts[m], rows, cols, bs) != 0) {
            for (int j = 0; j < m; j++) bsr_layout_free(&layouts[j]);
            snprintf(err, n, "block size %d does not divide matrix %d x %d", bs, rows, cols);
            return -1;
        }
    }
    return 0;
}

void gpt2_sparse_layouts_free(const GPT2Config *c, BsrLayout *layouts) {
    if (!layouts) return;
    for (int m = 0; m < gpt2_num_sparse_matrices(c); m++) bsr_layout_free(&layouts[m]);
}

/* the dense tensor (P_FCW or P_FCPROJW) and per-layer offset of sparse matrix m in a dense flat vector */
static size_t dense_offset_of_matrix(const GPT2Config *c, const ParamLayout *Pd, int m) {
    size_t per = (size_t)4 * c->channels * c->channels;
    int l = m / 2;
    return (m % 2 == 0 ? Pd->tensor_offset[P_FCW] : Pd->tensor_offset[P_FCPROJW]) + (size_t)l * per;
}

void gpt2_flat_dense_to_sparse(const GPT2Config *c, const BsrLayout *layouts, const float *dense, float *sparse) {
    ParamLayout Pd, Ps;
    param_layout_init(&Pd, c, NULL, 0);
    param_layout_init(&Ps, c, layouts, layouts[0].bs);
    for (int t = 0; t < GPT2_NUM_PARAM_TENSORS; t++) {
        if (t == P_FCW || t == P_FCPROJW) continue;
        memcpy(sparse + Ps.tensor_offset[t], dense + Pd.tensor_offset[t], sizeof(float) * Pd.tensor_size[t]);
    }
    for (int m = 0; m < Ps.num_sparse; m++)
        bsr_pack_f32(&layouts[m], dense + dense_offset_of_matrix(c, &Pd, m), sparse + Ps.sparse_offset[m]);
    param_layout_free(&Pd);
    param_layout_free(&Ps);
}

void gpt2_flat_sparse_to_dense(const GPT2Config *c, const BsrLayout *layouts, const float *sparse, float *dense) {
    ParamLayout Pd, Ps;
    param_layout_init(&Pd, c, NULL, 0);
    param_layout_init(&Ps, c, layouts, layouts[0].bs);
    for (int t = 0; t < GPT2_NUM_PARAM_TENSORS; t++) {
        if (t == P_FCW || t == P_FCPROJW) continue;
        memcpy(dense + Pd.tensor_offset[t], sparse + Ps.tensor_offset[t], sizeof(float) * Pd.tensor_size[t]);
    }
    for (int m = 0; m < Ps.num_sparse; m++)
        bsr_unpack_f32(&layouts[m], sparse + Ps.sparse_offset[m], dense + dense_offset_of_matrix(c, &Pd, m));
    param_layout_free(&Pd);
    param_layout_free(&Ps);
}

void gpt2_random_init_dense(const GPT2Config *c, uint64_t seed, float *dense) {
    ParamLayout P;
    param_layout_init(&P, c, NULL, 0);
    const double std = 0.02, resid_std = 0.02 / sqrt(2.0 * c->num_layers);
    /* Every tensor is drawn in chunks of 2^20 values, chunk k of tensor t from its
     * own stream seeded by (seed, t, k): deterministic for any thread count, and
     * parallel, which matters for d48's 1.5B values. */
    const size_t chunk = (size_t)1 << 20;
    for (int t = 0; t < GPT2_NUM_PARAM_TENSORS; t++) {
        float *p = dense + P.tensor_offset[t];
        const size_t n = P.tensor_size[t];
        int ones = t == P_LN1W || t == P_LN2W || t == P_LNFW;
        int zeros = t == P_LN1B || t == P_LN2B || t == P_LNFB || t == P_QKVB || t == P_ATTPROJB || t == P_FCB || t == P_FCPROJB;
        double s = (t == P_ATTPROJW || t == P_FCPROJW) ? resid_std : std;
        long nchunks = (long)((n + chunk - 1) / chunk);
#pragma omp parallel for schedule(static)
        for (long k = 0; k < nchunks; k++) {
            size_t lo = (size_t)k * chunk, hi = lo + chunk < n ? lo + chunk : n;
            if (ones || zeros) {
                for (size_t i = lo; i < hi; i++) p[i] = ones ? 1.0f : 0.0f;
                continue;
            }
            Rng rng;
            rng_seed(&rng, seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(t + 1)) ^ ((uint64_t)k << 32));
            for (size_t i = lo; i < hi; i++) p[i] = (float)(s * rng_normal(&rng));
        }
        if (t == P_WTE) {
            /* padded vocabulary rows never see a token; keep them zero as llm.c does */
            for (size_t i = (size_t)c->vocab_size * c->channels; i < n; i++) p[i] = 0.0f;
        }
    }
    param_layout_free(&P);
}

size_t gpt2_live_params(const ParamLayout *P) { return P->total; }

double gpt2_flops_per_token(const GPT2Config *c, int T, const ParamLayout *P, int live_only) {
    /* 6 flops per matmul weight per token (fwd 2, bwd 4), plus attention's
     * QK^T and AV: 6 * 2 * L * T * C (fwd+bwd, causal counted in full as in PaLM's MFU). */
    double C = c->channels, L = c->num_layers, Vp = c->padded_vocab_size;
    double attn_proj = L * (3 * C * C + C * C);
    double mlp = L * 8 * C * C;
    if (live_only && P->sparse) {
        mlp = 0;
        for (int m = 0; m < P->num_sparse; m++) mlp += (double)P->sparse_size[m];
    }
    double matmul_params = attn_proj + mlp + Vp * C;
    return 6.0 * matmul_params + 12.0 * L * T * C;
}
