/*
 * train_args.h - the trainers' command line. One table (train_args.c) drives
 * both the parser and the usage text, so --help is always true. llm.c's letters
 * keep their meaning and defaults; sparsity options have long names.
 */
#ifndef CORE_TRAIN_ARGS_H
#define CORE_TRAIN_ARGS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { TRAINER_CPU = 1, TRAINER_GPU = 2 } TrainerKind;

typedef struct {
    /* data */
    char train_data[512];     /* -i */
    char val_data[512];       /* -j */
    char output_dir[512];     /* -o */
    char model_init[512];     /* -e: model file or descriptor */
    char export_dense[512];   /* --export-dense */
    int batch_size;           /* -b */
    int seq_len;              /* -t */
    int total_batch_size;     /* -d, tokens per optimizer step; -1 = B*T*world */
    int shuffle;              /* --shuffle */
    long long seed;           /* --seed */
    /* optimization */
    float learning_rate;      /* -l */
    int warmup_iters;         /* -u */
    float final_lr_frac;      /* -q */
    char lr_schedule[32];     /* -k: cosine | linear | constant */
    float weight_decay;       /* -c */
    float grad_clip;          /* --grad-clip */
    int max_steps;            /* -x, -1 = one epoch */
    /* evaluation, sampling, checkpoints */
    int val_every;            /* -v */
    int val_max_steps;        /* -m */
    int sample_every;         /* -s */
    int gen_tokens;           /* -g */
    int checkpoint_every;     /* -n */
    int keep_checkpoints;     /* -nk, 0 = keep all */
    int resume;               /* -y */
    /* GPU-only */
    int recompute;            /* -r */
    int zero_stage;           /* -z */
    char attention[8];        /* --attention: auto | own | cudnn */
    int gemm_tune;            /* --gemm-tune: time cuBLASLt's candidates on first use (1) or take its first pick (0) */
    char dist_init[8];        /* -pi: mpi | tcp | fs */
    char dist_server[256];    /* -ps: rank 0's address (tcp) */
    char dist_fs_path[512];   /* -pf: shared directory (fs) */
    int dist_num_processes;   /* -pn, -1 = from the launcher */
    int dist_rank;            /* -pr, -1 = from the launcher */
    int dist_gpus_per_node;   /* -pg, -1 = from the launcher */
    int dist_port;            /* --dist-port */
    float dist_timeout;       /* --dist-timeout, seconds */
    /* sparsity */
    float sparsity;           /* --sparsity: final fraction of MLP blocks pruned, [0, 1) */
    float sparsity_init;      /* --sparsity-init */
    int block_size;           /* --block */
    int prune_start;          /* --prune-start, -1 = 10% of max steps */
    int prune_end;            /* --prune-end, -1 = 60% of max steps */
    int prune_every;          /* --prune-every, -1 = (end - start) / 20 */
    char schedule[16];        /* --schedule: cubic | linear | oneshot */
    char score[8];            /* --score: l2 | l1 */
    char prune_scope[8];      /* --prune-scope: layer | global */
    /* set[i] = 1 if the option in row i of the table was given on the command line */
    unsigned char given[64];
} TrainArgs;

/* Parse argv into a (defaulted) TrainArgs. Prints usage and exits 0 on -h/--help;
 * on an unknown flag, a missing value or a bad value prints what was expected
 * and exits 1. */
void train_args_parse(TrainArgs *a, int argc, char **argv, TrainerKind kind);
void train_args_defaults(TrainArgs *a);
void train_args_usage(const char *program, TrainerKind kind);
/* Whether an option (by its long name without dashes, e.g. "sparsity", or its
 * short letter(s) without the dash, e.g. "b") was given on the command line. */
int train_args_given(const TrainArgs *a, const char *name);
/* Print every option's value, one per line, as llm.c does at start-up. */
void train_args_print(const TrainArgs *a, TrainerKind kind);

#ifdef __cplusplus
}
#endif
#endif /* CORE_TRAIN_ARGS_H */
