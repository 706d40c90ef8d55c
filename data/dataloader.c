/* dataloader.c - llm.c token shards to batches; see dataloader.h for the contract. */
#define _POSIX_C_SOURCE 200809L
#include "dataloader.h"

#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "../core/utils.h"

#define HEADER_BYTES ((long long)DATALOADER_HEADER_INTS * (long long)sizeof(int32_t))
#define STATE_TAG 0x444c5354LL /* "DLST": the reserved[] record is filled */
#define SCAN_CHUNK (1 << 20)   /* tokens per read while checking a shard's ids */

struct DataLoader {
    /* configuration */
    char *pattern;
    int B, T, rank, world, shuffle, vocab_size;
    uint64_t seed;
    long long sample_tokens; /* B*T */
    /* shards, in sorted file-name order */
    int nshards;
    char **paths;
    long long *ntok;      /* tokens in each shard (from its header) */
    int *nsamples;        /* samples in each shard */
    unsigned char *checked; /* token ids of this shard checked against vocab_size */
    long long total_tokens, per_epoch;
    /* position */
    Rng rng;              /* advances through epochs */
    uint64_t epoch_rng[4];/* rng at the start of the current epoch (saved in the state) */
    int64_t epoch, shard_pos, sample_pos;
    int *shard_order;     /* this epoch's order of shard indices */
    uint64_t *shard_seed; /* this epoch's per-position seeds of the sample shuffles */
    int *sample_order;    /* sample order of the shard at order_pos (capacity max nsamples) */
    int64_t order_pos;    /* shard_pos that sample_order was built for; -1 none */
    /* the open shard */
    FILE *f;
    int open_shard;       /* index of the shard f reads; -1 none */
    uint16_t *buf;        /* B*T+1 tokens */
};

static const char *FIX_SHARD = "re-create it with data/prepare.py (python3 data/prepare.py --input ... --out DIR)";

/* ------------------------------------------------------------------ shards */

static void read_header(const DataLoader *dl, int s) {
    const char *path = dl->paths[s];
    long long size = file_size_bytes(path);
    CHECK(size >= 0, "check that the file exists and is readable", "cannot stat shard '%s': %s", path, strerror(errno));
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode), "pass the shards as a glob, e.g. -i 'DIR/train_*.bin'",
          "shard '%s' is not a regular file (a directory?)", path);
    CHECK(size >= HEADER_BYTES, FIX_SHARD,
          "shard '%s' has %lld bytes, less than the %lld-byte header: not an llm.c token shard (empty or truncated)",
          path, size, HEADER_BYTES);
    FILE *f = fopen_check(path, "rb", "check that the shard exists and is readable");
    int32_t h[DATALOADER_HEADER_INTS];
    fread_check(h, sizeof(int32_t), DATALOADER_HEADER_INTS, f, path);
    fclose(f);
    if (h[0] != DATALOADER_MAGIC) {
        const char *what = h[0] == 20240326 ? " (that is an llm.c model checkpoint)"
                         : h[0] == 20240328 ? " (that is a tokenizer file)" : "";
        DIE(FIX_SHARD, "shard '%s' has magic %d, expected %d: not an llm.c token shard%s", path, (int)h[0],
            DATALOADER_MAGIC, what);
    }
    CHECK(h[1] == DATALOADER_VERSION, FIX_SHARD,
          "shard '%s' has version %d, expected %d (uint16 tokens): unsupported shard version", path, (int)h[1],
          DATALOADER_VERSION);
    CHECK(h[2] >= 0, FIX_SHARD, "shard '%s' header has a negative token count %d: corrupt header", path, (int)h[2]);
    long long want = HEADER_BYTES + 2LL * h[2];
    CHECK(size >= want, FIX_SHARD,
          "shard '%s' is truncated: its header says %d tokens (%lld bytes with the header), the file has %lld bytes",
          path, (int)h[2], want, size);
    CHECK(size == want, FIX_SHARD,
          "shard '%s' has %lld bytes of trailing data: its header says %d tokens (%lld bytes with the header), "
          "the file has %lld bytes", path, size - want, (int)h[2], want, size);
    dl->ntok[s] = h[2];
}

/* Check every token id of shard s against vocab_size (once per shard). */
static void check_tokens(DataLoader *dl, int s) {
    if (dl->checked[s]) return;
    const char *path = dl->paths[s];
    uint16_t *chunk = malloc_check(sizeof(uint16_t) * SCAN_CHUNK);
    CHECK(fseeko(dl->f, (off_t)HEADER_BYTES, SEEK_SET) == 0, FIX_SHARD, "cannot seek in shard '%s': %s", path,
          strerror(errno));
    long long done = 0;
    while (done < dl->ntok[s]) {
        long long n = dl->ntok[s] - done;
        if (n > SCAN_CHUNK) n = SCAN_CHUNK;
        fread_check(chunk, sizeof(uint16_t), (size_t)n, dl->f, path);
        for (long long i = 0; i < n; i++) {
            if ((int)chunk[i] >= dl->vocab_size) {
                long long t = done + i;
                DIE("the shard was made with another tokenizer or is corrupt: re-create it with data/prepare.py, "
                    "or pass the model's vocabulary size",
                    "shard '%s' has token id %d at token %lld (byte offset %lld), but the vocabulary has %d tokens "
                    "(ids 0..%d)", path, (int)chunk[i], t, HEADER_BYTES + 2 * t, dl->vocab_size, dl->vocab_size - 1);
            }
        }
        done += n;
    }
    free(chunk);
    dl->checked[s] = 1;
}

static void open_shard(DataLoader *dl, int s) {
    if (dl->open_shard == s) return;
    if (dl->f) { fclose(dl->f); dl->f = NULL; }
    dl->open_shard = -1;
    /* the file may have changed since create: check its header again */
    long long before = dl->ntok[s];
    read_header(dl, s);
    CHECK(dl->ntok[s] == before, "do not rewrite shards while a run reads them; restart the run",
          "shard '%s' changed while in use: it had %lld tokens, now %lld", dl->paths[s], before, dl->ntok[s]);
    dl->f = fopen_check(dl->paths[s], "rb", "check that the shard still exists and is readable");
    dl->open_shard = s;
    check_tokens(dl, s);
}

static long long per_rank(const DataLoader *dl, int s) { return dl->nsamples[s] / dl->world; }

/* ------------------------------------------------------------------ order */

/* Begin an epoch from the current rng: order the shards, draw the sample-shuffle seeds. */
static void start_epoch(DataLoader *dl) {
    memcpy(dl->epoch_rng, dl->rng.s, sizeof(dl->epoch_rng));
    for (int i = 0; i < dl->nshards; i++) dl->shard_order[i] = i;
    if (dl->shuffle) {
        rng_shuffle_int(&dl->rng, dl->shard_order, dl->nshards);
        for (int i = 0; i < dl->nshards; i++) dl->shard_seed[i] = rng_next_u64(&dl->rng);
    }
    dl->order_pos = -1;
}

static void build_sample_order(DataLoader *dl) {
    if (dl->order_pos == dl->shard_pos) return;
    int s = dl->shard_order[dl->shard_pos];
    int n = dl->nsamples[s];
    for (int i = 0; i < n; i++) dl->sample_order[i] = i;
    if (dl->shuffle) {
        Rng sub;
        rng_seed(&sub, dl->shard_seed[dl->shard_pos]);
        rng_shuffle_int(&sub, dl->sample_order, n);
    }
    dl->order_pos = dl->shard_pos;
}

/* ------------------------------------------------------------------ API */

DataLoader *dataloader_create(const char *pattern, int B, int T, int rank, int world, int shuffle, uint64_t seed,
                              int vocab_size) {
    CHECK(pattern && pattern[0], "pass a shard file or glob, e.g. -i 'data/default/train_*.bin'",
          "dataloader: empty shard pattern");
    CHECK(B > 0 && T > 0, "use positive -b (batch size) and -t (sequence length)",
          "dataloader: invalid batch shape B=%d T=%d", B, T);
    CHECK(world > 0 && rank >= 0 && rank < world, "check the MPI launch (rank must be in [0, world))",
          "dataloader: invalid rank %d of world %d", rank, world);
    CHECK(vocab_size > 0 && vocab_size <= 65536, "pass the model's vocabulary size (uint16 shards hold ids < 65536)",
          "dataloader: invalid vocab_size %d", vocab_size);

    DataLoader *dl = calloc_check(1, sizeof(DataLoader));
    dl->pattern = malloc_check(strlen(pattern) + 1);
    strcpy(dl->pattern, pattern);
    dl->B = B; dl->T = T; dl->rank = rank; dl->world = world;
    dl->shuffle = shuffle ? 1 : 0; dl->seed = seed; dl->vocab_size = vocab_size;
    dl->sample_tokens = (long long)B * (long long)T;
    dl->open_shard = -1;
    dl->order_pos = -1;

    glob_t g;
    memset(&g, 0, sizeof(g));
    int rc = glob(pattern, 0, NULL, &g);
    if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
        globfree(&g);
        DIE("check the path (-i / -j), or make shards: `make data` writes data/default/train_*.bin and val_*.bin",
            "no shard files match '%s'", pattern);
    }
    CHECK(rc == 0, "check the pattern and directory permissions", "cannot expand shard pattern '%s' (glob error %d)",
          pattern, rc);
    CHECK(g.gl_pathc < 0x7fffffff, "use fewer, larger shards", "too many shards match '%s'", pattern);
    dl->nshards = (int)g.gl_pathc;
    dl->paths = calloc_check((size_t)dl->nshards, sizeof(char *));
    for (int i = 0; i < dl->nshards; i++) { /* glob sorts its matches */
        dl->paths[i] = malloc_check(strlen(g.gl_pathv[i]) + 1);
        strcpy(dl->paths[i], g.gl_pathv[i]);
    }
    globfree(&g);

    dl->ntok = calloc_check((size_t)dl->nshards, sizeof(long long));
    dl->nsamples = calloc_check((size_t)dl->nshards, sizeof(int));
    dl->checked = calloc_check((size_t)dl->nshards, 1);
    int max_samples = 0;
    for (int s = 0; s < dl->nshards; s++) {
        read_header(dl, s);
        long long ns = dl->ntok[s] > 0 ? (dl->ntok[s] - 1) / dl->sample_tokens : 0;
        if (ns < world) {
            DIE("use a smaller -b or -t, fewer processes, or more tokens per shard (data/prepare.py --shard-tokens; "
                "a validation shard: --val-tokens or --val-fraction, or -j \"\" to train without validation)",
                "shard '%s' has %lld tokens: %lld sample(s) of B*T+1 = %lld tokens (B=%d, T=%d), fewer than the %d "
                "process(es) that must each get one", dl->paths[s], dl->ntok[s], ns, dl->sample_tokens + 1, B, T, world);
        }
        dl->nsamples[s] = (int)ns;
        if ((int)ns > max_samples) max_samples = (int)ns;
        dl->total_tokens += dl->ntok[s];
        dl->per_epoch += ns / world;
    }

    dl->shard_order = calloc_check((size_t)dl->nshards, sizeof(int));
    dl->shard_seed = calloc_check((size_t)dl->nshards, sizeof(uint64_t));
    dl->sample_order = calloc_check((size_t)max_samples, sizeof(int));
    dl->buf = malloc_check(sizeof(uint16_t) * (size_t)(dl->sample_tokens + 1));
    dataloader_reset(dl);
    return dl;
}

void dataloader_reset(DataLoader *dl) {
    rng_seed(&dl->rng, dl->seed);
    dl->epoch = 0;
    dl->shard_pos = 0;
    dl->sample_pos = 0;
    start_epoch(dl);
}

void dataloader_next_batch(DataLoader *dl, int *inputs, int *targets) {
    int s = dl->shard_order[dl->shard_pos];
    open_shard(dl, s);
    build_sample_order(dl);
    long long idx = (long long)dl->sample_order[dl->sample_pos * dl->world + dl->rank];
    long long start = idx * dl->sample_tokens;
    size_t n = (size_t)(dl->sample_tokens + 1);
    if (fseeko(dl->f, (off_t)(HEADER_BYTES + 2 * start), SEEK_SET) != 0) {
        DIE("the shard may have been changed or truncated while training; re-create it with data/prepare.py",
            "seek to token %lld failed in shard '%s': %s", start, dl->paths[s], strerror(errno));
    }
    fread_check(dl->buf, sizeof(uint16_t), n, dl->f, dl->paths[s]);
    for (size_t i = 0; i + 1 < n; i++) {
        inputs[i] = (int)dl->buf[i];
        targets[i] = (int)dl->buf[i + 1];
    }
    /* advance to the position of the next batch */
    dl->sample_pos++;
    while (dl->sample_pos >= per_rank(dl, dl->shard_order[dl->shard_pos])) {
        dl->sample_pos = 0;
        dl->shard_pos++;
        dl->order_pos = -1;
        if (dl->shard_pos >= dl->nshards) {
            dl->shard_pos = 0;
            dl->epoch++;
            start_epoch(dl);
        }
    }
}

void dataloader_get_state(const DataLoader *dl, DataLoaderState *st) {
    memset(st, 0, sizeof(*st));
    memcpy(st->rng_state, dl->epoch_rng, sizeof(st->rng_state));
    st->epoch = dl->epoch;
    st->shard_pos = dl->shard_pos;
    st->sample_pos = dl->sample_pos;
    st->reserved[0] = STATE_TAG;
    st->reserved[1] = dl->B;
    st->reserved[2] = dl->T;
    st->reserved[3] = dl->world;
    st->reserved[4] = dl->nshards;
    st->reserved[5] = dl->shuffle;
    st->reserved[6] = (int64_t)dl->seed;
    st->reserved[7] = dl->total_tokens;
}

void dataloader_set_state(DataLoader *dl, const DataLoaderState *st) {
    const char *fix = "resume with the same shards (-i), -b, -t, number of processes and shuffle settings as the "
                      "run that saved the checkpoint";
    if (st->reserved[0] == STATE_TAG) {
        CHECK(st->reserved[1] == dl->B && st->reserved[2] == dl->T, fix,
              "dataloader state was saved with B=%lld T=%lld, this run has B=%d T=%d",
              (long long)st->reserved[1], (long long)st->reserved[2], dl->B, dl->T);
        CHECK(st->reserved[3] == dl->world, fix, "dataloader state was saved with %lld process(es), this run has %d",
              (long long)st->reserved[3], dl->world);
        CHECK(st->reserved[4] == dl->nshards && st->reserved[7] == dl->total_tokens, fix,
              "dataloader state was saved over %lld shard(s) with %lld tokens, '%s' now matches %d shard(s) with "
              "%lld tokens", (long long)st->reserved[4], (long long)st->reserved[7], dl->pattern, dl->nshards,
              dl->total_tokens);
        CHECK(st->reserved[5] == dl->shuffle && (uint64_t)st->reserved[6] == dl->seed, fix,
              "dataloader state was saved with shuffle=%lld seed=%llu, this run has shuffle=%d seed=%llu",
              (long long)st->reserved[5], (unsigned long long)st->reserved[6], dl->shuffle,
              (unsigned long long)dl->seed);
    } else {
        CHECK(st->reserved[0] == 0, "the checkpoint is corrupt or from another program",
              "dataloader state has an unknown tag %lld", (long long)st->reserved[0]);
    }
    CHECK(st->epoch >= 0 && st->shard_pos >= 0 && st->shard_pos < dl->nshards, fix,
          "dataloader state (epoch %lld, shard %lld) does not fit the %d shard(s) matching '%s'",
          (long long)st->epoch, (long long)st->shard_pos, dl->nshards, dl->pattern);
    memcpy(dl->rng.s, st->rng_state, sizeof(dl->rng.s));
    start_epoch(dl);
    dl->epoch = st->epoch;
    dl->shard_pos = st->shard_pos;
    int s = dl->shard_order[dl->shard_pos];
    CHECK(st->sample_pos >= 0 && st->sample_pos < per_rank(dl, s), fix,
          "dataloader state sample %lld is out of range for shard '%s' (%lld sample(s) per process)",
          (long long)st->sample_pos, dl->paths[s], per_rank(dl, s));
    dl->sample_pos = st->sample_pos;
}

long long dataloader_num_tokens(const DataLoader *dl) { return dl->total_tokens; }
long long dataloader_samples_per_epoch(const DataLoader *dl) { return dl->per_epoch; }
int dataloader_num_shards(const DataLoader *dl) { return dl->nshards; }
long long dataloader_epoch(const DataLoader *dl) { return (long long)dl->epoch; }

void dataloader_free(DataLoader *dl) {
    if (!dl) return;
    if (dl->f) fclose(dl->f);
    for (int i = 0; i < dl->nshards; i++) free(dl->paths[i]);
    free(dl->paths);
    free(dl->pattern);
    free(dl->ntok);
    free(dl->nsamples);
    free(dl->checked);
    free(dl->shard_order);
    free(dl->shard_seed);
    free(dl->sample_order);
    free(dl->buf);
    free(dl);
}
