/*
 * train_gpt2.c - the CPU fp32 reference trainer.
 *
 * Same model, flags, files and pruning as the GPU trainer (train_gpt2.cu), on
 * the CPU with OpenMP. It is the reference the GPU trainer is checked against,
 * and a way to train small models anywhere. Reads top to bottom: configuration,
 * the model (random init, a model file, or a checkpoint to resume), the data,
 * the pruning schedule, then the training loop; helpers for evaluation,
 * sampling and checkpoints come first.
 *
 *   ./train_gpt2 -e d2 -b 4 -t 64 -x 200 --sparsity 0.9 --block 32 -o log_d2
 *   ./train_gpt2 --help
 */
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/train_args.h"
#include "core/train_common.h"
#include "core/utils.h"
#include "data/dataloader.h"
#include "data/tokenizer.h"
#include "model/checkpoint.h"
#include "model/gpt2.h"
#include "model/gpt2_cpu.h"
#include "sparse/prune.h"

/* ------------------------------------------------------------------ the run's state */

typedef struct {
    TrainArgs args;
    GPT2Cpu model;
    DataLoader *train_loader, *val_loader;
    Tokenizer *tokenizer;
    Logger logger;
    PruneSchedule schedule;
    int sparse;               /* model has block-sparse MLPs */
    int pruning;              /* a schedule with s_final > 0 is active */
    BsrScoreKind score;
    int prune_global;
    long last_prune_step;
    int grad_accum_steps;
    int max_steps;
    int start_step;
    Rng rng;                  /* sampling */
    int *inputs, *targets;
} Run;

/* ------------------------------------------------------------------ helpers */

static int pattern_matches(const char *pattern) {
    glob_t g;
    int rc = glob(pattern, 0, NULL, &g);
    int n = rc == 0 ? (int)g.gl_pathc : 0;
    if (rc == 0) globfree(&g);
    return n;
}

/* Mean loss over up to val_max_steps batches of the validation split. */
static double evaluate(Run *r) {
    const int B = r->args.batch_size, T = r->args.seq_len;
    dataloader_reset(r->val_loader);
    long long n = dataloader_samples_per_epoch(r->val_loader);
    if (r->args.val_max_steps >= 0 && r->args.val_max_steps < n) n = r->args.val_max_steps;
    double sum = 0;
    for (long long i = 0; i < n; i++) {
        dataloader_next_batch(r->val_loader, r->inputs, r->targets);
        sum += gpt2_cpu_forward(&r->model, r->inputs, r->targets, B, T);
    }
    return n > 0 ? sum / (double)n : NAN;
}

/* Generate gen_tokens tokens from <|endoftext|> and print them. Uses its own
 * RNG stream so sampling never changes the training trajectory. */
static void sample_and_print(Run *r, int step) {
    const int B = r->args.batch_size, T = r->args.seq_len;
    const GPT2Config *c = &r->model.config;
    int eot = tokenizer_eot(r->tokenizer);
    Rng rng;
    rng_seed(&rng, (uint64_t)r->args.seed * 1000003ULL + (uint64_t)step);
    for (int i = 0; i < B * T; i++) r->inputs[i] = eot;
    int n = r->args.gen_tokens < T ? r->args.gen_tokens : T - 1;
    float *probs = (float *)malloc_check(sizeof(float) * c->vocab_size);
    printf("generating:\n---\n");
    for (int t = 1; t <= n; t++) {
        gpt2_cpu_forward(&r->model, r->inputs, NULL, B, T);
        const real *row = r->model.acts.probs + (size_t)(t - 1) * c->padded_vocab_size;
        for (int v = 0; v < c->vocab_size; v++) probs[v] = (float)row[v];
        int next = sample_from_probs(probs, c->vocab_size, rng_uniform_f32(&rng));
        r->inputs[t] = next;
        tokenizer_print_safe(tokenizer_decode(r->tokenizer, (uint32_t)next));
        fflush(stdout);
    }
    printf("\n---\n");
    free(probs);
}

static void save_checkpoint(Run *r, long step) {
    const char *dir = r->args.output_dir;
    GPT2Cpu *m = &r->model;
    char path[1200], err[CKPT_ERR_LEN];
    float *flat = (float *)malloc_check(sizeof(float) * m->P.total);
    float *mom = (float *)malloc_check(sizeof(float) * m->P.total);
    float *vel = (float *)malloc_check(sizeof(float) * m->P.total);
    gpt2_cpu_get_flat_f32(m, m->params, flat);
    gpt2_cpu_get_flat_f32(m, m->m, mom);
    gpt2_cpu_get_flat_f32(m, m->v, vel);
    long prev = checkpoint_find_latest(dir);
    char prev_note[128];
    if (prev >= 0) snprintf(prev_note, sizeof(prev_note), "the previous checkpoint (step %ld) is intact", prev);
    else snprintf(prev_note, sizeof(prev_note), "no earlier checkpoint exists");

    checkpoint_model_path(path, sizeof(path), dir, step);
    if (model_file_write(path, &m->config, m->layouts, flat, err, sizeof(err)) != 0)
        DIE("free disk space or fix the permissions of -o, then resume with -y 1", "checkpoint at step %ld not written: %s; %s",
            step, err, prev_note);
    DataLoaderState ls;
    dataloader_get_state(r->train_loader, &ls);
    TrainState st;
    memset(&st, 0, sizeof(st));
    st.step = step;
    st.rank = 0;
    st.world_size = 1;
    memcpy(st.rng, r->rng.s, sizeof(st.rng));
    st.schedule = r->schedule;
    st.score_kind = r->score;
    st.prune_global = r->prune_global;
    st.last_prune_step = r->last_prune_step;
    st.mask_checksum = m->layouts ? gpt2_mask_checksum(m->layouts, m->P.num_sparse) : 0;
    st.loader = &ls;
    st.loader_bytes = sizeof(ls);
    st.m = mom;
    st.v = vel;
    st.num_params = m->P.total;
    checkpoint_state_path(path, sizeof(path), dir, step, 0);
    if (state_file_write(path, &st, err, sizeof(err)) != 0)
        DIE("free disk space or fix the permissions of -o, then resume with -y 1", "checkpoint at step %ld not written: %s; %s",
            step, err, prev_note);
    if (checkpoint_write_done(dir, step, err, sizeof(err)) != 0)
        DIE("free disk space or fix the permissions of -o, then resume with -y 1", "checkpoint at step %ld not completed: %s; %s",
            step, err, prev_note);
    checkpoint_model_path(path, sizeof(path), dir, step);
    printf("checkpoint: step %ld written to %s (model file %.1f MB)\n", step, dir, (double)file_size_bytes(path) / 1e6);
    if (r->args.keep_checkpoints > 0 && r->args.checkpoint_every > 0) {
        long old = step - (long)r->args.keep_checkpoints * r->args.checkpoint_every;
        if (old > 0) checkpoint_remove(dir, old, 1);
    }
    free(flat); free(mom); free(vel);
}

/* ------------------------------------------------------------------ model setup */

/* Build the model from (in order of precedence) the newest checkpoint when
 * resuming, a model file given with -e, or a descriptor with random init. */
static void init_model(Run *r, TrainState *resume_state) {
    TrainArgs *a = &r->args;
    char err[CKPT_ERR_LEN];
    ModelFile mf;
    int have_file = 0;
    long resume_step = -1;
    memset(resume_state, 0, sizeof(*resume_state));
    if (a->resume) {
        if (!a->output_dir[0]) DIE("pass the run's output directory with -o", "-y 1 needs -o: resume reads checkpoints from there");
        resume_step = checkpoint_find_latest(a->output_dir);
        if (resume_step < 0) {
            printf("resume: no complete checkpoint (DONE_*) in %s, starting from scratch\n", a->output_dir);
        } else {
            char path[1200];
            checkpoint_model_path(path, sizeof(path), a->output_dir, resume_step);
            if (model_file_read(path, &mf, err, sizeof(err)) != 0) DIE("resume from an earlier checkpoint or start over", "%s", err);
            checkpoint_state_path(path, sizeof(path), a->output_dir, resume_step, 0);
            if (state_file_read(path, resume_state, err, sizeof(err)) != 0) DIE("resume from an earlier checkpoint or start over", "%s", err);
            if (resume_state->world_size != 1)
                DIE("resume with the same number of processes (or the GPU trainer)",
                    "checkpoint %s was written by %d processes; the CPU trainer runs one", path, resume_state->world_size);
            have_file = 1;
            printf("resume: step %ld from %s\n", resume_step, a->output_dir);
        }
    }
    if (!have_file && file_exists(a->model_init)) {
        if (model_file_read(a->model_init, &mf, err, sizeof(err)) != 0) DIE("pass an llm.c or block-sparse model file, or a descriptor such as d12", "%s", err);
        have_file = 1;
        printf("model: loaded %s (version %d)\n", a->model_init, mf.version);
    }
    GPT2Config cfg;
    float *flat = NULL;
    int block_size = 0;
    uint8_t **masks = NULL;
    float *owned = NULL;
    if (have_file) {
        cfg = mf.config;
        flat = mf.params;
        block_size = mf.block_size;
        masks = mf.masks;
    } else {
        if (gpt2_config_from_descriptor(a->model_init, &cfg, err, sizeof(err)) != 0)
            DIE("-e takes a model file that exists or a descriptor", "%s", err);
        owned = (float *)malloc_check(sizeof(float) * gpt2_num_dense_params(&cfg));
        gpt2_random_init_dense(&cfg, (uint64_t)a->seed, owned);
        flat = owned;
        printf("model: random init of %s (seed %lld)\n", a->model_init, a->seed);
    }
    /* a dense model that is to be pruned becomes block-sparse with every block live */
    if (block_size > 0 && train_args_given(a, "block") && a->block_size != block_size)
        DIE("drop --block or start from a dense model", "--block %d given, but the model file is block-sparse with block %d",
            a->block_size, block_size);
    if (block_size == 0 && a->sparsity > 0) {
        BsrLayout *lay = (BsrLayout *)calloc_check(gpt2_num_sparse_matrices(&cfg), sizeof(BsrLayout));
        if (gpt2_sparse_layouts_init(&cfg, a->block_size, lay, err, sizeof(err)) != 0)
            DIE("choose --block that divides C (e.g. 32 or 64)", "--block %d: %s", a->block_size, err);
        ParamLayout P;
        param_layout_init(&P, &cfg, lay, a->block_size);
        float *sp = (float *)malloc_check(sizeof(float) * P.total);
        gpt2_flat_dense_to_sparse(&cfg, lay, flat, sp);
        param_layout_free(&P);
        gpt2_sparse_layouts_free(&cfg, lay);
        free(lay);
        free(owned);
        owned = sp;
        flat = sp;
        block_size = a->block_size;
    }
    gpt2_cpu_init(&r->model, &cfg, block_size, masks, flat);
    r->sparse = block_size > 0;
    if (have_file) model_file_free(&mf);
    free(owned);
    if (resume_step >= 0) {
        GPT2Cpu *m = &r->model;
        if (resume_state->num_params != m->P.total)
            DIE("the state file does not belong to this model file; resume from an intact checkpoint",
                "state has %zu optimizer entries, model has %zu parameters", resume_state->num_params, m->P.total);
        if (m->layouts && resume_state->mask_checksum != gpt2_mask_checksum(m->layouts, m->P.num_sparse))
            DIE("the model and state files come from different checkpoints", "mask checksum mismatch in checkpoint %ld", resume_step);
        gpt2_cpu_set_flat_f32(m, m->m, resume_state->m);
        gpt2_cpu_set_flat_f32(m, m->v, resume_state->v);
        r->start_step = (int)resume_state->step;
    }
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv) {
    Run run;
    memset(&run, 0, sizeof(run));
    Run *r = &run;
    TrainArgs *a = &r->args;
    train_args_parse(a, argc, argv, TRAINER_CPU);
    train_args_print(a, TRAINER_CPU);

    /* the model */
    TrainState rs;
    init_model(r, &rs);
    const GPT2Config *c = &r->model.config;
    const int B = a->batch_size, T = a->seq_len;
    if (T > c->max_seq_len) DIE("use a smaller -t", "-t %d exceeds the model's max_seq_len %d", T, c->max_seq_len);
    printf("model: L=%d C=%d NH=%d V=%d maxT=%d, %zu parameters (%zu dense)\n", c->num_layers, c->channels, c->num_heads,
           c->vocab_size, c->max_seq_len, r->model.P.total, gpt2_num_dense_params(c));

    /* the data */
    if (!pattern_matches(a->train_data))
        DIE("run `make data` for the default corpus, or pass -i with your shards", "no training shards match '%s'", a->train_data);
    r->train_loader = dataloader_create(a->train_data, B, T, 0, 1, a->shuffle, (uint64_t)a->seed, c->vocab_size);
    if (a->val_data[0]) {
        if (pattern_matches(a->val_data)) r->val_loader = dataloader_create(a->val_data, B, T, 0, 1, 0, 0, c->vocab_size);
        else if (train_args_given(a, "j")) DIE("pass -j with existing shards, or -j \"\" for none", "no validation shards match '%s'", a->val_data);
        else printf("validation: no shards match '%s', skipping validation\n", a->val_data);
    }
    int tokens_per_micro = B * T;
    int total = a->total_batch_size > 0 ? a->total_batch_size : tokens_per_micro;
    if (total % tokens_per_micro != 0)
        DIE("make -d a multiple of B*T", "-d %d is not a multiple of B*T = %d", total, tokens_per_micro);
    r->grad_accum_steps = total / tokens_per_micro;
    long long per_epoch = dataloader_samples_per_epoch(r->train_loader) / r->grad_accum_steps;
    r->max_steps = a->max_steps > 0 ? a->max_steps : (int)per_epoch;
    if (r->max_steps < 1) DIE("use more data or a smaller -b/-t/-d", "the training data holds less than one step of %d tokens", total);
    printf("data: %lld training tokens in %d shards; %d tokens per step (%d micro-steps); %d steps\n",
           dataloader_num_tokens(r->train_loader), dataloader_num_shards(r->train_loader), total, r->grad_accum_steps, r->max_steps);
    r->inputs = (int *)malloc_check(sizeof(int) * B * T);
    r->targets = (int *)malloc_check(sizeof(int) * B * T);
    char tok_path[1200], *slash;
    snprintf(tok_path, sizeof(tok_path), "%s", a->train_data);
    slash = strrchr(tok_path, '/');
    if (slash) strcpy(slash + 1, "gpt2_tokenizer.bin"); else strcpy(tok_path, "gpt2_tokenizer.bin");
    r->tokenizer = file_exists(tok_path) ? tokenizer_load(tok_path) : NULL;
    if (!r->tokenizer && a->sample_every > 0) printf("sampling: no tokenizer at %s, skipping samples\n", tok_path);

    /* the pruning schedule */
    char err[512];
    if (prune_schedule_from_args(a, r->max_steps, &r->schedule, err, sizeof(err)) != 0) DIE("fix the sparsity flags", "%s", err);
    r->score = !strcmp(a->score, "l1") ? BSR_SCORE_L1 : BSR_SCORE_L2;
    r->prune_global = !strcmp(a->prune_scope, "global");
    r->last_prune_step = -1;
    rng_seed(&r->rng, (uint64_t)a->seed);
    if (r->start_step > 0) {
        /* resuming: the checkpoint's schedule and data position, unless the flags change the schedule */
        if (!prune_schedule_flags_given(a)) {
            r->schedule = rs.schedule;
            r->score = (BsrScoreKind)rs.score_kind;
            r->prune_global = rs.prune_global;
        }
        r->last_prune_step = (long)rs.last_prune_step;
        memcpy(r->rng.s, rs.rng, sizeof(rs.rng));
        if (rs.loader_bytes != sizeof(DataLoaderState)) DIE("resume with the build that wrote the checkpoint", "dataloader state of %zu bytes, expected %zu", rs.loader_bytes, sizeof(DataLoaderState));
        dataloader_set_state(r->train_loader, (const DataLoaderState *)rs.loader);
        state_file_free(&rs);
    }
    r->pruning = r->sparse && r->schedule.s_final > 0;
    if (r->pruning)
        printf("pruning: %s schedule %.3f -> %.3f over steps %d..%d, masks every %d steps, block %d, score %s, %s ranking\n",
               prune_schedule_kind_name(r->schedule.kind), r->schedule.s_init, r->schedule.s_final, r->schedule.t_start,
               r->schedule.t_end, r->schedule.every, r->model.block_size, r->score == BSR_SCORE_L1 ? "l1" : "l2",
               r->prune_global ? "global" : "per-matrix");
    else if (r->sparse)
        printf("sparsity: block-sparse model at %.3f, masks fixed (no --sparsity schedule)\n", gpt2_cpu_sparsity(&r->model));
    ensure_output_dir(a->output_dir);
    logger_open(&r->logger, a->output_dir, r->start_step > 0);

    /* the training loop: step counts completed optimizer steps */
    double loop_start = wall_clock_seconds();
    for (int step = r->start_step; step <= r->max_steps; step++) {
        int last = step == r->max_steps;
        if (r->val_loader && ((a->val_every > 0 && step % a->val_every == 0) || last)) {
            double vl = evaluate(r);
            printf("step %5d | val loss %.6f\n", step, vl);
            logger_val(&r->logger, step, vl);
        }
        if (r->tokenizer && a->sample_every > 0 && (step % a->sample_every == 0 || last) && step > 0) sample_and_print(r, step);
        if (last) break;

        if (r->pruning && gpt2_cpu_prune(&r->model, &r->schedule, step, r->score, r->prune_global)) {
            r->last_prune_step = step;
            char what[128];
            snprintf(what, sizeof(what), "prune sparsity %.4f params %zu", gpt2_cpu_sparsity(&r->model), r->model.P.total);
            printf("step %5d | %s\n", step, what);
            logger_event(&r->logger, step, what);
        }
        double t0 = wall_clock_seconds();
        gpt2_cpu_zero_grad(&r->model);
        double loss = 0;
        for (int micro = 0; micro < r->grad_accum_steps; micro++) {
            dataloader_next_batch(r->train_loader, r->inputs, r->targets);
            loss += gpt2_cpu_forward(&r->model, r->inputs, r->targets, B, T);
            gpt2_cpu_backward(&r->model, (real)(1.0 / r->grad_accum_steps));
        }
        loss /= r->grad_accum_steps;
        double norm = gpt2_cpu_grad_norm(&r->model);
        float scale = (a->grad_clip > 0 && norm > a->grad_clip) ? (float)(a->grad_clip / norm) : 1.0f;
        float lr = lr_schedule_value(a->lr_schedule, a->learning_rate, step, a->warmup_iters, r->max_steps, a->final_lr_frac);
        gpt2_cpu_update(&r->model, lr, 0.9f, 0.95f, 1e-8f, a->weight_decay, scale, step + 1);
        double ms = 1000.0 * (wall_clock_seconds() - t0);
        double sp = gpt2_cpu_sparsity(&r->model);
        printf("step %5d/%d | loss %.6f | norm %.4f | lr %.2e | sparsity %.3f | %.1f ms | %.0f tok/s\n", step + 1, r->max_steps,
               loss, norm, lr, sp, ms, total / (ms / 1000.0));
        logger_train(&r->logger, step + 1, loss, sp, lr, norm, ms);
        if (a->output_dir[0] && a->checkpoint_every > 0 && ((step + 1) % a->checkpoint_every == 0 || step + 1 == r->max_steps))
            save_checkpoint(r, step + 1);
    }
    printf("done: %d steps in %.1f s\n", r->max_steps - r->start_step, wall_clock_seconds() - loop_start);
    if (a->export_dense[0]) {
        float *flat = (float *)malloc_check(sizeof(float) * r->model.P.total);
        gpt2_cpu_get_flat_f32(&r->model, r->model.params, flat);
        char cerr[CKPT_ERR_LEN];
        if (model_file_export_dense(a->export_dense, c, r->model.layouts, flat, cerr, sizeof(cerr)) != 0)
            DIE("check the --export-dense path", "%s", cerr);
        printf("exported the model as a dense llm.c file: %s\n", a->export_dense);
        free(flat);
    }

    logger_close(&r->logger);
    dataloader_free(r->train_loader);
    if (r->val_loader) dataloader_free(r->val_loader);
    if (r->tokenizer) tokenizer_free(r->tokenizer);
    gpt2_cpu_free(&r->model);
    free(r->inputs);
    free(r->targets);
    return 0;
}
