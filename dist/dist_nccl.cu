/* dist_nccl.cu - NCCL communicator, reductions, watchdog (see dist_nccl.cuh). */
#include "dist_nccl.cuh"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/cuda_common.cuh"
#include "../core/utils.h"

#ifndef NO_MULTI_GPU
#include <nccl.h>
#endif
#ifndef NO_USE_MPI
#include <mpi.h>
#endif

/* CUDA errors in a named step of the set-up or of a collective */
static void cuda_ok(cudaError_t e, const char *what) {
    if (e != cudaSuccess) DIE("check the GPUs with nvidia-smi", "CUDA error in %s: %s", what, cudaGetErrorString(e));
}

#ifndef NO_MULTI_GPU
static ncclComm_t comm_of(Dist *d) { return (ncclComm_t)d->comm; }

/* Wait for a non-blocking NCCL call or the stream, checking for asynchronous
 * NCCL errors; abort the communicator and die after the timeout. */
static void wait_nccl(Dist *d, cudaStream_t s, const char *what) {
    double t0 = wall_clock_seconds();
    for (;;) {
        ncclResult_t async = ncclSuccess;
        const ncclResult_t q_err = ncclCommGetAsyncError(comm_of(d), &async);
        if (q_err != ncclSuccess) async = q_err; /* the query itself failed: treat it as the error */
        if (async != ncclSuccess && async != ncclInProgress) {
            ncclCommAbort(comm_of(d));
            DIE("look at the other ranks' logs: one of them probably failed first",
                "rank %d: NCCL error during %s: %s", d->env.rank, what, ncclGetErrorString(async));
        }
        if (async == ncclSuccess) {
            if (!s) return;
            cudaError_t q = cudaStreamQuery(s);
            if (q == cudaSuccess) return;
            if (q != cudaErrorNotReady) cuda_ok(q, what);
        }
        if (wall_clock_seconds() - t0 > d->env.timeout_s) {
            ncclCommAbort(comm_of(d));
            DIE("another rank died or hangs: check its log; resume from the last checkpoint with -y 1 (raise --dist-timeout for slow steps)",
                "rank %d waited %.0f s for %s", d->env.rank, d->env.timeout_s, what);
        }
        struct timespec ts = {0, 200000};
        nanosleep(&ts, NULL);
    }
}
#endif

#ifndef NO_MULTI_GPU
/* A non-blocking communicator may answer a collective (or a group's end) with ncclInProgress before
 * its kernels are on the stream: work queued on that stream afterwards (an event the other stream
 * waits for, the next kernel reading the result) would then not be ordered after it. So every launch
 * outside a group, and every group's end, waits here until NCCL has enqueued it (a host wait for the
 * launch, not for the transfer; watchdog as for any wait). */
static void launched(Dist *d, ncclResult_t r, const char *what) {
    if (r != ncclSuccess && r != ncclInProgress) {
        ncclCommAbort(comm_of(d)); /* the peers' collectives fail now instead of at their timeout */
        DIE("see NCCL_DEBUG=INFO", "rank %d: %s: %s", d->env.rank, what, ncclGetErrorString(r));
    }
    if (r == ncclInProgress && !d->in_group) wait_nccl(d, 0, what);
}
#endif

void dist_init(Dist *d, const DistEnv *env) {
    memset(d, 0, sizeof(*d));
    d->env = *env;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0)
        DIE("run on a machine with an NVIDIA GPU and driver (nvidia-smi), or train on the CPU with ./train_gpt2",
            "no CUDA device available (%s)", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    if (env->local_rank >= count)
        DIE("start at most as many processes per node as it has GPUs (mpirun -np, or -pg)",
            "rank %d is local rank %d on its node, which has only %d GPU(s)", env->rank, env->local_rank, count);
    cuda_ok(cudaSetDevice(env->local_rank), "cudaSetDevice");
    const int by_launcher = getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE");
    d->active = env->world_size > 1 || (by_launcher && env->method == DIST_INIT_MPI);
    if (!d->active) return;
#ifdef NO_MULTI_GPU
    DIE("rebuild without NO_MULTI_GPU=1 (NCCL is needed), or run one process",
        "this build has no NCCL: %d processes were asked for", env->world_size);
#else
    ncclUniqueId id;
    if (env->rank == 0 && ncclGetUniqueId(&id) != ncclSuccess) DIE("check the NCCL installation", "ncclGetUniqueId failed");
    char err[1024];
    if (env->method == DIST_INIT_MPI) {
#ifdef NO_USE_MPI
        DIE("rebuild without NO_USE_MPI=1, or launch with -pi tcp -ps ADDRESS / -pi fs -pf DIR",
            "this build has no MPI, but -pi mpi (the default) was asked for %d processes", env->world_size);
#else
        MPI_Init(NULL, NULL);
        d->mpi_initialized = 1;
        int mr, mw;
        MPI_Comm_rank(MPI_COMM_WORLD, &mr);
        MPI_Comm_size(MPI_COMM_WORLD, &mw);
        if (mr != env->rank || mw != env->world_size)
            DIE("do not combine -pn/-pr with mpirun", "MPI says rank %d of %d, the flags say %d of %d", mr, mw, env->rank, env->world_size);
        MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD);
#endif
    } else if (env->method == DIST_INIT_TCP) {
        if (dist_share_blob_tcp(env, &id, sizeof(id), err, sizeof(err)) != 0) DIE("fix the rendezvous (-ps, --dist-port)", "%s", err);
    } else {
        if (dist_share_blob_fs(env, &id, sizeof(id), err, sizeof(err)) != 0) DIE("fix the rendezvous directory (-pf)", "%s", err);
    }
    ncclConfig_t config = NCCL_CONFIG_INITIALIZER;
    config.blocking = 0; /* non-blocking: the watchdog can give up on a peer that never arrives */
    ncclComm_t comm;
    ncclResult_t r = ncclCommInitRankConfig(&comm, env->world_size, id, env->rank, &config);
    if (r != ncclSuccess && r != ncclInProgress)
        DIE("check NCCL's environment (NCCL_DEBUG=INFO), the network between nodes", "ncclCommInitRankConfig: %s", ncclGetErrorString(r));
    d->comm = comm;
    wait_nccl(d, 0, "NCCL communicator setup");
    if (env->method == DIST_INIT_FS) dist_rendezvous_done_fs(env); /* every rank has read the id */
    cuda_ok(cudaStreamCreate(&d->stream), "cudaStreamCreate");
    cuda_ok(cudaMalloc(&d->scratch, 64), "cudaMalloc");
    cuda_ok(cudaMallocHost(&d->host_scratch, 64), "cudaMallocHost");
    if (env->rank == 0)
        printf("distributed: %d processes, NCCL %s rendezvous, %d per node\n", env->world_size,
               env->method == DIST_INIT_MPI ? "MPI" : env->method == DIST_INIT_TCP ? "TCP" : "file-system", env->local_size);
#endif
}

void dist_finalize(Dist *d) {
#ifndef NO_MULTI_GPU
    if (d->active) {
        ncclCommFinalize(comm_of(d));
        wait_nccl(d, 0, "NCCL finalize");
        ncclCommDestroy(comm_of(d));
        cudaFree(d->scratch);
        cudaFreeHost(d->host_scratch);
        cudaStreamDestroy(d->stream);
    }
#endif
#ifndef NO_USE_MPI
    if (d->mpi_initialized) MPI_Finalize();
#endif
    d->active = 0;
}

void dist_wait(Dist *d, cudaStream_t s, const char *what) {
#ifndef NO_MULTI_GPU
    if (d->active) { wait_nccl(d, s, what); return; }
#endif
    cuda_ok(cudaStreamSynchronize(s), what);
}

void dist_allreduce_avg_bf16(Dist *d, void *buf, size_t n, cudaStream_t s) {
#ifndef NO_MULTI_GPU
    if (!d->active || n == 0) return;
    launched(d, ncclAllReduce(buf, buf, n, ncclBfloat16, ncclAvg, comm_of(d), s), "ncclAllReduce (gradients)");
#else
    (void)d; (void)buf; (void)n; (void)s;
#endif
}

static void allgather(Dist *d, const void *send, void *recv, size_t count, size_t elem_bytes, int fp32, cudaStream_t s) {
#ifndef NO_MULTI_GPU
    if (d->active) {
        if (count == 0) return;
        launched(d, ncclAllGather(send, recv, count, fp32 ? ncclFloat32 : ncclBfloat16, comm_of(d), s), "ncclAllGather");
        return;
    }
#else
    (void)fp32;
#endif
    if (send != recv && count) cuda_ok(cudaMemcpyAsync(recv, send, count * elem_bytes, cudaMemcpyDeviceToDevice, s), "all-gather copy");
}
void dist_allgather_bf16(Dist *d, const void *send, void *recv, size_t count, cudaStream_t s) {
    allgather(d, send, recv, count, 2, 0, s);
}
void dist_allgather_f32(Dist *d, const float *send, float *recv, size_t count, cudaStream_t s) {
    allgather(d, send, recv, count, 4, 1, s);
}

void dist_group_start(Dist *d) {
#ifndef NO_MULTI_GPU
    if (d->active) {
        ncclGroupStart();
        d->in_group = 1;
    }
#else
    (void)d;
#endif
}

void dist_group_end(Dist *d) {
#ifndef NO_MULTI_GPU
    if (d->active) {
        d->in_group = 0;
        launched(d, ncclGroupEnd(), "ncclGroupEnd");
    }
#else
    (void)d;
#endif
}

void dist_allreduce_sum_f32(Dist *d, float *buf, size_t n, cudaStream_t s) {
#ifndef NO_MULTI_GPU
    if (!d->active || n == 0) return;
    launched(d, ncclAllReduce(buf, buf, n, ncclFloat32, ncclSum, comm_of(d), s), "ncclAllReduce");
#else
    (void)d; (void)buf; (void)n; (void)s;
#endif
}

double dist_sum_host(Dist *d, double value) {
#ifndef NO_MULTI_GPU
    if (!d->active) return value;
    double *h = (double *)d->host_scratch; /* pinned: both copies are asynchronous */
    h[0] = value;
    cuda_ok(cudaMemcpyAsync(d->scratch, h, sizeof(double), cudaMemcpyHostToDevice, d->stream), "dist_sum_host");
    launched(d, ncclAllReduce(d->scratch, d->scratch, 1, ncclFloat64, ncclSum, comm_of(d), d->stream), "ncclAllReduce (a scalar)");
    cuda_ok(cudaMemcpyAsync(h, d->scratch, sizeof(double), cudaMemcpyDeviceToHost, d->stream), "dist_sum_host");
    wait_nccl(d, d->stream, "a scalar all-reduce");
    return h[0];
#else
    (void)d;
    return value;
#endif
}

void dist_check_equal_u64(Dist *d, uint64_t value, const char *what) {
#ifndef NO_MULTI_GPU
    if (!d->active) return;
    uint64_t *h = (uint64_t *)d->host_scratch; /* pinned: both copies are asynchronous */
    h[0] = h[1] = value;
    char *sc = (char *)d->scratch;
    cuda_ok(cudaMemcpyAsync(sc, h, 2 * sizeof(uint64_t), cudaMemcpyHostToDevice, d->stream), "dist_check_equal_u64");
    dist_group_start(d);
    launched(d, ncclAllReduce(sc, sc, 1, ncclUint64, ncclMin, comm_of(d), d->stream), "ncclAllReduce (min)");
    launched(d, ncclAllReduce(sc + 8, sc + 8, 1, ncclUint64, ncclMax, comm_of(d), d->stream), "ncclAllReduce (max)");
    dist_group_end(d);
    cuda_ok(cudaMemcpyAsync(h, sc, 2 * sizeof(uint64_t), cudaMemcpyDeviceToHost, d->stream), "dist_check_equal_u64");
    wait_nccl(d, d->stream, what);
    const uint64_t lo = h[0], hi = h[1];
    if (lo != hi)
        DIE("the ranks have diverged (different weights or builds); restart from the last checkpoint on identical builds",
            "rank %d: %s differs across ranks (min %016llx, max %016llx, this rank %016llx)", d->env.rank, what,
            (unsigned long long)lo, (unsigned long long)hi, (unsigned long long)value);
#else
    (void)d; (void)value; (void)what;
#endif
}

void dist_barrier(Dist *d, const char *what) {
    if (!d->active) return;
    dist_sum_host(d, 1.0);
    (void)what;
}
