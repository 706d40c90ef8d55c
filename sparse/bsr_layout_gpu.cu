/*
 * bsr_layout_gpu.cu - the device copy of a block-sparse layout (BsrDeviceLayout: BSR / BSC
 * indices, the longest-first line lists of the forward / input-gradient kernels, the weight
 * gradient's block groups and pairs) and the unpack / pack kernels between packed blocks and
 * dense matrices (bsr_kernels.cuh).
 */
#include "bsr_common.cuh"
#include "../core/utils.h" /* malloc_check, calloc_check */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    CUDA_CHECK(cudaMalloc(&d->dw_pairs, 3 * cap * sizeof(int)));
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

/* the weight gradient's block pairs (bsr_dw_pairs, sparse/bsr.c) of the direction with fewer CTAs */
static void upload_dw_pairs(BsrDeviceLayout *d, const BsrLayout *L) {
    const int nnz = L->row_offsets[L->brows];
    int *pc = (int *)malloc_check((size_t)3 * (nnz + 1) * sizeof(int));
    int *pr = (int *)malloc_check((size_t)3 * (nnz + 1) * sizeof(int));
    int sc = 0, sr = 0, xc = 0, xr = 0;
    const int max_pairs = bsr_num_sms();
    const int nc = bsr_dw_pairs(L, 0, max_pairs, pc, &sc, &xc), nr = bsr_dw_pairs(L, 1, max_pairs, pr, &sr, &xr);
    /* fewer CTAs; at equal counts (both cut to the SMs) the direction that pairs its own lines
     * more, i.e. needs fewer cross pairs; then columns */
    d->dw_pair_rows = nr != nc ? nr < nc : xr < xc;
    d->dw_npairs = d->dw_pair_rows ? nr : nc;
    d->dw_pairs_shared = d->dw_pair_rows ? sr : sc;
    if (d->dw_npairs > 0)
        CUDA_CHECK(cudaMemcpy(d->dw_pairs, d->dw_pair_rows ? pr : pc, (size_t)3 * d->dw_npairs * sizeof(int),
                              cudaMemcpyHostToDevice));
    free(pc);
    free(pr);
}

/* Weight-gradient groups of up to G blocks along each line (block column in BSC order, or block
 * row in BSR order): line[g] the line, other[g*G+q] the crossing index of slot q (block row of a
 * column group, block column of a row group), blk[g*G+q] its packed block (blk_of[entry], or the
 * entry itself when blk_of is NULL); unused slots repeat the group's first crossing index with block
 * -1. Returns the number of groups. */
static int build_dw_groups(const int *offsets, int nlines, const int *other_of, const int *blk_of, int G, int *line,
                           int *other, int *blk) {
    int ng = 0;
    for (int l = 0; l < nlines; l++)
        for (int e = offsets[l]; e < offsets[l + 1]; e += G, ng++) {
            line[ng] = l;
            for (int q = 0; q < G; q++) {
                const int ee = e + q < offsets[l + 1] ? e + q : -1;
                other[ng * G + q] = other_of[ee >= 0 ? ee : e];
                blk[ng * G + q] = ee < 0 ? -1 : blk_of ? blk_of[ee] : ee;
            }
        }
    return ng;
}

extern "C" void bsr_device_layout_upload(BsrDeviceLayout *d, const BsrLayout *L) {
    if (L->rows != d->rows || L->cols != d->cols || L->bs != d->bs) {
        fprintf(stderr, "bsr_device_layout_upload: layout %dx%d bs %d does not match device %dx%d bs %d\n", L->rows,
                L->cols, L->bs, d->rows, d->cols, d->bs);
        exit(1);
    }
    const int nnz = L->row_offsets[L->brows];
    d->nnz = nnz;
    d->generation++;
    int *br = (int *)malloc_check((nnz > 0 ? nnz : 1) * sizeof(int));
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
        const size_t slots = (size_t)(nnz + 1) * G * sizeof(int), lines = (size_t)(nnz + 1) * sizeof(int);
        int *ca = (int *)malloc_check(slots), *cb = (int *)malloc_check(lines), *ck = (int *)malloc_check(slots);
        int *ra = (int *)malloc_check(lines), *rb = (int *)malloc_check(slots), *rk = (int *)malloc_check(slots);
        int *iota = (int *)malloc_check(lines);
        for (int k = 0; k < nnz; k++) iota[k] = k;
        d->dw_ngroups_col = build_dw_groups(L->bsc_offsets, L->bcols, L->bsc_rows, L->bsc_blocks, G, cb, ca, ck);
        d->dw_ngroups_row = build_dw_groups(L->row_offsets, L->brows, L->col_indices, NULL, G, ra, rb, rk);
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

