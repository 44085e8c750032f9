/* Tests of NhwcConv and NhwcConvFromNchw: the NHWC reference kernel against the NCHW one through
 * transposes (exactly: they sum in the same order), and every fast variant (each GEMM and indirect
 * GEMM kernel, each micro-kernel table this CPU runs) against the reference on random shapes,
 * bit-identical for 1, 2 and 3 threads. */
#include "nhwc_util.h"

#include "kernels/fast_nhwc_conv.h"

/* ---- random convolutions ---- */

typedef struct conv_spec {
    int64_t n, h, w, c, o, kh, kw, sh, sw, dh, dw, group;
    int64_t pads[4];
    const char *auto_pad; /* NULL: explicit pads */
    bool bias, z;
    const char *act; /* NULL: none */
    float act_params[2];
    int n_act_params;
} conv_spec;

/* SHAPE_DEEP: 16 to 40 input channels per group, which the indirect GEMM takes. SHAPE_STEM: 1 to
 * 4 input channels, one group, undilated (NhwcConvFromNchw), up to 7 x 7 and 70 output channels
 * (AVX-512's panels of 32 and their tails), rows up to 60 pixels (its tiles of 8 and 16). */
typedef enum conv_shape_kind {
    SHAPE_ANY,
    SHAPE_DEPTHWISE,
    SHAPE_POINTWISE,
    SHAPE_DEEP,
    SHAPE_STEM
} conv_shape_kind;

static const char *const act_names[] = {NULL,        "Relu",    "Clip", "LeakyRelu", "HardSigmoid",
                                        "HardSwish", "Sigmoid", "Tanh", "SiLU"};

static conv_spec random_conv(conv_shape_kind kind)
{
    conv_spec s = {0};
    s.n = rnd(1, 2);
    s.kh = kind == SHAPE_POINTWISE ? 1 : rnd(1, 5);
    s.kw = kind == SHAPE_POINTWISE ? 1 : rnd(1, 5);
    if (kind == SHAPE_DEPTHWISE && rnd(0, 1)) /* the specialized sizes, more often */
        s.kh = s.kw = rnd(0, 1) ? 3 : 5;
    s.sh = kind == SHAPE_POINTWISE ? 1 : rnd(1, 3);
    s.sw = kind == SHAPE_POINTWISE ? 1 : rnd(1, 3);
    s.dh = kind == SHAPE_POINTWISE ? 1 : rnd(1, 3) == 3 ? 2 : 1;
    s.dw = kind == SHAPE_POINTWISE ? 1 : rnd(1, 3) == 3 ? 2 : 1;
    s.h = rnd(1, 14);
    s.w = rnd(1, 40);
    if (kind != SHAPE_POINTWISE) {
        for (int i = 0; i < 4; i++)
            s.pads[i] = rnd(0, (int)(i % 2 ? s.kw : s.kh) - 1 + (rnd(0, 4) == 0));
        int ap = rnd(0, 5);
        s.auto_pad = ap == 0 ? "SAME_UPPER" : ap == 1 ? "SAME_LOWER" : ap == 2 ? "VALID" : NULL;
    }
    /* the input must cover one dilated window (after padding) */
    const int64_t ekh = (s.kh - 1) * s.dh + 1, ekw = (s.kw - 1) * s.dw + 1;
    s.h = EML_MAX(s.h, ekh);
    s.w = EML_MAX(s.w, ekw);
    if (kind == SHAPE_DEPTHWISE) {
        /* up to 150 channels: the one-column step's 8 and 4 vectors of 16 and its tail */
        s.c = s.o = s.group = rnd(1, 150);
    } else if (kind == SHAPE_STEM) {
        s.kh = rnd(1, 7);
        s.kw = rnd(1, 7);
        s.dh = s.dw = 1;
        s.h = rnd((int)s.kh, 12);
        s.w = rnd((int)s.kw, 60);
        for (int i = 0; i < 4 && !s.auto_pad; i++)
            s.pads[i] = rnd(0, (int)(i % 2 ? s.kw : s.kh) - 1);
        s.group = 1;
        s.c = rnd(1, 4);
        s.o = rnd(1, 70);
    } else {
        s.group = rnd(0, 3) == 0 ? rnd(2, 3) : 1;
        /* two channels per group at least: one would be a depthwise conv */
        s.c = s.group * (kind == SHAPE_DEEP ? rnd(16, 40) : rnd(s.group > 1 ? 2 : 1, 24));
        s.o = s.group * rnd(1, 40);
    }
    s.bias = rnd(0, 3) != 0;
    s.z = rnd(0, 2) == 0;
    s.act = act_names[rnd(0, 8)];
    if (s.act && strcmp(s.act, "Clip") == 0) {
        s.act_params[0] = eml_test_randf(-1.0f, 0.0f);
        s.act_params[1] = eml_test_randf(0.0f, 1.0f);
        s.n_act_params = 2;
    } else if (s.act && strcmp(s.act, "LeakyRelu") == 0) {
        s.act_params[0] = 0.1f;
        s.n_act_params = 1;
    }
    return s;
}

static void conv_attrs(node_case *c, const conv_spec *s, bool fused)
{
    attr_ints(c, "kernel_shape", (const int64_t[]){s->kh, s->kw}, 2);
    attr_ints(c, "strides", (const int64_t[]){s->sh, s->sw}, 2);
    attr_ints(c, "dilations", (const int64_t[]){s->dh, s->dw}, 2);
    if (s->auto_pad)
        attr_s(c, "auto_pad", s->auto_pad);
    else
        attr_ints(c, "pads", s->pads, 4);
    attr_i(c, "group", s->group);
    if (fused && s->act) {
        attr_s(c, "activation", s->act);
        if (s->n_act_params)
            attr_floats(c, "activation_params", s->act_params, (size_t)s->n_act_params);
    }
}

/* The data of one conv: NHWC input, weights, bias, and (after infer) the NHWC residual. */
typedef struct conv_data {
    float *x, *w, *b, *z;
    eml_tensor in[4]; /* NHWC */
    int n_in;
} conv_data;

static void conv_data_init(conv_data *d, const conv_spec *s)
{
    memset(d, 0, sizeof(*d));
    d->x = random_floats((size_t)(s->n * s->h * s->w * s->c));
    d->w = random_floats((size_t)(s->o * (s->c / s->group) * s->kh * s->kw));
    d->b = random_floats((size_t)s->o);
    d->in[0] = t4(d->x, s->n, s->h, s->w, s->c);
    d->in[1] = t4(d->w, s->o, s->c / s->group, s->kh, s->kw);
    d->in[2] = (eml_tensor){EML_DTYPE_F32, 1, {s->o}, d->b};
    if (!s->bias)
        d->in[2] = (eml_tensor){.dtype = EML_DTYPE_UNDEFINED};
    d->n_in = s->z ? 4 : 3;
    d->in[3] = (eml_tensor){.dtype = EML_DTYPE_UNDEFINED};
}

static void conv_data_set_z(conv_data *d, const eml_tensor *y)
{
    if (d->n_in < 4)
        return;
    if (!d->z) /* a second reference run on the same data keeps it */
        d->z = random_floats((size_t)eml_tensor_count(y));
    d->in[3] = *y;
    d->in[3].data = d->z;
}

static void conv_data_free(conv_data *d)
{
    free(d->x);
    free(d->w);
    free(d->b);
    free(d->z);
}

static void print_spec(const conv_spec *s)
{
    fprintf(stderr,
            "conv N%lld H%lld W%lld C%lld O%lld k%lldx%lld s%lldx%lld d%lldx%lld g%lld "
            "pads %lld,%lld,%lld,%lld auto_pad %s bias %d z %d act %s\n",
            (long long)s->n, (long long)s->h, (long long)s->w, (long long)s->c, (long long)s->o,
            (long long)s->kh, (long long)s->kw, (long long)s->sh, (long long)s->sw,
            (long long)s->dh, (long long)s->dw, (long long)s->group, (long long)s->pads[0],
            (long long)s->pads[1], (long long)s->pads[2], (long long)s->pads[3],
            s->auto_pad ? s->auto_pad : "-", s->bias, s->z, s->act ? s->act : "-");
}

/* Runs the NHWC reference; returns its output (malloc'd) and sets *nc's output shape. */
static float *nhwc_ref_conv(node_case *nc, const conv_spec *s, conv_data *d)
{
    node_begin(nc, "NhwcConv", "ai.edgeml", 1, 4);
    conv_attrs(nc, s, true);
    REQUIRE_OK(node_prepare(nc, eml__nhwc_conv_prepare), &nc->diag);
    REQUIRE_OK(node_infer(nc, eml__nhwc_conv_infer, d->in, 3), &nc->diag);
    conv_data_set_z(d, &nc->out);
    REQUIRE_OK(node_infer(nc, eml__nhwc_conv_infer, d->in, d->n_in), &nc->diag);
    return node_kernel(nc, eml__ref_nhwc_conv, nc->params, d->in, d->n_in, nc->scratch_bytes, NULL);
}

/* ---- the NHWC reference equals the NCHW one ---- */

EML_TEST(ref_conv_equals_nchw_reference)
{
    for (int iter = 0; iter < 300; iter++) {
        const conv_spec s = random_conv(iter % 3 == 0   ? SHAPE_DEPTHWISE
                                        : iter % 3 == 1 ? SHAPE_POINTWISE
                                                        : SHAPE_ANY);
        conv_data d;
        conv_data_init(&d, &s);
        node_case nh;
        float *y = nhwc_ref_conv(&nh, &s, &d);
        /* NCHW: Conv when nothing is fused, FusedConv otherwise */
        const bool fused = s.z || s.act;
        node_case nc;
        node_begin(&nc, fused ? "FusedConv" : "Conv", fused ? "ai.edgeml" : "", fused ? 1 : 11, 4);
        conv_attrs(&nc, &s, true);
        eml_tensor in[4];
        memcpy(in, d.in, sizeof(in));
        float *xc = to_nchw(d.x, d.in[0].dims);
        float *zc = s.z ? to_nchw(d.z, nh.out.dims) : NULL;
        in[0] = t4(xc, s.n, s.c, s.h, s.w);
        if (s.z)
            in[3] = t4(zc, nh.out.dims[0], nh.out.dims[3], nh.out.dims[1], nh.out.dims[2]);
        REQUIRE_OK(node_prepare(&nc, fused ? eml__fused_conv_prepare : eml__conv_prepare),
                   &nc.diag);
        REQUIRE_OK(node_infer(&nc, fused ? eml__fused_conv_infer : eml__conv_infer, in, d.n_in),
                   &nc.diag);
        float *yc = node_kernel(&nc, fused ? eml__ref_fused_conv : eml__ref_conv, nc.params, in,
                                d.n_in, nc.scratch_bytes, NULL);
        float *yt = to_nchw(y, nh.out.dims);
        const int64_t count = eml_tensor_count(&nh.out);
        REQUIRE(count == eml_tensor_count(&nc.out));
        int bad = 0;
        for (int64_t i = 0; i < count && !bad; i++) {
            if (!(yt[i] == yc[i]) && !(isnan(yt[i]) && isnan(yc[i]))) {
                print_spec(&s);
                fprintf(stderr, "element %lld: nhwc %.9g, nchw %.9g\n", (long long)i, yt[i], yc[i]);
                bad = 1;
            }
        }
        CHECK(!bad);
        free(y);
        free(yc);
        free(yt);
        free(xc);
        free(zc);
        conv_data_free(&d);
        node_end(&nh);
        node_end(&nc);
        if (bad)
            return;
    }
}

/* ---- fast kernels against the NHWC reference ---- */

static void select_conv(node_case *nc, const conv_data *d, const eml_f32_gemm_kernel *k,
                        const eml_f32_igemm_kernel *ik, const eml_f32_nhwc_ops *ops, bool winograd,
                        eml_fast_kernel *fk)
{
    eml_tensor sel[4];
    memcpy(sel, d->in, sizeof(sel));
    sel[0].data = NULL;
    sel[3].data = NULL;
    eml_fast_select_ctx ctx = {nc->node->op, nc->params, 1, sel, d->n_in, 1, nc->env};
    memset(fk, 0, sizeof(*fk));
    REQUIRE(eml__fast_nhwc_conv_select_with(&ctx, k, ik, ops, winograd, 3, fk) == EML_OK);
    REQUIRE(fk->run);
}

/* The largest |sum| of the conv (bias, taps and residual, before the activation, which may
 * squash it: a Clip to [-1, 1] of sums near 6, say): what Winograd's rounding is relative to. */
static double sum_scale(const conv_spec *s, conv_data *d, const int64_t *out_dims)
{
    conv_spec plain = *s;
    plain.act = NULL;
    plain.n_act_params = 0;
    node_case nc;
    float *sums = nhwc_ref_conv(&nc, &plain, d);
    double scale = 0;
    for (int64_t i = 0; i < eml_tensor_count(&nc.out); i++)
        scale = fmax(scale, fabs((double)sums[i]));
    REQUIRE(memcmp(nc.out.dims, out_dims, 4 * sizeof(int64_t)) == 0);
    free(sums);
    node_end(&nc);
    return scale;
}

#define WINOGRAD_SCALE_TOL 5e-5

/* One conv s through GEMM kernel k, indirect GEMM kernel ik (may be NULL), table ops and
 * (winograd) Winograd where it qualifies; the kernel's name must contain `path`. Checked against
 * the reference on 1, 2 and 3 threads: element by element, or for Winograd within
 * WINOGRAD_SCALE_TOL of the largest sum (its worst ratio into *worst). Returns whether it held. */
static bool conv_case(const conv_spec *s, const eml_f32_gemm_kernel *k,
                      const eml_f32_igemm_kernel *ik, const eml_f32_nhwc_ops *ops, bool winograd,
                      const char *path, eml_pool *const pools[3], double *worst)
{
    conv_data d;
    conv_data_init(&d, s);
    node_case nc;
    float *ref = nhwc_ref_conv(&nc, s, &d);
    const double scale = winograd ? sum_scale(s, &d, nc.out.dims) : 0.0;
    eml_fast_kernel fk;
    select_conv(&nc, &d, k, ik, ops, winograd, &fk);
    if (!strstr(fk.name, path)) {
        fprintf(stderr, "kernel %s, expected a %s path\n", fk.name, path);
        CHECK(0);
    }
    bool ok = check_fast_within(&nc, &fk, d.in, d.n_in, ref, pools,
                                winograd ? WINOGRAD_SCALE_TOL : 0.0, scale, worst);
    if (!ok)
        print_spec(s);
    CHECK(ok);
    fk.destroy(nc.env, fk.state);
    free(ref);
    conv_data_free(&d);
    node_end(&nc);
    return ok;
}

/* Random convs of one shape kind through GEMM kernel k, indirect GEMM kernel ik (may be NULL)
 * and table ops; the kernel's name must contain `path`. */
static void fast_conv_cases(conv_shape_kind kind, const eml_f32_gemm_kernel *k,
                            const eml_f32_igemm_kernel *ik, const eml_f32_nhwc_ops *ops,
                            const char *path, int iters)
{
    pools3 pools;
    pools_begin(&pools);
    for (int iter = 0; iter < iters; iter++) {
        conv_spec s = random_conv(kind);
        const bool depthwise = s.c == s.group && s.o == s.group;
        if (!conv_case(&s, k, ik, ops, false, depthwise ? "dwconv" : path, pools.p, NULL))
            break;
    }
    pools_end(&pools);
}

EML_TEST(fast_conv_every_gemm_kernel)
{
    size_t count;
    const eml_f32_gemm_kernel *kernels = eml__f32_gemm_kernels(&count);
    const eml_f32_nhwc_ops *ops = eml__f32_nhwc_select();
    for (size_t i = 0; i < count; i++) {
        if (!eml__cpu_has(kernels[i].isa))
            continue;
        printf("%s\n", kernels[i].name);
        fast_conv_cases(SHAPE_POINTWISE, &kernels[i], NULL, ops, "1x1", 40);
        fast_conv_cases(SHAPE_ANY, &kernels[i], NULL, ops, "", 80);
    }
}

EML_TEST(fast_conv_every_igemm_kernel)
{
    size_t count;
    const eml_f32_igemm_kernel *kernels = eml__f32_igemm_kernels(&count);
    const eml_f32_nhwc_ops *ops = eml__f32_nhwc_select();
    for (size_t i = 0; i < count; i++) {
        if (!eml__cpu_has(kernels[i].isa))
            continue;
        printf("%s\n", kernels[i].name);
        /* 1x1 stride 1 stays a plain GEMM; others go through the pointers */
        fast_conv_cases(SHAPE_DEEP, eml__f32_gemm_select(), &kernels[i], ops, "", 120);
    }
}

/* Weights too big to stream once per pixel block: the conv splits over output channels. */
EML_TEST(fast_conv_wide_weights)
{
    static const conv_spec shapes[] = {
        {.n = 1,
         .h = 5,
         .w = 7,
         .c = 128,
         .o = 130,
         .kh = 3,
         .kw = 3,
         .sh = 1,
         .sw = 1,
         .dh = 1,
         .dw = 1,
         .group = 1,
         .pads = {1, 1, 1, 1},
         .bias = true,
         .z = true,
         .act = "Relu"},
        {.n = 2,
         .h = 4,
         .w = 3,
         .c = 150,
         .o = 97,
         .kh = 3,
         .kw = 3,
         .sh = 2,
         .sw = 1,
         .dh = 1,
         .dw = 2,
         .group = 1,
         .pads = {0, 2, 1, 0},
         .act = "HardSwish"},
        {.n = 1,
         .h = 3,
         .w = 9,
         .c = 512,
         .o = 301,
         .kh = 1,
         .kw = 1,
         .sh = 1,
         .sw = 1,
         .dh = 1,
         .dw = 1,
         .group = 1,
         .bias = true,
         .z = true},
    };
    size_t count, icount;
    const eml_f32_gemm_kernel *kernels = eml__f32_gemm_kernels(&count);
    const eml_f32_igemm_kernel *ikernels = eml__f32_igemm_kernels(&icount);
    pools3 pools;
    pools_begin(&pools);
    /* each GEMM kernel gathering im2col rows, then each indirect GEMM kernel */
    for (size_t k = 0; k < count + icount; k++) {
        const eml_f32_igemm_kernel *ik = k < count ? NULL : &ikernels[k - count];
        const eml_f32_gemm_kernel *gk = k < count ? &kernels[k] : eml__f32_gemm_select();
        if (!eml__cpu_has(gk->isa) || (ik && !eml__cpu_has(ik->isa)))
            continue;
        for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
            conv_case(&shapes[i], gk, ik, eml__f32_nhwc_select(), false, "_wide", pools.p, NULL);
    }
    pools_end(&pools);
}

/* Winograd F(4x4, 3x3): random 3x3 stride-1 convs through each GEMM kernel and each table's
 * transforms, every tile position (images of 1 to 22 pixels a side: partial tiles, padding on
 * any side), residuals and activations; within tolerance of the reference, bit-identical for 1,
 * 2 and 3 threads. Other shapes keep their GEMM paths. */
EML_TEST(fast_conv_winograd)
{
    size_t count, tcount;
    const eml_f32_gemm_kernel *kernels = eml__f32_gemm_kernels(&count);
    const eml_f32_nhwc_ops *const *tables = eml__f32_nhwc_tables(&tcount);
    pools3 pools;
    pools_begin(&pools);
    double worst = 0;
    for (size_t k = 0; k < count; k++) {
        for (size_t t = 0; t < tcount; t++) {
            if (!eml__cpu_has(kernels[k].isa) || !eml__cpu_has(tables[t]->isa))
                continue;
            printf("%s + %s\n", kernels[k].name, tables[t]->isa_name);
            for (int iter = 0; iter < 25; iter++) {
                conv_spec s = random_conv(SHAPE_DEEP);
                s.kh = s.kw = 3;
                s.sh = s.sw = s.dh = s.dw = 1;
                s.group = 1;
                s.c = rnd(NHWC_WINO_MIN_CHANNELS, 40);
                s.o = rnd(NHWC_WINO_MIN_CHANNELS, 40);
                s.h = rnd(3, 22);
                s.w = rnd(3, 22);
                if (!conv_case(&s, &kernels[k], NULL, tables[t], true, "winograd", pools.p, &worst))
                    break;
            }
        }
    }
    pools_end(&pools);
    printf("worst max |got - ref| / largest sum: %.3g\n", worst);
    /* strides, dilations, groups, other kernel sizes and too few channels do not qualify */
    static const int64_t declined[][6] = {/* kh, stride, dilation, group, c, o */
                                          {3, 2, 1, 1, 32, 32}, {3, 1, 2, 1, 32, 32},
                                          {3, 1, 1, 2, 32, 32}, {5, 1, 1, 1, 32, 32},
                                          {3, 1, 1, 1, 8, 32},  {3, 1, 1, 1, 32, 8}};
    for (size_t i = 0; i < sizeof(declined) / sizeof(declined[0]); i++) {
        conv_spec s = random_conv(SHAPE_DEEP);
        s.kh = s.kw = declined[i][0];
        s.sh = s.sw = declined[i][1];
        s.dh = s.dw = declined[i][2];
        s.group = declined[i][3];
        s.c = declined[i][4];
        s.o = declined[i][5];
        s.h = s.w = 12;
        conv_data d;
        conv_data_init(&d, &s);
        node_case nc;
        float *ref = nhwc_ref_conv(&nc, &s, &d);
        eml_fast_kernel fk;
        select_conv(&nc, &d, eml__f32_gemm_select(), NULL, eml__f32_nhwc_select(), true, &fk);
        CHECK(strstr(fk.name, "winograd") == NULL);
        fk.destroy(nc.env, fk.state);
        free(ref);
        conv_data_free(&d);
        node_end(&nc);
    }
}

EML_TEST(fast_depthwise_every_table)
{
    size_t count;
    const eml_f32_nhwc_ops *const *tables = eml__f32_nhwc_tables(&count);
    for (size_t i = 0; i < count; i++) {
        if (!eml__cpu_has(tables[i]->isa))
            continue;
        printf("%s\n", tables[i]->isa_name);
        fast_conv_cases(SHAPE_DEPTHWISE, eml__f32_gemm_select(), NULL, tables[i], "dwconv", 150);
    }
}

/* ---- NhwcConvFromNchw ---- */

/* Its reference equals NhwcConv's on the channels-last input exactly (the same sums in the same
 * order), and each micro-kernel table's fast kernel is close to it, bit-identical on 1, 2 and 3
 * threads. */
EML_TEST(conv_from_nchw_every_table)
{
    size_t count;
    const eml_f32_nhwc_ops *const *tables = eml__f32_nhwc_tables(&count);
    pools3 pools;
    pools_begin(&pools);
    for (int iter = 0; iter < 150; iter++) {
        const conv_spec s = random_conv(SHAPE_STEM);
        conv_data d;
        conv_data_init(&d, &s);
        node_case nh;
        float *want = nhwc_ref_conv(&nh, &s, &d);
        node_case np;
        node_begin(&np, "NhwcConvFromNchw", "ai.edgeml", 1, 4);
        conv_attrs(&np, &s, true);
        REQUIRE_OK(node_prepare(&np, eml__nhwc_conv_prepare), &np.diag);
        eml_tensor in[4];
        memcpy(in, d.in, sizeof(in));
        float *xc = to_nchw(d.x, d.in[0].dims);
        in[0] = t4(xc, s.n, s.c, s.h, s.w);
        REQUIRE_OK(node_infer(&np, eml__nhwc_conv_from_nchw_infer, in, d.n_in), &np.diag);
        REQUIRE(memcmp(np.out.dims, nh.out.dims, sizeof(nh.out.dims)) == 0);
        float *ref = node_kernel(&np, eml__ref_nhwc_conv_from_nchw, np.params, in, d.n_in,
                                 np.scratch_bytes, NULL);
        bool ok = memcmp(ref, want, eml_tensor_bytes(&np.out)) == 0;
        eml_tensor sel[4];
        memcpy(sel, in, sizeof(sel));
        sel[0].data = NULL;
        sel[3].data = NULL;
        eml_fast_select_ctx ctx = {np.node->op, np.params, 1, sel, d.n_in, 1, np.env};
        for (size_t t = 0; t < count && ok; t++) {
            if (!eml__cpu_has(tables[t]->isa))
                continue;
            eml_fast_kernel fk = {0};
            REQUIRE(eml__fast_nhwc_conv_from_nchw_select_with(&ctx, tables[t], &fk) == EML_OK);
            REQUIRE(fk.run && strstr(fk.name, "planar"));
            ok = check_fast(&np, &fk, in, d.n_in, ref, pools.p);
            fk.destroy(np.env, fk.state);
        }
        if (!ok)
            print_spec(&s);
        CHECK(ok);
        free(want);
        free(ref);
        free(xc);
        conv_data_free(&d);
        node_end(&nh);
        node_end(&np);
        if (!ok)
            break;
    }
    pools_end(&pools);
}

/* What the planar kernel leaves to the reference: groups, dilation, too many taps. */
EML_TEST(conv_from_nchw_declines_what_it_does_not_handle)
{
    float w[2 * 3 * 3 * 3] = {0}, big[1 * 4 * 17 * 16] = {0};
    for (int variant = 0; variant < 3; variant++) {
        node_case nc;
        node_begin(&nc, "NhwcConvFromNchw", "ai.edgeml", 1, 2);
        if (variant == 0)
            attr_i(&nc, "group", 3);
        if (variant == 1)
            attr_ints(&nc, "dilations", (const int64_t[]){1, 2}, 2);
        REQUIRE_OK(node_prepare(&nc, eml__nhwc_conv_prepare), &nc.diag);
        eml_tensor sel[2] = {{EML_DTYPE_F32, 4, {1, 3, 20, 20}, NULL},
                             variant == 0 ? t4(w, 3, 1, 3, 3)
                             : variant == 1 ? t4(w, 2, 3, 3, 3)
                                            : t4(big, 1, 4, 17, 16)}; /* 1088 taps */
        eml_fast_select_ctx ctx = {nc.node->op, nc.params, 1, sel, 2, 1, nc.env};
        eml_fast_kernel fk = {0};
        CHECK(eml__fast_nhwc_conv_from_nchw_select(&ctx, &fk) == EML_OK && !fk.run);
        node_end(&nc);
    }
}

EML_TEST(fast_conv_declines_what_it_does_not_handle)
{
    conv_spec s = random_conv(SHAPE_ANY);
    conv_data d;
    conv_data_init(&d, &s);
    node_case nc;
    float *ref = nhwc_ref_conv(&nc, &s, &d);
    eml_tensor sel[4];
    memcpy(sel, d.in, sizeof(sel));
    sel[0].data = NULL;
    sel[1].data = NULL; /* weights computed at run time */
    eml_fast_select_ctx ctx = {nc.node->op, nc.params, 1, sel, 3, 1, nc.env};
    eml_fast_kernel fk = {0};
    CHECK(eml__fast_nhwc_conv_select(&ctx, &fk) == EML_OK && !fk.run);
    sel[1].data = d.w;
    sel[0].dtype = EML_DTYPE_F64;
    CHECK(eml__fast_nhwc_conv_select(&ctx, &fk) == EML_OK && !fk.run);
    sel[0].dtype = EML_DTYPE_F32;
    sel[2].data = NULL; /* bias not constant */
    sel[2].dtype = EML_DTYPE_F32;
    sel[2].rank = 1;
    sel[2].dims[0] = s.o;
    CHECK(eml__fast_nhwc_conv_select(&ctx, &fk) == EML_OK && !fk.run);
    free(ref);
    conv_data_free(&d);
    node_end(&nc);
}

EML_TEST(nhwc_conv_infer_refuses_bad_inputs)
{
    float x[2 * 3 * 4 * 5] = {0}, w[6 * 5 * 1 * 1] = {0};
    node_case nc;
    node_begin(&nc, "NhwcConv", "ai.edgeml", 1, 2);
    attr_ints(&nc, "kernel_shape", (const int64_t[]){1, 1}, 2);
    REQUIRE_OK(node_prepare(&nc, eml__nhwc_conv_prepare), &nc.diag);
    eml_tensor in[2] = {t4(x, 2, 3, 4, 5), t4(w, 6, 5, 1, 1)};
    REQUIRE_OK(node_infer(&nc, eml__nhwc_conv_infer, in, 2), &nc.diag);
    CHECK(nc.out.rank == 4 && nc.out.dims[0] == 2 && nc.out.dims[1] == 3 && nc.out.dims[2] == 4 &&
          nc.out.dims[3] == 6);
    in[1] = t4(w, 5, 6, 1, 1); /* channels differ */
    CHECK_STATUS(node_infer(&nc, eml__nhwc_conv_infer, in, 2), EML_ESHAPE);
    in[1] = t4(w, 6, 5, 1, 1);
    in[0].dtype = EML_DTYPE_F64;
    CHECK_STATUS(node_infer(&nc, eml__nhwc_conv_infer, in, 2), EML_EUNSUPPORTED);
    in[0] = (eml_tensor){EML_DTYPE_F32, 3, {2, 12, 5}, x};
    in[1] = (eml_tensor){EML_DTYPE_F32, 3, {6, 5, 1}, w};
    CHECK_STATUS(node_infer(&nc, eml__nhwc_conv_infer, in, 2), EML_ESHAPE);
    node_end(&nc);
    node_begin(&nc, "NhwcConv", "ai.edgeml", 1, 2);
    attr_s(&nc, "activation", "Gelu");
    CHECK_STATUS(node_prepare(&nc, eml__nhwc_conv_prepare), EML_EUNSUPPORTED);
    node_end(&nc);
    node_begin(&nc, "NhwcConv", "ai.edgeml", 1, 2);
    attr_i(&nc, "bogus", 1);
    CHECK_STATUS(node_prepare(&nc, eml__nhwc_conv_prepare), EML_EUNSUPPORTED);
    node_end(&nc);
}
