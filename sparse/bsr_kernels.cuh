/*
 * bsr_kernels.cuh - block-sparse (BSR) tensor-core kernels for the sparse linear
 * layers, and a measured crossover to unpack-to-dense + cuBLAS.
 *
 * Format: sparse/bsr.h (the contract). W[rows = out, cols = in] is a grid of
 * bs x bs blocks; live blocks are packed block-row-major, values[k][bs][bs] row
 * major inside a block; the BSC index walks the same blocks column by column.
 *
 * Every pointer below is a device pointer unless named host_. bf16 operands,
 * fp32 accumulation: on sm_90a wgmma with TMA (forward / input gradient) or
 * cp.async (weight gradient, accumulate) loads; elsewhere mma.sync. The layer
 * after a GELU (fcproj) has fused forms that read the pre-activation instead of
 * gelu(pre) and fold GELU' and the fc bias gradient into its input gradient.
 * All kernels are deterministic: no atomics; split reductions are summed in a
 * fixed order.
 *
 * Kernels (N = tokens, any N >= 1; rows/cols multiples of bs; bs in {32, 64, 128}):
 *   forward         out[N, rows] = inp[N, cols] W^T + bias          (optional GELU, tanh approx)
 *   input gradient  dinp[N, cols] (=|+=) dout[N, rows] W            (walks the BSC index)
 *   weight gradient dw[k] (=|+=) dout[:, r-block]^T inp[:, c-block] (live blocks only, fp32 or bf16)
 *   bias gradient   dbias[rows] (=|+=) column sums of dout           (fp32)
 *
 * The crossover (bsr_linear_*) times the sparse kernel against unpack + cuBLASLt
 * once per (op, shape, N, live-block count) and caches the faster; a layout whose count
 * is within 1/BSR_DECISION_NNZ_SLACK of the block grid of a measured one reuses that
 * decision (not under the rule: exact counts only). Call bsr_ctx_reset_decisions()
 * after a mask update if timings should be retaken.
 *
 * Definitions: bsr_spmm.cu (forward, input gradient), bsr_dw.cu (weight and bias
 * gradients), bsr_layout_gpu.cu (device layouts, pack / unpack), bsr_crossover.cu
 * (dense cuBLASLt paths, crossover), bsr_common.cu/.cuh (shared helpers).
 */
#ifndef SPARSE_BSR_KERNELS_CUH
#define SPARSE_BSR_KERNELS_CUH

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cuda_runtime.h>
#include <cuda_bf16.h>
#include <cublasLt.h>
#include "bsr.h"

#include "../core/cuda_common.cuh" /* bf16, CUDA_CHECK, CUBLAS_CHECK */
#include "../core/lt_gemm.cuh"     /* BsrBlas: the cuBLASLt GEMM of the dense paths */

/* Device copy of a BsrLayout's index arrays (capacity brows*bcols entries). */
typedef struct {
    int rows, cols, bs, brows, bcols, nnz;
    int max_row_nnz, max_col_nnz; /* longest block row / block column (host-side info) */
    unsigned generation; /* bumped by every bsr_device_layout_upload: a new mask keeps the same pointers,
                          * so what is derived from a layout (the dense weight copies) is keyed on this */
    int *row_offsets; /* [brows+1] */
    int *col_indices; /* [cap] block column of BSR block k */
    int *blk_rows;    /* [cap] block row of BSR block k (derived) */
    int *bsc_offsets; /* [bcols+1] */
    int *bsc_rows;    /* [cap] block row of each BSC entry */
    int *bsc_blocks;  /* [cap] BSR index of each BSC entry */
    /* weight-gradient work groups (derived at upload): up to BSR_DW_G live blocks sharing an
     * operand slab; by column: a = block rows [G], b = the column, k = blocks [G] (-1 unused);
     * by row: a = the row, b = block columns [G], k = blocks [G] */
    int dw_ngroups_col, dw_ngroups_row;
    int *dw_col_a, *dw_col_b, *dw_col_k;
    int *dw_row_a, *dw_row_b, *dw_row_k;
    int *dw_iota;     /* [cap] k -> k (single-block groups) */
    /* weight-gradient pairs (dW variant 12, derived at upload): two blocks per CTA, {k0, k1, r}:
     * consecutive blocks of one block column (r = 0: they share the X slab) or one block row (r = 1:
     * the dY slab). The lines of one direction (dw_pair_rows, whichever gives fewer CTAs) are
     * paired; while the pairs outnumber the SMs, the odd blocks of two lines pair across, where they
     * meet in a line of the other direction; a block left over runs alone, {k, -1, r} */
    int dw_npairs, dw_pair_rows, dw_pairs_shared;
    int *dw_pairs;    /* [3 * cap] */
    /* the forward / input-gradient CTAs' lines, longest first (derived at upload): {block row, first
     * BSR entry, blocks in the row, 0} (lines_row) and {block column, first BSC entry, blocks, 0}
     * (lines_col). Within each token tile the longest lines start first, so the grid's last CTAs
     * are its shortest and the final wave drains evenly. */
    int4 *lines_row, *lines_col; /* [brows], [bcols] */
} BsrDeviceLayout;
#define BSR_DW_G 4

#ifdef __cplusplus
extern "C" {
#endif

/* Allocate device index arrays for W[rows, cols] with block size bs (capacity: all blocks). It starts
 * from a zeroed struct: free an allocated one first (bsr_device_layout_free), or its arrays leak. */
void bsr_device_layout_alloc(BsrDeviceLayout *d, int rows, int cols, int bs);
/* Copy a host layout's indices to the device (synchronous; at start-up and mask updates). Its
 * cudaMemcpy calls run on the legacy default stream, which waits for the trainer's (blocking) streams;
 * a caller on a non-blocking stream must synchronize it first. */
void bsr_device_layout_upload(BsrDeviceLayout *d, const BsrLayout *host_L);
void bsr_device_layout_free(BsrDeviceLayout *d);

/* ---- kernels ------------------------------------------------------------------- */

/* Kernel choice, for benchmarks and tests (the variants are listed in bsr_spmm.cu and bsr_dw.cu): the forward and
 * input-gradient kernel variant, the weight-gradient variant, a forced split-N count for the
 * weight gradient, and how many token tiles ahead the TMA forward / input-gradient kernels pull
 * the input row panel into L2 (0: no prefetch). -1 (bsr_tune_default) or a NULL BsrTune pointer =
 * the defaults. */
typedef struct {
    int fwd, dinp, dw, dw_split, l2_prefetch;
} BsrTune;
/* the forward / input-gradient variants that exist (bsr_spmm.cu's spmm_dispatch), and the
 * weight-gradient variants 0 .. BSR_DW_VARIANTS-1 (dw_mode) */
#define BSR_SPMM_VARIANTS {0, 5, 11, 26, 27, 28, 32}
#define BSR_DW_VARIANTS 13
BsrTune bsr_tune_default(void);

/* out[N, rows] = inp[N, cols] W^T (+ bias[rows] if bias != NULL).
 * gelu != 0: out = gelu_tanh(pre); pre_out (may be NULL) receives the pre-activation. */
void bsr_forward(bf16 *out, bf16 *pre_out, const bf16 *inp, const bf16 *w_packed, const bf16 *bias,
                 const BsrDeviceLayout *L, int N, int gelu, const BsrTune *tune, cudaStream_t stream);

/* out[N, rows] = gelu(pre[N, cols]) W^T (+ bias): the layer after a GELU (fcproj) reading the
 * pre-activation, GELU applied to the operand tiles in shared memory (gelu(pre) is never written).
 * gelu_scratch (bf16 [N, cols], may be NULL when the default sm_90a kernels run) receives gelu(pre)
 * on the paths that cannot fuse it. */
void bsr_forward_gelu_input(bf16 *out, const bf16 *pre, const bf16 *w_packed, const bf16 *bias, bf16 *gelu_scratch,
                            const BsrDeviceLayout *L, int N, const BsrTune *tune, cudaStream_t stream);

/* dinp[N, cols] = dout[N, rows] W (accumulate != 0: dinp += ...). */
void bsr_backward_input(bf16 *dinp, const bf16 *dout, const bf16 *w_packed, const BsrDeviceLayout *L,
                        int N, int accumulate, const BsrTune *tune, cudaStream_t stream);

/* Input gradient of a layer whose input was gelu(pre) (fcproj), fused:
 *   dinp[N, cols] = (dout[N, rows] W) * gelu'(pre[N, cols])   (overwrites; pre is read once)
 * and, when colsum != NULL, the column sums of dinp (fp32, before rounding) over each chunk of BSR_COLSUM_ROWS
 * tokens, colsum[bsr_colsum_chunks(N)][cols] fp32: the partials of the bias gradient of the layer
 * that produced pre (fc), so dinp is not read again for it. Finish them with bsr_colsum_finish
 * (fp32 dbias) or any fixed-order sum over the chunks. */
#define BSR_COLSUM_ROWS 128
int bsr_colsum_chunks(int N);
void bsr_backward_input_dgelu(bf16 *dinp, float *colsum, const bf16 *dout, const bf16 *w_packed, const bf16 *pre,
                              const BsrDeviceLayout *L, int N, const BsrTune *tune, cudaStream_t stream);
/* The unfused form of that epilogue: dinp[N, OC] *= gelu'(pre) in place, and colsum as above;
 * pre = NULL: colsum of dinp only (dinp unchanged). */
void bsr_dgelu_colsum(bf16 *dinp, const bf16 *pre, float *colsum, int N, int OC, cudaStream_t stream);
/* dbias[OC] (=|+=) sum over the chunks of colsum (ascending chunk order). */
void bsr_colsum_finish(float *dbias, const float *colsum, int N, int OC, int accumulate, cudaStream_t stream);

/* dw[k] = dout[:, r_k block]^T inp[:, c_k block] for live blocks k (accumulate != 0: +=).
 * dw_fp32 != 0: dw is float[nnz*bs*bs], else bf16. scratch: fp32 split-N partials
 * (bsr_backward_weight_scratch_bytes; NULL/0 means no split). */
void bsr_backward_weight(void *dw, int dw_fp32, int accumulate, const bf16 *dout, const bf16 *inp,
                         const BsrDeviceLayout *L, int N, float *scratch, size_t scratch_bytes,
                         const BsrTune *tune, cudaStream_t stream);
size_t bsr_backward_weight_scratch_bytes(const BsrDeviceLayout *L, int N, const BsrTune *tune);
/* The same for a layer whose input is gelu(pre) (fcproj when the GELU output is not kept):
 * dw[k] (=|+=) dout^T gelu(pre), GELU applied to the operand tiles in shared memory, so gelu(pre)
 * is neither recomputed into memory nor read. gelu_scratch (bf16 [N, cols], may be NULL when the
 * default sm_90a kernels run) receives gelu(pre) on the paths that cannot fuse it. */
void bsr_backward_weight_gelu(void *dw, int dw_fp32, int accumulate, const bf16 *dout, const bf16 *pre,
                              bf16 *gelu_scratch, const BsrDeviceLayout *L, int N, float *scratch,
                              size_t scratch_bytes, const BsrTune *tune, cudaStream_t stream);

/* dbias[OC] (=|+=) sum over N of dout[N, OC]. scratch: bsr_backward_bias_scratch_bytes(N, OC). */
void bsr_backward_bias(float *dbias, int accumulate, const bf16 *dout, int N, int OC, float *scratch,
                       cudaStream_t stream);
size_t bsr_backward_bias_scratch_bytes(int N, int OC);

/* packed bf16 -> dense bf16 [rows, cols], dead blocks zero. */
void bsr_unpack_bf16(bf16 *dense, const bf16 *w_packed, const BsrDeviceLayout *L, cudaStream_t stream);
/* dense fp32 [rows, cols] -> live blocks of packed dw (fp32 or bf16), (=|+=). */
void bsr_pack_add_f32(void *dw, int dw_fp32, int accumulate, const float *dense, const BsrDeviceLayout *L,
                      cudaStream_t stream);
/* dense bf16 [rows, cols] -> live blocks of packed bf16 dw, (=|+=) (sum in fp32, one rounding). */
void bsr_pack_add_bf16(bf16 *dw, int accumulate, const bf16 *dense, const BsrDeviceLayout *L, cudaStream_t stream);

/* ---- dense cuBLASLt paths (on an unpacked weight) --------------------------------- */

/* the crossover's cuBLASLt handle, workspace and per-problem algorithm choices: the project's one
 * cuBLASLt GEMM (core/lt_gemm.cuh), shared with the dense layers; autotune (on after bsr_blas_init)
 * times cuBLASLt's candidates on a problem's first call that overwrites its output (d24's DGELU
 * input gradient 720 -> 442 us), 0 takes the heuristic's first pick */
typedef LtGemm BsrBlas;

void bsr_blas_init(BsrBlas *b);
void bsr_blas_free(BsrBlas *b);
/* out[N, OC] = inp[N, C] W^T (+bias) (GELU with pre_out aux when gelu); W dense [OC, C] bf16. */
void dense_forward(BsrBlas *b, bf16 *out, bf16 *pre_out, const bf16 *inp, const bf16 *W, const bf16 *bias,
                   int N, int C, int OC, int gelu, cudaStream_t stream);
/* dinp[N, C] (=|+=) dout[N, OC] W */
void dense_backward_input(BsrBlas *b, bf16 *dinp, const bf16 *dout, const bf16 *W, int N, int C, int OC,
                          int accumulate, cudaStream_t stream);
/* dinp[N, C] = (dout[N, OC] W) * GELU'(pre[N, C]) (cuBLASLt's DGELU epilogue; tanh GELU) */
void dense_backward_input_dgelu(BsrBlas *b, bf16 *dinp, const bf16 *dout, const bf16 *W, const bf16 *pre, int N,
                                int C, int OC, cudaStream_t stream);
/* dW[OC, C] (fp32) = dout^T inp  (beta = 0) */
void dense_backward_weight_f32(BsrBlas *b, float *dW, const bf16 *dout, const bf16 *inp, int N, int C, int OC,
                               cudaStream_t stream);
/* dW[OC, C] (bf16) (=|+=) dout^T inp: llm.c's weight gradient (fp32 accumulation, one rounding) */
void dense_backward_weight_bf16(BsrBlas *b, bf16 *dW, const bf16 *dout, const bf16 *inp, int N, int C, int OC,
                                int accumulate, cudaStream_t stream);

/* ---- crossover ---------------------------------------------------------------- */

enum { BSR_OP_FWD = 0, BSR_OP_DINP = 1, BSR_OP_DW = 2 };
enum { BSR_PATH_UNDECIDED = 0, BSR_PATH_SPARSE = 1, BSR_PATH_DENSE = 2 };

typedef struct {
    int op, rows, cols, bs, nnz, N, flags; /* key */
    int path;
    float sparse_ms, dense_ms;
    int dw_variant, dw_split; /* weight gradient: the BsrTune.dw variant and split-N count measured
                               * fastest (-1 / 0: the kernels' defaults) */
    int spmm_variant;         /* forward / input gradient: the BsrTune.fwd / dinp TMA variant measured
                               * fastest (-1: not measured, the kernels' default rule) */
} BsrDecision;

/* the unpacked dense copy of one weight on the dense path (bsr_ctx_cache_dense_weights) */
typedef struct {
    const bf16 *w_packed;   /* key: the packed weight and its layout */
    const int *row_offsets;
    int rows, cols, bs, nnz;
    unsigned generation;    /* the layout's upload generation when unpacked */
    unsigned version;       /* ctx->weights_version when unpacked */
    bf16 *dense;            /* [rows * cols] */
} BsrDenseWeight;

#define BSR_MAX_DENSE_WEIGHTS 512
#define BSR_TIME_RUNS_MAX 3 /* timed runs per crossover measurement (after one warm-up run) */
typedef struct {
    BsrBlas blas;
    bf16 *dense_w;          /* [max_dense_elems] unpacked weight */
    float *dense_dw;        /* [max_dense_elems] dense fp32 weight gradient */
    size_t max_dense_elems;
    float *scratch;         /* dW split partials / bias partials */
    size_t scratch_bytes;
    BsrDecision *dec;       /* [cap_dec] measured decisions (grown as needed) */
    int n_dec, cap_dec;
    int force_path;         /* 0 = measure, BSR_PATH_SPARSE / BSR_PATH_DENSE = always that */
    int by_rule;            /* 1 = no timing: sparse at density <= 1/2 (BSR_RULE_DENSITY_*), else dense, with the
                             * kernels' default variants; the same choices in every process, so that a
                             * resumed run repeats an uninterrupted one bit for bit (BSR_FORCE_PATH=rule) */
    BsrTune tune;           /* kernel choice of the sparse path (bsr_tune_default() after init) */
    int measure_spmm_variants; /* 1 (default): the measurement also times the forward / input-gradient
                                * kernel variants and keeps the fastest (BSR_MEASURE_VARIANTS=0 turns it
                                * off: sparse/bsr_crossover.cu spmm_candidates) */
    int verbose;
    cudaEvent_t ev[BSR_TIME_RUNS_MAX + 1]; /* the crossover's timing events: one before and one after each run */
    BsrDenseWeight wcache[BSR_MAX_DENSE_WEIGHTS]; /* dense-path weight copies (0 of them unless enabled) */
    int n_wcache;
    size_t wcache_bytes, wcache_limit;
    unsigned weights_version;
    int timing_dense;       /* the crossover is timing a dense path: no new cache entry (the weight may end
                             * up sparse); its copy goes to dense_w, unpacked once per measurement */
    int timing_unpacked;    /* dense_w holds that copy already */
} BsrCtx;

/* max_dense_elems: the largest rows*cols of any sparse weight; scratch_bytes: 0 picks a default
 * (64 MiB). */
void bsr_ctx_init(BsrCtx *ctx, size_t max_dense_elems, size_t scratch_bytes);
void bsr_ctx_free(BsrCtx *ctx);
/* Kernel choices by rule (on = 1: BsrCtx.by_rule, and the dense paths' cuBLASLt algorithm untimed)
 * or measured (0, the default; BSR_FORCE_PATH=rule sets 1 at init). */
void bsr_ctx_set_rule(BsrCtx *ctx, int on);
/* Forget every crossover decision (densities changed) and every cached dense weight. */
void bsr_ctx_reset_decisions(BsrCtx *ctx);
/* Keep the unpacked dense copy of each weight that runs on the dense path (up to max_bytes in all;
 * 0 turns it off, the default), so that its forward and input gradient unpack once per weight
 * update instead of on every call. The caller must then call bsr_ctx_weights_changed after any
 * change of the packed values it passes (optimizer step, pruning, loading): a copy is reused
 * until then. */
void bsr_ctx_cache_dense_weights(BsrCtx *ctx, size_t max_bytes);
void bsr_ctx_weights_changed(BsrCtx *ctx);
/* The decision for a key (measured on first use; NULL before); its path is BSR_PATH_SPARSE or
 * BSR_PATH_DENSE. A decision serves every layout of the same shape, op, N and flags whose live
 * block count lies within 1/BSR_DECISION_NNZ_SLACK of the block grid of the measured one (global
 * pruning gives each layer its own count: one measurement per density band, not per layer). flags: BSR_OP_FWD an OR of the BSR_FWD_* bits of the call; BSR_OP_DINP 0, or 1 for
 * bsr_linear_backward_input_dgelu; BSR_OP_DW 1 for an fp32 gradient, OR 2 for the GELU-input form. */
#define BSR_DECISION_NNZ_SLACK 64
/* the by_rule crossover's density limit for the sparse path, NUM / DEN = 1/2 (at sparsity 0.5 the
 * sparse kernels run 0.90-1.24x cuBLAS at C 1600, all but fc's weight gradient faster: run 99) */
#define BSR_RULE_DENSITY_NUM 1
#define BSR_RULE_DENSITY_DEN 2
enum { BSR_FWD_GELU = 1, BSR_FWD_BIAS = 2, BSR_FWD_PRE_OUT = 4, BSR_FWD_GELU_INPUT = 8 };
const BsrDecision *bsr_crossover_lookup(const BsrCtx *ctx, int op, const BsrDeviceLayout *L, int N, int flags);
/* 1 when the crossover's measurement times the forward / input-gradient kernel variants at block size
 * bs (measure_spmm_variants on, block 64 or 128, an sm_90a TMA build and GPU) unless ctx->tune forces
 * that op's variant: its decisions then carry the variant measured fastest, else -1 (the rule's pick) */
int bsr_ctx_times_spmm_variants(const BsrCtx *ctx, int bs);

/* Dispatching entry points: same semantics as the kernels above. The first call for a key
 * times both paths (on scratch outputs) and caches the faster; later calls run it. */
void bsr_linear_forward(BsrCtx *ctx, bf16 *out, bf16 *pre_out, const bf16 *inp, const bf16 *w_packed,
                        const bf16 *bias, const BsrDeviceLayout *L, int N, int gelu, cudaStream_t stream);
void bsr_linear_backward_input(BsrCtx *ctx, bf16 *dinp, const bf16 *dout, const bf16 *w_packed,
                               const BsrDeviceLayout *L, int N, int accumulate, cudaStream_t stream);
/* bsr_forward_gelu_input through the crossover (gelu_scratch required: the dense path writes
 * gelu(pre) there for cuBLASLt). */
void bsr_linear_forward_gelu_input(BsrCtx *ctx, bf16 *out, const bf16 *pre, const bf16 *w_packed, const bf16 *bias,
                                   bf16 *gelu_scratch, const BsrDeviceLayout *L, int N, cudaStream_t stream);
/* bsr_backward_input_dgelu through the crossover (its dense path: unpack, cuBLASLt, then GELU'
 * and the column sums in one pass). */
void bsr_linear_backward_input_dgelu(BsrCtx *ctx, bf16 *dinp, float *colsum, const bf16 *dout,
                                     const bf16 *w_packed, const bf16 *pre, const BsrDeviceLayout *L, int N,
                                     cudaStream_t stream);
/* bsr_backward_weight_gelu through the crossover (gelu_scratch required: the dense path writes
 * gelu(pre) there for cuBLASLt). */
void bsr_linear_backward_weight_gelu(BsrCtx *ctx, void *dw, int dw_fp32, int accumulate, const bf16 *dout,
                                     const bf16 *pre, bf16 *gelu_scratch, const BsrDeviceLayout *L, int N,
                                     cudaStream_t stream);
/* dw fp32 or bf16 (=|+=); dbias (fp32, may be NULL) (=|+=) with the same accumulate flag. */
void bsr_linear_backward_weight(BsrCtx *ctx, void *dw, int dw_fp32, float *dbias, int accumulate,
                                const bf16 *dout, const bf16 *inp, const BsrDeviceLayout *L, int N,
                                cudaStream_t stream);

#ifdef __cplusplus
}
#endif
#endif /* SPARSE_BSR_KERNELS_CUH */
