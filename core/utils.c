/* utils.c - definitions for core/utils.h (see there for the contracts). */
#define _POSIX_C_SOURCE 200809L
#include "utils.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void die_at(const char *file, int line, const char *hint, const char *fmt, ...) {
    va_list ap;
    fflush(stdout);
    fprintf(stderr, "error: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  at %s:%d\n", file, line);
    if (hint && hint[0]) fprintf(stderr, "  hint: %s\n", hint);
    exit(1);
}

FILE *fopen_or_die(const char *path, const char *mode, const char *hint, const char *file, int line) {
    FILE *f = fopen(path, mode);
    if (!f) {
        die_at(file, line, hint && hint[0] ? hint : "check that the path exists and is accessible",
               "cannot open '%s' (mode %s): %s", path, mode, strerror(errno));
    }
    return f;
}

void fread_or_die(void *dst, size_t size, size_t count, FILE *f, const char *path, const char *file, int line) {
    size_t got = fread(dst, size, count, f);
    if (got != count) {
        if (feof(f)) {
            die_at(file, line, "the file is truncated or not of the expected format; re-create it",
                   "unexpected end of file in '%s': wanted %zu items of %zu bytes, got %zu", path, count, size, got);
        }
        die_at(file, line, "", "read error in '%s': %s", path, strerror(errno));
    }
}

void fwrite_or_die(const void *src, size_t size, size_t count, FILE *f, const char *path, const char *file, int line) {
    if (fwrite(src, size, count, f) != count) {
        die_at(file, line, "check free disk space and permissions", "write error on '%s': %s", path, strerror(errno));
    }
}

void fseek_or_die(FILE *f, long offset, int whence, const char *path, const char *file, int line) {
    if (fseek(f, offset, whence) != 0) {
        die_at(file, line, "the file is truncated or not of the expected format",
               "seek to %ld failed in '%s': %s", offset, path, strerror(errno));
    }
}

void *malloc_or_die(size_t size, const char *file, int line) {
    void *p = malloc(size ? size : 1);
    if (!p) die_at(file, line, "reduce the batch size (-b) or model size", "out of host memory allocating %zu bytes", size);
    return p;
}

void *calloc_or_die(size_t count, size_t size, const char *file, int line) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) die_at(file, line, "reduce the batch size (-b) or model size", "out of host memory allocating %zu x %zu bytes", count, size);
    return p;
}

void *realloc_or_die(void *p, size_t size, const char *file, int line) {
    void *q = realloc(p, size ? size : 1);
    if (!q) die_at(file, line, "reduce the batch size (-b) or model size", "out of host memory growing a block to %zu bytes", size);
    return q;
}

long long file_size_bytes(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    return (long long)st.st_size;
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ------------------------------------------------------------------------- */

static void atomic_fail(AtomicFile *af, const char *what) {
    af->failed = 1;
    snprintf(af->error, sizeof(af->error), "%s '%s': %s", what, af->tmp_path, strerror(errno));
}

int atomic_file_open(AtomicFile *af, const char *path) {
    memset(af, 0, sizeof(*af));
    if (strlen(path) >= sizeof(af->path)) {
        errno = ENAMETOOLONG;
        snprintf(af->error, sizeof(af->error), "path too long: %s", path);
        af->failed = 1;
        return -1;
    }
    strcpy(af->path, path);
    snprintf(af->tmp_path, sizeof(af->tmp_path), "%s.tmp.%d", path, (int)getpid());
    af->f = fopen(af->tmp_path, "wb");
    if (!af->f) { atomic_fail(af, "cannot create temporary file"); return -1; }
    return 0;
}

int atomic_file_write(AtomicFile *af, const void *data, size_t bytes) {
    if (af->failed || !af->f) return -1;
    if (bytes && fwrite(data, 1, bytes, af->f) != bytes) { atomic_fail(af, "write failed on"); return -1; }
    return 0;
}

void atomic_file_abort(AtomicFile *af) {
    if (af->f) { fclose(af->f); af->f = NULL; }
    if (af->tmp_path[0]) unlink(af->tmp_path);
    af->failed = 1;
}

int atomic_file_commit(AtomicFile *af) {
    if (af->failed || !af->f) { atomic_file_abort(af); return -1; }
    if (fflush(af->f) != 0) { atomic_fail(af, "flush failed on"); atomic_file_abort(af); return -1; }
    if (fsync(fileno(af->f)) != 0) { atomic_fail(af, "fsync failed on"); atomic_file_abort(af); return -1; }
    if (fclose(af->f) != 0) { af->f = NULL; atomic_fail(af, "close failed on"); atomic_file_abort(af); return -1; }
    af->f = NULL;
    if (rename(af->tmp_path, af->path) != 0) { atomic_fail(af, "rename failed for"); atomic_file_abort(af); return -1; }
    /* fsync the directory so the rename itself is durable */
    char dir[1024];
    strcpy(dir, af->path);
    char *slash = strrchr(dir, '/');
    if (slash) { if (slash == dir) slash[1] = '\0'; else *slash = '\0'; } else strcpy(dir, ".");
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) { fsync(fd); close(fd); }
    return 0;
}

/* ------------------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void rng_seed(Rng *rng, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&x);
}

static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t rng_next_u64(Rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl64(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

uint32_t rng_next_u32(Rng *rng) { return (uint32_t)(rng_next_u64(rng) >> 32); }

float rng_uniform_f32(Rng *rng) { return (float)(rng_next_u64(rng) >> 40) / 16777216.0f; }

uint64_t rng_below(Rng *rng, uint64_t n) {
    /* rejection sampling: draw until the value falls under the largest multiple of n */
    uint64_t limit = UINT64_MAX - (UINT64_MAX % n);
    uint64_t x;
    do { x = rng_next_u64(rng); } while (x >= limit);
    return x % n;
}

double rng_normal(Rng *rng) {
    /* Box-Muller; one normal per call keeps the stream position simple to reason about */
    double u1 = ((double)(rng_next_u64(rng) >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    double u2 = (double)(rng_next_u64(rng) >> 11) / 9007199254740992.0;        /* [0, 1) */
    return sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2);
}

void rng_shuffle_int(Rng *rng, int *a, int n) {
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(rng, (uint64_t)i + 1);
        int t = a[i]; a[i] = a[j]; a[j] = t;
    }
}

/* ------------------------------------------------------------------------- */

double wall_clock_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int parse_long(const char *s, long long *out) {
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0') return -1;
    *out = v;
    return 0;
}

int parse_int(const char *s, int *out) {
    long long v;
    if (parse_long(s, &v) != 0 || v < -2147483647LL - 1 || v > 2147483647LL) return -1;
    *out = (int)v;
    return 0;
}

int parse_float(const char *s, float *out) {
    if (!s || !*s) return -1;
    char *end = NULL;
    errno = 0;
    float v = strtof(s, &end);
    if (errno != 0 || *end != '\0' || v != v) return -1;
    *out = v;
    return 0;
}

uint64_t fnv1a64(const void *data, size_t bytes, uint64_t seed) {
    const unsigned char *p = (const unsigned char *)data;
    uint64_t h = seed;
    for (size_t i = 0; i < bytes; i++) { h ^= p[i]; h *= 0x100000001b3ULL; }
    return h;
}
