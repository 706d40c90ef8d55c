/* dist_host.c - rank resolution and rendezvous without NCCL or MPI (see dist.h). */
#include "dist.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../core/utils.h"

static void sleep_ms(int ms) {
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int dist_method_from_name(const char *name) {
    if (!strcmp(name, "mpi")) return DIST_INIT_MPI;
    if (!strcmp(name, "tcp")) return DIST_INIT_TCP;
    if (!strcmp(name, "fs")) return DIST_INIT_FS;
    return -1;
}

static int env_int(const char *name, int *out) {
    const char *v = getenv(name);
    return v && parse_int(v, out) == 0;
}

int dist_env_resolve(DistEnv *e, DistInitMethod method, int world_flag, int rank_flag, int gpn_flag, const char *server,
                     int port, const char *fs_dir, double timeout_s, char *err, size_t n) {
    memset(e, 0, sizeof(*e));
    e->method = method;
    e->timeout_s = timeout_s;
    e->port = port;
    snprintf(e->server, sizeof(e->server), "%s", server ? server : "");
    snprintf(e->fs_dir, sizeof(e->fs_dir), "%s", fs_dir ? fs_dir : "");
    int r = 0, w = 1, lr = -1, ls = -1;
    if (env_int("OMPI_COMM_WORLD_SIZE", &w)) {
        env_int("OMPI_COMM_WORLD_RANK", &r);
        env_int("OMPI_COMM_WORLD_LOCAL_RANK", &lr);
        env_int("OMPI_COMM_WORLD_LOCAL_SIZE", &ls);
    } else if (env_int("PMI_SIZE", &w)) {
        env_int("PMI_RANK", &r);
        env_int("MPI_LOCALRANKID", &lr);
        env_int("MPI_LOCALNRANKS", &ls);
    } else if (env_int("SLURM_NTASKS", &w)) {
        env_int("SLURM_PROCID", &r);
        env_int("SLURM_LOCALID", &lr);
        env_int("SLURM_NTASKS_PER_NODE", &ls);
    } else {
        w = 1; r = 0;
    }
    if (world_flag > 0) w = world_flag;
    if (rank_flag >= 0) r = rank_flag;
    if (w < 1) { snprintf(err, n, "world size %d: -pn must be at least 1", w); return -1; }
    if (r < 0 || r >= w) {
        snprintf(err, n, "process rank %d is outside [0, %d): give -pr in [0, -pn) (or launch with mpirun/srun)", r, w);
        return -1;
    }
    if (gpn_flag > 0) {
        lr = r % gpn_flag;
        ls = gpn_flag;
    } else if (lr < 0) {
        /* no launcher info about the node: assume one node holds every process */
        lr = r;
        ls = w;
    }
    if (ls < 1) ls = 1;
    e->rank = r;
    e->world_size = w;
    e->local_rank = lr;
    e->local_size = ls;
    if (method == DIST_INIT_FS && w > 1 && !e->fs_dir[0]) {
        snprintf(err, n, "-pi fs needs -pf DIR, a directory every process can read and write");
        return -1;
    }
    if (method == DIST_INIT_TCP && w > 1 && !e->server[0]) {
        snprintf(err, n, "-pi tcp needs -ps ADDRESS, the address of the process with rank 0");
        return -1;
    }
    return 0;
}

int dist_grad_accum_steps(long total, int B, int T, int world) {
    long per_step = (long)B * T * world;
    if (per_step <= 0 || total <= 0 || total % per_step != 0) return -1;
    return (int)(total / per_step);
}

void dist_shard_range(size_t n, int world, int rank, size_t align, size_t *shard_size, size_t *begin, size_t *count) {
    const size_t per = (n + (size_t)world - 1) / (size_t)world;
    *shard_size = (per + align - 1) / align * align;
    *begin = (size_t)rank * *shard_size;
    *count = *begin >= n ? 0 : (n - *begin < *shard_size ? n - *begin : *shard_size);
}

/* ------------------------------------------------------------------ FS rendezvous */

int dist_share_blob_fs(const DistEnv *e, void *blob, size_t bytes, char *err, size_t n) {
    char path[700];
    snprintf(path, sizeof(path), "%s/nccl_id.bin", e->fs_dir);
    if (e->rank == 0) {
        AtomicFile af;
        if (atomic_file_open(&af, path) != 0 || atomic_file_write(&af, blob, bytes) != 0 || atomic_file_commit(&af) != 0) {
            snprintf(err, n, "rank 0 cannot write the rendezvous file '%s': %s (check -pf is a shared, writable directory)", path,
                     af.error);
            atomic_file_abort(&af);
            return -1;
        }
        return 0;
    }
    double t0 = wall_clock_seconds();
    for (;;) {
        FILE *f = fopen(path, "rb");
        if (f) {
            size_t got = fread(blob, 1, bytes, f);
            fclose(f);
            if (got == bytes) return 0;
        }
        if (wall_clock_seconds() - t0 > e->timeout_s) {
            snprintf(err, n, "rank %d waited %.0f s for '%s' from rank 0: check that rank 0 started, that -pf names the same "
                     "shared directory on every node, and remove stale files from earlier runs", e->rank, e->timeout_s, path);
            return -1;
        }
        sleep_ms(50);
    }
}

void dist_rendezvous_done_fs(const DistEnv *e) {
    if (e->rank != 0) return;
    char path[700];
    snprintf(path, sizeof(path), "%s/nccl_id.bin", e->fs_dir);
    unlink(path);
}

/* ------------------------------------------------------------------ TCP rendezvous */

static int send_all(int fd, const void *buf, size_t bytes) {
    const char *p = (const char *)buf;
    while (bytes) {
        ssize_t k = send(fd, p, bytes, 0);
        if (k <= 0) { if (k < 0 && errno == EINTR) continue; return -1; }
        p += k; bytes -= (size_t)k;
    }
    return 0;
}

static int recv_all(int fd, void *buf, size_t bytes) {
    char *p = (char *)buf;
    while (bytes) {
        ssize_t k = recv(fd, p, bytes, 0);
        if (k <= 0) { if (k < 0 && errno == EINTR) continue; return -1; }
        p += k; bytes -= (size_t)k;
    }
    return 0;
}

int dist_share_blob_tcp(const DistEnv *e, void *blob, size_t bytes, char *err, size_t n) {
    if (e->rank == 0) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in addr;
        memset(&addr, 0, sizeof(addr));
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_ANY);
        addr.sin_port = htons((uint16_t)e->port);
        if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, 1024) != 0) {
            snprintf(err, n, "rank 0 cannot listen on TCP port %d: %s (choose a free port with --dist-port)", e->port, strerror(errno));
            if (fd >= 0) close(fd);
            return -1;
        }
        struct timeval tv = {(time_t)e->timeout_s, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        for (int served = 1; served < e->world_size; served++) {
            int c = accept(fd, NULL, NULL);
            if (c < 0) {
                snprintf(err, n, "rank 0 waited %.0f s on port %d but only %d of %d processes connected: check that every "
                         "process was started with the same -ps/-pn and can reach this host", e->timeout_s, e->port, served,
                         e->world_size);
                close(fd);
                return -1;
            }
            int ok = send_all(c, blob, bytes);
            close(c);
            if (ok != 0) { snprintf(err, n, "rank 0: sending the NCCL id failed: %s", strerror(errno)); close(fd); return -1; }
        }
        close(fd);
        return 0;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    char port[16];
    snprintf(port, sizeof(port), "%d", e->port);
    int rc = getaddrinfo(e->server, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, n, "rank %d cannot resolve the rendezvous address '%s': %s (check -ps)", e->rank, e->server, gai_strerror(rc));
        return -1;
    }
    double t0 = wall_clock_seconds();
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) == 0) {
            int ok = recv_all(fd, blob, bytes);
            close(fd);
            freeaddrinfo(res);
            if (ok != 0) { snprintf(err, n, "rank %d: connection to %s:%d closed before the NCCL id arrived", e->rank, e->server, e->port); return -1; }
            return 0;
        }
        if (fd >= 0) close(fd);
        if (wall_clock_seconds() - t0 > e->timeout_s) {
            freeaddrinfo(res);
            snprintf(err, n, "rank %d could not reach the rendezvous at %s:%d within %.0f s: check that rank 0 is running, the "
                     "address (-ps) and port (--dist-port), and firewalls", e->rank, e->server, e->port, e->timeout_s);
            return -1;
        }
        sleep_ms(100);
    }
}
