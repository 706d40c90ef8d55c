/*
 * prune.h - the pruning schedule and mask selection.
 *
 * Schedule (Zhu & Gupta 2017, cubic): between steps t0 and t1 the target sparsity
 *   s(t) = s_f + (s_i - s_f) * (1 - (t - t0)/(t1 - t0))^3,
 * s(t) = s_i before t0 and s_f from t1 on. Linear replaces the cube by the first
 * power; one-shot jumps from s_i to s_f at t0. Masks are updated at steps
 * t0, t0+k, t0+2k, ... and at t1 (every = k).
 *
 * Live-block target for a matrix of n grid blocks at sparsity s:
 *   n_live = n - floor(s * n + 0.5), clamped to [1, n]
 * and never more than the blocks already live (pruning only removes).
 *
 * Mask selection keeps the n_live live blocks of highest score; ties go to the
 * lower grid index (r*bcols + c), so every run and every rank picks the same mask.
 */
#ifndef SPARSE_PRUNE_H
#define SPARSE_PRUNE_H

#include <stdint.h>
#include "bsr.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { PRUNE_CUBIC = 0, PRUNE_LINEAR = 1, PRUNE_ONESHOT = 2 } PruneScheduleKind;

typedef struct {
    PruneScheduleKind kind;
    float s_init;    /* s_i, sparsity before t0 (usually 0) */
    float s_final;   /* s_f, target sparsity, in [0, 1) */
    int t_start;     /* t0: first mask update step */
    int t_end;       /* t1: last mask update step, >= t0 */
    int every;       /* k: steps between mask updates, >= 1 */
} PruneSchedule;

/* Name <-> kind for the command line ("cubic", "linear", "oneshot"); -1 if unknown. */
int prune_schedule_kind_from_name(const char *name);
const char *prune_schedule_kind_name(PruneScheduleKind kind);

/* Target sparsity at training step t (monotone non-decreasing in t when s_f >= s_i). */
double prune_schedule_sparsity(const PruneSchedule *S, int t);
/* 1 if masks are updated at step t: t in [t0, t1] and ((t - t0) % k == 0 or t == t1). */
int prune_schedule_is_update_step(const PruneSchedule *S, int t);
/* Live-block target for n grid blocks at sparsity s (rule above, without the "already live" cap). */
int prune_target_live_blocks(int n_grid_blocks, double sparsity);

/* Per-matrix selection: from the layout's live blocks and their scores (BSR
 * order, as bsr_block_scores gives), write new_mask[brows*bcols] keeping the
 * min(n_live, L->nnz) best (n_live < 1 counts as 1; dead blocks stay 0). Order:
 * score descending, ties to the lower grid index; NaN scores rank last. */
void prune_select_mask(const BsrLayout *L, const double *scores, int n_live, uint8_t *new_mask);

/* Global selection across m matrices: keep the n_live_total best blocks over all of them, a block's
 * rank being its score divided by its matrix's unit (prune_score_unit: the mean score of the matrix's
 * live blocks), so each block is ranked by how it stands within its matrix. Raw scores would rank by
 * the matrices' scales: GPT-2 initializes fcproj at 0.02 / sqrt(2L) against fc's 0.02, and raw global
 * ranking emptied every fcproj matrix down to its last block. Ties: lower matrix index, then lower
 * grid index; at least one block per matrix survives. new_masks[i] has each matrix's grid size.
 * Precisely: every matrix with a live block keeps its best block, and the
 * max(n_live_total - that many matrices, 0) best of the remaining live blocks
 * are kept too; so the total is n_live_total (capped at the live count) unless
 * n_live_total is below the number of non-empty matrices. */
/* the mean of the non-NaN scores of L's live blocks (1 when there is none, or it is 0 or not finite) */
double prune_score_unit(const BsrLayout *L, const double *scores);
void prune_select_global(const BsrLayout *const *layouts, const double *const *scores, int m,
                         int n_live_total, uint8_t **new_masks);

#ifdef __cplusplus
}
#endif
#endif /* SPARSE_PRUNE_H */
