/* checkpoint.c - model and training-state files (see checkpoint.h). */
#include "checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../core/utils.h"

#define HEADER_INTS 256

/* ------------------------------------------------------------------ reading helpers */

typedef struct {
    FILE *f;
    const char *path;
    char *err;
    size_t err_len;
} Reader;

static int rd(Reader *r, void *dst, size_t bytes) {
    if (bytes == 0) return 0;
    if (fread(dst, 1, bytes, r->f) != bytes) {
        snprintf(r->err, r->err_len, "'%s' is truncated (unexpected end of file); it was not written completely: "
                 "use an earlier checkpoint or re-create it", r->path);
        return -1;
    }
    return 0;
}

static float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

static void config_from_header(const int32_t *h, GPT2Config *c) {
    c->max_seq_len = h[2];
    c->vocab_size = h[3];
    c->num_layers = h[4];
    c->num_heads = h[5];
    c->channels = h[6];
    c->padded_vocab_size = h[7];
}

static void config_to_header(const GPT2Config *c, int32_t *h) {
    h[2] = c->max_seq_len;
    h[3] = c->vocab_size;
    h[4] = c->num_layers;
    h[5] = c->num_heads;
    h[6] = c->channels;
    h[7] = c->padded_vocab_size;
}

/* ------------------------------------------------------------------ model files */

void model_file_free(ModelFile *mf) {
    if (mf->masks) for (int m = 0; m < mf->num_sparse; m++) free(mf->masks[m]);
    free(mf->masks);
    free(mf->params);
    memset(mf, 0, sizeof(*mf));
}

int model_file_read(const char *path, ModelFile *mf, char *err, size_t n) {
    memset(mf, 0, sizeof(*mf));
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, n, "cannot open model file '%s': %s", path, strerror(errno)); return -1; }
    Reader r = {f, path, err, n};
    int32_t h[HEADER_INTS];
    BsrLayout *layouts = NULL;
    ParamLayout P;
    memset(&P, 0, sizeof(P));
    if (rd(&r, h, sizeof(h))) goto fail;
    if (h[0] != MODEL_FILE_MAGIC) {
        snprintf(err, n, "'%s' is not a GPT-2 model file: magic %d, expected %d", path, h[0], MODEL_FILE_MAGIC);
        goto fail;
    }
    mf->version = h[1];
    if (h[1] != MODEL_VERSION_DENSE_F32 && h[1] != MODEL_VERSION_DENSE_BF16 && h[1] != MODEL_VERSION_SPARSE_F32) {
        snprintf(err, n, "model file '%s' has version %d, which this build does not read "
                 "(3: llm.c fp32, 5: llm.c bf16, 6: block-sparse fp32); re-export it from the tool that wrote it", path, h[1]);
        goto fail;
    }
    config_from_header(h, &mf->config);
    char cerr[256];
    if (gpt2_config_validate(&mf->config, cerr, sizeof(cerr)) != 0) {
        snprintf(err, n, "model file '%s' has an invalid config: %s", path, cerr);
        goto fail;
    }
    if (h[1] == MODEL_VERSION_SPARSE_F32) {
        mf->block_size = h[8];
        if (h[9] != 2) { snprintf(err, n, "model file '%s': %d sparse matrices per layer, expected 2", path, h[9]); goto fail; }
        mf->num_sparse = gpt2_num_sparse_matrices(&mf->config);
        layouts = (BsrLayout *)calloc_check(mf->num_sparse, sizeof(BsrLayout));
        if (gpt2_sparse_layouts_init(&mf->config, mf->block_size, layouts, cerr, sizeof(cerr)) != 0) {
            free(layouts); layouts = NULL;
            snprintf(err, n, "model file '%s': %s", path, cerr);
            goto fail;
        }
    }
    param_layout_init(&P, &mf->config, NULL, 0);
    /* size check first, so a truncated file gets a clear message before any big read */
    long long fsize = file_size_bytes(path), expect;
    if (h[1] == MODEL_VERSION_SPARSE_F32) {
        long long masks = 0, vals = 0;
        for (int m = 0; m < mf->num_sparse; m++) {
            int g = bsr_num_grid_blocks(&layouts[m]);
            if (h[16 + m] < 0 || h[16 + m] > g) {
                snprintf(err, n, "model file '%s': matrix %d has %d live blocks, grid has %d", path, m, h[16 + m], g);
                goto fail;
            }
            masks += g;
            vals += (long long)h[16 + m] * bsr_block_elems(&layouts[m]);
        }
        size_t s[GPT2_NUM_PARAM_TENSORS];
        gpt2_dense_tensor_sizes(&mf->config, s);
        long long dense = (long long)gpt2_num_dense_params(&mf->config) - (long long)s[P_FCW] - (long long)s[P_FCPROJW];
        expect = (long long)sizeof(h) + 4 * dense + masks + 4 * vals;
    } else {
        expect = (long long)sizeof(h) + (h[1] == MODEL_VERSION_DENSE_F32 ? 4 : 2) * (long long)P.total;
    }
    if (fsize != expect) {
        snprintf(err, n, "model file '%s' has %lld bytes, its header implies %lld: the file is %s", path, fsize, expect,
                 fsize < expect ? "truncated (use an earlier checkpoint)" : "corrupt or of another format");
        goto fail;
    }
    if (h[1] == MODEL_VERSION_DENSE_F32 || h[1] == MODEL_VERSION_DENSE_BF16) {
        mf->num_params = P.total;
        mf->params = (float *)malloc_check(sizeof(float) * P.total);
        if (h[1] == MODEL_VERSION_DENSE_F32) {
            if (rd(&r, mf->params, sizeof(float) * P.total)) goto fail;
        } else {
            const size_t chunk = 1 << 20;
            uint16_t *buf = (uint16_t *)malloc_check(sizeof(uint16_t) * chunk);
            for (size_t i = 0; i < P.total; i += chunk) {
                size_t k = P.total - i < chunk ? P.total - i : chunk;
                if (rd(&r, buf, sizeof(uint16_t) * k)) { free(buf); goto fail; }
                for (size_t j = 0; j < k; j++) mf->params[i + j] = bf16_to_f32(buf[j]);
            }
            free(buf);
        }
    } else {
        /* sparse: dense part, masks, then packed values */
        ParamLayout Pd;
        param_layout_init(&Pd, &mf->config, layouts, mf->block_size); /* all live: only the dense part matters here */
        size_t dense_part = Pd.dense_part;
        param_layout_free(&Pd);
        mf->masks = (uint8_t **)calloc_check(mf->num_sparse, sizeof(uint8_t *));
        float *dense_buf = (float *)malloc_check(sizeof(float) * (dense_part ? dense_part : 1));
        if (rd(&r, dense_buf, sizeof(float) * dense_part)) { free(dense_buf); goto fail; }
        for (int m = 0; m < mf->num_sparse; m++) {
            int g = bsr_num_grid_blocks(&layouts[m]);
            mf->masks[m] = (uint8_t *)malloc_check(g);
            if (rd(&r, mf->masks[m], g)) { free(dense_buf); goto fail; }
            int live = 0;
            for (int i = 0; i < g; i++) {
                if (mf->masks[m][i] > 1) { snprintf(err, n, "model file '%s': mask of matrix %d holds %d (expected 0/1)", path, m, mf->masks[m][i]); free(dense_buf); goto fail; }
                live += mf->masks[m][i];
            }
            if (live != h[16 + m]) {
                snprintf(err, n, "model file '%s': matrix %d mask has %d live blocks, header says %d (corrupt file)", path, m, live, h[16 + m]);
                free(dense_buf);
                goto fail;
            }
            bsr_layout_set_mask(&layouts[m], mf->masks[m]);
        }
        ParamLayout Ps;
        param_layout_init(&Ps, &mf->config, layouts, mf->block_size);
        mf->num_params = Ps.total;
        mf->params = (float *)malloc_check(sizeof(float) * Ps.total);
        memcpy(mf->params, dense_buf, sizeof(float) * dense_part);
        free(dense_buf);
        int bad = rd(&r, mf->params + dense_part, sizeof(float) * (Ps.total - dense_part));
        param_layout_free(&Ps);
        if (bad) goto fail;
    }
    param_layout_free(&P);
    if (layouts) { gpt2_sparse_layouts_free(&mf->config, layouts); free(layouts); }
    fclose(f);
    return 0;
fail:
    param_layout_free(&P);
    if (layouts) { gpt2_sparse_layouts_free(&mf->config, layouts); free(layouts); }
    fclose(f);
    model_file_free(mf);
    return -1;
}

static int write_model(const char *path, const GPT2Config *cfg, const BsrLayout *layouts, const float *flat, int version,
                       char *err, size_t n) {
    AtomicFile af;
    if (atomic_file_open(&af, path) != 0) {
        snprintf(err, n, "cannot write model file '%s': %s (check the directory exists and is writable)", path, af.error);
        return -1;
    }
    int32_t h[HEADER_INTS];
    memset(h, 0, sizeof(h));
    h[0] = MODEL_FILE_MAGIC;
    h[1] = version;
    config_to_header(cfg, h);
    ParamLayout P;
    param_layout_init(&P, cfg, version == MODEL_VERSION_SPARSE_F32 ? layouts : NULL, layouts ? layouts[0].bs : 0);
    if (version == MODEL_VERSION_SPARSE_F32) {
        h[8] = layouts[0].bs;
        h[9] = 2;
        for (int m = 0; m < P.num_sparse; m++) h[16 + m] = layouts[m].nnz;
    }
    int rc = atomic_file_write(&af, h, sizeof(h));
    if (version == MODEL_VERSION_SPARSE_F32) {
        rc |= atomic_file_write(&af, flat, sizeof(float) * P.dense_part);
        for (int m = 0; m < P.num_sparse; m++)
            rc |= atomic_file_write(&af, layouts[m].mask, (size_t)bsr_num_grid_blocks(&layouts[m]));
        rc |= atomic_file_write(&af, flat + P.dense_part, sizeof(float) * (P.total - P.dense_part));
    } else if (layouts) {
        /* dense export of a sparse model */
        float *dense = (float *)malloc_check(sizeof(float) * gpt2_num_dense_params(cfg));
        gpt2_flat_sparse_to_dense(cfg, layouts, flat, dense);
        rc |= atomic_file_write(&af, dense, sizeof(float) * gpt2_num_dense_params(cfg));
        free(dense);
    } else {
        rc |= atomic_file_write(&af, flat, sizeof(float) * P.total);
    }
    param_layout_free(&P);
    if (rc != 0 || atomic_file_commit(&af) != 0) {
        snprintf(err, n, "writing model file '%s' failed: %s (disk full or not writable?); any earlier file of that name is untouched",
                 path, af.error);
        atomic_file_abort(&af);
        return -1;
    }
    return 0;
}

int model_file_write(const char *path, const GPT2Config *cfg, const BsrLayout *layouts, const float *flat, char *err, size_t n) {
    return write_model(path, cfg, layouts, flat, layouts ? MODEL_VERSION_SPARSE_F32 : MODEL_VERSION_DENSE_F32, err, n);
}

int model_file_export_dense(const char *path, const GPT2Config *cfg, const BsrLayout *layouts, const float *flat, char *err, size_t n) {
    return write_model(path, cfg, layouts, flat, MODEL_VERSION_DENSE_F32, err, n);
}

/* ------------------------------------------------------------------ state files */

static void put64(int32_t *h, int i, uint64_t v) { memcpy(&h[i], &v, sizeof(v)); }
static uint64_t get64(const int32_t *h, int i) { uint64_t v; memcpy(&v, &h[i], sizeof(v)); return v; }
static void putf(int32_t *h, int i, float v) { memcpy(&h[i], &v, sizeof(v)); }
static float getf(const int32_t *h, int i) { float v; memcpy(&v, &h[i], sizeof(v)); return v; }

int state_file_write(const char *path, const TrainState *st, char *err, size_t n) {
    int32_t h[HEADER_INTS];
    memset(h, 0, sizeof(h));
    h[0] = STATE_FILE_MAGIC;
    h[1] = STATE_FILE_VERSION;
    h[2] = st->rank;
    h[3] = st->world_size;
    put64(h, 4, (uint64_t)st->step);
    put64(h, 6, (uint64_t)st->loader_bytes);
    put64(h, 8, (uint64_t)st->num_params);
    h[10] = st->schedule.kind;
    putf(h, 11, st->schedule.s_init);
    putf(h, 12, st->schedule.s_final);
    h[13] = st->schedule.t_start;
    h[14] = st->schedule.t_end;
    h[15] = st->schedule.every;
    h[16] = st->score_kind;
    h[17] = st->prune_global;
    put64(h, 18, (uint64_t)st->last_prune_step);
    put64(h, 20, st->mask_checksum);
    for (int i = 0; i < 4; i++) put64(h, 22 + 2 * i, st->rng[i]);
    put64(h, 30, st->params_bf16 ? (uint64_t)st->num_params_bf16 : 0);
    AtomicFile af;
    if (atomic_file_open(&af, path) != 0) {
        snprintf(err, n, "cannot write state file '%s': %s (check the directory exists and is writable)", path, af.error);
        return -1;
    }
    int rc = atomic_file_write(&af, h, sizeof(h));
    rc |= atomic_file_write(&af, st->loader, st->loader_bytes);
    rc |= atomic_file_write(&af, st->m, sizeof(float) * st->num_params);
    rc |= atomic_file_write(&af, st->v, sizeof(float) * st->num_params);
    if (st->params_bf16) rc |= atomic_file_write(&af, st->params_bf16, sizeof(uint16_t) * st->num_params_bf16);
    if (rc != 0 || atomic_file_commit(&af) != 0) {
        snprintf(err, n, "writing state file '%s' failed: %s (disk full or not writable?); any earlier file of that name is untouched",
                 path, af.error);
        atomic_file_abort(&af);
        return -1;
    }
    return 0;
}

void state_file_free(TrainState *st) {
    free(st->loader);
    free(st->m);
    free(st->v);
    free(st->params_bf16);
    st->loader = NULL; st->m = st->v = NULL;
    st->params_bf16 = NULL;
}

int state_file_read(const char *path, TrainState *st, char *err, size_t n) {
    memset(st, 0, sizeof(*st));
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, n, "cannot open state file '%s': %s", path, strerror(errno)); return -1; }
    Reader r = {f, path, err, n};
    int32_t h[HEADER_INTS];
    if (rd(&r, h, sizeof(h))) goto fail;
    if (h[0] != STATE_FILE_MAGIC) {
        snprintf(err, n, "'%s' is not a training state file: magic %d, expected %d", path, h[0], STATE_FILE_MAGIC);
        goto fail;
    }
    if (h[1] != STATE_FILE_VERSION) {
        snprintf(err, n, "state file '%s' has version %d, this build reads version %d; resume with the build that wrote it",
                 path, h[1], STATE_FILE_VERSION);
        goto fail;
    }
    st->rank = h[2];
    st->world_size = h[3];
    st->step = (int64_t)get64(h, 4);
    st->loader_bytes = (size_t)get64(h, 6);
    st->num_params = (size_t)get64(h, 8);
    st->schedule.kind = (PruneScheduleKind)h[10];
    st->schedule.s_init = getf(h, 11);
    st->schedule.s_final = getf(h, 12);
    st->schedule.t_start = h[13];
    st->schedule.t_end = h[14];
    st->schedule.every = h[15];
    st->score_kind = h[16];
    st->prune_global = h[17];
    st->last_prune_step = (int64_t)get64(h, 18);
    st->mask_checksum = get64(h, 20);
    for (int i = 0; i < 4; i++) st->rng[i] = get64(h, 22 + 2 * i);
    st->num_params_bf16 = (size_t)get64(h, 30);
    if (st->num_params_bf16 != 0 && st->num_params_bf16 != st->num_params) {
        snprintf(err, n, "state file '%s' is corrupt: %zu bf16 weights for %zu parameters", path, st->num_params_bf16, st->num_params);
        goto fail;
    }
    long long expect = (long long)sizeof(h) + (long long)st->loader_bytes + 8LL * (long long)st->num_params +
                       2LL * (long long)st->num_params_bf16;
    long long fsize = file_size_bytes(path);
    if (st->loader_bytes > (1u << 20) || fsize != expect) {
        snprintf(err, n, "state file '%s' has %lld bytes, its header implies %lld: the file is truncated or corrupt; "
                 "resume from an earlier checkpoint", path, fsize, expect);
        goto fail;
    }
    st->loader = malloc_check(st->loader_bytes);
    st->m = (float *)malloc_check(sizeof(float) * st->num_params);
    st->v = (float *)malloc_check(sizeof(float) * st->num_params);
    if (rd(&r, st->loader, st->loader_bytes) || rd(&r, st->m, sizeof(float) * st->num_params) ||
        rd(&r, st->v, sizeof(float) * st->num_params))
        goto fail;
    if (st->num_params_bf16) {
        st->params_bf16 = (uint16_t *)malloc_check(sizeof(uint16_t) * st->num_params_bf16);
        if (rd(&r, st->params_bf16, sizeof(uint16_t) * st->num_params_bf16)) goto fail;
    }
    fclose(f);
    return 0;
fail:
    fclose(f);
    state_file_free(st);
    return -1;
}

/* ------------------------------------------------------------------ names */

void checkpoint_model_path(char *buf, size_t n, const char *dir, long step) { snprintf(buf, n, "%s/model_%08ld.bin", dir, step); }
void checkpoint_state_path(char *buf, size_t n, const char *dir, long step, int rank) {
    snprintf(buf, n, "%s/state_%08ld_%05d.bin", dir, step, rank);
}
void checkpoint_done_path(char *buf, size_t n, const char *dir, long step) { snprintf(buf, n, "%s/DONE_%08ld", dir, step); }

long checkpoint_find_latest(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return -1;
    long best = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (strncmp(name, "DONE_", 5) != 0 || strlen(name) != 13) continue;
        long long step;
        if (parse_long(name + 5, &step) == 0 && step > best) best = (long)step;
    }
    closedir(d);
    return best;
}

static int cmp_long_desc(const void *a, const void *b) {
    const long x = *(const long *)a, y = *(const long *)b;
    return x > y ? -1 : x < y;
}

int checkpoint_prune_old(const char *dir, int keep, int world_size) {
    if (keep <= 0) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    long *steps = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        long long step;
        if (strncmp(name, "DONE_", 5) != 0 || strlen(name) != 13 || parse_long(name + 5, &step) != 0) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            steps = (long *)realloc_check(steps, cap * sizeof(long));
        }
        steps[n++] = (long)step;
    }
    closedir(d);
    if (n > 1) qsort(steps, n, sizeof(long), cmp_long_desc);
    int removed = 0;
    for (size_t i = (size_t)keep; i < n; i++, removed++) checkpoint_remove(dir, steps[i], world_size);
    free(steps);
    return removed;
}

int checkpoint_write_done(const char *dir, long step, char *err, size_t n) {
    char path[1024];
    checkpoint_done_path(path, sizeof(path), dir, step);
    AtomicFile af;
    if (atomic_file_open(&af, path) != 0 || atomic_file_write(&af, "done\n", 5) != 0 || atomic_file_commit(&af) != 0) {
        snprintf(err, n, "cannot write checkpoint marker '%s': %s", path, af.error);
        atomic_file_abort(&af);
        return -1;
    }
    return 0;
}

void checkpoint_remove(const char *dir, long step, int world_size) {
    char path[1024];
    checkpoint_done_path(path, sizeof(path), dir, step);
    unlink(path);
    checkpoint_model_path(path, sizeof(path), dir, step);
    unlink(path);
    for (int r = 0; r < world_size; r++) {
        checkpoint_state_path(path, sizeof(path), dir, step, r);
        unlink(path);
    }
}

uint64_t gpt2_mask_checksum(const BsrLayout *layouts, int num_sparse) {
    uint64_t h = FNV1A64_INIT;
    for (int m = 0; m < num_sparse; m++) h = fnv1a64(layouts[m].mask, (size_t)bsr_num_grid_blocks(&layouts[m]), h);
    return h;
}
