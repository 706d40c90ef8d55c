/*
 * bsr_common.cuh - what the block-sparse kernel files share (internal; the API is bsr_kernels.cuh):
 * device helpers (cp.async, ldmatrix, mma.sync, wgmma descriptors and instructions, mbarriers,
 * TMA copies, GELU) and the host helpers of their launchers (bsr_common.cu).
 *
 * Shared-memory tiles are rows of 128 bytes (64 bf16) with 16-byte chunks XOR-swizzled by
 * (row & 7): the 128B-swizzle layout of TMA and wgmma, read by ldmatrix through swz().
 */
#ifndef SPARSE_BSR_COMMON_CUH
#define SPARSE_BSR_COMMON_CUH

#include "bsr_kernels.cuh"
#include <stdint.h>
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
/* zero a register array of any shape (the accumulators): one unrolled loop over its floats */
template <typename T> __device__ __forceinline__ void zero_regs(T &a) {
    float *p = reinterpret_cast<float *>(&a);
#pragma unroll
    for (int i = 0; i < (int)(sizeof(T) / sizeof(float)); i++) p[i] = 0.f;
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
 * visible to every thread (with ASYNC_PROXY, to wgmma's async proxy too; the mma.sync kernels read
 * through ldmatrix and need no proxy fence), and stage t + PF is issued into the slot that every
 * thread has finished with. */
template <int PF, typename Load> __device__ __forceinline__ void ring_prologue(int T, Load &load) {
#pragma unroll
    for (int s = 0; s < PF; s++) {
        if (s < T) load(s, s);
        cp_async_commit();
    }
}
template <int PF, int STAGES, bool ASYNC_PROXY = true, typename Load>
__device__ __forceinline__ void ring_advance(int t, int T, Load &load) {
    cp_async_wait<PF - 1>();
    if (ASYNC_PROXY) fence_proxy_async();
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

/* mbarriers and 2D bulk tensor copies (TMA, sm_90a; no-ops elsewhere, never launched there) */
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
/* bulk L2 prefetch of one tensor-map box (nothing lands in shared memory, no completion) */
__device__ __forceinline__ void tma_prefetch_l2(const CUtensorMap *map, int c0, int c1) {
#ifdef BSR_WGMMA
    asm volatile("cp.async.bulk.prefetch.tensor.2d.L2.global.tile [%0, {%1, %2}];\n" ::"l"((uint64_t)map), "r"(c0),
                 "r"(c1) : "memory");
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

/* ============================================================================ */
/* host helpers (bsr_common.cu)                                                  */
/* ============================================================================ */

/* epilogue flags of the forward / input-gradient kernels */
enum { EPI_GELU = 1, EPI_ACCUM = 2 };

/* 1 when this binary's device code for the current GPU has the wgmma kernels (sm_90a). */
int bsr_have_wgmma(void);
/* streaming multiprocessors of the current device (cached) */
int bsr_num_sms(void);
/* 1 when the driver has cuTensorMapEncodeTiled (the TMA kernels' tensor maps) */
int bsr_tma_available(void);
/* 2D row-major bf16 tensor map: rows x cols (cols contiguous, row stride ld elements),
 * box box_rows x 64, 128B swizzle, zero fill out of bounds (bsr_tma_available() first). */
void bsr_make_map(CUtensorMap *m, const void *ptr, long rows, long cols, long ld, int box_rows);
/* dies with a message naming `who` unless L's block size is 32, 64 or 128 */
void bsr_check_layout(const BsrDeviceLayout *L, const char *who);
/* out = gelu_tanh(inp), elementwise, n a multiple of 8 */
void bsr_gelu(bf16 *out, const bf16 *inp, size_t n, cudaStream_t stream);

/* The variant a tuning request asks for (BsrTune in bsr_kernels.cuh); -1 = the default. */
static inline int tune_fwd(const BsrTune *t) { return t ? t->fwd : -1; }
static inline int tune_dinp(const BsrTune *t) { return t ? t->dinp : -1; }
static inline int tune_dw(const BsrTune *t) { return t ? t->dw : -1; }
static inline int tune_dw_split(const BsrTune *t) { return t ? t->dw_split : -1; }
static inline int tune_l2_prefetch(const BsrTune *t) { return t ? t->l2_prefetch : -1; }

#endif /* SPARSE_BSR_COMMON_CUH */
