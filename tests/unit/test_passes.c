/* Graph passes, each on small graphs built by hand: structurally (node counts, op types,
 * initializers after the pass) and semantically (the same outputs on the reference kernels
 * before and after). Also the optimizer's options: levels, disabling by name, unknown names. */
#include "passes_util.h"

static const int64_t dims23[] = {2, 3};

/* ---- constant-folding ---- */

EML_TEST(constant_folding_folds_a_chain)
{
    eml_env *env = pt_env();
    eml_graph *g = pt_graph(env, 17);
    pt_input(g, "x", EML_DTYPE_F32, 2, dims23, NULL);
    pt_const_f32(g, "a", 1, &dims23[1], NULL);
    pt_const_f32(g, "b", 1, &dims23[1], NULL);
    pt_node(g, "Add", NULL, "add", (const char *[]){"a", "b"}, 2, (const char *[]){"ab"}, 1);
    pt_node(g, "Neg", NULL, "neg", (const char *[]){"ab"}, 1, (const char *[]){"n"}, 1);
    eml_node *k = pt_node(g, "Constant", NULL, "k", NULL, 0, (const char *[]){"k"}, 1);
    pt_attr_float(g, k, "value_float", 2.5f);
    pt_node(g, "Mul", NULL, "mul", (const char *[]){"x", "n"}, 2, (const char *[]){"m"}, 1);
    pt_node(g, "Add", NULL, "add2", (const char *[]){"m", "k"}, 2, (const char *[]){"y"}, 1);
    pt_output(g, "y");
    size_t init_before = 2;
    eml_tensor x = pt_random(2, dims23);
    eml_optimize_report r = pt_check_same(g, &x, "constant-folding,dead-node-elimination", 0);
    CHECK(g->n_nodes == 2);
    CHECK(pt_count_op(g, "Mul") == 1 && pt_count_op(g, "Add") == 1);
    CHECK(pt_count_op(g, "Neg") == 0 && pt_count_op(g, "Constant") == 0);
    CHECK(pt_rewrites_of(&r, "constant-folding") == 3);
    int32_t n = eml__graph_find(g, "n"), a = eml__graph_find(g, "a");
    CHECK(eml__value_is_const(g, n) && eml__value_is_const(g, eml__graph_find(g, "k")));
    CHECK(!eml__value_is_const(g, a)); /* nothing reads it any more: dropped */
    CHECK(r.initializers_before == init_before && r.initializers_after == 2);
    CHECK(r.nodes_before == 5 && r.nodes_after == 2);
    free(x.data);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* An initializer that is also a graph input is a default a caller may replace: not folded. */
EML_TEST(constant_folding_keeps_overridable_defaults)
{
    eml_env *env = pt_env();
    eml_graph *g = pt_graph(env, 17);
    pt_input(g, "x", EML_DTYPE_F32, 2, dims23, NULL);
    int32_t a = pt_const_f32(g, "a", 1, &dims23[1], NULL);
    REQUIRE(eml__graph_add_input(g, a) == EML_OK);
    pt_node(g, "Neg", NULL, "neg", (const char *[]){"a"}, 1, (const char *[]){"n"}, 1);
    pt_node(g, "Mul", NULL, "mul", (const char *[]){"x", "n"}, 2, (const char *[]){"y"}, 1);
    pt_output(g, "y");
    eml_optimize_report r = pt_optimize_only(g, "constant-folding,dead-node-elimination");
    CHECK(pt_rewrites_of(&r, "constant-folding") == 0);
    CHECK(pt_count_op(g, "Neg") == 1 && eml__value_is_const(g, a) == false);
    CHECK(g->values[a].flags & EML_VALUE_INITIALIZER);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* A folded result over the size cap (64 MiB) stays a node: the model must not balloon. */
EML_TEST(constant_folding_size_cap)
{
    eml_env *env = pt_env();
    eml_graph *g = pt_graph(env, 17);
    int64_t shape[] = {8192, 4096}; /* 128 MiB of float32 */
    pt_const_i64(g, "shape", 2, shape);
    pt_node(g, "ConstantOfShape", NULL, "big", (const char *[]){"shape"}, 1, (const char *[]){"y"},
            1);
    pt_output(g, "y");
    eml_optimize_report r = pt_optimize_only(g, "constant-folding");
    CHECK(pt_rewrites_of(&r, "constant-folding") == 0);
    CHECK(pt_count_op(g, "ConstantOfShape") == 1);
    /* a small one folds, and the graph output keeps its name as an initializer */
    int64_t small[] = {2, 3};
    memcpy(g->values[eml__graph_find(g, "shape")].data, small, sizeof(small));
    r = pt_optimize_only(g, "constant-folding");
    CHECK(pt_rewrites_of(&r, "constant-folding") == 1 && g->n_nodes == 0);
    int32_t y = eml__graph_find(g, "y");
    CHECK(eml__value_is_const(g, y) && g->outputs[0] == y && g->values[y].rank == 2);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* ---- shape-folding ---- */

EML_TEST(shape_folding_folds_static_shapes_only)
{
    eml_env *env = pt_env();
    eml_graph *g = pt_graph(env, 17);
    int64_t xd[] = {-1, 6};
    pt_input(g, "x", EML_DTYPE_F32, 2, xd, "N");
    pt_input(g, "w", EML_DTYPE_F32, 2, dims23, NULL);
    pt_node(g, "Relu", NULL, "relu", (const char *[]){"w"}, 1, (const char *[]){"r"}, 1);
    pt_node(g, "Shape", NULL, "shape_r", (const char *[]){"r"}, 1, (const char *[]){"s"}, 1);
    pt_node(g, "Size", NULL, "size_r", (const char *[]){"r"}, 1, (const char *[]){"z"}, 1);
    pt_node(g, "Shape", NULL, "shape_x", (const char *[]){"x"}, 1, (const char *[]){"sx"}, 1);
    eml_node *s1 =
        pt_node(g, "Shape", NULL, "shape_x1", (const char *[]){"x"}, 1, (const char *[]){"sx1"}, 1);
    pt_attr_int(g, s1, "start", 1);
    /* Reshape(r, Gather(Shape(r), [1, 0])): folds over two rounds (shape, then constants) */
    int64_t perm[] = {1, 0};
    pt_const_i64(g, "perm", 2, perm);
    pt_node(g, "Gather", NULL, "gather", (const char *[]){"s", "perm"}, 2, (const char *[]){"s2"},
            1);
    pt_node(g, "Reshape", NULL, "reshape", (const char *[]){"r", "s2"}, 2, (const char *[]){"t"},
            1);
    const char *outs[] = {"s", "z", "sx", "sx1", "t"};
    for (int i = 0; i < 5; i++)
        pt_output(g, outs[i]);
    int64_t x_dims[] = {5, 6};
    eml_tensor in[2] = {pt_random(2, x_dims), pt_random(2, dims23)};
    eml_optimize_report r =
        pt_check_same(g, in, "shape-folding,constant-folding,dead-node-elimination", 0);
    CHECK(pt_rewrites_of(&r, "shape-folding") == 3);    /* Shape(r), Size(r), Shape(x)[1:] */
    CHECK(pt_rewrites_of(&r, "constant-folding") == 1); /* the Gather, in round 2 */
    CHECK(r.rounds >= 2);
    CHECK(pt_count_op(g, "Shape") == 1 && pt_count_op(g, "Size") == 0);
    CHECK(pt_count_op(g, "Gather") == 0 && pt_count_op(g, "Reshape") == 1);
    CHECK(strcmp(pt_find_op(g, "Shape")->name, "shape_x") == 0); /* [N, 6]: N is symbolic */
    int32_t s = eml__graph_find(g, "s"), sx1 = eml__graph_find(g, "sx1");
    REQUIRE(eml__value_is_const(g, s) && eml__value_is_const(g, sx1));
    const int64_t *sv = g->values[s].data, *sx1v = g->values[sx1].data;
    CHECK(g->values[s].dims[0] == 2 && sv[0] == 2 && sv[1] == 3);
    CHECK(g->values[sx1].dims[0] == 1 && sx1v[0] == 6);
    free(in[0].data);
    free(in[1].data);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* Static inference: equal dim names compare equal, different ones differ, and an op whose shape
 * needs data that is not constant leaves its outputs unknown. */
EML_TEST(static_inference_symbolic_dims)
{
    eml_env *env = pt_env();
    eml_graph *g = pt_graph(env, 17);
    int64_t d[] = {-1, 3};
    pt_input(g, "x", EML_DTYPE_F32, 2, d, "N");
    pt_input(g, "y", EML_DTYPE_F32, 2, d, "N");
    pt_input(g, "z", EML_DTYPE_F32, 2, d, "M");
    int64_t one = 1;
    pt_input(g, "shape", EML_DTYPE_I64, 1, &one, NULL);
    pt_node(g, "Add", NULL, "a", (const char *[]){"x", "y"}, 2, (const char *[]){"a"}, 1);
    pt_node(g, "Relu", NULL, "b", (const char *[]){"z"}, 1, (const char *[]){"b"}, 1);
    pt_node(g, "Reshape", NULL, "c", (const char *[]){"x", "shape"}, 2, (const char *[]){"c"}, 1);
    pt_node(g, "Relu", NULL, "e", (const char *[]){"c"}, 1, (const char *[]){"e"}, 1);
    pt_output(g, "a");
    pt_output(g, "b");
    pt_output(g, "e");
    eml_static_shapes s;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml__infer_static(g, &s, &diag), &diag);
    int32_t x = eml__graph_find(g, "x"), a = eml__graph_find(g, "a"), b = eml__graph_find(g, "b"),
            c = eml__graph_find(g, "c"), e = eml__graph_find(g, "e");
    CHECK(eml__static_same_shape(&s, a, x));
    CHECK(!eml__static_same_shape(&s, a, b));
    CHECK(eml__static_dim_symbolic(&s, a, 0) && !eml__static_dim_symbolic(&s, a, 1));
    CHECK(!eml__static_concrete(&s, a));
    CHECK(!s.known[c] && !s.known[e]);
    CHECK(eml__static_dtype(&s, c) == EML_DTYPE_F32); /* set before the infer asked for data */
    eml__static_shapes_deinit(&s);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* ---- identity-elimination ---- */

EML_TEST(identity_elimination_keeps_output_names)
{
    eml_env *env = pt_env();
    eml_graph *g = pt_graph(env, 13);
    pt_input(g, "x", EML_DTYPE_F32, 2, dims23, NULL);
    pt_const_f32(g, "w", 2, dims23, NULL);
    pt_node(g, "Identity", NULL, "i1", (const char *[]){"x"}, 1, (const char *[]){"a"}, 1);
    pt_node(g, "Relu", NULL, "relu", (const char *[]){"a"}, 1, (const char *[]){"b"}, 1);
    pt_node(g, "Dropout", NULL, "drop", (const char *[]){"b"}, 1, (const char *[]){"c", "mask"}, 2);
    pt_node(g, "Identity", NULL, "i2", (const char *[]){"c"}, 1, (const char *[]){"y"}, 1);
    /* an output copying a graph input keeps its Identity; one copying a constant becomes one */
    pt_node(g, "Identity", NULL, "i3", (const char *[]){"x"}, 1, (const char *[]){"xcopy"}, 1);
    pt_node(g, "Identity", NULL, "i4", (const char *[]){"w"}, 1, (const char *[]){"wcopy"}, 1);
    pt_output(g, "y");
    pt_output(g, "xcopy");
    pt_output(g, "wcopy");
    eml_tensor x = pt_random(2, dims23);
    eml_optimize_report r = pt_check_same(g, &x, "identity-elimination", 0);
    CHECK(pt_rewrites_of(&r, "identity-elimination") == 4);
    CHECK(g->n_nodes == 2 && pt_count_op(g, "Relu") == 1 && pt_count_op(g, "Dropout") == 0);
    const eml_node *relu = pt_find_op(g, "Relu");
    CHECK(relu->inputs[0] == eml__graph_find(g, "x"));
    CHECK(relu->outputs[0] == eml__graph_find(g, "y"));
    eml_value_info v;
    REQUIRE(eml_graph_output(g, 0, &v) == EML_OK);
    CHECK(strcmp(v.name, "y") == 0);
    CHECK(strcmp(pt_find_op(g, "Identity")->name, "i3") == 0);
    CHECK(eml__value_is_const(g, eml__graph_find(g, "wcopy")));
    free(x.data);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* Dropout stays when training_mode may be true or its mask is read. */
EML_TEST(identity_elimination_keeps_training_dropout)
{
    eml_env *env = pt_env();
    eml_graph *g = pt_graph(env, 13);
    pt_input(g, "x", EML_DTYPE_F32, 2, dims23, NULL);
    int64_t one = 1;
    pt_input(g, "train", EML_DTYPE_BOOL, 0, &one, NULL);
    pt_node(g, "Dropout", NULL, "d1", (const char *[]){"x", "", "train"}, 3, (const char *[]){"a"},
            1);
    pt_node(g, "Dropout", NULL, "d2", (const char *[]){"a"}, 1, (const char *[]){"b", "mask"}, 2);
    pt_output(g, "b");
    pt_output(g, "mask");
    eml_optimize_report r = pt_optimize_only(g, "identity-elimination");
    CHECK(pt_rewrites_of(&r, "identity-elimination") == 0 && pt_count_op(g, "Dropout") == 2);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* ---- dead-node-elimination ---- */

EML_TEST(dead_node_elimination_removes_unreachable)
{
    eml_env *env = pt_env();
    eml_graph *g = pt_graph(env, 17);
    pt_input(g, "x", EML_DTYPE_F32, 2, dims23, NULL);
    pt_input(g, "unused", EML_DTYPE_F32, 2, dims23, NULL);
    pt_const_f32(g, "w", 2, dims23, NULL);
    pt_const_f32(g, "orphan", 2, dims23, NULL);
    pt_node(g, "Mul", NULL, "mul", (const char *[]){"x", "w"}, 2, (const char *[]){"y"}, 1);
    pt_node(g, "Neg", NULL, "neg", (const char *[]){"x"}, 1, (const char *[]){"n"}, 1);
    pt_node(g, "Relu", NULL, "relu", (const char *[]){"n"}, 1, (const char *[]){"r"}, 1);
    pt_output(g, "y");
    eml_tensor in[2] = {pt_random(2, dims23), pt_random(2, dims23)};
    eml_optimize_report r = pt_check_same(g, in, "dead-node-elimination", 0);
    CHECK(pt_rewrites_of(&r, "dead-node-elimination") == 3); /* Neg, Relu, orphan */
    CHECK(g->n_nodes == 1 && pt_count_op(g, "Mul") == 1);
    CHECK(eml__value_is_const(g, eml__graph_find(g, "w")));
    CHECK(!eml__value_is_const(g, eml__graph_find(g, "orphan")));
    CHECK(eml_graph_input_count(g) == 2); /* inputs are the interface: kept */
    free(in[0].data);
    free(in[1].data);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* ---- options ---- */

/* Conv + Add + Relu: the graph the option tests optimize. */
static eml_graph *residual_graph(eml_env *env)
{
    eml_graph *g = pt_graph(env, 17);
    int64_t xd[] = {1, 4, 5, 5}, wd[] = {4, 4, 3, 3}, bd[] = {4};
    pt_input(g, "x", EML_DTYPE_F32, 4, xd, NULL);
    pt_const_f32(g, "w", 4, wd, NULL);
    pt_const_f32(g, "b", 1, bd, NULL);
    eml_node *conv = pt_node(g, "Conv", NULL, "conv", (const char *[]){"x", "w", "b"}, 3,
                             (const char *[]){"c"}, 1);
    int64_t pads[] = {1, 1, 1, 1};
    pt_attr_ints(g, conv, "pads", pads, 4);
    pt_node(g, "Add", NULL, "add", (const char *[]){"c", "x"}, 2, (const char *[]){"a"}, 1);
    pt_node(g, "Relu", NULL, "relu", (const char *[]){"a"}, 1, (const char *[]){"y"}, 1);
    pt_output(g, "y");
    return g;
}

EML_TEST(options_levels_and_disable)
{
    eml_env *env = pt_env();
    eml_diag diag;
    eml_diag_init(&diag);
    eml_optimize_options o;
    eml_optimize_report r;
    char disable[512], list[600];

    eml_graph *g = residual_graph(env);
    eml_optimize_options_init(&o);
    CHECK(o.level == 2 && o.disable == NULL && o.struct_size == sizeof(o));
    /* spaces around names are fine; other helpers' passes stay off */
    const char *others = pt_disable_except(disable, sizeof(disable), pt_own_passes);
    snprintf(list, sizeof(list), " activation-fusion , dead-node-elimination%s%s",
             others ? "," : "", others ? others : "");
    o.disable = list;
    REQUIRE_OK(eml_graph_optimize(g, &o, &r, &diag), &diag);
    CHECK(pt_count_op(g, "Relu") == 1 && pt_count_op(g, "FusedConv") == 1);
    CHECK(r.pass_count == 5);
    for (size_t i = 0; i < r.pass_count; i++)
        CHECK(strcmp(r.passes[i].name, "activation-fusion") != 0 &&
              strcmp(r.passes[i].name, "dead-node-elimination") != 0);
    eml_graph_destroy(g);

    g = residual_graph(env);
    o.disable = NULL;
    o.level = 1; /* ONNX ops only */
    REQUIRE_OK(eml_graph_optimize(g, &o, &r, &diag), &diag);
    CHECK(g->n_nodes == 3 && pt_count_op(g, "Conv") == 1);
    for (size_t i = 0; i < g->n_opsets; i++)
        CHECK(strcmp(g->opsets[i].domain, "ai.edgeml") != 0);
    o.level = 0;
    REQUIRE_OK(eml_graph_optimize(g, &o, &r, &diag), &diag);
    CHECK(r.pass_count == 0 && r.rounds == 0 && r.nodes_after == 3);

    /* level 2: one FusedConv with Z and Relu */
    o.level = 2;
    o.disable = others;
    REQUIRE_OK(eml_graph_optimize(g, &o, &r, &diag), &diag);
    REQUIRE(g->n_nodes == 1);
    CHECK(strcmp(g->nodes[0].op_type, "FusedConv") == 0);

    o.disable = "constant-folding,no-such-pass";
    CHECK_STATUS(eml_graph_optimize(g, &o, &r, &diag), EML_EINVAL);
    CHECK(strstr(diag.message, "'no-such-pass'") != NULL);
    o.disable = NULL;
    o.level = 3;
    CHECK_STATUS(eml_graph_optimize(g, &o, &r, &diag), EML_EINVAL);
    CHECK(eml_optimize_pass_name(0) && strcmp(eml_optimize_pass_name(0), "constant-folding") == 0);
    size_t n = 0;
    while (eml_optimize_pass_name(n))
        n++;
    CHECK(n >= 7 && n <= EML_OPTIMIZE_MAX_PASSES);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* An invalid graph is refused before any pass runs. */
EML_TEST(options_invalid_graph_refused)
{
    eml_env *env = pt_env();
    eml_graph *g = pt_graph(env, 17);
    pt_node(g, "Relu", NULL, "relu", (const char *[]){"nowhere"}, 1, (const char *[]){"y"}, 1);
    pt_output(g, "y");
    eml_diag diag;
    eml_diag_init(&diag);
    CHECK_STATUS(eml_graph_optimize(g, NULL, NULL, &diag), EML_EGRAPH);
    CHECK(strstr(diag.message, "nowhere") != NULL);
    CHECK(g->n_nodes == 1);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}
