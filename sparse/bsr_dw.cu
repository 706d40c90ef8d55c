/*
 * bsr_dw.cu - weight gradient dW = dY^T X of the live blocks only, and the bias gradient
 * (bsr_backward_weight*, bsr_backward_bias, bsr_colsum_finish; bsr_kernels.cuh).
 *
 * A CTA owns one live block, or a group of live blocks sharing an operand slab (blocks of one
 * block column share the X slab, of one block row the dY slab), and a range of tokens (split-N);
 * both operands are read token-major (MN-major for wgmma, ldmatrix.trans for mma.sync). Splits
 * write fp32 partials that a second kernel sums in a fixed order (deterministic), adding into the
 * output when accumulating. The bias gradient: column sums in two deterministic passes.
 *  - bsr_dw_kernel: mma.sync (any sm_80+ GPU, block size 32);
 *  - bsr_dw_wgmma_kernel: wgmma groups (single blocks, column / row groups, m64n256 forms, the
 *    fused GELU operand);
 *  - bsr_dw_pair_kernel: two blocks of one line per CTA sharing a deeper slab ring (bs 64 default
 *    at high sparsity).
 */
#include "bsr_common.cuh"
#include <stdio.h>
#include <stdlib.h>

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
    zero_regs(acc);

    ring_prologue<STAGES - 1>(T, load_stage);
    for (int t = 0; t < T; t++) {
        ring_advance<STAGES - 1, STAGES, false>(t, T, load_stage);
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
    zero_regs(acc);
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
 * and the dY slab. The direction is per CTA (pairs[3 b + 2]): the layout pairs its lines of one
 * direction and then the odd blocks of two such lines across, where they share a line of the
 * other (bsr_dw_pairs, sparse/bsr.c). A block left over runs alone (k1 = -1: warpgroup 1
 * computes on an unloaded slab and stores nothing, so that no branch surrounds the wgmmas, which
 * ptxas would serialize).
 * (A 2-CTA cluster form sharing the slab by multicast TMA was not faster, runs 113-115.) */
template <int BK, int STAGES>
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
    const int k0 = pairs[3 * blockIdx.x], k1 = pairs[3 * blockIdx.x + 1];
    const bool pair_rows = pairs[3 * blockIdx.x + 2]; /* the two share a block row: its dY slab */
    const int split = blockIdx.y;
    const int n0 = split * tokens_per_split;
    const int n1 = min(N, n0 + tokens_per_split);
    const int T = n1 > n0 ? (n1 - n0 + BK - 1) / BK : 0;
    const int has1 = k1 >= 0;
    /* slab q: source matrix (dY: row length rows, X: cols) and column offset */
    const bf16 *src_own = pair_rows ? inp : dout, *src_sh = pair_rows ? dout : inp;
    const int ld_own = pair_rows ? cols : rows, ld_sh = pair_rows ? rows : cols;
    const int *own_idx = pair_rows ? blk_cols : blk_rows, *sh_idx = pair_rows ? blk_rows : blk_cols;
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
    const int qa = pair_rows ? 2 : wg, qb = pair_rows ? wg : 2;
    float acc[32];
    zero_regs(acc);
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

/* ============================================================================ */
/* host: launchers and entry points                                              */
/* ============================================================================ */

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
    const long slots = 2L * bsr_num_sms(), waves = (L->nnz + slots - 1) / slots;
    return tune_dw(tune) < 0 && tune_dw_split(tune) <= 0 && L->bs == 64 && bsr_have_wgmma() &&
           L->nnz >= bsr_num_sms() && L->nnz <= 3 * bsr_num_sms() && L->nnz * 20L >= waves * slots * 17;
}

/* the default weight gradient of dw_deep's layouts runs as block pairs (bsr_dw_pair_kernel) when
 * the pairs fit one wave at one CTA per SM: C 1600 0.9 61.8 vs 66.2 us, C 1280 53.5 vs 62, C 1024
 * 50 vs 50 (run 118) */
static int dw_pairs_by_default(const BsrDeviceLayout *L, const BsrTune *tune) {
    return dw_deep(L, tune) && L->dw_npairs <= bsr_num_sms();
}

/* Splits for ng CTAs of equal work at per_sm CTAs per SM: each split streams N / ns tokens, so the
 * time goes as waves(ns) / ns with waves = ceil(ng * ns / (per_sm * SMs)); the fewest splits within
 * 15% of the best (fewer partials to sum). d12 fcproj at 0.5 (288 blocks, N 65536): 4 splits, 470 us,
 * against 586-592 for 1-3 (run 39). */
static int dw_split_by_waves(long ng, int per_sm, int maxs) {
    const long slots = (long)per_sm * bsr_num_sms();
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
        int ns = (5 * bsr_num_sms() + L->nnz / 2) / L->nnz;
        const int maxs = N / 512 > 1 ? N / 512 : 1;
        const int mode = dw_mode(L, tune, 1);
        const int low = mode != 0 ? 3 : L->nnz >= bsr_num_sms() ? dw_split_by_waves(L->nnz, 3, maxs < 32 ? maxs : 32) : 1;
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
    const int slots = bsr_num_sms() * per_sm;
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
        if (mode != 0) ns = ng >= 2 * bsr_num_sms() && N <= 8192 ? 2 : 3;
        else if (ng >= bsr_num_sms()) ns = dw_deep(L, tune) ? 1 : dw_split_by_waves(ng, 3, maxs < 32 ? maxs : 32);
        else {
            ns = 3 * bsr_num_sms() / ng;
            if (ns < (bsr_num_sms() + ng - 1) / ng) ns = (bsr_num_sms() + ng - 1) / ng;
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
static void launch_dw_pair(float *out_f32, bf16 *out_bf16, const bf16 *dout, const bf16 *inp,
                           const BsrDeviceLayout *L, int N, int nsplit, int tps, size_t pstride, int accumulate,
                           cudaStream_t stream) {
    constexpr int BK = BSR_DW_PAIR_BK, STAGES = BSR_DW_PAIR_STAGES, SMEM = STAGES * 3 * BK * 64 * 2 + 1024;
    auto kern = bsr_dw_pair_kernel<BK, STAGES>;
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
        else if (tune_dw(tune) == 12 || (dw_pairs_by_default(L, tune) && ns == 1))
            launch_dw_pair(of, ob, dout, inp, L, N, ns, tps, pstride, accumulate, stream);
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
    if (tune_dw(tune) < -1 || tune_dw(tune) >= BSR_DW_VARIANTS) {
        fprintf(stderr, "%s:%d: bsr weight gradient: variant %d does not exist (0-%d, or -1 for the default; "
                        "dev/NOTES_bsr.md)\n", __FILE__, __LINE__, tune_dw(tune), BSR_DW_VARIANTS - 1);
        exit(1);
    }
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
    if (blocks > bsr_num_sms() * 8) blocks = bsr_num_sms() * 8;
    bsr_split_reduce_kernel<<<blocks, 256, 0, stream>>>(of, ob, scratch, ns, per, n4, accumulate);
    CUDA_CHECK(cudaGetLastError());
}

extern "C" void bsr_backward_weight(void *dw, int dw_fp32, int accumulate, const bf16 *dout, const bf16 *inp,
                                    const BsrDeviceLayout *L, int N, float *scratch, size_t scratch_bytes,
                                    const BsrTune *tune, cudaStream_t stream) {
    bsr_check_layout(L, "bsr_backward_weight");
    backward_weight(dw, dw_fp32, accumulate, dout, inp, 0, L, N, scratch, scratch_bytes, tune, stream);
}

extern "C" void bsr_backward_weight_gelu(void *dw, int dw_fp32, int accumulate, const bf16 *dout, const bf16 *pre,
                                         bf16 *gelu_scratch, const BsrDeviceLayout *L, int N, float *scratch,
                                         size_t scratch_bytes, const BsrTune *tune, cudaStream_t stream) {
    bsr_check_layout(L, "bsr_backward_weight_gelu");
    if (dw_fuses_gelu(L, tune)) {
        backward_weight(dw, dw_fp32, accumulate, dout, pre, 1, L, N, scratch, scratch_bytes, tune, stream);
        return;
    }
    if (!gelu_scratch) {
        fprintf(stderr, "%s:%d: bsr_backward_weight_gelu: weight-gradient variant %d at block %d does not fuse the GELU "
                        "on its input (the wgmma kernels on sm_90a do): pass gelu_scratch (bf16 [N, cols]) for the "
                        "unfused path\n", __FILE__, __LINE__, tune_dw(tune), L->bs);
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

extern "C" void bsr_colsum_finish(float *dbias, const float *colsum, int N, int OC, int accumulate,
                                  cudaStream_t stream) {
    bsr_bias_grad_final_kernel<<<(OC + 255) / 256, 256, 0, stream>>>(dbias, colsum, bsr_colsum_chunks(N), OC,
                                                                     accumulate);
    CUDA_CHECK(cudaGetLastError());
}

