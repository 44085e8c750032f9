/* Quantization rewrites checked structurally on the bundled Fashion-MNIST CNN: the QDQ form
 * (per-channel int8 weights, int32 bias with scale x_scale*w_scale, Q after the activation),
 * per-tensor weights, dynamic INT8, FP16, calibration ranges, graph copies and opset raising. */
#include <math.h>
#include <string.h>

#include "graph/graph.h"
#include "harness.h"
#include "optimize/optimize.h"

static eml_env *make_env(void)
{
    eml_env *env = NULL;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    return env;
}

static eml_graph *load_cnn(eml_env *env)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", eml_test_source_dir());
    eml_graph *g = NULL;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_graph_load_onnx(env, path, &g, &diag), &diag);
    return g;
}

/* 16 seeded images in [0, 1): calibration data for the structure checks. */
static float calib_data[16 * 28 * 28];

static eml_tensor calib_tensor(void)
{
    static int made;
    for (size_t i = 0; !made && i < sizeof(calib_data) / sizeof(calib_data[0]); i++)
        calib_data[i] = eml_test_randf(0.0f, 1.0f);
    made = 1;
    eml_tensor t = {EML_DTYPE_F32, 4, {16, 1, 28, 28}, calib_data};
    return t;
}

static void quantize(eml_graph *g, eml_precision precision, int per_tensor,
                     eml_quantize_report *rep)
{
    eml_tensor calib = calib_tensor();
    eml_quantize_options o;
    eml_quantize_options_init(&o);
    o.precision = precision;
    o.per_tensor = per_tensor;
    o.calib = &calib;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_quantize(g, &o, rep, &diag), &diag);
}

static const eml_node *producer(const eml_graph *g, int32_t v)
{
    return v >= 0 && g->values[v].producer >= 0 ? &g->nodes[g->values[v].producer] : NULL;
}

static bool produced_by(const eml_graph *g, int32_t v, const char *op)
{
    const eml_node *p = producer(g, v);
    return p && strcmp(p->op_type, op) == 0;
}

static bool read_by(const eml_graph *g, int32_t v, const char *op)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        for (int32_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] == v && strcmp(g->nodes[i].op_type, op) == 0)
                return true;
    return false;
}

static int64_t attr_or(const eml_node *n, const char *name, int64_t dflt)
{
    const eml_attr *a = eml__node_attr(n, name);
    return a ? a->i : dflt;
}

static size_t count_op(const eml_graph *g, const char *op)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        n += strcmp(g->nodes[i].op_type, op) == 0;
    return n;
}

EML_TEST(int8_writes_the_qdq_form)
{
    eml_env *env = make_env();
    eml_graph *g = load_cnn(env), *orig = load_cnn(env);
    eml_quantize_report rep;
    quantize(g, EML_PRECISION_INT8, 0, &rep);
    CHECK(eml__graph_opset(g, "") >= 13);
    CHECK(rep.layer_count == 4);
    size_t layers = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const eml_node *n = &g->nodes[i];
        bool conv = strcmp(n->op_type, "Conv") == 0;
        if (!conv && strcmp(n->op_type, "Gemm") != 0)
            continue;
        layers++;
        /* activation: Q -> DQ -> layer */
        const eml_node *xdq = producer(g, n->inputs[0]);
        REQUIRE(xdq && strcmp(xdq->op_type, "DequantizeLinear") == 0);
        CHECK(produced_by(g, xdq->inputs[0], "QuantizeLinear"));
        CHECK(g->values[xdq->inputs[2]].dtype == EML_DTYPE_U8);
        float x_scale = *(const float *)g->values[xdq->inputs[1]].data;
        /* weight: int8 per channel, zero point 0, axis 0 (Conv; Gemm has transB = 1 here) */
        const eml_node *wdq = producer(g, n->inputs[1]);
        REQUIRE(wdq && strcmp(wdq->op_type, "DequantizeLinear") == 0);
        const eml_value *wq = &g->values[wdq->inputs[0]];
        const eml_value *ws = &g->values[wdq->inputs[1]];
        const eml_value *wz = &g->values[wdq->inputs[2]];
        REQUIRE(wq->dtype == EML_DTYPE_I8 && ws->dtype == EML_DTYPE_F32 &&
                wz->dtype == EML_DTYPE_I8);
        CHECK(attr_or(wdq, "axis", 1) == 0);
        CHECK(ws->rank == 1 && ws->dims[0] == wq->dims[0]);
        for (int64_t c = 0; c < wz->dims[0]; c++)
            CHECK(((const int8_t *)wz->data)[c] == 0);
        /* dequantized weights are within half a step of the float ones */
        char name[256];
        snprintf(name, sizeof(name), "%s", wq->name);
        name[strlen(name) - 2] = 0; /* "<weight>_q" */
        int32_t wo = eml__graph_find(orig, name);
        REQUIRE(wo >= 0 && orig->values[wo].data);
        int64_t count = 1;
        for (int d = 0; d < wq->rank; d++)
            count *= wq->dims[d];
        int64_t per = count / wq->dims[0];
        const float *wf = orig->values[wo].data, *scale = ws->data;
        const int8_t *q = wq->data;
        double worst = 0;
        for (int64_t k = 0; k < count; k++) {
            double err = fabs(q[k] * scale[k / per] - wf[k]) / scale[k / per];
            worst = err > worst ? err : worst;
        }
        CHECK(worst <= 0.5 + 1e-4);
        /* bias: int32, scale x_scale * w_scale[c] */
        const eml_node *bdq = producer(g, n->inputs[2]);
        REQUIRE(bdq && strcmp(bdq->op_type, "DequantizeLinear") == 0);
        const eml_value *bq = &g->values[bdq->inputs[0]], *bs = &g->values[bdq->inputs[1]];
        CHECK(bq->dtype == EML_DTYPE_I32 && bs->rank == 1 && bs->dims[0] == ws->dims[0]);
        for (int64_t c = 0; c < bs->dims[0]; c++)
            CHECK(fabsf(((const float *)bs->data)[c] - x_scale * scale[c]) <=
                  1e-6f * x_scale * scale[c]);
        (void)conv;
    }
    CHECK(layers == 4);
    /* Q after each Relu, on the graph input, and after each pool */
    for (size_t i = 0; i < g->n_nodes; i++) {
        const eml_node *n = &g->nodes[i];
        if (strcmp(n->op_type, "Relu") == 0 || strcmp(n->op_type, "MaxPool") == 0)
            CHECK(read_by(g, n->outputs[0], "QuantizeLinear"));
    }
    CHECK(read_by(g, g->inputs[0], "QuantizeLinear"));
    CHECK(count_op(g, "QuantizeLinear") == rep.quantized_tensors);
    /* graph input and output keep their names */
    CHECK(strcmp(g->values[g->inputs[0]].name, "input") == 0);
    CHECK(strcmp(g->values[g->outputs[0]].name, "output") == 0);
    for (size_t l = 0; l < rep.layer_count; l++)
        CHECK(rep.layers[l].sqnr_db > 20.0);
    eml_quantize_report_deinit(&rep);
    eml_graph_destroy(orig);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(int8_per_tensor_has_one_weight_scale)
{
    eml_env *env = make_env();
    eml_graph *g = load_cnn(env);
    quantize(g, EML_PRECISION_INT8, 1, NULL);
    size_t seen = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const eml_node *n = &g->nodes[i];
        if (strcmp(n->op_type, "Conv") != 0 && strcmp(n->op_type, "Gemm") != 0)
            continue;
        const eml_node *wdq = producer(g, n->inputs[1]);
        REQUIRE(wdq);
        CHECK(g->values[wdq->inputs[1]].rank == 0);
        CHECK(eml__node_attr(wdq, "axis") == NULL);
        seen++;
    }
    CHECK(seen == 4);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* Runs g on the calibration images; returns the malloc'd first output. */
static float *run(eml_graph *g, size_t *count)
{
    eml_tensor in = calib_tensor();
    eml_plan *plan;
    eml_session *s;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_plan_create(g, &plan, &diag), &diag);
    REQUIRE_OK(eml_session_create(plan, NULL, &s, &diag), &diag);
    REQUIRE_OK(eml_session_run(s, &in, 1, &diag), &diag);
    eml_tensor out;
    REQUIRE(eml_session_output(s, 0, &out) == EML_OK);
    *count = (size_t)eml_tensor_count(&out);
    float *copy = malloc(*count * sizeof(float));
    REQUIRE(copy);
    memcpy(copy, out.data, *count * sizeof(float));
    eml_session_destroy(s);
    eml_plan_destroy(plan);
    return copy;
}

static double max_rel_diff(eml_graph *a, eml_graph *b)
{
    size_t na, nb;
    float *x = run(a, &na), *y = run(b, &nb);
    REQUIRE(na == nb);
    double big = 0, diff = 0;
    for (size_t i = 0; i < na; i++) {
        big = fmax(big, fabs(x[i]));
        diff = fmax(diff, fabs(x[i] - y[i]));
    }
    free(x);
    free(y);
    return diff / big;
}

EML_TEST(fp16_stores_half_weights_behind_casts)
{
    eml_env *env = make_env();
    eml_graph *g = load_cnn(env), *orig = load_cnn(env);
    quantize(g, EML_PRECISION_FP16, 0, NULL);
    size_t f16 = 0;
    for (size_t v = 0; v < g->n_values; v++) {
        const eml_value *val = &g->values[v];
        if (!(val->flags & EML_VALUE_INITIALIZER))
            continue;
        CHECK(val->dtype == EML_DTYPE_F16);
        f16++;
    }
    CHECK(f16 == 8);
    CHECK(count_op(g, "Cast") == 8);
    /* the weights keep their names: Cast outputs feed the layers */
    for (size_t i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].op_type, "Conv") == 0)
            CHECK(produced_by(g, g->nodes[i].inputs[1], "Cast"));
    double d = max_rel_diff(orig, g);
    printf("fp16 max difference %.2e of the largest output\n", d);
    CHECK(d < 1e-2);
    eml_graph_destroy(orig);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(dynamic_int8_uses_matmul_integer)
{
    eml_env *env = make_env();
    eml_graph *g = load_cnn(env), *orig = load_cnn(env);
    quantize(g, EML_PRECISION_INT8_DYNAMIC, 0, NULL);
    CHECK(count_op(g, "Gemm") == 0);
    CHECK(count_op(g, "MatMulInteger") == 2);
    CHECK(count_op(g, "DynamicQuantizeLinear") == 2);
    CHECK(count_op(g, "Conv") == 2); /* convolutions stay float */
    for (size_t i = 0; i < g->n_nodes; i++) {
        const eml_node *n = &g->nodes[i];
        if (strcmp(n->op_type, "MatMulInteger") != 0)
            continue;
        CHECK(g->values[n->inputs[1]].dtype == EML_DTYPE_I8);
        CHECK(produced_by(g, n->inputs[0], "DynamicQuantizeLinear"));
    }
    double d = max_rel_diff(orig, g);
    printf("dynamic int8 max difference %.2e of the largest output\n", d);
    CHECK(d < 5e-2);
    eml_graph_destroy(orig);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(qrange_scale_and_zero_point)
{
    eml_qrange r = {-1.0f, 3.0f, 0, 0};
    eml__qrange_finish(&r);
    CHECK(fabsf(r.scale - 4.0f / 255.0f) < 1e-7f);
    CHECK(r.zero_point == 64);
    eml_qrange pos = {2.0f, 5.0f, 0, 0}; /* the range always holds 0 */
    eml__qrange_finish(&pos);
    CHECK(pos.lo == 0.0f && pos.zero_point == 0 && fabsf(pos.scale - 5.0f / 255.0f) < 1e-7f);
    eml_qrange none = {0.0f, 0.0f, 0, 0};
    eml__qrange_finish(&none);
    CHECK(none.scale == 1.0f && none.zero_point == 0);
    eml_qrange neg = {-2.0f, -1.0f, 0, 0};
    eml__qrange_finish(&neg);
    CHECK(neg.hi == 0.0f && neg.zero_point == 255);
}

/* The input's calibrated range with one outlier among values in [0, 1). */
static eml_qrange input_range(eml_calib_method method)
{
    eml_env *env = make_env();
    eml_graph *g = load_cnn(env);
    eml_tensor calib = calib_tensor();
    float keep = calib_data[123];
    calib_data[123] = 100.0f;
    eml_quantize_options o;
    eml_quantize_options_init(&o);
    o.method = method;
    o.percentile = 99.9f; /* 12 of the 12,544 values may go: the outlier is one */
    o.calib = &calib;
    eml_qrange r;
    int32_t id = g->inputs[0];
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml__calibrate(g, &o, &id, 1, &r, &diag), &diag);
    calib_data[123] = keep;
    eml_graph_destroy(g);
    eml_env_destroy(env);
    printf("method %d: [%g, %g]\n", (int)method, r.lo, r.hi);
    return r;
}

EML_TEST(calibration_methods_clip_outliers)
{
    eml_qrange mm = input_range(EML_CALIB_MINMAX);
    eml_qrange pc = input_range(EML_CALIB_PERCENTILE);
    eml_qrange en = input_range(EML_CALIB_ENTROPY);
    CHECK(mm.lo == 0.0f && mm.hi == 100.0f);
    CHECK(pc.lo == 0.0f && pc.hi >= 0.99f && pc.hi <= 1.1f);
    /* 2048 bins over [0, 100] and at least 128 kept: the threshold cannot go below 6.25 */
    CHECK(en.lo == 0.0f && en.hi >= 0.5f && en.hi <= 15.0f);
}

EML_TEST(clone_is_deep_and_equal)
{
    eml_env *env = make_env();
    eml_graph *g = load_cnn(env), *c = NULL;
    REQUIRE(eml__graph_clone(g, &c) == EML_OK);
    CHECK(c->n_values == g->n_values && c->n_nodes == g->n_nodes);
    for (size_t v = 0; v < g->n_values; v++) {
        CHECK(strcmp(c->values[v].name, g->values[v].name) == 0);
        CHECK(eml__graph_find(c, g->values[v].name) == (int32_t)v);
        if (g->values[v].data)
            CHECK(c->values[v].data != g->values[v].data);
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        CHECK(strcmp(c->nodes[i].op_type, g->nodes[i].op_type) == 0 &&
              c->nodes[i].n_attrs == g->nodes[i].n_attrs);
    CHECK(max_rel_diff(g, c) == 0.0);
    eml_graph_destroy(g); /* the copy lives on its own */
    size_t n;
    free(run(c, &n));
    eml_graph_destroy(c);
    eml_env_destroy(env);
}

EML_TEST(opset_below_13_is_raised_or_refused)
{
    eml_env *env = make_env();
    eml_graph *g = load_cnn(env);
    for (size_t i = 0; i < g->n_opsets; i++)
        if (!g->opsets[i].domain[0])
            g->opsets[i].version = 11;
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i].opset = 11;
    eml_quantize_report rep;
    quantize(g, EML_PRECISION_INT8, 0, &rep);
    CHECK(rep.opset_upgraded == 1);
    CHECK(eml__graph_opset(g, "") == 13);
    eml_quantize_report_deinit(&rep);
    eml_graph_destroy(g);
    /* Relu before opset 6 had another signature: refused, not silently raised */
    g = load_cnn(env);
    for (size_t i = 0; i < g->n_opsets; i++)
        if (!g->opsets[i].domain[0])
            g->opsets[i].version = 5;
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i].opset = 5;
    eml_tensor calib = calib_tensor();
    eml_quantize_options o;
    eml_quantize_options_init(&o);
    o.calib = &calib;
    eml_diag diag;
    eml_diag_init(&diag);
    CHECK_STATUS(eml_quantize(g, &o, NULL, &diag), EML_EUNSUPPORTED);
    printf("%s\n", diag.message);
    CHECK(strstr(diag.message, "opset") != NULL);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}
