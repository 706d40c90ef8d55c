/*
 * prune.c - the pruning schedule and deterministic mask selection (see prune.h).
 *
 * Selection sorts candidates by a total order (score descending, then matrix
 * index ascending, then grid index ascending; NaN scores rank below every
 * number), so the result does not depend on qsort's (in)stability, on the
 * platform or on the rank.
 */
#include "prune.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/utils.h"

/* ------------------------------------------------------------------ schedule */

static const char *const kind_names[] = { "cubic", "linear", "oneshot" };

int prune_schedule_kind_from_name(const char *name) {
    if (!name) return -1;
    for (int i = 0; i < 3; i++)
        if (strcmp(name, kind_names[i]) == 0) return i;
    return -1;
}

const char *prune_schedule_kind_name(PruneScheduleKind kind) {
    if ((int)kind < 0 || (int)kind > 2) return "unknown";
    return kind_names[kind];
}

double prune_schedule_sparsity(const PruneSchedule *S, int t) {
    const double si = (double)S->s_init, sf = (double)S->s_final;
    if (t < S->t_start) return si;
    if (t >= S->t_end) return sf;
    /* t0 <= t < t1, so t1 > t0 */
    if (S->kind == PRUNE_ONESHOT) return sf;
    if (t == S->t_start) return si;
    const double frac = (double)(t - S->t_start) / (double)(S->t_end - S->t_start);
    const double p = 1.0 - frac;
    const double w = (S->kind == PRUNE_LINEAR) ? p : p * p * p;
    double s = sf + (si - sf) * w;
    /* stay inside [min, max] of the endpoints, so rounding can never break
     * monotonicity at the ends of the ramp */
    const double lo = si < sf ? si : sf, hi = si < sf ? sf : si;
    if (s < lo) s = lo;
    if (s > hi) s = hi;
    return s;
}

int prune_schedule_is_update_step(const PruneSchedule *S, int t) {
    CHECK(S->every >= 1, "set --prune-every to a positive number of steps",
          "prune schedule: every = %d, expected >= 1", S->every);
    if (t < S->t_start || t > S->t_end) return 0;
    return ((t - S->t_start) % S->every == 0) || t == S->t_end;
}

int prune_target_live_blocks(int n_grid_blocks, double sparsity) {
    const int n = n_grid_blocks;
    if (n <= 0) return 0;
    double pruned = floor(sparsity * (double)n + 0.5);
    if (!(pruned >= 0.0)) pruned = 0.0;          /* negative or NaN sparsity: prune nothing */
    if (pruned > (double)n) pruned = (double)n;
    int live = n - (int)pruned;
    if (live < 1) live = 1;
    return live;
}

/* ------------------------------------------------------------------ selection */

typedef struct {
    double score;
    int mat;   /* matrix index (0 for per-matrix selection) */
    int grid;  /* r*bcols + c */
} Cand;

/* -1 if a ranks before b (a is kept first). Total order. */
static int cand_cmp(const void *pa, const void *pb) {
    const Cand *a = (const Cand *)pa, *b = (const Cand *)pb;
    const int an = isnan(a->score), bn = isnan(b->score);
    if (an != bn) return an ? 1 : -1;            /* NaN ranks last */
    if (!an) {
        if (a->score > b->score) return -1;
        if (a->score < b->score) return 1;
    }
    if (a->mat != b->mat) return a->mat < b->mat ? -1 : 1;
    if (a->grid != b->grid) return a->grid < b->grid ? -1 : 1;
    return 0;
}

/* append the live blocks of L (BSR order) with their scores divided by `unit` */
static int collect(const BsrLayout *L, const double *scores, double unit, int mat, Cand *out) {
    int n = 0;
    for (int r = 0; r < L->brows; r++)
        for (int k = L->row_offsets[r]; k < L->row_offsets[r + 1]; k++) {
            out[n].score = scores[k] / unit;
            out[n].mat = mat;
            out[n].grid = r * L->bcols + L->col_indices[k];
            n++;
        }
    return n;
}

void prune_select_mask(const BsrLayout *L, const double *scores, int n_live, uint8_t *new_mask) {
    const int g = bsr_num_grid_blocks(L);
    memset(new_mask, 0, (size_t)g);
    if (L->nnz == 0) return;
    int keep = n_live < 1 ? 1 : n_live;
    if (keep > L->nnz) keep = L->nnz;
    Cand *c = (Cand *)malloc_check((size_t)L->nnz * sizeof(Cand));
    const int n = collect(L, scores, 1.0, 0, c);
    qsort(c, (size_t)n, sizeof(Cand), cand_cmp);
    for (int i = 0; i < keep; i++) new_mask[c[i].grid] = 1;
    free(c);
}

double prune_score_unit(const BsrLayout *L, const double *scores) {
    double sum = 0.0;
    int n = 0;
    for (int k = 0; k < L->nnz; k++)
        if (!isnan(scores[k])) { sum += scores[k]; n++; }
    const double mean = n ? sum / n : 0.0;
    return mean > 0.0 && isfinite(mean) ? mean : 1.0;
}

void prune_select_global(const BsrLayout *const *layouts, const double *const *scores, int m,
                         int n_live_total, uint8_t **new_masks) {
    long long total = 0;
    for (int i = 0; i < m; i++) {
        memset(new_masks[i], 0, (size_t)bsr_num_grid_blocks(layouts[i]));
        total += layouts[i]->nnz;
    }
    if (total == 0) return;
    Cand *c = (Cand *)malloc_check((size_t)total * sizeof(Cand));
    int n = 0;
    for (int i = 0; i < m; i++) n += collect(layouts[i], scores[i], prune_score_unit(layouts[i], scores[i]), i, c + n);
    qsort(c, (size_t)n, sizeof(Cand), cand_cmp);

    /* each matrix with a live block keeps its best one (its first entry in the
     * global order); the remaining budget goes to the best other blocks. When
     * every matrix is represented in the top n_live_total this is exactly the
     * top n_live_total. */
    int nonempty = 0;
    for (int i = 0; i < m; i++) nonempty += layouts[i]->nnz > 0;
    long long extra = (long long)n_live_total - nonempty;
    if (extra < 0) extra = 0;
    uint8_t *seen = (uint8_t *)calloc_check((size_t)(m > 0 ? m : 1), 1);
    for (int e = 0; e < n; e++) {
        const int mi = c[e].mat;
        if (!seen[mi]) {
            seen[mi] = 1;
            new_masks[mi][c[e].grid] = 1;
        } else if (extra > 0) {
            extra--;
            new_masks[mi][c[e].grid] = 1;
        }
    }
    free(seen);
    free(c);
}
