/*
 * dataloader.h - reads llm.c token shards into (inputs, targets) batches.
 *
 * Shard format (llm.c, data/prepare.py writes it): a header of 256 x int32
 * (magic 20240520, version 1, number of tokens, rest zero), then that many
 * uint16 token ids, little-endian.
 *
 * Samples: a shard of ntok tokens is cut into floor((ntok-1)/(B*T)) samples;
 * sample i is the B*T+1 tokens starting at i*B*T, so a batch never straddles
 * two shards. inputs = the first B*T tokens, targets = the same shifted by one.
 *
 * Ranks: in each shard, rank r takes entries r, r+world, r+2*world, ... of the
 * shard's (possibly shuffled) sample order, floor(nsamples/world) of them, so
 * every rank sees the same number of batches per shard (lockstep data
 * parallelism) and ranks never share a sample. The nsamples % world samples
 * left at the end of the order are skipped for that epoch (with shuffling a
 * different few each epoch). A shard with fewer samples than world is an error.
 *
 * Shuffling (shuffle=1): every epoch the shard order is shuffled, and each
 * shard's sample order is shuffled, all from one RNG seeded with `seed`; every
 * rank seeds it the same way, so the orders agree across ranks. shuffle=0 reads
 * the shards in sorted file-name order and samples in file order, like llm.c.
 *
 * Errors (no file matches, wrong magic or version, truncated shard, token id
 * >= vocab_size, too little data for B, T and world, a state that does not fit)
 * print a message naming the file and the fix and exit(1). Headers of all
 * shards are checked at create; token ids are checked the first time a shard
 * is loaded. Only the shard in use is read, one batch at a time.
 */
#ifndef DATA_DATALOADER_H
#define DATA_DATALOADER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define DATALOADER_MAGIC 20240520
#define DATALOADER_VERSION 1
#define DATALOADER_HEADER_INTS 256

/* Plain-old-data, saved verbatim into checkpoints. It is the same on every rank
 * (positions count this rank's samples, and ranks move in lockstep). */
typedef struct {
    uint64_t rng_state[4]; /* shuffle RNG (core/utils.h Rng) at the start of the current epoch */
    int64_t epoch;
    int64_t shard_pos;     /* index into the (shuffled) shard order */
    int64_t sample_pos;    /* index into this shard's (shuffled) sample order, counted in this rank's samples */
    int64_t reserved[8];   /* consistency record: tag, B, T, world, number of shards, shuffle, seed, total tokens */
} DataLoaderState;

typedef struct DataLoader DataLoader;

/* pattern: a glob ("dir/train_*.bin") or one file; matches are read in sorted order.
 * B, T: batch size and sequence length. rank, world: data parallelism (0, 1 alone).
 * shuffle: 0 sequential, 1 shuffle shards and samples every epoch from seed.
 * vocab_size: every token id must be < vocab_size. */
DataLoader *dataloader_create(const char *pattern, int B, int T, int rank, int world, int shuffle, uint64_t seed,
                              int vocab_size);
/* Fills B*T inputs and B*T targets (targets[i] = the token after inputs[i]). */
void dataloader_next_batch(DataLoader *dl, int *inputs, int *targets);
/* Back to the very start (epoch 0, first shard, first sample, RNG reseeded). */
void dataloader_reset(DataLoader *dl);
/* The position of the next batch. */
void dataloader_get_state(const DataLoader *dl, DataLoaderState *st);
/* Continue exactly where get_state was taken (same pattern, B, T, world, shuffle, seed). */
void dataloader_set_state(DataLoader *dl, const DataLoaderState *st);
/* Total tokens over all shards (from the headers). */
long long dataloader_num_tokens(const DataLoader *dl);
/* Batches this rank sees per epoch (the same on every rank). */
long long dataloader_samples_per_epoch(const DataLoader *dl);
/* Number of shard files matched, and the current epoch (for logs). */
int dataloader_num_shards(const DataLoader *dl);
long long dataloader_epoch(const DataLoader *dl);
void dataloader_free(DataLoader *dl);

#ifdef __cplusplus
}
#endif
#endif /* DATA_DATALOADER_H */
