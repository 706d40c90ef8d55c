/*
 * test_dist.c - the host side of data parallelism (dist/dist.h), on the CPU:
 * rank / world / local-rank resolution from flags and launcher variables, the
 * file-system and TCP rendezvous between real processes (fork), a clear error
 * when the TCP server is unreachable or the FS rendezvous never appears, the
 * batch arithmetic across ranks and the per-rank checkpoint names.
 */
#define _DEFAULT_SOURCE
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../core/utils.h"
#include "../dist/dist.h"
#include "../model/checkpoint.h"

static int failures = 0, checks = 0;
#define EXPECT(cond, ...) do { checks++; if (!(cond)) { failures++; printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } while (0)

static void clear_launcher_env(void) {
    const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_SIZE",
                          "PMI_SIZE", "PMI_RANK", "MPI_LOCALRANKID", "MPI_LOCALNRANKS", "SLURM_NTASKS", "SLURM_PROCID",
                          "SLURM_LOCALID", "SLURM_NTASKS_PER_NODE"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) unsetenv(vars[i]);
}

static void test_resolve(void) {
    DistEnv e;
    char err[512];
    clear_launcher_env();
    EXPECT(dist_env_resolve(&e, DIST_INIT_MPI, -1, -1, -1, "", 1, "", 1, err, sizeof(err)) == 0 && e.rank == 0 && e.world_size == 1 &&
               e.local_rank == 0, "no launcher: one process");
    setenv("OMPI_COMM_WORLD_SIZE", "16", 1);
    setenv("OMPI_COMM_WORLD_RANK", "11", 1);
    setenv("OMPI_COMM_WORLD_LOCAL_RANK", "3", 1);
    setenv("OMPI_COMM_WORLD_LOCAL_SIZE", "8", 1);
    EXPECT(dist_env_resolve(&e, DIST_INIT_MPI, -1, -1, -1, "", 1, "", 1, err, sizeof(err)) == 0 && e.rank == 11 &&
               e.world_size == 16 && e.local_rank == 3 && e.local_size == 8, "mpirun variables: rank %d world %d local %d/%d",
           e.rank, e.world_size, e.local_rank, e.local_size);
    clear_launcher_env();
    setenv("SLURM_NTASKS", "4", 1);
    setenv("SLURM_PROCID", "2", 1);
    setenv("SLURM_LOCALID", "0", 1);
    EXPECT(dist_env_resolve(&e, DIST_INIT_FS, -1, -1, -1, "", 1, "/tmp", 1, err, sizeof(err)) == 0 && e.rank == 2 &&
               e.world_size == 4 && e.local_rank == 0, "Slurm variables");
    clear_launcher_env();
    EXPECT(dist_env_resolve(&e, DIST_INIT_TCP, 8, 5, 4, "host0", 1, "", 1, err, sizeof(err)) == 0 && e.rank == 5 &&
               e.world_size == 8 && e.local_rank == 1 && e.local_size == 4, "explicit -pn 8 -pr 5 -pg 4: local rank %d", e.local_rank);
    EXPECT(dist_env_resolve(&e, DIST_INIT_TCP, 4, 4, -1, "host0", 1, "", 1, err, sizeof(err)) != 0 && strstr(err, "-pr"),
           "rank outside the world is refused: %s", err);
    EXPECT(dist_env_resolve(&e, DIST_INIT_TCP, 2, 1, -1, "", 1, "", 1, err, sizeof(err)) != 0 && strstr(err, "-ps"),
           "tcp without -ps is refused: %s", err);
    EXPECT(dist_env_resolve(&e, DIST_INIT_FS, 2, 1, -1, "", 1, "", 1, err, sizeof(err)) != 0 && strstr(err, "-pf"),
           "fs without -pf is refused: %s", err);
    EXPECT(dist_method_from_name("mpi") == DIST_INIT_MPI && dist_method_from_name("tcp") == DIST_INIT_TCP &&
               dist_method_from_name("fs") == DIST_INIT_FS && dist_method_from_name("smoke") == -1, "method names");
    printf("rank resolution: flags, mpirun and Slurm variables, bad combinations refused\n");
}

static void test_arithmetic_and_names(void) {
    EXPECT(dist_grad_accum_steps(524288, 16, 1024, 8) == 4, "0.5M tokens over 8 x 16 x 1024 = 4 micro-steps");
    EXPECT(dist_grad_accum_steps(524288, 16, 1024, 1) == 32, "one process: 32 micro-steps");
    EXPECT(dist_grad_accum_steps(524288, 24, 1024, 8) == -1, "not a multiple: refused");
    EXPECT(dist_grad_accum_steps(16384, 16, 1024, 2) == -1, "less than one micro-step per rank: refused");
    /* ZeRO-1 shards: every element in exactly one rank's shard, equal aligned shard sizes, none larger
     * than needed; the last shards short or empty */
    const size_t ns[] = {1, 63, 64, 1000, 124475904, 124475905, 7};
    const int worlds[] = {1, 2, 3, 8, 16};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
        for (size_t w = 0; w < sizeof(worlds) / sizeof(worlds[0]); w++) {
            const size_t n = ns[i], align = 64;
            const int world = worlds[w];
            size_t covered = 0, size0 = 0;
            int ok = 1;
            for (int r = 0; r < world; r++) {
                size_t s, b, c;
                dist_shard_range(n, world, r, align, &s, &b, &c);
                if (r == 0) size0 = s;
                ok &= s == size0 && s % align == 0 && b == (size_t)r * s && c <= s;
                ok &= (covered == n) ? c == 0 : (c == s || b + c == n); /* full shards until the end */
                covered += c;
            }
            ok &= covered == n && (size_t)world * size0 >= n && (size_t)world * (size0 - align) < n;
            EXPECT(ok, "dist_shard_range n %zu over %d ranks: shards cover [0, n) once, size %zu", n, world, size0);
        }
    {
        size_t s, b, c;
        dist_shard_range(100, 8, 7, 8, &s, &b, &c); /* 13 -> 16 per rank: rank 6 holds 4, rank 7 none */
        EXPECT(s == 16 && b == 112 && c == 0, "n 100 over 8 ranks, align 8: rank 7 empty (size %zu begin %zu count %zu)", s, b, c);
        dist_shard_range(100, 8, 6, 8, &s, &b, &c);
        EXPECT(s == 16 && b == 96 && c == 4, "n 100 over 8 ranks, align 8: rank 6 holds 4 (size %zu begin %zu count %zu)", s, b, c);
    }
    char p[256];
    checkpoint_state_path(p, sizeof(p), "out", 1200, 7);
    EXPECT(!strcmp(p, "out/state_00001200_00007.bin"), "state name %s", p);
    checkpoint_model_path(p, sizeof(p), "out", 1200);
    EXPECT(!strcmp(p, "out/model_00001200.bin"), "model name %s", p);
    checkpoint_done_path(p, sizeof(p), "out", 1200);
    EXPECT(!strcmp(p, "out/DONE_00001200"), "done name %s", p);
    printf("batch arithmetic across ranks and per-rank checkpoint names\n");
}

/* run `world` processes through a rendezvous; rank 0 offers a random blob, every
 * other rank must receive it exactly */
static void test_rendezvous(DistInitMethod method, const char *dir, int port, uint64_t seed) {
    const int world = 4;
    unsigned char blob[128];
    Rng rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < 128; i++) blob[i] = (unsigned char)rng_next_u32(&rng);
    pid_t pids[4];
    for (int r = 1; r < world; r++) {
        pids[r] = fork();
        if (pids[r] == 0) {
            DistEnv e;
            char err[1024];
            if (dist_env_resolve(&e, method, world, r, -1, "127.0.0.1", port, dir, 20, err, sizeof(err)) != 0) _exit(2);
            unsigned char got[128];
            memset(got, 0, sizeof(got));
            int rc = method == DIST_INIT_TCP ? dist_share_blob_tcp(&e, got, sizeof(got), err, sizeof(err))
                                             : dist_share_blob_fs(&e, got, sizeof(got), err, sizeof(err));
            if (rc != 0) { fprintf(stderr, "rank %d: %s\n", r, err); _exit(3); }
            _exit(memcmp(got, blob, sizeof(blob)) == 0 ? 0 : 4);
        }
    }
    usleep(100 * 1000); /* the others start first: they must wait for rank 0 */
    DistEnv e;
    char err[1024];
    EXPECT(dist_env_resolve(&e, method, world, 0, -1, "127.0.0.1", port, dir, 20, err, sizeof(err)) == 0, "%s", err);
    int rc = method == DIST_INIT_TCP ? dist_share_blob_tcp(&e, blob, sizeof(blob), err, sizeof(err))
                                     : dist_share_blob_fs(&e, blob, sizeof(blob), err, sizeof(err));
    EXPECT(rc == 0, "rank 0 rendezvous: %s", err);
    int all_ok = 1;
    for (int r = 1; r < world; r++) {
        int status;
        waitpid(pids[r], &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) all_ok = 0;
    }
    EXPECT(all_ok, "every rank received rank 0's blob (%s)", method == DIST_INIT_TCP ? "tcp" : "fs");
    if (method == DIST_INIT_FS) dist_rendezvous_done_fs(&e); /* as dist_init does once NCCL is set up */
    printf("%s rendezvous: %d processes received rank 0's 128-byte id\n", method == DIST_INIT_TCP ? "TCP" : "file-system", world);
}

static void test_unreachable(const char *dir) {
    DistEnv e;
    char err[1024];
    /* nobody listens on this port: a clear error after the timeout, no hang */
    dist_env_resolve(&e, DIST_INIT_TCP, 2, 1, -1, "127.0.0.1", 29999, "", 1.0, err, sizeof(err));
    unsigned char blob[16];
    double t0 = wall_clock_seconds();
    int rc = dist_share_blob_tcp(&e, blob, sizeof(blob), err, sizeof(err));
    double dt = wall_clock_seconds() - t0;
    EXPECT(rc != 0 && strstr(err, "127.0.0.1:29999") && strstr(err, "rank 0"), "unreachable server: %s", err);
    EXPECT(dt >= 0.9 && dt < 10, "gave up after %.1f s (timeout 1 s)", dt);
    char sub[600];
    snprintf(sub, sizeof(sub), "%s/empty", dir);
    mkdir(sub, 0755);
    dist_env_resolve(&e, DIST_INIT_FS, 2, 1, -1, "", 1, sub, 1.0, err, sizeof(err));
    rc = dist_share_blob_fs(&e, blob, sizeof(blob), err, sizeof(err));
    EXPECT(rc != 0 && strstr(err, "nccl_id.bin") && strstr(err, "-pf"), "missing rendezvous file: %s", err);
    printf("unreachable TCP rendezvous and a missing FS rendezvous file: clear errors after the timeout\n");
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    test_resolve();
    test_arithmetic_and_names();
    char dir[] = "/tmp/test_dist_XXXXXX";
    if (!mkdtemp(dir)) { perror("mkdtemp"); return 1; }
    test_rendezvous(DIST_INIT_FS, dir, 0, 77);
    /* a second run in the same directory: its ranks start first and must not take the first run's id */
    test_rendezvous(DIST_INIT_FS, dir, 0, 78);
    test_rendezvous(DIST_INIT_TCP, dir, 29000 + (int)(getpid() % 900), 79);
    test_unreachable(dir);
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    if (system(cmd) != 0) printf("note: could not remove %s\n", dir);
    printf("test_dist: %d checks, %d failed\n", checks, failures);
    return failures ? 1 : 0;
}
