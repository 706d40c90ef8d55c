/*
 * bsr_kernels.cu - block-sparse tensor-core kernels (see bsr_kernels.cuh).
 *
 * Design (v1, mma.sync path):
 *  - forward and input gradient share one kernel, bsr_spmm_kernel: a CTA owns a
 *    BM-token x BN-feature output tile inside one output block (block row r of W
 *    for the forward, block column c for the input gradient) and walks that
 *    block's index list (BSR row / BSC column). Each list entry contributes
 *    A[tokens, a-block] (BM x bs, read from the dense activation) times the live
 *    block (bs x bs): for the forward the block is used as B^T (its rows are the
 *    output features, k contiguous: ldmatrix), for the input gradient as B
 *    (k = output feature rows, n contiguous: ldmatrix.trans). No transposed copy.
 *    cp.async multistage pipeline, XOR-swizzled 128-byte rows, mma.sync
 *    m16n8k16 bf16 -> fp32. Epilogue through shared memory: fp32 tile, bias,
 *    GELU, accumulate, coalesced 16-byte stores. A tile whose list is empty still
 *    writes (bias or zero).
 *    Grid: x = output tile (fast), y = token tile, so resident CTAs share the
 *    same activation rows in L2.
 *  - weight gradient: a CTA owns one live block (bs x bs, fp32 accumulators) and
 *    a range of tokens (split-N); both operands are read token-major
 *    (ldmatrix.trans). Splits write fp32 partials that a second kernel sums in a
 *    fixed order (deterministic), adding into the output when accumulating.
 *  - bias gradient: column sums in two deterministic passes.
 */
#include "bsr_kernels.cuh"
#include "../core/utils.h" /* malloc_check, calloc_check, realloc_check */
#include "../core/lt_tune.cuh" /* the timed cuBLASLt algorithm choice of the dense paths */
#include <stdint.h>
#include <string.h>
#include <cuda.h>         /* CUtensorMap (header only; the encoder is fetched from the runtime) */
#include <cudaTypedefs.h> /* PFN_cuTensorMapEncodeTiled */

/* ============================================================================ */
/* PTX helpers                                                                   */
/* ============================================================================ */

__device__ __forceinline__ uint32_t smem_u32(const void *p) {
    return (uint32_t)__cvta_generic_to_shared(p);
}
__device__ __forceinline__ void cp_async16(uint32_t dst, const void *src, int src_bytes) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src), "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}
__device__ __forceinline__ void ldsm_x4(uint32_t *r, uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}
__device__ __forceinline__ void ldsm_x4_t(uint32_t *r, uint32_t addr) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
}
__device__ __forceinline__ void mma_bf16(float *c, const uint32_t *a, const uint32_t *b) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
/* Element offset of 16-byte chunk `ch` of row `row` in a tile whose rows hold
 * CH chunks (CH*8 bf16); chunks are XOR-swizzled with the row's low 3 bits so that
 * 8 consecutive rows at one logical chunk hit 8 different bank groups. Rows of 4 chunks
 * (64 bytes: block size 32) pair up in a 128-byte line: their chunk is XORed with bits 1-2
 * of the row, which keeps it inside the row and 8 consecutive rows conflict-free. */
template <int CH> __device__ __forceinline__ int swz(int row, int ch) {
    static_assert(CH == 4 || CH % 8 == 0, "tile rows of 4 or a multiple of 8 chunks");
    if (CH == 4) return row * 32 + ((ch ^ ((row >> 1) & 3)) << 3);
    return row * (CH * 8) + ((ch ^ (row & 7)) << 3);
}

/* Fragment loads for mma.m16n8k16 (row.col). A from a [m][k] tile (k contiguous) or,
 * _t, from a [k][m] tile; B from a [n][k] tile (k contiguous, BT = false) or a [k][n]
 * tile (BT = true). wr0/wc0: the warp's first row (m) / column (n); ks: k16 step. */
template <int MI, int CH>
__device__ __forceinline__ void frag_a(uint32_t (&af)[MI][4], uint32_t base, int wr0, int ks, int lane) {
#pragma unroll
    for (int mi = 0; mi < MI; mi++) {
        const int row = wr0 + mi * 16 + (lane & 15);
        const int ch = ks * 2 + (lane >> 4);
        ldsm_x4(af[mi], base + swz<CH>(row, ch) * 2);
    }
}
template <int MI, int CH>
__device__ __forceinline__ void frag_a_t(uint32_t (&af)[MI][4], uint32_t base, int wr0, int ks, int lane) {
    const int jj = lane >> 3;
#pragma unroll
    for (int mi = 0; mi < MI; mi++) {
        const int row = ks * 16 + (lane & 7) + 8 * (jj >> 1);
        const int ch = (wr0 + mi * 16) / 8 + (jj & 1);
        ldsm_x4_t(af[mi], base + swz<CH>(row, ch) * 2);
    }
}
template <int NI, int CH, bool BT>
__device__ __forceinline__ void frag_b(uint32_t (&bfr)[NI][2], uint32_t base, int wc0, int ks, int lane) {
    const int jj = lane >> 3;
#pragma unroll
    for (int np = 0; np < NI / 2; np++) {
        uint32_t r[4];
        if (!BT) {
            const int row = wc0 + np * 16 + (lane & 7) + 8 * (jj >> 1);
            const int ch = ks * 2 + (jj & 1);
            ldsm_x4(r, base + swz<CH>(row, ch) * 2);
        } else {
            const int row = ks * 16 + (lane & 7) + 8 * (jj & 1);
            const int ch = (wc0 + np * 16) / 8 + (jj >> 1);
            ldsm_x4_t(r, base + swz<CH>(row, ch) * 2);
        }
        bfr[2 * np][0] = r[0];
        bfr[2 * np][1] = r[1];
        bfr[2 * np + 1][0] = r[2];
        bfr[2 * np + 1][1] = r[3];
    }
}
/* One stage of BK/16 k16 steps with double-buffered fragments: the loads for step
 * ks+1 are issued before the mma of step ks. AT: A tile is [k][m]. */
template <int MI, int NI, int KS, int CHA, int CHB, bool AT, bool BT>
__device__ __forceinline__ void mma_stage(float (&acc)[MI][NI][4], uint32_t aBase, uint32_t bBase, int wr0, int wc0,
                                          int lane) {
    uint32_t af[2][MI][4], bfr[2][NI][2];
    if (AT) frag_a_t<MI, CHA>(af[0], aBase, wr0, 0, lane);
    else frag_a<MI, CHA>(af[0], aBase, wr0, 0, lane);
    frag_b<NI, CHB, BT>(bfr[0], bBase, wc0, 0, lane);
#pragma unroll
    for (int ks = 0; ks < KS; ks++) {
        if (ks + 1 < KS) {
            if (AT) frag_a_t<MI, CHA>(af[(ks + 1) & 1], aBase, wr0, ks + 1, lane);
            else frag_a<MI, CHA>(af[(ks + 1) & 1], aBase, wr0, ks + 1, lane);
            frag_b<NI, CHB, BT>(bfr[(ks + 1) & 1], bBase, wc0, ks + 1, lane);
        }
#pragma unroll
        for (int mi = 0; mi < MI; mi++)
#pragma unroll
            for (int ni = 0; ni < NI; ni++) mma_bf16(acc[mi][ni], af[ks & 1][mi], bfr[ks & 1][ni]);
    }
}

/* GELU, tanh form: 0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3), written for few
 * instructions (the fused kernels evaluate it per element on their ALU budget): tanh.approx.f32
 * (what tanhf becomes under --use_fast_math, as in layers/gelu.cu), u = x (c0 + c1 x^2). */
#define GELU_C0 0.7978845608028654f   /* sqrt(2/pi) */
#define GELU_C1 0.035677408136300125f /* sqrt(2/pi) * 0.044715 */
__device__ __forceinline__ float tanh_approx(float x) {
    float y;
    asm("tanh.approx.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
__device__ __forceinline__ float gelu_tanh(float x) {
    const float th = tanh_approx(x * fmaf(x * x, GELU_C1, GELU_C0));
    const float hx = 0.5f * x;
    return fmaf(hx, th, hx);
}
/* d gelu_tanh / dx = 0.5 (1 + th) + 0.5 x (1 - th^2) du/dx, du/dx = c0 + 3 c1 x^2 */
__device__ __forceinline__ float gelu_tanh_grad(float x) {
    const float x2 = x * x;
    const float th = tanh_approx(x * fmaf(x2, GELU_C1, GELU_C0));
    return fmaf(0.5f * x * fmaf(-th, th, 1.0f), fmaf(x2, 3.0f * GELU_C1, GELU_C0), fmaf(0.5f, th, 0.5f));
}
/* gelu of two packed bf16 (low half = lower address), unpacked with shifts, repacked with one cvt */
__device__ __forceinline__ uint32_t gelu_bf16x2(uint32_t v) {
    const __nv_bfloat162 r = __floats2bfloat162_rn(gelu_tanh(__uint_as_float(v << 16)),
                                                   gelu_tanh(__uint_as_float(v & 0xffff0000u)));
    return *(const uint32_t *)&r;
}
/* gelu of eight packed bf16 (one 16-byte chunk) */
__device__ __forceinline__ uint4 gelu_bf16x8(uint4 v) {
    v.x = gelu_bf16x2(v.x);
    v.y = gelu_bf16x2(v.y);
    v.z = gelu_bf16x2(v.z);
    v.w = gelu_bf16x2(v.w);
    return v;
}

union Pack8 {
    uint4 u;
    bf16 h[8];
};

/* ============================================================================ */
/* forward / input gradient                                                      */
/* ============================================================================ */

enum { EPI_GELU = 1, EPI_ACCUM = 2 };

template <int BS, int BM, int BN, int BK, int WARPS_M, int WARPS_N, int STAGES, bool BT>
struct SpmmCfg {
    static constexpr int NT = WARPS_M * WARPS_N * 32;
    static constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;
    static constexpr int MI = WM / 16, NI = WN / 8;
    static constexpr int KPB = BS / BK;       /* k-steps per block */
    static constexpr int TILES_N = BS / BN;   /* output tiles per block */
    static constexpr int A_ELEMS = BM * BK, B_ELEMS = BN * BK;
    static constexpr int STAGE_ELEMS = A_ELEMS + B_ELEMS;
    static constexpr int PIPE_BYTES = STAGES * STAGE_ELEMS * 2;
    static constexpr int CLD = BN + 8;        /* fp32 epilogue tile row stride */
    static constexpr int EPI_BYTES = BM * CLD * 4;
    static constexpr int SMEM = PIPE_BYTES > EPI_BYTES ? PIPE_BYTES : EPI_BYTES;
    static_assert(BS % BK == 0 && BS % BN == 0, "tile");
    static_assert(BK % 64 == 0 || BK == 32, "BK");
    static_assert(MI >= 1 && NI % 2 == 0, "warp tile");
    static_assert((BM * BK / 8) % NT == 0 && (BN * BK / 8) % NT == 0, "load split");
};

template <int BS, int BM, int BN, int BK, int WARPS_M, int WARPS_N, int STAGES, bool BT>
static __global__ void __launch_bounds__(WARPS_M *WARPS_N * 32)
bsr_spmm_kernel(bf16 *__restrict__ out, bf16 *__restrict__ pre_out, const bf16 *__restrict__ A,
                const bf16 *__restrict__ W, const bf16 *__restrict__ bias, const int *__restrict__ offsets,
                const int *__restrict__ acol, const int *__restrict__ blk, int N, int lda, int ldo, int flags) {
    typedef SpmmCfg<BS, BM, BN, BK, WARPS_M, WARPS_N, STAGES, BT> Cfg;
    constexpr int NT = Cfg::NT, MI = Cfg::MI, NI = Cfg::NI, WM = Cfg::WM, WN = Cfg::WN;
    constexpr int CA = BK / 8;                 /* chunks per A row */
    constexpr int CB = BT ? BN / 8 : BK / 8;   /* chunks per B row */
    extern __shared__ __align__(128) unsigned char smem_raw[];
    bf16 *smem = (bf16 *)smem_raw;

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp / WARPS_N, wn = warp % WARPS_N;
    const int j = blockIdx.x / Cfg::TILES_N, nt = blockIdx.x % Cfg::TILES_N;
    const int m0 = blockIdx.y * BM;
    const int e0 = offsets[j], e1 = offsets[j + 1];
    const int T = (e1 - e0) * Cfg::KPB;

    auto load_stage = [&](int slot, int t) {
        const int e = e0 + t / Cfg::KPB, kk = t % Cfg::KPB;
        const int ac = acol[e];
        const int k = blk ? blk[e] : e;
        bf16 *sA = smem + slot * Cfg::STAGE_ELEMS;
        bf16 *sB = sA + Cfg::A_ELEMS;
        const bf16 *gA = A + (size_t)ac * BS + kk * BK;
#pragma unroll
        for (int it = 0; it < BM * CA / NT; it++) {
            const int i = tid + it * NT;
            const int row = i / CA, ch = i % CA;
            const int grow = m0 + row;
            const bf16 *src = gA + (size_t)(grow < N ? grow : 0) * lda + ch * 8;
            cp_async16(smem_u32(sA + swz<CA>(row, ch)), src, grow < N ? 16 : 0);
        }
        const bf16 *gB = W + (size_t)k * BS * BS;
        if (!BT) { /* B tile [BN rows = out features][BK cols = k] */
#pragma unroll
            for (int it = 0; it < BN * CB / NT; it++) {
                const int i = tid + it * NT;
                const int row = i / CB, ch = i % CB;
                const bf16 *src = gB + (size_t)(nt * BN + row) * BS + kk * BK + ch * 8;
                cp_async16(smem_u32(sB + swz<CB>(row, ch)), src, 16);
            }
        } else {   /* B tile [BK rows = k][BN cols = n] */
#pragma unroll
            for (int it = 0; it < BK * CB / NT; it++) {
                const int i = tid + it * NT;
                const int row = i / CB, ch = i % CB;
                const bf16 *src = gB + (size_t)(kk * BK + row) * BS + nt * BN + ch * 8;
                cp_async16(smem_u32(sB + swz<CB>(row, ch)), src, 16);
            }
        }
    };

    float acc[MI][NI][4];
#pragma unroll
    for (int a = 0; a < MI; a++)
#pragma unroll
        for (int b = 0; b < NI; b++)
#pragma unroll
            for (int c = 0; c < 4; c++) acc[a][b][c] = 0.f;

#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < T) load_stage(s, s);
        cp_async_commit();
    }

    for (int t = 0; t < T; t++) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        {
            const int tn = t + STAGES - 1;
            if (tn < T) load_stage(tn % STAGES, tn);
            cp_async_commit();
        }
        const bf16 *sA = smem + (t % STAGES) * Cfg::STAGE_ELEMS;
        const bf16 *sB = sA + Cfg::A_ELEMS;
        const uint32_t aBase = smem_u32(sA), bBase = smem_u32(sB);
        mma_stage<MI, NI, BK / 16, CA, CB, false, BT>(acc, aBase, bBase, wm * WM, wn * WN, lane);
    }
    cp_async_wait<0>();
    __syncthreads();

    /* epilogue: fp32 tile in shared memory, then 16-byte coalesced stores */
    float *sC = (float *)smem_raw;
    {
        const int g = lane >> 2, tq = lane & 3;
#pragma unroll
        for (int mi = 0; mi < MI; mi++)
#pragma unroll
            for (int ni = 0; ni < NI; ni++) {
                const int row = wm * WM + mi * 16 + g;
                const int col = wn * WN + ni * 8 + 2 * tq;
                *(float2 *)&sC[row * Cfg::CLD + col] = make_float2(acc[mi][ni][0], acc[mi][ni][1]);
                *(float2 *)&sC[(row + 8) * Cfg::CLD + col] = make_float2(acc[mi][ni][2], acc[mi][ni][3]);
            }
    }
    __syncthreads();
    const int colbase = j * BS + nt * BN;
    for (int i = tid; i < BM * (BN / 8); i += NT) {
        const int row = i / (BN / 8), ch = i % (BN / 8);
        const int grow = m0 + row;
        if (grow >= N) continue;
        float v[8];
        const float4 p0 = *(const float4 *)&sC[row * Cfg::CLD + ch * 8];
        const float4 p1 = *(const float4 *)&sC[row * Cfg::CLD + ch * 8 + 4];
        v[0] = p0.x; v[1] = p0.y; v[2] = p0.z; v[3] = p0.w;
        v[4] = p1.x; v[5] = p1.y; v[6] = p1.z; v[7] = p1.w;
        const int gcol = colbase + ch * 8;
        if (bias) {
            Pack8 b;
            b.u = *(const uint4 *)(bias + gcol);
#pragma unroll
            for (int q = 0; q < 8; q++) v[q] += __bfloat162float(b.h[q]);
        }
        bf16 *dst = out + (size_t)grow * ldo + gcol;
        if (flags & EPI_ACCUM) {
            Pack8 o;
            o.u = *(const uint4 *)dst;
#pragma unroll
            for (int q = 0; q < 8; q++) v[q] += __bfloat162float(o.h[q]);
        }
        Pack8 r;
        if (flags & EPI_GELU) {
            if (pre_out) {
                Pack8 pr;
#pragma unroll
                for (int q = 0; q < 8; q++) pr.h[q] = __float2bfloat16(v[q]);
                *(uint4 *)(pre_out + (size_t)grow * ldo + gcol) = pr.u;
            }
#pragma unroll
            for (int q = 0; q < 8; q++) r.h[q] = __float2bfloat16(gelu_tanh(v[q]));
        } else {
#pragma unroll
            for (int q = 0; q < 8; q++) r.h[q] = __float2bfloat16(v[q]);
        }
        *(uint4 *)dst = r.u;
    }
}

/* ============================================================================ */
/* weight gradient                                                               */
/* ============================================================================ */

/* A CTA computes a group of live blocks that share one operand slab: GA dY
 * column slabs (block rows r_a) times GB X column slabs (block columns c_b); the
 * (a, b) product is live block grp_k[a*GB + b] or -1 (not computed/stored).
 * One of GA, GB is 1 in practice: blocks of one block column share their X slab
 * (GA > 1), blocks of one block row share their dY slab (GB > 1). Tile M = GA*BS
 * (output rows o), N = GB*BS (output cols i), K = tokens. */
template <int BS, int GA, int GB, int BK, int WARPS_M, int WARPS_N, int STAGES>
struct DwCfg {
    static constexpr int M = GA * BS, NN = GB * BS;
    static constexpr int NT = WARPS_M * WARPS_N * 32;
    static constexpr int WM = M / WARPS_M, WN = NN / WARPS_N;
    static constexpr int MI = WM / 16, NI = WN / 8;
    static constexpr int A_ELEMS = BK * M, B_ELEMS = BK * NN;
    static constexpr int STAGE_ELEMS = A_ELEMS + B_ELEMS;
    static constexpr int SMEM = STAGES * STAGE_ELEMS * 2;
    static_assert(NI % 2 == 0 && MI >= 1, "warp tile");
    static_assert(BK % 16 == 0, "BK");
    static_assert(BS % WM == 0 && BS % WN == 0, "a warp tile lies inside one block");
    static_assert((BK * M / 8) % NT == 0 && (BK * NN / 8) % NT == 0, "load split");
};

/* out: fp32 (out_f32) or bf16; if partial_stride != 0 the CTA for split s writes fp32 to
 * out_f32 + s*partial_stride (no accumulate). */
template <int BS, int GA, int GB, int BK, int WARPS_M, int WARPS_N, int STAGES>
static __global__ void __launch_bounds__(WARPS_M *WARPS_N * 32)
bsr_dw_kernel(float *__restrict__ out_f32, bf16 *__restrict__ out_bf16, const bf16 *__restrict__ dout,
              const bf16 *__restrict__ inp, const int *__restrict__ grp_a, const int *__restrict__ grp_b,
              const int *__restrict__ grp_k, int N, int rows, int cols, int tokens_per_split, size_t partial_stride,
              int accumulate) {
    typedef DwCfg<BS, GA, GB, BK, WARPS_M, WARPS_N, STAGES> Cfg;
    constexpr int NT = Cfg::NT, MI = Cfg::MI, NI = Cfg::NI, WM = Cfg::WM, WN = Cfg::WN;
    constexpr int CHA = Cfg::M / 8, CHB = Cfg::NN / 8, CPS = BS / 8; /* chunks per row; per slab */
    extern __shared__ __align__(128) unsigned char smem_raw[];
    bf16 *smem = (bf16 *)smem_raw;

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp / WARPS_N, wn = warp % WARPS_N;
    const int grp = blockIdx.x, split = blockIdx.y;
    const int n0 = split * tokens_per_split;
    const int n1 = min(N, n0 + tokens_per_split);
    const int T = n1 > n0 ? (n1 - n0 + BK - 1) / BK : 0;
    /* slab column offsets; a slab whose products are all dead is not loaded */
    __shared__ int s_aoff[GA], s_boff[GB], s_alive[GA], s_blive[GB];
    if (tid < GA) {
        int live = 0;
        for (int b = 0; b < GB; b++) live |= grp_k[grp * GA * GB + tid * GB + b] >= 0;
        s_aoff[tid] = grp_a[grp * GA + tid] * BS;
        s_alive[tid] = live;
    }
    if (tid < GB) {
        int live = 0;
        for (int a = 0; a < GA; a++) live |= grp_k[grp * GA * GB + a * GB + tid] >= 0;
        s_boff[tid] = grp_b[grp * GB + tid] * BS;
        s_blive[tid] = live;
    }
    __syncthreads();

    auto load_stage = [&](int slot, int t) {
        bf16 *sA = smem + slot * Cfg::STAGE_ELEMS;
        bf16 *sB = sA + Cfg::A_ELEMS;
        const int nb = n0 + t * BK;
#pragma unroll
        for (int it = 0; it < BK * CHA / NT; it++) {
            const int i = tid + it * NT;
            const int row = i / CHA, ch = i % CHA, slab = ch / CPS;
            const int n = nb + row;
            const bool ok = n < n1 && s_alive[slab];
            const size_t nn = ok ? n : 0;
            cp_async16(smem_u32(sA + swz<CHA>(row, ch)), dout + nn * rows + s_aoff[slab] + (ch % CPS) * 8,
                       ok ? 16 : 0);
        }
#pragma unroll
        for (int it = 0; it < BK * CHB / NT; it++) {
            const int i = tid + it * NT;
            const int row = i / CHB, ch = i % CHB, slab = ch / CPS;
            const int n = nb + row;
            const bool ok = n < n1 && s_blive[slab];
            const size_t nn = ok ? n : 0;
            cp_async16(smem_u32(sB + swz<CHB>(row, ch)), inp + nn * cols + s_boff[slab] + (ch % CPS) * 8,
                       ok ? 16 : 0);
        }
    };

    float acc[MI][NI][4];
#pragma unroll
    for (int a = 0; a < MI; a++)
#pragma unroll
        for (int b = 0; b < NI; b++)
#pragma unroll
            for (int q = 0; q < 4; q++) acc[a][b][q] = 0.f;

#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < T) load_stage(s, s);
        cp_async_commit();
    }
    for (int t = 0; t < T; t++) {
        cp_async_wait<STAGES - 2>();
        __syncthreads();
        {
            const int tn = t + STAGES - 1;
            if (tn < T) load_stage(tn % STAGES, tn);
            cp_async_commit();
        }
        const bf16 *sA = smem + (t % STAGES) * Cfg::STAGE_ELEMS;
        const uint32_t aBase = smem_u32(sA), bBase = smem_u32(sA + Cfg::A_ELEMS);
        mma_stage<MI, NI, BK / 16, CHA, CHB, true, true>(acc, aBase, bBase, wm * WM, wn * WN, lane);
    }
    cp_async_wait<0>();

    /* the warp's tile lies inside one (a, b) product */
    const int a = (wm * WM) / BS, b = (wn * WN) / BS;
    const int k = grp_k[grp * GA * GB + a * GB + b];
    if (k < 0) return;
    const int g = lane >> 2, tq = lane & 3;
    const size_t base = (size_t)k * BS * BS;
#pragma unroll
    for (int mi = 0; mi < MI; mi++)
#pragma unroll
        for (int ni = 0; ni < NI; ni++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int row = (wm * WM) % BS + mi * 16 + g + 8 * h;
                const int col = (wn * WN) % BS + ni * 8 + 2 * tq;
                float2 v = make_float2(acc[mi][ni][2 * h], acc[mi][ni][2 * h + 1]);
                const size_t off = base + (size_t)row * BS + col;
                if (partial_stride) {
                    *(float2 *)(out_f32 + split * partial_stride + off) = v;
                } else if (out_f32) {
                    if (accumulate) {
                        float2 o = *(float2 *)(out_f32 + off);
                        v.x += o.x;
                        v.y += o.y;
                    }
                    *(float2 *)(out_f32 + off) = v;
                } else {
                    if (accumulate) {
                        __nv_bfloat162 o = *(__nv_bfloat162 *)(out_bf16 + off);
                        v.x += __bfloat162float(o.x);
                        v.y += __bfloat162float(o.y);
                    }
                    *(__nv_bfloat162 *)(out_bf16 + off) = __floats2bfloat162_rn(v.x, v.y);
                }
            }
}

/* ============================================================================ */
/* wgmma (sm_90a) versions                                                       */
/* ============================================================================ */
/* The first 1024-byte boundary in dynamic shared memory (128B-swizzled tiles need it), as an
 * offset from the __shared__ array: the compiler keeps the shared address space (ld/st.shared;
 * a round trip through uintptr_t made every later access a generic one) */
__device__ __forceinline__ unsigned char *smem_align1024(unsigned char *smem_dyn) {
    return smem_dyn + ((1024u - (smem_u32(smem_dyn) & 1023u)) & 1023u);
}
/* Shared-memory tiles are rows of 128 bytes (64 bf16) with 16-byte chunks XOR-swizzled
 * by (row & 7): exactly the 128B-swizzle canonical layout of wgmma, K-major when rows
 * run over M/N (k contiguous) and MN-major when rows run over K. Tiles start on 1024-byte
 * boundaries. Descriptor: start address, leading / stride byte offsets, swizzle 128B. For
 * the 64-wide MN-major tiles used here only the 8-row-group stride (1024 B) matters, so it
 * is given as both offsets. */
__device__ __forceinline__ uint64_t wg_desc(uint32_t saddr, uint32_t lbo, uint32_t sbo) {
    uint64_t d = 0;
    d |= (uint64_t)((saddr & 0x3FFFF) >> 4);
    d |= (uint64_t)((lbo & 0x3FFFF) >> 4) << 16;
    d |= (uint64_t)((sbo & 0x3FFFF) >> 4) << 32;
    d |= (uint64_t)1 << 62;
    return d;
}
/* wgmma needs sm_90a; on other targets these compile to a trap and the host never selects
 * the wgmma kernels (bsr_have_wgmma). */
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define BSR_WGMMA 1
#endif
__device__ __forceinline__ void wg_fence() {
#ifdef BSR_WGMMA
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void wg_commit() {
#ifdef BSR_WGMMA
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
template <int N> __device__ __forceinline__ void wg_wait() {
#ifdef BSR_WGMMA
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}
__device__ __forceinline__ void fence_proxy_async() {
#ifdef BSR_WGMMA
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}
template <int N> __device__ __forceinline__ void reg_fence(float (&d)[N]) {
#pragma unroll
    for (int i = 0; i < N; i++) asm volatile("" : "+f"(d[i])::"memory");
}
/* D[64x64] (+)= A[64x16] B[16x64]; TA/TB: 1 = operand is MN-major in shared memory */
template <int TA, int TB>
__device__ __forceinline__ void wgmma_64x64(float (&d)[32], uint64_t da, uint64_t db) {
#ifndef BSR_WGMMA
    __trap();
#else
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
                 "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, %34, %35;\n}\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
                 : "l"(da), "l"(db), "n"(TA), "n"(TB));
#endif
}

/* D[64x256] (+)= A[64x16] B[16x256], the four 64-column quarters of D in d0..d3 (the m64n256
 * accumulator fragment is the four m64n64 fragments side by side); B's quarters lie LBO bytes
 * apart (see the descriptor note above) */
template <int TA, int TB>
__device__ __forceinline__ void wgmma_64x256(float (&d0)[32], float (&d1)[32], float (&d2)[32], float (&d3)[32],
                                             uint64_t da, uint64_t db) {
#ifndef BSR_WGMMA
    __trap();
#else
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
                 "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 {"
                 "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
                 "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
                 "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
                 "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
                 "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
                 "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
                 "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
                 "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, "
                 "%128, %129, p, 1, 1, %130, %131;\n}\n"
                 : "+f"(d0[0]), "+f"(d0[1]), "+f"(d0[2]), "+f"(d0[3]), "+f"(d0[4]), "+f"(d0[5]), "+f"(d0[6]), "+f"(d0[7]),
                   "+f"(d0[8]), "+f"(d0[9]), "+f"(d0[10]), "+f"(d0[11]), "+f"(d0[12]), "+f"(d0[13]), "+f"(d0[14]), "+f"(d0[15]),
                   "+f"(d0[16]), "+f"(d0[17]), "+f"(d0[18]), "+f"(d0[19]), "+f"(d0[20]), "+f"(d0[21]), "+f"(d0[22]), "+f"(d0[23]),
                   "+f"(d0[24]), "+f"(d0[25]), "+f"(d0[26]), "+f"(d0[27]), "+f"(d0[28]), "+f"(d0[29]), "+f"(d0[30]), "+f"(d0[31]),
                   "+f"(d1[0]), "+f"(d1[1]), "+f"(d1[2]), "+f"(d1[3]), "+f"(d1[4]), "+f"(d1[5]), "+f"(d1[6]), "+f"(d1[7]),
                   "+f"(d1[8]), "+f"(d1[9]), "+f"(d1[10]), "+f"(d1[11]), "+f"(d1[12]), "+f"(d1[13]), "+f"(d1[14]), "+f"(d1[15]),
                   "+f"(d1[16]), "+f"(d1[17]), "+f"(d1[18]), "+f"(d1[19]), "+f"(d1[20]), "+f"(d1[21]), "+f"(d1[22]), "+f"(d1[23]),
                   "+f"(d1[24]), "+f"(d1[25]), "+f"(d1[26]), "+f"(d1[27]), "+f"(d1[28]), "+f"(d1[29]), "+f"(d1[30]), "+f"(d1[31]),
                   "+f"(d2[0]), "+f"(d2[1]), "+f"(d2[2]), "+f"(d2[3]), "+f"(d2[4]), "+f"(d2[5]), "+f"(d2[6]), "+f"(d2[7]),
                   "+f"(d2[8]), "+f"(d2[9]), "+f"(d2[10]), "+f"(d2[11]), "+f"(d2[12]), "+f"(d2[13]), "+f"(d2[14]), "+f"(d2[15]),
                   "+f"(d2[16]), "+f"(d2[17]), "+f"(d2[18]), "+f"(d2[19]), "+f"(d2[20]), "+f"(d2[21]), "+f"(d2[22]), "+f"(d2[23]),
                   "+f"(d2[24]), "+f"(d2[25]), "+f"(d2[26]), "+f"(d2[27]), "+f"(d2[28]), "+f"(d2[29]), "+f"(d2[30]), "+f"(d2[31]),
                   "+f"(d3[0]), "+f"(d3[1]), "+f"(d3[2]), "+f"(d3[3]), "+f"(d3[4]), "+f"(d3[5]), "+f"(d3[6]), "+f"(d3[7]),
                   "+f"(d3[8]), "+f"(d3[9]), "+f"(d3[10]), "+f"(d3[11]), "+f"(d3[12]), "+f"(d3[13]), "+f"(d3[14]), "+f"(d3[15]),
                   "+f"(d3[16]), "+f"(d3[17]), "+f"(d3[18]), "+f"(d3[19]), "+f"(d3[20]), "+f"(d3[21]), "+f"(d3[22]), "+f"(d3[23]),
                   "+f"(d3[24]), "+f"(d3[25]), "+f"(d3[26]), "+f"(d3[27]), "+f"(d3[28]), "+f"(d3[29]), "+f"(d3[30]), "+f"(d3[31])
                 : "l"(da), "l"(db), "n"(TA), "n"(TB));
#endif
}

/* A cp.async ring of STAGES slots, PF stages loaded ahead (load(slot, step) issues one stage):
 * ring_prologue before the main loop, ring_advance at the top of step t: stage t has landed and is
 * visible to wgmma (async proxy) for every thread, and stage t + PF is issued into the slot that
 * every thread has finished with. */
template <int PF, typename Load> __device__ __forceinline__ void ring_prologue(int T, Load &load) {
#pragma unroll
    for (int s = 0; s < PF; s++) {
        if (s < T) load(s, s);
        cp_async_commit();
    }
}
template <int PF, int STAGES, typename Load> __device__ __forceinline__ void ring_advance(int t, int T, Load &load) {
    cp_async_wait<PF - 1>();
    fence_proxy_async();
    __syncthreads();
    if (t + PF < T) load((t + PF) % STAGES, t + PF);
    cp_async_commit();
}

/* The 16-byte chunks of a [BK tokens][64] bf16 slab stage that thread tid of NT handles (the same
 * ones in the loads and in any later pass over them): f(row, chunk, token) for token nb + row. */
template <int BK, int NT, typename F> __device__ __forceinline__ void for_slab_chunks(int tid, int nb, F &&f) {
#pragma unroll
    for (int it = 0; it < BK * 8 / NT; it++) {
        const int i = tid + it * NT;
        f(i >> 3, i & 7, nb + (i >> 3));
    }
}

/* forward / input gradient with wgmma: one warpgroup, BM x 64 output tile (BM/64 m64
 * instructions per k16), BK = 64, per-tile CTAs, bf16-staged epilogue. */
template <int BS, int BM, int STAGES, bool BT>
static __global__ void __launch_bounds__(128)
bsr_spmm_wgmma_kernel(bf16 *__restrict__ out, bf16 *__restrict__ pre_out, const bf16 *__restrict__ A,
                      const bf16 *__restrict__ W, const bf16 *__restrict__ bias, const int *__restrict__ offsets,
                      const int *__restrict__ acol, const int *__restrict__ blk, int N, int lda, int ldo, int flags) {
    constexpr int BN = 64, BK = 64, NT = 128, MH = BM / 64;
    constexpr int TILES_N = BS / BN, KPB = BS / BK;
    constexpr int A_BYTES = BM * BK * 2, STAGE_BYTES = A_BYTES + BN * BK * 2;
    constexpr int CLD = BN + 8; /* bf16 epilogue row stride */
    static_assert(BM * CLD * 2 <= STAGES * STAGE_BYTES, "epilogue fits");
    extern __shared__ unsigned char smem_dyn[];
    unsigned char *smem = smem_align1024(smem_dyn);

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int j = blockIdx.x / TILES_N, nt = blockIdx.x % TILES_N;
    const int m0 = blockIdx.y * BM;
    const int e0 = offsets[j], e1 = offsets[j + 1];
    const int T = (e1 - e0) * KPB;
    auto load_stage = [&](int slot, int t) {
        const int e = e0 + t / KPB, kk = t % KPB;
        const int ac = acol[e], k = blk ? blk[e] : e;
        bf16 *sA = (bf16 *)(smem + slot * STAGE_BYTES);
        bf16 *sB = sA + BM * BK;
        const bf16 *gA = A + (size_t)ac * BS + kk * BK;
#pragma unroll
        for (int it = 0; it < BM * 8 / NT; it++) {
            const int i = tid + it * NT;
            const int row = i >> 3, ch = i & 7;
            const int grow = m0 + row;
            cp_async16(smem_u32(sA + swz<8>(row, ch)), gA + (size_t)(grow < N ? grow : 0) * lda + ch * 8,
                       grow < N ? 16 : 0);
        }
        const bf16 *gB = W + (size_t)k * BS * BS;
#pragma unroll
        for (int it = 0; it < 64 * 8 / NT; it++) {
            const int i = tid + it * NT;
            const int row = i >> 3, ch = i & 7;
            const bf16 *src = BT ? gB + (size_t)(kk * BK + row) * BS + nt * BN + ch * 8
                                 : gB + (size_t)(nt * BN + row) * BS + kk * BK + ch * 8;
            cp_async16(smem_u32(sB + swz<8>(row, ch)), src, 16);
        }
    };

    float acc[MH][32];
#pragma unroll
    for (int h = 0; h < MH; h++)
#pragma unroll
        for (int i = 0; i < 32; i++) acc[h][i] = 0.f;

    constexpr int PF = STAGES - 1;
    ring_prologue<PF>(T, load_stage);
    for (int t = 0; t < T; t++) {
        ring_advance<PF, STAGES>(t, T, load_stage);
        const uint32_t aB = smem_u32(smem + (t % STAGES) * STAGE_BYTES), bB = aB + A_BYTES;
        wg_fence();
#pragma unroll
        for (int ks = 0; ks < BK / 16; ks++) {
            const uint64_t db = BT ? wg_desc(bB + ks * 2048, 1024, 1024) : wg_desc(bB + ks * 32, 16, 1024);
#pragma unroll
            for (int h = 0; h < MH; h++) wgmma_64x64<0, BT ? 1 : 0>(acc[h], wg_desc(aB + h * 8192 + ks * 32, 16, 1024), db);
        }
        wg_commit();
        wg_wait<0>();
    }
#pragma unroll
    for (int h = 0; h < MH; h++) reg_fence(acc[h]);
    cp_async_wait<0>();
    __syncthreads();

    /* epilogue: (+bias) -> bf16 tile in shared memory -> 16-byte stores (accumulate, GELU) */
    bf16 *sC = (bf16 *)smem;
    const int g = lane >> 2, tq = lane & 3;
    const int colbase = j * BS + nt * BN;
#pragma unroll
    for (int jn = 0; jn < 8; jn++) {
        float b0 = 0.f, b1 = 0.f;
        if (bias) {
            const __nv_bfloat162 b2 = *(const __nv_bfloat162 *)(bias + colbase + jn * 8 + 2 * tq);
            b0 = __bfloat162float(b2.x);
            b1 = __bfloat162float(b2.y);
        }
#pragma unroll
        for (int h = 0; h < MH; h++) {
            const int row = h * 64 + warp * 16 + g, col = jn * 8 + 2 * tq;
            *(__nv_bfloat162 *)&sC[row * CLD + col] = __floats2bfloat162_rn(acc[h][4 * jn] + b0, acc[h][4 * jn + 1] + b1);
            *(__nv_bfloat162 *)&sC[(row + 8) * CLD + col] =
                __floats2bfloat162_rn(acc[h][4 * jn + 2] + b0, acc[h][4 * jn + 3] + b1);
        }
    }
    __syncthreads();
#pragma unroll
    for (int it = 0; it < BM * 8 / NT; it++) {
        const int i = tid + it * NT;
        const int row = i >> 3, ch = i & 7;
        const int grow = m0 + row;
        if (grow >= N) continue;
        Pack8 v;
        v.u = *(const uint4 *)&sC[row * CLD + ch * 8];
        bf16 *dst = out + (size_t)grow * ldo + colbase + ch * 8;
        if (flags & EPI_ACCUM) {
            Pack8 o;
            o.u = *(const uint4 *)dst;
#pragma unroll
            for (int q = 0; q < 8; q++) v.h[q] = __float2bfloat16(__bfloat162float(v.h[q]) + __bfloat162float(o.h[q]));
        }
        if (flags & EPI_GELU) {
            if (pre_out) *(uint4 *)(pre_out + (size_t)grow * ldo + colbase + ch * 8) = v.u;
#pragma unroll
            for (int q = 0; q < 8; q++) v.h[q] = __float2bfloat16(gelu_tanh(__bfloat162float(v.h[q])));
        }
        *(uint4 *)dst = v.u;
    }
}

/* ---- TMA (bulk tensor copy) version of the forward / input gradient (variants 26, 27, 28) ----
 * Same tiles as bsr_spmm_wgmma_kernel, but one thread issues each stage as two 2D bulk tensor
 * copies (activation tile 128 x 64, weight tile 64 x 64, 128B swizzle = the wgmma layout)
 * completing on an mbarrier, and the output tile leaves through a bulk tensor store: far fewer
 * instructions per byte (ncu showed the cp.async version instruction-heavy). No accumulate
 * (the launcher falls back to the cp.async kernel for it). */
__device__ __forceinline__ void mbar_init(uint32_t addr, int count) {
#ifdef BSR_WGMMA
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(addr), "r"(count) : "memory");
#endif
}
__device__ __forceinline__ void mbar_expect_tx(uint32_t addr, int bytes) {
#ifdef BSR_WGMMA
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(addr), "r"(bytes) : "memory");
#endif
}
__device__ __forceinline__ void mbar_wait(uint32_t addr, int parity) {
#ifdef BSR_WGMMA
    uint32_t done = 0;
    do {
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(done) : "r"(addr), "r"(parity) : "memory");
    } while (!done);
#endif
}
__device__ __forceinline__ void tma_load_2d(uint32_t dst, const CUtensorMap *map, int c0, int c1, uint32_t mbar) {
#ifdef BSR_WGMMA
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, %3}], [%4];\n"
                 ::"r"(dst), "l"((uint64_t)map), "r"(c0), "r"(c1), "r"(mbar) : "memory");
#endif
}
__device__ __forceinline__ void tma_store_2d(const CUtensorMap *map, int c0, int c1, uint32_t src) {
#ifdef BSR_WGMMA
    asm volatile("cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];\n"
                 ::"l"((uint64_t)map), "r"(c0), "r"(c1), "r"(src) : "memory");
    asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void bulk_wait_read0() {
#ifdef BSR_WGMMA
    asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
#endif
}

/* BSR_TIMELINE (dev/scratch builds only): thread 0 of each forward / dX TMA CTA records clock64()
 * at its phases (start, first loads issued, first stage landed, main loop done, store issued, store
 * read) with its SM and list length, for dev/scratch/timeline.cu. */
#ifdef BSR_TIMELINE
#define BSR_TL_MAX 65536
__device__ long long bsr_tl[BSR_TL_MAX][8];
#define BSR_TL(i)                                                                                                 \
    do {                                                                                                          \
        const unsigned cta_ = blockIdx.y * gridDim.x + blockIdx.x;                                                \
        if (tid == 0 && cta_ < BSR_TL_MAX) bsr_tl[cta_][i] = clock64();                                           \
    } while (0)
#else
#define BSR_TL(i) do {} while (0)
#endif

/* Forward / input gradient with TMA loads and a TMA store: a BM-token x 64-feature output tile per
 * CTA, walking the tile's block row (forward) or block column (BT: input gradient). WGS warpgroups
 * split the BM rows (MH m64 row groups each) and share each landed weight tile; BM 256 halves the
 * weight-tile traffic from L2 per output element against BM 128 (at 0.9 the short-K kernels move
 * ~390 MB through L2 for ~130 MB of DRAM traffic).
 * DG (input gradient of the fcproj layer): the output goes through GELU' of the pre-activation
 * (mapP, loaded by TMA while the main loop runs), and colsum (may be NULL) receives the column sums
 * of the output (fp32, before its bf16 rounding) over each BSR_COLSUM_ROWS tokens,
 * colsum[chunk][column]: the bias gradient of the layer that produced the pre-activation, without
 * reading dinp again.
 * GELU_A (forward of the fcproj layer): A holds pre-activations and the operand is gelu(A),
 * applied to each landed A tile in shared memory, so the fc forward need not write gelu(pre). */
template <int BS, int BM, int WGS, int STAGES, bool BT, bool DG, bool GELU_A = false>
static __global__ void __launch_bounds__(128 * WGS, BM / WGS == 256 ? 3 : 1)
bsr_spmm_tma_kernel(const __grid_constant__ CUtensorMap mapA, const __grid_constant__ CUtensorMap mapW,
                    const __grid_constant__ CUtensorMap mapO, const __grid_constant__ CUtensorMap mapP,
                    const bf16 *__restrict__ bias, const int4 *__restrict__ lines, const int *__restrict__ acol,
                    const int *__restrict__ blk, int flags, int has_pre, float *__restrict__ colsum, int N) {
    constexpr int BN = 64, BK = 64, NT = 128 * WGS, MH = BM / 64 / WGS; /* m64 row groups per warpgroup */
    constexpr int TILES_N = BS / BN, KPB = BS / BK;
    constexpr int A_BYTES = BM * BK * 2, STAGE_BYTES = A_BYTES + BN * BK * 2, TILE_BYTES = BM * BN * 2;
    constexpr int PIPE_BYTES = STAGES * STAGE_BYTES; /* DG: the pre-activation tile follows the ring */
    constexpr int CHUNKS = BM / BSR_COLSUM_ROWS;     /* DG: colsum chunks per tile */
    /* the output buffers (one tile, two with a stored pre-activation; DG: the pre tile after the
     * ring) reuse the ring: the launcher sizes shared memory for that */
    static_assert(MH % 2 == 0 && BSR_COLSUM_ROWS == 128, "each warpgroup covers whole colsum chunks");
    extern __shared__ unsigned char smem_dyn[];
    __shared__ __align__(8) uint64_t mbar[STAGES + 1];
    unsigned char *smem = smem_align1024(smem_dyn);

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wg = WGS == 1 ? 0 : warp >> 2, wq = warp & 3;
    BSR_TL(0);
    const int4 line = lines[blockIdx.x / TILES_N]; /* {block row / column, first entry, blocks, 0}, longest first */
    const int j = line.x, nt = blockIdx.x % TILES_N;
    const int m0 = blockIdx.y * BM;
    const int colbase = j * BS + nt * BN;
    const int e0 = line.y;
    const int T = line.z * KPB;
    if (tid == 0) {
        for (int s = 0; s < STAGES + (DG ? 1 : 0); s++) mbar_init(smem_u32(&mbar[s]), 1);
#ifdef BSR_WGMMA
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
#endif
        if (DG && T > 0) { /* the pre-activation tile arrives while the main loop runs (an empty block
                            * column's output is zero and needs none) */
            mbar_expect_tx(smem_u32(&mbar[STAGES]), TILE_BYTES);
            tma_load_2d(smem_u32(smem + PIPE_BYTES), &mapP, colbase, m0, smem_u32(&mbar[STAGES]));
        }
    }
    __syncthreads();

    auto issue = [&](int t) { /* thread 0 only */
        const int slot = t % STAGES;
        const int e = e0 + t / KPB, kk = t % KPB;
        const int ac = acol[e];
        const int k = blk ? blk[e] : e;
        const uint32_t sA = smem_u32(smem + slot * STAGE_BYTES), mb = smem_u32(&mbar[slot]);
        mbar_expect_tx(mb, STAGE_BYTES);
        tma_load_2d(sA, &mapA, ac * BS + kk * BK, m0, mb);
        if (BT) tma_load_2d(sA + A_BYTES, &mapW, nt * BN, k * BS + kk * BK, mb);
        else tma_load_2d(sA + A_BYTES, &mapW, kk * BK, k * BS + nt * BN, mb);
    };
    if (tid == 0)
        for (int s = 0; s < STAGES - 1 && s < T; s++) issue(s);

    float acc[MH][32];
#pragma unroll
    for (int h = 0; h < MH; h++)
#pragma unroll
        for (int i = 0; i < 32; i++) acc[h][i] = 0.f;
#ifdef BSR_TIMELINE
    if (tid == 0 && blockIdx.y * gridDim.x + blockIdx.x < BSR_TL_MAX) {
        unsigned smid;
        asm volatile("mov.u32 %0, %%smid;" : "=r"(smid));
        bsr_tl[blockIdx.y * gridDim.x + blockIdx.x][6] = smid;
        bsr_tl[blockIdx.y * gridDim.x + blockIdx.x][7] = T;
    }
#endif
    for (int t = 0; t < T; t++) {
        __syncthreads(); /* every warp is done with step t-1, whose slot is refilled now */
        if (tid == 0 && t + STAGES - 1 < T) issue(t + STAGES - 1);
        if (t == 0) BSR_TL(1);
        mbar_wait(smem_u32(&mbar[t % STAGES]), (t / STAGES) & 1);
        if (t == 0) BSR_TL(2);
        if (GELU_A) { /* rows past N are zero-filled: gelu(0) = 0 */
            uint4 *a = (uint4 *)(smem + (t % STAGES) * STAGE_BYTES);
#pragma unroll
            for (int i = 0; i < A_BYTES / 16 / NT; i++) a[tid + NT * i] = gelu_bf16x8(a[tid + NT * i]);
            fence_proxy_async(); /* generic-proxy writes, read by wgmma (async proxy) */
            __syncthreads();
        }
        const uint32_t sB = smem_u32(smem + (t % STAGES) * STAGE_BYTES);
        const uint32_t aB = sB + wg * MH * 8192, bB = sB + A_BYTES;
        wg_fence();
#pragma unroll
        for (int ks = 0; ks < BK / 16; ks++) {
            const uint64_t db = BT ? wg_desc(bB + ks * 2048, 1024, 1024) : wg_desc(bB + ks * 32, 16, 1024);
#pragma unroll
            for (int h = 0; h < MH; h++) wgmma_64x64<0, BT ? 1 : 0>(acc[h], wg_desc(aB + h * 8192 + ks * 32, 16, 1024), db);
        }
        wg_commit();
        wg_wait<0>();
    }
#pragma unroll
    for (int h = 0; h < MH; h++) reg_fence(acc[h]);
    __syncthreads(); /* all wgmmas done: the stage memory becomes the output buffers */
    BSR_TL(3);

    const int g = lane >> 2, tq = lane & 3;
    const int rb = wg * MH * 64; /* this warpgroup's first row in the tile */
    if (DG) {
        /* dinp = acc * gelu'(pre), written over the pre tile (same swizzled offsets, one owner each) */
        unsigned char *o = smem + PIPE_BYTES;
        float *red = (float *)smem; /* [CHUNKS][4 warps][64 columns]: the ring is free now */
        if (T > 0) mbar_wait(smem_u32(&mbar[STAGES]), 0);
#pragma unroll
        for (int jn = 0; jn < 8; jn++) {
#pragma unroll
            for (int hc = 0; hc < MH / 2; hc++) { /* the m64 pairs of one colsum chunk */
                float s0 = 0.f, s1 = 0.f;
#pragma unroll
                for (int h = 2 * hc; h < 2 * hc + 2; h++)
#pragma unroll
                    for (int hh = 0; hh < 2; hh++) {
                        const int row = rb + h * 64 + wq * 16 + g + 8 * hh;
                        const int off = row * 128 + ((jn ^ (row & 7)) << 4) + tq * 4;
                        float v0 = 0.f, v1 = 0.f;
                        if (T > 0) {
                            const uint32_t p = *(const uint32_t *)(o + off);
                            v0 = acc[h][4 * jn + 2 * hh] * gelu_tanh_grad(__uint_as_float(p << 16));
                            v1 = acc[h][4 * jn + 2 * hh + 1] * gelu_tanh_grad(__uint_as_float(p & 0xffff0000u));
                        }
                        *(__nv_bfloat162 *)(o + off) = __floats2bfloat162_rn(v0, v1);
                        s0 += v0; /* rows past N: acc 0 (zero-filled A) -> 0 */
                        s1 += v1;
                    }
                if (colsum) {
#pragma unroll
                    for (int x = 4; x < 32; x <<= 1) {
                        s0 += __shfl_xor_sync(0xffffffffu, s0, x);
                        s1 += __shfl_xor_sync(0xffffffffu, s1, x);
                    }
                    const int chunk = wg * (MH / 2) + hc;
                    if (g == 0) {
                        red[(chunk * 4 + wq) * 64 + jn * 8 + 2 * tq] = s0;
                        red[(chunk * 4 + wq) * 64 + jn * 8 + 2 * tq + 1] = s1;
                    }
                }
            }
        }
        fence_proxy_async();
        __syncthreads();
        if (tid == 0) {
            tma_store_2d(&mapO, colbase, m0, smem_u32(o));
            bulk_wait_read0();
        }
        if (colsum)
            for (int i = tid; i < CHUNKS * 64; i += NT) { /* fixed order over the 4 warps: deterministic */
                const int chunk = i / 64, c = i % 64;
                const float *r = red + chunk * 256 + c;
                if (m0 + chunk * BSR_COLSUM_ROWS < N)
                    colsum[(size_t)(blockIdx.y * CHUNKS + chunk) * (gridDim.x * BN) + colbase + c] =
                        ((r[0] + r[64]) + r[128]) + r[192];
            }
        return;
    }
    /* output tile(s) in the 128B-swizzled layout of the store tensor map */
    const int two = (flags & EPI_GELU) && has_pre;
    unsigned char *o0 = smem, *o1 = smem + TILE_BYTES;
    /* the 8 bias pairs of this thread in one batch of loads (loaded inside the loop below, each
     * load's latency was paid 8 times over: 15% of the stall samples of the fc forward, run 65) */
    uint32_t bias2[8];
#pragma unroll
    for (int jn = 0; jn < 8; jn++)
        bias2[jn] = bias ? __ldg((const unsigned int *)(bias + colbase + jn * 8 + 2 * tq)) : 0u;
#pragma unroll
    for (int jn = 0; jn < 8; jn++) {
        const float b0 = __uint_as_float(bias2[jn] << 16), b1 = __uint_as_float(bias2[jn] & 0xffff0000u);
#pragma unroll
        for (int h = 0; h < MH; h++)
#pragma unroll
            for (int hh = 0; hh < 2; hh++) {
                const int row = rb + h * 64 + wq * 16 + g + 8 * hh;
                const int off = row * 128 + ((jn ^ (row & 7)) << 4) + tq * 4;
                const float v0 = acc[h][4 * jn + 2 * hh] + b0, v1 = acc[h][4 * jn + 2 * hh + 1] + b1;
                if (flags & EPI_GELU) { /* GELU of the rounded pre-activation, as a recompute would see it */
                    const __nv_bfloat162 r = __floats2bfloat162_rn(v0, v1);
                    /* BM 128 always has room for o1: an unconditional store keeps ptxas from
                     * unswitching the epilogue into two copies (1.5x the code, 3-4% slower, run 45) */
                    if (BM == 128 || two) *(__nv_bfloat162 *)(o1 + off) = r;
                    *(uint32_t *)(o0 + off) = gelu_bf16x2(*(const uint32_t *)&r);
                } else {
                    *(__nv_bfloat162 *)(o0 + off) = __floats2bfloat162_rn(v0, v1);
                }
            }
    }
    fence_proxy_async();
    __syncthreads();
    if (tid == 0) {
        tma_store_2d(&mapO, colbase, m0, smem_u32(o0));
        if (two) tma_store_2d(&mapP, colbase, m0, smem_u32(o1));
        BSR_TL(4);
        bulk_wait_read0();
        BSR_TL(5);
    }
}

/* two adjacent weight-gradient elements at offset off of the packed blocks: into split's fp32
 * partials (partial_stride != 0), else (=|+=) the fp32 or bf16 gradient */
__device__ __forceinline__ void dw_store2(float2 v, size_t off, float *out_f32, bf16 *out_bf16, int split,
                                          size_t partial_stride, int accumulate) {
    if (partial_stride) {
        *(float2 *)(out_f32 + split * partial_stride + off) = v;
    } else if (out_f32) {
        if (accumulate) {
            const float2 o = *(float2 *)(out_f32 + off);
            v.x += o.x;
            v.y += o.y;
        }
        *(float2 *)(out_f32 + off) = v;
    } else {
        if (accumulate) {
            const __nv_bfloat162 o = *(__nv_bfloat162 *)(out_bf16 + off);
            v.x += __bfloat162float(o.x);
            v.y += __bfloat162float(o.y);
        }
        *(__nv_bfloat162 *)(out_bf16 + off) = __floats2bfloat162_rn(v.x, v.y);
    }
}

/* weight gradient with wgmma (bs 64): a group of GA dY slabs x GB X slabs (see DwCfg),
 * each slab tile [BK tokens][64] MN-major; GA*GB m64n64k16 products per k16.
 * GELU_B: inp holds pre-activations and the X operand is gelu(inp), applied in shared memory by
 * the thread that loaded each chunk (the layer after a GELU, without storing gelu(inp)); with TOUT
 * X is the A operand (the kernel's dout argument). */
template <int GA, int GB, int BK, int STAGES, bool WGP, int OBS, bool GELU_B = false, bool WIDE = false,
          bool TOUT = false>
static __global__ void __launch_bounds__(128)
bsr_dw_wgmma_kernel(float *__restrict__ out_f32, bf16 *__restrict__ out_bf16, const bf16 *__restrict__ dout,
                    const bf16 *__restrict__ inp, const int *__restrict__ grp_a, const int *__restrict__ grp_b,
                    const int *__restrict__ grp_k, int N, int rows, int cols, int tokens_per_split,
                    size_t partial_stride, int accumulate) {
    constexpr int BS = 64, NT = 128, SLAB = BK * 64 * 2, STAGE_BYTES = (GA + GB) * SLAB;
    extern __shared__ unsigned char smem_dyn[];
    unsigned char *smem = smem_align1024(smem_dyn);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int grp = blockIdx.x, split = blockIdx.y;
    const int n0 = split * tokens_per_split;
    const int n1 = min(N, n0 + tokens_per_split);
    const int T = n1 > n0 ? (n1 - n0 + BK - 1) / BK : 0;
    /* OBS 128: one 128x128 block computed as 2x2 sub-tiles of 64 (GA = GB = 2); the group
     * arrays are those of single blocks (grp_a = block row, grp_b = block column, grp_k = k). */
    static_assert(OBS == 64 || (GA == 2 && GB == 2), "OBS 128 needs GA = GB = 2");
    /* WIDE: one m64n256 product per k16 over the four B slabs (they lie SLAB bytes apart) in
     * place of four m64n64: A is read from shared memory once instead of four times.
     * TOUT: the caller swapped the operands (A = the X slab of one block column, B = four dY
     * slabs of that column) and the tiles are dW^T blocks, written back transposed. */
    static_assert(!WIDE || (GA == 1 && GB == 4 && OBS == 64), "WIDE needs GA = 1, GB = 4");
    static_assert(!TOUT || WIDE, "TOUT needs WIDE");
    int aoff[GA], boff[GB], alive[GA], blive[GB], kk[GA * GB];
    if (OBS == 128) {
        const int k = grp_k[grp];
#pragma unroll
        for (int q = 0; q < GA * GB; q++) kk[q] = k;
#pragma unroll
        for (int a = 0; a < GA; a++) { aoff[a] = grp_a[grp] * 128 + a * 64; alive[a] = 1; }
#pragma unroll
        for (int b = 0; b < GB; b++) { boff[b] = grp_b[grp] * 128 + b * 64; blive[b] = 1; }
    } else {
#pragma unroll
        for (int q = 0; q < GA * GB; q++) kk[q] = grp_k[grp * GA * GB + q];
#pragma unroll
        for (int a = 0; a < GA; a++) {
            aoff[a] = grp_a[grp * GA + a] * BS;
            alive[a] = 0;
#pragma unroll
            for (int b = 0; b < GB; b++) alive[a] |= kk[a * GB + b] >= 0;
        }
#pragma unroll
        for (int b = 0; b < GB; b++) {
            boff[b] = grp_b[grp * GB + b] * BS;
            blive[b] = 0;
#pragma unroll
            for (int a = 0; a < GA; a++) blive[b] |= kk[a * GB + b] >= 0;
        }
    }

    auto load_stage = [&](int slot, int t) {
        unsigned char *st = smem + slot * STAGE_BYTES;
        for_slab_chunks<BK, NT>(tid, n0 + t * BK, [&](int row, int ch, int n) {
            const size_t nn = n < n1 ? n : 0;
#pragma unroll
            for (int a = 0; a < GA; a++) {
                const bool ok = n < n1 && alive[a];
                cp_async16(smem_u32((bf16 *)(st + a * SLAB) + swz<8>(row, ch)), dout + nn * rows + aoff[a] + ch * 8,
                           ok ? 16 : 0);
            }
#pragma unroll
            for (int b = 0; b < GB; b++) {
                const bool ok = n < n1 && blive[b];
                cp_async16(smem_u32((bf16 *)(st + (GA + b) * SLAB) + swz<8>(row, ch)),
                           inp + nn * cols + boff[b] + ch * 8, ok ? 16 : 0);
            }
        });
    };

    /* GELU_B: gelu of the X chunks this thread loaded into stage slot (same indices as load_stage;
     * its own cp.async writes are visible to it after the wait) */
    auto gelu_stage = [&](int slot, int t) {
        unsigned char *st = smem + slot * STAGE_BYTES;
        for_slab_chunks<BK, NT>(tid, n0 + t * BK, [&](int row, int ch, int n) {
            if (n >= n1) return; /* zero-filled: gelu(0) = 0 */
            if constexpr (TOUT) { /* X is the A slab */
                if (alive[0]) {
                    uint4 *p = (uint4 *)((bf16 *)st + swz<8>(row, ch));
                    *p = gelu_bf16x8(*p);
                }
            } else {
#pragma unroll
                for (int b = 0; b < GB; b++) {
                    if (!blive[b]) continue;
                    uint4 *p = (uint4 *)((bf16 *)(st + (GA + b) * SLAB) + swz<8>(row, ch));
                    *p = gelu_bf16x8(*p);
                }
            }
        });
    };

    float acc[GA * GB][32];
#pragma unroll
    for (int q = 0; q < GA * GB; q++)
#pragma unroll
        for (int i = 0; i < 32; i++) acc[q][i] = 0.f;
    constexpr int PF = WGP ? STAGES - 2 : STAGES - 1;
#pragma unroll
    for (int s = 0; s < PF; s++) {
        if (s < T) load_stage(s, s);
        cp_async_commit();
    }
    for (int t = 0; t < T; t++) {
        cp_async_wait<PF - 1>();
        if (GELU_B) gelu_stage(t % STAGES, t);
        fence_proxy_async();
        __syncthreads();
        {
            const int tn = t + PF;
            if (tn < T) load_stage(tn % STAGES, tn);
            cp_async_commit();
        }
        const uint32_t base = smem_u32(smem + (t % STAGES) * STAGE_BYTES);
        wg_fence();
        if constexpr (WIDE) {
#pragma unroll
            for (int ks = 0; ks < BK / 16; ks++)
                wgmma_64x256<1, 1>(acc[0], acc[1], acc[2], acc[3], wg_desc(base + ks * 2048, 1024, 1024),
                                   wg_desc(base + SLAB + ks * 2048, SLAB, 1024));
        } else {
#pragma unroll
            for (int ks = 0; ks < BK / 16; ks++)
#pragma unroll
                for (int a = 0; a < GA; a++)
#pragma unroll
                    for (int b = 0; b < GB; b++)
                        wgmma_64x64<1, 1>(acc[a * GB + b], wg_desc(base + a * SLAB + ks * 2048, 1024, 1024),
                                          wg_desc(base + (GA + b) * SLAB + ks * 2048, 1024, 1024));
        }
        wg_commit();
        if (WGP) wg_wait<1>();
        else wg_wait<0>();
    }
    wg_wait<0>();
#pragma unroll
    for (int q = 0; q < GA * GB; q++) reg_fence(acc[q]);
    cp_async_wait<0>();

    const int g = lane >> 2, tq = lane & 3;
#pragma unroll
    for (int q = 0; q < GA * GB; q++) {
        const int k = kk[q];
        if (k < 0) continue;
        const size_t base = (size_t)k * OBS * OBS;
        const int r0 = OBS == 128 ? (q / GB) * 64 : 0, c0 = OBS == 128 ? (q % GB) * 64 : 0;
#pragma unroll
        for (int jn = 0; jn < 8; jn++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int row = r0 + warp * 16 + g + 8 * h, col = c0 + jn * 8 + 2 * tq;
                float2 v = make_float2(acc[q][4 * jn + 2 * h], acc[q][4 * jn + 2 * h + 1]);
                if constexpr (TOUT) { /* tile element (row, col) is dW (col, row) */
                    const size_t off = base + (size_t)col * OBS + row;
                    float *pf = partial_stride ? out_f32 + split * partial_stride + off : out_f32 + off;
                    if (partial_stride || out_f32) {
                        if (accumulate && !partial_stride) { v.x += pf[0]; v.y += pf[OBS]; }
                        pf[0] = v.x;
                        pf[OBS] = v.y;
                    } else {
                        bf16 *pb = out_bf16 + off;
                        if (accumulate) { v.x += __bfloat162float(pb[0]); v.y += __bfloat162float(pb[OBS]); }
                        pb[0] = __float2bfloat16_rn(v.x);
                        pb[OBS] = __float2bfloat16_rn(v.y);
                    }
                    continue;
                }
                dw_store2(v, base + (size_t)row * OBS + col, out_f32, out_bf16, split, partial_stride, accumulate);
            }
    }
}

/* ---- weight gradient of block pairs in one CTA (dW variant 12) ----
 * ncu of the single-block dW at C 1600, 0.9 (run 112): 65.6 us at base and at boost clocks, L2
 * throughput 77% of peak: the time is set by the memory system, and each block pulls its two
 * operand slabs (dY and X, a 128-byte row per token each) into its SM. Two blocks of one block
 * column (or row) in one CTA share a slab: 3 slabs per token instead of 4 reach the SM, and the
 * ring holds more tokens per byte of shared memory. Two warpgroups, one block each, over one
 * cp.async ring that all 256 threads fill (as bsr_dw_wgmma_kernel). Stage slabs: [own 0][own 1]
 * [shared]: for column pairs the dY slabs of k0 / k1 and the X slab, for row pairs the X slabs
 * and the dY slab. A line's odd block runs alone (k1 = -1: warpgroup 1 computes on an unloaded
 * slab and stores nothing, so that no branch surrounds the wgmmas, which ptxas would serialize).
 * (A 2-CTA cluster form sharing the slab by multicast TMA was not faster, runs 113-115.) */
template <int BK, int STAGES, bool PAIR_ROWS>
static __global__ void __launch_bounds__(256)
bsr_dw_pair_kernel(float *__restrict__ out_f32, bf16 *__restrict__ out_bf16, const bf16 *__restrict__ dout,
                   const bf16 *__restrict__ inp, const int *__restrict__ pairs, const int *__restrict__ blk_rows,
                   const int *__restrict__ blk_cols, int N, int rows, int cols, int tokens_per_split,
                   size_t partial_stride, int accumulate) {
    constexpr int NT = 256, SLAB = BK * 64 * 2, STAGE_BYTES = 3 * SLAB;
    static_assert(BK % 32 == 0 && 64 % BK == 0 && STAGES >= 3,
                  "whole chunks per thread; BK divides the splits' 64-token rounding; one group in flight");
    extern __shared__ unsigned char smem_dyn[];
    unsigned char *smem = smem_align1024(smem_dyn);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wg = warp >> 2, wq = warp & 3;
    const int k0 = pairs[2 * blockIdx.x], k1 = pairs[2 * blockIdx.x + 1];
    const int split = blockIdx.y;
    const int n0 = split * tokens_per_split;
    const int n1 = min(N, n0 + tokens_per_split);
    const int T = n1 > n0 ? (n1 - n0 + BK - 1) / BK : 0;
    const int has1 = k1 >= 0;
    /* slab q: source matrix (dY: row length rows, X: cols) and column offset */
    const bf16 *src_own = PAIR_ROWS ? inp : dout, *src_sh = PAIR_ROWS ? dout : inp;
    const int ld_own = PAIR_ROWS ? cols : rows, ld_sh = PAIR_ROWS ? rows : cols;
    const int *own_idx = PAIR_ROWS ? blk_cols : blk_rows, *sh_idx = PAIR_ROWS ? blk_rows : blk_cols;
    const int off0 = own_idx[k0] * 64, off1 = has1 ? own_idx[k1] * 64 : 0, off2 = sh_idx[k0] * 64;
    auto load_stage = [&](int slot, int t) {
        unsigned char *st = smem + slot * STAGE_BYTES;
        for_slab_chunks<BK, NT>(tid, n0 + t * BK, [&](int row, int ch, int n) {
            const size_t nn = n < n1 ? n : 0;
            const int bytes = n < n1 ? 16 : 0;
            const int so = swz<8>(row, ch);
            cp_async16(smem_u32((bf16 *)st + so), src_own + nn * ld_own + off0 + ch * 8, bytes);
            if (has1) cp_async16(smem_u32((bf16 *)(st + SLAB) + so), src_own + nn * ld_own + off1 + ch * 8, bytes);
            cp_async16(smem_u32((bf16 *)(st + 2 * SLAB) + so), src_sh + nn * ld_sh + off2 + ch * 8, bytes);
        });
    };

    /* this warpgroup's block and its two slabs (A = dY, B = X) */
    const int kw = wg ? k1 : k0;
    const int qa = PAIR_ROWS ? 2 : wg, qb = PAIR_ROWS ? wg : 2;
    float acc[32];
#pragma unroll
    for (int i = 0; i < 32; i++) acc[i] = 0.f;
    constexpr int PF = STAGES - 2; /* one wgmma group in flight: the slot refilled is that of t - 2 */
    ring_prologue<PF>(T, load_stage);
    for (int t = 0; t < T; t++) {
        ring_advance<PF, STAGES>(t, T, load_stage);
        /* (a lone block's warpgroup 1 runs on the unloaded slab 1 and stores nothing) */
        const uint32_t base = smem_u32(smem + (t % STAGES) * STAGE_BYTES);
        wg_fence();
#pragma unroll
        for (int ks = 0; ks < BK / 16; ks++)
            wgmma_64x64<1, 1>(acc, wg_desc(base + qa * SLAB + ks * 2048, 1024, 1024),
                              wg_desc(base + qb * SLAB + ks * 2048, 1024, 1024));
        wg_commit();
        wg_wait<1>();
    }
    wg_wait<0>();
    reg_fence(acc);
    cp_async_wait<0>();
    if (kw < 0) return;

    const int g = lane >> 2, tq = lane & 3;
    const size_t base = (size_t)kw * 64 * 64;
#pragma unroll
    for (int jn = 0; jn < 8; jn++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int row = wq * 16 + g + 8 * h, col = jn * 8 + 2 * tq;
            dw_store2(make_float2(acc[4 * jn + 2 * h], acc[4 * jn + 2 * h + 1]), base + (size_t)row * 64 + col, out_f32,
                      out_bf16, split, partial_stride, accumulate);
        }
}

/* out[i] (=|+=) sum_s partial[s*stride + i], s ascending; n4 = elements / 4 */
static __global__ void bsr_split_reduce_kernel(float *out_f32, bf16 *out_bf16, const float *partial, int nsplit, size_t stride,
                                    size_t n4, int accumulate) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n4; i += (size_t)gridDim.x * blockDim.x) {
        float4 s = ((const float4 *)partial)[i];
        for (int p = 1; p < nsplit; p++) {
            const float4 q = ((const float4 *)(partial + p * stride))[i];
            s.x += q.x; s.y += q.y; s.z += q.z; s.w += q.w;
        }
        if (out_f32) {
            if (accumulate) {
                const float4 o = ((const float4 *)out_f32)[i];
                s.x += o.x; s.y += o.y; s.z += o.z; s.w += o.w;
            }
            ((float4 *)out_f32)[i] = s;
        } else {
            __nv_bfloat162 *o2 = (__nv_bfloat162 *)(out_bf16 + 4 * i);
            if (accumulate) {
                const __nv_bfloat162 a = o2[0], b = o2[1];
                s.x += __bfloat162float(a.x); s.y += __bfloat162float(a.y);
                s.z += __bfloat162float(b.x); s.w += __bfloat162float(b.y);
            }
            o2[0] = __floats2bfloat162_rn(s.x, s.y);
            o2[1] = __floats2bfloat162_rn(s.z, s.w);
        }
    }
}

/* ============================================================================ */
/* bias gradient, unpack, pack                                                   */
/* ============================================================================ */

#define BIAS_ROWS_PER_SPLIT 256
/* grid (ceil(OC/256), nsplit), block (32, 8): thread x owns 8 columns, y strides rows. */
static __global__ void bsr_bias_grad_partial_kernel(float *partial, const bf16 *dout, int N, int OC) {
    __shared__ float red[8][32 * 8 + 4];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int col = blockIdx.x * 256 + tx * 8;
    const int r0 = blockIdx.y * BIAS_ROWS_PER_SPLIT;
    const int r1 = min(N, r0 + BIAS_ROWS_PER_SPLIT);
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (col < OC) {
        for (int r = r0 + ty; r < r1; r += 8) {
            Pack8 p;
            p.u = *(const uint4 *)(dout + (size_t)r * OC + col);
#pragma unroll
            for (int q = 0; q < 8; q++) s[q] += __bfloat162float(p.h[q]);
        }
    }
#pragma unroll
    for (int q = 0; q < 8; q++) red[ty][tx * 8 + q] = s[q];
    __syncthreads();
    if (ty == 0 && col < OC) {
#pragma unroll
        for (int q = 0; q < 8; q++) {
            float a = red[0][tx * 8 + q];
            for (int y = 1; y < 8; y++) a += red[y][tx * 8 + q];
            partial[(size_t)blockIdx.y * OC + col + q] = a;
        }
    }
}
static __global__ void bsr_bias_grad_final_kernel(float *dbias, const float *partial, int nsplit, int OC, int accumulate) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= OC) return;
    float a = 0.f;
    for (int s = 0; s < nsplit; s++) a += partial[(size_t)s * OC + i];
    dbias[i] = accumulate ? dbias[i] + a : a;
}

/* The unfused GELU' epilogue (builds without TMA, the dense path of the crossover):
 * dinp = dinp * gelu'(pre) in place, and the column sums of the result over chunks of
 * BSR_COLSUM_ROWS tokens into colsum[chunk][OC] (may be NULL). grid (ceil(OC/64), chunks),
 * block (32, 8): thread x owns 2 columns, y strides the chunk's rows. */
/* pre == NULL: the column sums of dinp only (dinp already holds the GELU-backward product) */
static __global__ void bsr_dgelu_colsum_kernel(bf16 *dinp, const bf16 *pre, float *colsum, int N, int OC) {
    __shared__ float red[8][64];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int c = blockIdx.x * 64 + tx * 2;
    const int r0 = blockIdx.y * BSR_COLSUM_ROWS, r1 = min(N, r0 + BSR_COLSUM_ROWS);
    float a0 = 0.f, a1 = 0.f;
    if (c < OC) {
        for (int r = r0 + ty; r < r1; r += 8) {
            __nv_bfloat162 *d = (__nv_bfloat162 *)(dinp + (size_t)r * OC + c);
            __nv_bfloat162 o = *d;
            if (pre) {
                const __nv_bfloat162 p = *(const __nv_bfloat162 *)(pre + (size_t)r * OC + c);
                o = __floats2bfloat162_rn(__bfloat162float(o.x) * gelu_tanh_grad(__bfloat162float(p.x)),
                                          __bfloat162float(o.y) * gelu_tanh_grad(__bfloat162float(p.y)));
                *d = o;
            }
            a0 += __bfloat162float(o.x);
            a1 += __bfloat162float(o.y);
        }
    }
    red[ty][tx * 2] = a0;
    red[ty][tx * 2 + 1] = a1;
    __syncthreads();
    if (colsum && ty == 0 && c < OC) {
        for (int y = 1; y < 8; y++) { a0 += red[y][tx * 2]; a1 += red[y][tx * 2 + 1]; }
        colsum[(size_t)blockIdx.y * OC + c] = a0;
        colsum[(size_t)blockIdx.y * OC + c + 1] = a1;
    }
}

/* grid (bcols, brows): one CTA per grid block */
static __global__ void bsr_unpack_kernel(bf16 *dense, const bf16 *packed, const int *row_offsets, const int *col_indices,
                              int bs, int cols) {
    const int c = blockIdx.x, r = blockIdx.y;
    __shared__ int kfound;
    if (threadIdx.x == 0) {
        int lo = row_offsets[r], hi = row_offsets[r + 1] - 1, f = -1;
        while (lo <= hi) {
            const int mid = (lo + hi) >> 1, v = col_indices[mid];
            if (v == c) { f = mid; break; }
            if (v < c) lo = mid + 1; else hi = mid - 1;
        }
        kfound = f;
    }
    __syncthreads();
    const int kb = kfound;
    const int cpr = bs / 8;
    for (int i = threadIdx.x; i < bs * cpr; i += blockDim.x) {
        const int row = i / cpr, ch = i % cpr;
        uint4 v = make_uint4(0, 0, 0, 0);
        if (kb >= 0) v = *(const uint4 *)(packed + (size_t)kb * bs * bs + row * bs + ch * 8);
        *(uint4 *)(dense + (size_t)(r * bs + row) * cols + c * bs + ch * 8) = v;
    }
}

/* grid nnz: the live blocks of a dense [rows, cols] gradient (element type TD: float or bf16) added
 * into (or written over) the packed gradient, fp32 (dw_f32) or bf16 (dw_bf16); 16 bytes of the dense
 * gradient per thread step, summed in fp32 and rounded once */
template <typename TD>
static __global__ void bsr_pack_add_kernel(float *dw_f32, bf16 *dw_bf16, const TD *dense, const int *blk_rows,
                                           const int *col_indices, int bs, int cols, int accumulate) {
    constexpr int V = 16 / sizeof(TD);
    const int k = blockIdx.x, r = blk_rows[k], c = col_indices[k];
    const int cpr = bs / V;
    for (int i = threadIdx.x; i < bs * cpr; i += blockDim.x) {
        const int row = i / cpr, ch = i % cpr;
        const uint4 raw = *(const uint4 *)(dense + (size_t)(r * bs + row) * cols + c * bs + ch * V);
        float v[V];
        if constexpr (sizeof(TD) == 4) {
            const float *f = (const float *)&raw;
#pragma unroll
            for (int q = 0; q < V; q++) v[q] = f[q];
        } else {
            const __nv_bfloat162 *h = (const __nv_bfloat162 *)&raw;
#pragma unroll
            for (int q = 0; q < V / 2; q++) {
                const float2 f = __bfloat1622float2(h[q]);
                v[2 * q] = f.x;
                v[2 * q + 1] = f.y;
            }
        }
        const size_t off = (size_t)k * bs * bs + row * bs + ch * V;
        if (dw_f32) {
#pragma unroll
            for (int q = 0; q < V; q += 4) {
                float4 *o = (float4 *)(dw_f32 + off + q);
                float4 x = make_float4(v[q], v[q + 1], v[q + 2], v[q + 3]);
                if (accumulate) {
                    const float4 p = *o;
                    x.x += p.x; x.y += p.y; x.z += p.z; x.w += p.w;
                }
                *o = x;
            }
        } else {
#pragma unroll
            for (int q = 0; q < V; q += 2) {
                __nv_bfloat162 *o = (__nv_bfloat162 *)(dw_bf16 + off + q);
                float2 x = make_float2(v[q], v[q + 1]);
                if (accumulate) {
                    const float2 p = __bfloat1622float2(*o);
                    x.x += p.x;
                    x.y += p.y;
                }
                *o = __floats2bfloat162_rn(x.x, x.y);
            }
        }
    }
}

/* ============================================================================ */
/* host: layouts                                                                 */
/* ============================================================================ */

extern "C" void bsr_device_layout_alloc(BsrDeviceLayout *d, int rows, int cols, int bs) {
    memset(d, 0, sizeof(*d));
    if (bs <= 0 || rows % bs || cols % bs) {
        fprintf(stderr, "bsr_device_layout_alloc: bs=%d must divide rows=%d and cols=%d\n", bs, rows, cols);
        exit(1);
    }
    d->rows = rows; d->cols = cols; d->bs = bs;
    d->brows = rows / bs; d->bcols = cols / bs;
    const size_t cap = (size_t)d->brows * d->bcols;
    CUDA_CHECK(cudaMalloc(&d->row_offsets, (d->brows + 1) * sizeof(int)));
    CUDA_CHECK(cudaMalloc(&d->bsc_offsets, (d->bcols + 1) * sizeof(int)));
    CUDA_CHECK(cudaMalloc(&d->col_indices, cap * sizeof(int)));
    CUDA_CHECK(cudaMalloc(&d->blk_rows, cap * sizeof(int)));
    CUDA_CHECK(cudaMalloc(&d->bsc_rows, cap * sizeof(int)));
    CUDA_CHECK(cudaMalloc(&d->bsc_blocks, cap * sizeof(int)));
    CUDA_CHECK(cudaMalloc(&d->dw_iota, cap * sizeof(int)));
    CUDA_CHECK(cudaMalloc(&d->dw_col_a, cap * BSR_DW_G * sizeof(int)));
    CUDA_CHECK(cudaMalloc(&d->dw_col_b, cap * sizeof(int)));
    CUDA_CHECK(cudaMalloc(&d->dw_col_k, cap * BSR_DW_G * sizeof(int)));
    CUDA_CHECK(cudaMalloc(&d->dw_row_a, cap * sizeof(int)));
    CUDA_CHECK(cudaMalloc(&d->dw_row_b, cap * BSR_DW_G * sizeof(int)));
    CUDA_CHECK(cudaMalloc(&d->dw_row_k, cap * BSR_DW_G * sizeof(int)));
    CUDA_CHECK(cudaMalloc(&d->dw_pairs, 2 * cap * sizeof(int)));
    CUDA_CHECK(cudaMalloc(&d->lines_row, d->brows * sizeof(int4)));
    CUDA_CHECK(cudaMalloc(&d->lines_col, d->bcols * sizeof(int4)));
}

/* lines[i] = {line, first entry, length, 0} for the n lines of offsets, longest first (ties: lower
 * line first): a counting sort by length */
static void upload_lines_longest_first(int4 *d_lines, const int *offsets, int n) {
    int maxlen = 0;
    for (int i = 0; i < n; i++)
        if (offsets[i + 1] - offsets[i] > maxlen) maxlen = offsets[i + 1] - offsets[i];
    int *start = (int *)calloc_check(maxlen + 2, sizeof(int));
    int4 *h = (int4 *)malloc_check((n > 0 ? n : 1) * sizeof(int4));
    for (int i = 0; i < n; i++) start[maxlen - (offsets[i + 1] - offsets[i]) + 1]++;
    for (int l = 1; l <= maxlen + 1; l++) start[l] += start[l - 1];
    for (int i = 0; i < n; i++) {
        const int len = offsets[i + 1] - offsets[i];
        h[start[maxlen - len]++] = make_int4(i, offsets[i], len, 0);
    }
    if (n > 0) CUDA_CHECK(cudaMemcpy(d_lines, h, n * sizeof(int4), cudaMemcpyHostToDevice));
    free(start);
    free(h);
}

/* Pairs for the paired weight gradient (dW variant 12): consecutive blocks of one line (block
 * column, BSC order, or block row, BSR order) share an operand slab; a line's odd block runs alone
 * ({k, -1}). Lines of the direction that pairs more blocks (ties: columns). */
static int build_dw_pairs(int *pairs, const BsrLayout *L, int by_rows, int *n_shared) {
    const int nl = by_rows ? L->brows : L->bcols;
    const int *off = by_rows ? L->row_offsets : L->bsc_offsets;
    int np = 0, ns = 0;
    for (int l = 0; l < nl; l++)
        for (int e = off[l]; e < off[l + 1]; e += 2, np++) {
            const int two = e + 1 < off[l + 1];
            pairs[2 * np] = by_rows ? e : L->bsc_blocks[e];
            pairs[2 * np + 1] = two ? (by_rows ? e + 1 : L->bsc_blocks[e + 1]) : -1;
            ns += two;
        }
    *n_shared = ns;
    return np;
}
static void upload_dw_pairs(BsrDeviceLayout *d, const BsrLayout *L) {
    const int nnz = L->row_offsets[L->brows];
    int *pc = (int *)malloc_check((size_t)2 * (nnz + 1) * sizeof(int));
    int *pr = (int *)malloc_check((size_t)2 * (nnz + 1) * sizeof(int));
    int sc = 0, sr = 0;
    const int nc = build_dw_pairs(pc, L, 0, &sc), nr = build_dw_pairs(pr, L, 1, &sr);
    d->dw_pair_rows = sr > sc;
    d->dw_npairs = d->dw_pair_rows ? nr : nc;
    d->dw_pairs_shared = d->dw_pair_rows ? sr : sc;
    if (d->dw_npairs > 0)
        CUDA_CHECK(cudaMemcpy(d->dw_pairs, d->dw_pair_rows ? pr : pc, (size_t)2 * d->dw_npairs * sizeof(int),
                              cudaMemcpyHostToDevice));
    free(pc);
    free(pr);
}

extern "C" void bsr_device_layout_upload(BsrDeviceLayout *d, const BsrLayout *L) {
    if (L->rows != d->rows || L->cols != d->cols || L->bs != d->bs) {
        fprintf(stderr, "bsr_device_layout_upload: layout %dx%d bs %d does not match device %dx%d bs %d\n", L->rows,
                L->cols, L->bs, d->rows, d->cols, d->bs);
        exit(1);
    }
    const int nnz = L->row_offsets[L->brows];
    d->nnz = nnz;
    int *br = (int *)malloc((nnz > 0 ? nnz : 1) * sizeof(int));
    d->max_row_nnz = 0;
    for (int r = 0; r < L->brows; r++) {
        const int n = L->row_offsets[r + 1] - L->row_offsets[r];
        if (n > d->max_row_nnz) d->max_row_nnz = n;
        for (int k = L->row_offsets[r]; k < L->row_offsets[r + 1]; k++) br[k] = r;
    }
    d->max_col_nnz = 0;
    for (int c = 0; c < L->bcols; c++) {
        const int n = L->bsc_offsets[c + 1] - L->bsc_offsets[c];
        if (n > d->max_col_nnz) d->max_col_nnz = n;
    }
    CUDA_CHECK(cudaMemcpy(d->row_offsets, L->row_offsets, (L->brows + 1) * sizeof(int), cudaMemcpyHostToDevice));
    CUDA_CHECK(cudaMemcpy(d->bsc_offsets, L->bsc_offsets, (L->bcols + 1) * sizeof(int), cudaMemcpyHostToDevice));
    if (nnz > 0) {
        CUDA_CHECK(cudaMemcpy(d->col_indices, L->col_indices, nnz * sizeof(int), cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemcpy(d->blk_rows, br, nnz * sizeof(int), cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemcpy(d->bsc_rows, L->bsc_rows, nnz * sizeof(int), cudaMemcpyHostToDevice));
        CUDA_CHECK(cudaMemcpy(d->bsc_blocks, L->bsc_blocks, nnz * sizeof(int), cudaMemcpyHostToDevice));
    }
    /* weight-gradient groups: up to BSR_DW_G blocks of one block column (shared X slab, BSC
     * order) or of one block row (shared dY slab, BSR order); unused slots point at the
     * first slab with block -1 */
    {
        const int G = BSR_DW_G;
        int *ca = (int *)malloc((size_t)(nnz + 1) * G * sizeof(int)), *cb = (int *)malloc((size_t)(nnz + 1) * sizeof(int));
        int *ck = (int *)malloc((size_t)(nnz + 1) * G * sizeof(int));
        int *ra = (int *)malloc((size_t)(nnz + 1) * sizeof(int)), *rb = (int *)malloc((size_t)(nnz + 1) * G * sizeof(int));
        int *rk = (int *)malloc((size_t)(nnz + 1) * G * sizeof(int));
        int *iota = (int *)malloc((size_t)(nnz + 1) * sizeof(int));
        for (int k = 0; k < nnz; k++) iota[k] = k;
        int ng = 0;
        for (int c = 0; c < L->bcols; c++)
            for (int e = L->bsc_offsets[c]; e < L->bsc_offsets[c + 1]; e += G, ng++) {
                cb[ng] = c;
                for (int q = 0; q < G; q++) {
                    const int ee = e + q < L->bsc_offsets[c + 1] ? e + q : -1;
                    ca[ng * G + q] = L->bsc_rows[ee >= 0 ? ee : e];
                    ck[ng * G + q] = ee >= 0 ? L->bsc_blocks[ee] : -1;
                }
            }
        d->dw_ngroups_col = ng;
        ng = 0;
        for (int r = 0; r < L->brows; r++)
            for (int k = L->row_offsets[r]; k < L->row_offsets[r + 1]; k += G, ng++) {
                ra[ng] = r;
                for (int q = 0; q < G; q++) {
                    const int kk = k + q < L->row_offsets[r + 1] ? k + q : -1;
                    rb[ng * G + q] = L->col_indices[kk >= 0 ? kk : k];
                    rk[ng * G + q] = kk;
                }
            }
        d->dw_ngroups_row = ng;
        if (nnz > 0) {
            CUDA_CHECK(cudaMemcpy(d->dw_iota, iota, nnz * sizeof(int), cudaMemcpyHostToDevice));
            CUDA_CHECK(cudaMemcpy(d->dw_col_a, ca, (size_t)d->dw_ngroups_col * G * sizeof(int), cudaMemcpyHostToDevice));
            CUDA_CHECK(cudaMemcpy(d->dw_col_b, cb, (size_t)d->dw_ngroups_col * sizeof(int), cudaMemcpyHostToDevice));
            CUDA_CHECK(cudaMemcpy(d->dw_col_k, ck, (size_t)d->dw_ngroups_col * G * sizeof(int), cudaMemcpyHostToDevice));
            CUDA_CHECK(cudaMemcpy(d->dw_row_a, ra, (size_t)d->dw_ngroups_row * sizeof(int), cudaMemcpyHostToDevice));
            CUDA_CHECK(cudaMemcpy(d->dw_row_b, rb, (size_t)d->dw_ngroups_row * G * sizeof(int), cudaMemcpyHostToDevice));
            CUDA_CHECK(cudaMemcpy(d->dw_row_k, rk, (size_t)d->dw_ngroups_row * G * sizeof(int), cudaMemcpyHostToDevice));
        }
        free(ca); free(cb); free(ck); free(ra); free(rb); free(rk); free(iota);
    }
    free(br);
    upload_dw_pairs(d, L);
    upload_lines_longest_first(d->lines_row, L->row_offsets, L->brows);
    upload_lines_longest_first(d->lines_col, L->bsc_offsets, L->bcols);
}

extern "C" void bsr_device_layout_free(BsrDeviceLayout *d) {
    cudaFree(d->row_offsets); cudaFree(d->bsc_offsets); cudaFree(d->col_indices);
    cudaFree(d->blk_rows); cudaFree(d->bsc_rows); cudaFree(d->bsc_blocks);
    cudaFree(d->dw_iota); cudaFree(d->dw_col_a); cudaFree(d->dw_col_b); cudaFree(d->dw_col_k);
    cudaFree(d->dw_row_a); cudaFree(d->dw_row_b); cudaFree(d->dw_row_k);
    cudaFree(d->dw_pairs); cudaFree(d->lines_row); cudaFree(d->lines_col);
    memset(d, 0, sizeof(*d));
}

/* ============================================================================ */
/* host: launchers                                                               */
/* ============================================================================ */

template <int BS, int BM, int STAGES, bool BT>
static void launch_spmm_wgmma(bf16 *out, bf16 *pre_out, const bf16 *A, const bf16 *W, const bf16 *bias,
                              const int *offsets, const int *acol, const int *blk, int n_out_blocks, int N, int lda,
                              int ldo, int flags, cudaStream_t stream) {
    constexpr int SMEM = STAGES * (BM * 64 + 64 * 64) * 2 + 1024;
    auto kern = bsr_spmm_wgmma_kernel<BS, BM, STAGES, BT>;
    static int attr_set = 0;
    if (!attr_set) {
        CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
        attr_set = 1;
    }
    dim3 grid(n_out_blocks * (BS / 64), (N + BM - 1) / BM);
    kern<<<grid, 128, SMEM, stream>>>(out, pre_out, A, W, bias, offsets, acol, blk, N, lda, ldo, flags);
    CUDA_CHECK(cudaGetLastError());
}

static __global__ void bsr_probe_wgmma_kernel(int *out) {
#ifdef BSR_WGMMA
    *out = 1;
#else
    *out = 0;
#endif
}
/* 1 when this binary's device code for the current GPU has the wgmma kernels (sm_90a). */
static int bsr_have_wgmma(void) {
    static int have = -1;
    if (have < 0) {
        int *d, h = 0;
        CUDA_CHECK(cudaMalloc(&d, sizeof(int)));
        bsr_probe_wgmma_kernel<<<1, 1>>>(d);
        CUDA_CHECK(cudaGetLastError());
        CUDA_CHECK(cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost));
        CUDA_CHECK(cudaFree(d));
        have = h;
    }
    return have;
}

extern "C" BsrTune bsr_tune_default(void) {
    BsrTune t = {-1, -1, -1, -1};
    return t;
}

/* The variant a tuning request asks for (BsrTune in bsr_kernels.cuh); -1 = the default. */
static int tune_fwd(const BsrTune *t) { return t ? t->fwd : -1; }
static int tune_dinp(const BsrTune *t) { return t ? t->dinp : -1; }
static int tune_dw(const BsrTune *t) { return t ? t->dw : -1; }
static int tune_dw_split(const BsrTune *t) { return t ? t->dw_split : -1; }

static int num_sms(void) {
    static int n = 0;
    if (!n) {
        int dev;
        CUDA_CHECK(cudaGetDevice(&dev));
        CUDA_CHECK(cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev));
    }
    return n;
}

template <int BS, int BM, int BN, int BK, int WARPS_M, int WARPS_N, int STAGES, bool BT>
static void launch_spmm(bf16 *out, bf16 *pre_out, const bf16 *A, const bf16 *W, const bf16 *bias,
                        const int *offsets, const int *acol, const int *blk, int n_out_blocks, int N, int lda,
                        int ldo, int flags, cudaStream_t stream) {
    typedef SpmmCfg<BS, BM, BN, BK, WARPS_M, WARPS_N, STAGES, BT> Cfg;
    auto kern = bsr_spmm_kernel<BS, BM, BN, BK, WARPS_M, WARPS_N, STAGES, BT>;
    static int attr_set = 0;
    if (!attr_set) {
        CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::SMEM));
        attr_set = 1;
    }
    dim3 grid(n_out_blocks * Cfg::TILES_N, (N + BM - 1) / BM);
    kern<<<grid, Cfg::NT, Cfg::SMEM, stream>>>(out, pre_out, A, W, bias, offsets, acol, blk, N, lda, ldo, flags);
    CUDA_CHECK(cudaGetLastError());
}


/* 2D row-major bf16 tensor map: rows x cols (cols contiguous, row stride ld elements),
 * box box_rows x 64, 128B swizzle, zero fill out of bounds. */
static PFN_cuTensorMapEncodeTiled_v12000 g_encode = NULL;
static int tma_available(void) {
    static int state = -1;
    if (state < 0) {
        cudaDriverEntryPointQueryResult q;
        void *fn = NULL;
        state = cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &q) ==
                        cudaSuccess &&
                    q == cudaDriverEntryPointSuccess && fn;
        g_encode = (PFN_cuTensorMapEncodeTiled_v12000)fn;
        cudaGetLastError();
    }
    return state;
}
static void make_map(CUtensorMap *m, const void *ptr, long rows, long cols, long ld, int box_rows) {
    cuuint64_t dims[2] = {(cuuint64_t)cols, (cuuint64_t)(rows > 0 ? rows : 1)};
    cuuint64_t strides[1] = {(cuuint64_t)ld * 2};
    cuuint32_t box[2] = {64, (cuuint32_t)box_rows};
    cuuint32_t es[2] = {1, 1};
    CUresult r = g_encode(m, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, (void *)ptr, dims, strides, box, es,
                          CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_128B,
                          CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
    if (r != CUDA_SUCCESS) {
        fprintf(stderr, "cuTensorMapEncodeTiled failed (%d): rows %ld cols %ld ld %ld\n", (int)r, rows, cols, ld);
        exit(1);
    }
}

/* DG: pre_out is the pre-activation to read (GELU' epilogue), colsum its bias-gradient partials;
 * GELU_A: the operand is gelu(A) */
template <int BS, int BM, int WGS, int STAGES, bool BT, bool DG, bool GELU_A>
static void launch_spmm_tma(bf16 *out, bf16 *pre_out, const bf16 *A, const bf16 *W, const bf16 *bias,
                            const int4 *lines, const int *acol, const int *blk, int n_out_blocks, int N, int lda,
                            int ldo, int flags, int nnz, cudaStream_t stream, float *colsum) {
    constexpr int RING = STAGES * (BM * 64 + 64 * 64) * 2, TILE = BM * 64 * 2;
    constexpr int SMEM_MAX = (DG ? RING + TILE : (RING > 2 * TILE ? RING : 2 * TILE)) + 1024;
    /* a second output tile only when the pre-activation is stored too */
    const int out_bytes = DG ? RING + TILE : (flags & EPI_GELU) && pre_out ? 2 * TILE : TILE;
    /* BM 128 keeps room for two tiles (the occupancy is set by registers there): its epilogue
     * stores the pre-activation tile unconditionally (see bsr_spmm_tma_kernel, run 45) */
    const int need = BM == 128 ? 2 * TILE : out_bytes;
    const int smem = DG ? SMEM_MAX : (RING > need ? RING : need) + 1024;
    auto kern = bsr_spmm_tma_kernel<BS, BM, WGS, STAGES, BT, DG, GELU_A>;
    static int attr_set = 0;
    if (!attr_set) {
        CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM_MAX));
        attr_set = 1;
    }
    CUtensorMap mA, mW, mO, mP;
    make_map(&mA, A, N, lda, lda, BM);
    make_map(&mW, W, (long)nnz * BS, BS, BS, 64);
    make_map(&mO, out, N, ldo, ldo, BM);
    make_map(&mP, pre_out ? pre_out : out, N, ldo, ldo, BM);
    dim3 grid(n_out_blocks * (BS / 64), (N + BM - 1) / BM);
    kern<<<grid, 128 * WGS, smem, stream>>>(mA, mW, mO, mP, bias, lines, acol, blk, flags, pre_out != NULL, colsum, N);
    CUDA_CHECK(cudaGetLastError());
}

/* TMA variants: number -> token rows per CTA (BM), warpgroups, ring stages.
 *   26 / 27 / 28: BM 128, 1 warpgroup, 2 / 3 / 1 stages
 *   29 / 30: BM 256, 1 warpgroup (4 m64 row groups), 1 / 2 stages
 *   31 / 32: BM 256, 2 warpgroups sharing each weight tile, 1 / 2 stages
 * (33-35, a warp-specialized persistent kernel, lost everywhere and was removed: runs 33-34 of
 * dev/NOTES_runs.md; its code is in commit e690a79) */
static int is_tma_variant(int v) { return v >= 26 && v <= 32; }
#define TMA_PARAMS                                                                                                   \
    bf16 *out, bf16 *pre_out, const bf16 *A, const bf16 *W, const bf16 *bias, const int4 *lines, const int *acol, \
        const int *blk, int n_out_blocks, int N, int lda, int ldo, int flags, int nnz, cudaStream_t st, float *colsum
#define TMA_ARGS out, pre_out, A, W, bias, lines, acol, blk, n_out_blocks, N, lda, ldo, flags, nnz, st, colsum
template <int BS, bool BT, bool DG, bool GELU_A>
static void tma_launch_bs(int v, TMA_PARAMS) {
    switch (v) {
    case 26: launch_spmm_tma<BS, 128, 1, 2, BT, DG, GELU_A>(TMA_ARGS); break;
    case 27: launch_spmm_tma<BS, 128, 1, 3, BT, DG, GELU_A>(TMA_ARGS); break;
    case 28: launch_spmm_tma<BS, 128, 1, 1, BT, DG, GELU_A>(TMA_ARGS); break;
    case 29: launch_spmm_tma<BS, 256, 1, 1, BT, DG, GELU_A>(TMA_ARGS); break;
    case 30: launch_spmm_tma<BS, 256, 1, 2, BT, DG, GELU_A>(TMA_ARGS); break;
    case 31: launch_spmm_tma<BS, 256, 2, 1, BT, DG, GELU_A>(TMA_ARGS); break;
    default: launch_spmm_tma<BS, 256, 2, 2, BT, DG, GELU_A>(TMA_ARGS); break;
    }
}
template <bool BT, bool DG, bool GELU_A>
static void tma_launch(int v, int bs, TMA_PARAMS) {
    if (bs == 64) tma_launch_bs<64, BT, DG, GELU_A>(v, TMA_ARGS);
    else tma_launch_bs<128, BT, DG, GELU_A>(v, TMA_ARGS);
}

/* The default TMA forward / input-gradient variant (measured equal or 1-10 % faster than the
 * cp.async kernels at every target shape, dev/NOTES_bsr.md): 1 stage (28) for short index lists,
 * <= 2 k-steps per output tile, where more CTAs per SM hide the per-tile latency (d12 at 0.9:
 * 2-3 % faster); else 2 stages (26). The fused DG / GELU_A paths use this choice. */
static int tma_default_variant(int avg_steps) { return avg_steps <= 2 ? 28 : 26; }

/* The plain forward / input gradient (bs 64) runs 256-token tiles with two warpgroups sharing each
 * weight tile (32) where the live FLOPs, not the dense activation traffic, set the time: density
 * >= 0.15 with >= 5 k-steps per output tile, and enough 256-token tiles for two waves at 2 CTAs per
 * SM. C 1600, N 8192 (run 35 of dev/NOTES_runs.md): 3-16 % faster than 26 at 0.5-0.8 (fcproj forward
 * 0.5: 224 vs 251 us; 0.8, 5 k-steps: 106 vs 109); at 0.9 equal with 10 k-steps, 7 % slower with 2.5. */
static int spmm_default_variant(int avg_steps, int bs, int n_out_blocks, int k_blocks, int nnz, int N) {
    const long tiles256 = (long)n_out_blocks * ((N + 255) / 256);
    const int dense_bound = (long)nnz * 20 < (long)n_out_blocks * k_blocks * 3; /* density < 0.15 */
    if (bs == 64 && avg_steps >= 5 && !dense_bound && tiles256 >= 4L * num_sms()) return 32;
    return tma_default_variant(avg_steps);
}

/* forward (BT = false) and input gradient (BT = true) through one dispatcher. Variants (kept
 * numbers; the others were tuning experiments, removed from the library after they lost:
 * dev/NOTES_bsr.md keeps their timings, git history before this comment has their code):
 *   0: mma.sync, per-tile CTAs, BM 128, 4 warps, 3 stages (GPUs / builds without sm_90a wgmma)
 *   5, 11: wgmma, one warpgroup, BM 128 x BN 64, 3 / 2 cp.async stages (with accumulate)
 *   26-32: TMA loads (mbarrier) + TMA store (tma_launch_bs; no accumulate: falls back) */
#define SPMM_ARGS out, pre_out, A, W, bias, offsets, acol, blk, n_out_blocks, N, lda, ldo, flags, st
template <bool BT>
static void spmm_dispatch(int variant, int avg_steps, int bs, bf16 *out, bf16 *pre_out, const bf16 *A, const bf16 *W,
                          const bf16 *bias, const int *offsets, const int4 *lines, const int *acol, const int *blk,
                          int n_out_blocks, int N, int lda, int ldo, int flags, int nnz, cudaStream_t st) {
    if (variant >= 0 && variant != 0 && variant != 5 && variant != 11 && !is_tma_variant(variant)) {
        fprintf(stderr, "bsr kernels: forward / input-gradient variant %d does not exist (kept: 0 5 11 26-32; "
                        "dev/NOTES_bsr.md)\n", variant);
        exit(1);
    }
    if (bs == 32) { /* block size 32: the mma.sync kernel (the wgmma / TMA tiles are 64 wide) */
        launch_spmm<32, 128, 32, 32, 4, 1, 3, BT>(SPMM_ARGS);
        return;
    }
    /* default: the TMA kernel; accumulate and non-sm_90a builds use the cp.async kernels */
    if (variant < 0) variant = spmm_default_variant(avg_steps, bs, n_out_blocks, lda / bs, nnz, N);
    if (is_tma_variant(variant) && (!bsr_have_wgmma() || !tma_available() || (flags & EPI_ACCUM))) variant = -1;
    if (is_tma_variant(variant)) {
        tma_launch<BT, false, false>(variant, bs, out, pre_out, A, W, bias, lines, acol, blk, n_out_blocks, N, lda, ldo,
                                     flags, nnz, st, NULL);
        return;
    }
    if (!bsr_have_wgmma()) variant = 0;
    /* wgmma; short index lists (few k-steps per output tile: memory/latency bound) run 2 stages at
     * 4 CTAs per SM, long ones 3 stages (dev/NOTES_bsr.md) */
    if (variant < 0) variant = avg_steps <= 6 ? 11 : 5;
    if (bs == 64) {
        if (variant == 5) launch_spmm_wgmma<64, 128, 3, BT>(SPMM_ARGS);
        else if (variant == 11) launch_spmm_wgmma<64, 128, 2, BT>(SPMM_ARGS);
        else launch_spmm<64, 128, 64, 64, 2, 2, 3, BT>(SPMM_ARGS);
    } else {
        if (variant == 5) launch_spmm_wgmma<128, 128, 3, BT>(SPMM_ARGS);
        else if (variant == 11) launch_spmm_wgmma<128, 128, 2, BT>(SPMM_ARGS);
        else launch_spmm<128, 128, 128, 64, 2, 4, 3, BT>(SPMM_ARGS);
    }
}
#undef SPMM_ARGS

static void check_layout(const BsrDeviceLayout *L, const char *who) {
    if (L->bs != 32 && L->bs != 64 && L->bs != 128) {
        fprintf(stderr, "%s:%d: %s: block size %d not supported (32, 64, 128)\n", __FILE__, __LINE__, who, L->bs);
        exit(1);
    }
}

extern "C" void bsr_forward(bf16 *out, bf16 *pre_out, const bf16 *inp, const bf16 *w_packed, const bf16 *bias,
                            const BsrDeviceLayout *L, int N, int gelu, const BsrTune *tune, cudaStream_t stream) {
    check_layout(L, "bsr_forward");
    if (N <= 0) return;
    const int steps = L->brows ? (int)((long)L->nnz * (L->bs / 64) / L->brows) : 0;
    spmm_dispatch<false>(tune_fwd(tune), steps, L->bs, out, pre_out, inp, w_packed, bias, L->row_offsets, L->lines_row,
                         L->col_indices, NULL,
                         L->brows, N, L->cols, L->rows, gelu ? EPI_GELU : 0, L->nnz, stream);
}

static void bsr_gelu(bf16 *out, const bf16 *inp, size_t n, cudaStream_t stream);

extern "C" void bsr_forward_gelu_input(bf16 *out, const bf16 *pre, const bf16 *w_packed, const bf16 *bias,
                                       bf16 *gelu_scratch, const BsrDeviceLayout *L, int N, const BsrTune *tune,
                                       cudaStream_t stream) {
    check_layout(L, "bsr_forward_gelu_input");
    if (N <= 0) return;
    const int steps = L->brows ? (int)((long)L->nnz * (L->bs / 64) / L->brows) : 0;
    int v = tune_fwd(tune);
    if (v < 0) v = tma_default_variant(steps);
    if (is_tma_variant(v) && L->bs != 32 && bsr_have_wgmma() && tma_available()) {
        tma_launch<false, false, true>(v, L->bs, out, NULL, pre, w_packed, bias, L->lines_row, L->col_indices, NULL,
                                       L->brows, N, L->cols, L->rows, 0, L->nnz, stream, NULL);
        return;
    }
    if (!gelu_scratch) {
        fprintf(stderr, "bsr_forward_gelu_input: this kernel choice does not fuse GELU and no gelu_scratch was given\n");
        exit(1);
    }
    bsr_gelu(gelu_scratch, pre, (size_t)N * L->cols, stream);
    bsr_forward(out, NULL, gelu_scratch, w_packed, bias, L, N, 0, tune, stream);
}

extern "C" void bsr_backward_input(bf16 *dinp, const bf16 *dout, const bf16 *w_packed, const BsrDeviceLayout *L,
                                   int N, int accumulate, const BsrTune *tune, cudaStream_t stream) {
    check_layout(L, "bsr_backward_input");
    if (N <= 0) return;
    const int steps = L->bcols ? (int)((long)L->nnz * (L->bs / 64) / L->bcols) : 0;
    spmm_dispatch<true>(tune_dinp(tune), steps, L->bs, dinp, NULL, dout, w_packed, NULL, L->bsc_offsets, L->lines_col,
                        L->bsc_rows,
                        L->bsc_blocks, L->bcols, N, L->rows, L->cols, accumulate ? EPI_ACCUM : 0, L->nnz, stream);
}

extern "C" int bsr_colsum_chunks(int N) { return N > 0 ? (N + BSR_COLSUM_ROWS - 1) / BSR_COLSUM_ROWS : 0; }

extern "C" void bsr_dgelu_colsum(bf16 *dinp, const bf16 *pre, float *colsum, int N, int OC, cudaStream_t stream) {
    dim3 grid((OC + 63) / 64, bsr_colsum_chunks(N)), block(32, 8);
    bsr_dgelu_colsum_kernel<<<grid, block, 0, stream>>>(dinp, pre, colsum, N, OC);
    CUDA_CHECK(cudaGetLastError());
}

extern "C" void bsr_backward_input_dgelu(bf16 *dinp, float *colsum, const bf16 *dout, const bf16 *w_packed,
                                         const bf16 *pre, const BsrDeviceLayout *L, int N, const BsrTune *tune,
                                         cudaStream_t stream) {
    check_layout(L, "bsr_backward_input_dgelu");
    if (N <= 0) return;
    /* fused TMA kernel: variant 28 (1 stage: the pre tile and one stage leave room for 5 CTAs per
     * SM; the default, 1.2-1.3x faster than 2 stages in dev/bench_bsr_fused), 26 (2 stages),
     * 27 (3); others: that kernel, then bsr_dgelu_colsum */
    int v = tune_dinp(tune);
    if (v < 0) v = 28;
    if (is_tma_variant(v) && L->bs != 32 && bsr_have_wgmma() && tma_available()) {
        tma_launch<true, true, false>(v, L->bs, dinp, (bf16 *)pre, dout, w_packed, NULL, L->lines_col, L->bsc_rows,
                                      L->bsc_blocks, L->bcols, N, L->rows, L->cols, 0, L->nnz, stream, colsum);
        return;
    }
    bsr_backward_input(dinp, dout, w_packed, L, N, 0, tune, stream);
    bsr_dgelu_colsum(dinp, pre, colsum, N, L->cols, stream);
}

extern "C" void bsr_colsum_finish(float *dbias, const float *colsum, int N, int OC, int accumulate,
                                  cudaStream_t stream) {
    bsr_bias_grad_final_kernel<<<(OC + 255) / 256, 256, 0, stream>>>(dbias, colsum, bsr_colsum_chunks(N), OC,
                                                                     accumulate);
    CUDA_CHECK(cudaGetLastError());
}

/* dW configurations: <BS, GA, GB, BK, WARPS_M, WARPS_N, STAGES> */
#define DW_COL64 64, 4, 1, 32, 4, 2, 5  /* 4 blocks of one block column (shared X slab): 256 x 64 tile */
#define DW_ROW64 64, 1, 4, 32, 2, 4, 5  /* 4 blocks of one block row (shared dY slab): 64 x 256 tile */
#define DW_ONE64 64, 1, 1, 64, 2, 2, 4  /* one block: 64 x 64 tile */
#define DW_ONE128 128, 1, 1, 32, 2, 4, 4
#define DW_ONE32 32, 1, 1, 64, 2, 2, 4  /* one block: 32 x 32 tile */
#define DW_COL32 32, 4, 1, 64, 4, 1, 4  /* 4 blocks of one block column: 128 x 32 tile */

template <int BS, int GA, int GB, int BK, int WARPS_M, int WARPS_N, int STAGES>
static int dw_ctas_per_sm(void) {
    typedef DwCfg<BS, GA, GB, BK, WARPS_M, WARPS_N, STAGES> Cfg;
    auto kern = bsr_dw_kernel<BS, GA, GB, BK, WARPS_M, WARPS_N, STAGES>;
    static int n = 0;
    if (!n) {
        CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, Cfg::SMEM));
        CUDA_CHECK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kern, Cfg::NT, Cfg::SMEM));
        if (n < 1) n = 1;
    }
    return n;
}

/* default weight gradient with SMs <= nnz <= 3 SMs (bs 64, wgmma): single blocks, one split (all CTAs
 * in lockstep over N), and a 5-stage ring: with 1-3 CTAs per SM the deeper ring keeps enough bytes in
 * flight (C 1600, N 8192, run 29: 0.9 fc/fcproj 66.8/66.1 us vs 74.4/75.8 with 4 stages or column
 * groups). At 0.8 (500 blocks, 3.8 SMs) the m64n256 column groups in 3 splits win, 117-120 us
 * against 121-125 (run 52), hence 3 SMs, not 4. */
static int dw_deep(const BsrDeviceLayout *L, const BsrTune *tune) {
    /* ... and only when its 2 CTAs per SM leave no mostly empty last wave (d12 fcproj at 0.5, 288
     * blocks on 264 slots: 588 us against 470 for 4-stage blocks in 4 splits, run 39) */
    const long slots = 2L * num_sms(), waves = (L->nnz + slots - 1) / slots;
    return tune_dw(tune) < 0 && tune_dw_split(tune) <= 0 && L->bs == 64 && bsr_have_wgmma() &&
           L->nnz >= num_sms() && L->nnz <= 3 * num_sms() && L->nnz * 20L >= waves * slots * 17;
}

/* the default weight gradient of dw_deep's layouts runs as block pairs (bsr_dw_pair_kernel) when
 * the pairs fit one wave at one CTA per SM: C 1600 0.9 61.8 vs 66.2 us, C 1280 53.5 vs 62, C 1024
 * 50 vs 50 (run 118) */
static int dw_pairs_by_default(const BsrDeviceLayout *L, const BsrTune *tune) {
    return dw_deep(L, tune) && L->dw_npairs <= num_sms();
}

/* Splits for ng CTAs of equal work at per_sm CTAs per SM: each split streams N / ns tokens, so the
 * time goes as waves(ns) / ns with waves = ceil(ng * ns / (per_sm * SMs)); the fewest splits within
 * 15% of the best (fewer partials to sum). d12 fcproj at 0.5 (288 blocks, N 65536): 4 splits, 470 us,
 * against 586-592 for 1-3 (run 39). */
static int dw_split_by_waves(long ng, int per_sm, int maxs) {
    const long slots = (long)per_sm * num_sms();
    double best = 1e30;
    for (int ns = 1; ns <= maxs; ns++) {
        const double r = (double)((ng * ns + slots - 1) / slots) / ns;
        if (r < best) best = r;
    }
    for (int ns = 1; ns <= maxs; ns++)
        if ((double)((ng * ns + slots - 1) / slots) / ns <= 1.15 * best) return ns;
    return 1;
}

/* which grouping the weight gradient uses for this layout: 0 single blocks, 1 by column, 2 by row */
static int dw_mode(const BsrDeviceLayout *L, const BsrTune *tune, int gelu_inp) {
    /* bs 32 (mma.sync): column groups of four 32-wide blocks (a 128 x 32 tile sharing the X slab)
     * once the columns hold two blocks on average, or as tuned (variants 0 / 1) */
    if (L->bs == 32) return tune_dw(tune) == 0 ? 0 : tune_dw(tune) == 1 ? 1 : L->nnz >= 2L * L->bcols ? 1 : 0;
    if (L->bs != 64) return 0;
    /* variants: 0 single blocks, 1 column groups, 2 row groups (mma.sync); 3 fewer groups
     * (mma.sync); 4, 5, 6 = 0, 1, 2 with wgmma; 7 wgmma single without a group in flight;
     * 8 wgmma single, 5 stages; 9 wgmma row groups, one m64n256 per k16; 10 wgmma column groups
     * as dW^T row groups (m64n256, transposed write: the default's column groups), 11 the same in
     * 4 stages; 12 block pairs in one CTA sharing a slab (bsr_dw_pair_kernel; without GELU);
     * default (-1): by the layout below (bs 128: 2x2 sub-tiles) */
    /* default: column groups (shared X slab) when columns hold >= 8 live blocks on average
     * (measured: 0.5 sparsity fc/fcproj 248-261 us vs 297-328 single), else single blocks.
     * The default column groups run as row groups of dW^T (TOUT): one m64n256 wgmma per k16 with
     * the X slab as A, 3-10% faster than four m64n64 (run 51: C 1600 at 0.5 230 vs 249-257 us,
     * at 0 443 vs 456-486) */
    const int tv = tune_dw(tune);
    if (tv < 0) {
        /* one wave of single blocks (SMs <= nnz <= 3 SMs, one split, 5 stages: dw_deep) beats
         * column groups there (C 1600 fc at 0.9: 67 vs 74 us) */
        if (dw_deep(L, tune) && !gelu_inp) return 0; /* the GELU kernels have no 5-stage ring (run 40: d24
                                                        * fcproj 0.5 fused, single blocks 917 us, column groups 544) */
        /* with GELU on the X slab, a group also computes GELU once for up to four blocks: column
         * groups from 3 live blocks per column (dev/bench_bsr_fused, run 58: d12 at 0.5 736-909 us
         * against 1020 single, d24 at 0.7 386-478 vs 562, d48 at 0.7 409-426 vs 695; at 0.9
         * with 1.2-2.5 per column single blocks are as fast or faster) */
        return (long)L->nnz >= (gelu_inp ? 3L : 8L) * L->bcols ? 1 : 0;
    }
    if (tv == 9) return 2;
    if (tv == 10 || tv == 11) return 1;
    const int v = tv >= 7 ? 0 : tv >= 4 ? tv - 4 : tv;
    if (v == 0) return 0;
    if (v == 1) return 1;
    if (v == 2) return 2;
    return L->dw_ngroups_col <= L->dw_ngroups_row ? 1 : 2;
}
static int dw_use_wgmma(const BsrDeviceLayout *L, const BsrTune *tune) {
    return L->bs != 32 && bsr_have_wgmma() && (tune_dw(tune) >= 4 || tune_dw(tune) < 0);
}
static int dw_ngroups(const BsrDeviceLayout *L, int mode) {
    return mode == 0 ? L->nnz : mode == 1 ? L->dw_ngroups_col : L->dw_ngroups_row;
}

/* Splits over N: enough CTAs for about two waves, each split at least 512 tokens. */
static int dw_nsplit(const BsrDeviceLayout *L, int N, const BsrTune *tune, int gelu_inp) {
    if (L->nnz <= 0) return 1;
    if (gelu_inp && tune_dw_split(tune) <= 0) {
        /* GELU on the operand tiles adds ALU work per token that one wave of CTAs cannot hide:
         * about 5 CTAs per SM (dev/bench_bsr_fused: d12 fcproj 0.9 best at 6-12 splits, C 1600 at 3);
         * at low sparsity at least the plain kernel's splits (column groups: 3; single blocks: by
         * waves), run 39: d24 / d48 fcproj at 0.5 in 3 splits 544 / 584 us against 1129 / 867 */
        int ns = (5 * num_sms() + L->nnz / 2) / L->nnz;
        const int maxs = N / 512 > 1 ? N / 512 : 1;
        const int mode = dw_mode(L, tune, 1);
        const int low = mode != 0 ? 3 : L->nnz >= num_sms() ? dw_split_by_waves(L->nnz, 3, maxs < 32 ? maxs : 32) : 1;
        if (ns < low) ns = low;
        if (ns > maxs) ns = maxs;
        return ns < 1 ? 1 : ns > 32 ? 32 : ns;
    }
    const int mode = dw_mode(L, tune, 0);
    const int per_sm = dw_use_wgmma(L, tune) ? 3 : L->bs == 32 ? (mode == 0 ? dw_ctas_per_sm<DW_ONE32>() : dw_ctas_per_sm<DW_COL32>())
                       : L->bs != 64 ? dw_ctas_per_sm<DW_ONE128>()
                       : mode == 0 ? dw_ctas_per_sm<DW_ONE64>()
                       : mode == 1 ? dw_ctas_per_sm<DW_COL64>() : dw_ctas_per_sm<DW_ROW64>();
    const int ng = dw_ngroups(L, mode);
    const int slots = num_sms() * per_sm;
    /* wgmma single blocks: one split when the groups cover every SM (all CTAs then stream the
     * same token range together, L2-friendly, and no partials); else as many splits as fill one
     * wave at 3 CTAs per SM (dev/bench_bsr_fused, d12 fcproj 0.9, 58 blocks: 3 splits 178 us,
     * 6 splits 143 us, 8 (1.2 waves) 178 us). mma.sync: about two waves. */
    int ns;
    const int maxs = N / 512 > 1 ? N / 512 : 1;
    if (dw_use_wgmma(L, tune)) {
        /* column groups: 3 splits, 2 for N <= 8192 with groups >= 2 SMs (run 39: d48 fcproj at 0.5,
         * N 16384, 445 us against 491 for 2; d24 N 32768 393 vs 476; run 52, C 1600 N 8192 m64n256
         * groups: 0.5 (313 groups) 2 and 3 alike, 0.8 (125-180 groups) 117-120 us in 3 against
         * 138-144 in 2). The crossover measures 1-4 splits and keeps the best (decide). */
        if (mode != 0) ns = ng >= 2 * num_sms() && N <= 8192 ? 2 : 3;
        else if (ng >= num_sms()) ns = dw_deep(L, tune) ? 1 : dw_split_by_waves(ng, 3, maxs < 32 ? maxs : 32);
        else {
            ns = 3 * num_sms() / ng;
            if (ns < (num_sms() + ng - 1) / ng) ns = (num_sms() + ng - 1) / ng;
        }
    } else {
        ns = (2 * slots + ng - 1) / ng;
    }
    if (tune_dw_split(tune) > 0) ns = tune_dw_split(tune);
    if (ns > maxs) ns = maxs;
    if (ns > 32) ns = 32;
    if (ns < 1) ns = 1;
    return ns;
}

extern "C" size_t bsr_backward_weight_scratch_bytes(const BsrDeviceLayout *L, int N, const BsrTune *tune) {
    int ns = dw_nsplit(L, N, tune, 0);
    const int ng = dw_nsplit(L, N, tune, 1);
    if (ng > ns) ns = ng;
    return ns > 1 ? (size_t)ns * L->nnz * L->bs * L->bs * sizeof(float) : 0;
}

template <int BS, int GA, int GB, int BK, int WARPS_M, int WARPS_N, int STAGES>
static void launch_dw(float *out_f32, bf16 *out_bf16, const bf16 *dout, const bf16 *inp, const BsrDeviceLayout *L,
                      int mode, int N, int nsplit, int tps, size_t pstride, int accumulate, cudaStream_t stream) {
    typedef DwCfg<BS, GA, GB, BK, WARPS_M, WARPS_N, STAGES> Cfg;
    dw_ctas_per_sm<BS, GA, GB, BK, WARPS_M, WARPS_N, STAGES>(); /* sets the smem attribute */
    const int *ga, *gb, *gk;
    if (mode == 0) { ga = L->blk_rows; gb = L->col_indices; gk = L->dw_iota; }
    else if (mode == 1) { ga = L->dw_col_a; gb = L->dw_col_b; gk = L->dw_col_k; }
    else { ga = L->dw_row_a; gb = L->dw_row_b; gk = L->dw_row_k; }
    dim3 grid(dw_ngroups(L, mode), nsplit);
    bsr_dw_kernel<BS, GA, GB, BK, WARPS_M, WARPS_N, STAGES><<<grid, Cfg::NT, Cfg::SMEM, stream>>>(
        out_f32, out_bf16, dout, inp, ga, gb, gk, N, L->rows, L->cols, tps, pstride, accumulate);
    CUDA_CHECK(cudaGetLastError());
}

template <int GA, int GB, int BK, int STAGES, bool WGP = true, int OBS = 64, bool GELU_B = false,
          bool WIDE = false, bool TOUT = false>
static void launch_dw_wgmma(float *out_f32, bf16 *out_bf16, const bf16 *dout, const bf16 *inp,
                            const BsrDeviceLayout *L, int mode, int N, int nsplit, int tps, size_t pstride,
                            int accumulate, cudaStream_t stream) {
    constexpr int SMEM = STAGES * (GA + GB) * BK * 64 * 2 + 1024;
    auto kern = bsr_dw_wgmma_kernel<GA, GB, BK, STAGES, WGP, OBS, GELU_B, WIDE, TOUT>;
    static int attr_set = 0;
    if (!attr_set) {
        CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
        attr_set = 1;
    }
    const int *ga, *gb, *gk;
    if (mode == 0) { ga = L->blk_rows; gb = L->col_indices; gk = L->dw_iota; }
    else if (mode == 1) { ga = L->dw_col_a; gb = L->dw_col_b; gk = L->dw_col_k; }
    else { ga = L->dw_row_a; gb = L->dw_row_b; gk = L->dw_row_k; }
    dim3 grid(dw_ngroups(L, mode), nsplit);
    if (TOUT) /* column groups as row groups of dW^T = X^T dY: operands, strides and group arrays swap */
        kern<<<grid, 128, SMEM, stream>>>(out_f32, out_bf16, inp, dout, gb, ga, gk, N, L->cols, L->rows, tps,
                                          pstride, accumulate);
    else
        kern<<<grid, 128, SMEM, stream>>>(out_f32, out_bf16, dout, inp, ga, gb, gk, N, L->rows, L->cols, tps,
                                          pstride, accumulate);
    CUDA_CHECK(cudaGetLastError());
}

#ifndef BSR_DW_PAIR_STAGES
#define BSR_DW_PAIR_STAGES 6 /* run 118, C 768-1600 at 0.9 / 0.95: 6 (144 KB) 0-8% over 5, 4 and 7-9 */
#endif
#ifndef BSR_DW_PAIR_BK
#define BSR_DW_PAIR_BK 64
#endif
/* dW variant 12: block pairs in one CTA (bsr_dw_pair_kernel), bs 64 */
template <bool PAIR_ROWS>
static void launch_dw_pair(float *out_f32, bf16 *out_bf16, const bf16 *dout, const bf16 *inp,
                           const BsrDeviceLayout *L, int N, int nsplit, int tps, size_t pstride, int accumulate,
                           cudaStream_t stream) {
    constexpr int BK = BSR_DW_PAIR_BK, STAGES = BSR_DW_PAIR_STAGES, SMEM = STAGES * 3 * BK * 64 * 2 + 1024;
    auto kern = bsr_dw_pair_kernel<BK, STAGES, PAIR_ROWS>;
    static int attr_set = 0;
    if (!attr_set) {
        CUDA_CHECK(cudaFuncSetAttribute(kern, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
        attr_set = 1;
    }
    dim3 grid(L->dw_npairs, nsplit);
    kern<<<grid, 256, SMEM, stream>>>(out_f32, out_bf16, dout, inp, L->dw_pairs, L->blk_rows, L->col_indices, N,
                                      L->rows, L->cols, tps, pstride, accumulate);
    CUDA_CHECK(cudaGetLastError());
}

/* gelu_inp: X = gelu(inp) in shared memory; only the default wgmma configurations have it
 * (dw_fuses_gelu), the caller materializes gelu(inp) otherwise */
static int dw_fuses_gelu(const BsrDeviceLayout *L, const BsrTune *tune) {
    return dw_use_wgmma(L, tune) && tune_dw(tune) != 7 && tune_dw(tune) != 8;
}
static void launch_dw_mode(float *of, bf16 *ob, const bf16 *dout, const bf16 *inp, const BsrDeviceLayout *L, int N,
                           int ns, int tps, size_t pstride, int accumulate, int gelu_inp, const BsrTune *tune,
                           cudaStream_t stream) {
    const int mode = dw_mode(L, tune, gelu_inp);
    if (gelu_inp) {
        if (L->bs == 128) launch_dw_wgmma<2, 2, 32, 4, true, 128, true>(of, ob, dout, inp, L, 0, N, ns, tps, pstride, accumulate, stream);
        else if (tune_dw(tune) == 9)
            launch_dw_wgmma<1, 4, 32, 4, true, 64, true, true>(of, ob, dout, inp, L, 2, N, ns, tps, pstride, accumulate, stream);
        else if (mode == 0) launch_dw_wgmma<1, 1, 64, 4, true, 64, true>(of, ob, dout, inp, L, 0, N, ns, tps, pstride, accumulate, stream);
        else if (mode == 1 && tune_dw(tune) == 5)
            launch_dw_wgmma<4, 1, 32, 4, true, 64, true>(of, ob, dout, inp, L, 1, N, ns, tps, pstride, accumulate, stream);
        else if (mode == 1)
            launch_dw_wgmma<1, 4, 32, 4, true, 64, true, true, true>(of, ob, dout, inp, L, 1, N, ns, tps, pstride, accumulate, stream);
        else launch_dw_wgmma<1, 4, 32, 4, true, 64, true>(of, ob, dout, inp, L, 2, N, ns, tps, pstride, accumulate, stream);
        return;
    }
    if (dw_use_wgmma(L, tune)) {
        if (L->bs == 128) launch_dw_wgmma<2, 2, 32, 4, true, 128>(of, ob, dout, inp, L, 0, N, ns, tps, pstride, accumulate, stream);
        else if (tune_dw(tune) == 12 || (dw_pairs_by_default(L, tune) && ns == 1)) {
            if (L->dw_pair_rows) launch_dw_pair<true>(of, ob, dout, inp, L, N, ns, tps, pstride, accumulate, stream);
            else launch_dw_pair<false>(of, ob, dout, inp, L, N, ns, tps, pstride, accumulate, stream);
        }
        else if (tune_dw(tune) == 7) launch_dw_wgmma<1, 1, 64, 4, false>(of, ob, dout, inp, L, 0, N, ns, tps, pstride, accumulate, stream);
        else if (tune_dw(tune) == 9)
            launch_dw_wgmma<1, 4, 32, 4, true, 64, false, true>(of, ob, dout, inp, L, 2, N, ns, tps, pstride, accumulate, stream);
        else if (tune_dw(tune) == 8 || (dw_deep(L, tune) && ns == 1))
            launch_dw_wgmma<1, 1, 64, 5, true>(of, ob, dout, inp, L, 0, N, ns, tps, pstride, accumulate, stream);
        else if (mode == 0) launch_dw_wgmma<1, 1, 64, 4>(of, ob, dout, inp, L, 0, N, ns, tps, pstride, accumulate, stream);
        else if (mode == 1 && tune_dw(tune) == 5)
            launch_dw_wgmma<4, 1, 32, 4>(of, ob, dout, inp, L, 1, N, ns, tps, pstride, accumulate, stream);
        else if (tune_dw(tune) == 11)
            launch_dw_wgmma<1, 4, 32, 4, true, 64, false, true, true>(of, ob, dout, inp, L, 1, N, ns, tps, pstride, accumulate, stream);
        else if (mode == 1) /* column groups (default, 10): dW^T rows, one m64n256 per k16, 5 stages (2 CTAs per SM;
                             * run 54, C 1600: 3-9% over 4 stages at 0.7-0.8, alike at 0-0.5; 64-token
                             * stages in 2 or 3 stages 5-60% slower) */
            launch_dw_wgmma<1, 4, 32, 5, true, 64, false, true, true>(of, ob, dout, inp, L, 1, N, ns, tps, pstride, accumulate, stream);
        else launch_dw_wgmma<1, 4, 32, 4>(of, ob, dout, inp, L, 2, N, ns, tps, pstride, accumulate, stream);
        return;
    }
    if (L->bs == 32) {
        if (mode == 0) launch_dw<DW_ONE32>(of, ob, dout, inp, L, 0, N, ns, tps, pstride, accumulate, stream);
        else launch_dw<DW_COL32>(of, ob, dout, inp, L, 1, N, ns, tps, pstride, accumulate, stream);
    } else if (L->bs != 64) launch_dw<DW_ONE128>(of, ob, dout, inp, L, 0, N, ns, tps, pstride, accumulate, stream);
    else if (mode == 0) launch_dw<DW_ONE64>(of, ob, dout, inp, L, 0, N, ns, tps, pstride, accumulate, stream);
    else if (mode == 1) launch_dw<DW_COL64>(of, ob, dout, inp, L, 1, N, ns, tps, pstride, accumulate, stream);
    else launch_dw<DW_ROW64>(of, ob, dout, inp, L, 2, N, ns, tps, pstride, accumulate, stream);
}

static void backward_weight(void *dw, int dw_fp32, int accumulate, const bf16 *dout, const bf16 *inp, int gelu_inp,
                            const BsrDeviceLayout *L, int N, float *scratch, size_t scratch_bytes,
                            const BsrTune *tune, cudaStream_t stream) {
    if (L->nnz <= 0) return;
    float *of = dw_fp32 ? (float *)dw : NULL;
    bf16 *ob = dw_fp32 ? NULL : (bf16 *)dw;
    const size_t per = (size_t)L->nnz * L->bs * L->bs;
    int ns = N > 0 ? dw_nsplit(L, N, tune, gelu_inp) : 1;
    if (ns > 1 && (!scratch || scratch_bytes < per * sizeof(float) * 2)) ns = 1;
    if (ns > 1 && scratch_bytes < per * sizeof(float) * ns) ns = (int)(scratch_bytes / (per * sizeof(float)));
    if (ns <= 1) {
        if (N <= 0 && accumulate) return;
        const int tps = N > 0 ? N : 1;
        launch_dw_mode(of, ob, dout, inp, L, N, 1, tps, 0, accumulate, gelu_inp, tune, stream);
        return;
    }
    const int bk = 64;
    int tps = (N + ns - 1) / ns;
    tps = (tps + bk - 1) / bk * bk;
    ns = (N + tps - 1) / tps;
    launch_dw_mode(scratch, NULL, dout, inp, L, N, ns, tps, per, 0, gelu_inp, tune, stream);
    const size_t n4 = per / 4;
    int blocks = (int)((n4 + 255) / 256);
    if (blocks > num_sms() * 8) blocks = num_sms() * 8;
    bsr_split_reduce_kernel<<<blocks, 256, 0, stream>>>(of, ob, scratch, ns, per, n4, accumulate);
    CUDA_CHECK(cudaGetLastError());
}

extern "C" void bsr_backward_weight(void *dw, int dw_fp32, int accumulate, const bf16 *dout, const bf16 *inp,
                                    const BsrDeviceLayout *L, int N, float *scratch, size_t scratch_bytes,
                                    const BsrTune *tune, cudaStream_t stream) {
    check_layout(L, "bsr_backward_weight");
    backward_weight(dw, dw_fp32, accumulate, dout, inp, 0, L, N, scratch, scratch_bytes, tune, stream);
}

/* out = gelu_tanh(inp), elementwise, n a multiple of 8 (the unfused path of bsr_backward_weight_gelu) */
static __global__ void bsr_gelu_kernel(bf16 *out, const bf16 *inp, size_t n8) {
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n8; i += (size_t)gridDim.x * blockDim.x) {
        ((uint4 *)out)[i] = gelu_bf16x8(((const uint4 *)inp)[i]);
    }
}
static void bsr_gelu(bf16 *out, const bf16 *inp, size_t n, cudaStream_t stream) {
    const size_t n8 = n / 8;
    size_t blocks = (n8 + 255) / 256;
    if (blocks > (size_t)num_sms() * 16) blocks = (size_t)num_sms() * 16;
    if (blocks) bsr_gelu_kernel<<<(unsigned)blocks, 256, 0, stream>>>(out, inp, n8);
    CUDA_CHECK(cudaGetLastError());
}

extern "C" void bsr_backward_weight_gelu(void *dw, int dw_fp32, int accumulate, const bf16 *dout, const bf16 *pre,
                                         bf16 *gelu_scratch, const BsrDeviceLayout *L, int N, float *scratch,
                                         size_t scratch_bytes, const BsrTune *tune, cudaStream_t stream) {
    check_layout(L, "bsr_backward_weight_gelu");
    if (dw_fuses_gelu(L, tune)) {
        backward_weight(dw, dw_fp32, accumulate, dout, pre, 1, L, N, scratch, scratch_bytes, tune, stream);
        return;
    }
    if (!gelu_scratch) {
        fprintf(stderr, "bsr_backward_weight_gelu: this kernel choice does not fuse GELU and no gelu_scratch was given\n");
        exit(1);
    }
    bsr_gelu(gelu_scratch, pre, (size_t)N * L->cols, stream);
    backward_weight(dw, dw_fp32, accumulate, dout, gelu_scratch, 0, L, N, scratch, scratch_bytes, tune, stream);
}

extern "C" size_t bsr_backward_bias_scratch_bytes(int N, int OC) {
    const int ns = (N + BIAS_ROWS_PER_SPLIT - 1) / BIAS_ROWS_PER_SPLIT;
    return (size_t)(ns > 0 ? ns : 1) * OC * sizeof(float);
}

extern "C" void bsr_backward_bias(float *dbias, int accumulate, const bf16 *dout, int N, int OC, float *scratch,
                                  cudaStream_t stream) {
    if (OC % 8) {
        fprintf(stderr, "bsr_backward_bias: OC=%d must be a multiple of 8\n", OC);
        exit(1);
    }
    int ns = (N + BIAS_ROWS_PER_SPLIT - 1) / BIAS_ROWS_PER_SPLIT;
    if (ns < 1) ns = 1;
    dim3 grid((OC + 255) / 256, ns), block(32, 8);
    bsr_bias_grad_partial_kernel<<<grid, block, 0, stream>>>(scratch, dout, N, OC);
    CUDA_CHECK(cudaGetLastError());
    bsr_bias_grad_final_kernel<<<(OC + 255) / 256, 256, 0, stream>>>(dbias, scratch, ns, OC, accumulate);
    CUDA_CHECK(cudaGetLastError());
}

extern "C" void bsr_unpack_bf16(bf16 *dense, const bf16 *w_packed, const BsrDeviceLayout *L, cudaStream_t stream) {
    dim3 grid(L->bcols, L->brows);
    bsr_unpack_kernel<<<grid, 256, 0, stream>>>(dense, w_packed, L->row_offsets, L->col_indices, L->bs, L->cols);
    CUDA_CHECK(cudaGetLastError());
}

extern "C" void bsr_pack_add_f32(void *dw, int dw_fp32, int accumulate, const float *dense, const BsrDeviceLayout *L,
                                 cudaStream_t stream) {
    if (L->nnz <= 0) return;
    bsr_pack_add_kernel<float><<<L->nnz, 256, 0, stream>>>(dw_fp32 ? (float *)dw : NULL, dw_fp32 ? NULL : (bf16 *)dw,
                                                       dense, L->blk_rows, L->col_indices, L->bs, L->cols, accumulate);
    CUDA_CHECK(cudaGetLastError());
}

extern "C" void bsr_pack_add_bf16(bf16 *dw, int accumulate, const bf16 *dense, const BsrDeviceLayout *L,
                                  cudaStream_t stream) {
    if (L->nnz <= 0) return;
    bsr_pack_add_kernel<bf16><<<L->nnz, 256, 0, stream>>>(NULL, dw, dense, L->blk_rows, L->col_indices, L->bs, L->cols,
                                                          accumulate);
    CUDA_CHECK(cudaGetLastError());
}

/* ============================================================================ */
/* host: cuBLASLt dense paths                                                    */
/* ============================================================================ */

extern "C" void bsr_blas_init(BsrBlas *b) {
    memset(b, 0, sizeof(*b));
    CUBLAS_CHECK(cublasLtCreate(&b->lt));
    b->autotune = 1;
    b->workspace_bytes = 32u << 20;
    CUDA_CHECK(cudaMalloc(&b->workspace, b->workspace_bytes));
}
extern "C" void bsr_blas_free(BsrBlas *b) {
    cublasLtDestroy(b->lt);
    cudaFree(b->workspace);
    memset(b, 0, sizeof(*b));
}

/* Column-major D[m, n] = op(A) op(B) (+ beta D), bf16 inputs, fp32 compute. */
static void lt_matmul(BsrBlas *b, void *D, cudaDataType dtype, const bf16 *A, int lda, int transA, const bf16 *B,
                      int ldb, int transB, int m, int n, int k, int ldd, float beta, const bf16 *bias, int gelu,
                      bf16 *aux, cudaStream_t stream) {
    cublasLtMatmulDesc_t desc;
    cublasLtMatrixLayout_t la, lb, ld;
    CUBLAS_CHECK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasOperation_t ta = transA ? CUBLAS_OP_T : CUBLAS_OP_N, tb = transB ? CUBLAS_OP_T : CUBLAS_OP_N;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &ta, sizeof(ta)));
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &tb, sizeof(tb)));
    /* gelu: 0 none, 1 GELU (aux: the pre-activation written), 2 DGELU (D *= GELU'(aux), aux read) */
    cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_DEFAULT;
    if (gelu == 2) epi = CUBLASLT_EPILOGUE_DGELU;
    else if (gelu) epi = bias ? (aux ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_BIAS)
                              : (aux ? CUBLASLT_EPILOGUE_GELU_AUX : CUBLASLT_EPILOGUE_GELU);
    else if (bias) epi = CUBLASLT_EPILOGUE_BIAS;
    CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof(epi)));
    if (bias) {
        cudaDataType bt = CUDA_R_16BF;
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof(bt)));
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof(bias)));
    }
    if (gelu && aux) {
        int64_t ald = ldd;
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof(aux)));
        CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &ald, sizeof(ald)));
    }
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, transA ? k : m, transA ? m : k, lda));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, transB ? n : k, transB ? k : n, ldb));
    CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&ld, dtype, m, n, ldd));
    /* the choice depends on the shape, types and epilogue, not on the pointers */
    const int key[11] = {(int)dtype, transA, transB, m, n, k, lda, ldb, ldd, (int)epi, bias != NULL};
    const cublasLtMatmulAlgo_t *algo = NULL;
    for (int i = 0; i < b->n_algos && !algo; i++)
        if (!memcmp(b->algos[i].key, key, sizeof(key))) algo = &b->algos[i].algo;
    cublasLtMatmulAlgo_t chosen;
    if (!algo) {
        /* timed only when the call overwrites an output that none of its inputs share (aux: read by
         * DGELU, written by GELU_AUX), and not past the table's end (it would be timed on each call) */
        const size_t dbytes = (size_t)ldd * n * (dtype == CUDA_R_32F ? 4 : 2), abytes = (size_t)lda * (transA ? m : k) * 2,
                     bbytes = (size_t)ldb * (transB ? k : n) * 2, auxbytes = gelu && aux ? (size_t)ldd * n * 2 : 0;
        const int timed = b->autotune && b->n_algos < BSR_LT_ALGOS &&
                          lt_may_time(beta, D, dbytes, A, abytes, B, bbytes, aux, auxbytes);
        lt_choose_algo(b->lt, b->workspace, b->workspace_bytes, desc, la, lb, ld, dtype, m, n, k, transB, ldb, ldd,
                       (int)epi, A, B, D, timed, &chosen, NULL, NULL, stream, "bsr dense path");
        algo = &chosen;
        if (b->n_algos < BSR_LT_ALGOS) {
            memcpy(b->algos[b->n_algos].key, key, sizeof(key));
            b->algos[b->n_algos++].algo = chosen;
        }
    }
    const float alpha = 1.f;
    CUBLAS_CHECK(cublasLtMatmul(b->lt, desc, &alpha, A, la, B, lb, &beta, D, ld, D, ld, algo, b->workspace,
                                b->workspace_bytes, stream));
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(ld);
    cublasLtMatmulDescDestroy(desc);
}

extern "C" void dense_forward(BsrBlas *b, bf16 *out, bf16 *pre_out, const bf16 *inp, const bf16 *W, const bf16 *bias,
                              int N, int C, int OC, int gelu, cudaStream_t stream) {
    /* out^T[OC, N] = W[OC, C] (row-major = col-major C x OC, transposed) x inp^T[C, N] */
    lt_matmul(b, out, CUDA_R_16BF, W, C, 1, inp, C, 0, OC, N, C, OC, 0.f, bias, gelu, gelu ? pre_out : NULL, stream);
}
extern "C" void dense_backward_input(BsrBlas *b, bf16 *dinp, const bf16 *dout, const bf16 *W, int N, int C, int OC,
                                     int accumulate, cudaStream_t stream) {
    /* dinp^T[C, N] = W^T[C, OC] (col-major view of W, ld C) x dout^T[OC, N] */
    lt_matmul(b, dinp, CUDA_R_16BF, W, C, 0, dout, OC, 0, C, N, OC, C, accumulate ? 1.f : 0.f, NULL, 0, NULL, stream);
}
extern "C" void dense_backward_input_dgelu(BsrBlas *b, bf16 *dinp, const bf16 *dout, const bf16 *W, const bf16 *pre,
                                           int N, int C, int OC, cudaStream_t stream) {
    lt_matmul(b, dinp, CUDA_R_16BF, W, C, 0, dout, OC, 0, C, N, OC, C, 0.f, NULL, 2, (bf16 *)pre, stream);
}
extern "C" void dense_backward_weight_f32(BsrBlas *b, float *dW, const bf16 *dout, const bf16 *inp, int N, int C,
                                          int OC, cudaStream_t stream) {
    /* dW^T[C, OC] (col-major) = inp^T[C, N] x dout[N, OC] (dout^T col-major, transposed) */
    lt_matmul(b, dW, CUDA_R_32F, inp, C, 0, dout, OC, 1, C, OC, N, C, 0.f, NULL, 0, NULL, stream);
}
extern "C" void dense_backward_weight_bf16(BsrBlas *b, bf16 *dW, const bf16 *dout, const bf16 *inp, int N, int C,
                                           int OC, int accumulate, cudaStream_t stream) {
    lt_matmul(b, dW, CUDA_R_16BF, inp, C, 0, dout, OC, 1, C, OC, N, C, accumulate ? 1.f : 0.f, NULL, 0, NULL,
              stream);
}

/* ============================================================================ */
/* host: crossover                                                               */
/* ============================================================================ */

extern "C" void bsr_ctx_init(BsrCtx *ctx, size_t max_dense_elems, size_t scratch_bytes) {
    memset(ctx, 0, sizeof(*ctx));
    bsr_blas_init(&ctx->blas);
    ctx->max_dense_elems = max_dense_elems;
    CUDA_CHECK(cudaMalloc(&ctx->dense_w, max_dense_elems * sizeof(bf16)));
    CUDA_CHECK(cudaMalloc(&ctx->dense_dw, max_dense_elems * sizeof(float)));
    ctx->scratch_bytes = scratch_bytes ? scratch_bytes : (64u << 20);
    CUDA_CHECK(cudaMalloc(&ctx->scratch, ctx->scratch_bytes));
    ctx->tune = bsr_tune_default();
    CUDA_CHECK(cudaEventCreate(&ctx->ev[0]));
    CUDA_CHECK(cudaEventCreate(&ctx->ev[1]));
    const char *v = getenv("BSR_VERBOSE"); /* print each crossover measurement */
    ctx->verbose = v && atoi(v) > 0;
    const char *e = getenv("BSR_FORCE_PATH");
    if (e && !strcmp(e, "sparse")) ctx->force_path = BSR_PATH_SPARSE;
    if (e && !strcmp(e, "dense")) ctx->force_path = BSR_PATH_DENSE;
    if (e && !strcmp(e, "rule")) bsr_ctx_set_rule(ctx, 1);
    if (e && strcmp(e, "sparse") && strcmp(e, "dense") && strcmp(e, "rule")) {
        fprintf(stderr, "BSR_FORCE_PATH=%s: unknown value (sparse, dense or rule; unset: measure)\n", e);
        exit(1);
    }
}
static void drop_dense_weights(BsrCtx *ctx) {
    for (int i = 0; i < ctx->n_wcache; i++) CUDA_CHECK(cudaFree(ctx->wcache[i].dense));
    ctx->n_wcache = 0;
    ctx->wcache_bytes = 0;
}
extern "C" void bsr_ctx_cache_dense_weights(BsrCtx *ctx, size_t max_bytes) {
    drop_dense_weights(ctx);
    ctx->wcache_limit = max_bytes;
}
extern "C" void bsr_ctx_weights_changed(BsrCtx *ctx) { ctx->weights_version++; }

/* The dense bf16 copy of w for cuBLASLt: the cached one if it is current, else unpacked now (into
 * the cache when it has room, else into the shared buffer). */
static const bf16 *dense_weight(BsrCtx *ctx, const bf16 *w, const BsrDeviceLayout *L, cudaStream_t s) {
    BsrDenseWeight *e = NULL;
    if (ctx->wcache_limit) {
        const size_t bytes = (size_t)L->rows * L->cols * sizeof(bf16);
        for (int i = 0; i < ctx->n_wcache && !e; i++)
            if (ctx->wcache[i].w_packed == w && ctx->wcache[i].rows == L->rows && ctx->wcache[i].cols == L->cols)
                e = &ctx->wcache[i];
        if (!e && ctx->n_wcache < BSR_MAX_DENSE_WEIGHTS && ctx->wcache_bytes + bytes <= ctx->wcache_limit) {
            e = &ctx->wcache[ctx->n_wcache++];
            memset(e, 0, sizeof(*e));
            e->w_packed = w;
            e->rows = L->rows;
            e->cols = L->cols;
            e->version = ctx->weights_version - 1; /* not unpacked yet */
            CUDA_CHECK(cudaMalloc(&e->dense, bytes));
            ctx->wcache_bytes += bytes;
        }
    }
    if (!e) {
        bsr_unpack_bf16(ctx->dense_w, w, L, s);
        return ctx->dense_w;
    }
    if (e->version != ctx->weights_version || e->row_offsets != L->row_offsets || e->bs != L->bs || e->nnz != L->nnz) {
        bsr_unpack_bf16(e->dense, w, L, s);
        e->version = ctx->weights_version;
        e->row_offsets = L->row_offsets;
        e->bs = L->bs;
        e->nnz = L->nnz;
    }
    return e->dense;
}

extern "C" void bsr_ctx_set_rule(BsrCtx *ctx, int on) {
    ctx->by_rule = on != 0;
    ctx->blas.autotune = on == 0;
}
extern "C" void bsr_ctx_free(BsrCtx *ctx) {
    drop_dense_weights(ctx);
    free(ctx->dec);
    bsr_blas_free(&ctx->blas);
    cudaFree(ctx->dense_w);
    cudaFree(ctx->dense_dw);
    cudaFree(ctx->scratch);
    cudaEventDestroy(ctx->ev[0]);
    cudaEventDestroy(ctx->ev[1]);
    memset(ctx, 0, sizeof(*ctx));
}
extern "C" void bsr_ctx_reset_decisions(BsrCtx *ctx) {
    ctx->n_dec = 0;
    drop_dense_weights(ctx); /* layouts and pointers may have changed with the densities */
}

/* the decision for this key: the exact live-block count, else the nearest within the slack */
static BsrDecision *find_dec(const BsrCtx *ctx, int op, const BsrDeviceLayout *L, int N, int flags) {
    const int slack = L->brows * L->bcols / BSR_DECISION_NNZ_SLACK;
    BsrDecision *best = NULL;
    int best_gap = slack + 1;
    for (int i = 0; i < ctx->n_dec; i++) {
        BsrDecision *d = &ctx->dec[i];
        if (d->op != op || d->rows != L->rows || d->cols != L->cols || d->bs != L->bs || d->N != N ||
            d->flags != flags)
            continue;
        const int gap = abs(d->nnz - L->nnz);
        if (gap == 0) return d; /* every call of a measured layout (the hot path) */
        if (gap < best_gap) { best = d; best_gap = gap; }
    }
    return best;
}
extern "C" const BsrDecision *bsr_crossover_lookup(const BsrCtx *ctx, int op, const BsrDeviceLayout *L, int N,
                                                   int flags) {
    return find_dec(ctx, op, L, N, flags);
}

static int fits_dense(const BsrCtx *ctx, const BsrDeviceLayout *L) {
    return (size_t)L->rows * L->cols <= ctx->max_dense_elems;
}

typedef void (*RunFn)(BsrCtx *ctx, int path, void *arg, cudaStream_t stream);

/* the fastest of `runs` timed calls after one warm-up call */
static float time_path_n(BsrCtx *ctx, RunFn fn, int path, void *arg, cudaStream_t stream, int runs) {
    cudaEvent_t e0 = ctx->ev[0], e1 = ctx->ev[1];
    fn(ctx, path, arg, stream); /* warm-up */
    float best = 1e30f;
    for (int i = 0; i < runs; i++) {
        CUDA_CHECK(cudaEventRecord(e0, stream));
        fn(ctx, path, arg, stream);
        CUDA_CHECK(cudaEventRecord(e1, stream));
        CUDA_CHECK(cudaEventSynchronize(e1));
        float ms;
        CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
        if (ms < best) best = ms;
    }
    return best;
}
static float time_path(BsrCtx *ctx, RunFn fn, int path, void *arg, cudaStream_t stream) {
    return time_path_n(ctx, fn, path, arg, stream, 3);
}

/* dw: NULL, or the measure argument's {variant, split} fields of the weight gradient: the sparse
 * path is then timed with the kernels' defaults and with single blocks (4) and column groups (10,
 * bs 64) in 1-8 splits, and the fastest is kept. The best choice moves with wave quantization, the
 * partials' traffic and (GELU input) the GELU recomputed per slab in ways the defaults' rules
 * missed by up to 40% (run 52: C 1600 N 8192 fc at 0.7 best in 1 split, at 0.8 in 3, at 0.85
 * in 2; run 58: fused-GELU d48 at 0.9 206 us in column groups, 6 splits, against 240) */
static int decide(BsrCtx *ctx, int op, const BsrDeviceLayout *L, int N, int flags, RunFn fn, void *measure_arg,
                  int *dw, cudaStream_t stream) {
    if (ctx->force_path) return ctx->force_path;
    BsrDecision *d = find_dec(ctx, op, L, N, flags);
    if (d) return d->path;
    BsrDecision nd;
    nd.op = op; nd.rows = L->rows; nd.cols = L->cols; nd.bs = L->bs; nd.nnz = L->nnz; nd.N = N; nd.flags = flags;
    nd.dw_variant = -1;
    nd.dw_split = 0;
    if (ctx->by_rule) { /* no timing: the same choice in every process (bit-exact resume) */
        nd.sparse_ms = nd.dense_ms = NAN;
        nd.path = (long)L->nnz * BSR_RULE_DENSITY_DEN <= (long)L->brows * L->bcols * BSR_RULE_DENSITY_NUM ||
                          !fits_dense(ctx, L)
                      ? BSR_PATH_SPARSE
                      : BSR_PATH_DENSE;
        if (dw) {
            dw[0] = -1;
            dw[1] = 0;
        }
    } else {
        nd.sparse_ms = time_path(ctx, fn, BSR_PATH_SPARSE, measure_arg, stream);
        if (dw && ctx->tune.dw < 0 && ctx->tune.dw_split <= 0 && bsr_have_wgmma()) {
            /* two rounds (a decision per mask update and density band; with global pruning that is
             * dozens per update, and the weight gradient's are most of their cost): every candidate
             * once after a warm-up, then the best three of them (with the default's time so far)
             * three times more */
            static const int variants[] = {-1, 4, 10, 12}, splits[] = {1, 2, 3, 4, 6, 8};
            const int nv = L->bs == 64 ? (flags & 2 ? 3 : 4) : 1; /* bs 128 has one weight-gradient kernel;
                                                                   * block pairs (12) have no GELU form */
            enum { NC = 24, FINALISTS = 3 };
            float ms[NC];
            int order[NC], nc = 0;
            for (int v = 0; v < nv; v++)
                for (int q = 0; q < 6; q++, nc++) {
                    dw[0] = variants[v];
                    dw[1] = splits[q];
                    ms[nc] = time_path_n(ctx, fn, BSR_PATH_SPARSE, measure_arg, stream, 1);
                    order[nc] = nc;
                }
            for (int i = 0; i < nc && i < FINALISTS; i++) /* partial selection sort: the fastest first */
                for (int k = i + 1; k < nc; k++)
                    if (ms[order[k]] < ms[order[i]]) { const int x = order[i]; order[i] = order[k]; order[k] = x; }
            for (int i = 0; i < nc && i < FINALISTS; i++) {
                const int c = order[i];
                dw[0] = variants[c / 6];
                dw[1] = splits[c % 6];
                const float t = fminf(ms[c], time_path_n(ctx, fn, BSR_PATH_SPARSE, measure_arg, stream, 3));
                if (t < nd.sparse_ms) { nd.sparse_ms = t; nd.dw_variant = dw[0]; nd.dw_split = dw[1]; }
            }
            dw[0] = nd.dw_variant;
            dw[1] = nd.dw_split;
        }
        nd.dense_ms = fits_dense(ctx, L) ? time_path(ctx, fn, BSR_PATH_DENSE, measure_arg, stream) : INFINITY;
        nd.path = nd.sparse_ms <= nd.dense_ms ? BSR_PATH_SPARSE : BSR_PATH_DENSE;
    }
    if (ctx->verbose)
        printf("bsr crossover: op %d %dx%d bs %d nnz %d N %d: sparse %.3f ms (dW variant %d split %d) dense %.3f ms "
               "-> %s\n", op, L->rows, L->cols, L->bs, L->nnz, N, nd.sparse_ms, nd.dw_variant, nd.dw_split,
               nd.dense_ms, nd.path == BSR_PATH_SPARSE ? "sparse" : "dense");
    if (ctx->n_dec == ctx->cap_dec) {
        ctx->cap_dec = ctx->cap_dec ? 2 * ctx->cap_dec : 64;
        ctx->dec = (BsrDecision *)realloc_check(ctx->dec, ctx->cap_dec * sizeof(BsrDecision));
    }
    ctx->dec[ctx->n_dec++] = nd;
    return nd.path;
}

typedef struct {
    bf16 *out, *pre_out; const bf16 *inp, *w, *bias; const BsrDeviceLayout *L; int N, gelu;
    bf16 *gelu_scratch; /* non-NULL: inp is a pre-activation, the operand gelu(inp) */
} FwdArgs;
static void run_fwd(BsrCtx *ctx, int path, void *arg, cudaStream_t s) {
    FwdArgs *a = (FwdArgs *)arg;
    if (path == BSR_PATH_SPARSE || !fits_dense(ctx, a->L)) {
        if (a->gelu_scratch)
            bsr_forward_gelu_input(a->out, a->inp, a->w, a->bias, a->gelu_scratch, a->L, a->N, &ctx->tune, s);
        else
            bsr_forward(a->out, a->pre_out, a->inp, a->w, a->bias, a->L, a->N, a->gelu, &ctx->tune, s);
    } else {
        const bf16 *x = a->inp;
        if (a->gelu_scratch) {
            bsr_gelu(a->gelu_scratch, a->inp, (size_t)a->N * a->L->cols, s);
            x = a->gelu_scratch;
        }
        dense_forward(&ctx->blas, a->out, a->pre_out, x, dense_weight(ctx, a->w, a->L, s), a->bias, a->N, a->L->cols,
                      a->L->rows, a->gelu, s);
    }
}
extern "C" void bsr_linear_forward_gelu_input(BsrCtx *ctx, bf16 *out, const bf16 *pre, const bf16 *w_packed,
                                              const bf16 *bias, bf16 *gelu_scratch, const BsrDeviceLayout *L, int N,
                                              cudaStream_t stream) {
    if (!gelu_scratch) {
        fprintf(stderr, "bsr_linear_forward_gelu_input: gelu_scratch (bf16 [N, cols]) is required\n");
        exit(1);
    }
    FwdArgs a = {out, NULL, pre, w_packed, bias, L, N, 0, gelu_scratch};
    const int flags = BSR_FWD_GELU_INPUT | (bias ? BSR_FWD_BIAS : 0);
    const int path = decide(ctx, BSR_OP_FWD, L, N, flags, run_fwd, &a, NULL, stream);
    run_fwd(ctx, path, &a, stream);
}
extern "C" void bsr_linear_forward(BsrCtx *ctx, bf16 *out, bf16 *pre_out, const bf16 *inp, const bf16 *w_packed,
                                   const bf16 *bias, const BsrDeviceLayout *L, int N, int gelu, cudaStream_t stream) {
    FwdArgs a = {out, pre_out, inp, w_packed, bias, L, N, gelu, NULL};
    const int flags = (gelu ? BSR_FWD_GELU : 0) | (bias ? BSR_FWD_BIAS : 0) | (pre_out ? BSR_FWD_PRE_OUT : 0);
    /* the forward overwrites its outputs, so the measurement can use them */
    const int path = decide(ctx, BSR_OP_FWD, L, N, flags, run_fwd, &a, NULL, stream);
    run_fwd(ctx, path, &a, stream);
}

typedef struct {
    bf16 *dinp; const bf16 *dout, *w; const BsrDeviceLayout *L; int N, accumulate;
} DinpArgs;
static void run_dinp(BsrCtx *ctx, int path, void *arg, cudaStream_t s) {
    DinpArgs *a = (DinpArgs *)arg;
    if (path == BSR_PATH_SPARSE || !fits_dense(ctx, a->L)) {
        bsr_backward_input(a->dinp, a->dout, a->w, a->L, a->N, a->accumulate, &ctx->tune, s);
    } else {
        dense_backward_input(&ctx->blas, a->dinp, a->dout, dense_weight(ctx, a->w, a->L, s), a->N, a->L->cols,
                             a->L->rows, a->accumulate, s);
    }
}
extern "C" void bsr_linear_backward_input(BsrCtx *ctx, bf16 *dinp, const bf16 *dout, const bf16 *w_packed,
                                          const BsrDeviceLayout *L, int N, int accumulate, cudaStream_t stream) {
    DinpArgs a = {dinp, dout, w_packed, L, N, accumulate};
    int path = ctx->force_path;
    if (!path) {
        BsrDecision *d = find_dec(ctx, BSR_OP_DINP, L, N, 0);
        if (d) path = d->path;
    }
    if (!path && ctx->by_rule) path = decide(ctx, BSR_OP_DINP, L, N, 0, run_dinp, &a, NULL, stream); /* runs nothing */
    if (!path) { /* measure on a scratch output (the real one may be accumulated into) */
        bf16 *tmp;
        CUDA_CHECK(cudaMalloc(&tmp, (size_t)N * L->cols * sizeof(bf16)));
        DinpArgs m = {tmp, dout, w_packed, L, N, 0};
        path = decide(ctx, BSR_OP_DINP, L, N, 0, run_dinp, &m, NULL, stream);
        CUDA_CHECK(cudaStreamSynchronize(stream));
        CUDA_CHECK(cudaFree(tmp));
    }
    run_dinp(ctx, path, &a, stream);
}

typedef struct {
    bf16 *dinp; float *colsum; const bf16 *dout, *w, *pre; const BsrDeviceLayout *L; int N;
} DgeluArgs;
static void run_dinp_dgelu(BsrCtx *ctx, int path, void *arg, cudaStream_t s) {
    DgeluArgs *a = (DgeluArgs *)arg;
    if (path == BSR_PATH_SPARSE || !fits_dense(ctx, a->L)) {
        bsr_backward_input_dgelu(a->dinp, a->colsum, a->dout, a->w, a->pre, a->L, a->N, &ctx->tune, s);
    } else {
        /* GELU' in cuBLASLt's epilogue (as the dense trainer does), then the column sums alone:
         * one pass over dinp fewer than a separate GELU'-and-sum pass */
        dense_backward_input_dgelu(&ctx->blas, a->dinp, a->dout, dense_weight(ctx, a->w, a->L, s), a->pre, a->N,
                                   a->L->cols, a->L->rows, s);
        bsr_dgelu_colsum(a->dinp, NULL, a->colsum, a->N, a->L->cols, s);
    }
}
extern "C" void bsr_linear_backward_input_dgelu(BsrCtx *ctx, bf16 *dinp, float *colsum, const bf16 *dout,
                                                const bf16 *w_packed, const bf16 *pre, const BsrDeviceLayout *L,
                                                int N, cudaStream_t stream) {
    DgeluArgs a = {dinp, colsum, dout, w_packed, pre, L, N};
    /* overwrites its outputs, so the measurement can use them */
    const int path = decide(ctx, BSR_OP_DINP, L, N, 1, run_dinp_dgelu, &a, NULL, stream);
    run_dinp_dgelu(ctx, path, &a, stream);
}

typedef struct {
    void *dw; int dw_fp32, accumulate; const bf16 *dout, *inp; const BsrDeviceLayout *L; int N;
    bf16 *gelu_scratch; /* non-NULL: inp is the pre-activation, X = gelu(inp) */
    int choice[2];      /* the measured dW {variant, split} (decide), or {-1, 0}: the kernels' defaults */
} DwArgs;
static void run_dw(BsrCtx *ctx, int path, void *arg, cudaStream_t s) {
    DwArgs *a = (DwArgs *)arg;
    if (path == BSR_PATH_SPARSE || !fits_dense(ctx, a->L)) {
        BsrTune t = ctx->tune;
        if (a->choice[0] >= 0) t.dw = a->choice[0];
        if (a->choice[1] > 0) t.dw_split = a->choice[1];
        if (a->gelu_scratch)
            bsr_backward_weight_gelu(a->dw, a->dw_fp32, a->accumulate, a->dout, a->inp, a->gelu_scratch, a->L, a->N,
                                     ctx->scratch, ctx->scratch_bytes, &t, s);
        else
            bsr_backward_weight(a->dw, a->dw_fp32, a->accumulate, a->dout, a->inp, a->L, a->N, ctx->scratch,
                                ctx->scratch_bytes, &t, s);
    } else {
        const bf16 *x = a->inp;
        if (a->gelu_scratch) {
            bsr_gelu(a->gelu_scratch, a->inp, (size_t)a->N * a->L->cols, s);
            x = a->gelu_scratch;
        }
        if (a->dw_fp32) {
            dense_backward_weight_f32(&ctx->blas, ctx->dense_dw, a->dout, x, a->N, a->L->cols, a->L->rows, s);
            bsr_pack_add_f32(a->dw, 1, a->accumulate, ctx->dense_dw, a->L, s);
        } else { /* bf16 dense gradient: half the bytes to write and gather (the trainer's case) */
            bf16 *d16 = (bf16 *)ctx->dense_dw;
            dense_backward_weight_bf16(&ctx->blas, d16, a->dout, x, a->N, a->L->cols, a->L->rows, 0, s);
            bsr_pack_add_bf16((bf16 *)a->dw, a->accumulate, d16, a->L, s);
        }
    }
}
/* the weight gradient through the crossover; gelu_scratch != NULL: inp is a pre-activation */
static void linear_backward_weight(BsrCtx *ctx, void *dw, int dw_fp32, int accumulate, const bf16 *dout,
                                   const bf16 *inp, bf16 *gelu_scratch, const BsrDeviceLayout *L, int N,
                                   cudaStream_t stream) {
    DwArgs a = {dw, dw_fp32, accumulate, dout, inp, L, N, gelu_scratch, {-1, 0}};
    const int flags = dw_fp32 | (gelu_scratch ? 2 : 0);
    int path = ctx->force_path;
    if (!path) {
        BsrDecision *d = find_dec(ctx, BSR_OP_DW, L, N, flags);
        if (d) { path = d->path; a.choice[0] = d->dw_variant; a.choice[1] = d->dw_split; }
    }
    if (!path && L->nnz > 0 && ctx->by_rule) /* runs nothing: no scratch output */
        path = decide(ctx, BSR_OP_DW, L, N, flags, run_dw, &a, a.choice, stream);
    if (!path && L->nnz > 0) { /* measure on a scratch output (the real one is accumulated into) */
        void *tmp;
        const size_t bytes = (size_t)L->nnz * L->bs * L->bs * (dw_fp32 ? 4 : 2);
        CUDA_CHECK(cudaMalloc(&tmp, bytes));
        DwArgs m = {tmp, dw_fp32, 0, dout, inp, L, N, gelu_scratch, {-1, 0}};
        path = decide(ctx, BSR_OP_DW, L, N, flags, run_dw, &m, m.choice, stream);
        a.choice[0] = m.choice[0];
        a.choice[1] = m.choice[1];
        CUDA_CHECK(cudaStreamSynchronize(stream));
        CUDA_CHECK(cudaFree(tmp));
    }
    if (L->nnz > 0) run_dw(ctx, path ? path : BSR_PATH_SPARSE, &a, stream);
}
extern "C" void bsr_linear_backward_weight_gelu(BsrCtx *ctx, void *dw, int dw_fp32, int accumulate,
                                                const bf16 *dout, const bf16 *pre, bf16 *gelu_scratch,
                                                const BsrDeviceLayout *L, int N, cudaStream_t stream) {
    if (!gelu_scratch) {
        fprintf(stderr, "bsr_linear_backward_weight_gelu: gelu_scratch (bf16 [N, cols]) is required\n");
        exit(1);
    }
    linear_backward_weight(ctx, dw, dw_fp32, accumulate, dout, pre, gelu_scratch, L, N, stream);
}
extern "C" void bsr_linear_backward_weight(BsrCtx *ctx, void *dw, int dw_fp32, float *dbias, int accumulate,
                                           const bf16 *dout, const bf16 *inp, const BsrDeviceLayout *L, int N,
                                           cudaStream_t stream) {
    linear_backward_weight(ctx, dw, dw_fp32, accumulate, dout, inp, NULL, L, N, stream);
    if (dbias) {
        const size_t need = bsr_backward_bias_scratch_bytes(N, L->rows);
        if (need > ctx->scratch_bytes) {
            fprintf(stderr, "bsr_linear_backward_weight: bias scratch %zu > %zu bytes\n", need, ctx->scratch_bytes);
            exit(1);
        }
        bsr_backward_bias(dbias, accumulate, dout, N, L->rows, ctx->scratch, stream);
    }
}
