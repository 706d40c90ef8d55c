/*
 * train_common.h - what the CPU and GPU trainers share beyond the command line:
 * the learning-rate schedule, turning the sparsity flags into a PruneSchedule,
 * main.log, and sampling from a probability row.
 */
#ifndef CORE_TRAIN_COMMON_H
#define CORE_TRAIN_COMMON_H

#include <stdio.h>
#include "../sparse/prune.h"
#include "train_args.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Learning rate at optimizer step `step` (0-based): linear warmup over `warmup`
 * steps, then cosine | linear | constant decay to final_frac * max_lr at max_steps. */
float lr_schedule_value(const char *kind, float max_lr, int step, int warmup, int max_steps, float final_frac);

/* The pruning schedule from the flags, with -1 defaults resolved against
 * max_steps (start 10%, end 60%, about 20 updates). Returns 0, or -1 with a
 * message in err naming the flag. */
int prune_schedule_from_args(const TrainArgs *a, int max_steps, PruneSchedule *S, char *err, size_t err_len);
/* Whether the command line set any of the schedule flags (then they override a
 * resumed checkpoint's schedule). */
int prune_schedule_flags_given(const TrainArgs *a);

/* main.log in the output directory (llm.c's "s:STEP trl:LOSS" / "s:STEP tel:LOSS"
 * lines, plus sparsity, lr and norm). Opened for append when resuming. */
typedef struct { FILE *f; char path[1024]; } Logger;
void logger_open(Logger *lg, const char *dir, int append);
void logger_train(Logger *lg, int step, double loss, double sparsity, double lr, double norm, double ms);
void logger_val(Logger *lg, int step, double loss);
void logger_event(Logger *lg, int step, const char *what);
void logger_close(Logger *lg);

/* Index drawn from probs[0..n) (summing to ~1) with the coin in [0, 1). */
int sample_from_probs(const float *probs, int n, float coin);

/* Make the output directory (and parents); DIE with a hint if impossible. */
void ensure_output_dir(const char *dir);

#ifdef __cplusplus
}
#endif
#endif /* CORE_TRAIN_COMMON_H */
