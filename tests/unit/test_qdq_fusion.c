/* Tests of the qdq-fusion pass: QDQ patterns (Conv + Relu, depthwise Conv + Clip, Add, MaxPool,
 * GlobalAveragePool, DQ -> Q pairs) become edgeml's integer ops, unmatched ones stay as they
 * were, and outputs equal the unfused graph's on reference kernels within one unit of the output
 * scale per fused op (the float path sums in float and rounds y/scale to even where the integer
 * path sums exactly and rounds its fixed-point product half up). */
#include <math.h>
#include <string.h>

#include "graph/passes/passes.h"
#include "harness.h"
#include "passes_util.h"

static void scalar_params(eml_graph *g, const char *base, float scale, uint8_t zp)
{
    char s[64], z[64];
    snprintf(s, sizeof(s), "%s_s", base);
    snprintf(z, sizeof(z), "%s_z", base);
    pt_const(g, s, EML_DTYPE_F32, 0, NULL, &scale);
    pt_const(g, z, EML_DTYPE_U8, 0, NULL, &zp);
}

/* x -> Q -> DQ with parameters named after `base`: returns nothing, writes "<base>_q", "<base>_dq". */
static void qdq(eml_graph *g, const char *x, const char *base)
{
    char s[64], z[64], q[64], d[64];
    snprintf(s, sizeof(s), "%s_s", base);
    snprintf(z, sizeof(z), "%s_z", base);
    snprintf(q, sizeof(q), "%s_q", base);
    snprintf(d, sizeof(d), "%s_dq", base);
    const char *qi[3] = {x, s, z}, *di[3] = {q, s, z};
    const char *qo[1] = {q}, *dout[1] = {d};
    pt_node(g, "QuantizeLinear", NULL, q, qi, 3, qo, 1);
    pt_node(g, "DequantizeLinear", NULL, d, di, 3, dout, 1);
}

/* Int8 weights [o, cg, k, k] per channel (axis 0) and an int32 bias with scale xs·ws, each
 * through a DequantizeLinear: writes "<base>_wdq" and (with_bias) "<base>_bdq". bias_scale_ok
 * false writes a bias scale that differs from xs·ws (the pattern must then not match). */
static void weights(eml_graph *g, const char *base, int64_t o, int64_t cg, int64_t k, float xs,
                    bool with_bias, bool bias_scale_ok)
{
    char w[64], ws[64], wd[64], b[64], bs[64], bd[64];
    snprintf(w, sizeof(w), "%s_w", base);
    snprintf(ws, sizeof(ws), "%s_ws", base);
    snprintf(wd, sizeof(wd), "%s_wdq", base);
    snprintf(b, sizeof(b), "%s_b", base);
    snprintf(bs, sizeof(bs), "%s_bs", base);
    snprintf(bd, sizeof(bd), "%s_bdq", base);
    const int64_t wdims[4] = {o, cg, k, k}, od[1] = {o};
    int8_t wv[4096];
    float sv[64], bsv[64];
    int32_t bv[64];
    REQUIRE(o * cg * k * k <= 4096 && o <= 64);
    for (int64_t i = 0; i < o * cg * k * k; i++)
        wv[i] = (int8_t)(eml_test_rand() % 255 - 127);
    for (int64_t i = 0; i < o; i++) {
        sv[i] = eml_test_randf(0.002f, 0.01f);
        bsv[i] = xs * sv[i] * (bias_scale_ok ? 1.0f : 1.5f);
        bv[i] = (int32_t)(eml_test_rand() % 2001) - 1000;
    }
    pt_const(g, w, EML_DTYPE_I8, 4, wdims, wv);
    pt_const(g, ws, EML_DTYPE_F32, 1, od, sv);
    const char *wi[2] = {w, ws}, *wo[1] = {wd};
    eml_node *n = pt_node(g, "DequantizeLinear", NULL, wd, wi, 2, wo, 1);
    pt_attr_int(g, n, "axis", 0);
    if (with_bias) {
        pt_const(g, b, EML_DTYPE_I32, 1, od, bv);
        pt_const(g, bs, EML_DTYPE_F32, 1, od, bsv);
        const char *bi[2] = {b, bs}, *bo[1] = {bd};
        n = pt_node(g, "DequantizeLinear", NULL, bd, bi, 2, bo, 1);
        pt_attr_int(g, n, "axis", 0);
    }
}

enum { C = 8, H = 6, W = 7 };

static const float xs = 0.02f, s1 = 0.03f, s2 = 0.025f, sa = 0.05f, sg = 0.04f;

/* The model of these tests; `bad_bias` gives the first conv a bias of the wrong scale. */
static eml_graph *model(eml_env *env, bool bad_bias)
{
    eml_graph *g = pt_graph(env, 13);
    const int64_t xd[4] = {1, 4, H, W};
    pt_input(g, "x", EML_DTYPE_F32, 4, xd, NULL);
    scalar_params(g, "x", xs, 128);
    qdq(g, "x", "x");
    /* Conv 3x3 pad 1 + bias + Relu */
    weights(g, "c1", C, 4, 3, xs, true, !bad_bias);
    const char *c1i[3] = {"x_dq", "c1_wdq", "c1_bdq"}, *c1o[1] = {"c1"};
    eml_node *n = pt_node(g, "Conv", NULL, "conv1", c1i, 3, c1o, 1);
    const int64_t pads[4] = {1, 1, 1, 1};
    pt_attr_ints(g, n, "pads", pads, 4);
    const char *r1i[1] = {"c1"}, *r1o[1] = {"r1"};
    pt_node(g, "Relu", NULL, "relu1", r1i, 1, r1o, 1);
    scalar_params(g, "r1", s1, 0);
    qdq(g, "r1", "r1");
    /* depthwise 3x3 + Clip(0, 6) from constants */
    weights(g, "c2", C, 1, 3, s1, false, true);
    const char *c2i[2] = {"r1_dq", "c2_wdq"}, *c2o[1] = {"c2"};
    n = pt_node(g, "Conv", NULL, "conv2", c2i, 2, c2o, 1);
    pt_attr_ints(g, n, "pads", pads, 4);
    pt_attr_int(g, n, "group", C);
    const float lo = 0.0f, hi = 6.0f;
    pt_const(g, "lo", EML_DTYPE_F32, 0, NULL, &lo);
    pt_const(g, "hi", EML_DTYPE_F32, 0, NULL, &hi);
    const char *k2i[3] = {"c2", "lo", "hi"}, *k2o[1] = {"r2"};
    pt_node(g, "Clip", NULL, "clip2", k2i, 3, k2o, 1);
    scalar_params(g, "r2", s2, 0);
    qdq(g, "r2", "r2");
    /* residual Add */
    const char *ai[2] = {"r1_dq", "r2_dq"}, *ao[1] = {"a"};
    pt_node(g, "Add", NULL, "add", ai, 2, ao, 1);
    scalar_params(g, "a", sa, 3);
    qdq(g, "a", "a");
    /* MaxPool 2x2 s2 with the same parameters (and another Q -> DQ that cancels) */
    const char *mi[1] = {"a_dq"}, *mo[1] = {"m"};
    n = pt_node(g, "MaxPool", NULL, "pool", mi, 1, mo, 1);
    const int64_t k2[2] = {2, 2};
    pt_attr_ints(g, n, "kernel_shape", k2, 2);
    pt_attr_ints(g, n, "strides", k2, 2);
    scalar_params(g, "m", sa, 3);
    qdq(g, "m", "m");
    scalar_params(g, "m2", sa, 3);
    qdq(g, "m_dq", "m2");
    /* GlobalAveragePool */
    const char *gi[1] = {"m2_dq"}, *go[1] = {"gp"};
    pt_node(g, "GlobalAveragePool", NULL, "gap", gi, 1, go, 1);
    scalar_params(g, "gp", sg, 10);
    qdq(g, "gp", "gp");
    pt_output(g, "gp_dq");
    pt_output(g, "r2_dq"); /* an NCHW reader of a fused value */
    return g;
}

static void optimize(eml_graph *g, const char *disable)
{
    eml_optimize_options o;
    eml_optimize_options_init(&o);
    o.disable = disable;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_graph_optimize(g, &o, NULL, &diag), &diag);
}

EML_TEST(fuses_every_pattern)
{
    pt_use_reference_kernels();
    eml_env *env = pt_env();
    eml_graph *g = model(env, false);
    optimize(g, NULL);
    CHECK(pt_count_op(g, "QConv") == 2);
    CHECK(pt_count_op(g, "QAdd") == 1);
    CHECK(pt_count_op(g, "QMaxPool") == 1);
    CHECK(pt_count_op(g, "QGlobalAveragePool") == 1);
    CHECK(pt_count_op(g, "Conv") == 0);
    CHECK(pt_count_op(g, "Add") == 0);
    CHECK(pt_count_op(g, "Relu") == 0 && pt_count_op(g, "Clip") == 0);
    /* the input's Q and the two outputs' DQ stay; the cancelling pair went */
    CHECK(pt_count_op(g, "QuantizeLinear") == 1);
    CHECK(pt_count_op(g, "DequantizeLinear") == 2);
    /* Clip(0, 6) at scale 0.025 clamps codes to [0, 240] */
    bool clip_found = false;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const eml_attr *qmax = eml__node_attr(&g->nodes[i], "qmax");
        clip_found = clip_found || (g->nodes[i].op == EML_OP_QConv && qmax && qmax->i == 240);
    }
    CHECK(clip_found);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(disabled_or_unmatched_patterns_stay)
{
    pt_use_reference_kernels();
    eml_env *env = pt_env();
    eml_graph *g = model(env, false);
    optimize(g, "qdq-fusion");
    CHECK(pt_count_op(g, "QConv") == 0 && pt_count_op(g, "QAdd") == 0);
    eml_graph_destroy(g);
    g = model(env, true); /* the first conv's bias scale is not x_scale·w_scale */
    optimize(g, NULL);
    CHECK(pt_count_op(g, "QConv") == 1);
    CHECK(pt_count_op(g, "QAdd") == 1);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* Runs one graph twice: as built (unfused) and after qdq-fusion, on the same input. */
static void fused_vs_unfused(bool bad_bias, double max_units)
{
    pt_use_reference_kernels();
    eml_env *env = pt_env();
    const int64_t xd[4] = {1, 4, H, W};
    for (int trial = 0; trial < 6; trial++) {
        eml_graph *g = model(env, bad_bias);
        eml_tensor in = pt_random(4, xd);
        float *xv = in.data;
        for (int64_t i = 0; i < 4 * H * W; i++)
            xv[i] *= 2.5f;
        pt_outputs a, b;
        pt_run(g, &in, &a); /* as built: no pass has run */
        optimize(g, NULL);
        pt_run(g, &in, &b);
        REQUIRE(a.count == 2 && b.count == 2);
        const float scales[2] = {sg, s2};
        for (int o = 0; o < 2; o++) {
            const float *p = a.t[o].data, *q = b.t[o].data;
            double worst = 0;
            for (int64_t i = 0; i < eml_tensor_count(&a.t[o]); i++)
                worst = fmax(worst, fabs((double)p[i] - q[i]) / scales[o]);
            if (worst > max_units + 1e-3)
                fprintf(stderr, "output %d differs by %.3f units\n", o, worst);
            CHECK(worst <= max_units + 1e-3);
        }
        pt_outputs_free(&a);
        pt_outputs_free(&b);
        free(in.data);
        eml_graph_destroy(g);
    }
    eml_env_destroy(env);
}

EML_TEST(fused_outputs_match_unfused)
{
    /* r2 is two fused ops deep (each may round one unit away), gp four (pools average the
     * differences out) */
    fused_vs_unfused(false, 2.0);
}

EML_TEST(partly_fused_outputs_match_unfused)
{
    fused_vs_unfused(true, 2.0);
}

/* x -> Q -> QLinearConv (per-channel int8 weights, bias, pads) -> DQ: QConv, within one unit. */
static eml_graph *qlinear_model(eml_env *env)
{
    eml_graph *g = pt_graph(env, 13);
    const int64_t xd[4] = {1, 3, 5, 6};
    pt_input(g, "x", EML_DTYPE_F32, 4, xd, NULL);
    scalar_params(g, "x", xs, 120);
    const char *qi[3] = {"x", "x_s", "x_z"}, *qo[1] = {"xq"};
    pt_node(g, "QuantizeLinear", NULL, "q", qi, 3, qo, 1);
    const int64_t wd[4] = {5, 3, 3, 3}, od[1] = {5};
    int8_t w[5 * 27], wz = 0;
    float ws[5];
    int32_t b[5];
    for (int i = 0; i < 5 * 27; i++)
        w[i] = (int8_t)(eml_test_rand() % 256 - 128);
    for (int i = 0; i < 5; i++) {
        ws[i] = eml_test_randf(0.002f, 0.01f);
        b[i] = (int32_t)(eml_test_rand() % 2001) - 1000;
    }
    pt_const(g, "w", EML_DTYPE_I8, 4, wd, w);
    pt_const(g, "ws", EML_DTYPE_F32, 1, od, ws);
    pt_const(g, "wz", EML_DTYPE_I8, 0, NULL, &wz);
    pt_const(g, "b", EML_DTYPE_I32, 1, od, b);
    scalar_params(g, "y", s1, 9);
    const char *ci[9] = {"xq", "x_s", "x_z", "w", "ws", "wz", "y_s", "y_z", "b"}, *co[1] = {"yq"};
    eml_node *n = pt_node(g, "QLinearConv", NULL, "qconv", ci, 9, co, 1);
    const int64_t pads[4] = {1, 0, 1, 2};
    pt_attr_ints(g, n, "pads", pads, 4);
    const char *di[3] = {"yq", "y_s", "y_z"}, *dout[1] = {"y"};
    pt_node(g, "DequantizeLinear", NULL, "dq", di, 3, dout, 1);
    pt_output(g, "y");
    return g;
}

EML_TEST(qlinear_conv_runs_as_qconv)
{
    pt_use_reference_kernels();
    eml_env *env = pt_env();
    const int64_t xd[4] = {1, 3, 5, 6};
    for (int trial = 0; trial < 6; trial++) {
        eml_graph *g = qlinear_model(env);
        eml_tensor in = pt_random(4, xd);
        pt_outputs a, b;
        pt_run(g, &in, &a);
        optimize(g, NULL);
        CHECK(pt_count_op(g, "QConv") == 1 && pt_count_op(g, "QLinearConv") == 0);
        pt_run(g, &in, &b);
        const float *p = a.t[0].data, *q = b.t[0].data;
        double worst = 0;
        for (int64_t i = 0; i < eml_tensor_count(&a.t[0]); i++)
            worst = fmax(worst, fabs((double)p[i] - q[i]) / s1);
        CHECK(worst <= 1.0 + 1e-3);
        pt_outputs_free(&a);
        pt_outputs_free(&b);
        free(in.data);
        eml_graph_destroy(g);
    }
    eml_env_destroy(env);
}

/* x [2, 3, 2, 2] -> QDQ -> Flatten -> QDQ (same parameters) -> Gemm (transB, per-channel
 * weights, bias) -> Relu -> QDQ -> Gemm (no transB, per-tensor weights; alpha from `alpha`) ->
 * QDQ -> y: the Flatten moves uint8 values and each Gemm becomes a 1x1 QConv. */
static eml_graph *dense_model(eml_env *env, float alpha)
{
    enum { K = 12, M1 = 6, M2 = 5 };
    eml_graph *g = pt_graph(env, 13);
    const int64_t xd[4] = {2, 3, 2, 2};
    pt_input(g, "x", EML_DTYPE_F32, 4, xd, NULL);
    scalar_params(g, "x", xs, 128);
    qdq(g, "x", "x");
    const char *fi[1] = {"x_dq"}, *fo[1] = {"flat"};
    pt_node(g, "Flatten", NULL, "flatten", fi, 1, fo, 1);
    scalar_params(g, "f", xs, 128);
    qdq(g, "flat", "f");
    /* Gemm 1: weights [M1, K] per output row, bias with scale xs·ws */
    int8_t w1[M1 * K], w2[K * M2];
    float ws1[M1], bs1[M1], ws2 = 0.004f;
    int32_t b1[M1];
    for (int i = 0; i < M1 * K; i++)
        w1[i] = (int8_t)(eml_test_rand() % 255 - 127);
    for (int i = 0; i < K * M2; i++)
        w2[i] = (int8_t)(eml_test_rand() % 255 - 127);
    for (int i = 0; i < M1; i++) {
        ws1[i] = eml_test_randf(0.002f, 0.01f);
        bs1[i] = xs * ws1[i];
        b1[i] = (int32_t)(eml_test_rand() % 2001) - 1000;
    }
    const int64_t w1d[2] = {M1, K}, m1d[1] = {M1}, w2d[2] = {M1, M2};
    pt_const(g, "w1", EML_DTYPE_I8, 2, w1d, w1);
    pt_const(g, "w1s", EML_DTYPE_F32, 1, m1d, ws1);
    pt_const(g, "b1", EML_DTYPE_I32, 1, m1d, b1);
    pt_const(g, "b1s", EML_DTYPE_F32, 1, m1d, bs1);
    pt_const(g, "w2", EML_DTYPE_I8, 2, w2d, w2);
    pt_const(g, "w2s", EML_DTYPE_F32, 0, NULL, &ws2);
    const char *d1i[2] = {"w1", "w1s"}, *d1o[1] = {"w1dq"};
    pt_attr_int(g, pt_node(g, "DequantizeLinear", NULL, "w1dq", d1i, 2, d1o, 1), "axis", 0);
    const char *e1i[2] = {"b1", "b1s"}, *e1o[1] = {"b1dq"};
    pt_attr_int(g, pt_node(g, "DequantizeLinear", NULL, "b1dq", e1i, 2, e1o, 1), "axis", 0);
    const char *d2i[2] = {"w2", "w2s"}, *d2o[1] = {"w2dq"};
    pt_node(g, "DequantizeLinear", NULL, "w2dq", d2i, 2, d2o, 1);
    const char *g1i[3] = {"f_dq", "w1dq", "b1dq"}, *g1o[1] = {"g1"};
    pt_attr_int(g, pt_node(g, "Gemm", NULL, "gemm1", g1i, 3, g1o, 1), "transB", 1);
    const char *r1i[1] = {"g1"}, *r1o[1] = {"r1"};
    pt_node(g, "Relu", NULL, "relu1", r1i, 1, r1o, 1);
    scalar_params(g, "r1", s1, 0);
    qdq(g, "r1", "r1");
    const char *g2i[2] = {"r1_dq", "w2dq"}, *g2o[1] = {"g2"};
    eml_node *n = pt_node(g, "Gemm", NULL, "gemm2", g2i, 2, g2o, 1);
    if (alpha != 1.0f)
        pt_attr_float(g, n, "alpha", alpha);
    scalar_params(g, "y", s2, 100);
    qdq(g, "g2", "y");
    pt_output(g, "y_dq");
    return g;
}

EML_TEST(dense_layers_run_as_qconv)
{
    pt_use_reference_kernels();
    eml_env *env = pt_env();
    const int64_t xd[4] = {2, 3, 2, 2};
    for (int trial = 0; trial < 6; trial++) {
        eml_graph *g = dense_model(env, 1.0f);
        eml_tensor in = pt_random(4, xd);
        pt_outputs a, b;
        pt_run(g, &in, &a);
        optimize(g, NULL);
        CHECK(pt_count_op(g, "QConv") == 2 && pt_count_op(g, "Gemm") == 0);
        CHECK(pt_count_op(g, "Relu") == 0 && pt_count_op(g, "Flatten") == 1);
        CHECK(pt_count_op(g, "QuantizeLinear") == 1 && pt_count_op(g, "DequantizeLinear") == 1);
        pt_run(g, &in, &b);
        REQUIRE(a.count == 1 && b.count == 1 && eml_tensor_count(&a.t[0]) == 10);
        const float *p = a.t[0].data, *q = b.t[0].data;
        double worst = 0;
        for (int64_t i = 0; i < 10; i++)
            worst = fmax(worst, fabs((double)p[i] - q[i]) / s2);
        if (worst > 2.0 + 1e-3)
            fprintf(stderr, "dense output differs by %.3f units\n", worst);
        CHECK(worst <= 2.0 + 1e-3);
        pt_outputs_free(&a);
        pt_outputs_free(&b);
        free(in.data);
        eml_graph_destroy(g);
    }
    /* alpha != 1 is not a plain dense layer: that Gemm stays float */
    eml_graph *g = dense_model(env, 0.5f);
    optimize(g, NULL);
    CHECK(pt_count_op(g, "QConv") == 1 && pt_count_op(g, "Gemm") == 1);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}
