/* The folding and fusion passes on small graphs built by hand: batchnorm-folding,
 * residual-fusion and activation-fusion, structurally and semantically; the fused ops' own
 * checks; export and import of a fused graph; and optimization under failing allocations. */
#include <unistd.h>

#include "passes_util.h"

static const char *attr_s(const eml_node *n, const char *name)
{
    const eml_attr *a = eml__node_attr(n, name);
    return a && a->type == EML_ATTR_STRING ? a->s : "";
}

static const eml_attr *attr_floats(const eml_node *n)
{
    const eml_attr *a = eml__node_attr(n, "activation_params");
    return a && a->type == EML_ATTR_FLOATS ? a : NULL;
}

static const int64_t x_dims[] = {2, 3, 6, 6}, w_dims[] = {4, 3, 3, 3}, c_dims[] = {4};

/* x [2,3,6,6] -> Conv (4 out channels, 3x3, pads 1) -> "c" */
static eml_graph *conv_graph(eml_env *env, bool bias)
{
    eml_graph *g = pt_graph(env, 17);
    pt_input(g, "x", EML_DTYPE_F32, 4, x_dims, NULL);
    pt_const_f32(g, "w", 4, w_dims, NULL);
    if (bias)
        pt_const_f32(g, "b", 1, c_dims, NULL);
    eml_node *conv = pt_node(g, "Conv", NULL, "conv", (const char *[]){"x", "w", "b"}, bias ? 3 : 2,
                             (const char *[]){"c"}, 1);
    int64_t pads[] = {1, 1, 1, 1};
    pt_attr_ints(g, conv, "pads", pads, 4);
    return g;
}

/* BatchNormalization(in) -> out over 4 channels with random statistics (var > 0). */
static void add_bn(eml_graph *g, const char *in, const char *out, int64_t channels)
{
    float var[64];
    for (int64_t i = 0; i < channels; i++)
        var[i] = eml_test_randf(0.5f, 1.5f);
    pt_const_f32(g, "bn_scale", 1, &channels, NULL);
    pt_const_f32(g, "bn_bias", 1, &channels, NULL);
    pt_const_f32(g, "bn_mean", 1, &channels, NULL);
    pt_const_f32(g, "bn_var", 1, &channels, var);
    eml_node *bn = pt_node(g, "BatchNormalization", NULL, "bn",
                           (const char *[]){in, "bn_scale", "bn_bias", "bn_mean", "bn_var"}, 5,
                           (const char *[]){out}, 1);
    pt_attr_float(g, bn, "epsilon", 1e-3f);
}

/* ---- batchnorm-folding ---- */

EML_TEST(batchnorm_folding_conv)
{
    eml_env *env = pt_env();
    for (int bias = 0; bias < 2; bias++) {
        eml_graph *g = conv_graph(env, bias);
        add_bn(g, "c", "y", 4);
        pt_output(g, "y");
        eml_tensor x = pt_random(4, x_dims);
        eml_optimize_report r =
            pt_check_same(g, &x, "batchnorm-folding,dead-node-elimination", 1e-5);
        CHECK(pt_rewrites_of(&r, "batchnorm-folding") == 1);
        REQUIRE(g->n_nodes == 1);
        const eml_node *conv = &g->nodes[0];
        CHECK(strcmp(conv->op_type, "Conv") == 0 && conv->n_inputs == 3);
        CHECK(conv->outputs[0] == eml__graph_find(g, "y"));
        CHECK(eml__value_is_const(g, conv->inputs[1]) && eml__value_is_const(g, conv->inputs[2]));
        CHECK(conv->inputs[1] != eml__graph_find(g, "w"));
        /* the old weights and the statistics are gone; new W and B remain */
        CHECK(r.initializers_after == 2);
        free(x.data);
        eml_graph_destroy(g);
    }
    eml_env_destroy(env);
}

/* Gemm with transB 0 and 1, with C per column and per element, with alpha and beta. */
EML_TEST(batchnorm_folding_gemm)
{
    eml_env *env = pt_env();
    for (int variant = 0; variant < 4; variant++) {
        eml_graph *g = pt_graph(env, 17);
        int64_t a_dims[] = {3, 5}, b_dims[] = {5, 4}, bt_dims[] = {4, 5}, cm_dims[] = {3, 4};
        bool trans = variant & 1, full_c = variant & 2;
        pt_input(g, "a", EML_DTYPE_F32, 2, a_dims, NULL);
        pt_const_f32(g, "wb", 2, trans ? bt_dims : b_dims, NULL);
        pt_const_f32(g, "wc", full_c ? 2 : 1, full_c ? cm_dims : c_dims, NULL);
        eml_node *gemm = pt_node(g, "Gemm", NULL, "gemm", (const char *[]){"a", "wb", "wc"}, 3,
                                 (const char *[]){"c"}, 1);
        pt_attr_int(g, gemm, "transB", trans);
        pt_attr_float(g, gemm, "alpha", 0.5f);
        pt_attr_float(g, gemm, "beta", 2.0f);
        add_bn(g, "c", "y", 4);
        pt_output(g, "y");
        eml_tensor a = pt_random(2, a_dims);
        eml_optimize_report r =
            pt_check_same(g, &a, "batchnorm-folding,dead-node-elimination", 1e-5);
        CHECK(pt_rewrites_of(&r, "batchnorm-folding") == 1);
        CHECK(g->n_nodes == 1 && pt_count_op(g, "Gemm") == 1);
        const eml_attr *beta = eml__node_attr(&g->nodes[0], "beta");
        CHECK(beta && beta->f == 1.0f);
        free(a.data);
        eml_graph_destroy(g);
    }
    eml_env_destroy(env);
}

/* MatMul of matrices + BatchNormalization becomes one Gemm; a batched MatMul (BN's axis 1 is not
 * the weights' axis) stays. */
EML_TEST(batchnorm_folding_matmul)
{
    eml_env *env = pt_env();
    for (int batched = 0; batched < 2; batched++) {
        eml_graph *g = pt_graph(env, 17);
        int64_t a2[] = {3, 5}, a3[] = {2, 4, 5}, b_dims[] = {5, 4};
        pt_input(g, "a", EML_DTYPE_F32, batched ? 3 : 2, batched ? a3 : a2, NULL);
        pt_const_f32(g, "wb", 2, b_dims, NULL);
        pt_node(g, "MatMul", NULL, "mm", (const char *[]){"a", "wb"}, 2, (const char *[]){"c"}, 1);
        add_bn(g, "c", "y", 4);
        pt_output(g, "y");
        eml_tensor a = pt_random(batched ? 3 : 2, batched ? a3 : a2);
        eml_optimize_report r =
            pt_check_same(g, &a, "batchnorm-folding,dead-node-elimination", 1e-5);
        CHECK(pt_rewrites_of(&r, "batchnorm-folding") == (batched ? 0u : 1u));
        if (!batched)
            CHECK(g->n_nodes == 1 && pt_count_op(g, "Gemm") == 1);
        else
            CHECK(g->n_nodes == 2 && pt_count_op(g, "MatMul") == 1);
        free(a.data);
        eml_graph_destroy(g);
    }
    eml_env_destroy(env);
}

/* Not folded: the conv output read twice, training mode, non-constant statistics. */
EML_TEST(batchnorm_folding_refusals)
{
    eml_env *env = pt_env();
    eml_graph *g = conv_graph(env, true);
    add_bn(g, "c", "y", 4);
    pt_node(g, "Relu", NULL, "relu", (const char *[]){"c"}, 1, (const char *[]){"r"}, 1);
    pt_output(g, "y");
    pt_output(g, "r");
    eml_optimize_report r = pt_optimize_only(g, "batchnorm-folding");
    CHECK(pt_rewrites_of(&r, "batchnorm-folding") == 0 && g->n_nodes == 3);
    eml_graph_destroy(g);

    g = conv_graph(env, true);
    int64_t four = 4;
    pt_input(g, "scale", EML_DTYPE_F32, 1, &four, NULL);
    pt_const_f32(g, "bias", 1, &four, NULL);
    pt_const_f32(g, "mean", 1, &four, NULL);
    pt_const_f32(g, "var", 1, &four, (const float[]){1, 1, 1, 1});
    pt_node(g, "BatchNormalization", NULL, "bn",
            (const char *[]){"c", "scale", "bias", "mean", "var"}, 5, (const char *[]){"y"}, 1);
    pt_output(g, "y");
    r = pt_optimize_only(g, "batchnorm-folding");
    CHECK(pt_rewrites_of(&r, "batchnorm-folding") == 0 && g->n_nodes == 2);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* ---- activation-fusion ---- */

typedef struct act_case {
    const char *op;
    const char *expect; /* activation attribute */
    int n_params;
    float params[2];
} act_case;

EML_TEST(activation_fusion_each_activation)
{
    static const act_case cases[] = {
        {"Relu", "Relu", 0, {0, 0}},
        {"LeakyRelu", "LeakyRelu", 1, {0.2f, 0}},
        {"HardSigmoid", "HardSigmoid", 2, {0.3f, 0.4f}},
        {"HardSwish", "HardSwish", 0, {0, 0}},
        {"Sigmoid", "Sigmoid", 0, {0, 0}},
        {"Tanh", "Tanh", 0, {0, 0}},
        {"Clip", "Clip", 2, {-0.25f, 0.5f}},
        {"SiLU", "SiLU", 0, {0, 0}},
        {"SiLU-swapped", "SiLU", 0, {0, 0}},
    };
    eml_env *env = pt_env();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const act_case *t = &cases[i];
        eml_graph *g = conv_graph(env, true);
        if (strncmp(t->op, "SiLU", 4) == 0) {
            pt_node(g, "Sigmoid", NULL, "sig", (const char *[]){"c"}, 1, (const char *[]){"s"}, 1);
            bool swapped = strcmp(t->op, "SiLU-swapped") == 0;
            pt_node(g, "Mul", NULL, "mul",
                    (const char *[]){swapped ? "s" : "c", swapped ? "c" : "s"}, 2,
                    (const char *[]){"y"}, 1);
        } else if (strcmp(t->op, "Clip") == 0) {
            pt_const_f32(g, "lo", 0, NULL, &t->params[0]);
            pt_const_f32(g, "hi", 0, NULL, &t->params[1]);
            pt_node(g, "Clip", NULL, "act", (const char *[]){"c", "lo", "hi"}, 3,
                    (const char *[]){"y"}, 1);
        } else {
            eml_node *n =
                pt_node(g, t->op, NULL, "act", (const char *[]){"c"}, 1, (const char *[]){"y"}, 1);
            if (t->n_params >= 1)
                pt_attr_float(g, n, "alpha", t->params[0]);
            if (t->n_params >= 2)
                pt_attr_float(g, n, "beta", t->params[1]);
        }
        pt_output(g, "y");
        eml_tensor x = pt_random(4, x_dims);
        /* the fused op computes exactly what the pair did */
        eml_optimize_report r =
            pt_check_same(g, &x, "activation-fusion,constant-folding,dead-node-elimination", 0);
        CHECK(pt_rewrites_of(&r, "activation-fusion") == 1);
        if (g->n_nodes != 1)
            fprintf(stderr, "case %s: %zu nodes\n", t->op, g->n_nodes);
        REQUIRE(g->n_nodes == 1);
        const eml_node *f = &g->nodes[0];
        CHECK(strcmp(f->op_type, "FusedConv") == 0 && strcmp(f->domain, "ai.edgeml") == 0);
        CHECK(strcmp(attr_s(f, "activation"), t->expect) == 0);
        const eml_attr *p = attr_floats(f);
        CHECK((p ? (int)p->count : 0) == t->n_params);
        for (int k = 0; p && k < t->n_params && k < (int)p->count; k++)
            CHECK(p->floats[k] == t->params[k]);
        CHECK(eml__node_attr(f, "pads") != NULL);
        CHECK(f->outputs[0] == eml__graph_find(g, "y"));
        CHECK(eml__graph_opset(g, "ai.edgeml") == 1);
        free(x.data);
        eml_graph_destroy(g);
    }
    eml_env_destroy(env);
}

/* Gemm + LeakyRelu, MatMul + Tanh, and a legacy Clip (opset 6, bounds as attributes). */
EML_TEST(activation_fusion_gemm_matmul_legacy_clip)
{
    eml_env *env = pt_env();
    int64_t a_dims[] = {3, 5}, b_dims[] = {5, 4};
    eml_graph *g = pt_graph(env, 17);
    pt_input(g, "a", EML_DTYPE_F32, 2, a_dims, NULL);
    pt_const_f32(g, "wb", 2, b_dims, NULL);
    pt_node(g, "Gemm", NULL, "gemm", (const char *[]){"a", "wb"}, 2, (const char *[]){"c"}, 1);
    eml_node *leaky =
        pt_node(g, "LeakyRelu", NULL, "leaky", (const char *[]){"c"}, 1, (const char *[]){"y"}, 1);
    pt_attr_float(g, leaky, "alpha", 0.1f);
    pt_node(g, "MatMul", NULL, "mm", (const char *[]){"a", "wb"}, 2, (const char *[]){"m"}, 1);
    pt_node(g, "Tanh", NULL, "tanh", (const char *[]){"m"}, 1, (const char *[]){"z"}, 1);
    pt_output(g, "y");
    pt_output(g, "z");
    eml_tensor a = pt_random(2, a_dims);
    pt_check_same(g, &a, "activation-fusion", 0);
    CHECK(g->n_nodes == 2 && pt_count_op(g, "FusedGemm") == 1 &&
          pt_count_op(g, "FusedMatMul") == 1);
    CHECK(strcmp(attr_s(pt_find_op(g, "FusedMatMul"), "activation"), "Tanh") == 0);
    free(a.data);
    eml_graph_destroy(g);

    g = pt_graph(env, 6);
    pt_input(g, "x", EML_DTYPE_F32, 4, x_dims, NULL);
    pt_const_f32(g, "w", 4, w_dims, NULL);
    pt_node(g, "Conv", NULL, "conv", (const char *[]){"x", "w"}, 2, (const char *[]){"c"}, 1);
    eml_node *clip =
        pt_node(g, "Clip", NULL, "clip", (const char *[]){"c"}, 1, (const char *[]){"y"}, 1);
    pt_attr_float(g, clip, "min", 0.0f);
    pt_attr_float(g, clip, "max", 6.0f);
    pt_output(g, "y");
    eml_tensor x = pt_random(4, x_dims);
    pt_check_same(g, &x, "activation-fusion", 0);
    REQUIRE(g->n_nodes == 1);
    const eml_attr *p = attr_floats(&g->nodes[0]);
    CHECK(p && p->count == 2 && p->floats[0] == 0.0f && p->floats[1] == 6.0f);
    free(x.data);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* Not fused: the conv output is a graph output or has two readers; Clip bounds not constant;
 * an activation already there; SiLU whose x has a third reader. */
EML_TEST(activation_fusion_refusals)
{
    eml_env *env = pt_env();
    eml_graph *g = conv_graph(env, true);
    pt_node(g, "Relu", NULL, "relu", (const char *[]){"c"}, 1, (const char *[]){"y"}, 1);
    pt_output(g, "y");
    pt_output(g, "c");
    eml_optimize_report r = pt_optimize_only(g, "activation-fusion");
    CHECK(pt_rewrites_of(&r, "activation-fusion") == 0 && g->n_nodes == 2);
    eml_graph_destroy(g);

    g = conv_graph(env, true);
    int64_t one = 1;
    pt_input(g, "lo", EML_DTYPE_F32, 0, &one, NULL);
    pt_node(g, "Clip", NULL, "clip", (const char *[]){"c", "lo"}, 2, (const char *[]){"y"}, 1);
    pt_output(g, "y");
    r = pt_optimize_only(g, "activation-fusion");
    CHECK(pt_rewrites_of(&r, "activation-fusion") == 0 && g->n_nodes == 2);
    eml_graph_destroy(g);

    /* Relu then Sigmoid: only the first fuses */
    g = conv_graph(env, true);
    pt_node(g, "Relu", NULL, "relu", (const char *[]){"c"}, 1, (const char *[]){"r"}, 1);
    pt_node(g, "Sigmoid", NULL, "sig", (const char *[]){"r"}, 1, (const char *[]){"y"}, 1);
    pt_output(g, "y");
    eml_tensor x = pt_random(4, x_dims);
    r = pt_check_same(g, &x, "activation-fusion", 0);
    CHECK(pt_rewrites_of(&r, "activation-fusion") == 1 && g->n_nodes == 2);
    CHECK(pt_count_op(g, "Sigmoid") == 1);
    eml_graph_destroy(g);

    g = conv_graph(env, true);
    pt_node(g, "Sigmoid", NULL, "sig", (const char *[]){"c"}, 1, (const char *[]){"s"}, 1);
    pt_node(g, "Mul", NULL, "mul", (const char *[]){"c", "s"}, 2, (const char *[]){"y"}, 1);
    pt_node(g, "Neg", NULL, "neg", (const char *[]){"c"}, 1, (const char *[]){"n"}, 1);
    pt_output(g, "y");
    pt_output(g, "n");
    r = pt_optimize_only(g, "activation-fusion");
    CHECK(pt_rewrites_of(&r, "activation-fusion") == 0 && g->n_nodes == 4);
    free(x.data);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* ---- residual-fusion ---- */

/* x [N,4,5,5] -> Conv -> c; Add(c, z) -> a; Relu(a) -> y. z is x itself, or another input. */
static eml_graph *residual_graph(eml_env *env, const char *z_dim_name, bool broadcast)
{
    eml_graph *g = pt_graph(env, 17);
    int64_t xd[] = {-1, 4, 5, 5}, wd[] = {4, 4, 3, 3}, bd[] = {4}, zb[] = {4, 1, 1};
    pt_input(g, "x", EML_DTYPE_F32, 4, xd, "N");
    if (broadcast)
        pt_input(g, "z", EML_DTYPE_F32, 3, zb, NULL);
    else
        pt_input(g, "z", EML_DTYPE_F32, 4, xd, z_dim_name);
    pt_const_f32(g, "w", 4, wd, NULL);
    pt_const_f32(g, "b", 1, bd, NULL);
    eml_node *conv = pt_node(g, "Conv", NULL, "conv", (const char *[]){"x", "w", "b"}, 3,
                             (const char *[]){"c"}, 1);
    int64_t pads[] = {1, 1, 1, 1};
    pt_attr_ints(g, conv, "pads", pads, 4);
    pt_node(g, "Add", NULL, "add", (const char *[]){"z", "c"}, 2, (const char *[]){"a"}, 1);
    pt_node(g, "Relu", NULL, "relu", (const char *[]){"a"}, 1, (const char *[]){"y"}, 1);
    pt_output(g, "y");
    return g;
}

EML_TEST(residual_fusion_conv_add_relu)
{
    eml_env *env = pt_env();
    eml_graph *g = residual_graph(env, "N", false);
    int64_t d[] = {2, 4, 5, 5};
    eml_tensor in[2] = {pt_random(4, d), pt_random(4, d)};
    eml_optimize_report r = pt_check_same(g, in, "residual-fusion,activation-fusion", 0);
    CHECK(pt_rewrites_of(&r, "residual-fusion") == 1 &&
          pt_rewrites_of(&r, "activation-fusion") == 1);
    REQUIRE(g->n_nodes == 1);
    const eml_node *f = &g->nodes[0];
    CHECK(strcmp(f->op_type, "FusedConv") == 0 && f->n_inputs == 4);
    CHECK(f->inputs[3] == eml__graph_find(g, "z"));
    CHECK(strcmp(attr_s(f, "activation"), "Relu") == 0);
    CHECK(f->outputs[0] == eml__graph_find(g, "y"));
    free(in[0].data);
    free(in[1].data);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* Never a broadcasting Add, nor one whose shapes only might agree (different dim names). */
EML_TEST(residual_fusion_refusals)
{
    eml_env *env = pt_env();
    for (int variant = 0; variant < 2; variant++) {
        eml_graph *g = residual_graph(env, "M", variant == 1);
        eml_optimize_report r = pt_optimize_only(g, "residual-fusion,activation-fusion");
        CHECK(pt_rewrites_of(&r, "residual-fusion") == 0);
        CHECK(pt_count_op(g, "Add") == 1 && pt_count_op(g, "Conv") == 1);
        eml_graph_destroy(g);
    }
    eml_env_destroy(env);
}

/* ---- the fused ops themselves ---- */

static eml_status prepare_node(const eml_node *n)
{
    _Alignas(64) unsigned char params[EML_PARAMS_MAX];
    memset(params, 0, sizeof(params));
    eml_prepare_ctx pc = {n, n->op, n->opset, params, NULL};
    return eml__op_info(n->op)->prepare(&pc);
}

EML_TEST(fused_ops_validate)
{
    eml_env *env = pt_env();
    eml_graph *g = pt_graph(env, 17);
    eml_node *n = pt_node(g, "FusedConv", "ai.edgeml", "f", (const char *[]){"x", "w"}, 2,
                          (const char *[]){"y"}, 1);
    CHECK(n->op == eml__op_find("ai.edgeml", "FusedConv"));
    CHECK(eml__op_find("", "FusedConv") == EML_OP_UNKNOWN);
    CHECK_STATUS(prepare_node(n), EML_OK);
    pt_attr_string(g, n, "activation", "Swish");
    CHECK_STATUS(prepare_node(n), EML_EUNSUPPORTED);
    n->attrs[0].s[0] = 0; /* "" (none) with params: invalid */
    n->attrs[0].s_len = 0;
    eml_attr *p = pt_attr(g, n, "activation_params", EML_ATTR_FLOATS);
    p->floats = eml__alloc(env, 2 * sizeof(float));
    p->count = 1;
    CHECK_STATUS(prepare_node(n), EML_EGRAPH);
    eml__free(env, n->attrs[0].s);
    n->attrs[0].s = eml__strdup(env, "HardSigmoid"); /* takes 0 or 2 params */
    n->attrs[0].s_len = 11;
    CHECK_STATUS(prepare_node(n), EML_EGRAPH);
    p->count = 2;
    CHECK_STATUS(prepare_node(n), EML_OK);
    pt_attr_int(g, n, "bogus", 1); /* Conv's prepare still refuses what it does not know */
    CHECK_STATUS(prepare_node(n), EML_EUNSUPPORTED);
    eml_graph_destroy(g);

    /* Z must have the output's shape exactly */
    g = pt_graph(env, 17);
    int64_t zd[] = {2, 4, 1, 1};
    pt_input(g, "x", EML_DTYPE_F32, 4, x_dims, NULL);
    pt_input(g, "z", EML_DTYPE_F32, 4, zd, NULL);
    pt_const_f32(g, "w", 4, w_dims, NULL);
    pt_node(g, "FusedConv", "ai.edgeml", "f", (const char *[]){"x", "w", "", "z"}, 4,
            (const char *[]){"y"}, 1);
    REQUIRE(eml__graph_import_edgeml(g) == EML_OK);
    pt_output(g, "y");
    eml_diag diag;
    eml_diag_init(&diag);
    eml_plan *plan = NULL;
    CHECK_STATUS(eml_plan_create(g, &plan, &diag), EML_ESHAPE);
    CHECK(strstr(diag.message, "FusedConv") && strstr(diag.message, "Z"));
    eml_plan_destroy(plan);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* ---- export and import ---- */

/* A fused graph saves as ONNX with the ai.edgeml opset import and loads back to the same
 * outputs, also from a graph built without any opset import. */
EML_TEST(fused_graph_export_import)
{
    eml_env *env = pt_env();
    for (int no_opsets = 0; no_opsets < 2; no_opsets++) {
        eml_graph *g = residual_graph(env, "N", false);
        if (no_opsets) {
            eml__free(env, g->opsets[0].domain);
            eml__free(env, g->opsets);
            g->opsets = NULL;
            g->n_opsets = 0;
        }
        int64_t d[] = {1, 4, 5, 5};
        eml_tensor in[2] = {pt_random(4, d), pt_random(4, d)};
        pt_optimize_only(g, pt_own_passes);
        REQUIRE(pt_count_op(g, "FusedConv") == 1);
        pt_outputs a, b;
        pt_run(g, in, &a);
        char path[] = "/tmp/eml_fused_XXXXXX";
        int fd = mkstemp(path);
        REQUIRE(fd >= 0);
        close(fd);
        eml_diag diag;
        eml_diag_init(&diag);
        REQUIRE_OK(eml_graph_save_onnx(g, path, &diag), &diag);
        eml_graph *back = NULL;
        REQUIRE_OK(eml_graph_load_onnx(env, path, &back, &diag), &diag);
        unlink(path);
        CHECK(eml__graph_opset(back, "ai.edgeml") == 1 && eml__graph_opset(back, "") == 17);
        REQUIRE(back->n_nodes == 1);
        CHECK(strcmp(back->nodes[0].domain, "ai.edgeml") == 0 && back->nodes[0].n_inputs == 4);
        pt_run(back, in, &b);
        CHECK(pt_rel_diff(&a, &b) == 0);
        pt_outputs_free(&a);
        pt_outputs_free(&b);
        free(in[0].data);
        free(in[1].data);
        eml_graph_destroy(back);
        eml_graph_destroy(g);
    }
    eml_env_destroy(env);
}

/* ---- failing allocations ---- */

/* Conv + BN + Add + Relu and a folding chain, optimized while the k-th allocation fails, for
 * every k: the result is OK or ENOMEM, the graph stays valid and computes the same outputs. */
EML_TEST(optimize_under_failing_allocations)
{
    pt_use_reference_kernels();
    int64_t d[] = {1, 4, 5, 5};
    eml_tensor in[2] = {pt_random(4, d), pt_random(4, d)};
    pt_outputs want;
    int failures = 0;
    for (uint64_t k = 1;; k++) {
        eml_counting_allocator c;
        eml_counting_allocator_init(&c);
        eml_env_options o;
        eml_env_options_init(&o);
        o.allocator = &c.base;
        o.n_threads = 1;
        eml_env *env = NULL;
        REQUIRE(eml_env_create(&o, &env) == EML_OK);
        eml_graph *g = residual_graph(env, "N", false);
        /* a BatchNormalization between the conv and the Add */
        eml_node *add = &g->nodes[1];
        int32_t c_id = g->nodes[0].outputs[0], cb;
        REQUIRE(eml__graph_value(g, "cb", &cb) == EML_OK);
        add->inputs[1] = cb;
        float var[4] = {1, 2, 0.5f, 1.5f}, ones[4] = {1, 0.5f, 2, 1},
              zeros[4] = {0, 0.1f, 0, -0.2f};
        pt_const_f32(g, "s", 1, c_dims, ones);
        pt_const_f32(g, "bb", 1, c_dims, zeros);
        pt_const_f32(g, "m", 1, c_dims, zeros);
        pt_const_f32(g, "v", 1, c_dims, var);
        pt_node(g, "BatchNormalization", NULL, "bn",
                (const char *[]){g->values[c_id].name, "s", "bb", "m", "v"}, 5,
                (const char *[]){"cb"}, 1);
        pt_run(g, in, &want); /* the weights are drawn anew for each graph */
        c.fail_at = c.alloc_count + k;
        eml_diag diag;
        eml_diag_init(&diag);
        char disable[512];
        eml_optimize_options opts;
        eml_optimize_options_init(&opts);
        opts.disable = pt_disable_except(disable, sizeof(disable), pt_own_passes);
        eml_status st = eml_graph_optimize(g, &opts, NULL, &diag);
        bool failed = c.alloc_count >= c.fail_at;
        c.fail_at = 0;
        CHECK(st == EML_OK || st == EML_ENOMEM);
        CHECK(eml__graph_verify(g, NULL, &diag) == EML_OK);
        pt_outputs got;
        pt_run(g, in, &got);
        double diff = pt_rel_diff(&got, &want);
        if (!(diff <= 1e-5))
            fprintf(stderr, "allocation %llu failing: outputs differ by %g\n",
                    (unsigned long long)k, diff);
        CHECK(diff <= 1e-5);
        pt_outputs_free(&got);
        pt_outputs_free(&want);
        eml_graph_destroy(g);
        eml_env_destroy(env);
        CHECK(c.live_count == 0);
        if (!failed)
            break; /* optimization finished without reaching the failing allocation */
        failures++;
    }
    printf("optimized with each of %d allocations failing\n", failures);
    CHECK(failures > 10);
    free(in[0].data);
    free(in[1].data);
}
