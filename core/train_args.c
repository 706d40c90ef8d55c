/* train_args.c - the option table, parser and usage text (see train_args.h). */
#include "train_args.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "utils.h"

typedef enum { OPT_INT, OPT_LONG, OPT_FLOAT, OPT_STR, OPT_BOOL } OptType;

typedef struct {
    const char *short_name;   /* without '-', NULL if none */
    const char *long_name;    /* without '--' */
    OptType type;
    size_t offset;            /* into TrainArgs */
    size_t str_size;          /* for OPT_STR */
    const char *def;          /* default, as text */
    double min, max;          /* accepted range for numbers (inclusive; max < min: unbounded) */
    const char *choices;      /* for strings: "a|b|c", NULL: any */
    int trainers;             /* TRAINER_CPU | TRAINER_GPU */
    const char *help;
} Opt;

#define BOTH (TRAINER_CPU | TRAINER_GPU)
#define F(field) offsetof(TrainArgs, field)
#define S(field) offsetof(TrainArgs, field), sizeof(((TrainArgs *)0)->field)

static const Opt OPTS[] = {
    {"i", "train-data", OPT_STR, S(train_data), "data/default/train_*.bin", 0, -1, NULL, BOTH, "training shards (glob pattern or file)"},
    {"j", "val-data", OPT_STR, S(val_data), "data/default/val_*.bin", 0, -1, NULL, BOTH, "validation shards (glob or file; \"\" = none)"},
    {"o", "output", OPT_STR, S(output_dir), "", 0, -1, NULL, BOTH, "output directory for main.log and checkpoints (\"\" = none)"},
    {"e", "model", OPT_STR, S(model_init), "d12", 0, -1, NULL, BOTH, "model file (llm.c v3/v5 or ours) or descriptor d1..d12, d24, d36, d48, custom:L=,C=,NH=,T=,V="},
    {NULL, "export-dense", OPT_STR, S(export_dense), "", 0, -1, NULL, BOTH, "at the end, also write the model as a dense llm.c v3 file here"},
    {"b", "batch", OPT_INT, F(batch_size), 0, "4", 1, 1 << 20, NULL, BOTH, "micro-batch size B (sequences per forward pass)"},
    {"t", "seq-len", OPT_INT, F(seq_len), 0, "64", 1, 1 << 20, NULL, BOTH, "sequence length T"},
    {"d", "total-batch", OPT_INT, F(total_batch_size), 0, "-1", -1, 1 << 30, NULL, BOTH, "tokens per optimizer step (gradient accumulation); -1 = B*T*processes"},
    {NULL, "shuffle", OPT_INT, F(shuffle), 0, "1", 0, 1, NULL, BOTH, "shuffle shard and sample order of the training data each epoch (0/1)"},
    {NULL, "seed", OPT_LONG, F(seed), 0, "1337", 0, 9.0e18, NULL, BOTH, "seed for initialization, data order and sampling"},
    {"l", "lr", OPT_FLOAT, F(learning_rate), 0, "3e-4", 0, 10, NULL, BOTH, "peak learning rate"},
    {"u", "warmup", OPT_INT, F(warmup_iters), 0, "0", 0, 1 << 30, NULL, BOTH, "learning-rate warmup steps"},
    {"q", "final-lr-frac", OPT_FLOAT, F(final_lr_frac), 0, "1.0", 0, 1, NULL, BOTH, "final learning rate as a fraction of the peak"},
    {"k", "lr-schedule", OPT_STR, S(lr_schedule), "cosine", 0, -1, "cosine|linear|constant", BOTH, "learning-rate decay after warmup"},
    {"c", "weight-decay", OPT_FLOAT, F(weight_decay), 0, "0.0", 0, 10, NULL, BOTH, "AdamW weight decay (2-D weights only)"},
    {NULL, "grad-clip", OPT_FLOAT, F(grad_clip), 0, "1.0", 0, 1e30, NULL, BOTH, "clip the global gradient norm to this (0 = off)"},
    {"x", "max-steps", OPT_INT, F(max_steps), 0, "-1", -1, 1 << 30, NULL, BOTH, "optimizer steps to run; -1 = one epoch of the training data"},
    {"v", "val-every", OPT_INT, F(val_every), 0, "20", 0, 1 << 30, NULL, BOTH, "validation loss every this many steps (0 = only at the end)"},
    {"m", "val-steps", OPT_INT, F(val_max_steps), 0, "20", -1, 1 << 30, NULL, BOTH, "batches per validation (-1 = the whole split)"},
    {"s", "sample-every", OPT_INT, F(sample_every), 0, "20", 0, 1 << 30, NULL, BOTH, "generate a sample every this many steps (0 = never)"},
    {"g", "gen-tokens", OPT_INT, F(gen_tokens), 0, "64", 1, 1 << 20, NULL, BOTH, "tokens per sample"},
    {"n", "checkpoint-every", OPT_INT, F(checkpoint_every), 0, "0", 0, 1 << 30, NULL, BOTH, "write a checkpoint every this many steps, and at the end (0 = never)"},
    {"nk", "keep-checkpoints", OPT_INT, F(keep_checkpoints), 0, "0", 0, 1 << 30, NULL, BOTH, "keep only the newest this many checkpoints (0 = all)"},
    {"y", "resume", OPT_INT, F(resume), 0, "0", 0, 1, NULL, BOTH, "1 = resume from the newest complete checkpoint in -o (GPU: bit-exact with BSR_FORCE_PATH=rule and --gemm-tune 0, README)"},
    {"r", "recompute", OPT_INT, F(recompute), 0, "1", 0, 1, NULL, TRAINER_GPU, "do not keep the GELU output per layer: dense recomputes it in backward, the sparse MLP applies the GELU inside its kernels (0 keep it, 1 do not)"},
    {"z", "zero", OPT_INT, F(zero_stage), 0, "0", 0, 1, NULL, TRAINER_GPU, "ZeRO stage: 1 shards the fp32 master weights and AdamW moments over the ranks"},
    {NULL, "attention", OPT_STR, S(attention), "auto", 0, -1, "auto|own|cudnn", TRAINER_GPU, "attention kernels: cuDNN's fused SDPA when built in (auto), or our flash attention (own)"},
    {NULL, "gemm-tune", OPT_INT, F(gemm_tune), 0, "1", 0, 1, NULL, TRAINER_GPU, "time cuBLASLt's candidate algorithms for each dense GEMM on first use and keep a faster one (1), or always take cuBLASLt's first pick (0: same kernels on every run)"},
    {"pi", "dist-init", OPT_STR, S(dist_init), "mpi", 0, -1, "mpi|tcp|fs", TRAINER_GPU, "how processes find each other: mpirun (MPI), a TCP server (-ps), or a shared directory (-pf)"},
    {"ps", "dist-server", OPT_STR, S(dist_server), "", 0, -1, NULL, TRAINER_GPU, "-pi tcp: address of the process with rank 0"},
    {"pf", "dist-fs-path", OPT_STR, S(dist_fs_path), "", 0, -1, NULL, TRAINER_GPU, "-pi fs: a directory every process can read and write"},
    {"pn", "dist-processes", OPT_INT, F(dist_num_processes), 0, "-1", -1, 1 << 20, NULL, TRAINER_GPU, "number of processes (-1: from mpirun/Slurm)"},
    {"pr", "dist-rank", OPT_INT, F(dist_rank), 0, "-1", -1, 1 << 20, NULL, TRAINER_GPU, "this process's rank (-1: from mpirun/Slurm)"},
    {"pg", "dist-gpus-per-node", OPT_INT, F(dist_gpus_per_node), 0, "-1", -1, 1024, NULL, TRAINER_GPU, "GPUs per node, local rank = rank mod this (-1: from the launcher)"},
    {NULL, "dist-port", OPT_INT, F(dist_port), 0, "29517", 1, 65535, NULL, TRAINER_GPU, "-pi tcp: rendezvous port"},
    {NULL, "dist-timeout", OPT_FLOAT, F(dist_timeout), 0, "600", 1, 1e7, NULL, TRAINER_GPU, "seconds to wait for other processes before giving up"},
    {NULL, "sparsity", OPT_FLOAT, F(sparsity), 0, "0.0", 0, 0.9999999, NULL, BOTH, "final fraction of MLP weight blocks pruned, in [0, 1); 0 = dense model"},
    {NULL, "sparsity-init", OPT_FLOAT, F(sparsity_init), 0, "0.0", 0, 0.9999999, NULL, BOTH, "sparsity at --prune-start (schedule's s_i)"},
    {NULL, "block", OPT_INT, F(block_size), 0, "64", 1, 1024, NULL, BOTH, "block size of the sparse MLP weights (must divide C; GPU: 32, 64 or 128)"},
    {NULL, "prune-start", OPT_INT, F(prune_start), 0, "-1", -1, 1 << 30, NULL, BOTH, "first mask-update step (-1 = 10% of the run)"},
    {NULL, "prune-end", OPT_INT, F(prune_end), 0, "-1", -1, 1 << 30, NULL, BOTH, "last mask-update step, when --sparsity is reached (-1 = 60% of the run)"},
    {NULL, "prune-every", OPT_INT, F(prune_every), 0, "-1", -1, 1 << 30, NULL, BOTH, "steps between mask updates (-1 = about 20 updates)"},
    {NULL, "schedule", OPT_STR, S(schedule), "cubic", 0, -1, "cubic|linear|oneshot", BOTH, "sparsity schedule between prune-start and prune-end"},
    {NULL, "score", OPT_STR, S(score), "l2", 0, -1, "l2|l1", BOTH, "block score for pruning (norm of the fp32 master weights)"},
    {NULL, "prune-scope", OPT_STR, S(prune_scope), "layer", 0, -1, "layer|global", BOTH, "rank blocks per matrix, or across all MLP matrices by score over the matrix's mean"},
};
#define NUM_OPTS ((int)(sizeof(OPTS) / sizeof(OPTS[0])))


static int set_value(TrainArgs *a, const Opt *o, const char *val, char *err, size_t n) {
    char *base = (char *)a + o->offset;
    int bounded = o->max >= o->min;
    switch (o->type) {
        case OPT_INT: case OPT_BOOL: {
            int v;
            if (parse_int(val, &v) != 0) { snprintf(err, n, "expected an integer, got '%s'", val); return -1; }
            if (bounded && (v < o->min || v > o->max)) { snprintf(err, n, "%d is outside [%.10g, %.10g]", v, o->min, o->max); return -1; }
            *(int *)base = v;
            return 0;
        }
        case OPT_LONG: {
            long long v;
            if (parse_long(val, &v) != 0) { snprintf(err, n, "expected an integer, got '%s'", val); return -1; }
            if (bounded && (v < o->min || (double)v > o->max)) { snprintf(err, n, "%lld is outside [%.10g, %.10g]", v, o->min, o->max); return -1; }
            *(long long *)base = v;
            return 0;
        }
        case OPT_FLOAT: {
            float v;
            if (parse_float(val, &v) != 0) { snprintf(err, n, "expected a number, got '%s'", val); return -1; }
            if (bounded && (v < o->min || v > o->max)) {
                if (o->max == 0.9999999) snprintf(err, n, "%g is outside [0, 1)", v);
                else snprintf(err, n, "%g is outside [%.10g, %.10g]", v, o->min, o->max);
                return -1;
            }
            *(float *)base = v;
            return 0;
        }
        case OPT_STR: {
            if (o->choices) {
                size_t len = strlen(val);
                const char *p = o->choices;
                int ok = 0;
                while (*p) {
                    const char *bar = strchr(p, '|');
                    size_t l = bar ? (size_t)(bar - p) : strlen(p);
                    if (l == len && strncmp(p, val, l) == 0) { ok = 1; break; }
                    if (!bar) break;
                    p = bar + 1;
                }
                if (!ok) { snprintf(err, n, "'%s' is not one of %s", val, o->choices); return -1; }
            }
            if (strlen(val) >= o->str_size) { snprintf(err, n, "value longer than %zu characters", o->str_size - 1); return -1; }
            strcpy(base, val);
            return 0;
        }
    }
    return -1;
}

void train_args_defaults(TrainArgs *a) {
    memset(a, 0, sizeof(*a));
    char err[256];
    for (int i = 0; i < NUM_OPTS; i++)
        if (set_value(a, &OPTS[i], OPTS[i].def, err, sizeof(err)) != 0)
            DIE("fix the option table in core/train_args.c", "bad default for --%s: %s", OPTS[i].long_name, err);
}

static const char *type_word(const Opt *o) {
    switch (o->type) {
        case OPT_INT: case OPT_LONG: return "int";
        case OPT_FLOAT: return "float";
        case OPT_BOOL: return "0|1";
        default: return o->choices ? o->choices : "str";
    }
}

void train_args_usage(const char *program, TrainerKind kind) {
    printf("usage: %s [options]\n\n", program);
    printf("Train a GPT-2 model whose MLP weights are pruned to block sparsity during training.\n\noptions:\n");
    for (int i = 0; i < NUM_OPTS; i++) {
        const Opt *o = &OPTS[i];
        if (!(o->trainers & kind)) continue;
        char names[64];
        if (o->short_name) snprintf(names, sizeof(names), "-%s, --%s", o->short_name, o->long_name);
        else snprintf(names, sizeof(names), "    --%s", o->long_name);
        printf("  %-24s %-22s %s (default: %s)\n", names, type_word(o), o->help, o->def[0] ? o->def : "\"\"");
    }
    printf("  -h, --help                                      print this help\n");
    printf("\nexamples:\n  %s -e d12 -b 4 -t 64 -x 200 --sparsity 0.9 --block 64 -o log_d12\n", program);
    printf("  %s -o log_d12 -y 1        # resume the newest complete checkpoint in log_d12\n", program);
}

static const Opt *find_opt(const char *arg, TrainerKind kind, int *index) {
    for (int i = 0; i < NUM_OPTS; i++) {
        const Opt *o = &OPTS[i];
        int match = (arg[0] == '-' && arg[1] == '-' && strcmp(arg + 2, o->long_name) == 0) ||
                    (arg[0] == '-' && arg[1] != '-' && o->short_name && strcmp(arg + 1, o->short_name) == 0);
        if (match) { *index = i; return o; }
    }
    (void)kind;
    return NULL;
}

void train_args_parse(TrainArgs *a, int argc, char **argv, TrainerKind kind) {
    train_args_defaults(a);
    const char *prog = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) { train_args_usage(prog, kind); exit(0); }
        char flag[128];
        snprintf(flag, sizeof(flag), "%s", arg);
        const char *val = NULL;
        char *eq = strchr(flag, '=');
        if (eq && flag[0] == '-' && flag[1] == '-') { *eq = '\0'; val = arg + (eq - flag) + 1; }
        int idx;
        const Opt *o = arg[0] == '-' ? find_opt(flag, kind, &idx) : NULL;
        if (!o) {
            fprintf(stderr, "error: unknown option '%s'\n  hint: run %s --help for the list of options\n", arg, prog);
            exit(1);
        }
        if (!(o->trainers & kind)) {
            fprintf(stderr, "error: option '%s' is only for the %s trainer\n  hint: run %s --help\n", arg,
                    kind == TRAINER_CPU ? "GPU" : "CPU", prog);
            exit(1);
        }
        if (!val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "error: option '%s' needs a value (%s)\n  hint: %s\n", arg, type_word(o), o->help);
                exit(1);
            }
            val = argv[++i];
        }
        char err[256];
        if (set_value(a, o, val, err, sizeof(err)) != 0) {
            fprintf(stderr, "error: bad value for %s: %s\n  expected: %s (%s)\n", arg, err, type_word(o), o->help);
            exit(1);
        }
        a->given[idx] = 1;
    }
}

int train_args_given(const TrainArgs *a, const char *name) {
    for (int i = 0; i < NUM_OPTS; i++) {
        if (!strcmp(OPTS[i].long_name, name) || (OPTS[i].short_name && !strcmp(OPTS[i].short_name, name)))
            return a->given[i];
    }
    return 0;
}

void train_args_print(const TrainArgs *a, TrainerKind kind) {
    printf("+-----------------------+------------------------------------------------------+\n");
    for (int i = 0; i < NUM_OPTS; i++) {
        const Opt *o = &OPTS[i];
        if (!(o->trainers & kind)) continue;
        const char *base = (const char *)a + o->offset;
        char v[600];
        switch (o->type) {
            case OPT_INT: case OPT_BOOL: snprintf(v, sizeof(v), "%d", *(const int *)base); break;
            case OPT_LONG: snprintf(v, sizeof(v), "%lld", *(const long long *)base); break;
            case OPT_FLOAT: snprintf(v, sizeof(v), "%g", *(const float *)base); break;
            default: snprintf(v, sizeof(v), "%s", base); break;
        }
        printf("| %-21s | %-52s |\n", o->long_name, v);
    }
    printf("+-----------------------+------------------------------------------------------+\n");
}
