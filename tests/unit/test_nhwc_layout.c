/* Tests of the nhwc-layout pass: structurally on small graphs (which ops turn channels-last,
 * where Transposes go, which cancel), semantically (outputs before and after on the reference
 * kernels), and on the real models (optimized with the fast kernels against their stored
 * reference outputs, 1 and 2 threads alike). */
#include <unistd.h>

#include "passes_util.h"

/* ---- small graphs ---- */

/* 6 channels: more than an RGB stem's, which reads the NCHW input as it is (see
 * layout_rgb_stem_reads_the_input_as_it_is) */
static const int64_t x_dims[4] = {2, 6, 9, 7};

/* x [2, 6, 9, 7] as the graph input "x". */
static eml_graph *graph_with_input(eml_env *env)
{
    eml_graph *g = pt_graph(env, 13);
    pt_input(g, "x", EML_DTYPE_F32, 4, x_dims, NULL);
    return g;
}

/* Conv named `name` from `in` to `out` with c input channels per group, o output channels, a
 * k × k kernel padded to keep the size, and a bias. */
static eml_node *conv(eml_graph *g, const char *name, const char *in, const char *out, int64_t c,
                      int64_t o, int64_t k)
{
    char w[64], b[64];
    snprintf(w, sizeof(w), "%s_w", name);
    snprintf(b, sizeof(b), "%s_b", name);
    pt_const_f32(g, w, 4, (const int64_t[]){o, c, k, k}, NULL);
    pt_const_f32(g, b, 1, (const int64_t[]){o}, NULL);
    eml_node *n =
        pt_node(g, "Conv", NULL, name, (const char *[]){in, w, b}, 3, (const char *[]){out}, 1);
    pt_attr_ints(g, n, "kernel_shape", (const int64_t[]){k, k}, 2);
    pt_attr_ints(g, n, "pads", (const int64_t[]){k / 2, k / 2, k / 2, k / 2}, 4);
    return n;
}

/* Runs g on a random input of dims before and after optimizing it (all passes, or all but
 * `disable`) on the reference kernels and checks the outputs agree. */
static void optimize_and_compare_on(eml_graph *g, const char *disable, const int64_t *dims)
{
    eml_tensor x = pt_random(4, dims);
    pt_outputs before, after;
    pt_run(g, &x, &before);
    eml_optimize_options o;
    eml_optimize_options_init(&o);
    o.disable = disable;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_graph_optimize(g, &o, NULL, &diag), &diag);
    pt_run(g, &x, &after);
    double d = pt_rel_diff(&after, &before);
    if (d > 1e-5)
        fprintf(stderr, "optimized outputs differ by %g\n", d);
    CHECK(d <= 1e-5);
    pt_outputs_free(&before);
    pt_outputs_free(&after);
    free(x.data);
}

/* The same on x_dims with batch `batch`. */
static void optimize_and_compare(eml_graph *g, const char *disable, int64_t batch)
{
    const int64_t dims[4] = {batch, x_dims[1], x_dims[2], x_dims[3]};
    optimize_and_compare_on(g, disable, dims);
}

EML_TEST(layout_conv_chain_crosses_once)
{
    eml_env *env = pt_env();
    eml_graph *g = graph_with_input(env);
    conv(g, "c1", "x", "c1_out", 6, 4, 3);
    pt_node(g, "Relu", NULL, "r1", (const char *[]){"c1_out"}, 1, (const char *[]){"r1_out"}, 1);
    conv(g, "c2", "r1_out", "y", 4, 5, 1);
    pt_output(g, "y");
    optimize_and_compare(g, NULL, 2);
    CHECK(pt_count_op(g, "NhwcConv") == 2);
    CHECK(pt_count_op(g, "Conv") == 0 && pt_count_op(g, "FusedConv") == 0);
    CHECK(pt_count_op(g, "Relu") == 0); /* fused into the first NhwcConv */
    CHECK(pt_count_op(g, "Transpose") == 2);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(layout_global_pool_then_flatten_needs_no_transpose)
{
    eml_env *env = pt_env();
    eml_graph *g = graph_with_input(env);
    conv(g, "c1", "x", "c1_out", 6, 6, 3);
    pt_node(g, "GlobalAveragePool", NULL, "gap", (const char *[]){"c1_out"}, 1,
            (const char *[]){"pooled"}, 1);
    pt_node(g, "Flatten", NULL, "flat", (const char *[]){"pooled"}, 1, (const char *[]){"y"}, 1);
    pt_output(g, "y");
    optimize_and_compare(g, NULL, 2);
    CHECK(pt_count_op(g, "NhwcGlobalAveragePool") == 1);
    CHECK(pt_count_op(g, "Transpose") == 1); /* the input's only */
    CHECK(pt_count_op(g, "Reshape") == 1);   /* [N,1,1,C] is [N,C,1,1]: a view */
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(layout_dynamic_batch)
{
    eml_env *env = pt_env();
    eml_graph *g = pt_graph(env, 13);
    pt_input(g, "x", EML_DTYPE_F32, 4, (const int64_t[]){-1, 6, 9, 7}, "batch");
    conv(g, "c1", "x", "c1_out", 6, 6, 3);
    pt_node(g, "MaxPool", NULL, "mp", (const char *[]){"c1_out"}, 1, (const char *[]){"p"}, 1);
    pt_attr_ints(g, &g->nodes[g->n_nodes - 1], "kernel_shape", (const int64_t[]){2, 2}, 2);
    pt_node(g, "GlobalAveragePool", NULL, "gap", (const char *[]){"p"}, 1,
            (const char *[]){"pooled"}, 1);
    pt_node(g, "Flatten", NULL, "flat", (const char *[]){"pooled"}, 1, (const char *[]){"y"}, 1);
    pt_output(g, "y");
    optimize_and_compare(g, NULL, 3);
    CHECK(pt_count_op(g, "NhwcConv") == 1 && pt_count_op(g, "NhwcMaxPool") == 1);
    CHECK(pt_count_op(g, "Transpose") == 1);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(layout_concat_moves_its_axis)
{
    eml_env *env = pt_env();
    eml_graph *g = graph_with_input(env);
    conv(g, "a", "x", "a_out", 6, 4, 1);
    conv(g, "b", "x", "b_out", 6, 5, 3);
    eml_node *cat = pt_node(g, "Concat", NULL, "cat", (const char *[]){"a_out", "b_out"}, 2,
                            (const char *[]){"cat_out"}, 1);
    pt_attr_int(g, cat, "axis", 1);
    conv(g, "c", "cat_out", "y", 9, 2, 3);
    pt_output(g, "y");
    optimize_and_compare(g, NULL, 2);
    const eml_node *n = pt_find_op(g, "Concat");
    REQUIRE(n);
    const eml_attr *axis = eml__node_attr(n, "axis");
    CHECK(axis && axis->i == 3);
    CHECK(pt_count_op(g, "Transpose") == 2);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(layout_agnostic_ops_stay_channels_last)
{
    eml_env *env = pt_env();
    eml_graph *g = graph_with_input(env);
    conv(g, "a", "x", "a_out", 6, 4, 3);
    conv(g, "b", "x", "b_out", 6, 4, 3);
    pt_node(g, "Tanh", NULL, "t", (const char *[]){"a_out"}, 1, (const char *[]){"t_out"}, 1);
    pt_node(g, "Mul", NULL, "m", (const char *[]){"t_out", "b_out"}, 2, (const char *[]){"m_out"},
            1);
    pt_const_f32(g, "half", 0, NULL, (const float[]){0.5f});
    pt_node(g, "Sub", NULL, "s", (const char *[]){"m_out", "half"}, 2, (const char *[]){"s_out"},
            1);
    eml_node *mp =
        pt_node(g, "MaxPool", NULL, "mp", (const char *[]){"s_out"}, 1, (const char *[]){"p"}, 1);
    pt_attr_ints(g, mp, "kernel_shape", (const int64_t[]){3, 3}, 2);
    pt_attr_ints(g, mp, "strides", (const int64_t[]){2, 2}, 2);
    pt_attr_int(g, mp, "ceil_mode", 1);
    conv(g, "c", "p", "y", 4, 3, 1);
    pt_output(g, "y");
    optimize_and_compare(g, NULL, 2);
    CHECK(pt_count_op(g, "NhwcMaxPool") == 1);
    CHECK(pt_count_op(g, "Transpose") == 2);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* A graph whose input is channels-last already, as converters from TensorFlow write them. */
EML_TEST(layout_cancels_existing_transposes)
{
    eml_env *env = pt_env();
    eml_graph *g = pt_graph(env, 13);
    pt_input(g, "x_nhwc", EML_DTYPE_F32, 4, (const int64_t[]){2, 9, 7, 3}, NULL);
    eml_node *t = pt_node(g, "Transpose", NULL, "to_nchw", (const char *[]){"x_nhwc"}, 1,
                          (const char *[]){"x"}, 1);
    pt_attr_ints(g, t, "perm", (const int64_t[]){0, 3, 1, 2}, 4);
    conv(g, "c", "x", "c_out", 3, 5, 3);
    t = pt_node(g, "Transpose", NULL, "to_nhwc", (const char *[]){"c_out"}, 1,
                (const char *[]){"y"}, 1);
    pt_attr_ints(g, t, "perm", (const int64_t[]){0, 2, 3, 1}, 4);
    pt_output(g, "y");
    optimize_and_compare_on(g, NULL, (const int64_t[]){2, 9, 7, 3});
    CHECK(pt_count_op(g, "Transpose") == 0);
    CHECK(pt_count_op(g, "NhwcConv") == 1);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(layout_transposes_back_once_for_nchw_readers)
{
    eml_env *env = pt_env();
    eml_graph *g = graph_with_input(env);
    conv(g, "a", "x", "a_out", 6, 4, 3);
    conv(g, "b", "a_out", "y1", 4, 2, 3);
    eml_node *sm =
        pt_node(g, "Softmax", NULL, "sm", (const char *[]){"a_out"}, 1, (const char *[]){"y2"}, 1);
    pt_attr_int(g, sm, "axis", 1);
    pt_node(g, "LogSoftmax", NULL, "lsm", (const char *[]){"a_out"}, 1, (const char *[]){"y3"}, 1);
    pt_output(g, "y1");
    pt_output(g, "y2");
    pt_output(g, "y3");
    optimize_and_compare(g, NULL, 2);
    /* the input, a_out once for both softmaxes, and y1 */
    CHECK(pt_count_op(g, "Transpose") == 3);
    CHECK(pt_count_op(g, "NhwcConv") == 2);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(layout_leaves_what_it_cannot_move)
{
    eml_env *env = pt_env();
    eml_graph *g = graph_with_input(env);
    /* weights computed at run time */
    pt_input(g, "w", EML_DTYPE_F32, 4, (const int64_t[]){4, 6, 3, 3}, NULL);
    eml_node *n =
        pt_node(g, "Conv", NULL, "c", (const char *[]){"x", "w"}, 2, (const char *[]){"y"}, 1);
    pt_attr_ints(g, n, "kernel_shape", (const int64_t[]){3, 3}, 2);
    pt_output(g, "y");
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_graph_optimize(g, NULL, NULL, &diag), &diag);
    CHECK(pt_count_op(g, "Conv") == 1 && pt_count_op(g, "NhwcConv") == 0);
    CHECK(pt_count_op(g, "Transpose") == 0);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(layout_disabled_by_name_and_idempotent)
{
    eml_env *env = pt_env();
    eml_graph *g = graph_with_input(env);
    conv(g, "c1", "x", "c1_out", 6, 4, 3);
    conv(g, "c2", "c1_out", "y", 4, 5, 3);
    pt_output(g, "y");
    eml_optimize_options o;
    eml_optimize_options_init(&o);
    o.disable = "nhwc-layout";
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_graph_optimize(g, &o, NULL, &diag), &diag);
    CHECK(pt_count_op(g, "NhwcConv") == 0 && pt_count_op(g, "Transpose") == 0);
    REQUIRE_OK(eml_graph_optimize(g, NULL, NULL, &diag), &diag);
    const size_t nodes = g->n_nodes;
    CHECK(pt_count_op(g, "NhwcConv") == 2 && pt_count_op(g, "Transpose") == 2);
    /* once channels-last, a second optimization changes nothing */
    eml_optimize_report r;
    REQUIRE_OK(eml_graph_optimize(g, NULL, &r, &diag), &diag);
    CHECK(g->n_nodes == nodes);
    for (size_t i = 0; i < r.pass_count; i++)
        if (strcmp(r.passes[i].name, "nhwc-layout") == 0)
            CHECK(r.passes[i].rewrites == 0);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* A conv of few input channels reading the graph's NCHW input (an RGB stem) reads it as it is:
 * NhwcConvFromNchw, no Transpose in; a dilated one, one of more channels, or one with float16
 * weights (variant 4) takes the transpose. A second reader of the input that needs it
 * channels-last gets the one Transpose. */
EML_TEST(layout_rgb_stem_reads_the_input_as_it_is)
{
    eml_env *env = pt_env();
    for (int variant = 0; variant < 5; variant++) {
        eml_graph *g = pt_graph(env, 13);
        const int64_t c = variant == 1 ? 5 : 3;
        const int64_t dims[4] = {2, c, 11, 10};
        pt_input(g, "x", EML_DTYPE_F32, 4, dims, NULL);
        eml_node *n = conv(g, "stem", "x", "s_out", c, 6, 3);
        pt_attr_ints(g, n, "strides", (const int64_t[]){2, 2}, 2);
        if (variant == 2)
            pt_attr_ints(g, n, "dilations", (const int64_t[]){2, 2}, 2);
        if (variant == 4) /* as constant folding marks a Cast of float16 weights */
            g->values[eml__graph_find(g, "stem_w")].flags |= EML_VALUE_FROM_F16;
        pt_node(g, "Relu", NULL, "r", (const char *[]){"s_out"}, 1, (const char *[]){"r_out"}, 1);
        conv(g, "c2", "r_out", "y", 6, 4, 1);
        pt_output(g, "y");
        if (variant == 3) { /* a second, dilated conv of the image: it reads the transpose */
            eml_node *d = conv(g, "dilated", "x", "y2", c, 2, 3);
            pt_attr_ints(g, d, "dilations", (const int64_t[]){2, 2}, 2);
            pt_output(g, "y2");
        }
        optimize_and_compare_on(g, NULL, dims);
        const bool planar = variant == 0 || variant == 3;
        CHECK(pt_count_op(g, "NhwcConvFromNchw") == (planar ? 1u : 0u));
        CHECK(pt_count_op(g, "NhwcConv") == (variant == 0 ? 1u : 2u));
        /* out (y), in unless the stem reads x as it is, and y2 out */
        const size_t transposes = variant == 0 ? 1 : variant == 3 ? 3 : 2;
        CHECK(pt_count_op(g, "Transpose") == transposes);
        eml_graph_destroy(g);
    }
    eml_env_destroy(env);
}

/* ShuffleNet v2's unit: Split on channels, a branch, Concat, then the channel shuffle (Reshape,
 * Transpose, Reshape): all of it channels-last. */
EML_TEST(layout_shufflenet_unit)
{
    eml_env *env = pt_env();
    eml_graph *g = pt_graph(env, 13);
    pt_input(g, "x", EML_DTYPE_F32, 4, (const int64_t[]){2, 8, 6, 5}, NULL);
    conv(g, "c0", "x", "c0_out", 8, 8, 1);
    pt_const_i64(g, "halves", 2, (const int64_t[]){4, 4});
    eml_node *split = pt_node(g, "Split", NULL, "split", (const char *[]){"c0_out", "halves"}, 2,
                              (const char *[]){"left", "right"}, 2);
    pt_attr_int(g, split, "axis", 1);
    eml_node *dw = conv(g, "dw", "right", "dw_out", 1, 4, 3);
    pt_attr_int(g, dw, "group", 4);
    conv(g, "pw", "dw_out", "pw_out", 4, 4, 1);
    eml_node *cat = pt_node(g, "Concat", NULL, "cat", (const char *[]){"left", "pw_out"}, 2,
                            (const char *[]){"cat_out"}, 1);
    pt_attr_int(g, cat, "axis", 1);
    pt_const_i64(g, "s5", 5, (const int64_t[]){2, 2, 4, 6, 5});
    pt_node(g, "Reshape", NULL, "r1", (const char *[]){"cat_out", "s5"}, 2,
            (const char *[]){"r1_out"}, 1);
    eml_node *t = pt_node(g, "Transpose", NULL, "shuffle", (const char *[]){"r1_out"}, 1,
                          (const char *[]){"t_out"}, 1);
    pt_attr_ints(g, t, "perm", (const int64_t[]){0, 2, 1, 3, 4}, 5);
    pt_const_i64(g, "s4", 4, (const int64_t[]){2, 8, 6, 5});
    pt_node(g, "Reshape", NULL, "r2", (const char *[]){"t_out", "s4"}, 2,
            (const char *[]){"shuffled"}, 1);
    conv(g, "c1", "shuffled", "y", 8, 3, 3);
    pt_output(g, "y");
    int64_t dims[4] = {2, 8, 6, 5};
    eml_tensor x = pt_random(4, dims);
    pt_outputs before, after;
    pt_run(g, &x, &before);
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_graph_optimize(g, NULL, NULL, &diag), &diag);
    pt_run(g, &x, &after);
    CHECK(pt_rel_diff(&after, &before) <= 1e-5);
    CHECK(pt_count_op(g, "NhwcConv") == 4);
    /* the input's, the output's and the shuffle's own (rank 5) */
    CHECK(pt_count_op(g, "Transpose") == 3);
    const eml_node *sp = pt_find_op(g, "Split");
    REQUIRE(sp);
    CHECK(eml__node_attr(sp, "axis")->i == 3);
    for (size_t i = 0; i < g->n_nodes; i++) {
        const eml_attr *perm = eml__node_attr(&g->nodes[i], "perm");
        if (strcmp(g->nodes[i].op_type, "Transpose") == 0 && perm->count == 5)
            CHECK(perm->ints[3] == 4 && perm->ints[4] == 3);
    }
    pt_outputs_free(&before);
    pt_outputs_free(&after);
    free(x.data);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* ---- real models, on the fast kernels ---- */

/* Runs the optimized graph with a pool of `threads`; the output is copied into *out. */
static void run_model(eml_env *env, eml_graph *g, const eml_tensor *in, uint32_t threads,
                      pt_outputs *out)
{
    (void)env;
    eml_diag diag;
    eml_diag_init(&diag);
    eml_plan *plan = NULL;
    eml_session *s = NULL;
    eml_session_options so;
    eml_session_options_init(&so);
    so.n_threads = threads;
    REQUIRE_OK(eml_plan_create(g, &plan, &diag), &diag);
    REQUIRE_OK(eml_session_create(plan, &so, &s, &diag), &diag);
    REQUIRE_OK(eml_session_run(s, in, 1, &diag), &diag);
    eml_tensor t;
    REQUIRE(eml_session_output(s, 0, &t) == EML_OK);
    out->count = 1;
    out->t[0] = t;
    out->t[0].data = malloc(eml_tensor_bytes(&t));
    REQUIRE(out->t[0].data);
    memcpy(out->t[0].data, t.data, eml_tensor_bytes(&t));
    eml_session_destroy(s);
    eml_plan_destroy(plan);
}

static void check_model(const char *name, size_t max_transposes)
{
    const char *shared = eml_test_shared_dir();
    char dir[1024], path[1200];
    snprintf(dir, sizeof(dir), "%s/models/%s", shared ? shared : "../shared", name);
    snprintf(path, sizeof(path), "%s/model.onnx", dir);
    if (access(path, R_OK) != 0)
        eml_test_skip("model absent (../shared/models)");
    eml_env_options eo;
    eml_env_options_init(&eo);
    eo.n_threads = 2;
    eml_env *env = NULL;
    REQUIRE(eml_env_create(&eo, &env) == EML_OK);
    eml_diag diag;
    eml_diag_init(&diag);
    eml_graph *g;
    REQUIRE_OK(eml_graph_load_onnx(env, path, &g, &diag), &diag);
    const size_t convs = pt_count_op(g, "Conv");
    eml_tensor in, want;
    snprintf(path, sizeof(path), "%s/test_data_set_0/input_0.pb", dir);
    pt_read_pb(env, path, &in);
    snprintf(path, sizeof(path), "%s/test_data_set_0/output_0.pb", dir);
    pt_read_pb(env, path, &want);
    eml_optimize_options o;
    eml_optimize_options_init(&o);
    o.level = 2;
    REQUIRE_OK(eml_graph_optimize(g, &o, NULL, &diag), &diag);
    const size_t nhwc = pt_count_op(g, "NhwcConv"), stems = pt_count_op(g, "NhwcConvFromNchw");
    printf("%s: %zu NhwcConv and %zu NhwcConvFromNchw of %zu Conv, %zu Transpose\n", name, nhwc,
           stems, convs, pt_count_op(g, "Transpose"));
    CHECK(nhwc + stems == convs);
    CHECK(stems == 1); /* each reads an RGB or grey image */
    CHECK(pt_count_op(g, "Transpose") <= max_transposes);
    pt_outputs one, two, ref = {1, {want}};
    run_model(env, g, &in, 1, &one);
    run_model(env, g, &in, 2, &two);
    /* max abs diff against the output's scale (pt_rel_diff divides by max |ref|) */
    const double d = pt_rel_diff(&one, &ref);
    printf("%s: max abs diff / max |ref| = %.3g\n", name, d);
    CHECK(d <= 1e-4);
    CHECK(one.t[0].rank == two.t[0].rank &&
          memcmp(one.t[0].data, two.t[0].data, eml_tensor_bytes(&one.t[0])) == 0);
    pt_outputs_free(&one);
    pt_outputs_free(&two);
    eml_tensor_free(env, &in);
    eml_tensor_free(env, &want);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(layout_model_mobilenet_v2)
{
    check_model("mobilenet_v2", 1);
}

EML_TEST(layout_model_resnet18)
{
    check_model("resnet18", 1);
}

EML_TEST(layout_model_squeezenet1_1)
{
    check_model("squeezenet1_1", 1);
}

EML_TEST(layout_model_fashion_cnn)
{
    check_model("fashion_cnn", 2);
}
