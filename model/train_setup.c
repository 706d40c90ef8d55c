/* train_setup.c - host-side set-up shared by both trainers (see train_setup.h). */
#include "train_setup.h"

#include <errno.h>
#include <glob.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/train_common.h"

static int pattern_matches(const char *pattern) {
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    int n = rc == 0 ? (int)g.gl_pathc : 0;
    if (rc == 0) globfree(&g);
    return n;
}

/* ------------------------------------------------------------------ the initial model */

/* --export-dense is written at the end of the run: a directory that cannot take it must stop the run at
 * its start, not after it (without -o the trained weights would be lost) */
static void check_export_path(const char *path) {
    if (!path || !path[0]) return;
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof(dir), ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    if (access(dir, W_OK) != 0)
        DIE("create the directory, or give --export-dense a path in a writable one",
            "--export-dense %s: cannot write into '%s' (%s); checked now so that the run does not end without it", path, dir,
            strerror(errno));
}

void initial_model_load(InitialModel *im, const TrainArgs *a, int rank, int world, int verbose, const int *allowed_blocks) {
    check_export_path(a->export_dense);
    char err[CKPT_ERR_LEN];
    ModelFile mf;
    int have_file = 0;
    memset(im, 0, sizeof(*im));
    im->resume_step = -1;
    if (a->resume) {
        if (!a->output_dir[0]) DIE("pass the run's output directory with -o", "-y 1 needs -o: resume reads checkpoints from there");
        long step = checkpoint_find_latest(a->output_dir);
        if (step < 0) {
            if (verbose) printf("resume: no complete checkpoint (DONE_*) in %s, starting from scratch\n", a->output_dir);
        } else {
            char path[1200];
            checkpoint_model_path(path, sizeof(path), a->output_dir, step);
            if (model_file_read(path, &mf, err, sizeof(err)) != 0) DIE("resume from an earlier checkpoint or start over", "%s", err);
            checkpoint_state_path(path, sizeof(path), a->output_dir, step, rank);
            if (!file_exists(path))
                DIE("resume with as many processes as wrote the checkpoint", "rank %d: no state file %s in checkpoint %ld", rank,
                    path, step);
            if (state_file_read(path, &im->state, err, sizeof(err)) != 0) DIE("resume from an earlier checkpoint or start over", "%s", err);
            if (im->state.world_size != world)
                DIE("resume with the same number of processes (mpirun -np / -pn): another world size would change the data order",
                    "checkpoint %ld was written by %d process(es); this run has %d", step, im->state.world_size, world);
            have_file = 1;
            im->resume_step = step;
            if (verbose) printf("resume: step %ld from %s\n", step, a->output_dir);
        }
    }
    if (!have_file && file_exists(a->model_init)) {
        if (model_file_read(a->model_init, &mf, err, sizeof(err)) != 0)
            DIE("pass an llm.c or block-sparse model file, or a descriptor such as d12", "%s", err);
        have_file = 1;
        if (verbose) printf("model: loaded %s (version %d)\n", a->model_init, mf.version);
    }
    if (have_file) {
        im->config = mf.config;
        im->block_size = mf.block_size;
        im->masks = mf.masks;
        im->num_masks = mf.num_sparse;
        im->flat = mf.params;
        mf.masks = NULL; /* ownership moves to im */
        mf.params = NULL;
        model_file_free(&mf);
    } else {
        if (gpt2_config_from_descriptor(a->model_init, &im->config, err, sizeof(err)) != 0)
            DIE("-e takes a model file that exists or a descriptor", "%s", err);
        im->flat = (float *)malloc_check(sizeof(float) * gpt2_num_dense_params(&im->config));
        gpt2_random_init_dense(&im->config, (uint64_t)a->seed, im->flat);
        if (verbose) printf("model: random init of %s (seed %lld)\n", a->model_init, a->seed);
    }
    const GPT2Config *c = &im->config;
    if (a->seq_len > c->max_seq_len)
        DIE("use a smaller -t, or a model with a longer context", "-t %d exceeds the model's max_seq_len %d", a->seq_len, c->max_seq_len);
    if (im->block_size > 0 && train_args_given(a, "block") && a->block_size != im->block_size)
        DIE("drop --block or start from a dense model", "--block %d given, but the model is block-sparse with block %d", a->block_size,
            im->block_size);
    if (im->block_size == 0 && a->sparsity > 0) {
        if (allowed_blocks) {
            int ok = 0;
            char list[64] = "";
            for (const int *b = allowed_blocks; *b; b++) {
                ok |= *b == a->block_size;
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%d", b == allowed_blocks ? "" : ", ", *b);
            }
            if (!ok) DIE("choose a block size this trainer's kernels support", "--block %d: supported block sizes are %s", a->block_size, list);
        }
        int M = gpt2_num_sparse_matrices(c);
        BsrLayout *lay = (BsrLayout *)calloc_check(M, sizeof(BsrLayout));
        if (gpt2_sparse_layouts_init(c, a->block_size, lay, err, sizeof(err)) != 0)
            DIE("choose --block that divides C (e.g. 32 or 64)", "--block %d: %s", a->block_size, err);
        ParamLayout P;
        param_layout_init(&P, c, lay, a->block_size);
        float *sp = (float *)malloc_check(sizeof(float) * P.total);
        gpt2_flat_dense_to_sparse(c, lay, im->flat, sp);
        if (im->resume_step >= 0) {
            /* resuming a dense checkpoint with --sparsity: its moments move into the block layout too,
             * its mask checksum becomes the all-live masks', and its exact bf16 weights (dense order)
             * are dropped: the GPU trainer rounds the masters again */
            TrainState *st = &im->state;
            if (st->num_params == P.total) {
                float *mv[2] = {st->m, st->v};
                for (int k = 0; k < 2; k++) {
                    float *moved = (float *)malloc_check(sizeof(float) * P.total);
                    gpt2_flat_dense_to_sparse(c, lay, mv[k], moved);
                    memcpy(mv[k], moved, sizeof(float) * P.total);
                    free(moved);
                }
            }
            st->mask_checksum = gpt2_mask_checksum(lay, M);
            free(st->params_bf16);
            st->params_bf16 = NULL;
            st->num_params_bf16 = 0;
            if (verbose) printf("resume: the dense checkpoint's weights and moments moved into blocks of %d\n", a->block_size);
        }
        param_layout_free(&P);
        gpt2_sparse_layouts_free(c, lay);
        free(lay);
        free(im->flat);
        im->flat = sp;
        im->block_size = a->block_size;
    }
}

void initial_model_free(InitialModel *im) {
    if (im->masks) for (int m = 0; m < im->num_masks; m++) free(im->masks[m]);
    free(im->masks);
    free(im->flat);
    if (im->resume_step >= 0) state_file_free(&im->state);
    memset(im, 0, sizeof(*im));
}

/* ------------------------------------------------------------------ data */

void train_data_open(TrainData *d, const TrainArgs *a, int vocab, int rank, int world, int verbose, int want_tokenizer) {
    memset(d, 0, sizeof(*d));
    const int B = a->batch_size, T = a->seq_len;
    if (!pattern_matches(a->train_data))
        DIE("run `make data` for the default corpus, or pass -i with your shards", "no training shards match '%s'", a->train_data);
    d->train = dataloader_create(a->train_data, B, T, rank, world, a->shuffle, (uint64_t)a->seed, vocab);
    if (a->val_data[0]) {
        if (pattern_matches(a->val_data)) d->val = dataloader_create(a->val_data, B, T, rank, world, 0, 0, vocab);
        else if (train_args_given(a, "j")) DIE("pass -j with existing shards, or -j \"\" for none", "no validation shards match '%s'", a->val_data);
        else if (verbose) printf("validation: no shards match '%s', skipping validation\n", a->val_data);
    }
    const long per_micro = (long)B * T * world;
    d->tokens_per_step = a->total_batch_size > 0 ? a->total_batch_size : (int)per_micro;
    if (d->tokens_per_step % per_micro != 0)
        DIE("make -d a multiple of B*T*processes", "-d %d is not a multiple of B*T*processes = %d*%d*%d", d->tokens_per_step, B, T, world);
    d->grad_accum_steps = (int)(d->tokens_per_step / per_micro);
    long long per_epoch = dataloader_samples_per_epoch(d->train) / d->grad_accum_steps;
    if (a->max_steps == 0) DIE("give -x a positive number of steps, or -1 for one epoch", "-x 0: no step to run");
    d->max_steps = a->max_steps > 0 ? a->max_steps : (int)per_epoch;
    if (d->max_steps < 1)
        DIE("use more data or a smaller -b/-t/-d", "the training data holds less than one step of %d tokens", d->tokens_per_step);
    if (verbose)
        printf("data: %lld training tokens in %d shards; %d tokens per step (%d process(es) x %d micro-steps); %d steps\n",
               dataloader_num_tokens(d->train), dataloader_num_shards(d->train), d->tokens_per_step, world, d->grad_accum_steps,
               d->max_steps);
    if (want_tokenizer) {
        char path[1200];
        snprintf(path, sizeof(path), "%s", a->train_data);
        char *slash = strrchr(path, '/');
        if (slash) strcpy(slash + 1, "gpt2_tokenizer.bin"); else strcpy(path, "gpt2_tokenizer.bin");
        d->tokenizer = file_exists(path) ? tokenizer_load(path) : NULL;
        if (!d->tokenizer && a->sample_every > 0 && verbose) printf("sampling: no tokenizer at %s, skipping samples\n", path);
    }
}

void train_data_close(TrainData *d) {
    if (d->train) dataloader_free(d->train);
    if (d->val) dataloader_free(d->val);
    if (d->tokenizer) tokenizer_free(d->tokenizer);
    memset(d, 0, sizeof(*d));
}

/* ------------------------------------------------------------------ schedule and resume */

void train_resume_setup(PruneSetup *ps, Rng *rng, const TrainArgs *a, int max_steps, const InitialModel *im, DataLoader *train) {
    char err[512];
    memset(ps, 0, sizeof(*ps));
    if (prune_schedule_from_args(a, max_steps, &ps->schedule, err, sizeof(err)) != 0) DIE("fix the sparsity flags", "%s", err);
    ps->score = !strcmp(a->score, "l1") ? BSR_SCORE_L1 : BSR_SCORE_L2;
    ps->global = !strcmp(a->prune_scope, "global");
    ps->last_prune_step = -1;
    rng_seed(rng, (uint64_t)a->seed);
    if (im->resume_step < 0) return;
    const TrainState *st = &im->state;
    /* resume continues the checkpoint's schedule, score and ranking scope, each unless the command line
     * names it (a schedule flag, --score, --prune-scope) */
    if (!prune_schedule_flags_given(a)) ps->schedule = st->schedule;
    else if (im->resume_step > ps->schedule.t_end && ps->schedule.s_final > 0) {
        /* a schedule changed at resume whose last update step is already behind: without this no update
         * step would come and the run would stay at the checkpoint's sparsity. One mask update at the
         * first resumed step takes it to --sparsity (nothing changes if it is there already). */
        PruneSchedule *S = &ps->schedule;
        S->kind = PRUNE_ONESHOT;
        S->s_init = S->s_final;
        S->t_start = S->t_end = (int)im->resume_step;
        S->every = 1;
    }
    if (!train_args_given(a, "score")) ps->score = (BsrScoreKind)st->score_kind;
    if (!train_args_given(a, "prune-scope")) ps->global = st->prune_global;
    ps->last_prune_step = (long)st->last_prune_step;
    memcpy(rng->s, st->rng, sizeof(st->rng));
    if (st->loader_bytes != sizeof(DataLoaderState))
        DIE("resume with the build that wrote the checkpoint", "dataloader state of %zu bytes, expected %zu", st->loader_bytes,
            sizeof(DataLoaderState));
    dataloader_set_state(train, (const DataLoaderState *)st->loader);
}

void prune_setup_print(const PruneSetup *ps, int block_size, int max_steps) {
    const PruneSchedule *S = &ps->schedule;
    printf("pruning: %s schedule %.3f -> %.3f over steps %d..%d, masks every %d steps, block %d, score %s, %s ranking\n",
           prune_schedule_kind_name(S->kind), S->s_init, S->s_final, S->t_start, S->t_end, S->every, block_size,
           ps->score == BSR_SCORE_L1 ? "l1" : "l2", ps->global ? "global" : "per-matrix");
    if (S->t_end > max_steps - 1)
        printf("warning: the schedule's last mask update (step %d, --prune-end) comes after this run's last step %d (-x "
               "%d): the run ends below --sparsity %.3f; lower --prune-end, or resume later with a larger -x\n",
               S->t_end, max_steps - 1, max_steps, S->s_final);
}

/* ------------------------------------------------------------------ checkpoints */

void checkpoint_save(const CheckpointWrite *w, int verbose) {
    char path[1200], err[CKPT_ERR_LEN];
    /* A checkpoint of this step already in -o (a new run in an old directory) stops being complete
     * before any of its files is replaced: a crash part-way must not leave its DONE marker over a mix
     * of new and old files. The barrier keeps every rank's state file behind the marker's removal. */
    if (w->rank == 0) {
        checkpoint_done_path(path, sizeof(path), w->dir, w->step);
        unlink(path);
    }
    if (w->barrier) w->barrier(w->barrier_ctx);
    long prev = checkpoint_find_latest(w->dir);
    char prev_note[128];
    if (prev >= 0) snprintf(prev_note, sizeof(prev_note), "the previous checkpoint (step %ld) is intact", prev);
    else snprintf(prev_note, sizeof(prev_note), "no earlier checkpoint exists");
    const char *hint = "free disk space or fix the permissions of -o, then resume with -y 1";
    long long model_bytes = 0;
    if (w->rank == 0) {
        checkpoint_model_path(path, sizeof(path), w->dir, w->step);
        if (model_file_write(path, w->config, w->layouts, w->master, err, sizeof(err)) != 0)
            DIE(hint, "checkpoint at step %ld not written: %s; %s", w->step, err, prev_note);
        model_bytes = file_size_bytes(path);
    }
    DataLoaderState ls;
    dataloader_get_state(w->train, &ls);
    TrainState st;
    memset(&st, 0, sizeof(st));
    st.step = w->step;
    st.rank = w->rank;
    st.world_size = w->world;
    memcpy(st.rng, w->rng->s, sizeof(st.rng));
    st.schedule = w->prune->schedule;
    st.score_kind = w->prune->score;
    st.prune_global = w->prune->global;
    st.last_prune_step = w->prune->last_prune_step;
    st.mask_checksum = w->layouts ? gpt2_mask_checksum(w->layouts, gpt2_num_sparse_matrices(w->config)) : 0;
    st.loader = &ls;
    st.loader_bytes = sizeof(ls);
    st.m = (float *)w->m;
    st.v = (float *)w->v;
    st.num_params = w->num_params;
    st.params_bf16 = (uint16_t *)w->params_bf16;
    st.num_params_bf16 = w->params_bf16 ? w->num_params : 0;
    checkpoint_state_path(path, sizeof(path), w->dir, w->step, w->rank);
    if (state_file_write(path, &st, err, sizeof(err)) != 0) DIE(hint, "checkpoint at step %ld not written: %s; %s", w->step, err, prev_note);
    if (w->barrier) w->barrier(w->barrier_ctx);
    if (w->rank != 0) return;
    if (checkpoint_write_done(w->dir, w->step, err, sizeof(err)) != 0)
        DIE(hint, "checkpoint at step %ld not completed: %s; %s", w->step, err, prev_note);
    if (verbose)
        printf("checkpoint: step %ld written to %s (model file %.1f MB, %d state file(s))\n", w->step, w->dir, model_bytes / 1e6, w->world);
    checkpoint_prune_old(w->dir, w->keep_checkpoints, w->world);
}
