/* train_common.c - see train_common.h. */
#include "train_common.h"

#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>

#include "utils.h"

float lr_schedule_value(const char *kind, float max_lr, int step, int warmup, int max_steps, float final_frac) {
    float min_lr = max_lr * final_frac;
    if (step < warmup) return max_lr * (float)(step + 1) / (float)warmup;
    if (!strcmp(kind, "constant") || max_steps <= warmup) return max_lr;
    double ratio = (double)(step - warmup) / (double)(max_steps - warmup);
    if (ratio > 1) ratio = 1;
    if (!strcmp(kind, "linear")) return (float)(max_lr - ratio * (max_lr - min_lr));
    double coeff = 0.5 * (1.0 + cos(3.14159265358979323846 * ratio));
    return (float)(min_lr + coeff * (max_lr - min_lr));
}

int prune_schedule_flags_given(const TrainArgs *a) {
    static const char *names[] = {"sparsity", "sparsity-init", "prune-start", "prune-end", "prune-every", "schedule"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (train_args_given(a, names[i])) return 1;
    return 0;
}

int prune_schedule_from_args(const TrainArgs *a, int max_steps, PruneSchedule *S, char *err, size_t n) {
    memset(S, 0, sizeof(*S));
    int kind = prune_schedule_kind_from_name(a->schedule);
    if (kind < 0) { snprintf(err, n, "--schedule %s: expected cubic, linear or oneshot", a->schedule); return -1; }
    S->kind = (PruneScheduleKind)kind;
    S->s_init = a->sparsity_init;
    S->s_final = a->sparsity;
    if (a->sparsity_init > a->sparsity) {
        snprintf(err, n, "--sparsity-init %g is above --sparsity %g: pruning only removes blocks", a->sparsity_init, a->sparsity);
        return -1;
    }
    S->t_start = a->prune_start >= 0 ? a->prune_start : (int)(0.1 * max_steps);
    S->t_end = a->prune_end >= 0 ? a->prune_end : (int)(0.6 * max_steps);
    if (a->prune_end < 0 && S->t_end < S->t_start) S->t_end = S->t_start; /* only --prune-start given, late */
    if (S->t_end < S->t_start) {
        snprintf(err, n, "--prune-end %d is before --prune-start %d", S->t_end, S->t_start);
        return -1;
    }
    if (a->prune_every > 0) S->every = a->prune_every;
    else { S->every = (S->t_end - S->t_start) / 20; if (S->every < 1) S->every = 1; }
    if (a->prune_every == 0) { snprintf(err, n, "--prune-every 0: expected a positive number of steps"); return -1; }
    return 0;
}

void logger_open(Logger *lg, const char *dir, int append) {
    lg->f = NULL;
    lg->path[0] = '\0';
    if (!dir || !dir[0]) return;
    snprintf(lg->path, sizeof(lg->path), "%s/main.log", dir);
    lg->f = fopen_check(lg->path, append ? "a" : "w", "check that the output directory (-o) is writable");
}

void logger_train(Logger *lg, int step, double loss, double sparsity, double lr, double norm, double ms) {
    if (!lg->f) return;
    fprintf(lg->f, "s:%d trl:%.9g sp:%.6f lr:%.6e norm:%.6g ms:%.3f\n", step, loss, sparsity, lr, norm, ms);
    fflush(lg->f);
}

void logger_val(Logger *lg, int step, double loss) {
    if (!lg->f) return;
    fprintf(lg->f, "s:%d tel:%.9g\n", step, loss);
    fflush(lg->f);
}

void logger_event(Logger *lg, int step, const char *what) {
    if (!lg->f) return;
    fprintf(lg->f, "s:%d event:%s\n", step, what);
    fflush(lg->f);
}

void logger_close(Logger *lg) {
    if (lg->f) fclose(lg->f);
    lg->f = NULL;
}

int sample_from_probs(const float *probs, int n, float coin) {
    float cdf = 0.0f;
    for (int i = 0; i < n; i++) {
        cdf += probs[i];
        if (coin < cdf) return i;
    }
    return n - 1; /* rounding */
}

void ensure_output_dir(const char *dir) {
    if (!dir || !dir[0]) return;
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        mkdir(buf, 0755);
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        DIE("choose a writable -o directory", "cannot create output directory '%s': %s", dir, strerror(errno));
}
