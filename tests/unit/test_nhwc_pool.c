/* Tests of the channels-last pools and of the layout Transposes: the NHWC references against the
 * NCHW ones (exactly), and the fast variants of every table this CPU runs against them, on random
 * shapes, bit-identical for 1, 2 and 3 threads. */
#include "nhwc_util.h"

/* ---- pools ---- */

typedef struct pool_spec {
    bool is_max, global;
    int64_t n, h, w, c, kh, kw, sh, sw, dh, dw;
    int64_t pads[4];
    int ceil_mode, count_include_pad;
} pool_spec;

static pool_spec random_pool(int variant)
{
    pool_spec s = {0};
    s.global = variant == 2;
    s.is_max = variant == 0;
    s.n = rnd(1, 2);
    s.c = rnd(1, 70);
    s.kh = rnd(1, 4);
    s.kw = rnd(1, 4);
    s.sh = rnd(1, 3);
    s.sw = rnd(1, 3);
    s.dh = s.is_max && rnd(0, 3) == 0 ? 2 : 1;
    s.dw = s.is_max && rnd(0, 3) == 0 ? 2 : 1;
    for (int i = 0; i < 4; i++)
        s.pads[i] = rnd(0, (int)(i % 2 ? s.kw : s.kh) - 1);
    s.ceil_mode = rnd(0, 1);
    s.count_include_pad = !s.is_max && rnd(0, 1);
    s.h = EML_MAX(rnd(1, 12), (s.kh - 1) * s.dh + 1);
    s.w = EML_MAX(rnd(1, 30), (s.kw - 1) * s.dw + 1);
    return s;
}

static void pool_attrs(node_case *c, const pool_spec *s)
{
    if (s->global)
        return;
    attr_ints(c, "kernel_shape", (const int64_t[]){s->kh, s->kw}, 2);
    attr_ints(c, "strides", (const int64_t[]){s->sh, s->sw}, 2);
    attr_ints(c, "pads", s->pads, 4);
    attr_i(c, "ceil_mode", s->ceil_mode);
    if (s->is_max)
        attr_ints(c, "dilations", (const int64_t[]){s->dh, s->dw}, 2);
    else
        attr_i(c, "count_include_pad", s->count_include_pad);
}

static const char *pool_op(const pool_spec *s, bool nhwc)
{
    if (s->global)
        return nhwc ? "NhwcGlobalAveragePool" : "GlobalAveragePool";
    if (s->is_max)
        return nhwc ? "NhwcMaxPool" : "MaxPool";
    return nhwc ? "NhwcAveragePool" : "AveragePool";
}

/* NULL (having ended nc) when the random window leaves no output, which infer refuses. */
static float *nhwc_ref_pool(node_case *nc, const pool_spec *s, const eml_tensor *x)
{
    node_begin(nc, pool_op(s, true), "ai.edgeml", 1, 1);
    pool_attrs(nc, s);
    eml_prepare_fn prepare = s->global ? eml__nhwc_global_pool_prepare : eml__nhwc_pool_prepare;
    eml_infer_fn infer = s->global ? eml__nhwc_global_pool_infer : eml__nhwc_pool_infer;
    REQUIRE_OK(node_prepare(nc, prepare), &nc->diag);
    eml_status st = node_infer(nc, infer, x, 1);
    if (st == EML_ESHAPE && strstr(nc->diag.message, "leaves no output")) {
        node_end(nc);
        return NULL;
    }
    REQUIRE_OK(st, &nc->diag);
    return node_kernel(nc, s->global ? eml__ref_nhwc_global_pool : eml__ref_nhwc_pool, nc->params,
                       x, 1, nc->scratch_bytes, NULL);
}

EML_TEST(ref_pools_equal_nchw_reference)
{
    for (int iter = 0; iter < 300; iter++) {
        const pool_spec s = random_pool(iter % 3);
        float *x = random_floats((size_t)(s.n * s.h * s.w * s.c));
        eml_tensor xt = t4(x, s.n, s.h, s.w, s.c);
        node_case nh, nc;
        float *y = nhwc_ref_pool(&nh, &s, &xt);
        if (!y) {
            free(x);
            continue;
        }
        node_begin(&nc, pool_op(&s, false), "", 12, 1);
        pool_attrs(&nc, &s);
        float *xc = to_nchw(x, xt.dims);
        eml_tensor xct = t4(xc, s.n, s.c, s.h, s.w);
        REQUIRE_OK(node_prepare(&nc, s.global ? eml__global_pool_prepare : eml__pool_prepare),
                   &nc.diag);
        REQUIRE_OK(node_infer(&nc, s.global ? eml__global_pool_infer : eml__pool_infer, &xct, 1),
                   &nc.diag);
        float *yc = node_kernel(&nc, s.global ? eml__ref_global_pool : eml__ref_pool, nc.params,
                                &xct, 1, nc.scratch_bytes, NULL);
        float *yt = to_nchw(y, nh.out.dims);
        const int64_t count = eml_tensor_count(&nh.out);
        REQUIRE(count == eml_tensor_count(&nc.out));
        bool ok = true;
        for (int64_t i = 0; i < count && ok; i++) {
            if (!(yt[i] == yc[i]) && !(isnan(yt[i]) && isnan(yc[i]))) {
                fprintf(stderr, "%s iter %d element %lld: nhwc %.9g, nchw %.9g\n",
                        pool_op(&s, false), iter, (long long)i, yt[i], yc[i]);
                ok = false;
            }
        }
        CHECK(ok);
        free(x);
        free(xc);
        free(y);
        free(yc);
        free(yt);
        node_end(&nh);
        node_end(&nc);
        if (!ok)
            return;
    }
}

EML_TEST(fast_pools_every_table)
{
    size_t count;
    const eml_f32_nhwc_ops *const *tables = eml__f32_nhwc_tables(&count);
    pools3 pools;
    pools_begin(&pools);
    for (size_t t = 0; t < count; t++) {
        if (!eml__cpu_has(tables[t]->isa))
            continue;
        printf("%s\n", tables[t]->isa_name);
        for (int iter = 0; iter < 150; iter++) {
            const pool_spec s = random_pool(iter % 3);
            /* misaligned input every other case */
            float *buf = random_floats((size_t)(s.n * s.h * s.w * s.c) + 1);
            float *x = buf + (iter & 1);
            eml_tensor xt = t4(x, s.n, s.h, s.w, s.c);
            node_case nc;
            float *ref = nhwc_ref_pool(&nc, &s, &xt);
            if (!ref) {
                free(buf);
                continue;
            }
            eml_tensor sel = xt;
            sel.data = NULL;
            eml_fast_select_ctx ctx = {nc.node->op, nc.params, 1, &sel, 1, 1, nc.env};
            eml_fast_kernel fk = {0};
            REQUIRE(eml__fast_nhwc_pool_select_with(&ctx, tables[t], &fk) == EML_OK && fk.run);
            bool ok = check_fast(&nc, &fk, &xt, 1, ref, pools.p);
            if (!ok)
                fprintf(stderr, "%s iter %d\n", pool_op(&s, true), iter);
            CHECK(ok);
            fk.destroy(nc.env, fk.state);
            free(ref);
            free(buf);
            node_end(&nc);
            if (!ok)
                break;
        }
    }
    pools_end(&pools);
}

EML_TEST(nhwc_pool_infer_shapes)
{
    float x[1 * 5 * 7 * 3] = {0};
    node_case nc;
    node_begin(&nc, "NhwcMaxPool", "ai.edgeml", 1, 1);
    attr_ints(&nc, "kernel_shape", (const int64_t[]){3, 3}, 2);
    attr_ints(&nc, "strides", (const int64_t[]){2, 2}, 2);
    attr_i(&nc, "ceil_mode", 1);
    REQUIRE_OK(node_prepare(&nc, eml__nhwc_pool_prepare), &nc.diag);
    eml_tensor in = t4(x, 1, 5, 7, 3);
    REQUIRE_OK(node_infer(&nc, eml__nhwc_pool_infer, &in, 1), &nc.diag);
    CHECK(nc.out.dims[0] == 1 && nc.out.dims[1] == 2 && nc.out.dims[2] == 3 && nc.out.dims[3] == 3);
    node_end(&nc);
    node_begin(&nc, "NhwcGlobalAveragePool", "ai.edgeml", 1, 1);
    REQUIRE_OK(node_prepare(&nc, eml__nhwc_global_pool_prepare), &nc.diag);
    REQUIRE_OK(node_infer(&nc, eml__nhwc_global_pool_infer, &in, 1), &nc.diag);
    CHECK(nc.out.dims[0] == 1 && nc.out.dims[1] == 1 && nc.out.dims[2] == 1 && nc.out.dims[3] == 3);
    node_end(&nc);
}

/* ---- the layout Transposes ---- */

EML_TEST(fast_transpose_between_layouts)
{
    pools3 pools;
    pools_begin(&pools);
    /* float32, and the uint8 and float16 elements of quantized and half models: random bits */
    static const eml_dtype dtypes[3] = {EML_DTYPE_F32, EML_DTYPE_U8, EML_DTYPE_F16};
    for (int iter = 0; iter < 90; iter++) {
        const bool to_nhwc = iter % 2 == 0;
        const int64_t dims[4] = {rnd(1, 2), rnd(1, 70), rnd(1, 40), rnd(1, 45)};
        const size_t count = (size_t)(dims[0] * dims[1] * dims[2] * dims[3]);
        float *x = random_floats(count);
        eml_tensor xt = t4(x, dims[0], dims[1], dims[2], dims[3]);
        xt.dtype = dtypes[(iter / 2) % 3];
        const size_t bytes = count * eml_dtype_size(xt.dtype);
        node_case nc;
        node_begin(&nc, "Transpose", "", 13, 1);
        attr_ints(&nc, "perm",
                  to_nhwc ? (const int64_t[]){0, 2, 3, 1} : (const int64_t[]){0, 3, 1, 2}, 4);
        REQUIRE_OK(node_prepare(&nc, eml__transpose_prepare), &nc.diag);
        REQUIRE_OK(node_infer(&nc, eml__transpose_infer, &xt, 1), &nc.diag);
        float *ref =
            node_kernel(&nc, eml__ref_transpose, nc.params, &xt, 1, nc.scratch_bytes, NULL);
        eml_tensor sel = xt;
        sel.data = NULL;
        eml_fast_select_ctx ctx = {nc.node->op, nc.params, 13, &sel, 1, 1, nc.env};
        eml_fast_kernel fk = {0};
        REQUIRE(eml__fast_nhwc_transpose_select(&ctx, &fk) == EML_OK && fk.run);
        const char *kernel = xt.dtype == EML_DTYPE_U8    ? "x8_"
                             : xt.dtype == EML_DTYPE_F16 ? "x16"
                                                         : "x32";
        CHECK(strncmp(fk.name, kernel, 3) == 0);
        if (xt.dtype == EML_DTYPE_F32)
            CHECK(check_fast(&nc, &fk, &xt, 1, ref, pools.p));
        /* exact: a transpose moves bits, with 1, 2 and 3 threads */
        for (int t = 0; t < 3; t++) {
            void *y = node_kernel(&nc, fk.run, fk.state, &xt, 1, 0, pools.p[t]);
            CHECK(memcmp(y, ref, bytes) == 0);
            free(y);
        }
        fk.destroy(nc.env, fk.state);
        free(ref);
        free(x);
        node_end(&nc);
    }
    pools_end(&pools);
}

/* ---- Concat ---- */

EML_TEST(fast_concat_equals_reference)
{
    pools3 pools;
    pools_begin(&pools);
    for (int iter = 0; iter < 60; iter++) {
        const int n_in = rnd(1, 3), rank = rnd(1, 4);
        const int axis = rnd(0, rank - 1);
        int64_t dims[4];
        for (int d = 0; d < rank; d++)
            dims[d] = rnd(1, d == 0 ? 3 : 40);
        eml_tensor in[3];
        float *data[3];
        int64_t out_axis = 0;
        for (int i = 0; i < n_in; i++) {
            in[i] = (eml_tensor){EML_DTYPE_F32, rank, {0}, NULL};
            memcpy(in[i].dims, dims, sizeof(dims));
            in[i].dims[axis] = rnd(0, 20); /* empty inputs too */
            out_axis += in[i].dims[axis];
            data[i] = random_floats((size_t)eml_tensor_count(&in[i]) + 1);
            in[i].data = data[i];
        }
        if (out_axis == 0) {
            for (int i = 0; i < n_in; i++)
                free(data[i]);
            continue;
        }
        node_case nc;
        node_begin(&nc, "Concat", "", 13, n_in);
        attr_i(&nc, "axis", axis - (iter % 2 ? rank : 0)); /* negative axes too */
        REQUIRE_OK(node_prepare(&nc, eml__concat_prepare), &nc.diag);
        REQUIRE_OK(node_infer(&nc, eml__concat_infer, in, n_in), &nc.diag);
        float *ref = node_kernel(&nc, eml__ref_concat, nc.params, in, n_in, nc.scratch_bytes, NULL);
        eml_fast_select_ctx ctx = {nc.node->op, nc.params, 13, in, n_in, 1, nc.env};
        eml_fast_kernel fk = {0};
        REQUIRE(eml__fast_concat_select(&ctx, &fk) == EML_OK && fk.run);
        for (int t = 0; t < 3; t++) {
            float *y = node_kernel(&nc, fk.run, fk.state, in, n_in, 0, pools.p[t]);
            CHECK(memcmp(y, ref, eml_tensor_bytes(&nc.out)) == 0);
            free(y);
        }
        fk.destroy(nc.env, fk.state);
        free(ref);
        for (int i = 0; i < n_in; i++)
            free(data[i]);
        node_end(&nc);
    }
    pools_end(&pools);
}
