/*
 * utils.h - the one shared utilities header: fatal errors with file, line and a
 * hint, checked file and memory helpers, atomic file writes, a deterministic RNG
 * and a wall clock. Host C only; every module (core/, sparse/, layers/, data/,
 * the trainers, tests and benchmarks) includes this instead of its own copies.
 */
#ifndef CORE_UTILS_H
#define CORE_UTILS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------
 * Fatal errors. Every message names the source location and, where there is one,
 * the fix: die_at(__FILE__, __LINE__, "hint", "what went wrong %d", x).
 */
#if defined(__GNUC__)
#define UTILS_NORETURN __attribute__((noreturn))
#define UTILS_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define UTILS_NORETURN
#define UTILS_PRINTF(a, b)
#endif

void die_at(const char *file, int line, const char *hint, const char *fmt, ...)
    UTILS_NORETURN UTILS_PRINTF(4, 5);

/* DIE(hint, fmt, ...): print "error: <msg>\n  at file:line\n  hint: <hint>" and exit(1). */
#define DIE(hint, ...) die_at(__FILE__, __LINE__, (hint), __VA_ARGS__)
/* CHECK(cond, hint, fmt, ...): DIE unless cond holds. */
#define CHECK(cond, hint, ...) do { if (!(cond)) DIE((hint), __VA_ARGS__); } while (0)

/* ---------------------------------------------------------------------------
 * Checked file and memory helpers: they never return on failure.
 */
FILE *fopen_or_die(const char *path, const char *mode, const char *hint, const char *file, int line);
void fread_or_die(void *dst, size_t size, size_t count, FILE *f, const char *path, const char *file, int line);
void fwrite_or_die(const void *src, size_t size, size_t count, FILE *f, const char *path, const char *file, int line);
void fseek_or_die(FILE *f, long offset, int whence, const char *path, const char *file, int line);
void *malloc_or_die(size_t size, const char *file, int line);
void *calloc_or_die(size_t count, size_t size, const char *file, int line);
void *realloc_or_die(void *p, size_t size, const char *file, int line);

#define fopen_check(path, mode, hint) fopen_or_die((path), (mode), (hint), __FILE__, __LINE__)
#define fread_check(dst, size, count, f, path) fread_or_die((dst), (size), (count), (f), (path), __FILE__, __LINE__)
#define fwrite_check(src, size, count, f, path) fwrite_or_die((src), (size), (count), (f), (path), __FILE__, __LINE__)
#define fseek_check(f, off, whence, path) fseek_or_die((f), (off), (whence), (path), __FILE__, __LINE__)
#define malloc_check(size) malloc_or_die((size), __FILE__, __LINE__)
#define calloc_check(count, size) calloc_or_die((count), (size), __FILE__, __LINE__)
#define realloc_check(p, size) realloc_or_die((p), (size), __FILE__, __LINE__)

/* Size of a file in bytes, or -1 if it cannot be stat'ed. */
long long file_size_bytes(const char *path);
int file_exists(const char *path);

/* ---------------------------------------------------------------------------
 * Atomic file writes: data goes to "<path>.tmp.<pid>", is fsync'd, then renamed
 * over <path> and the directory is fsync'd. A failure at any point removes the
 * temporary and leaves whatever was at <path> untouched.
 *
 *   AtomicFile af;
 *   if (atomic_file_open(&af, path) != 0) ...error...
 *   atomic_file_write(&af, buf, n);  ...
 *   if (atomic_file_commit(&af) != 0) ...error...   (or atomic_file_abort(&af))
 *
 * Functions return 0 on success and -1 on failure (errno set, message in af.error).
 */
typedef struct {
    FILE *f;
    char path[1024];
    char tmp_path[1100];
    int failed;
    char error[1400];
} AtomicFile;

int atomic_file_open(AtomicFile *af, const char *path);
int atomic_file_write(AtomicFile *af, const void *data, size_t bytes);
int atomic_file_commit(AtomicFile *af);
void atomic_file_abort(AtomicFile *af);

/* ---------------------------------------------------------------------------
 * Deterministic RNG (xoshiro256** seeded by splitmix64). The same seed gives the
 * same stream on every machine; its whole state is 4 x uint64 so checkpoints
 * can store it for bit-exact resume.
 */
typedef struct { uint64_t s[4]; } Rng;

void rng_seed(Rng *rng, uint64_t seed);
uint64_t rng_next_u64(Rng *rng);
uint32_t rng_next_u32(Rng *rng);
/* uniform in [0, 1) with 24 random bits */
float rng_uniform_f32(Rng *rng);
/* uniform integer in [0, n) without modulo bias; n > 0 */
uint64_t rng_below(Rng *rng, uint64_t n);
/* standard normal via Box-Muller in double, returned as double */
double rng_normal(Rng *rng);
/* Fisher-Yates shuffle of an int array */
void rng_shuffle_int(Rng *rng, int *a, int n);

/* ---------------------------------------------------------------------------
 * Misc
 */
double wall_clock_seconds(void);
/* Parse helpers for the command line and config strings: return 0 on success. */
int parse_int(const char *s, int *out);
int parse_long(const char *s, long long *out);
int parse_float(const char *s, float *out);
/* 64-bit FNV-1a over bytes, used for mask checksums and test fingerprints */
uint64_t fnv1a64(const void *data, size_t bytes, uint64_t seed);
#define FNV1A64_INIT 0xcbf29ce484222325ULL

#ifdef __cplusplus
}
#endif
#endif /* CORE_UTILS_H */
