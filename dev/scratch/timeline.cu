/* timeline.cu - where the time of a short-list forward / dX CTA goes (session 8, run 91).
 *
 * Builds the sparse/ kernel files (one translation unit) with BSR_TIMELINE (thread 0 of each TMA CTA records clock64() at
 * its phases) and runs the C 1600, N 8192, bs 64 fc forward and fcproj input gradient at a given
 * sparsity; prints, per kernel, the mean cycles of each phase, the CTAs resident per SM over the
 * kernel's span and the idle share of the CTA slots.
 *   nvcc -O3 --use_fast_math -std=c++17 -gencode arch=compute_90a,code=sm_90a -DBSR_TIMELINE -I. \
 *        dev/scratch/timeline.cu core/lt_gemm.cu build/libhost_f32.a -lcublas -lcublasLt -lcuda -lgomp -lm -o build/dev/timeline
 *   ./build/dev/timeline [sparsity 0.9] [variant -1]
 */
/* the whole library of sparse/ in this translation unit (the kernels' statics, BSR_TIMELINE) */
#include "../../sparse/bsr_common.cu"
#include "../../sparse/bsr_spmm.cu"
#include "../../sparse/bsr_dw.cu"
#include "../../sparse/bsr_layout_gpu.cu"
#include "../../sparse/bsr_crossover.cu"
#include "../bench_util.cuh"
#include <vector>
#include <algorithm>

static void *bsr_tl_ptr() {
    void *p = NULL;
    CUDA_CHECK(cudaGetSymbolAddress(&p, bsr_tl));
    return p;
}

static void make_layout(BsrLayout *L, BsrDeviceLayout *D, int rows, int cols, float sp, Rng *rng) {
    bsr_layout_init(L, rows, cols, 64);
    bench_random_mask(L, sp, rng);
    bsr_device_layout_alloc(D, rows, cols, 64);
    bsr_device_layout_upload(D, L);
}

static void report(const char *what, int nmax, double ms) {
    std::vector<long long> tl((size_t)nmax * 8);
    CUDA_CHECK(cudaMemcpyFromSymbol(tl.data(), bsr_tl, tl.size() * 8));
    int nctas = 0; /* the CTAs that ran (the buffer is zeroed before the recorded launch; any tile height) */
    while (nctas < nmax && tl[(size_t)nctas * 8] != 0) nctas++;
    double ph[5] = {0}, tot = 0, tsteps = 0;
    int nph[5] = {0};
    int nsm = 0;
    for (int c = 0; c < nctas; c++) nsm = std::max(nsm, (int)tl[c * 8 + 6] + 1);
    std::vector<long long> lo(nsm, LLONG_MAX), hi(nsm, 0);
    std::vector<double> busy(nsm, 0.0);
    for (int c = 0; c < nctas; c++) {
        const long long *t = &tl[(size_t)c * 8];
        const int sm = (int)t[6];
        lo[sm] = std::min(lo[sm], t[0]);
        hi[sm] = std::max(hi[sm], t[5]);
        busy[sm] += (double)(t[5] - t[0]);
        tot += (double)(t[5] - t[0]);
        tsteps += t[7];
        if (t[7] > 0) {
            for (int i = 0; i < 3; i++) { ph[i] += (double)(t[i + 1] - t[i]); nph[i]++; }
            ph[3] += (double)(t[4] - t[3]); nph[3]++;
        } else {
            ph[3] += (double)(t[4] - t[0]); nph[3]++;
        }
        ph[4] += (double)(t[5] - t[4]); nph[4]++;
    }
    double span = 0, conc = 0, maxspan = 0;
    for (int s = 0; s < nsm; s++) {
        span += (double)(hi[s] - lo[s]);
        maxspan = std::max(maxspan, (double)(hi[s] - lo[s]));
        conc += busy[s] / (double)(hi[s] - lo[s]);
    }
    printf("%s: %d CTAs, %.1f us (event), mean SM span %.0f cycles (longest %.0f), mean steps %.2f\n", what, nctas,
           ms * 1000.0, span / nsm, maxspan, tsteps / nctas);
    printf("  mean CTA %.0f cycles: index+issue %.0f | first stage wait %.0f | rest of loop %.0f | epilogue to "
           "store %.0f | store read %.0f\n",
           tot / nctas, ph[0] / nph[0], ph[1] / nph[1], ph[2] / nph[2], ph[3] / nph[3], ph[4] / nph[4]);
    printf("  CTAs resident per SM (mean over its span) %.2f; CTA-cycles per SM %.0f\n", conc / nsm,
           tot / nsm);
    /* the ragged end: SM spans sorted, the share of SMs still running at 90 / 95 / 99% of the longest */
    {
        std::vector<double> sp(nsm);
        for (int s = 0; s < nsm; s++) sp[s] = (double)(hi[s] - lo[s]);
        std::sort(sp.begin(), sp.end());
        printf("  SM spans / longest: min %.3f p10 %.3f median %.3f p90 %.3f; mean %.3f (the tail's idle share %.1f%%)\n",
               sp[0] / maxspan, sp[nsm / 10] / maxspan, sp[nsm / 2] / maxspan, sp[nsm * 9 / 10] / maxspan,
               span / nsm / maxspan, 100.0 * (1.0 - span / nsm / maxspan));
    }
    /* by list length */
    for (int T = 0; T <= 64; T++) {
        double s = 0, w = 0;
        int n = 0;
        for (int c = 0; c < nctas; c++)
            if (tl[(size_t)c * 8 + 7] == T) {
                s += (double)(tl[c * 8 + 5] - tl[c * 8]);
                if (T) w += (double)(tl[c * 8 + 3] - tl[c * 8 + 1]);
                n++;
            }
        if (n && (T < 12 || T % 4 == 0)) printf("    T=%d: %5d CTAs, mean %6.0f cycles, loads+loop %6.0f\n", T, n, s / n, T ? w / n : 0.0);
    }
}

int main(int argc, char **argv) {
    const float sp = argc > 1 ? (float)atof(argv[1]) : 0.9f;
    const int variant = argc > 2 ? atoi(argv[2]) : -1;
    const int N = 8192, C = 1600;
    Rng rng;
    rng_seed(&rng, 1234);
    BsrLayout Lfc, Lpr;
    BsrDeviceLayout Dfc, Dpr;
    make_layout(&Lfc, &Dfc, 4 * C, C, sp, &rng); /* fc: out 4C, in C */
    make_layout(&Lpr, &Dpr, C, 4 * C, sp, &rng); /* fcproj: out C, in 4C */
    bf16 *x, *y, *w, *bias, *dy, *dx;
    CUDA_CHECK(cudaMalloc(&x, (size_t)N * C * 2));
    CUDA_CHECK(cudaMalloc(&y, (size_t)N * 4 * C * 2));
    CUDA_CHECK(cudaMalloc(&dy, (size_t)N * C * 2));
    CUDA_CHECK(cudaMalloc(&dx, (size_t)N * 4 * C * 2));
    CUDA_CHECK(cudaMalloc(&w, (size_t)4 * C * C * 2));
    CUDA_CHECK(cudaMalloc(&bias, (size_t)4 * C * 2));
    bench_fill(x, (size_t)N * C, 1, 1.f);
    bench_fill(dy, (size_t)N * C, 2, 1.f);
    bench_fill(w, (size_t)4 * C * C, 3, 0.05f);
    bench_fill(bias, 4 * C, 4, 0.5f);
    BsrTune tune = bsr_tune_default();
    tune.fwd = tune.dinp = variant;
    cudaEvent_t e0, e1;
    CUDA_CHECK(cudaEventCreate(&e0));
    CUDA_CHECK(cudaEventCreate(&e1));
    /* short lists (fc forward, fcproj dX: 100 lines) and long ones (fc dX, fcproj forward: 25 lines) */
    const char *names[4] = {"fc forward", "fcproj dX", "fc dX", "fcproj forward"};
    for (int which = 0; which < 4; which++) {
        float ms = 0;
        for (int rep = 0; rep < 5; rep++) {
            if (rep == 4) CUDA_CHECK(cudaMemset(bsr_tl_ptr(), 0, sizeof(long long) * BSR_TL_MAX * 8));
            CUDA_CHECK(cudaEventRecord(e0));
            if (which == 0) bsr_forward(y, NULL, x, w, bias, &Dfc, N, 0, &tune, 0);
            else if (which == 1) bsr_backward_input(dx, dy, w, &Dpr, N, 0, &tune, 0);
            else if (which == 2) bsr_backward_input(x, dx, w, &Dfc, N, 0, &tune, 0);
            else bsr_forward(dy, NULL, dx, w, bias, &Dpr, N, 0, &tune, 0);
            CUDA_CHECK(cudaEventRecord(e1));
            CUDA_CHECK(cudaEventSynchronize(e1));
            CUDA_CHECK(cudaEventElapsedTime(&ms, e0, e1));
        }
        report(names[which], BSR_TL_MAX, ms);
    }
    return 0;
}
