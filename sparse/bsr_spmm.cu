/*
 * bsr_spmm.cu - forward Y = X W^T (+ bias, GELU) and input gradient dX = dY W of the block-sparse
 * linear layer (bsr_forward*, bsr_backward_input*, bsr_kernels.cuh).
 *
 * One kernel family serves both: a CTA owns a BM-token x 64-feature output tile inside one output
 * block (block row r of W for the forward, block column c for the input gradient) and walks that
 * line's index list (BSR row / BSC column). Each list entry contributes A[tokens, a-block] (BM x bs,
 * from the dense activation) times the live block, used as B^T for the forward (its rows are the
 * output features, k contiguous) and as B for the input gradient (k = output-feature rows, n
 * contiguous): no transposed copy. A tile whose list is empty still writes (bias or zero).
 * Grid: x = output tile (fast), y = token tile, so resident CTAs share activation rows in L2.
 *  - bsr_spmm_kernel: mma.sync m16n8k16, cp.async multistage, any sm_80+ GPU and block size 32;
 *  - bsr_spmm_wgmma_kernel: wgmma (sm_90a), cp.async; the accumulate (+=) form;
 *  - bsr_spmm_tma_kernel: wgmma with TMA loads and store, the default on sm_90a, also in the
 *    fused GELU' (fcproj input gradient) and GELU-operand (fcproj forward) forms.
 */
#include "bsr_common.cuh"
#include <stdio.h>
#include <stdlib.h>

/* ============================================================================ */
/* forward / input gradient                                                      */
/* ============================================================================ */

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
    zero_regs(acc);

    ring_prologue<STAGES - 1>(T, load_stage);
    for (int t = 0; t < T; t++) {
        ring_advance<STAGES - 1, STAGES, false>(t, T, load_stage);
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

/* One 64-wide k step of the wgmma forward / input gradient: acc[h] (MH m64 row groups of a
 * warpgroup) += A[64h.., 64] * W-tile, the A tiles 8 KB apart from aB, the 64 x 64 weight tile at bB
 * (K-major; BT: MN-major, the input gradient's B); waits for the wgmmas before returning. */
template <int MH, bool BT>
__device__ __forceinline__ void spmm_wgmma_step(float (&acc)[MH][32], uint32_t aB, uint32_t bB) {
    wg_fence();
#pragma unroll
    for (int ks = 0; ks < 4; ks++) {
        const uint64_t db = BT ? wg_desc(bB + ks * 2048, 1024, 1024) : wg_desc(bB + ks * 32, 16, 1024);
#pragma unroll
        for (int h = 0; h < MH; h++) wgmma_64x64<0, BT ? 1 : 0>(acc[h], wg_desc(aB + h * 8192 + ks * 32, 16, 1024), db);
    }
    wg_commit();
    wg_wait<0>();
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
    zero_regs(acc);

    constexpr int PF = STAGES - 1;
    ring_prologue<PF>(T, load_stage);
    for (int t = 0; t < T; t++) {
        ring_advance<PF, STAGES>(t, T, load_stage);
        const uint32_t aB = smem_u32(smem + (t % STAGES) * STAGE_BYTES), bB = aB + A_BYTES;
        spmm_wgmma_step<MH, BT>(acc, aB, bB);
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

/* ---- TMA (bulk tensor copy) version of the forward / input gradient (variants 26-28, 32) ----
 * Same tiles as bsr_spmm_wgmma_kernel, but one thread issues each stage as two 2D bulk tensor
 * copies (activation tile BM x 64, weight tile 64 x 64, 128B swizzle = the wgmma layout)
 * completing on an mbarrier, and the output tile leaves through a bulk tensor store: far fewer
 * instructions per byte (ncu showed the cp.async version instruction-heavy). No accumulate
 * (the launcher falls back to the cp.async kernel for it). */
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
 * applied to each landed A tile in shared memory, so the fc forward need not write gelu(pre).
 * Launch bounds at BM 128: the GELU_A instances at >= 4 CTAs per SM (<= 128 registers; they took
 * 128-134, i.e. 3 CTAs per SM, and run 5-9% faster at 122-125 without spills, run 135); the 1-stage
 * DG instance at 5 (96 registers instead of 101, which allowed 4; its shared memory allows 5): 4%
 * faster at C 1600 0.9, equal at C 768 (run 138). The others keep the compiler's choice (they need
 * no more than 93 registers; a bound of 4 on them changed nothing, run 148). */
template <int BS, int BM, int WGS, int STAGES, bool BT, bool DG, bool GELU_A = false>
static __global__ void __launch_bounds__(128 * WGS, BM != 128 ? 1 : GELU_A ? 4 : DG && STAGES == 1 ? 5 : 1)
bsr_spmm_tma_kernel(const __grid_constant__ CUtensorMap mapA, const __grid_constant__ CUtensorMap mapW,
                    const __grid_constant__ CUtensorMap mapO, const __grid_constant__ CUtensorMap mapP,
                    const bf16 *__restrict__ bias, const int4 *__restrict__ lines, const int *__restrict__ acol,
                    const int *__restrict__ blk, int flags, int has_pre, float *__restrict__ colsum, int N,
                    int pf_ahead, int a_tiles) {
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
        /* the CTAs of token tile y pull the input row panel of token tile y + pf_ahead into L2, one
         * 64-column box each (a_tiles boxes per panel), so the first reader of each activation
         * tile does not wait for DRAM (tma_prefetch_ahead) */
        if (pf_ahead > 0 && blockIdx.y + pf_ahead < gridDim.y)
            for (int c = blockIdx.x; c < a_tiles; c += gridDim.x) tma_prefetch_l2(&mapA, c * 64, m0 + pf_ahead * BM);
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
    zero_regs(acc);
    /* this thread's 8 bias pairs (the epilogue's columns colbase + jn * 8 + 2 * (lane & 3)), loaded
     * before the main loop so that their latency is not paid in the epilogue: C 1600 fc forward 2%
     * faster at 0.9 (2.5 k-steps), 0.6% at 0.5, the others within 0.5% (run 184). Not in the GELU_A
     * instances, which launch bounds hold to 128 registers at 4 CTAs per SM (122-125 used) */
    constexpr bool EARLY_BIAS = !DG && !GELU_A;
    const int g = lane >> 2, tq = lane & 3; /* the accumulator fragment's row in 8, column pair in 4 */
    uint32_t bias2[8];
    auto load_bias2 = [&] {
#pragma unroll
        for (int jn = 0; jn < 8; jn++)
            bias2[jn] = bias ? __ldg((const unsigned int *)(bias + colbase + jn * 8 + 2 * tq)) : 0u;
    };
    if (EARLY_BIAS) load_bias2();
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
        spmm_wgmma_step<MH, BT>(acc, aB, bB);
    }
#pragma unroll
    for (int h = 0; h < MH; h++) reg_fence(acc[h]);
    __syncthreads(); /* all wgmmas done: the stage memory becomes the output buffers */
    BSR_TL(3);

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
     * load's latency was paid 8 times over: 15% of the stall samples of the fc forward, run 65),
     * unless they came before the main loop */
    if (!EARLY_BIAS) load_bias2();
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

/* ============================================================================ */
/* host: launchers and entry points                                              */
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

/* DG: pre_out is the pre-activation to read (GELU' epilogue), colsum its bias-gradient partials;
 * GELU_A: the operand is gelu(A) */
template <int BS, int BM, int WGS, int STAGES, bool BT, bool DG, bool GELU_A>
static void launch_spmm_tma(bf16 *out, bf16 *pre_out, const bf16 *A, const bf16 *W, const bf16 *bias,
                            const int4 *lines, const int *acol, const int *blk, int n_out_blocks, int N, int lda,
                            int ldo, int flags, int nnz, cudaStream_t stream, float *colsum, int pf_ahead) {
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
    bsr_make_map(&mA, A, N, lda, lda, BM);
    bsr_make_map(&mW, W, (long)nnz * BS, BS, BS, 64);
    bsr_make_map(&mO, out, N, ldo, ldo, BM);
    if (pre_out) bsr_make_map(&mP, pre_out, N, ldo, ldo, BM);
    else mP = mO; /* unused without a pre-activation: no fourth encode per launch */
    dim3 grid(n_out_blocks * (BS / 64), (N + BM - 1) / BM);
    kern<<<grid, 128 * WGS, smem, stream>>>(mA, mW, mO, mP, bias, lines, acol, blk, flags, pre_out != NULL, colsum, N,
                                            pf_ahead, lda / 64);
    CUDA_CHECK(cudaGetLastError());
}

/* TMA variants: number -> token rows per CTA (BM), warpgroups, ring stages.
 *   26 / 27 / 28: BM 128, 1 warpgroup, 2 / 3 / 1 stages
 *   32: BM 256, 2 warpgroups sharing each weight tile, 2 stages
 * Removed after they lost: 29 / 30 (BM 256 on 1 warpgroup, 1 / 2 stages) and 31 (32 with 1 stage) in
 * session 23: in every --variants table and bench_bsr_fused run kept in dev/scratch (runs 35-186) none
 * of them beat the best of 26 / 27 / 28 / 32 by more than 1%, and neither the rule nor the crossover
 * ever picked them; 33-35, a warp-specialized persistent kernel, in session 5 (runs 33-34 of
 * dev/NOTES_runs.md; its code is in commit e690a79). */
static constexpr int TMA_VARIANTS[] = {26, 27, 28, 32}; /* tma_launch_bs has a case for each */
static constexpr int CP_ASYNC_VARIANTS[] = {0, 5, 11};   /* spmm_dispatch's cp.async / mma.sync launches */
template <size_t N> static constexpr bool in_list(const int (&list)[N], int v) {
    for (size_t i = 0; i < N; i++)
        if (list[i] == v) return true;
    return false;
}
/* BSR_SPMM_VARIANTS (bsr_kernels.cuh) is what callers, the tests and the benchmarks see: it must name
 * every kernel dispatched here (a kept number with no kernel fails loudly in the dispatch instead) */
static constexpr bool spmm_variant_lists_agree() {
    constexpr int kept[] = BSR_SPMM_VARIANTS;
    for (int v : TMA_VARIANTS)
        if (!in_list(kept, v)) return false;
    for (int v : CP_ASYNC_VARIANTS)
        if (!in_list(kept, v)) return false;
    return true;
}
static_assert(spmm_variant_lists_agree(), "a forward / input-gradient kernel variant is missing from BSR_SPMM_VARIANTS");
static int is_tma_variant(int v) { return in_list(TMA_VARIANTS, v); }
#define TMA_PARAMS                                                                                                   \
    bf16 *out, bf16 *pre_out, const bf16 *A, const bf16 *W, const bf16 *bias, const int4 *lines, const int *acol, \
        const int *blk, int n_out_blocks, int N, int lda, int ldo, int flags, int nnz, cudaStream_t st, float *colsum, \
        int pf_ahead
#define TMA_ARGS out, pre_out, A, W, bias, lines, acol, blk, n_out_blocks, N, lda, ldo, flags, nnz, st, colsum, pf_ahead
template <int BS, bool BT, bool DG, bool GELU_A>
static void tma_launch_bs(int v, TMA_PARAMS) {
    switch (v) {
    case 26: launch_spmm_tma<BS, 128, 1, 2, BT, DG, GELU_A>(TMA_ARGS); break;
    case 27: launch_spmm_tma<BS, 128, 1, 3, BT, DG, GELU_A>(TMA_ARGS); break;
    case 28: launch_spmm_tma<BS, 128, 1, 1, BT, DG, GELU_A>(TMA_ARGS); break;
    case 32: launch_spmm_tma<BS, 256, 2, 2, BT, DG, GELU_A>(TMA_ARGS); break;
    default:
        fprintf(stderr, "%s:%d: TMA variant %d has no launch here (add its case to tma_launch_bs)\n", __FILE__, __LINE__, v);
        exit(1);
    }
}
template <bool BT, bool DG, bool GELU_A>
static void tma_launch(int v, int bs, TMA_PARAMS) {
    if (bs == 64) tma_launch_bs<64, BT, DG, GELU_A>(v, TMA_ARGS);
    else tma_launch_bs<128, BT, DG, GELU_A>(v, TMA_ARGS);
}

/* The default TMA variant where no rule picks another (the plain forward / input gradient: see
 * spmm_default_variant; the fused GELU_A forward: everywhere; measured equal or 1-10 % faster than the
 * cp.async kernels at every target shape, dev/NOTES_bsr.md): 2 stages (26). 1 stage (28,
 * 5 CTAs per SM) had stayed the choice for short lists the L2 prefetch skips (d12 at 0.9: 2-3 %
 * faster before the prefetch); with the GPU held, 26 is 9 % faster there (C 768 0.95, N 8192: 19.5
 * vs 21.2 us, run 179; at C 1024 0.95, already on 26, 28 took 31.0 vs 27.8), as 26 was for the
 * plain forward (runs 177-178). */
enum { TMA_DEFAULT_VARIANT = 26 };

/* L2 prefetch distance of the TMA kernels (token tiles ahead; BsrTune.l2_prefetch overrides).
 * 3 where the lists are short (<= 2 k-steps per output tile) and each prefetched box of the input
 * panel has >= 4 readers (live blocks x bs/64 >= 4 x the panel's 64-column boxes). There the time
 * goes into fetching the activation tiles (dev/NOTES_runs.md run 92) and the first reader of each
 * tile waits for DRAM; the panel of token tile y + 3, pulled into L2 by the CTAs of tile y (one box
 * per CTA, 1/10 of the tile loads at C 1600 0.9), is there before its CTAs start: C 1600 0.9 fc
 * forward -2%, fcproj dX -3%, fused dX -7% (runs 133-135). Else none: with few readers per box the
 * prefetch requests rival the loads (C 768 0.95 fc dX and fcproj forward, 0.6 readers: 1.5x slower,
 * run 142), and with long lists the resident CTAs span ~20 token tiles whose panels fill much of
 * L2 (C 1600 0.9 fc dX / fcproj forward, 2.5 readers: 15-25% slower at any distance, runs 133-134). */
static int tma_prefetch_ahead(const BsrTune *tune, int avg_steps, long nnz, int bs, int lda) {
    const int v = tune_l2_prefetch(tune);
    if (v >= 0) return v;
    const long readers4 = nnz * (bs / 64), boxes = lda / 64;
    return avg_steps <= 2 && readers4 >= 4 * boxes ? 3 : 0;
}

/* The plain forward / input gradient (bs 64) runs 256-token tiles with two warpgroups sharing each
 * weight tile (32) where the live FLOPs, not the dense activation traffic, set the time: density
 * >= 0.15 with >= 5 k-steps per output tile, and enough 256-token tiles for two waves at 2 CTAs per
 * SM. C 1600, N 8192 (run 35 of dev/NOTES_runs.md): 3-16 % faster than 26 at 0.5-0.8 (fcproj forward
 * 0.5: 224 vs 251 us; 0.8, 5 k-steps: 106 vs 109); at 0.9 equal with 10 k-steps, 7 % slower with 2.5.
 * Else 2 stages (26), short lists included: where the L2 prefetch skips a short list (<= 2 k-steps;
 * C 768 and 1024 at 0.95) 1 stage (28) had stayed the default, and there 26 ran 0-12 % faster on every
 * kernel and draw measured with the GPU held (runs 177-178). The forward's 4-7-step lists below
 * density 0.15 take 3 stages (27; see below). */
static int spmm_default_variant(int bt, int avg_steps, int bs, int n_out_blocks, int k_blocks, int nnz, int N) {
    const long tiles256 = (long)n_out_blocks * ((N + 255) / 256);
    const int dense_bound = (long)nnz * 20 < (long)n_out_blocks * k_blocks * 3; /* density < 0.15 */
    if (bs == 64 && avg_steps >= 5 && !dense_bound && tiles256 >= 4L * bsr_num_sms()) return 32;
    /* the forward's 4-7-step lists below density 0.15 (fcproj at 0.95 for C 1280-1600, at 0.9 for C
     * 768-1024): 3 stages (27) were faster than 26 on all 16 draws measured, by 0.7-4.7% (runs
     * 177-178: C 1600 0.95 on 7 draws, C 1280 0.95, C 1024 0.9 and C 768 0.9 on 3 each). Not the
     * input gradient (27 mixed there, -2.2 to +3.0%), nor 3 or 8 steps (mixed / equal) */
    if (!bt && bs == 64 && dense_bound && avg_steps >= 4 && avg_steps <= 7) return 27;
    return TMA_DEFAULT_VARIANT;
}

/* forward (BT = false) and input gradient (BT = true) through one dispatcher. Variants (kept
 * numbers; the others were tuning experiments, removed from the library after they lost:
 * dev/NOTES_bsr.md keeps their timings, git history before this comment has their code):
 *   0: mma.sync, per-tile CTAs, BM 128, 4 warps, 3 stages (GPUs / builds without sm_90a wgmma)
 *   5, 11: wgmma, one warpgroup, BM 128 x BN 64, 3 / 2 cp.async stages (with accumulate)
 *   26-28, 32: TMA loads (mbarrier) + TMA store (tma_launch_bs; no accumulate: falls back) */
/* One list, in bsr_kernels.cuh, says which variants exist: the check and its message read it. */
static constexpr int KEPT_SPMM_VARIANTS[] = BSR_SPMM_VARIANTS;
static bool spmm_variant_is_kept(int variant) { return in_list(KEPT_SPMM_VARIANTS, variant); }

#define SPMM_ARGS out, pre_out, A, W, bias, offsets, acol, blk, n_out_blocks, N, lda, ldo, flags, st
template <bool BT>
static void spmm_dispatch(int variant, int avg_steps, int bs, bf16 *out, bf16 *pre_out, const bf16 *A, const bf16 *W,
                          const bf16 *bias, const int *offsets, const int4 *lines, const int *acol, const int *blk,
                          int n_out_blocks, int N, int lda, int ldo, int flags, int nnz, int pf_ahead,
                          cudaStream_t st) {
    if (variant >= 0 && !spmm_variant_is_kept(variant)) {
        fprintf(stderr, "bsr kernels: forward / input-gradient variant %d does not exist; kept:", variant);
        for (int v : KEPT_SPMM_VARIANTS) fprintf(stderr, " %d", v);
        fprintf(stderr, " (the others' timings: dev/NOTES_bsr.md)\n");
        exit(1);
    }
    if (bs == 32) { /* block size 32: the mma.sync kernel (the wgmma / TMA tiles are 64 wide) */
        launch_spmm<32, 128, 32, 32, 4, 1, 3, BT>(SPMM_ARGS);
        return;
    }
    /* default: the TMA kernel; accumulate and non-sm_90a builds use the cp.async kernels */
    if (variant < 0) variant = spmm_default_variant(BT, avg_steps, bs, n_out_blocks, lda / bs, nnz, N);
    if (is_tma_variant(variant) && (!bsr_have_wgmma() || !bsr_tma_available() || (flags & EPI_ACCUM))) variant = -1;
    if (is_tma_variant(variant)) {
        tma_launch<BT, false, false>(variant, bs, out, pre_out, A, W, bias, lines, acol, blk, n_out_blocks, N, lda, ldo,
                                     flags, nnz, st, NULL, pf_ahead);
        return;
    }
    if (!bsr_have_wgmma()) variant = 0;
    /* wgmma; short index lists (few k-steps per output tile: memory/latency bound) run 2 stages at
     * 4 CTAs per SM, long ones 3 stages (dev/NOTES_bsr.md) */
    if (variant < 0) variant = avg_steps <= 6 ? 11 : 5;
    if (!in_list(CP_ASYNC_VARIANTS, variant)) {
        fprintf(stderr, "%s:%d: forward / input-gradient variant %d is kept but has no launch here (add it to "
                        "spmm_dispatch)\n", __FILE__, __LINE__, variant);
        exit(1);
    }
    if (bs == 64) {
        if (variant == 5) launch_spmm_wgmma<64, 128, 3, BT>(SPMM_ARGS);
        else if (variant == 11) launch_spmm_wgmma<64, 128, 2, BT>(SPMM_ARGS);
        else launch_spmm<64, 128, 64, 64, 2, 2, 3, BT>(SPMM_ARGS); /* 0 */
    } else {
        if (variant == 5) launch_spmm_wgmma<128, 128, 3, BT>(SPMM_ARGS);
        else if (variant == 11) launch_spmm_wgmma<128, 128, 2, BT>(SPMM_ARGS);
        else launch_spmm<128, 128, 128, 64, 2, 4, 3, BT>(SPMM_ARGS); /* 0 */
    }
}
#undef SPMM_ARGS

extern "C" void bsr_forward(bf16 *out, bf16 *pre_out, const bf16 *inp, const bf16 *w_packed, const bf16 *bias,
                            const BsrDeviceLayout *L, int N, int gelu, const BsrTune *tune, cudaStream_t stream) {
    bsr_check_layout(L, "bsr_forward");
    if (N <= 0) return;
    const int steps = L->brows ? (int)((long)L->nnz * (L->bs / 64) / L->brows) : 0;
    spmm_dispatch<false>(tune_fwd(tune), steps, L->bs, out, pre_out, inp, w_packed, bias, L->row_offsets, L->lines_row,
                         L->col_indices, NULL,
                         L->brows, N, L->cols, L->rows, gelu ? EPI_GELU : 0, L->nnz,
                         tma_prefetch_ahead(tune, steps, L->nnz, L->bs, L->cols),
                         stream);
}

extern "C" void bsr_forward_gelu_input(bf16 *out, const bf16 *pre, const bf16 *w_packed, const bf16 *bias,
                                       bf16 *gelu_scratch, const BsrDeviceLayout *L, int N, const BsrTune *tune,
                                       cudaStream_t stream) {
    bsr_check_layout(L, "bsr_forward_gelu_input");
    if (N <= 0) return;
    const int steps = L->brows ? (int)((long)L->nnz * (L->bs / 64) / L->brows) : 0;
    const int pf = tma_prefetch_ahead(tune, steps, L->nnz, L->bs, L->cols);
    int v = tune_fwd(tune);
    if (v < 0) v = TMA_DEFAULT_VARIANT;
    if (is_tma_variant(v) && L->bs != 32 && bsr_have_wgmma() && bsr_tma_available()) {
        tma_launch<false, false, true>(v, L->bs, out, NULL, pre, w_packed, bias, L->lines_row, L->col_indices, NULL,
                                       L->brows, N, L->cols, L->rows, 0, L->nnz, stream, NULL, pf);
        return;
    }
    if (!gelu_scratch) {
        fprintf(stderr, "%s:%d: bsr_forward_gelu_input: the GELU on the operand is fused only by the TMA kernels "
                        "(variants 26-28, 32; block 64/128; sm_90a), not by variant %d at block %d%s: pass gelu_scratch "
                        "(bf16 [N, cols]) for the unfused path\n", __FILE__, __LINE__, v, L->bs,
                bsr_have_wgmma() && bsr_tma_available() ? "" : " on this GPU / build (no wgmma or TMA)");
        exit(1);
    }
    bsr_gelu(gelu_scratch, pre, (size_t)N * L->cols, stream);
    bsr_forward(out, NULL, gelu_scratch, w_packed, bias, L, N, 0, tune, stream);
}

extern "C" void bsr_backward_input(bf16 *dinp, const bf16 *dout, const bf16 *w_packed, const BsrDeviceLayout *L,
                                   int N, int accumulate, const BsrTune *tune, cudaStream_t stream) {
    bsr_check_layout(L, "bsr_backward_input");
    if (N <= 0) return;
    const int steps = L->bcols ? (int)((long)L->nnz * (L->bs / 64) / L->bcols) : 0;
    spmm_dispatch<true>(tune_dinp(tune), steps, L->bs, dinp, NULL, dout, w_packed, NULL, L->bsc_offsets, L->lines_col,
                        L->bsc_rows,
                        L->bsc_blocks, L->bcols, N, L->rows, L->cols, accumulate ? EPI_ACCUM : 0, L->nnz,
                        tma_prefetch_ahead(tune, steps, L->nnz, L->bs, L->rows), stream);
}

extern "C" int bsr_colsum_chunks(int N) { return N > 0 ? (N + BSR_COLSUM_ROWS - 1) / BSR_COLSUM_ROWS : 0; }

extern "C" void bsr_dgelu_colsum(bf16 *dinp, const bf16 *pre, float *colsum, int N, int OC, cudaStream_t stream) {
    if (!pre && !colsum) return; /* nothing to apply, nothing to sum: no pass over dinp */
    dim3 grid((OC + 63) / 64, bsr_colsum_chunks(N)), block(32, 8);
    bsr_dgelu_colsum_kernel<<<grid, block, 0, stream>>>(dinp, pre, colsum, N, OC);
    CUDA_CHECK(cudaGetLastError());
}

extern "C" void bsr_backward_input_dgelu(bf16 *dinp, float *colsum, const bf16 *dout, const bf16 *w_packed,
                                         const bf16 *pre, const BsrDeviceLayout *L, int N, const BsrTune *tune,
                                         cudaStream_t stream) {
    bsr_check_layout(L, "bsr_backward_input_dgelu");
    if (!pre) {
        fprintf(stderr, "%s:%d: bsr_backward_input_dgelu: pre (the GELU input) is NULL; without GELU' call "
                        "bsr_backward_input\n", __FILE__, __LINE__);
        exit(1);
    }
    if (N <= 0) return;
    /* fused TMA kernel: variant 28 (1 stage: the pre tile and one stage leave room for 5 CTAs per
     * SM; the default: in dev/bench_bsr_fused, run 139, equal to 4% faster than 2 stages at 0.8-0.95
     * and at C 768 0.5, 1.5-5% slower at C 1600 0.5-0.7), 26 (2 stages), 27 (3); others: that
     * kernel, then bsr_dgelu_colsum */
    int v = tune_dinp(tune);
    if (v < 0) v = 28;
    if (is_tma_variant(v) && L->bs != 32 && bsr_have_wgmma() && bsr_tma_available()) {
        const int steps = L->bcols ? (int)((long)L->nnz * (L->bs / 64) / L->bcols) : 0;
        tma_launch<true, true, false>(v, L->bs, dinp, (bf16 *)pre, dout, w_packed, NULL, L->lines_col, L->bsc_rows,
                                      L->bsc_blocks, L->bcols, N, L->rows, L->cols, 0, L->nnz, stream, colsum,
                                      tma_prefetch_ahead(tune, steps, L->nnz, L->bs, L->rows));
        return;
    }
    bsr_backward_input(dinp, dout, w_packed, L, N, 0, tune, stream);
    bsr_dgelu_colsum(dinp, pre, colsum, N, L->cols, stream);
}

