/*
 * test_layers_cpu_f64.c - finite-difference check of every CPU layer backward
 * (layers/layers_cpu.c built with real = double).
 *
 * For each layer: a scalar loss L = sum(out * R) with a fixed random R, the
 * analytic gradient from the backward pass (called with dout = R onto gradient
 * buffers pre-filled with random values, to check that backward ACCUMULATES),
 * against central differences (L(x+h) - L(x-h)) / 2h with h = 1e-5 in double.
 * Pass criterion: max |analytic - fd| / max(1, max |fd|) < 1e-7
 * (truncation error ~h^2 = 1e-10, rounding ~1e-16/h = 1e-11).
 * Also: matmul forward against a naive triple loop, bit-identical results for 1
 * and several OpenMP threads, AdamW against a hand-computed step, sum_squares.
 * Exits non-zero on any failure.
 */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/real.h"
#include "../core/utils.h"
#include "../layers/layers_cpu.h"

#ifndef REAL_IS_DOUBLE
#error "test_layers_cpu_f64.c must be built with -DREAL_IS_DOUBLE"
#endif

#define FD_H 1e-5
#define FD_TOL 1e-7

static Rng rng;
static int failures = 0;

static real *rnd(long n, double scale)
{
    real *x = (real *)malloc_check((size_t)n * sizeof(real));
    for (long i = 0; i < n; i++) x[i] = (real)((2.0 * rng_uniform_f32(&rng) - 1.0) * scale);
    return x;
}
static real *dup(const real *x, long n)
{
    real *y = (real *)malloc_check((size_t)n * sizeof(real));
    memcpy(y, x, (size_t)n * sizeof(real));
    return y;
}
static double dot(const real *a, const real *b, long n)
{
    double s = 0.0;
    for (long i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return s;
}

/* Compare analytic gradient (grad - grad0) against central differences of loss()
 * with respect to x[0..n). */
typedef double (*LossFn)(void *ctx);
static void fd_check(const char *name, real *x, long n, LossFn loss, void *ctx, const real *grad, const real *grad0)
{
    double maxerr = 0.0, maxfd = 0.0;
    for (long i = 0; i < n; i++) {
        real old = x[i];
        x[i] = old + FD_H;
        double lp = loss(ctx);
        x[i] = old - FD_H;
        double lm = loss(ctx);
        x[i] = old;
        double fd = (lp - lm) / (2 * FD_H);
        double an = grad[i] - (grad0 ? grad0[i] : 0.0);
        double e = fabs(an - fd);
        if (e > maxerr) maxerr = e;
        if (fabs(fd) > maxfd) maxfd = fabs(fd);
    }
    double rel = maxerr / (maxfd > 1.0 ? maxfd : 1.0);
    int ok = rel < FD_TOL;
    printf("%-34s n=%-5ld max|fd|=%.3e rel err=%.3e  %s\n", name, n, maxfd, rel, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}
static void expect(const char *name, int ok, double val)
{
    printf("%-34s %.3e  %s\n", name, val, ok ? "ok" : "FAIL");
    if (!ok) failures++;
}

/* ------------------------------------------------------------------ encoder */
typedef struct { real *out, *wte, *wpe, *R; int *tok; int B, T, C; } EncCtx;
static double enc_loss(void *p)
{
    EncCtx *c = (EncCtx *)p;
    encoder_forward_cpu(c->out, c->tok, c->wte, c->wpe, c->B, c->T, c->C);
    return dot(c->out, c->R, (long)c->B * c->T * c->C);
}
static void test_encoder(void)
{
    int B = 2, T = 5, C = 70, V = 6;  /* C > one channel chunk; duplicate tokens */
    EncCtx c = {0};
    c.B = B; c.T = T; c.C = C;
    c.tok = (int *)malloc_check(sizeof(int) * B * T);
    for (int i = 0; i < B * T; i++) c.tok[i] = (int)rng_below(&rng, 4);
    c.wte = rnd((long)V * C, 1); c.wpe = rnd((long)T * C, 1);
    c.out = rnd((long)B * T * C, 1); c.R = rnd((long)B * T * C, 1);
    real *g0te = rnd((long)V * C, 1), *g0pe = rnd((long)T * C, 1);
    real *gte = dup(g0te, (long)V * C), *gpe = dup(g0pe, (long)T * C);
    encoder_backward_cpu(gte, gpe, c.R, c.tok, B, T, C);
    fd_check("encoder dwte", c.wte, (long)V * C, enc_loss, &c, gte, g0te);
    fd_check("encoder dwpe", c.wpe, (long)T * C, enc_loss, &c, gpe, g0pe);
}

/* ---------------------------------------------------------------- layernorm */
typedef struct { real *out, *mean, *rstd, *inp, *w, *b, *R; int N, C; } LnCtx;
static double ln_loss(void *p)
{
    LnCtx *c = (LnCtx *)p;
    layernorm_forward_cpu(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
    return dot(c->out, c->R, (long)c->N * c->C);
}
static void test_layernorm(void)
{
    int N = 6, C = 70;
    LnCtx c = {0};
    c.N = N; c.C = C;
    c.inp = rnd((long)N * C, 2); c.w = rnd(C, 1); c.b = rnd(C, 1);
    c.out = rnd((long)N * C, 1); c.mean = rnd(N, 1); c.rstd = rnd(N, 1); c.R = rnd((long)N * C, 1);
    ln_loss(&c);
    /* forward check: row mean ~0 and variance ~1 of the normalized output before affine */
    double maxdev = 0;
    for (int n = 0; n < N; n++) {
        double m = 0, v = 0;
        for (int i = 0; i < C; i++) m += c.inp[n * C + i];
        m /= C;
        for (int i = 0; i < C; i++) v += (c.inp[n * C + i] - m) * (c.inp[n * C + i] - m);
        v /= C;
        maxdev = fmax(maxdev, fabs(c.mean[n] - m));
        maxdev = fmax(maxdev, fabs(c.rstd[n] - 1.0 / sqrt(v + 1e-5)));
    }
    expect("layernorm mean/rstd", maxdev < 1e-12, maxdev);
    real *g0i = rnd((long)N * C, 1), *g0w = rnd(C, 1), *g0b = rnd(C, 1);
    real *gi = dup(g0i, (long)N * C), *gw = dup(g0w, C), *gb = dup(g0b, C);
    layernorm_backward_cpu(gi, gw, gb, c.R, c.inp, c.w, c.mean, c.rstd, N, C);
    fd_check("layernorm dinp", c.inp, (long)N * C, ln_loss, &c, gi, g0i);
    fd_check("layernorm dweight", c.w, C, ln_loss, &c, gw, g0w);
    fd_check("layernorm dbias", c.b, C, ln_loss, &c, gb, g0b);
}

/* ------------------------------------------------------------------- matmul */
typedef struct { real *out, *inp, *w, *b, *R; int N, C, OC; } MmCtx;
static double mm_loss(void *p)
{
    MmCtx *c = (MmCtx *)p;
    matmul_forward_cpu(c->out, c->inp, c->w, c->b, c->N, c->C, c->OC);
    return dot(c->out, c->R, (long)c->N * c->OC);
}
static void test_matmul_shape(int N, int C, int OC)
{
    char name[64];
    MmCtx c = {0};
    c.N = N; c.C = C; c.OC = OC;
    c.inp = rnd((long)N * C, 1); c.w = rnd((long)OC * C, 1); c.b = rnd(OC, 1);
    c.out = rnd((long)N * OC, 1); c.R = rnd((long)N * OC, 1);
    mm_loss(&c);
    double maxerr = 0;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) {
            double s = c.b[o];
            for (int i = 0; i < C; i++) s += c.inp[n * C + i] * c.w[o * C + i];
            maxerr = fmax(maxerr, fabs(s - c.out[n * OC + o]));
        }
    snprintf(name, sizeof name, "matmul fwd vs naive %dx%dx%d", N, C, OC);
    expect(name, maxerr < 1e-12, maxerr);
    real *g0i = rnd((long)N * C, 1), *g0w = rnd((long)OC * C, 1), *g0b = rnd(OC, 1);
    real *gi = dup(g0i, (long)N * C), *gw = dup(g0w, (long)OC * C), *gb = dup(g0b, OC);
    matmul_backward_cpu(gi, gw, gb, c.R, c.inp, c.w, N, C, OC);
    snprintf(name, sizeof name, "matmul dinp %dx%dx%d", N, C, OC);
    fd_check(name, c.inp, (long)N * C, mm_loss, &c, gi, g0i);
    snprintf(name, sizeof name, "matmul dweight %dx%dx%d", N, C, OC);
    fd_check(name, c.w, (long)OC * C, mm_loss, &c, gw, g0w);
    snprintf(name, sizeof name, "matmul dbias %dx%dx%d", N, C, OC);
    fd_check(name, c.b, OC, mm_loss, &c, gb, g0b);
    /* bias = NULL path (recompute out: the fd loop left it at a perturbed point) */
    mm_loss(&c);
    real *o2 = rnd((long)N * OC, 1);
    matmul_forward_cpu(o2, c.inp, c.w, NULL, N, C, OC);
    maxerr = 0;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < OC; o++) maxerr = fmax(maxerr, fabs(o2[n * OC + o] + c.b[o] - c.out[n * OC + o]));
    snprintf(name, sizeof name, "matmul fwd bias=NULL %dx%dx%d", N, C, OC);
    expect(name, maxerr < 1e-12, maxerr);
}

/* bit-identical across thread counts */
static void test_matmul_threads(void)
{
    int N = 67, C = 77, OC = 70;
    real *inp = rnd((long)N * C, 1), *w = rnd((long)OC * C, 1), *b = rnd(OC, 1), *d = rnd((long)N * OC, 1);
    real *out[2], *gi[2], *gw[2], *gb[2];
    int nth[2] = {1, omp_get_max_threads() > 1 ? omp_get_max_threads() : 3};
    for (int k = 0; k < 2; k++) {
        omp_set_num_threads(nth[k]);
        out[k] = (real *)calloc_check((size_t)N * OC, sizeof(real));
        gi[k] = (real *)calloc_check((size_t)N * C, sizeof(real));
        gw[k] = (real *)calloc_check((size_t)OC * C, sizeof(real));
        gb[k] = (real *)calloc_check((size_t)OC, sizeof(real));
        matmul_forward_cpu(out[k], inp, w, b, N, C, OC);
        matmul_backward_cpu(gi[k], gw[k], gb[k], d, inp, w, N, C, OC);
    }
    omp_set_num_threads(nth[1]);
    int same = !memcmp(out[0], out[1], sizeof(real) * N * OC) && !memcmp(gi[0], gi[1], sizeof(real) * N * C) &&
               !memcmp(gw[0], gw[1], sizeof(real) * OC * C) && !memcmp(gb[0], gb[1], sizeof(real) * OC);
    expect("matmul bit-identical 1 vs N threads", same, (double)nth[1]);
}

/* ---------------------------------------------------------------- attention */
typedef struct { real *out, *pre, *att, *inp, *R; int B, T, C, NH; } AttCtx;
static double att_loss(void *p)
{
    AttCtx *c = (AttCtx *)p;
    attention_forward_cpu(c->out, c->pre, c->att, c->inp, c->B, c->T, c->C, c->NH);
    return dot(c->out, c->R, (long)c->B * c->T * c->C);
}
static void test_attention(void)
{
    int B = 2, T = 5, C = 12, NH = 3;
    AttCtx c = {0};
    c.B = B; c.T = T; c.C = C; c.NH = NH;
    long ni = (long)B * T * 3 * C, no = (long)B * T * C, na = (long)B * NH * T * T;
    c.inp = rnd(ni, 1); c.out = rnd(no, 1); c.pre = rnd(na, 1); c.att = rnd(na, 1); c.R = rnd(no, 1);
    att_loss(&c);
    real *g0 = rnd(ni, 1), *g = dup(g0, ni);
    real *dpre = (real *)calloc_check(na, sizeof(real)), *datt = (real *)calloc_check(na, sizeof(real));
    attention_backward_cpu(g, dpre, datt, c.R, c.inp, c.att, B, T, C, NH);
    fd_check("attention dinp (q,k,v)", c.inp, ni, att_loss, &c, g, g0);
}

/* --------------------------------------------------------------------- gelu */
typedef struct { real *out, *inp, *R; long n; } GeluCtx;
static double gelu_loss(void *p)
{
    GeluCtx *c = (GeluCtx *)p;
    gelu_forward_cpu(c->out, c->inp, c->n);
    return dot(c->out, c->R, c->n);
}
static void test_gelu(void)
{
    GeluCtx c = {0};
    c.n = 300;
    c.inp = rnd(c.n, 4); c.out = rnd(c.n, 1); c.R = rnd(c.n, 1);
    gelu_loss(&c);
    double e = fabs(c.out[0] - 0.5 * c.inp[0] * (1 + tanh(sqrt(2 / 3.14159265358979323846) * (c.inp[0] + 0.044715 * pow(c.inp[0], 3)))));
    expect("gelu fwd formula", e < 1e-14, e);
    real *g0 = rnd(c.n, 1), *g = dup(g0, c.n);
    gelu_backward_cpu(g, c.inp, c.R, c.n);
    fd_check("gelu dinp", c.inp, c.n, gelu_loss, &c, g, g0);
}

/* ----------------------------------------------------------------- residual */
typedef struct { real *out, *a, *b, *R; long n; } ResCtx;
static double res_loss(void *p)
{
    ResCtx *c = (ResCtx *)p;
    residual_forward_cpu(c->out, c->a, c->b, c->n);
    return dot(c->out, c->R, c->n);
}
static void test_residual(void)
{
    ResCtx c = {0};
    c.n = 100;
    c.a = rnd(c.n, 1); c.b = rnd(c.n, 1); c.out = rnd(c.n, 1); c.R = rnd(c.n, 1);
    real *g0a = rnd(c.n, 1), *g0b = rnd(c.n, 1), *ga = dup(g0a, c.n), *gb = dup(g0b, c.n);
    residual_backward_cpu(ga, gb, c.R, c.n);
    fd_check("residual da", c.a, c.n, res_loss, &c, ga, g0a);
    fd_check("residual db", c.b, c.n, res_loss, &c, gb, g0b);
}

/* -------------------------------------------------- softmax + crossentropy */
typedef struct { real *logits, *probs, *losses, *w; int *tg; int N, V, Vp; } CeCtx;
static double ce_loss(void *p)
{
    CeCtx *c = (CeCtx *)p;
    softmax_forward_cpu(c->probs, c->logits, c->N, c->V, c->Vp);
    crossentropy_forward_cpu(c->losses, c->probs, c->tg, c->N, c->Vp);
    return dot(c->losses, c->w, c->N);
}
static void test_softmax_ce(void)
{
    CeCtx c = {0};
    int N = 5, V = 11, Vp = 16;
    c.N = N; c.V = V; c.Vp = Vp;
    c.logits = rnd((long)N * Vp, 3);
    c.probs = rnd((long)N * Vp, 1); c.losses = rnd(N, 1); c.w = rnd(N, 1);
    c.tg = (int *)malloc_check(sizeof(int) * N);
    for (int n = 0; n < N; n++) c.tg[n] = (int)rng_below(&rng, V);
    ce_loss(&c);
    double maxdev = 0;
    for (int n = 0; n < N; n++) {
        double s = 0;
        for (int v = 0; v < V; v++) s += c.probs[n * Vp + v];
        maxdev = fmax(maxdev, fabs(s - 1));
        for (int v = V; v < Vp; v++) maxdev = fmax(maxdev, fabs(c.probs[n * Vp + v]));
    }
    expect("softmax rows sum to 1, pad = 0", maxdev < 1e-14, maxdev);
    real *g0 = rnd((long)N * Vp, 1), *g = dup(g0, (long)N * Vp);
    crossentropy_softmax_backward_cpu(g, c.w, c.probs, c.tg, N, V, Vp);
    int pad_ok = 1;
    for (int n = 0; n < N; n++)
        for (int v = V; v < Vp; v++) pad_ok &= g[n * Vp + v] == g0[n * Vp + v];
    expect("crossentropy padded dlogits untouched", pad_ok, 0);
    fd_check("softmax+crossentropy dlogits", c.logits, (long)N * Vp, ce_loss, &c, g, g0);
}

/* -------------------------------------------------------------------- adamw */
static void test_adamw(void)
{
    /* two steps on 3 parameters, hand-computed in double */
    real p[3] = {0.5, -1.0, 2.0}, m[3] = {0}, v[3] = {0};
    const real g1[3] = {0.1, -0.2, 0.0}, g2[3] = {0.3, 0.1, -0.5};
    const double lr = 1e-3, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1, gs = 0.5;
    double P[3] = {0.5, -1.0, 2.0}, M[3] = {0}, Vv[3] = {0};
    for (int t = 1; t <= 2; t++) {
        const real *g = t == 1 ? g1 : g2;
        adamw_update_cpu(p, g, m, v, 3, (float)lr, (float)b1, (float)b2, (float)eps, (float)wd, (float)gs, t);
        for (int i = 0; i < 3; i++) {
            /* the floats the function receives */
            double fb1 = (float)b1, fb2 = (float)b2, flr = (float)lr, feps = (float)eps, fwd = (float)wd;
            double gg = g[i] * gs;
            M[i] = fb1 * M[i] + (1 - fb1) * gg;
            Vv[i] = fb2 * Vv[i] + (1 - fb2) * gg * gg;
            double mh = M[i] / (1 - pow(fb1, t)), vh = Vv[i] / (1 - pow(fb2, t));
            P[i] -= flr * (mh / (sqrt(vh) + feps) + fwd * P[i]);
        }
    }
    double e = 0;
    for (int i = 0; i < 3; i++) e = fmax(e, fmax(fabs(p[i] - P[i]), fmax(fabs(m[i] - M[i]), fabs(v[i] - Vv[i]))));
    expect("adamw 2 steps vs hand-computed", e < 1e-15, e);
    /* first step sanity: with m=v=0, step 1 moves p by ~lr*sign(g) + lr*wd*p */
    double step0 = 0.5 - (double)(float)1e-3 * (1.0 + (double)(float)0.1 * 0.5);
    real q[1] = {0.5}, mq[1] = {0}, vq[1] = {0}, gq[1] = {0.7};
    adamw_update_cpu(q, gq, mq, vq, 1, 1e-3f, 0.9f, 0.999f, 0.0f, 0.1f, 1.0f, 1);
    expect("adamw step 1 = lr*sign(g) + decay", fabs(q[0] - step0) < 1e-12, fabs(q[0] - step0));
}

static void test_sum_squares(void)
{
    long n = 200003;
    real *x = rnd(n, 1);
    double s = 0;
    for (long i = 0; i < n; i++) s += x[i] * x[i];
    double r = sum_squares_cpu(x, n);
    expect("sum_squares vs naive (rel)", fabs(r - s) / s < 1e-12, fabs(r - s) / s);
}

int main(void)
{
    rng_seed(&rng, 1337);
    printf("layers_cpu finite-difference check (real = %s, h = %g, tol = %g)\n", REAL_NAME, FD_H, FD_TOL);
    test_encoder();
    test_layernorm();
    test_matmul_shape(7, 13, 9);     /* ragged tiles */
    test_matmul_shape(8, 64, 8);     /* full tiles */
    test_matmul_shape(9, 70, 6);     /* C > one 64-column tile, C % 8 != 0 */
    test_matmul_threads();
    test_attention();
    test_gelu();
    test_residual();
    test_softmax_ce();
    test_adamw();
    test_sum_squares();
    if (failures) {
        printf("FAILED: %d check(s)\n", failures);
        return 1;
    }
    printf("all layers_cpu checks passed\n");
    return 0;
}
