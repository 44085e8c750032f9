/* Unit tests of AveragePool, MaxPool (with Indices), GlobalAveragePool, GlobalMaxPool and LRN
 * through their prepare, infer and reference kernel, with values from the ONNX spec's examples. */
#include <math.h>
#include <stdarg.h>

#include "graph/graph.h"
#include "harness.h"
#include "kernels/ref/pool.h"

/* ---- running one node by hand ---- */

static const struct op_fns {
    const char *op;
    eml_prepare_fn prepare;
    eml_infer_fn infer;
    eml_kernel_fn kernel;
} op_fns[] = {
    {"AveragePool", eml__pool_prepare, eml__pool_infer, eml__ref_pool},
    {"MaxPool", eml__pool_prepare, eml__pool_infer, eml__ref_pool},
    {"GlobalAveragePool", eml__global_pool_prepare, eml__global_pool_infer, eml__ref_global_pool},
    {"GlobalMaxPool", eml__global_pool_prepare, eml__global_pool_infer, eml__ref_global_pool},
    {"LRN", eml__lrn_prepare, eml__lrn_infer, eml__ref_lrn},
};

#define MAX_ATTRS 8

typedef struct op_case {
    const struct op_fns *fns;
    eml_env *env;
    eml_graph *graph;
    eml_node *node;
    _Alignas(64) unsigned char params[EML_PARAMS_MAX];
    eml_diag diag;
    eml_tensor out[2];
    int n_out;
    void *scratch;
    size_t scratch_bytes;
} op_case;

static void op_begin(op_case *c, const char *op, int32_t opset, int n_out)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < sizeof(op_fns) / sizeof(op_fns[0]); i++) {
        if (strcmp(op_fns[i].op, op) == 0)
            c->fns = &op_fns[i];
    }
    REQUIRE(c->fns);
    REQUIRE(eml_env_create(NULL, &c->env) == EML_OK);
    REQUIRE(eml__graph_create(c->env, NULL, &c->graph) == EML_OK);
    REQUIRE(eml__graph_add_node(c->graph, "n0", op, "", 1, n_out, MAX_ATTRS, &c->node) ==
            EML_OK);
    for (int i = 0; i < n_out; i++)
        c->node->outputs[i] = i;   /* present outputs; the ids are not looked at */
    c->node->n_attrs = 0;
    c->node->op = eml__op_find("", op);
    c->node->opset = opset;
    REQUIRE(c->node->op != EML_OP_UNKNOWN);
    c->n_out = n_out;
    eml_diag_init(&c->diag);
}

static eml_attr *add_attr(op_case *c, const char *name, eml_attr_type type)
{
    REQUIRE(c->node->n_attrs < MAX_ATTRS);
    eml_attr *a = &c->node->attrs[c->node->n_attrs++];
    a->name = eml__strdup(c->env, name);
    a->type = type;
    return a;
}

static void attr_i(op_case *c, const char *name, int64_t v)
{
    add_attr(c, name, EML_ATTR_INT)->i = v;
}

static void attr_f(op_case *c, const char *name, float v)
{
    add_attr(c, name, EML_ATTR_FLOAT)->f = v;
}

static void attr_s(op_case *c, const char *name, const char *s)
{
    eml_attr *a = add_attr(c, name, EML_ATTR_STRING);
    a->s = eml__strdup(c->env, s);
    a->s_len = strlen(s);
}

static void attr_ints(op_case *c, const char *name, int n, ...)
{
    eml_attr *a = add_attr(c, name, EML_ATTR_INTS);
    a->ints = eml__alloc(c->env, sizeof(int64_t) * (size_t)EML_MAX(n, 1));
    REQUIRE(a->ints);
    a->count = (size_t)n;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        a->ints[i] = va_arg(ap, int);
    va_end(ap);
}

static eml_status op_prepare(op_case *c)
{
    eml_prepare_ctx ctx = {.node = c->node,
                           .op = c->node->op,
                           .opset = c->node->opset,
                           .params = c->params,
                           .diag = &c->diag};
    return c->fns->prepare(&ctx);
}

/* prepare + infer + kernel on one input; outputs get exactly their bytes (sanitizers). */
static eml_status op_run(op_case *c, const eml_tensor *x, eml_pool *pool)
{
    eml_status st = op_prepare(c);
    if (st != EML_OK)
        return st;
    eml_infer_ctx ictx = {.params = c->params,
                          .op = c->node->op,
                          .opset = c->node->opset,
                          .node_name = c->node->name,
                          .inputs = x,
                          .n_inputs = 1,
                          .outputs = c->out,
                          .n_outputs = c->n_out,
                          .diag = &c->diag};
    st = c->fns->infer(&ictx);
    if (st != EML_OK)
        return st;
    for (int i = 0; i < c->n_out; i++) {
        c->out[i].data = malloc(eml_tensor_bytes(&c->out[i]) + 1);
        REQUIRE(c->out[i].data);
    }
    c->scratch_bytes = ictx.scratch_bytes;
    c->scratch = malloc(c->scratch_bytes + 1);
    eml_kernel_ctx k = {.params = c->params,
                        .inputs = x,
                        .n_inputs = 1,
                        .outputs = c->out,
                        .n_outputs = c->n_out,
                        .scratch = c->scratch,
                        .scratch_bytes = c->scratch_bytes,
                        .pool = pool,
                        .diag = &c->diag};
    return c->fns->kernel(&k);
}

static void op_end(op_case *c)
{
    for (int i = 0; i < c->n_out; i++)
        free(c->out[i].data);
    free(c->scratch);
    eml_graph_destroy(c->graph);
    eml_env_destroy(c->env);
}

static eml_tensor tensor(eml_dtype dtype, const void *data, int rank, ...)
{
    eml_tensor t = {.dtype = dtype, .rank = rank, .data = (void *)data};
    va_list ap;
    va_start(ap, rank);
    for (int i = 0; i < rank; i++)
        t.dims[i] = va_arg(ap, int);
    va_end(ap);
    return t;
}

static void check_shape(const eml_tensor *t, int rank, const int64_t *dims)
{
    CHECK(t->rank == rank);
    for (int i = 0; i < rank && i < t->rank; i++)
        CHECK(t->dims[i] == dims[i]);
}

static void check_near(const eml_tensor *t, const double *expected, int64_t n)
{
    CHECK(eml_tensor_count(t) == n);
    for (int64_t i = 0; i < n; i++) {
        double v = eml__tensor_get_f64(t, i);
        if (fabs(v - expected[i]) > 1e-6 + 1e-3 * fabs(expected[i])) {
            fprintf(stderr, "element %lld: %.9g, expected %.9g\n", (long long)i, v, expected[i]);
            CHECK(0);
            return;
        }
    }
}

/* 1, 2, ..., n */
static float counting[64];

static const float *count_from_one(void)
{
    for (int i = 0; i < 64; i++)
        counting[i] = (float)(i + 1);
    return counting;
}

/* ---- MaxPool ---- */

EML_TEST(maxpool_pads_with_indices)
{
    eml_tensor x = tensor(EML_DTYPE_F32, count_from_one(), 4, 1, 1, 5, 5);
    op_case oc;
    op_begin(&oc, "MaxPool", 12, 2);
    attr_ints(&oc, "kernel_shape", 2, 5, 5);
    attr_ints(&oc, "pads", 4, 2, 2, 2, 2);
    REQUIRE_OK(op_run(&oc, &x, NULL), &oc.diag);
    check_shape(&oc.out[0], 4, (const int64_t[]){1, 1, 5, 5});
    check_near(&oc.out[0],
               (const double[]){13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25,
                                25, 25, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25},
               25);
    CHECK(oc.out[1].dtype == EML_DTYPE_I64);
    const int64_t *idx = oc.out[1].data;
    static const int64_t expected[25] = {12, 13, 14, 14, 14, 17, 18, 19, 19, 19, 22, 23, 24,
                                         24, 24, 22, 23, 24, 24, 24, 22, 23, 24, 24, 24};
    CHECK(memcmp(idx, expected, sizeof(expected)) == 0);
    op_end(&oc);
}

EML_TEST(maxpool_storage_order_and_batch_offsets)
{
    /* two planes: indices count the plane's offset in the flattened input */
    float x[50];
    for (int i = 0; i < 50; i++)
        x[i] = (float)(i % 25 + 1);
    eml_tensor t = tensor(EML_DTYPE_F32, x, 4, 2, 1, 5, 5);
    op_case oc;
    op_begin(&oc, "MaxPool", 8, 2);
    attr_ints(&oc, "kernel_shape", 2, 2, 2);
    attr_ints(&oc, "strides", 2, 2, 2);
    attr_i(&oc, "storage_order", 1);
    REQUIRE_OK(op_run(&oc, &t, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){7, 9, 17, 19, 7, 9, 17, 19}, 8);
    static const int64_t col_major[8] = {6, 16, 8, 18, 31, 41, 33, 43};
    CHECK(memcmp(oc.out[1].data, col_major, sizeof(col_major)) == 0);
    op_end(&oc);
}

EML_TEST(maxpool_dilations_ceil_and_integer_types)
{
    eml_tensor x = tensor(EML_DTYPE_F32, count_from_one(), 4, 1, 1, 4, 4);
    op_case oc;
    op_begin(&oc, "MaxPool", 10, 1);
    attr_ints(&oc, "kernel_shape", 2, 2, 2);
    attr_ints(&oc, "dilations", 2, 2, 2);
    REQUIRE_OK(op_run(&oc, &x, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){11, 12, 15, 16}, 4);
    op_end(&oc);

    op_begin(&oc, "MaxPool", 10, 1);
    attr_ints(&oc, "kernel_shape", 2, 3, 3);
    attr_ints(&oc, "strides", 2, 2, 2);
    attr_i(&oc, "ceil_mode", 1);
    REQUIRE_OK(op_run(&oc, &x, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){11, 12, 15, 16}, 4);
    op_end(&oc);

    const int8_t xi[] = {-5, -3, -128, 127, 0, -1};
    eml_tensor ti = tensor(EML_DTYPE_I8, xi, 3, 1, 2, 3);
    op_begin(&oc, "MaxPool", 12, 1);
    attr_ints(&oc, "kernel_shape", 1, 2);
    attr_ints(&oc, "pads", 2, 1, 0);
    REQUIRE_OK(op_run(&oc, &ti, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_I8);
    const int8_t *yi = oc.out[0].data;
    CHECK(yi[0] == -5 && yi[1] == -3 && yi[2] == -3 && yi[3] == 127 && yi[4] == 127 &&
          yi[5] == 0);
    op_end(&oc);

    op_begin(&oc, "MaxPool", 11, 1);   /* int8 arrived with MaxPool-12 */
    attr_ints(&oc, "kernel_shape", 1, 2);
    CHECK_STATUS(op_run(&oc, &ti, NULL), EML_EUNSUPPORTED);
    op_end(&oc);
}

/* ---- AveragePool ---- */

EML_TEST(avgpool_pads_with_and_without_count_include_pad)
{
    eml_tensor x = tensor(EML_DTYPE_F32, count_from_one(), 4, 1, 1, 5, 5);
    op_case oc;
    op_begin(&oc, "AveragePool", 11, 1);
    attr_ints(&oc, "kernel_shape", 2, 5, 5);
    attr_ints(&oc, "pads", 4, 2, 2, 2, 2);
    REQUIRE_OK(op_run(&oc, &x, NULL), &oc.diag);
    check_near(&oc.out[0],
               (const double[]){7,  7.5, 8,  8.5, 9,  9.5, 10, 10.5, 11, 11.5, 12, 12.5, 13,
                                13.5, 14, 14.5, 15, 15.5, 16, 16.5, 17, 17.5, 18, 18.5, 19},
               25);
    op_end(&oc);

    op_begin(&oc, "AveragePool", 7, 1);
    attr_ints(&oc, "kernel_shape", 2, 5, 5);
    attr_ints(&oc, "pads", 4, 2, 2, 2, 2);
    attr_i(&oc, "count_include_pad", 1);
    REQUIRE_OK(op_run(&oc, &x, NULL), &oc.diag);
    check_near(&oc.out[0],
               (const double[]){2.52, 3.6,  4.8,  4.08, 3.24, 4.56, 6.4,  8.4,  7.04,
                                5.52, 7.2,  10,   13,   10.8, 8.4,  6.96, 9.6,  12.4,
                                10.24, 7.92, 6.12, 8.4, 10.8, 8.88, 6.84},
               25);
    op_end(&oc);
}

EML_TEST(avgpool_same_upper_ceil_and_3d_f64)
{
    eml_tensor x = tensor(EML_DTYPE_F32, count_from_one(), 4, 1, 1, 5, 5);
    op_case oc;
    op_begin(&oc, "AveragePool", 1, 1);
    attr_ints(&oc, "kernel_shape", 2, 3, 3);
    attr_ints(&oc, "strides", 2, 2, 2);
    attr_s(&oc, "auto_pad", "SAME_UPPER");
    REQUIRE_OK(op_run(&oc, &x, NULL), &oc.diag);
    check_shape(&oc.out[0], 4, (const int64_t[]){1, 1, 3, 3});
    check_near(&oc.out[0], (const double[]){4, 5.5, 7, 11.5, 13, 14.5, 19, 20.5, 22}, 9);
    op_end(&oc);

    eml_tensor x4 = tensor(EML_DTYPE_F32, count_from_one(), 4, 1, 1, 4, 4);
    op_begin(&oc, "AveragePool", 10, 1);
    attr_ints(&oc, "kernel_shape", 2, 3, 3);
    attr_ints(&oc, "strides", 2, 2, 2);
    attr_i(&oc, "ceil_mode", 1);
    REQUIRE_OK(op_run(&oc, &x4, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){6, 7.5, 12, 13.5}, 4);
    op_end(&oc);

    /* ceil_mode does not add a window that would start in the end padding: 4 + 1 pad, kernel 2,
     * stride 2 gives ceil(3/2) + 1 = 3 windows, the last starting at 4 (padding): dropped */
    eml_tensor x1 = tensor(EML_DTYPE_F32, count_from_one(), 3, 1, 1, 4);
    op_begin(&oc, "AveragePool", 11, 1);
    attr_ints(&oc, "kernel_shape", 1, 2);
    attr_ints(&oc, "strides", 1, 2);
    attr_ints(&oc, "pads", 2, 0, 1);
    attr_i(&oc, "ceil_mode", 1);
    REQUIRE_OK(op_run(&oc, &x1, NULL), &oc.diag);
    check_shape(&oc.out[0], 3, (const int64_t[]){1, 1, 2});
    check_near(&oc.out[0], (const double[]){1.5, 3.5}, 2);
    op_end(&oc);

    double xd[16];
    for (int i = 0; i < 16; i++)
        xd[i] = i;
    eml_tensor t3 = tensor(EML_DTYPE_F64, xd, 5, 1, 2, 2, 2, 2);
    op_begin(&oc, "AveragePool", 11, 1);
    attr_ints(&oc, "kernel_shape", 3, 2, 2, 2);
    REQUIRE_OK(op_run(&oc, &t3, NULL), &oc.diag);
    check_shape(&oc.out[0], 5, (const int64_t[]){1, 2, 1, 1, 1});
    check_near(&oc.out[0], (const double[]){3.5, 11.5}, 2);
    op_end(&oc);
}

/* Planes split over threads give the same bits as one thread. */
EML_TEST(pool_threads_agree_with_inline)
{
    enum { C = 16, H = 30 };
    static float x[C * H * H];
    for (int i = 0; i < C * H * H; i++)
        x[i] = eml_test_randf(-1, 1);
    eml_tensor t = tensor(EML_DTYPE_F32, x, 4, 1, C, H, H);
    eml_env *env;
    eml_pool *pool;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    REQUIRE(eml__pool_create(env, 3, &pool) == EML_OK);
    for (int is_max = 0; is_max < 2; is_max++) {
        op_case a, b;
        op_begin(&a, is_max ? "MaxPool" : "AveragePool", 11, 1);
        attr_ints(&a, "kernel_shape", 2, 3, 3);
        attr_ints(&a, "pads", 4, 1, 1, 1, 1);
        op_begin(&b, is_max ? "MaxPool" : "AveragePool", 11, 1);
        attr_ints(&b, "kernel_shape", 2, 3, 3);
        attr_ints(&b, "pads", 4, 1, 1, 1, 1);
        REQUIRE_OK(op_run(&a, &t, NULL), &a.diag);
        REQUIRE_OK(op_run(&b, &t, pool), &b.diag);
        CHECK(memcmp(a.out[0].data, b.out[0].data, eml_tensor_bytes(&a.out[0])) == 0);
        op_end(&a);
        op_end(&b);
    }
    eml__pool_destroy(pool);
    eml_env_destroy(env);
}

EML_TEST(pool_refuses_bad_attributes_and_shapes)
{
    eml_tensor x = tensor(EML_DTYPE_F32, count_from_one(), 4, 1, 1, 4, 4);
    op_case oc;

    op_begin(&oc, "MaxPool", 12, 1);   /* kernel_shape is required */
    CHECK_STATUS(op_prepare(&oc), EML_EGRAPH);
    op_end(&oc);

    op_begin(&oc, "MaxPool", 12, 1);
    attr_ints(&oc, "kernel_shape", 2, 2, 2);
    attr_i(&oc, "storage_order", 2);
    CHECK_STATUS(op_prepare(&oc), EML_EGRAPH);
    op_end(&oc);

    op_begin(&oc, "AveragePool", 9, 1);   /* ceil_mode arrived with opset 10 */
    attr_ints(&oc, "kernel_shape", 2, 2, 2);
    attr_i(&oc, "ceil_mode", 1);
    CHECK_STATUS(op_prepare(&oc), EML_EUNSUPPORTED);
    op_end(&oc);

    op_begin(&oc, "AveragePool", 11, 1);   /* AveragePool has no dilations before opset 19 */
    attr_ints(&oc, "kernel_shape", 2, 2, 2);
    attr_ints(&oc, "dilations", 2, 2, 2);
    CHECK_STATUS(op_prepare(&oc), EML_EUNSUPPORTED);
    op_end(&oc);

    op_begin(&oc, "MaxPool", 12, 1);
    attr_ints(&oc, "kernel_shape", 2, 2, 0);
    CHECK_STATUS(op_prepare(&oc), EML_EGRAPH);
    op_end(&oc);

    op_begin(&oc, "MaxPool", 12, 1);
    attr_ints(&oc, "kernel_shape", 2, 2, 2);
    attr_s(&oc, "auto_pad", "same");
    CHECK_STATUS(op_prepare(&oc), EML_EUNSUPPORTED);
    op_end(&oc);

    op_begin(&oc, "MaxPool", 12, 1);   /* three kernel dims for a 2D input */
    attr_ints(&oc, "kernel_shape", 3, 2, 2, 2);
    CHECK_STATUS(op_run(&oc, &x, NULL), EML_ESHAPE);
    op_end(&oc);

    op_begin(&oc, "MaxPool", 12, 1);   /* a 5-wide window over 4 pixels leaves no output */
    attr_ints(&oc, "kernel_shape", 2, 5, 5);
    CHECK_STATUS(op_run(&oc, &x, NULL), EML_ESHAPE);
    op_end(&oc);

    const uint8_t xu[16] = {0};
    eml_tensor tu = tensor(EML_DTYPE_U8, xu, 4, 1, 1, 4, 4);
    op_begin(&oc, "AveragePool", 11, 1);
    attr_ints(&oc, "kernel_shape", 2, 2, 2);
    CHECK_STATUS(op_run(&oc, &tu, NULL), EML_EUNSUPPORTED);
    op_end(&oc);
}

/* ---- global pools ---- */

EML_TEST(global_pools)
{
    eml_tensor x = tensor(EML_DTYPE_F32, count_from_one(), 4, 1, 2, 3, 3);
    op_case oc;
    op_begin(&oc, "GlobalAveragePool", 1, 1);
    REQUIRE_OK(op_run(&oc, &x, NULL), &oc.diag);
    check_shape(&oc.out[0], 4, (const int64_t[]){1, 2, 1, 1});
    check_near(&oc.out[0], (const double[]){5, 14}, 2);
    op_end(&oc);

    op_begin(&oc, "GlobalMaxPool", 1, 1);
    REQUIRE_OK(op_run(&oc, &x, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){9, 18}, 2);
    op_end(&oc);

    uint16_t h[6];
    for (int i = 0; i < 6; i++)
        h[i] = eml_f32_to_f16((float)(i * i));
    eml_tensor th = tensor(EML_DTYPE_F16, h, 5, 2, 1, 1, 3, 1);
    op_begin(&oc, "GlobalMaxPool", 1, 1);
    REQUIRE_OK(op_run(&oc, &th, NULL), &oc.diag);
    check_shape(&oc.out[0], 5, (const int64_t[]){2, 1, 1, 1, 1});
    check_near(&oc.out[0], (const double[]){4, 25}, 2);
    op_end(&oc);

    op_begin(&oc, "GlobalAveragePool", 1, 1);
    attr_i(&oc, "keepdims", 1);
    CHECK_STATUS(op_prepare(&oc), EML_EUNSUPPORTED);
    op_end(&oc);

    eml_tensor flat = tensor(EML_DTYPE_F32, count_from_one(), 2, 2, 3);
    op_begin(&oc, "GlobalAveragePool", 1, 1);
    CHECK_STATUS(op_run(&oc, &flat, NULL), EML_ESHAPE);
    op_end(&oc);
}

/* ---- LRN ---- */

EML_TEST(lrn_window_over_channels)
{
    /* size 2: channel c sums c..c+1 (floor((2-1)/2) = 0 before, ceil(1/2) = 1 after) */
    const float x[] = {1, 2};
    eml_tensor t = tensor(EML_DTYPE_F32, x, 4, 1, 2, 1, 1);
    op_case oc;
    op_begin(&oc, "LRN", 1, 1);
    attr_i(&oc, "size", 2);
    attr_f(&oc, "alpha", 2.0f);
    attr_f(&oc, "beta", 1.0f);
    attr_f(&oc, "bias", 1.0f);
    REQUIRE_OK(op_run(&oc, &t, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){1.0 / 6.0, 0.4}, 2);
    op_end(&oc);

    /* defaults alpha 1e-4, beta 0.75, bias 1; size 3 centred */
    const double xd[] = {1, 2, 3};
    eml_tensor td = tensor(EML_DTYPE_F64, xd, 3, 1, 3, 1);
    op_begin(&oc, "LRN", 13, 1);
    attr_i(&oc, "size", 3);
    REQUIRE_OK(op_run(&oc, &td, NULL), &oc.diag);
    double s0 = 1 + 4, s1 = 1 + 4 + 9, s2 = 4 + 9;
    check_near(&oc.out[0],
               (const double[]){1 / pow(1 + 1e-4 / 3 * s0, 0.75), 2 / pow(1 + 1e-4 / 3 * s1, 0.75),
                                3 / pow(1 + 1e-4 / 3 * s2, 0.75)},
               3);
    op_end(&oc);

    op_begin(&oc, "LRN", 13, 1);   /* size is required */
    CHECK_STATUS(op_prepare(&oc), EML_EGRAPH);
    op_end(&oc);

    op_begin(&oc, "LRN", 13, 1);
    attr_i(&oc, "size", 0);
    CHECK_STATUS(op_prepare(&oc), EML_EGRAPH);
    op_end(&oc);

    const int32_t xi[] = {1, 2};
    eml_tensor ti = tensor(EML_DTYPE_I32, xi, 4, 1, 2, 1, 1);
    op_begin(&oc, "LRN", 13, 1);
    attr_i(&oc, "size", 1);
    CHECK_STATUS(op_run(&oc, &ti, NULL), EML_EUNSUPPORTED);
    op_end(&oc);
}

EML_TEST(op_table_agrees)
{
    for (size_t i = 0; i < sizeof(op_fns) / sizeof(op_fns[0]); i++) {
        const eml_op_info *info = eml__op_info(eml__op_find("", op_fns[i].op));
        REQUIRE(info);
        CHECK(info->prepare == op_fns[i].prepare);
        CHECK(info->infer == op_fns[i].infer);
        CHECK(info->kernel == op_fns[i].kernel);
    }
}
