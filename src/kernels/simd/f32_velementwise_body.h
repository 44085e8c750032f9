/* The f32 elementwise micro-kernels written once over a SIMD vocabulary (x86/simd_f32.h or
 * arm/simd_f32_neon.h, included first); f32_velementwise_{avx2,avx512,neon}.c each compile them
 * with their own flags and export one table. Every
 * element goes through the same instructions whether it sits in a full vector or in the masked
 * tail, so results never depend on where a tensor is split between threads. */
#ifndef EML_KERNELS_SIMD_F32_VELEMENTWISE_BODY_H
#define EML_KERNELS_SIMD_F32_VELEMENTWISE_BODY_H

#include <math.h>

#include "kernels/velementwise.h"

#define W EML_SIMD_WIDTH

/* ---- math ---- */

/* e^x = 2^n·e^r for xc (NaN or within [-86.9, 88.73]): n = round(xc / ln2) and
 * r = xc - n·ln2 with |r| <= ln2/2 (Cody-Waite split of ln2, exact with FMA); returns e^r by its
 * Taylor polynomial of degree 7 (truncation below 5.2e-9 relative) and n in *n. */
static inline vf v_exp_reduced(vf xc, vf *n)
{
    *n = v_round(v_mul(xc, v_set1(1.44269504088896341f)));
    vf r = v_fnmadd(*n, v_set1(0.693359375f), xc);
    r = v_fnmadd(*n, v_set1(-2.12194440e-4f), r);
    vf p = v_set1(1.0f / 5040.0f);
    p = v_fmadd(p, r, v_set1(1.0f / 720.0f));
    p = v_fmadd(p, r, v_set1(1.0f / 120.0f));
    p = v_fmadd(p, r, v_set1(1.0f / 24.0f));
    p = v_fmadd(p, r, v_set1(1.0f / 6.0f));
    p = v_fmadd(p, r, v_set1(0.5f));
    p = v_fmadd(p, r, v_set1(1.0f));
    return v_fmadd(p, r, v_set1(1.0f));
}

/* exp(x), scaled by 2^n in two exact steps so that n = 128 (x up to ln(FLT_MAX)) still forms a
 * normal power of two. Above ln(FLT_MAX) the result is +inf; below -86.9 it is 0 (the exact
 * value is under 2e-38). */
static inline vf v_exp(vf x)
{
    const vf hi = v_set1(88.72283172607421875f); /* the largest float whose exp is finite */
    const vf lo = v_set1(-86.9f);
    vf n;
    vf p = v_exp_reduced(v_min(hi, v_max(lo, x)), &n); /* NaN stays NaN */
    vf y = v_mul(v_add(p, p), v_pow2(n, -1));          /* p·2·2^(n-1): both factors exact */
    y = v_select(v_gt(x, hi), v_set1(INFINITY), y);
    return v_select(v_lt(x, lo), v_zero(), y);
}

/* exp(x) for x <= 0 (or NaN) in fewer steps: one scaling, and below -86.9 the value at -86.9
 * (1.8e-38) instead of 0. */
static inline vf v_exp_nonpositive(vf x)
{
    vf n;
    vf p = v_exp_reduced(v_max(v_set1(-86.9f), x), &n); /* NaN stays NaN */
    return v_scale_pow2(p, n);
}

/* 1 / (1 + e^-x) from e = exp(-|x|), which never overflows: 1/(1+e) for x >= 0, e/(1+e) below.
 * v_recip is AVX-512's estimate refined, where the division was the slowest step; this runs on
 * every output of a SiLU network's convs. */
static inline vf v_sigmoid(vf x)
{
    vf e = v_exp_nonpositive(v_or(x, v_set1(-0.0f))); /* -|x| */
    vf num = v_select(v_lt(x, v_zero()), e, v_set1(1.0f));
    return v_mul(num, v_recip(v_add(v_set1(1.0f), e)));
}

/* tanh: below |x| = 0.625 the odd polynomial x + x^3·P(x^2) (P fitted for relative error
 * 4.5e-9); above, (1 - t)/(1 + t) with t = exp(-2|x|) <= 0.29, where 1 - t loses no precision. */
static inline vf v_tanh(vf x)
{
    vf ax = v_abs(x);
    vf x2 = v_mul(x, x);
    vf p = v_set1(-5.706483498e-03f);
    p = v_fmadd(p, x2, v_set1(2.064043097e-02f));
    p = v_fmadd(p, x2, v_set1(-5.374012515e-02f));
    p = v_fmadd(p, x2, v_set1(1.333144754e-01f));
    p = v_fmadd(p, x2, v_set1(-3.333328068e-01f));
    vf small = v_fmadd(v_mul(x, x2), p, x);
    vf t = v_exp(v_mul(ax, v_set1(-2.0f)));
    vf large = v_div(v_sub(v_set1(1.0f), t), v_add(v_set1(1.0f), t));
    large = v_or(large, v_signbit(x));
    return v_select(v_lt(ax, v_set1(0.625f)), small, large);
}

/* erf: below |x| = 1, x·P(x^2) (P of degree 6, relative error 1.3e-9); from 1 to 4,
 * 1 - exp(-x^2)·Q(1/x - 0.625) (Q of degree 7 fitted to erfc(x)·exp(x^2), absolute error
 * 2.6e-10); |x| is capped at 4, where erf already rounds to 1. */
static inline vf v_erf(vf x)
{
    vf x2 = v_mul(x, x);
    vf p = v_set1(7.855838339e-05f);
    p = v_fmadd(p, x2, v_set1(-8.010770543e-04f));
    p = v_fmadd(p, x2, v_set1(5.188390613e-03f));
    p = v_fmadd(p, x2, v_set1(-2.685384266e-02f));
    p = v_fmadd(p, x2, v_set1(1.128358617e-01f));
    p = v_fmadd(p, x2, v_set1(-3.761262596e-01f));
    p = v_fmadd(p, x2, v_set1(1.128379107e+00f));
    vf small = v_mul(x, p);
    vf ax = v_min(v_set1(4.0f), v_abs(x)); /* NaN stays NaN */
    vf t = v_sub(v_div(v_set1(1.0f), ax), v_set1(0.625f));
    vf q = v_set1(-1.807304099e-02f);
    q = v_fmadd(q, t, v_set1(4.119260982e-02f));
    q = v_fmadd(q, t, v_set1(-4.716421664e-02f));
    q = v_fmadd(q, t, v_set1(2.344566211e-02f));
    q = v_fmadd(q, t, v_set1(4.376112297e-02f));
    q = v_fmadd(q, t, v_set1(-1.723958850e-01f));
    q = v_fmadd(q, t, v_set1(3.822838366e-01f));
    q = v_fmadd(q, t, v_set1(3.059529960e-01f));
    vf e = v_exp(v_or(v_mul(ax, ax), v_set1(-0.0f)));
    vf large = v_or(v_fnmadd(e, q, v_set1(1.0f)), v_signbit(x));
    return v_select(v_lt(v_abs(x), v_set1(1.0f)), small, large);
}

/* ---- binary ---- */

/* One body per (op, pattern); LOAD_A/LOAD_B read a vector at i or the broadcast scalar. */
#define VBINARY(name, OP, LOAD_A, LOAD_B)                                                          \
    static void EML_SIMD_FN(name)(size_t n, const float *a, const float *b, float *y)              \
    {                                                                                              \
        const vf sa = v_set1(a[0]), sb = v_set1(b[0]);                                             \
        (void)sa;                                                                                  \
        (void)sb;                                                                                  \
        size_t i = 0;                                                                              \
        for (; i + 2 * W <= n; i += 2 * W) {                                                       \
            vf r0 = OP(LOAD_A(a, i, sa), LOAD_B(b, i, sb));                                        \
            vf r1 = OP(LOAD_A(a, i + W, sa), LOAD_B(b, i + W, sb));                                \
            v_storeu(y + i, r0);                                                                   \
            v_storeu(y + i + W, r1);                                                               \
        }                                                                                          \
        for (; i < n; i += W) {                                                                    \
            if (n - i >= W) {                                                                      \
                v_storeu(y + i, OP(LOAD_A(a, i, sa), LOAD_B(b, i, sb)));                           \
            } else {                                                                               \
                vm m = v_tail(n - i);                                                              \
                vf r = OP(LOAD_A##_MASK(a, i, sa, m), LOAD_B##_MASK(b, i, sb, m));                 \
                v_store_mask(y + i, m, r);                                                         \
            }                                                                                      \
        }                                                                                          \
    }

#define LD_VEC(p, i, s) v_loadu((p) + (i))
#define LD_VEC_MASK(p, i, s, m) v_load_mask((p) + (i), (m), v_set1(1.0f))
#define LD_SCALAR(p, i, s) (s)
#define LD_SCALAR_MASK(p, i, s, m) (s)

#define VBINARY_OP(op, OP)                                                                         \
    VBINARY(eml_f32_v##op##_vv, OP, LD_VEC, LD_VEC)                                                \
    VBINARY(eml_f32_v##op##_vs, OP, LD_VEC, LD_SCALAR)                                             \
    VBINARY(eml_f32_v##op##_sv, OP, LD_SCALAR, LD_VEC)

VBINARY_OP(add, v_add)
VBINARY_OP(sub, v_sub)
VBINARY_OP(mul, v_mul)
VBINARY_OP(div, v_div)

/* ---- unary ---- */

#define VUNARY(name, EXPR)                                                                         \
    static void EML_SIMD_FN(name)(size_t n, const float *x, float *y,                              \
                                  const eml_f32_vunary_params *params)                             \
    {                                                                                              \
        const vf alpha = v_set1(params->alpha), beta = v_set1(params->beta);                       \
        const vf lo = v_set1(params->min), hi = v_set1(params->max);                               \
        (void)alpha;                                                                               \
        (void)beta;                                                                                \
        (void)lo;                                                                                  \
        (void)hi;                                                                                  \
        size_t i = 0;                                                                              \
        /* four independent vectors a step keep the FP pipes busy through exp's long chain */      \
        for (; i + 4 * W <= n; i += 4 * W) {                                                       \
            vf v = v_loadu(x + i);                                                                 \
            vf r0 = EXPR;                                                                          \
            v = v_loadu(x + i + W);                                                                \
            vf r1 = EXPR;                                                                          \
            v = v_loadu(x + i + 2 * W);                                                            \
            vf r2 = EXPR;                                                                          \
            v = v_loadu(x + i + 3 * W);                                                            \
            vf r3 = EXPR;                                                                          \
            v_storeu(y + i, r0);                                                                   \
            v_storeu(y + i + W, r1);                                                               \
            v_storeu(y + i + 2 * W, r2);                                                           \
            v_storeu(y + i + 3 * W, r3);                                                           \
        }                                                                                          \
        for (; i + W <= n; i += W) {                                                               \
            vf v = v_loadu(x + i);                                                                 \
            v_storeu(y + i, EXPR);                                                                 \
        }                                                                                          \
        if (i < n) {                                                                               \
            vm m = v_tail(n - i);                                                                  \
            vf v = v_load_mask(x + i, m, v_zero());                                                \
            v_store_mask(y + i, m, EXPR);                                                          \
        }                                                                                          \
    }

/* Relu keeps -0 and NaN (v_max returns its second operand for either), as `v < 0 ? 0 : v`. */
VUNARY(eml_f32_vrelu, v_max(v_zero(), v))
VUNARY(eml_f32_vleaky_relu, v_select(v_lt(v, v_zero()), v_mul(v, alpha), v))
/* below lo → lo, then above hi → hi: NaN passes, lo > hi gives hi (the reference's order) */
VUNARY(eml_f32_vclamp, v_min(hi, v_max(lo, v)))
VUNARY(eml_f32_vsigmoid, v_sigmoid(v))
VUNARY(eml_f32_vtanh, v_tanh(v))
/* alpha·v + beta rounded twice (no FMA), as the reference computes it */
VUNARY(eml_f32_vhard_sigmoid, v_min(v_set1(1.0f), v_max(v_zero(), v_add(v_mul(v, alpha), beta))))
VUNARY(eml_f32_vhard_swish,
       v_mul(v, v_min(v_set1(1.0f), v_max(v_zero(), v_add(v_mul(v, alpha), beta)))))
VUNARY(eml_f32_vexp, v_exp(v))
VUNARY(eml_f32_verf, v_erf(v))
VUNARY(eml_f32_vsilu, v_mul(v, v_sigmoid(v)))

/* ---- softmax rows ---- */

/* The row's maximum; a NaN may be dropped here, but it then makes the sum (and the row) NaN. */
static float row_max(size_t n, const float *x)
{
    vf m0 = v_set1(-INFINITY), m1 = m0;
    size_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        m0 = v_max(m0, v_loadu(x + i));
        m1 = v_max(m1, v_loadu(x + i + W));
    }
    for (; i < n; i += W) {
        vf v = n - i >= W ? v_loadu(x + i) : v_load_mask(x + i, v_tail(n - i), v_set1(-INFINITY));
        m0 = v_max(m0, v);
    }
    return v_hmax(v_max(m0, m1));
}

/* Sum of exp(x - max); stores the terms into y when y is not NULL. */
static float row_exp_sum(size_t n, const float *x, float max, float *y)
{
    const vf vmax = v_set1(max);
    vf s0 = v_zero(), s1 = v_zero();
    size_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        vf e0 = v_exp(v_sub(v_loadu(x + i), vmax));
        vf e1 = v_exp(v_sub(v_loadu(x + i + W), vmax));
        if (y) {
            v_storeu(y + i, e0);
            v_storeu(y + i + W, e1);
        }
        s0 = v_add(s0, e0);
        s1 = v_add(s1, e1);
    }
    for (; i < n; i += W) {
        vf e;
        if (n - i >= W) {
            e = v_exp(v_sub(v_loadu(x + i), vmax));
            if (y)
                v_storeu(y + i, e);
        } else {
            vm m = v_tail(n - i);
            e = v_select(m, v_exp(v_sub(v_load_mask(x + i, m, v_zero()), vmax)), v_zero());
            if (y)
                v_store_mask(y + i, m, e);
        }
        s0 = v_add(s0, e);
    }
    return v_hsum(v_add(s0, s1));
}

static void EML_SIMD_FN(eml_f32_vsoftmax)(size_t n, const float *x, float *y)
{
    float max = row_max(n, x);
    float sum = row_exp_sum(n, x, max, y);
    const vf scale = v_set1(1.0f / sum);
    size_t i = 0;
    for (; i + W <= n; i += W)
        v_storeu(y + i, v_mul(v_loadu(y + i), scale));
    if (i < n) {
        vm m = v_tail(n - i);
        v_store_mask(y + i, m, v_mul(v_load_mask(y + i, m, v_zero()), scale));
    }
}

static void EML_SIMD_FN(eml_f32_vlog_softmax)(size_t n, const float *x, float *y)
{
    float max = row_max(n, x);
    float sum = row_exp_sum(n, x, max, NULL);
    const vf vmax = v_set1(max), vlog = v_set1(logf(sum));
    size_t i = 0;
    for (; i + W <= n; i += W)
        v_storeu(y + i, v_sub(v_sub(v_loadu(x + i), vmax), vlog));
    if (i < n) {
        vm m = v_tail(n - i);
        v_store_mask(y + i, m, v_sub(v_sub(v_load_mask(x + i, m, v_zero()), vmax), vlog));
    }
}

/* ---- the table ---- */

#define BINARY_ROW(op)                                                                             \
    {                                                                                              \
        EML_SIMD_FN(eml_f32_v##op##_vv), EML_SIMD_FN(eml_f32_v##op##_vs),                          \
            EML_SIMD_FN(eml_f32_v##op##_sv)                                                        \
    }

#define EML_VELEM_TABLE(isa_bits)                                                                  \
    const eml_f32_velem_ops EML_SIMD_FN(eml_f32_velem) = {                                         \
        .isa_name = EML_SIMD_NAME,                                                                 \
        .isa = (isa_bits),                                                                         \
        .width = W,                                                                                \
        .binary = {BINARY_ROW(add), BINARY_ROW(sub), BINARY_ROW(mul), BINARY_ROW(div)},            \
        .unary =                                                                                   \
            {                                                                                      \
                [EML_F32_VRELU] = EML_SIMD_FN(eml_f32_vrelu),                                      \
                [EML_F32_VLEAKY_RELU] = EML_SIMD_FN(eml_f32_vleaky_relu),                          \
                [EML_F32_VCLAMP] = EML_SIMD_FN(eml_f32_vclamp),                                    \
                [EML_F32_VSIGMOID] = EML_SIMD_FN(eml_f32_vsigmoid),                                \
                [EML_F32_VTANH] = EML_SIMD_FN(eml_f32_vtanh),                                      \
                [EML_F32_VHARD_SIGMOID] = EML_SIMD_FN(eml_f32_vhard_sigmoid),                      \
                [EML_F32_VHARD_SWISH] = EML_SIMD_FN(eml_f32_vhard_swish),                          \
                [EML_F32_VEXP] = EML_SIMD_FN(eml_f32_vexp),                                        \
                [EML_F32_VERF] = EML_SIMD_FN(eml_f32_verf),                                        \
                [EML_F32_VSILU] = EML_SIMD_FN(eml_f32_vsilu),                                      \
            },                                                                                     \
        .softmax = EML_SIMD_FN(eml_f32_vsoftmax),                                                  \
        .log_softmax = EML_SIMD_FN(eml_f32_vlog_softmax),                                          \
    };

#endif
