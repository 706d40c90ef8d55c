/*
 * test_dataloader.c - data/dataloader.c and data/tokenizer.c on small shards
 * written here: sample boundaries, epochs, shuffling, ranks, resume, reset, and
 * every bad-input error (in a forked child, checking exit status and message).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/utils.h"
#include "../data/dataloader.h"
#include "../data/tokenizer.h"

static int g_pass = 0, g_fail = 0;
static char g_dir[256];

#define EXPECT(cond, ...) do { \
    if (cond) { g_pass++; } else { g_fail++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } \
} while (0)

/* ------------------------------------------------------------------ fixtures */

#define B 2
#define T 8
#define BT (B * T)
#define VOCAB 50257
#define MAXSHARDS 4
#define MAXTOK 512

typedef struct {
    int n;                       /* shards */
    char pattern[300];
    char path[MAXSHARDS][300];
    int ntok[MAXSHARDS];
    uint16_t tok[MAXSHARDS][MAXTOK];
} Dataset;

static void write_raw_shard(const char *path, const uint16_t *tok, int ntok, int magic, int version, int header_ntok) {
    int32_t h[256];
    memset(h, 0, sizeof(h));
    h[0] = magic; h[1] = version; h[2] = header_ntok;
    FILE *f = fopen_check(path, "wb", "");
    fwrite_check(h, sizeof(h), 1, f, path);
    if (ntok) fwrite_check(tok, sizeof(uint16_t), (size_t)ntok, f, path);
    fclose(f);
}

/* Shards named <name>_000.bin ... with the given token counts and random tokens < VOCAB. */
static void make_dataset(Dataset *d, const char *name, const int *ntok, int n, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    d->n = n;
    snprintf(d->pattern, sizeof(d->pattern), "%s/%s_*.bin", g_dir, name);
    for (int s = 0; s < n; s++) {
        snprintf(d->path[s], sizeof(d->path[s]), "%s/%s_%03d.bin", g_dir, name, s);
        d->ntok[s] = ntok[s];
        for (int i = 0; i < ntok[s]; i++) d->tok[s][i] = (uint16_t)rng_below(&r, VOCAB);
        write_raw_shard(d->path[s], d->tok[s], ntok[s], DATALOADER_MAGIC, DATALOADER_VERSION, ntok[s]);
    }
}

static int nsamples(const Dataset *d, int s) { return (d->ntok[s] - 1) / BT; }

/* A sample id: shard * 1000 + sample index. -1 if the batch matches no sample or targets are wrong. */
static int identify(const Dataset *d, const int *inp, const int *tgt) {
    for (int s = 0; s < d->n; s++) {
        for (int k = 0; k < nsamples(d, s); k++) {
            const uint16_t *t = d->tok[s] + (size_t)k * BT;
            int ok = 1;
            for (int i = 0; i < BT && ok; i++) ok = inp[i] == t[i] && tgt[i] == t[i + 1];
            if (ok) return s * 1000 + k;
        }
    }
    return -1;
}

/* Reads n batches and writes their sample ids. */
static void read_ids(DataLoader *dl, const Dataset *d, int *ids, int n) {
    int inp[BT], tgt[BT];
    for (int i = 0; i < n; i++) {
        dataloader_next_batch(dl, inp, tgt);
        ids[i] = identify(d, inp, tgt);
    }
}

static int same_ids(const int *a, const int *b, int n) {
    for (int i = 0; i < n; i++) if (a[i] != b[i]) return 0;
    return 1;
}

/* every sample of the dataset exactly once among ids[0..n) (all of them: n must equal the total) */
static int each_once(const Dataset *d, const int *ids, int n) {
    int total = 0;
    for (int s = 0; s < d->n; s++) total += nsamples(d, s);
    if (n != total) return 0;
    for (int s = 0; s < d->n; s++)
        for (int k = 0; k < nsamples(d, s); k++) {
            int c = 0;
            for (int i = 0; i < n; i++) c += ids[i] == s * 1000 + k;
            if (c != 1) return 0;
        }
    return 1;
}

/* shard boundaries: within one epoch the samples of a shard come as one contiguous run */
static int shards_contiguous(const int *ids, int n) {
    int seen[MAXSHARDS] = {0};
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0) return 0;
        int s = ids[i] / 1000;
        if (i > 0 && ids[i - 1] / 1000 != s && seen[s]) return 0;
        seen[s] = 1;
    }
    return 1;
}

/* ------------------------------------------------------------------ tests */

static const int SIZES_A[3] = {BT * 5 + 1, BT * 6 + 10, BT * 4 + 1}; /* 5, 6, 4 samples; 9 spare tokens in shard 1 */
#define NA 15

static void test_sequential(const Dataset *d) {
    DataLoader *dl = dataloader_create(d->pattern, B, T, 0, 1, 0, 0, VOCAB);
    EXPECT(dataloader_num_shards(dl) == 3, "3 shards matched, got %d", dataloader_num_shards(dl));
    EXPECT(dataloader_num_tokens(dl) == SIZES_A[0] + SIZES_A[1] + SIZES_A[2], "num_tokens %lld",
           dataloader_num_tokens(dl));
    EXPECT(dataloader_samples_per_epoch(dl) == NA, "samples_per_epoch %lld, expected %d",
           dataloader_samples_per_epoch(dl), NA);
    int ids[2 * NA], want[NA];
    int n = 0;
    for (int s = 0; s < 3; s++)
        for (int k = 0; k < nsamples(d, s); k++) want[n++] = s * 1000 + k;
    read_ids(dl, d, ids, 2 * NA);
    EXPECT(same_ids(ids, want, NA), "sequential epoch 0 is the shards' samples in file order");
    EXPECT(same_ids(ids + NA, want, NA), "sequential epoch 1 repeats epoch 0");
    EXPECT(dataloader_epoch(dl) == 2, "after two epochs epoch=%lld", dataloader_epoch(dl));
    dataloader_reset(dl);
    read_ids(dl, d, ids, NA);
    EXPECT(same_ids(ids, want, NA) && dataloader_epoch(dl) == 1, "reset goes back to the start");
    dataloader_free(dl);

    /* a single file instead of a glob */
    dl = dataloader_create(d->path[1], B, T, 0, 1, 0, 0, VOCAB);
    read_ids(dl, d, ids, 7);
    EXPECT(dataloader_samples_per_epoch(dl) == 6 && ids[0] == 1000 && ids[5] == 1005 && ids[6] == 1000,
           "one file as the pattern: its 6 samples, then wraps");
    dataloader_free(dl);
    printf("ok: sequential order, exact inputs/targets, shard boundaries, epochs, reset, single-file pattern\n");
}

static void test_shuffle(const Dataset *d) {
    int a[2 * NA], b[2 * NA], c[2 * NA];
    DataLoader *dl = dataloader_create(d->pattern, B, T, 0, 1, 1, 1234, VOCAB);
    read_ids(dl, d, a, 2 * NA);
    dataloader_free(dl);
    dl = dataloader_create(d->pattern, B, T, 0, 1, 1, 1234, VOCAB);
    read_ids(dl, d, b, 2 * NA);
    dataloader_free(dl);
    dl = dataloader_create(d->pattern, B, T, 0, 1, 1, 99, VOCAB);
    read_ids(dl, d, c, 2 * NA);
    dataloader_free(dl);
    EXPECT(same_ids(a, b, 2 * NA), "same seed gives the same order");
    EXPECT(!same_ids(a, c, 2 * NA), "different seed gives a different order");
    EXPECT(each_once(d, a, NA) && each_once(d, a + NA, NA), "shuffled: every sample exactly once per epoch");
    EXPECT(each_once(d, c, NA) && each_once(d, c + NA, NA), "shuffled (seed 99): every sample once per epoch");
    EXPECT(shards_contiguous(a, NA) && shards_contiguous(a + NA, NA), "shuffled batches stay within one shard at a time");
    EXPECT(!same_ids(a, a + NA, NA), "epoch 1 is reshuffled");
    int seq = 1;
    for (int i = 0; i < NA - 1; i++) seq &= a[i] < a[i + 1];
    EXPECT(!seq, "shuffled order is not the sequential order");
    printf("ok: shuffling deterministic per seed, differs across seeds and epochs, each sample once per epoch\n");
}

static void test_ranks(const Dataset *d) {
    /* dataset A with world 2: 2+3+2 = 7 samples per rank; shard 0's odd sample is skipped each epoch */
    int r0[14], r1[14];
    for (int shuffle = 0; shuffle <= 1; shuffle++) {
        DataLoader *l0 = dataloader_create(d->pattern, B, T, 0, 2, shuffle, 5, VOCAB);
        DataLoader *l1 = dataloader_create(d->pattern, B, T, 1, 2, shuffle, 5, VOCAB);
        EXPECT(dataloader_samples_per_epoch(l0) == 7 && dataloader_samples_per_epoch(l1) == 7,
               "world 2: 7 batches per epoch on each rank");
        read_ids(l0, d, r0, 14);
        read_ids(l1, d, r1, 14);
        for (int e = 0; e < 2; e++) {
            int disjoint = 1, valid = 1;
            for (int i = 0; i < 7; i++) {
                valid &= r0[e * 7 + i] >= 0 && r1[e * 7 + i] >= 0;
                for (int j = 0; j < 7; j++) disjoint &= r0[e * 7 + i] != r1[e * 7 + j];
            }
            EXPECT(valid && disjoint, "shuffle=%d epoch %d: ranks read valid, disjoint samples", shuffle, e);
            /* lockstep: at every step both ranks are in the same shard */
            int lock = 1;
            for (int i = 0; i < 7; i++) lock &= r0[e * 7 + i] / 1000 == r1[e * 7 + i] / 1000;
            EXPECT(lock, "shuffle=%d epoch %d: ranks move through shards in lockstep", shuffle, e);
        }
        if (!shuffle) {
            int want0[7] = {0, 2, 1000, 1002, 1004, 2000, 2002}, want1[7] = {1, 3, 1001, 1003, 1005, 2001, 2003};
            EXPECT(same_ids(r0, want0, 7) && same_ids(r1, want1, 7), "sequential: rank r takes samples r, r+2, ...");
        }
        dataloader_free(l0);
        dataloader_free(l1);
    }

    /* dataset B: 4, 6, 2 samples, divisible by world 2: the ranks together cover everything */
    Dataset *e = calloc_check(1, sizeof(Dataset));
    const int sizes[3] = {BT * 4 + 1, BT * 6 + 1, BT * 2 + 3};
    make_dataset(e, "ranks", sizes, 3, 77);
    DataLoader *l0 = dataloader_create(e->pattern, B, T, 0, 2, 1, 11, VOCAB);
    DataLoader *l1 = dataloader_create(e->pattern, B, T, 1, 2, 1, 11, VOCAB);
    int all[24];
    for (int ep = 0; ep < 2; ep++) {
        read_ids(l0, e, all, 6);
        read_ids(l1, e, all + 6, 6);
        EXPECT(each_once(e, all, 12), "epoch %d: two ranks together see every sample exactly once", ep);
    }
    dataloader_free(l0);
    dataloader_free(l1);
    /* world 3 on the same data: 1+2+0 -> shard 2 has 2 samples < 3 ranks: error (tested in test_errors) */
    free(e);
    printf("ok: ranks read disjoint samples in lockstep and together cover all samples\n");
}

static void test_resume(const Dataset *d) {
    const int ks[] = {0, 1, 3, 6, 7, 13, 14, 20};
    for (int world = 1; world <= 2; world++) {
        for (int shuffle = 0; shuffle <= 1; shuffle++) {
            int ok = 1;
            for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++) {
                int rank = world - 1;
                DataLoader *dl = dataloader_create(d->pattern, B, T, rank, world, shuffle, 42, VOCAB);
                int skip[32], cont[40], resumed[40];
                read_ids(dl, d, skip, ks[ki]);
                DataLoaderState st;
                dataloader_get_state(dl, &st);
                read_ids(dl, d, cont, 40);
                /* a fresh loader, moved elsewhere first, then set to the saved state */
                DataLoader *dl2 = dataloader_create(d->pattern, B, T, rank, world, shuffle, 42, VOCAB);
                read_ids(dl2, d, skip, 5);
                dataloader_set_state(dl2, &st);
                read_ids(dl2, d, resumed, 40);
                ok &= same_ids(cont, resumed, 40);
                /* the state round-trips through bytes, as in a checkpoint */
                DataLoaderState st2;
                unsigned char bytes[sizeof(DataLoaderState)];
                memcpy(bytes, &st, sizeof(st));
                memcpy(&st2, bytes, sizeof(st2));
                dataloader_set_state(dl2, &st2);
                read_ids(dl2, d, resumed, 40);
                ok &= same_ids(cont, resumed, 40);
                dataloader_free(dl);
                dataloader_free(dl2);
            }
            EXPECT(ok, "world %d shuffle %d: set_state(get_state after k batches) continues identically", world, shuffle);
        }
    }
    /* a state taken after reset equals the state of a fresh loader */
    DataLoader *dl = dataloader_create(d->pattern, B, T, 0, 1, 1, 42, VOCAB);
    DataLoaderState s0, s1;
    dataloader_get_state(dl, &s0);
    int ids[9];
    read_ids(dl, d, ids, 9);
    dataloader_reset(dl);
    dataloader_get_state(dl, &s1);
    EXPECT(memcmp(&s0, &s1, sizeof(s0)) == 0, "reset gives back the initial state");
    dataloader_free(dl);
    printf("ok: resume from get_state/set_state is exact (k = 0..20, across shard and epoch ends, 1 and 2 ranks)\n");
}

/* ------------------------------------------------------------------ errors */

/* Runs fn(arg) in a child with stderr to a file; expects exit status != 0 and every needle in stderr. */
static void expect_death(const char *what, void (*fn)(const void *), const void *arg, const char *n1,
                         const char *n2) {
    char errpath[320];
    snprintf(errpath, sizeof(errpath), "%s/stderr.txt", g_dir);
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen(errpath, "w", stderr)) _exit(99);
        setvbuf(stderr, NULL, _IONBF, 0);
        if (!freopen("/dev/null", "w", stdout)) _exit(99);
        fn(arg);
        _exit(0); /* no error: the test fails */
    }
    int status = 0;
    waitpid(pid, &status, 0);
    char msg[4096] = {0};
    FILE *f = fopen(errpath, "r");
    if (f) { size_t n = fread(msg, 1, sizeof(msg) - 1, f); msg[n] = '\0'; fclose(f); }
    int exited = WIFEXITED(status) && WEXITSTATUS(status) != 0 && WEXITSTATUS(status) != 99;
    int has = (!n1 || strstr(msg, n1)) && (!n2 || strstr(msg, n2));
    EXPECT(exited && has, "%s: expected a non-zero exit with '%s' and '%s' in stderr; status %d, stderr:\n%s", what,
           n1 ? n1 : "", n2 ? n2 : "", status, msg);
    if (exited && has) {
        char *nl = strchr(msg, '\n');
        if (nl) *nl = '\0';
        printf("ok: %s -> %s\n", what, msg);
    }
}

typedef struct { const char *pattern; int world; int vocab; int batches; } CreateArgs;

static void run_create(const void *p) {
    const CreateArgs *a = p;
    DataLoader *dl = dataloader_create(a->pattern, B, T, 0, a->world, 0, 0, a->vocab);
    int inp[BT], tgt[BT];
    for (int i = 0; i < a->batches; i++) dataloader_next_batch(dl, inp, tgt);
    dataloader_free(dl);
}

static const Dataset *g_resume_data;
static void run_bad_state(const void *p) {
    (void)p;
    DataLoader *dl = dataloader_create(g_resume_data->pattern, B, T, 0, 1, 0, 0, VOCAB);
    DataLoaderState st;
    dataloader_get_state(dl, &st);
    dataloader_free(dl);
    dl = dataloader_create(g_resume_data->pattern, B, T / 2, 0, 1, 0, 0, VOCAB); /* other T */
    dataloader_set_state(dl, &st);
}

static void test_errors(const Dataset *d) {
    uint16_t tok[MAXTOK];
    for (int i = 0; i < MAXTOK; i++) tok[i] = (uint16_t)(i % 1000);
    char path[400];
    int n = BT * 3 + 1;

    snprintf(path, sizeof(path), "%s/badmagic.bin", g_dir);
    write_raw_shard(path, tok, n, 12345, 1, n);
    CreateArgs a = {path, 1, VOCAB, 1};
    expect_death("wrong magic", run_create, &a, "badmagic.bin", "magic 12345");

    snprintf(path, sizeof(path), "%s/badversion.bin", g_dir);
    write_raw_shard(path, tok, n, DATALOADER_MAGIC, 7, n);
    a.pattern = path;
    expect_death("wrong version", run_create, &a, "badversion.bin", "version 7");

    snprintf(path, sizeof(path), "%s/truncated.bin", g_dir);
    write_raw_shard(path, tok, n - 10, DATALOADER_MAGIC, 1, n);
    expect_death("truncated shard", run_create, &a, "truncated.bin", "truncated");

    snprintf(path, sizeof(path), "%s/tiny.bin", g_dir);
    write_raw_shard(path, tok, 0, 0, 0, 0);
    FILE *f = fopen_check(path, "wb", "");
    fwrite_check("abc", 1, 3, f, path);
    fclose(f);
    expect_death("file shorter than a header", run_create, &a, "tiny.bin", "header");

    snprintf(path, sizeof(path), "%s/bigtoken.bin", g_dir);
    tok[37] = 1000;
    write_raw_shard(path, tok, n, DATALOADER_MAGIC, 1, n);
    tok[37] = 37;
    a.vocab = 1000;
    expect_death("token id >= vocab_size", run_create, &a, "bigtoken.bin", "token id 1000 at token 37");
    a.vocab = 1001;
    a.batches = 3;
    run_create(&a); /* the same shard is fine with a vocab of 1001 */
    g_pass++;
    printf("ok: the same shard loads with vocab_size 1001\n");

    char pat[400];
    snprintf(pat, sizeof(pat), "%s/nothing_*.bin", g_dir);
    a.pattern = pat;
    a.vocab = VOCAB;
    expect_death("no files match", run_create, &a, "nothing_*.bin", "no shard files match");

    a.pattern = d->pattern;
    a.world = 5; /* shard 2 of dataset A has 4 samples */
    expect_death("fewer samples than ranks", run_create, &a, "train_002.bin", "-b or -t");

    g_resume_data = d;
    expect_death("set_state with another T", run_bad_state, NULL, "T=8", "same shards");
}

/* ------------------------------------------------------------------ tokenizer */

static void run_tok_load(const void *p) { tokenizer_load((const char *)p); }

static void test_tokenizer(void) {
    const char *pieces[5] = {"a", "hello", " world", "\x01", "<|endoftext|>"};
    char path[400];
    snprintf(path, sizeof(path), "%s/tok.bin", g_dir);
    uint32_t h[256];
    memset(h, 0, sizeof(h));
    h[0] = TOKENIZER_MAGIC; h[1] = 2; h[2] = 5; h[3] = 4;
    FILE *f = fopen_check(path, "wb", "");
    fwrite_check(h, sizeof(h), 1, f, path);
    for (int i = 0; i < 5; i++) {
        unsigned char len = (unsigned char)strlen(pieces[i]);
        fwrite_check(&len, 1, 1, f, path);
        fwrite_check(pieces[i], 1, len, f, path);
    }
    fclose(f);
    Tokenizer *t = tokenizer_load(path);
    EXPECT(t != NULL, "tokenizer loads");
    if (t) {
        int ok = 1;
        for (uint32_t i = 0; i < 5; i++) ok &= strcmp(tokenizer_decode(t, i), pieces[i]) == 0;
        EXPECT(ok, "tokenizer decodes every piece");
        EXPECT(tokenizer_eot(t) == 4 && tokenizer_vocab_size(t) == 5, "eot and vocab size from the header");
        EXPECT(tokenizer_decode(t, 5) == NULL, "decode of an id past the vocab is NULL");
        tokenizer_print_safe(tokenizer_decode(t, 3)); /* prints nothing */
        tokenizer_print_safe(NULL);
        tokenizer_free(t);
    }
    char missing[400];
    snprintf(missing, sizeof(missing), "%s/no_such_tokenizer.bin", g_dir);
    EXPECT(tokenizer_load(missing) == NULL, "a missing tokenizer gives NULL (and a warning)");

    /* truncated and wrong-magic tokenizer files are fatal */
    char bad[400];
    snprintf(bad, sizeof(bad), "%s/tok_trunc.bin", g_dir);
    f = fopen_check(bad, "wb", "");
    fwrite_check(h, sizeof(h), 1, f, bad);
    fwrite_check("\x01" "a" "\x09" "hel", 1, 5, f, bad);
    fclose(f);
    expect_death("truncated tokenizer", run_tok_load, bad, "tok_trunc.bin", "truncated");
    snprintf(bad, sizeof(bad), "%s/tok_magic.bin", g_dir);
    h[0] = 1;
    f = fopen_check(bad, "wb", "");
    fwrite_check(h, sizeof(h), 1, f, bad);
    fclose(f);
    expect_death("tokenizer with wrong magic", run_tok_load, bad, "tok_magic.bin", "magic 1");
    printf("ok: tokenizer load, decode, eot, missing file, corrupt files\n");
}

int main(void) {
    const char *tmp = getenv("TMPDIR");
    snprintf(g_dir, sizeof(g_dir), "%s/test_dataloader_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    CHECK(mkdtemp(g_dir) != NULL, "set TMPDIR to a writable directory", "cannot create a temp dir from '%s'", g_dir);

    Dataset *d = calloc_check(1, sizeof(Dataset));
    make_dataset(d, "train", SIZES_A, 3, 2024);
    test_sequential(d);
    test_shuffle(d);
    test_ranks(d);
    test_resume(d);
    test_errors(d);
    test_tokenizer();
    free(d);

    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", g_dir);
    printf("test_dataloader: %d passed, %d failed\n", g_pass, g_fail);
    return g_fail ? 1 : 0;
}
