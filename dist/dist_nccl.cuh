/*
 * dist_nccl.cuh - the NCCL side of data parallelism (see dist.h for the host
 * part): communicator setup through MPI, TCP or a shared file system, gradient
 * and scalar reductions, a cross-rank equality check (mask checksums), a
 * barrier, and a watchdog: every wait on a collective gives up after the
 * timeout with a clear error (a peer that died must not hang the others).
 *
 * Built with NCCL unless NO_MULTI_GPU is defined, and with MPI unless
 * NO_USE_MPI is defined; without them a single process still runs through the
 * same calls (they become no-ops) and asking for more processes is an error.
 */
#ifndef DIST_DIST_NCCL_CUH
#define DIST_DIST_NCCL_CUH

#include <cuda_runtime.h>
#include <stddef.h>
#include <stdint.h>
#include "dist.h"

typedef struct {
    DistEnv env;
    int active;          /* 1 when a NCCL communicator exists (launched with several processes, or by mpirun) */
    int mpi_initialized;
    void *comm;          /* ncclComm_t */
    void *scratch;       /* small device buffer for scalar reductions */
    void *host_scratch;  /* its pinned host twin: copies to and from it stay asynchronous, so the wait
                          * for a scalar reduction is the watchdog's (a pageable copy would block in
                          * CUDA until a hung collective ends, i.e. for ever) */
    cudaStream_t stream; /* stream for the reductions this module issues itself */
    int in_group;        /* inside dist_group_start / dist_group_end */
} Dist;

#ifdef __cplusplus
extern "C" {
#endif

/* Resolve the environment (dist_env_resolve), pick and check this process's GPU
 * (local rank < GPUs on the node), create the communicator. Dies with a clear
 * message on failure. launched_by_mpi: use NCCL even for one process (so
 * `mpirun -np 1` runs the multi-GPU code path). */
void dist_init(Dist *d, const DistEnv *env);
void dist_finalize(Dist *d);

/* In-place all-reduce averaging n bf16 values (gradients) on stream s. */
void dist_allreduce_avg_bf16(Dist *d, void *buf, size_t n, cudaStream_t s);
/* All-gather (ZeRO-1): each rank's count elements at send land at recv + rank * count on every rank
 * (recv holds world_size * count; send == recv + rank * count works in place), on stream s. With one
 * process, send is copied to recv (nothing to do in place). bf16 and fp32. */
void dist_allgather_bf16(Dist *d, const void *send, void *recv, size_t count, cudaStream_t s);
void dist_allgather_f32(Dist *d, const float *send, float *recv, size_t count, cudaStream_t s);
/* Batch several all-reduces into one NCCL launch (ncclGroupStart/End). */
void dist_group_start(Dist *d);
void dist_group_end(Dist *d);
/* In-place all-reduce summing n fp32 values on stream s. */
void dist_allreduce_sum_f32(Dist *d, float *buf, size_t n, cudaStream_t s);
/* Host value summed over ranks (synchronous). */
double dist_sum_host(Dist *d, double value);
/* Dies unless every rank passed the same value (e.g. a mask checksum). */
void dist_check_equal_u64(Dist *d, uint64_t value, const char *what);
/* Wait for stream s, checking the communicator; gives up after the timeout. */
void dist_wait(Dist *d, cudaStream_t s, const char *what);
void dist_barrier(Dist *d, const char *what);

#ifdef __cplusplus
}
#endif
#endif /* DIST_DIST_NCCL_CUH */
