/*
 * dist.h - data parallelism across processes: who am I (rank, world size, local
 * GPU), the rendezvous that hands rank 0's NCCL id to every process (MPI, TCP or
 * a shared file system, as llm.c's -pi mpi|tcp|fs), and, in dist_nccl.cu, the
 * NCCL communicator, reductions with a timeout, and barriers.
 *
 * The host part (this header's first half, dist_host.c) has no NCCL or MPI in
 * it, so CI tests it on the CPU.
 */
#ifndef DIST_DIST_H
#define DIST_DIST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { DIST_INIT_MPI = 0, DIST_INIT_TCP = 1, DIST_INIT_FS = 2 } DistInitMethod;

typedef struct {
    DistInitMethod method;
    int rank, world_size;      /* global */
    int local_rank, local_size;/* on this node: the GPU index is local_rank */
    char server[256];          /* TCP: rank 0's address */
    int port;                  /* TCP port */
    char fs_dir[512];          /* FS: a directory every process sees */
    double timeout_s;          /* how long to wait for peers before giving up */
} DistEnv;

/* "mpi" | "tcp" | "fs" -> method; -1 if unknown */
int dist_method_from_name(const char *name);

/* Resolve rank, world size and local rank. Explicit values (>= 0: -pn world,
 * -pr rank, -pg GPUs per node) win; otherwise the launcher's environment:
 * mpirun (OMPI_COMM_WORLD_RANK/SIZE/LOCAL_RANK/LOCAL_SIZE, PMI_RANK/PMI_SIZE),
 * Slurm (SLURM_PROCID/SLURM_NTASKS/SLURM_LOCALID), else a single process.
 * Returns 0, or -1 with a message naming the flag or variable in err. */
int dist_env_resolve(DistEnv *env, DistInitMethod method, int world_flag, int rank_flag, int gpus_per_node_flag,
                     const char *server, int port, const char *fs_dir, double timeout_s, char *err, size_t err_len);

/* Hand `bytes` of blob from rank 0 to every rank (rank 0 provides it, the others
 * receive it). FS: rank 0 writes <dir>/nccl_id.bin atomically, the others poll
 * for it; TCP: rank 0 listens on port, the others connect (retrying) and read.
 * Both give up after env->timeout_s with a message that names the address or
 * file and what to check. Returns 0 or -1. */
int dist_share_blob_fs(const DistEnv *env, void *blob, size_t bytes, char *err, size_t err_len);
int dist_share_blob_tcp(const DistEnv *env, void *blob, size_t bytes, char *err, size_t err_len);
/* FS: rank 0 removes <dir>/nccl_id.bin once every rank has joined (after the communicator is set
 * up), so the next run in the same directory cannot hand its ranks this run's stale id. */
void dist_rendezvous_done_fs(const DistEnv *env);

/* Data-parallel arithmetic the trainer relies on: the micro-steps per optimizer
 * step for a total batch (tokens) across world_size processes of B*T tokens;
 * -1 if total is not a multiple of B*T*world_size. */
int dist_grad_accum_steps(long total_batch_tokens, int B, int T, int world_size);

/* ZeRO-1 sharding of a flat vector of n elements over world ranks: each rank owns one contiguous
 * shard; *shard_size is equal on every rank and a multiple of align (> 0), the smallest such that
 * world * *shard_size >= n, so that an all-gather of the shards rebuilds the vector (padded to
 * world * *shard_size). Rank r's shard starts at *begin = r * *shard_size and holds *count
 * elements of the vector: *shard_size, fewer in the shard that reaches the end, none past it. */
void dist_shard_range(size_t n, int world, int rank, size_t align, size_t *shard_size, size_t *begin, size_t *count);

#ifdef __cplusplus
}
#endif
#endif /* DIST_DIST_H */
