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
#include "model/train_setup.h"
#include "sparse/prune.h"

/* ------------------------------------------------------------------ the run's state */

typedef struct {
    TrainArgs args;
    GPT2Cpu model;
    TrainData data;
    Logger logger;
    PruneSetup prune;
    int pruning;              /* a schedule with s_final > 0 on a block-sparse model */
    int start_step;
    Rng rng;
    int *inputs, *targets;
} Run;

/* ------------------------------------------------------------------ helpers */

/* Mean loss over up to val_max_steps batches of the validation split. */
static double evaluate(Run *r) {
    const int B = r->args.batch_size, T = r->args.seq_len;
    dataloader_reset(r->data.val);
    long long n = dataloader_samples_per_epoch(r->data.val);
    if (r->args.val_max_steps >= 0 && r->args.val_max_steps < n) n = r->args.val_max_steps;
    double sum = 0;
    for (long long i = 0; i < n; i++) {
        dataloader_next_batch(r->data.val, r->inputs, r->targets);
        sum += gpt2_cpu_forward(&r->model, r->inputs, r->targets, B, T);
    }
    return n > 0 ? sum / (double)n : NAN;
}

/* Generate gen_tokens tokens from <|endoftext|> and print them. Uses its own
 * RNG stream so sampling never changes the training trajectory. */
static void sample_and_print(Run *r, int step) {
    const int B = r->args.batch_size, T = r->args.seq_len;
    const GPT2Config *c = &r->model.config;
    int eot = tokenizer_eot(r->data.tokenizer);
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
        tokenizer_print_safe(tokenizer_decode(r->data.tokenizer, (uint32_t)next));
        fflush(stdout);
    }
    printf("\n---\n");
    free(probs);
}

static void save_checkpoint(Run *r, long step) {
    GPT2Cpu *m = &r->model;
    float *flat = (float *)malloc_check(sizeof(float) * m->P.total);
    float *mom = (float *)malloc_check(sizeof(float) * m->P.total);
    float *vel = (float *)malloc_check(sizeof(float) * m->P.total);
    gpt2_cpu_get_flat_f32(m, m->params, flat);
    gpt2_cpu_get_flat_f32(m, m->m, mom);
    gpt2_cpu_get_flat_f32(m, m->v, vel);
    CheckpointWrite w = {r->args.output_dir, step, 0, 1, &m->config, m->layouts, flat, mom, vel, m->P.total, NULL,
                         r->data.train, &r->rng, &r->prune, r->args.keep_checkpoints, r->args.checkpoint_every, NULL, NULL};
    checkpoint_save(&w, 1);
    free(flat); free(mom); free(vel);
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv) {
    Run run;
    memset(&run, 0, sizeof(run));
    Run *r = &run;
    TrainArgs *a = &r->args;
    train_args_parse(a, argc, argv, TRAINER_CPU);
    train_args_print(a, TRAINER_CPU);

    /* the model: the newest checkpoint (-y 1), a model file or a descriptor (-e) */
    InitialModel im;
    initial_model_load(&im, a, 0, 1, 1, NULL);
    gpt2_cpu_init(&r->model, &im.config, im.block_size, im.masks, im.flat);
    GPT2Cpu *model = &r->model;
    const GPT2Config *c = &model->config;
    const int B = a->batch_size, T = a->seq_len;
    if (im.resume_step >= 0) {
        if (im.state.num_params != model->P.total)
            DIE("the state file does not belong to this model file; resume from an intact checkpoint",
                "state has %zu optimizer entries, model has %zu parameters", im.state.num_params, model->P.total);
        if (model->layouts && im.state.mask_checksum != gpt2_mask_checksum(model->layouts, model->P.num_sparse))
            DIE("the model and state files come from different checkpoints", "mask checksum mismatch in checkpoint %ld", im.resume_step);
        gpt2_cpu_set_flat_f32(model, model->m, im.state.m);
        gpt2_cpu_set_flat_f32(model, model->v, im.state.v);
        r->start_step = (int)im.state.step;
    }
    printf("model: L=%d C=%d NH=%d V=%d maxT=%d, %zu parameters (%zu dense)\n", c->num_layers, c->channels, c->num_heads,
           c->vocab_size, c->max_seq_len, model->P.total, gpt2_num_dense_params(c));

    /* the data, and the pruning schedule (restored when resuming) */
    train_data_open(&r->data, a, c->vocab_size, 0, 1, 1, 1);
    const int total = r->data.tokens_per_step, max_steps = r->data.max_steps;
    r->inputs = (int *)malloc_check(sizeof(int) * B * T);
    r->targets = (int *)malloc_check(sizeof(int) * B * T);
    train_resume_setup(&r->prune, &r->rng, a, max_steps, &im, r->data.train);
    initial_model_free(&im);
    const PruneSchedule *S = &r->prune.schedule;
    r->pruning = model->layouts && S->s_final > 0;
    if (r->pruning) prune_setup_print(&r->prune, model->block_size, max_steps);
    else if (model->layouts)
        printf("sparsity: block-sparse model at %.3f, masks fixed (no --sparsity schedule)\n", gpt2_cpu_sparsity(model));
    ensure_output_dir(a->output_dir);
    logger_open(&r->logger, a->output_dir, r->start_step > 0);

    /* the training loop: step counts completed optimizer steps */
    double loop_start = wall_clock_seconds();
    for (int step = r->start_step; step <= max_steps; step++) {
        int last = step == max_steps;
        if (r->data.val && ((a->val_every > 0 && step % a->val_every == 0) || last)) {
            double vl = evaluate(r);
            printf("step %5d | val loss %.6f\n", step, vl);
            logger_val(&r->logger, step, vl);
        }
        if (r->data.tokenizer && a->sample_every > 0 && (step % a->sample_every == 0 || last) && step > 0) sample_and_print(r, step);
        if (last) break;

        if (r->pruning && gpt2_cpu_prune(model, S, step, r->prune.score, r->prune.global)) {
            r->prune.last_prune_step = step;
            char what[128];
            snprintf(what, sizeof(what), "prune sparsity %.4f params %zu", gpt2_cpu_sparsity(model), model->P.total);
            printf("step %5d | %s\n", step, what);
            logger_event(&r->logger, step, what);
        }
        double t0 = wall_clock_seconds();
        gpt2_cpu_zero_grad(model);
        double loss = 0;
        for (int micro = 0; micro < r->data.grad_accum_steps; micro++) {
            dataloader_next_batch(r->data.train, r->inputs, r->targets);
            loss += gpt2_cpu_forward(model, r->inputs, r->targets, B, T);
            gpt2_cpu_backward(model, (real)(1.0 / r->data.grad_accum_steps));
        }
        loss /= r->data.grad_accum_steps;
        double norm = gpt2_cpu_grad_norm(model);
        float scale = (a->grad_clip > 0 && norm > a->grad_clip) ? (float)(a->grad_clip / norm) : 1.0f;
        float lr = lr_schedule_value(a->lr_schedule, a->learning_rate, step, a->warmup_iters, max_steps, a->final_lr_frac);
        gpt2_cpu_update(model, lr, 0.9f, 0.95f, 1e-8f, a->weight_decay, scale, step + 1);
        double ms = 1000.0 * (wall_clock_seconds() - t0);
        double sp = gpt2_cpu_sparsity(model);
        printf("step %5d/%d | loss %.6f | norm %.4f | lr %.2e | sparsity %.3f | %.1f ms | %.0f tok/s\n", step + 1, max_steps, loss,
               norm, lr, sp, ms, total / (ms / 1000.0));
        logger_train(&r->logger, step + 1, loss, sp, lr, norm, ms);
        if (a->output_dir[0] && a->checkpoint_every > 0 && ((step + 1) % a->checkpoint_every == 0 || step + 1 == max_steps))
            save_checkpoint(r, step + 1);
    }
    printf("done: %d steps in %.1f s\n", max_steps - r->start_step, wall_clock_seconds() - loop_start);
    if (a->export_dense[0]) {
        float *flat = (float *)malloc_check(sizeof(float) * model->P.total);
        gpt2_cpu_get_flat_f32(model, model->params, flat);
        char cerr[CKPT_ERR_LEN];
        if (model_file_export_dense(a->export_dense, c, model->layouts, flat, cerr, sizeof(cerr)) != 0)
            DIE("check the --export-dense path", "%s", cerr);
        printf("exported the model as a dense llm.c file: %s\n", a->export_dense);
        free(flat);
    }

    logger_close(&r->logger);
    train_data_close(&r->data);
    gpt2_cpu_free(model);
    free(r->inputs);
    free(r->targets);
    return 0;
}
