/*
 * checkpoint.h - model files and training-state files.
 *
 * Model file: llm.c's 256 x int32 header, magic 20240326, then the flat fp32
 * parameter vector of model/gpt2.h.
 *   version 3: dense fp32 (llm.c's own format; we read and write it)
 *   version 5: dense bf16 (llm.c's mixed-precision format; we read it)
 *   version 6: block-sparse fp32 (ours). Header: [2] maxT [3] V [4] L [5] NH
 *              [6] C [7] Vp (as llm.c), [8] block size, [9] sparse matrices
 *              per layer (2: fc, fcproj), [16 + m] live blocks of matrix m
 *              (m = 2l fc, 2l+1 fcproj). Payload: the 14 dense tensors, then the
 *              2L grid masks (uint8, brows*bcols each, row-major over the block
 *              grid), then the packed live blocks of each matrix (fp32, BSR order).
 *
 * Training state file (one per rank): header 256 x int32, magic 20240327,
 * version 2; step, rank, world size, RNG, pruning schedule and its state, the
 * dataloader's position (opaque bytes), then both AdamW moments (fp32, in the
 * same flat layout as the parameters), then optionally the bf16 weights of the
 * GPU trainer (header [30..31] = their count, 0 if absent). The model file holds the fp32 master
 * weights, so model + state resume bit-exactly.
 *
 * Naming in the output directory: model_%08d.bin, state_%08d_%05d.bin
 * (step, rank), DONE_%08d (written last, once every rank has written its
 * state). Every file is written to a temporary and renamed (core/utils.h
 * AtomicFile), so a failed write never damages an earlier checkpoint.
 *
 * All functions return 0 on success and -1 with a message in err (which names
 * the file and the fix) on failure; none of them exits.
 */
#ifndef MODEL_CHECKPOINT_H
#define MODEL_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>
#include "../sparse/bsr.h"
#include "../sparse/prune.h"
#include "gpt2.h"

#ifdef __cplusplus
extern "C" {
#endif

#define MODEL_FILE_MAGIC 20240326
#define MODEL_VERSION_DENSE_F32 3
#define MODEL_VERSION_DENSE_BF16 5
#define MODEL_VERSION_SPARSE_F32 6
#define STATE_FILE_MAGIC 20240327
#define STATE_FILE_VERSION 2
#define CKPT_ERR_LEN 1536

typedef struct {
    GPT2Config config;
    int version;        /* as read from the file */
    int block_size;     /* 0: dense model */
    int num_sparse;     /* 2L for a sparse model, else 0 */
    uint8_t **masks;    /* [num_sparse] grid masks (sparse models) */
    float *params;      /* flat parameter vector (model/gpt2.h layout) */
    size_t num_params;
} ModelFile;

int model_file_read(const char *path, ModelFile *mf, char *err, size_t err_len);
void model_file_free(ModelFile *mf);
/* Write a model: version 3 if layouts is NULL, else version 6 (block size from layouts). */
int model_file_write(const char *path, const GPT2Config *cfg, const BsrLayout *layouts, const float *flat,
                     char *err, size_t err_len);
/* Export as a dense llm.c version-3 file (dead blocks as zeros) for other tools. */
int model_file_export_dense(const char *path, const GPT2Config *cfg, const BsrLayout *layouts, const float *flat,
                            char *err, size_t err_len);

typedef struct {
    int64_t step;             /* optimizer steps completed */
    int rank, world_size;
    uint64_t rng[4];          /* the trainer's RNG (core/utils.h Rng state) */
    PruneSchedule schedule;   /* the schedule the run was started with */
    int score_kind;           /* BsrScoreKind */
    int prune_global;         /* 1: global ranking across matrices */
    int64_t last_prune_step;  /* last step whose mask update ran, -1 if none */
    uint64_t mask_checksum;   /* gpt2_mask_checksum at save time */
    void *loader;             /* dataloader position, opaque */
    size_t loader_bytes;
    float *m, *v;             /* AdamW moments, flat */
    size_t num_params;
    /* the GPU trainer's bf16 weights (bf16 bit patterns, flat), or NULL: they come
     * from stochastic rounding of the masters, so re-rounding would not resume
     * bit-exactly. The CPU trainer writes none. */
    uint16_t *params_bf16;
    size_t num_params_bf16;   /* 0 or num_params */
} TrainState;

int state_file_write(const char *path, const TrainState *st, char *err, size_t err_len);
/* Reads into st (allocating loader, m, v); free with state_file_free. */
int state_file_read(const char *path, TrainState *st, char *err, size_t err_len);
void state_file_free(TrainState *st);

/* Checkpoint names inside an output directory. */
void checkpoint_model_path(char *buf, size_t n, const char *dir, long step);
void checkpoint_state_path(char *buf, size_t n, const char *dir, long step, int rank);
void checkpoint_done_path(char *buf, size_t n, const char *dir, long step);
/* Largest step with a DONE marker in dir, or -1 if there is none. */
long checkpoint_find_latest(const char *dir);
/* Write the DONE marker (atomically). */
int checkpoint_write_done(const char *dir, long step, char *err, size_t err_len);
/* Remove the files of checkpoint `step` (DONE first, so a partial removal never looks complete). */
void checkpoint_remove(const char *dir, long step, int world_size);
/* Remove every complete checkpoint in dir but the newest `keep` (-nk; keep <= 0: none removed); returns
 * how many were removed. Off-grid ones (the final step, a resume point) count like the others. */
int checkpoint_prune_old(const char *dir, int keep, int world_size);

/* FNV-1a checksum over every matrix's mask, for cross-rank and resume checks. */
uint64_t gpt2_mask_checksum(const BsrLayout *layouts, int num_sparse);

#ifdef __cplusplus
}
#endif
#endif /* MODEL_CHECKPOINT_H */
