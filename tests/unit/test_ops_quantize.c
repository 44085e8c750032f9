/* Unit tests of QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear through their prepare,
 * infer and reference kernel: rounding, saturation, per-axis parameters, refusals. */
#include <math.h>
#include <stdarg.h>

#include "graph/graph.h"
#include "harness.h"
#include "kernels/ref/quantize.h"

/* ---- running one node by hand ---- */

/* The functions under test, named directly (ops.def names the same ones; see op_table_agrees). */
static const struct op_fns {
    const char *op;
    eml_prepare_fn prepare;
    eml_infer_fn infer;
    eml_kernel_fn kernel;
} op_fns[] = {
    {"QuantizeLinear", eml__quantize_prepare, eml__quantize_infer, eml__ref_quantize},
    {"DequantizeLinear", eml__quantize_prepare, eml__dequantize_infer, eml__ref_dequantize},
    {"DynamicQuantizeLinear", eml__quantize_prepare, eml__dynamic_quantize_infer,
     eml__ref_dynamic_quantize},
};

#define MAX_ATTRS 4

typedef struct op_case {
    const struct op_fns *fns;
    eml_env *env;
    eml_graph *graph;
    eml_node *node;
    _Alignas(64) unsigned char params[EML_PARAMS_MAX];
    eml_diag diag;
    eml_tensor out[3];
    int n_out;
    size_t scratch_bytes;
    uint64_t macs;
    void *scratch;
} op_case;

static void op_begin(op_case *c, const char *op, int32_t opset, int n_in, int n_out)
{
    memset(c, 0, sizeof(*c));
    for (size_t i = 0; i < sizeof(op_fns) / sizeof(op_fns[0]); i++) {
        if (strcmp(op_fns[i].op, op) == 0)
            c->fns = &op_fns[i];
    }
    REQUIRE(c->fns);
    REQUIRE(eml_env_create(NULL, &c->env) == EML_OK);
    REQUIRE(eml__graph_create(c->env, NULL, &c->graph) == EML_OK);
    REQUIRE(eml__graph_add_node(c->graph, "n0", op, "", n_in, n_out, MAX_ATTRS, &c->node) ==
            EML_OK);
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

static eml_status op_prepare(op_case *c)
{
    eml_prepare_ctx ctx = {.node = c->node,
                           .op = c->node->op,
                           .opset = c->node->opset,
                           .params = c->params,
                           .diag = &c->diag};
    return c->fns->prepare(&ctx);
}

static eml_status op_infer(op_case *c, const eml_tensor *in, int n_in)
{
    eml_infer_ctx ctx = {.params = c->params,
                         .op = c->node->op,
                         .opset = c->node->opset,
                         .node_name = c->node->name,
                         .inputs = in,
                         .n_inputs = n_in,
                         .outputs = c->out,
                         .n_outputs = c->n_out,
                         .diag = &c->diag};
    eml_status st = c->fns->infer(&ctx);
    c->scratch_bytes = ctx.scratch_bytes;
    c->macs = ctx.macs;
    return st;
}

/* prepare + infer + kernel; outputs and scratch get exactly the bytes asked for, so that the
 * sanitizers see any overrun. */
static eml_status op_run(op_case *c, const eml_tensor *in, int n_in, eml_pool *pool)
{
    eml_status st = op_prepare(c);
    if (st == EML_OK)
        st = op_infer(c, in, n_in);
    if (st != EML_OK)
        return st;
    for (int i = 0; i < c->n_out; i++) {
        c->out[i].data = calloc(1, eml_tensor_bytes(&c->out[i]) + 1);
        REQUIRE(c->out[i].data);
    }
    c->scratch = malloc(c->scratch_bytes + 1);
    eml_kernel_ctx k = {.params = c->params,
                        .inputs = in,
                        .n_inputs = n_in,
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

/* A tensor view of `data` with `rank` dims given as ints. */
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

static const eml_tensor absent = {.dtype = EML_DTYPE_UNDEFINED};

/* ---- QuantizeLinear ---- */

static const float ties[] = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 300.0f, -300.0f};

EML_TEST(quantize_rounds_half_to_even_and_saturates)
{
    const float scale[] = {1.0f};
    const uint8_t zp_u8[] = {3};
    const int8_t zp_i8[] = {-3};
    eml_tensor in[3] = {tensor(EML_DTYPE_F32, ties, 1, 8), tensor(EML_DTYPE_F32, scale, 0),
                        tensor(EML_DTYPE_U8, zp_u8, 0)};
    op_case oc;
    op_begin(&oc, "QuantizeLinear", 10, 3, 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    const uint8_t want_u8[] = {1, 1, 3, 3, 5, 5, 255, 0};
    CHECK(oc.out[0].dtype == EML_DTYPE_U8);
    CHECK(memcmp(oc.out[0].data, want_u8, sizeof(want_u8)) == 0);
    op_end(&oc);

    in[2] = tensor(EML_DTYPE_I8, zp_i8, 1, 1);
    op_begin(&oc, "QuantizeLinear", 13, 3, 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    const int8_t want_i8[] = {-5, -5, -3, -3, -1, -1, 127, -128};
    CHECK(oc.out[0].dtype == EML_DTYPE_I8);
    CHECK(memcmp(oc.out[0].data, want_i8, sizeof(want_i8)) == 0);
    op_end(&oc);
}

EML_TEST(quantize_without_zero_point_is_uint8)
{
    const float x[] = {-1.0f, 0.0f, 1.0f, 2.0f, 1000.0f, NAN}, scale[] = {0.5f};
    eml_tensor in[2] = {tensor(EML_DTYPE_F32, x, 2, 2, 3), tensor(EML_DTYPE_F32, scale, 0)};
    op_case oc;
    op_begin(&oc, "QuantizeLinear", 13, 2, 1);
    REQUIRE_OK(op_run(&oc, in, 2, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_U8 && oc.out[0].rank == 2);
    const uint8_t *y = oc.out[0].data;
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 2 && y[3] == 4 && y[4] == 255);
    op_end(&oc);

    /* an omitted (empty-named) zero point is the same */
    eml_tensor omitted[3] = {in[0], in[1], absent};
    op_begin(&oc, "QuantizeLinear", 13, 3, 1);
    REQUIRE_OK(op_run(&oc, omitted, 3, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_U8 && ((uint8_t *)oc.out[0].data)[3] == 4);
    op_end(&oc);
}

EML_TEST(quantize_per_axis_backend_case)
{
    /* ONNX backend test test_quantizelinear_axis (axis defaults to 1) */
    const float x[] = {-162, 10, -100, 232, -20, -50, -76, 0, 0, 252, 32, -44, 245, -485, -960,
                       -270, -375, -470};
    const float scale[] = {2, 4, 5};
    const uint8_t zp[] = {84, 24, 196};
    const uint8_t want[] = {3,  89, 34,  200, 74, 59, 5,   24,  24,
                            87, 32, 13,  245, 99, 4,  142, 121, 102};
    eml_tensor in[3] = {tensor(EML_DTYPE_F32, x, 4, 1, 3, 3, 2), tensor(EML_DTYPE_F32, scale, 1, 3),
                        tensor(EML_DTYPE_U8, zp, 1, 3)};
    op_case oc;
    op_begin(&oc, "QuantizeLinear", 13, 3, 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    CHECK(memcmp(oc.out[0].data, want, sizeof(want)) == 0);
    op_end(&oc);

    /* the same with a negative axis */
    op_begin(&oc, "QuantizeLinear", 13, 3, 1);
    attr_i(&oc, "axis", -3);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    CHECK(memcmp(oc.out[0].data, want, sizeof(want)) == 0);
    op_end(&oc);

    /* and back: test_dequantizelinear_axis */
    eml_tensor dq[3] = {tensor(EML_DTYPE_U8, want, 4, 1, 3, 3, 2), in[1], in[2]};
    op_begin(&oc, "DequantizeLinear", 13, 3, 1);
    REQUIRE_OK(op_run(&oc, dq, 3, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_F32);
    CHECK(memcmp(oc.out[0].data, x, sizeof(x)) == 0);
    op_end(&oc);
}

EML_TEST(quantize_int32_input)
{
    const int32_t x[] = {-1000, -7, -3, 3, 5, 7, 1000};
    const float scale[] = {2.0f};
    const int8_t zp[] = {1};
    eml_tensor in[3] = {tensor(EML_DTYPE_I32, x, 1, 7), tensor(EML_DTYPE_F32, scale, 0),
                        tensor(EML_DTYPE_I8, zp, 0)};
    op_case oc;
    op_begin(&oc, "QuantizeLinear", 13, 3, 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    const int8_t want[] = {-128, -3, -1, 3, 3, 5, 127};
    CHECK(memcmp(oc.out[0].data, want, sizeof(want)) == 0);
    op_end(&oc);
}

EML_TEST(quantize_refusals)
{
    const float x[6] = {0}, scale2[] = {1, 2}, scale3[] = {1, 2, 3};
    const uint8_t zp2[] = {0, 0};
    op_case oc;
    /* axis arrived with opset 13 */
    op_begin(&oc, "QuantizeLinear", 10, 2, 1);
    attr_i(&oc, "axis", 0);
    CHECK_STATUS(op_prepare(&oc), EML_EUNSUPPORTED);
    op_end(&oc);

    /* per-axis scale before opset 13 */
    eml_tensor per_axis[2] = {tensor(EML_DTYPE_F32, x, 2, 3, 2),
                              tensor(EML_DTYPE_F32, scale3, 1, 3)};
    op_begin(&oc, "QuantizeLinear", 10, 2, 1);
    REQUIRE_OK(op_prepare(&oc), &oc.diag);
    CHECK_STATUS(op_infer(&oc, per_axis, 2), EML_ESHAPE);
    op_end(&oc);

    op_begin(&oc, "QuantizeLinear", 13, 3, 1);
    REQUIRE_OK(op_prepare(&oc), &oc.diag);
    /* axis 1 has 2 entries, the scale 3 */
    CHECK_STATUS(op_infer(&oc, per_axis, 2), EML_ESHAPE);
    /* zero point shaped unlike the scale */
    eml_tensor zp_mismatch[3] = {tensor(EML_DTYPE_F32, x, 2, 3, 2),
                                 tensor(EML_DTYPE_F32, scale2, 1, 2), tensor(EML_DTYPE_U8, zp2, 0)};
    CHECK_STATUS(op_infer(&oc, zp_mismatch, 3), EML_ESHAPE);
    eml_tensor f64[2] = {tensor(EML_DTYPE_F64, x, 1, 3), tensor(EML_DTYPE_F32, scale2, 0)};
    CHECK_STATUS(op_infer(&oc, f64, 2), EML_EUNSUPPORTED);
    eml_tensor scale_f64[2] = {tensor(EML_DTYPE_F32, x, 1, 3), tensor(EML_DTYPE_F64, scale2, 0)};
    CHECK_STATUS(op_infer(&oc, scale_f64, 2), EML_ETYPE);
    eml_tensor zp_i32[3] = {tensor(EML_DTYPE_F32, x, 1, 3), tensor(EML_DTYPE_F32, scale2, 0),
                            tensor(EML_DTYPE_I32, zp2, 0)};
    CHECK_STATUS(op_infer(&oc, zp_i32, 3), EML_EUNSUPPORTED);
    op_end(&oc);

    /* axis out of range for a per-axis scale */
    op_begin(&oc, "QuantizeLinear", 13, 2, 1);
    attr_i(&oc, "axis", 2);
    REQUIRE_OK(op_prepare(&oc), &oc.diag);
    eml_tensor far[2] = {tensor(EML_DTYPE_F32, x, 2, 3, 2), tensor(EML_DTYPE_F32, scale2, 1, 2)};
    CHECK_STATUS(op_infer(&oc, far, 2), EML_ESHAPE);
    op_end(&oc);
}

/* ---- DequantizeLinear ---- */

EML_TEST(dequantize_per_tensor_int8_and_int32)
{
    const int8_t x[] = {-128, -1, 0, 127};
    const float scale[] = {0.5f};
    const int8_t zp[] = {-1};
    eml_tensor in[3] = {tensor(EML_DTYPE_I8, x, 1, 4), tensor(EML_DTYPE_F32, scale, 0),
                        tensor(EML_DTYPE_I8, zp, 0)};
    op_case oc;
    op_begin(&oc, "DequantizeLinear", 10, 3, 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    const float want[] = {-63.5f, 0.0f, 0.5f, 64.0f};
    CHECK(memcmp(oc.out[0].data, want, sizeof(want)) == 0);
    op_end(&oc);

    /* int32 (a bias) has no zero point */
    const int32_t xi[] = {-100000, 5, 1 << 30};
    eml_tensor i32[2] = {tensor(EML_DTYPE_I32, xi, 1, 3), tensor(EML_DTYPE_F32, scale, 1, 1)};
    op_begin(&oc, "DequantizeLinear", 13, 2, 1);
    REQUIRE_OK(op_run(&oc, i32, 2, NULL), &oc.diag);
    const float want_i32[] = {-50000.0f, 2.5f, 536870912.0f};
    CHECK(memcmp(oc.out[0].data, want_i32, sizeof(want_i32)) == 0);
    op_end(&oc);

    /* zero point of another dtype than x */
    const uint8_t zpu[] = {0};
    eml_tensor mixed[3] = {in[0], in[1], tensor(EML_DTYPE_U8, zpu, 0)};
    op_begin(&oc, "DequantizeLinear", 13, 3, 1);
    CHECK_STATUS(op_run(&oc, mixed, 3, NULL), EML_ETYPE);
    op_end(&oc);
    const float xf[] = {1};
    eml_tensor floats[2] = {tensor(EML_DTYPE_F32, xf, 1, 1), in[1]};
    op_begin(&oc, "DequantizeLinear", 13, 2, 1);
    CHECK_STATUS(op_run(&oc, floats, 2, NULL), EML_EUNSUPPORTED);
    op_end(&oc);
}

/* ---- DynamicQuantizeLinear ---- */

static void dynamic_check(const float *x, int n, const uint8_t *want_y, float want_scale,
                          uint8_t want_zp)
{
    eml_tensor in[1] = {tensor(EML_DTYPE_F32, x, 1, n)};
    op_case oc;
    op_begin(&oc, "DynamicQuantizeLinear", 11, 1, 3);
    REQUIRE_OK(op_run(&oc, in, 1, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_U8 && oc.out[0].rank == 1 && oc.out[0].dims[0] == n);
    CHECK(oc.out[1].dtype == EML_DTYPE_F32 && oc.out[1].rank == 0);
    CHECK(oc.out[2].dtype == EML_DTYPE_U8 && oc.out[2].rank == 0);
    CHECK(memcmp(oc.out[0].data, want_y, (size_t)n) == 0);
    CHECK(*(float *)oc.out[1].data == want_scale);
    CHECK(*(uint8_t *)oc.out[2].data == want_zp);
    op_end(&oc);
}

EML_TEST(dynamic_quantize_backend_cases)
{
    /* test_dynamicquantizelinear, _max_adjusted, _min_adjusted */
    const float x0[] = {0, 2, -3, -2.5f, 1.34f, 0.5f};
    dynamic_check(x0, 6, (const uint8_t[]){153, 255, 0, 26, 221, 179}, 0.019607843831181526f, 153);
    const float x1[] = {-1.0f, -2.1f, -1.3f, -2.5f, -3.34f, -4.0f};
    dynamic_check(x1, 6, (const uint8_t[]){191, 121, 172, 96, 42, 0}, 0.015686275f, 255);
    const float x2[] = {1, 2.1f, 1.3f, 2.5f, 3.34f, 4, 1.5f, 2.6f, 3.9f, 4, 3, 2.345f};
    dynamic_check(x2, 12,
                  (const uint8_t[]){64, 134, 83, 159, 213, 255, 96, 166, 249, 255, 191, 149},
                  0.015686275f, 0);
}

EML_TEST(dynamic_quantize_all_zero_input)
{
    /* range 0: scale 1/255 (as ONNX Runtime), not the formula's 0/0 */
    const float x[] = {0, 0, 0};
    dynamic_check(x, 3, (const uint8_t[]){0, 0, 0}, 1.0f / 255.0f, 0);
    op_case oc;
    op_begin(&oc, "DynamicQuantizeLinear", 11, 1, 3);
    const double xd[] = {1};
    eml_tensor in[1] = {tensor(EML_DTYPE_F64, xd, 1, 1)};
    CHECK_STATUS(op_run(&oc, in, 1, NULL), EML_EUNSUPPORTED);
    op_end(&oc);
}

EML_TEST(op_table_agrees)
{
    for (size_t i = 0; i < sizeof(op_fns) / sizeof(op_fns[0]); i++) {
        const eml_op_info *info = eml__op_info(eml__op_find("", op_fns[i].op));
        REQUIRE(info != NULL);
        CHECK(info->prepare == op_fns[i].prepare);
        CHECK(info->infer == op_fns[i].infer);
        CHECK(info->kernel == op_fns[i].kernel);
    }
}
