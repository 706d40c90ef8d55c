/*
 * layers_cpu.c - CPU reference implementations of the dense GPT-2 layers
 * (declarations and contract in layers_cpu.h).
 *
 * Determinism: every OpenMP loop is over independent outputs; each output value
 * is computed by exactly one thread in a fixed order of operations, so results
 * are bit-identical for any thread count. Reductions that llm.c does with races
 * or atomics (encoder backward, layernorm dweight/dbias, matmul dweight/dbias,
 * attention dk/dv) are reorganised so that one thread owns each output.
 *
 * Speed: the matmuls are tiled over rows and outputs with inner loops that gcc
 * vectorises at -O3 -march=native without -ffast-math (no reassociation needed:
 * every inner loop runs over independent outputs; the forward pass transposes
 * the weight into a scratch buffer for that).
 */
#include "layers_cpu.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/utils.h"

#ifdef REAL_IS_DOUBLE
#define R_SQRT sqrt
#define R_EXP exp
#define R_LOG log
#define R_TANH tanh
#else
#define R_SQRT sqrtf
#define R_EXP expf
#define R_LOG logf
#define R_TANH tanhf
#endif

#define ALWAYS_INLINE static inline __attribute__((always_inline))

static inline int imin(int a, int b) { return a < b ? a : b; }

/* ------------------------------------------------------------------ encoder */

void encoder_forward_cpu(real *out, const int *tokens, const real *wte, const real *wpe, int B, int T, int C)
{
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            real *o = out + ((long)b * T + t) * C;
            const real *we = wte + (long)tokens[b * T + t] * C;
            const real *pe = wpe + (long)t * C;
            for (int c = 0; c < C; c++) o[c] = we[c] + pe[c];
        }
    }
}

/* Channels are split in chunks; one thread owns a chunk of channels of every row
 * of dwte and dwpe and walks (b, t) in order, so duplicate tokens accumulate in
 * a fixed order. */
#define ENC_CHUNK 64
void encoder_backward_cpu(real *dwte, real *dwpe, const real *dout, const int *tokens, int B, int T, int C)
{
    int nchunks = (C + ENC_CHUNK - 1) / ENC_CHUNK;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < nchunks; ch++) {
        int c0 = ch * ENC_CHUNK, c1 = imin(C, c0 + ENC_CHUNK);
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                const real *d = dout + ((long)b * T + t) * C;
                real *gw = dwte + (long)tokens[b * T + t] * C;
                real *gp = dwpe + (long)t * C;
                for (int c = c0; c < c1; c++) {
                    gw[c] += d[c];
                    gp[c] += d[c];
                }
            }
        }
    }
}

/* ---------------------------------------------------------------- layernorm */

void layernorm_forward_cpu(real *out, real *mean, real *rstd, const real *inp, const real *weight,
                           const real *bias, int N, int C)
{
    const double eps = 1e-5;
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const real *x = inp + (long)n * C;
        double m = 0.0;
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        double v = 0.0;
        for (int c = 0; c < C; c++) {
            double d = x[c] - m;
            v += d * d;
        }
        v /= C;
        real s = (real)(1.0 / sqrt(v + eps));
        real mr = (real)m;
        real *o = out + (long)n * C;
        for (int c = 0; c < C; c++) o[c] = (x[c] - mr) * s * weight[c] + bias[c];
        mean[n] = mr;
        rstd[n] = s;
    }
}

#define LN_CHUNK 64
void layernorm_backward_cpu(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                            const real *weight, const real *mean, const real *rstd, int N, int C)
{
    /* dinp: one thread per row */
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const real *d = dout + (long)n * C;
        const real *x = inp + (long)n * C;
        real m = mean[n], s = rstd[n];
        double dnorm_mean = 0.0, dnorm_norm_mean = 0.0;
        for (int c = 0; c < C; c++) {
            real norm = (x[c] - m) * s;
            real dnorm = weight[c] * d[c];
            dnorm_mean += dnorm;
            dnorm_norm_mean += dnorm * norm;
        }
        real a = (real)(dnorm_mean / C), bb = (real)(dnorm_norm_mean / C);
        real *g = dinp + (long)n * C;
        for (int c = 0; c < C; c++) {
            real norm = (x[c] - m) * s;
            real dnorm = weight[c] * d[c];
            g[c] += (dnorm - a - norm * bb) * s;
        }
    }
    /* dweight, dbias: one thread per chunk of channels, rows in order */
    int nchunks = (C + LN_CHUNK - 1) / LN_CHUNK;
#pragma omp parallel for schedule(static)
    for (int ch = 0; ch < nchunks; ch++) {
        int c0 = ch * LN_CHUNK, cn = imin(C - c0, LN_CHUNK);
        real accw[LN_CHUNK], accb[LN_CHUNK];
        for (int j = 0; j < cn; j++) accw[j] = accb[j] = 0;
        for (int n = 0; n < N; n++) {
            const real *d = dout + (long)n * C + c0;
            const real *x = inp + (long)n * C + c0;
            real m = mean[n], s = rstd[n];
            for (int j = 0; j < cn; j++) {
                accw[j] += (x[j] - m) * s * d[j];
                accb[j] += d[j];
            }
        }
        for (int j = 0; j < cn; j++) {
            dweight[c0 + j] += accw[j];
            dbias[c0 + j] += accb[j];
        }
    }
}

/* ------------------------------------------------------------------- matmul */

/* Forward: W is transposed once into Wt[C, OC] so that the inner loop runs
 * contiguously over a tile of outputs (vectorised, no reassociation): each
 * out[n, o] = (sum over i = 0..C-1 in order of inp[n, i] * W[o, i]) + bias[o]. */
#define MF_RB 4
#define MF_OB 64
ALWAYS_INLINE void mm_fwd_tile(real *out, const real *inp, const real *wt, const real *bias, int n0, int rb,
                               int o0, int ob, int C, int OC)
{
    real acc[MF_RB][MF_OB];
    for (int r = 0; r < rb; r++)
        for (int j = 0; j < ob; j++) acc[r][j] = 0;
    for (int i = 0; i < C; i++) {
        const real *w = wt + (long)i * OC + o0;
        for (int r = 0; r < rb; r++) {
            real x = inp[(long)(n0 + r) * C + i];
            for (int j = 0; j < ob; j++) acc[r][j] += x * w[j];
        }
    }
    for (int r = 0; r < rb; r++) {
        real *o = out + (long)(n0 + r) * OC + o0;
        if (bias)
            for (int j = 0; j < ob; j++) o[j] = acc[r][j] + bias[o0 + j];
        else
            for (int j = 0; j < ob; j++) o[j] = acc[r][j];
    }
}

void matmul_forward_cpu(real *out, const real *inp, const real *weight, const real *bias, int N, int C, int OC)
{
    real *wt = (real *)malloc_check((size_t)C * OC * sizeof(real));
#pragma omp parallel for schedule(static)
    for (int i = 0; i < C; i++)
        for (int o = 0; o < OC; o++) wt[(long)i * OC + o] = weight[(long)o * C + i];
    int nrt = (N + MF_RB - 1) / MF_RB, not_ = (OC + MF_OB - 1) / MF_OB;
#pragma omp parallel for collapse(2) schedule(static)
    for (int rt = 0; rt < nrt; rt++) {
        for (int ot = 0; ot < not_; ot++) {
            int n0 = rt * MF_RB, o0 = ot * MF_OB;
            int rb = imin(MF_RB, N - n0), ob = imin(MF_OB, OC - o0);
            if (rb == MF_RB && ob == MF_OB)
                mm_fwd_tile(out, inp, wt, bias, n0, MF_RB, o0, MF_OB, C, OC);
            else
                mm_fwd_tile(out, inp, wt, bias, n0, rb, o0, ob, C, OC);
        }
    }
    free(wt);
}

/* Backward tiles: rows of a [rb, CB] accumulator block, inner loop contiguous
 * over the CB columns (vectorised), outer loop over the reduction index in
 * order. acc = sum, then added to the gradient. */
#define MB_RB 4
#define MB_CB 64
/* dinp[n, c] += sum_o dout[n, o] * weight[o, c] */
ALWAYS_INLINE void mm_bwd_dinp_tile(real *dinp, const real *dout, const real *weight, int n0, int rb, int c0,
                                    int cb, int C, int OC)
{
    real acc[MB_RB][MB_CB];
    for (int r = 0; r < rb; r++)
        for (int j = 0; j < cb; j++) acc[r][j] = 0;
    for (int o = 0; o < OC; o++) {
        const real *w = weight + (long)o * C + c0;
        for (int r = 0; r < rb; r++) {
            real d = dout[(long)(n0 + r) * OC + o];
            for (int j = 0; j < cb; j++) acc[r][j] += d * w[j];
        }
    }
    for (int r = 0; r < rb; r++) {
        real *g = dinp + (long)(n0 + r) * C + c0;
        for (int j = 0; j < cb; j++) g[j] += acc[r][j];
    }
}
/* dweight[o, c] += sum_n dout[n, o] * inp[n, c] */
ALWAYS_INLINE void mm_bwd_dw_tile(real *dweight, const real *dout, const real *inp, int o0, int rb, int c0,
                                  int cb, int N, int C, int OC)
{
    real acc[MB_RB][MB_CB];
    for (int r = 0; r < rb; r++)
        for (int j = 0; j < cb; j++) acc[r][j] = 0;
    for (int n = 0; n < N; n++) {
        const real *x = inp + (long)n * C + c0;
        const real *d = dout + (long)n * OC + o0;
        for (int r = 0; r < rb; r++) {
            real dd = d[r];
            for (int j = 0; j < cb; j++) acc[r][j] += dd * x[j];
        }
    }
    for (int r = 0; r < rb; r++) {
        real *g = dweight + (long)(o0 + r) * C + c0;
        for (int j = 0; j < cb; j++) g[j] += acc[r][j];
    }
}

void matmul_backward_cpu(real *dinp, real *dweight, real *dbias, const real *dout, const real *inp,
                         const real *weight, int N, int C, int OC)
{
    int nct = (C + MB_CB - 1) / MB_CB;
    /* dinp: parallel over row tiles x column tiles */
    if (dinp) {
        int nrt = (N + MB_RB - 1) / MB_RB;
#pragma omp parallel for collapse(2) schedule(static)
        for (int rt = 0; rt < nrt; rt++) {
            for (int ct = 0; ct < nct; ct++) {
                int n0 = rt * MB_RB, c0 = ct * MB_CB;
                int rb = imin(MB_RB, N - n0), cb = imin(MB_CB, C - c0);
                if (rb == MB_RB && cb == MB_CB)
                    mm_bwd_dinp_tile(dinp, dout, weight, n0, MB_RB, c0, MB_CB, C, OC);
                else
                    mm_bwd_dinp_tile(dinp, dout, weight, n0, rb, c0, cb, C, OC);
            }
        }
    }
    /* dweight: parallel over output-row tiles x column tiles */
    if (dweight) {
        int not_ = (OC + MB_RB - 1) / MB_RB;
#pragma omp parallel for collapse(2) schedule(static)
        for (int ot = 0; ot < not_; ot++) {
            for (int ct = 0; ct < nct; ct++) {
                int o0 = ot * MB_RB, c0 = ct * MB_CB;
                int rb = imin(MB_RB, OC - o0), cb = imin(MB_CB, C - c0);
                if (rb == MB_RB && cb == MB_CB)
                    mm_bwd_dw_tile(dweight, dout, inp, o0, MB_RB, c0, MB_CB, N, C, OC);
                else
                    mm_bwd_dw_tile(dweight, dout, inp, o0, rb, c0, cb, N, C, OC);
            }
        }
    }
    /* dbias: parallel over chunks of outputs, rows in order */
    if (dbias) {
        int nbt = (OC + MB_CB - 1) / MB_CB;
#pragma omp parallel for schedule(static)
        for (int bt = 0; bt < nbt; bt++) {
            int o0 = bt * MB_CB, ob = imin(MB_CB, OC - o0);
            real acc[MB_CB];
            for (int j = 0; j < ob; j++) acc[j] = 0;
            for (int n = 0; n < N; n++) {
                const real *d = dout + (long)n * OC + o0;
                for (int j = 0; j < ob; j++) acc[j] += d[j];
            }
            for (int j = 0; j < ob; j++) dbias[o0 + j] += acc[j];
        }
    }
}

/* ---------------------------------------------------------------- attention */

void attention_forward_cpu(real *out, real *preatt, real *att, const real *inp, int B, int T, int C, int NH)
{
    int C3 = 3 * C, hs = C / NH;
    real scale = (real)(1.0 / sqrt((double)hs));
#pragma omp parallel for collapse(3) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int t = 0; t < T; t++) {
            for (int h = 0; h < NH; h++) {
                const real *q = inp + ((long)b * T + t) * C3 + h * hs;
                real *pre = preatt + (((long)b * NH + h) * T + t) * T;
                real *a = att + (((long)b * NH + h) * T + t) * T;
                real maxv = -INFINITY;
                for (int t2 = 0; t2 <= t; t2++) {
                    const real *k = inp + ((long)b * T + t2) * C3 + h * hs + C;
                    real v = 0;
                    for (int i = 0; i < hs; i++) v += q[i] * k[i];
                    v *= scale;
                    pre[t2] = v;
                    if (v > maxv) maxv = v;
                }
                real sum = 0;
                for (int t2 = 0; t2 <= t; t2++) {
                    real e = R_EXP(pre[t2] - maxv);
                    a[t2] = e;
                    sum += e;
                }
                real inv = sum == 0 ? 0 : 1 / sum;
                for (int t2 = 0; t2 < T; t2++) {
                    if (t2 <= t) {
                        a[t2] *= inv;
                    } else {
                        a[t2] = 0;
                        pre[t2] = 0;
                    }
                }
                real *o = out + ((long)b * T + t) * C + h * hs;
                for (int i = 0; i < hs; i++) o[i] = 0;
                for (int t2 = 0; t2 <= t; t2++) {
                    const real *v = inp + ((long)b * T + t2) * C3 + h * hs + 2 * C;
                    real w = a[t2];
                    for (int i = 0; i < hs; i++) o[i] += w * v[i];
                }
            }
        }
    }
}

/* One thread per (b, h): it owns the q, k, v slices of head h in batch b and the
 * [T, T] blocks of dpreatt and datt, and walks t in order. */
void attention_backward_cpu(real *dinp, real *dpreatt, real *datt, const real *dout, const real *inp,
                            const real *att, int B, int T, int C, int NH)
{
    int C3 = 3 * C, hs = C / NH;
    real scale = (real)(1.0 / sqrt((double)hs));
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++) {
        for (int h = 0; h < NH; h++) {
            for (int t = 0; t < T; t++) {
                const real *a = att + (((long)b * NH + h) * T + t) * T;
                real *da = datt + (((long)b * NH + h) * T + t) * T;
                real *dp = dpreatt + (((long)b * NH + h) * T + t) * T;
                const real *q = inp + ((long)b * T + t) * C3 + h * hs;
                real *dq = dinp + ((long)b * T + t) * C3 + h * hs;
                const real *d = dout + ((long)b * T + t) * C + h * hs;
                /* out = att @ v */
                for (int t2 = 0; t2 <= t; t2++) {
                    const real *v = inp + ((long)b * T + t2) * C3 + h * hs + 2 * C;
                    real *dv = dinp + ((long)b * T + t2) * C3 + h * hs + 2 * C;
                    real s = 0;
                    for (int i = 0; i < hs; i++) {
                        s += v[i] * d[i];
                        dv[i] += a[t2] * d[i];
                    }
                    da[t2] += s;
                }
                /* softmax backward: dpre[t3] = att[t3] * (datt[t3] - sum_t2 att[t2] datt[t2]) */
                real dot = 0;
                for (int t2 = 0; t2 <= t; t2++) dot += a[t2] * da[t2];
                for (int t3 = 0; t3 <= t; t3++) dp[t3] += a[t3] * (da[t3] - dot);
                /* preatt = scale * q . k */
                for (int t2 = 0; t2 <= t; t2++) {
                    const real *k = inp + ((long)b * T + t2) * C3 + h * hs + C;
                    real *dk = dinp + ((long)b * T + t2) * C3 + h * hs + C;
                    real g = dp[t2] * scale;
                    for (int i = 0; i < hs; i++) {
                        dq[i] += k[i] * g;
                        dk[i] += q[i] * g;
                    }
                }
            }
        }
    }
}

/* --------------------------------------------------------------------- gelu */

#define GELU_SCALE 0.7978845608028654 /* sqrt(2/pi) */

void gelu_forward_cpu(real *out, const real *inp, long n)
{
    const real s = (real)GELU_SCALE, k = (real)0.044715;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        real x = inp[i];
        out[i] = (real)0.5 * x * (1 + R_TANH(s * (x + k * x * x * x)));
    }
}

void gelu_backward_cpu(real *dinp, const real *inp, const real *dout, long n)
{
    const real s = (real)GELU_SCALE, k = (real)0.044715;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        real x = inp[i];
        real th = R_TANH(s * (x + k * x * x * x));
        real sech2 = 1 - th * th;
        real g = (real)0.5 * (1 + th) + x * (real)0.5 * sech2 * s * (1 + 3 * k * x * x);
        dinp[i] += g * dout[i];
    }
}

/* ----------------------------------------------------------------- residual */

void residual_forward_cpu(real *out, const real *a, const real *b, long n)
{
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) out[i] = a[i] + b[i];
}

void residual_backward_cpu(real *da, real *db, const real *dout, long n)
{
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        da[i] += dout[i];
        db[i] += dout[i];
    }
}

/* -------------------------------------------------- softmax, cross-entropy */

void softmax_forward_cpu(real *probs, const real *logits, int N, int V, int Vp)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        const real *l = logits + (long)n * Vp;
        real *p = probs + (long)n * Vp;
        real maxv = -INFINITY;
        for (int v = 0; v < V; v++)
            if (l[v] > maxv) maxv = l[v];
        double sum = 0.0;
        for (int v = 0; v < V; v++) {
            real e = R_EXP(l[v] - maxv);
            p[v] = e;
            sum += e;
        }
        real inv = (real)(1.0 / sum);
        for (int v = 0; v < V; v++) p[v] *= inv;
        for (int v = V; v < Vp; v++) p[v] = 0;
    }
}

void crossentropy_forward_cpu(real *losses, const real *probs, const int *targets, int N, int Vp)
{
    for (int n = 0; n < N; n++) losses[n] = -R_LOG(probs[(long)n * Vp + targets[n]]);
}

void crossentropy_softmax_backward_cpu(real *dlogits, const real *dlosses, const real *probs,
                                       const int *targets, int N, int V, int Vp)
{
#pragma omp parallel for schedule(static)
    for (int n = 0; n < N; n++) {
        real *g = dlogits + (long)n * Vp;
        const real *p = probs + (long)n * Vp;
        real dl = dlosses[n];
        int tg = targets[n];
        for (int v = 0; v < V; v++) g[v] += (p[v] - (v == tg ? (real)1 : (real)0)) * dl;
    }
}

/* -------------------------------------------------------------------- adamw */

void adamw_update_cpu(real *params, const real *grads, real *m, real *v, long n, float lr, float beta1,
                      float beta2, float eps, float weight_decay, float grad_scale, int t)
{
    real b1 = beta1, b2 = beta2;
    real bc1 = (real)(1.0 - pow((double)beta1, (double)t));
    real bc2 = (real)(1.0 - pow((double)beta2, (double)t));
    real rlr = lr, reps = eps, rwd = weight_decay, gs = grad_scale;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++) {
        real g = grads[i] * gs;
        real mi = b1 * m[i] + (1 - b1) * g;
        real vi = b2 * v[i] + (1 - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        real mhat = mi / bc1, vhat = vi / bc2;
        params[i] -= rlr * (mhat / (R_SQRT(vhat) + reps) + rwd * params[i]);
    }
}

/* -------------------------------------------------------------- sum squares */

/* Fixed chunks of SS_CHUNK elements, each summed with SS_L double lanes, then
 * chunk sums combined in chunk order: independent of the thread count. */
#define SS_CHUNK 65536
#define SS_L 8
double sum_squares_cpu(const real *x, long n)
{
    if (n <= 0) return 0.0;
    long nch = (n + SS_CHUNK - 1) / SS_CHUNK;
    double *part = (double *)malloc_check((size_t)nch * sizeof(double));
#pragma omp parallel for schedule(static)
    for (long ch = 0; ch < nch; ch++) {
        long i0 = ch * SS_CHUNK, i1 = i0 + SS_CHUNK < n ? i0 + SS_CHUNK : n;
        double lane[SS_L] = {0};
        long i = i0;
        for (; i + SS_L <= i1; i += SS_L)
            for (int l = 0; l < SS_L; l++) lane[l] += (double)x[i + l] * (double)x[i + l];
        double s = 0.0;
        for (int l = 0; l < SS_L; l++) s += lane[l];
        for (; i < i1; i++) s += (double)x[i] * (double)x[i];
        part[ch] = s;
    }
    double total = 0.0;
    for (long ch = 0; ch < nch; ch++) total += part[ch];
    free(part);
    return total;
}
