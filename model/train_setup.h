/*
 * train_setup.h - the host-side set-up both trainers share, so the CPU and GPU
 * trainers cannot drift apart: where the initial model comes from (the newest
 * checkpoint, a model file, or random init), turning a dense model into an
 * all-live block-sparse one, the data loaders and batch arithmetic, the pruning
 * schedule (restored from a checkpoint unless the flags change it), and writing
 * a checkpoint (model file, per-rank state, DONE marker).
 */
#ifndef MODEL_TRAIN_SETUP_H
#define MODEL_TRAIN_SETUP_H

#include <stdint.h>
#include "../core/train_args.h"
#include "../core/utils.h"
#include "../data/dataloader.h"
#include "../data/tokenizer.h"
#include "../sparse/prune.h"
#include "checkpoint.h"
#include "gpt2.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    GPT2Config config;
    int block_size;      /* 0: dense model */
    uint8_t **masks;     /* [2L] grid masks of a sparse model (NULL: dense, or all live) */
    int num_masks;
    float *flat;         /* the flat fp32 parameter vector for that layout */
    long resume_step;    /* -1: not resuming */
    TrainState state;    /* this rank's training state when resuming */
} InitialModel;

/* The model a run starts from: the newest complete checkpoint in -o when -y 1
 * (this rank's state file; the world size must match), else the model file -e,
 * else the descriptor -e with random init from --seed. With --sparsity > 0 a
 * dense model becomes block-sparse with every block live. allowed_blocks, if not
 * NULL, is a 0-terminated list of block sizes the caller's kernels support.
 * Dies with a message naming the file or flag and the fix. */
void initial_model_load(InitialModel *im, const TrainArgs *a, int rank, int world, int verbose, const int *allowed_blocks);
void initial_model_free(InitialModel *im);

typedef struct {
    DataLoader *train, *val;  /* val may be NULL */
    Tokenizer *tokenizer;     /* NULL if absent (or not wanted) */
    int tokens_per_step;      /* B*T*world*grad_accum_steps */
    int grad_accum_steps;
    int max_steps;
} TrainData;

/* Open the loaders (each rank reads its share), work out gradient accumulation
 * and the number of steps, and find gpt2_tokenizer.bin beside the training
 * shards (only if want_tokenizer). */
void train_data_open(TrainData *d, const TrainArgs *a, int vocab_size, int rank, int world, int verbose, int want_tokenizer);
void train_data_close(TrainData *d);

typedef struct {
    PruneSchedule schedule;
    BsrScoreKind score;
    int global;
    long last_prune_step;
} PruneSetup;

/* The pruning schedule from the flags; when resuming, the checkpoint's schedule
 * (unless schedule flags were given), its RNG and the train loader's position. */
void train_resume_setup(PruneSetup *ps, Rng *rng, const TrainArgs *a, int max_steps, const InitialModel *im, DataLoader *train);

/* The "pruning:" line both trainers print, and a warning when the schedule's last mask update comes
 * after the run's last step (max_steps - 1): the run would end short of --sparsity. */
void prune_setup_print(const PruneSetup *ps, int block_size, int max_steps);

/* Everything a checkpoint holds, from the trainer's host copies. */
typedef struct {
    const char *dir;
    long step;
    int rank, world;
    const GPT2Config *config;
    const BsrLayout *layouts;       /* NULL: dense */
    const float *master, *m, *v;    /* flat, num_params each */
    size_t num_params;
    const uint16_t *params_bf16;    /* or NULL */
    const DataLoader *train;
    const Rng *rng;
    const PruneSetup *prune;
    int keep_checkpoints, checkpoint_every;
    void (*barrier)(void *ctx);     /* called after every rank wrote its state (NULL: one process) */
    void *barrier_ctx;
} CheckpointWrite;

/* Rank 0 writes the model file, every rank its state file, then (after the
 * barrier) rank 0 the DONE marker and removes checkpoints beyond -nk. A failed
 * write dies with a message saying the previous checkpoint is intact. */
void checkpoint_save(const CheckpointWrite *w, int verbose);

#ifdef __cplusplus
}
#endif
#endif /* MODEL_TRAIN_SETUP_H */
