/* Property tests of the fast f32 elementwise kernels: every micro-kernel table this CPU runs
 * against the reference kernels (random values, sizes 1 … 3·width+1 and large odd ones,
 * misaligned pointers, in place), the transcendental functions against their stated error
 * bounds, broadcasts through the fast op kernels, bit-identical results for 1, 2 and 3 threads,
 * and a small graph through the runtime. */
#include <math.h>
#include <string.h>

#include "fast_test_util.h"
#include "graph/graph.h"
#include "harness.h"
#include "kernels/fast_ops.h"
#include "kernels/ref/activation.h"
#include "kernels/ref/binary.h"
#include "kernels/ref/reduce.h"
#include "kernels/ref/unary.h"
#include "runtime/plan.h"

#define MAX_TABLES 8

/* The tables this CPU can run (whatever EML_ISA says); skips the case when there is none. */
static size_t usable_tables(const eml_f32_velem_ops **out)
{
    size_t count, k = 0;
    const eml_f32_velem_ops *const *all = eml__f32_velem_tables(&count);
    for (size_t i = 0; i < count && k < MAX_TABLES; i++) {
        if ((eml__cpu_features_detected() & all[i]->isa) == all[i]->isa)
            out[k++] = all[i];
    }
    if (k == 0)
        eml_test_skip("no elementwise micro-kernel table runs on this CPU");
    return k;
}

/* Sizes 1 … 3·width+1, then large odd ones. */
static size_t test_sizes(size_t width, size_t *out)
{
    size_t k = 0;
    for (size_t n = 1; n <= 3 * width + 1; n++)
        out[k++] = n;
    out[k++] = 1001;
    out[k++] = 40009;
    return k;
}

/* n floats at an address `misalign` floats past a 64-byte boundary. */
typedef struct fbuf {
    float *base;
    float *p;
} fbuf;

static fbuf fbuf_new(size_t n, size_t misalign)
{
    fbuf b;
    b.base = aligned_alloc(64, ((n + misalign) * sizeof(float) + 63) / 64 * 64 + 64);
    REQUIRE(b.base != NULL);
    b.p = b.base + misalign;
    return b;
}

static eml_tensor tensor_1d(float *data, size_t n)
{
    int64_t dims[1] = {(int64_t)n};
    return tensor_f32(data, 1, dims);
}

static bool same_bits(float a, float b)
{
    return memcmp(&a, &b, sizeof(a)) == 0 || (isnan(a) && isnan(b));
}

static bool close_to(float got, float ref, float atol, float rtol)
{
    if (isnan(ref) || isnan(got))
        return isnan(ref) && isnan(got);
    if (isinf(ref) || isinf(got))
        return got == ref;
    return fabsf(got - ref) <= atol + rtol * fabsf(ref);
}

/* ---- binary micro-kernels: exact against the reference kernel ---- */

static const int32_t binary_kinds[EML_F32_VBINARY_OPS] = {EML_BINARY_ADD, EML_BINARY_SUB,
                                                          EML_BINARY_MUL, EML_BINARY_DIV};
static const eml_op_id binary_ops[EML_F32_VBINARY_OPS] = {EML_OP_Add, EML_OP_Sub, EML_OP_Mul,
                                                          EML_OP_Div};

EML_TEST(binary_microkernels_match_reference)
{
    const eml_f32_velem_ops *tables[MAX_TABLES];
    size_t nt = usable_tables(tables);
    for (size_t t = 0; t < nt; t++) {
        size_t sizes[64];
        size_t ns = test_sizes(tables[t]->width, sizes);
        for (size_t si = 0; si < ns; si++) {
            size_t n = sizes[si], mis = si % 3;
            fbuf a = fbuf_new(n, mis), b = fbuf_new(n, 2 - mis), y = fbuf_new(n, 1);
            fbuf ref = fbuf_new(n, 0);
            for (int op = 0; op < EML_F32_VBINARY_OPS; op++) {
                for (int pat = 0; pat < EML_F32_VBINARY_PATTERNS; pat++) {
                    fill(a.p, n, -4.0f, 4.0f);
                    fill(b.p, n, 0.25f, 4.0f);
                    if (n > 3) /* a zero divisor and a NaN */
                        b.p[n / 2] = 0.0f, a.p[n / 3] = NAN;
                    eml_binary_params p = {binary_kinds[op], EML_BCAST_NUMPY, 0, 0};
                    eml_tensor in[2] = {tensor_1d(a.p, pat == EML_F32_SV ? 1 : n),
                                        tensor_1d(b.p, pat == EML_F32_VS ? 1 : n)};
                    eml_tensor out = tensor_1d(ref.p, n);
                    REQUIRE(run_kernel(eml__ref_binary, &p, in, 2, &out, NULL) == EML_OK);
                    tables[t]->binary[op][pat](n, a.p, b.p, y.p);
                    int bad = 0;
                    for (size_t i = 0; i < n; i++)
                        bad += !same_bits(y.p[i], ref.p[i]);
                    /* in place: the vector operand is overwritten */
                    float *dst = pat == EML_F32_SV ? b.p : a.p;
                    tables[t]->binary[op][pat](n, a.p, b.p, dst);
                    for (size_t i = 0; i < n; i++)
                        bad += !same_bits(dst[i], ref.p[i]);
                    if (bad)
                        fprintf(stderr, "%s op %d pattern %d n %zu: %d mismatches\n",
                                tables[t]->isa_name, op, pat, n, bad);
                    CHECK(bad == 0);
                }
            }
            free(a.base);
            free(b.base);
            free(y.base);
            free(ref.base);
        }
    }
}

/* ---- unary micro-kernels against eml__ref_unary / eml__ref_clip ---- */

typedef struct unary_case {
    int32_t op; /* eml_f32_vunary_op */
    int32_t fn; /* eml_unary_fn of the reference */
    float alpha, beta;
    float lo, hi;     /* input range */
    float atol, rtol; /* 0, 0: exact */
} unary_case;

/* The reference itself rounds (glibc's expf, tanhf, erff: within 2 ulp), hence the 2.4e-7. */
static const unary_case unary_cases[] = {
    {EML_F32_VRELU, EML_UNARY_RELU, 0, 0, -5, 5, 0, 0},
    {EML_F32_VLEAKY_RELU, EML_UNARY_LEAKY_RELU, 0.01f, 0, -5, 5, 0, 0},
    {EML_F32_VHARD_SIGMOID, EML_UNARY_HARD_SIGMOID, 0.2f, 0.5f, -6, 6, 0, 0},
    {EML_F32_VHARD_SWISH, EML_UNARY_HARD_SWISH, 1.0f / 6.0f, 0.5f, -6, 6, 0, 0},
    {EML_F32_VSIGMOID, EML_UNARY_SIGMOID, 0, 0, -30, 30, 1e-37f,
     EML_F32_VSIGMOID_MAX_REL_ERROR + 2.4e-7f},
    {EML_F32_VTANH, EML_UNARY_TANH, 0, 0, -4, 4, 1e-37f, EML_F32_VTANH_MAX_REL_ERROR + 2.4e-7f},
    {EML_F32_VTANH, EML_UNARY_TANH, 0, 0, -0.7f, 0.7f, 1e-37f,
     EML_F32_VTANH_MAX_REL_ERROR + 2.4e-7f},
    {EML_F32_VEXP, EML_UNARY_EXP, 0, 0, -88, 88, 1e-37f, EML_F32_VEXP_MAX_REL_ERROR + 2.4e-7f},
    {EML_F32_VERF, EML_UNARY_ERF, 0, 0, -4.5f, 4.5f, EML_F32_VERF_MAX_ABS_ERROR + 1.2e-7f, 0},
};

static bool unary_matches(const unary_case *c, const float *got, const float *ref, size_t n,
                          const char *isa)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        bool ok = c->rtol == 0 && c->atol == 0 ? same_bits(got[i], ref[i])
                                               : close_to(got[i], ref[i], c->atol, c->rtol);
        if (!ok && bad++ < 3)
            fprintf(stderr, "%s unary op %d: [%zu] got %.9g, reference %.9g\n", isa, (int)c->op, i,
                    (double)got[i], (double)ref[i]);
    }
    return bad == 0;
}

EML_TEST(unary_microkernels_match_reference)
{
    static const float specials[] = {0.0f,    -0.0f,  NAN,    INFINITY, -INFINITY, 1e-30f,
                                     -1e-30f, 1e-40f, 100.0f, -100.0f,  88.7f,     -86.95f};
    const size_t n_specials = sizeof(specials) / sizeof(specials[0]);
    const eml_f32_velem_ops *tables[MAX_TABLES];
    size_t nt = usable_tables(tables);
    for (size_t t = 0; t < nt; t++) {
        size_t sizes[64];
        size_t ns = test_sizes(tables[t]->width, sizes);
        for (size_t ci = 0; ci < sizeof(unary_cases) / sizeof(unary_cases[0]); ci++) {
            const unary_case *c = &unary_cases[ci];
            for (size_t si = 0; si < ns; si++) {
                size_t n = sizes[si];
                fbuf x = fbuf_new(n, si % 4), y = fbuf_new(n, (si + 1) % 4), ref = fbuf_new(n, 0);
                fill(x.p, n, c->lo, c->hi);
                for (size_t i = 0; i < n_specials && n > 2 * n_specials; i++)
                    x.p[i * (n / n_specials)] = specials[i];
                eml_unary_params p = {c->fn, c->alpha, c->beta, 0, 0, 0};
                eml_f32_vunary_params vp = {c->alpha, c->beta, -INFINITY, INFINITY};
                eml_tensor in = tensor_1d(x.p, n), out = tensor_1d(ref.p, n);
                REQUIRE(run_kernel(eml__ref_unary, &p, &in, 1, &out, NULL) == EML_OK);
                tables[t]->unary[c->op](n, x.p, y.p, &vp);
                CHECK(unary_matches(c, y.p, ref.p, n, tables[t]->isa_name));
                tables[t]->unary[c->op](n, x.p, x.p, &vp); /* in place */
                CHECK(unary_matches(c, x.p, ref.p, n, tables[t]->isa_name));
                free(x.base);
                free(y.base);
                free(ref.base);
            }
        }
    }
}

/* SiLU (the fused activations' x·sigmoid(x)) against the reference activation. */
EML_TEST(silu_matches_reference_activation)
{
    const eml_f32_velem_ops *tables[MAX_TABLES];
    size_t nt = usable_tables(tables);
    const eml_activation silu = {EML_ACTIVATION_SILU, 0, 0};
    const eml_f32_vunary_params vp = {0, 0, -INFINITY, INFINITY};
    for (size_t t = 0; t < nt; t++) {
        size_t sizes[64];
        size_t ns = test_sizes(tables[t]->width, sizes);
        for (size_t si = 0; si < ns; si++) {
            size_t n = sizes[si];
            fbuf x = fbuf_new(n, si % 4), y = fbuf_new(n, 1), ref = fbuf_new(n, 0);
            fill(x.p, n, -20.0f, 20.0f);
            memcpy(ref.p, x.p, n * sizeof(float));
            eml__activation_apply(&silu, EML_DTYPE_F32, ref.p, (int64_t)n, NULL);
            tables[t]->unary[EML_F32_VSILU](n, x.p, y.p, &vp);
            int bad = 0;
            for (size_t i = 0; i < n; i++)
                bad += !close_to(y.p[i], ref.p[i], 1e-37f, EML_F32_VSIGMOID_MAX_REL_ERROR + 3e-7f);
            CHECK(bad == 0);
            free(x.base);
            free(y.base);
            free(ref.base);
        }
    }
}

EML_TEST(clamp_matches_reference_clip)
{
    /* min only, max only, both, min > max, and a NaN bound (which clips nothing) */
    static const struct {
        int has_min, has_max;
        float min, max;
    } bounds[] = {{1, 0, -1.0f, 0},
                  {0, 1, 0, 6.0f},
                  {1, 1, 0.0f, 6.0f},
                  {1, 1, 2.0f, -2.0f},
                  {1, 1, NAN, 1.0f}};
    const eml_f32_velem_ops *tables[MAX_TABLES];
    size_t nt = usable_tables(tables);
    for (size_t t = 0; t < nt; t++) {
        size_t sizes[64];
        size_t ns = test_sizes(tables[t]->width, sizes);
        for (size_t bi = 0; bi < sizeof(bounds) / sizeof(bounds[0]); bi++) {
            for (size_t si = 0; si < ns; si++) {
                size_t n = sizes[si];
                fbuf x = fbuf_new(n, si % 3), y = fbuf_new(n, 0), ref = fbuf_new(n, 0);
                fill(x.p, n, -10.0f, 10.0f);
                x.p[n / 2] = NAN;
                eml_clip_params p = {0, bounds[bi].has_min, bounds[bi].has_max, bounds[bi].min,
                                     bounds[bi].max};
                eml_f32_vunary_params vp = {0, 0, bounds[bi].has_min ? bounds[bi].min : -INFINITY,
                                            bounds[bi].has_max ? bounds[bi].max : INFINITY};
                eml_tensor in = tensor_1d(x.p, n), out = tensor_1d(ref.p, n);
                REQUIRE(run_kernel(eml__ref_clip, &p, &in, 1, &out, NULL) == EML_OK);
                tables[t]->unary[EML_F32_VCLAMP](n, x.p, y.p, &vp);
                int bad = 0;
                for (size_t i = 0; i < n; i++)
                    bad += !same_bits(y.p[i], ref.p[i]);
                CHECK(bad == 0);
                free(x.base);
                free(y.base);
                free(ref.base);
            }
        }
    }
}

/* ---- the stated error bounds, over the whole float range ---- */

typedef double (*exact_fn)(double);

static double exact_sigmoid(double x)
{
    return x < 0 ? exp(x) / (1 + exp(x)) : 1 / (1 + exp(-x));
}

/* Largest error of f against `exact` over every 509th float (about 8.4 million of them, both
 * signs, subnormals to infinity): relative where |exact| >= floor, absolute below it. */
static void max_errors(const eml_f32_velem_ops *t, int32_t op, exact_fn exact, double floor,
                       double *max_rel, double *max_abs_below, double *max_abs)
{
    enum { BLOCK = 4096 };
    static float x[BLOCK], y[BLOCK];
    eml_f32_vunary_params vp = {0, 0, -INFINITY, INFINITY};
    *max_rel = *max_abs_below = *max_abs = 0.0;
    size_t k = 0;
    for (uint64_t bits = 0; bits <= 0xffffffffu; bits += 509) {
        uint32_t b32 = (uint32_t)bits;
        float v;
        memcpy(&v, &b32, sizeof(v));
        if (isnan(v))
            continue;
        x[k++] = v;
        if (k < BLOCK && bits + 509 <= 0xffffffffu)
            continue;
        t->unary[op](k, x, y, &vp);
        for (size_t i = 0; i < k; i++) {
            double e = exact((double)x[i]);
            double err = fabs((double)y[i] - e);
            if (isinf((float)e) || isinf(y[i])) /* past FLT_MAX: only inf is right */
                err = y[i] == (float)e ? 0.0 : INFINITY;
            if (err > *max_abs)
                *max_abs = err;
            if (fabs(e) >= floor && err / fabs(e) > *max_rel)
                *max_rel = err / fabs(e);
            if (fabs(e) < floor && err > *max_abs_below)
                *max_abs_below = err;
        }
        k = 0;
    }
}

EML_TEST(transcendentals_within_stated_error)
{
    const eml_f32_velem_ops *tables[MAX_TABLES];
    size_t nt = usable_tables(tables);
    for (size_t t = 0; t < nt; t++) {
        double rel, abs_below, abs_all;
        /* exp: relative down to the flush point's result, absolute 2e-38 below it */
        max_errors(tables[t], EML_F32_VEXP, exp, exp(-86.9), &rel, &abs_below, &abs_all);
        printf("%s exp: max relative error %.3g, below the flush point %.3g\n", tables[t]->isa_name,
               rel, abs_below);
        CHECK(rel <= EML_F32_VEXP_MAX_REL_ERROR);
        CHECK(abs_below <= 2e-38);
        max_errors(tables[t], EML_F32_VSIGMOID, exact_sigmoid, exp(-86.9), &rel, &abs_below,
                   &abs_all);
        printf("%s sigmoid: max relative error %.3g, below the flush point %.3g\n",
               tables[t]->isa_name, rel, abs_below);
        CHECK(rel <= EML_F32_VSIGMOID_MAX_REL_ERROR);
        CHECK(abs_below <= 2e-38);
        max_errors(tables[t], EML_F32_VTANH, tanh, 0.0, &rel, &abs_below, &abs_all);
        printf("%s tanh: max relative error %.3g\n", tables[t]->isa_name, rel);
        CHECK(rel <= EML_F32_VTANH_MAX_REL_ERROR);
        max_errors(tables[t], EML_F32_VERF, erf, INFINITY, &rel, &abs_below, &abs_all);
        printf("%s erf: max absolute error %.3g\n", tables[t]->isa_name, abs_all);
        CHECK(abs_all <= EML_F32_VERF_MAX_ABS_ERROR);
    }
}

/* ---- softmax rows against eml__ref_softmax ---- */

EML_TEST(softmax_rows_match_reference)
{
    const eml_f32_velem_ops *tables[MAX_TABLES];
    size_t nt = usable_tables(tables);
    for (size_t t = 0; t < nt; t++) {
        size_t sizes[64];
        size_t ns = test_sizes(tables[t]->width, sizes);
        for (int log = 0; log < 2; log++) {
            for (size_t si = 0; si < ns; si++) {
                const size_t rows = 3, n = sizes[si], total = rows * n;
                fbuf x = fbuf_new(total, si % 5), y = fbuf_new(total, 3), ref = fbuf_new(total, 0);
                fill(x.p, total, -20.0f, 20.0f);
                x.p[n - 1] = 60.0f; /* a dominant element in row 0 */
                eml_softmax_params p = {log ? EML_LOG_SOFTMAX : EML_SOFTMAX, 0, -1};
                int64_t dims[2] = {(int64_t)rows, (int64_t)n};
                eml_tensor in = tensor_f32(x.p, 2, dims), out = tensor_f32(ref.p, 2, dims);
                REQUIRE(run_kernel(eml__ref_softmax, &p, &in, 1, &out, NULL) == EML_OK);
                eml_f32_vrow_fn fn = log ? tables[t]->log_softmax : tables[t]->softmax;
                for (size_t r = 0; r < rows; r++)
                    fn(n, x.p + r * n, y.p + r * n);
                int bad = 0;
                for (size_t i = 0; i < total; i++)
                    bad += !close_to(y.p[i], ref.p[i], log ? 2e-5f : 1e-7f, log ? 1e-6f : 2e-5f);
                for (size_t r = 0; r < rows; r++) /* in place */
                    fn(n, x.p + r * n, x.p + r * n);
                for (size_t i = 0; i < total; i++)
                    bad += !same_bits(x.p[i], y.p[i]);
                if (bad)
                    fprintf(stderr, "%s %s n %zu: %d mismatches\n", tables[t]->isa_name,
                            log ? "log_softmax" : "softmax", n, bad);
                CHECK(bad == 0);
                free(x.base);
                free(y.base);
                free(ref.base);
            }
        }
    }
}

EML_TEST(softmax_special_rows)
{
    /* a NaN, +inf or all -inf make the whole row NaN, as in the reference */
    static const float rows[3][5] = {{1, 2, NAN, 3, 4},
                                     {1, INFINITY, 2, 3, 4},
                                     {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY}};
    const eml_f32_velem_ops *tables[MAX_TABLES];
    size_t nt = usable_tables(tables);
    for (size_t t = 0; t < nt; t++) {
        for (int r = 0; r < 3; r++) {
            float y[5];
            tables[t]->softmax(5, rows[r], y);
            for (int i = 0; i < 5; i++)
                CHECK(isnan(y[i]));
        }
        float one[1] = {-3.0f}, y1[1];
        tables[t]->softmax(1, one, y1);
        CHECK(y1[0] == 1.0f);
        tables[t]->log_softmax(1, one, y1);
        CHECK(y1[0] == 0.0f);
    }
}

/* ---- the fast op kernels: selection, broadcasts, fallbacks, threads ---- */

/* Selects the fast kernel of `op` with table `ops`; fk->run stays NULL when it declines. */
static void select_op(eml_env *env, eml_op_id op, int32_t opset, const void *params,
                      const eml_tensor *in, int n_in, const eml_f32_velem_ops *ops,
                      eml_fast_kernel *fk)
{
    memset(fk, 0, sizeof(*fk));
    eml_fast_select_ctx sc = {op, params, opset, in, n_in, 1, env};
    REQUIRE(eml__fast_velem_select_with(&sc, ops, fk) == EML_OK);
}

static int64_t count_of(const int64_t *dims, int rank)
{
    return eml__shape_count(dims, rank);
}

EML_TEST(binary_broadcasts_match_reference)
{
    static const struct {
        int ra, rb;
        int64_t a[4], b[4];
        int mode; /* eml_bcast_mode; AXIS uses axis 1 */
    } cases[] = {
        {4, 4, {2, 3, 5, 7}, {2, 3, 5, 7}, EML_BCAST_NUMPY}, /* same shape */
        {4, 1, {2, 3, 5, 7}, {1}, EML_BCAST_NUMPY},          /* scalar */
        {4, 0, {2, 3, 5, 7}, {0}, EML_BCAST_NUMPY},          /* rank-0 scalar */
        {1, 4, {1}, {2, 3, 5, 7}, EML_BCAST_NUMPY},          /* scalar first */
        {2, 1, {33, 19}, {19}, EML_BCAST_NUMPY},             /* trailing (bias) */
        {4, 3, {2, 3, 5, 7}, {3, 1, 1}, EML_BCAST_NUMPY},    /* per channel, NCHW */
        {3, 3, {1, 17, 1}, {4, 1, 9}, EML_BCAST_NUMPY},      /* both broadcast */
        {4, 2, {2, 3, 4, 5}, {3, 4}, EML_BCAST_AXIS},        /* opset < 7 with axis */
    };
    const eml_f32_velem_ops *tables[MAX_TABLES];
    size_t nt = usable_tables(tables);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    for (size_t t = 0; t < nt; t++) {
        for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
            for (int op = 0; op < EML_F32_VBINARY_OPS; op++) {
                eml_binary_params p = {binary_kinds[op], cases[ci].mode, 1,
                                       cases[ci].mode == EML_BCAST_AXIS};
                int64_t na = count_of(cases[ci].a, cases[ci].ra);
                int64_t nb = count_of(cases[ci].b, cases[ci].rb);
                fbuf a = fbuf_new((size_t)na, 1), b = fbuf_new((size_t)nb, 2);
                fill(a.p, (size_t)na, -3.0f, 3.0f);
                fill(b.p, (size_t)nb, 0.5f, 3.0f);
                eml_tensor in[2] = {tensor_f32(a.p, cases[ci].ra, cases[ci].a),
                                    tensor_f32(b.p, cases[ci].rb, cases[ci].b)};
                int64_t bd[EML_MAX_RANK], od[EML_MAX_RANK];
                int br, orank;
                REQUIRE(eml__binary_align(&p, &in[0], &in[1], bd, &br) == EML_OK);
                REQUIRE(eml__broadcast_shape(in[0].dims, in[0].rank, bd, br, od, &orank) == EML_OK);
                size_t n = (size_t)count_of(od, orank);
                fbuf y = fbuf_new(n, 0), ref = fbuf_new(n, 3);
                eml_tensor out = tensor_f32(ref.p, orank, od);
                REQUIRE(run_kernel(eml__ref_binary, &p, in, 2, &out, NULL) == EML_OK);
                eml_fast_kernel fk;
                select_op(env, binary_ops[op], 13, &p, in, 2, tables[t], &fk);
                REQUIRE(fk.run != NULL);
                out.data = y.p;
                REQUIRE(run_kernel(fk.run, fk.state, in, 2, &out, NULL) == EML_OK);
                int bad = 0;
                for (size_t i = 0; i < n; i++)
                    bad += !same_bits(y.p[i], ref.p[i]);
                if (bad)
                    fprintf(stderr, "%s case %zu op %d: %d mismatches\n", tables[t]->isa_name, ci,
                            op, bad);
                CHECK(bad == 0);
                release(env, &fk);
                free(a.base);
                free(b.base);
                free(y.base);
                free(ref.base);
            }
        }
    }
    eml_env_destroy(env);
}

EML_TEST(selectors_decline_what_they_do_not_cover)
{
    const eml_f32_velem_ops *tables[MAX_TABLES];
    usable_tables(tables);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    int64_t dims[2] = {3, 4};
    eml_tensor in[2] = {tensor_f32(NULL, 2, dims), tensor_f32(NULL, 2, dims)};
    eml_fast_kernel fk;
    /* float64 and int32 Add, Pow, Hardmax, an unlisted unary function */
    eml_binary_params add = {EML_BINARY_ADD, EML_BCAST_NUMPY, 0, 0};
    in[0].dtype = in[1].dtype = EML_DTYPE_F64;
    select_op(env, EML_OP_Add, 13, &add, in, 2, tables[0], &fk);
    CHECK(fk.run == NULL);
    in[0].dtype = in[1].dtype = EML_DTYPE_I32;
    select_op(env, EML_OP_Add, 13, &add, in, 2, tables[0], &fk);
    CHECK(fk.run == NULL);
    in[0].dtype = in[1].dtype = EML_DTYPE_F32;
    eml_binary_params pw = {EML_BINARY_POW, EML_BCAST_NUMPY, 0, 0};
    select_op(env, EML_OP_Pow, 13, &pw, in, 2, tables[0], &fk);
    CHECK(fk.run == NULL);
    eml_softmax_params hm = {EML_HARDMAX, 0, -1};
    select_op(env, EML_OP_Hardmax, 13, &hm, in, 1, tables[0], &fk);
    CHECK(fk.run == NULL);
    eml_unary_params ab = {EML_UNARY_ABS, 0, 0, 0, 0, 0};
    select_op(env, EML_OP_Abs, 13, &ab, in, 1, tables[0], &fk);
    CHECK(fk.run == NULL);
    in[0].dtype = EML_DTYPE_F16;
    eml_unary_params sg = {EML_UNARY_SIGMOID, 0, 0, 0, 0, 0};
    select_op(env, EML_OP_Sigmoid, 13, &sg, in, 1, tables[0], &fk);
    CHECK(fk.run == NULL);
    /* the ones it takes name what runs */
    in[0].dtype = EML_DTYPE_F32;
    select_op(env, EML_OP_Sigmoid, 13, &sg, in, 1, tables[0], &fk);
    REQUIRE(fk.run != NULL);
    CHECK(strncmp(fk.name, "f32_vsigmoid__", 14) == 0);
    release(env, &fk);
    eml_env_destroy(env);
}

/* Softmax through the op kernel: contiguous rows (opset 13 last axis, opset 11's flattened
 * block) on the fast path, a strided axis through the reference. */
EML_TEST(softmax_op_layouts)
{
    static const struct {
        int32_t opset, flatten;
        int64_t axis;
    } cases[] = {{13, 0, -1}, {13, 0, 2}, {11, 1, 1}, {11, 1, 3}, {13, 0, 0}, {13, 0, 1}};
    const eml_f32_velem_ops *tables[MAX_TABLES];
    size_t nt = usable_tables(tables);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    int64_t dims[3] = {3, 5, 37};
    const size_t n = 3 * 5 * 37;
    for (size_t t = 0; t < nt; t++) {
        for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
            for (int log = 0; log < 2; log++) {
                fbuf x = fbuf_new(n, 1), y = fbuf_new(n, 0), ref = fbuf_new(n, 0);
                fill(x.p, n, -8.0f, 8.0f);
                eml_softmax_params p = {log ? EML_LOG_SOFTMAX : EML_SOFTMAX, cases[ci].flatten,
                                        cases[ci].axis};
                eml_tensor in = tensor_f32(x.p, 3, dims), out = tensor_f32(ref.p, 3, dims);
                REQUIRE(run_kernel(eml__ref_softmax, &p, &in, 1, &out, NULL) == EML_OK);
                eml_fast_kernel fk;
                select_op(env, log ? EML_OP_LogSoftmax : EML_OP_Softmax, cases[ci].opset, &p, &in,
                          1, tables[t], &fk);
                REQUIRE(fk.run != NULL);
                out.data = y.p;
                REQUIRE(run_kernel(fk.run, fk.state, &in, 1, &out, NULL) == EML_OK);
                int bad = 0;
                for (size_t i = 0; i < n; i++)
                    bad += !close_to(y.p[i], ref.p[i], 2e-6f, 2e-5f);
                CHECK(bad == 0);
                release(env, &fk);
                free(x.base);
                free(y.base);
                free(ref.base);
            }
        }
    }
    eml_env_destroy(env);
}

/* Clip 11+ reads its bounds from inputs (either may be omitted); earlier opsets from attributes. */
EML_TEST(clip_op_bounds)
{
    const eml_f32_velem_ops *tables[MAX_TABLES];
    size_t nt = usable_tables(tables);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    const size_t n = 1000;
    float lo = -1.5f, hi = 2.0f;
    for (size_t t = 0; t < nt; t++) {
        for (int c = 0; c < 4; c++) {
            fbuf x = fbuf_new(n, 2), y = fbuf_new(n, 0), ref = fbuf_new(n, 0);
            fill(x.p, n, -4.0f, 4.0f);
            eml_clip_params p = {c < 3, c == 3, c == 3, -0.5f, 0.5f};
            eml_tensor in[3] = {tensor_1d(x.p, n), tensor_f32(&lo, 0, NULL),
                                tensor_f32(&hi, 0, NULL)};
            if (c == 1) /* min omitted */
                memset(&in[1], 0, sizeof(in[1]));
            int n_in = c == 2 ? 2 : c == 3 ? 1 : 3; /* c == 2: max omitted */
            eml_tensor out = tensor_1d(ref.p, n);
            REQUIRE(run_kernel(eml__ref_clip, &p, in, n_in, &out, NULL) == EML_OK);
            eml_fast_kernel fk;
            select_op(env, EML_OP_Clip, c < 3 ? 13 : 6, &p, in, n_in, tables[t], &fk);
            REQUIRE(fk.run != NULL);
            out.data = y.p;
            REQUIRE(run_kernel(fk.run, fk.state, in, n_in, &out, NULL) == EML_OK);
            CHECK(memcmp(y.p, ref.p, n * sizeof(float)) == 0);
            release(env, &fk);
            free(x.base);
            free(y.base);
            free(ref.base);
        }
    }
    eml_env_destroy(env);
}

/* Large tensors split over pools of 1, 2 and 3 threads give the same bits as no pool. */
EML_TEST(threads_give_identical_results)
{
    const eml_f32_velem_ops *tables[MAX_TABLES];
    size_t nt = usable_tables(tables);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_pool *pools[4] = {NULL, NULL, NULL, NULL};
    for (uint32_t k = 1; k <= 3; k++)
        REQUIRE(eml__pool_create(env, k, &pools[k]) == EML_OK);
    int64_t big[2] = {7, 40001}, row[1] = {40001}, sm[2] = {257, 1031};
    const size_t n = 7 * 40001;
    fbuf a = fbuf_new(n, 1), b = fbuf_new(n, 0), y0 = fbuf_new(n, 0), y = fbuf_new(n, 0);
    fill(a.p, n, -10.0f, 10.0f);
    fill(b.p, n, 0.5f, 2.0f);
    eml_binary_params add = {EML_BINARY_DIV, EML_BCAST_NUMPY, 0, 0};
    eml_unary_params sig = {EML_UNARY_TANH, 0, 0, 0, 0, 0};
    eml_softmax_params soft = {EML_SOFTMAX, 0, -1};
    for (size_t t = 0; t < nt; t++) {
        for (int which = 0; which < 4; which++) {
            eml_tensor in[2] = {tensor_f32(a.p, 2, big), tensor_f32(b.p, 2, big)};
            eml_tensor out = tensor_f32(NULL, 2, big);
            eml_fast_kernel fk;
            int n_in = 1;
            if (which <= 1) { /* same shape, then a per-column row */
                if (which == 1)
                    in[1] = tensor_f32(b.p, 1, row);
                n_in = 2;
                select_op(env, EML_OP_Div, 13, &add, in, 2, tables[t], &fk);
            } else if (which == 2) {
                select_op(env, EML_OP_Tanh, 13, &sig, in, 1, tables[t], &fk);
            } else {
                in[0] = tensor_f32(a.p, 2, sm);
                out = tensor_f32(NULL, 2, sm);
                select_op(env, EML_OP_Softmax, 13, &soft, in, 1, tables[t], &fk);
            }
            REQUIRE(fk.run != NULL);
            for (int k = 0; k <= 3; k++) {
                out.data = k == 0 ? y0.p : y.p;
                memset(out.data, 0, n * sizeof(float));
                REQUIRE(run_kernel(fk.run, fk.state, in, n_in, &out, pools[k]) == EML_OK);
                if (k > 0)
                    CHECK(memcmp(y.p, y0.p, n * sizeof(float)) == 0);
            }
            release(env, &fk);
        }
    }
    free(a.base);
    free(b.base);
    free(y0.base);
    free(y.base);
    for (int k = 1; k <= 3; k++)
        eml__pool_destroy(pools[k]);
    eml_env_destroy(env);
}

/* ---- through the runtime ---- */

static int32_t graph_value(eml_graph *g, const char *name, int rank, const int64_t *dims,
                           const float *init)
{
    int32_t id;
    REQUIRE(eml__graph_value(g, name, &id) == EML_OK);
    eml_value *v = &g->values[id];
    if (rank >= 0) {
        v->dtype = EML_DTYPE_F32;
        v->rank = rank;
        for (int d = 0; d < rank; d++)
            v->dims[d] = dims[d];
    }
    if (init) {
        size_t bytes = (size_t)eml__shape_count(dims, rank) * sizeof(float);
        v->flags |= EML_VALUE_INITIALIZER;
        v->data = eml__alloc(g->env, bytes);
        REQUIRE(v->data != NULL);
        memcpy(v->data, init, bytes);
    }
    return id;
}

static eml_node *graph_node(eml_graph *g, const char *op, int32_t a, int32_t b, int32_t out)
{
    eml_node *n;
    char name[32];
    snprintf(name, sizeof(name), "n%zu", g->n_nodes);
    REQUIRE(eml__graph_add_node(g, name, op, "", b >= 0 ? 2 : 1, 1, 1, &n) == EML_OK);
    n->n_attrs = 0;
    n->op = eml__op_find("", op);
    n->opset = 13;
    n->inputs[0] = a;
    if (b >= 0)
        n->inputs[1] = b;
    n->outputs[0] = out;
    g->values[out].producer = (int32_t)(g->n_nodes - 1);
    return n;
}

static double sigmoid_d(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

/* X[4,37] → MatMul(W) + bias → t; outputs Softmax(t·sigmoid(t)) and Tanh(t - c), Erf(t / c):
 * the runtime picks the fast kernels and the results match a double-precision computation. */
EML_TEST(graph_runs_on_fast_kernels)
{
    enum { M = 4, K = 37, N = 19 };
    static float x[M * K], w[K * N], bias[N];
    const float c = 1.5f;
    fill(x, M * K, -1.0f, 1.0f);
    fill(w, K * N, -0.5f, 0.5f);
    fill(bias, N, -1.0f, 1.0f);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_graph *g;
    REQUIRE(eml__graph_create(env, NULL, &g) == EML_OK);
    g->opsets = eml__calloc(env, 1, sizeof(eml_opset_import));
    REQUIRE(g->opsets != NULL);
    g->opsets[0].domain = eml__strdup(env, "");
    g->opsets[0].version = 13;
    g->n_opsets = 1;
    int64_t xd[2] = {M, K}, wd[2] = {K, N}, bd[1] = {N};
    int32_t vx = graph_value(g, "x", 2, xd, NULL);
    REQUIRE(eml__graph_add_input(g, vx) == EML_OK);
    int32_t vw = graph_value(g, "w", 2, wd, w), vb = graph_value(g, "b", 1, bd, bias);
    int32_t vc = graph_value(g, "c", 0, NULL, &c);
    int32_t v[9];
    static const char *const names[9] = {"mm", "t", "s", "st", "y1", "d", "y2", "q", "y3"};
    for (int i = 0; i < 9; i++)
        v[i] = graph_value(g, names[i], -1, NULL, NULL);
    graph_node(g, "MatMul", vx, vw, v[0]);
    graph_node(g, "Add", v[0], vb, v[1]);
    graph_node(g, "Sigmoid", v[1], -1, v[2]);
    graph_node(g, "Mul", v[1], v[2], v[3]);
    graph_node(g, "Softmax", v[3], -1, v[4]);
    graph_node(g, "Sub", v[1], vc, v[5]);
    graph_node(g, "Tanh", v[5], -1, v[6]);
    graph_node(g, "Div", v[1], vc, v[7]);
    graph_node(g, "Erf", v[7], -1, v[8]);
    REQUIRE(eml__graph_add_output(g, v[4]) == EML_OK);
    REQUIRE(eml__graph_add_output(g, v[6]) == EML_OK);
    REQUIRE(eml__graph_add_output(g, v[8]) == EML_OK);

    eml_diag diag;
    eml_diag_init(&diag);
    eml_plan *plan;
    eml_session *s;
    REQUIRE_OK(eml_plan_create(g, &plan, &diag), &diag);
    if (eml__f32_velem_select()) { /* unless EML_ISA caps them away */
        for (size_t i = 0; i < plan->n_nodes; i++) {
            CHECK(plan->nodes[i].fast.run != NULL);
            if (!plan->nodes[i].fast.run)
                fprintf(stderr, "%s has no fast kernel\n", plan->nodes[i].node->op_type);
        }
    }
    REQUIRE_OK(eml_session_create(plan, NULL, &s, &diag), &diag);
    eml_tensor in = tensor_f32(x, 2, xd);
    REQUIRE_OK(eml_session_run(s, &in, 1, &diag), &diag);
    eml_tensor y[3];
    for (int i = 0; i < 3; i++)
        REQUIRE(eml_session_output(s, (size_t)i, &y[i]) == EML_OK);

    for (int i = 0; i < M; i++) {
        double t[N], e[N], sum = 0.0, max = -INFINITY;
        for (int j = 0; j < N; j++) {
            double acc = bias[j];
            for (int k = 0; k < K; k++)
                acc += (double)x[i * K + k] * w[k * N + j];
            t[j] = acc;
            e[j] = acc * sigmoid_d(acc);
            max = e[j] > max ? e[j] : max;
        }
        for (int j = 0; j < N; j++)
            sum += exp(e[j] - max);
        for (int j = 0; j < N; j++) {
            const float *y1 = y[0].data, *y2 = y[1].data, *y3 = y[2].data;
            CHECK(close_to(y1[i * N + j], (float)(exp(e[j] - max) / sum), 1e-6f, 1e-4f));
            CHECK(close_to(y2[i * N + j], (float)tanh(t[j] - c), 1e-6f, 1e-4f));
            CHECK(close_to(y3[i * N + j], (float)erf(t[j] / c), 1e-6f, 1e-4f));
        }
    }
    eml_session_destroy(s);
    eml_plan_destroy(plan);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}
