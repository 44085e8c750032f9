/* Graph passes on real models: optimized and not, the models give the same outputs on the
 * reference kernels (and still match their stored reference outputs); an optimized model saved
 * as ONNX and loaded again gives the same outputs bit for bit. */
#include <unistd.h>

#include "passes_util.h"

static void print_ops(void *user, const char *op, size_t count)
{
    (void)user;
    printf(" %s %zu", op, count);
}

static const char *saved_model_path(const char *dir, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/model.onnx", dir);
    return buf;
}

/* Checks one model folder; returns the optimized node count. */
static size_t check_model(const char *dir, size_t expect_nodes)
{
    eml_env *env = pt_env();
    char path[1200], saved[64];
    snprintf(path, sizeof(path), "%s/model.onnx", dir);
    if (access(path, R_OK) != 0)
        eml_test_skip("model absent (../shared/models)");
    eml_diag diag;
    eml_diag_init(&diag);
    eml_graph *g, *back;
    REQUIRE_OK(eml_graph_load_onnx(env, path, &g, &diag), &diag);
    eml_tensor in, want;
    snprintf(path, sizeof(path), "%s/test_data_set_0/input_0.pb", dir);
    pt_read_pb(env, path, &in);
    snprintf(path, sizeof(path), "%s/test_data_set_0/output_0.pb", dir);
    pt_read_pb(env, path, &want);
    pt_outputs plain, opt, reloaded, ref = {1, {want}};

    pt_run(g, &in, &plain);
    /* first with all passes (other helpers' included): the outputs only */
    eml_graph *full;
    REQUIRE_OK(eml_graph_load_onnx(env, saved_model_path(dir, path, sizeof(path)), &full, &diag),
               &diag);
    REQUIRE_OK(eml_graph_optimize(full, NULL, NULL, &diag), &diag);
    pt_run(full, &in, &opt);
    double d_full = pt_rel_diff(&opt, &plain);
    printf("%s: all passes: %zu nodes, optimized vs not: %.3g\n", dir, full->n_nodes, d_full);
    CHECK(d_full <= 1e-5);
    pt_outputs_free(&opt);
    eml_graph_destroy(full);
    /* then with this file's passes only, for the structure */
    char disable[512];
    eml_optimize_options o;
    eml_optimize_options_init(&o);
    o.disable = pt_disable_except(disable, sizeof(disable), pt_own_passes);
    eml_optimize_report r;
    REQUIRE_OK(eml_graph_optimize(g, &o, &r, &diag), &diag);
    printf("%s: %zu nodes -> %zu, %zu initializers -> %zu, %u rounds\n", dir, r.nodes_before,
           r.nodes_after, r.initializers_before, r.initializers_after, (unsigned)r.rounds);
    for (size_t i = 0; i < r.pass_count; i++)
        printf("  %s: %llu\n", r.passes[i].name, (unsigned long long)r.passes[i].rewrites);
    printf("  ops:");
    eml_graph_op_counts(g, print_ops, NULL);
    printf("\n");
    CHECK(r.nodes_after == g->n_nodes);
    if (expect_nodes)
        CHECK(r.nodes_after == expect_nodes);
    REQUIRE_OK(eml__graph_verify(g, NULL, &diag), &diag);
    pt_run(g, &in, &opt);
    double d_opt = pt_rel_diff(&opt, &plain), d_ref = pt_rel_diff(&opt, &ref);
    printf("  optimized vs not: %.3g, vs reference: %.3g\n", d_opt, d_ref);
    CHECK(d_opt <= 1e-5);
    CHECK(d_ref <= 1e-4);

    snprintf(saved, sizeof(saved), "/tmp/eml_passes_XXXXXX");
    int fd = mkstemp(saved);
    REQUIRE(fd >= 0);
    close(fd);
    REQUIRE_OK(eml_graph_save_onnx(g, saved, &diag), &diag);
    REQUIRE_OK(eml_graph_load_onnx(env, saved, &back, &diag), &diag);
    unlink(saved);
    CHECK(back->n_nodes == g->n_nodes);
    pt_run(back, &in, &reloaded);
    CHECK(pt_rel_diff(&reloaded, &opt) == 0);
    size_t nodes = g->n_nodes;

    pt_outputs_free(&plain);
    pt_outputs_free(&opt);
    pt_outputs_free(&reloaded);
    eml_tensor_free(env, &in);
    eml_tensor_free(env, &want);
    eml_graph_destroy(back);
    eml_graph_destroy(g);
    eml_env_destroy(env);
    return nodes;
}

static void check_shared(const char *name, size_t expect_nodes)
{
    const char *shared = eml_test_shared_dir();
    if (!shared)
        eml_test_skip("EML_SHARED_DIR unset");
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/models/%s", shared, name);
    check_model(dir, expect_nodes);
}

/* 2 Conv + 3 Relu + 2 MaxPool + Flatten + 2 Gemm: every Relu fuses. */
EML_TEST(fashion_cnn_optimized)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/models/fashion_cnn", eml_test_source_dir());
    check_model(dir, 7);
}

EML_TEST(fashion_mlp_optimized)
{
    check_shared("fashion_mlp", 3);
}

/* 70 Constant (Clip bounds) fold, 35 Clip (ReLU6) and 10 residual Add fuse into the convs:
 * 52 FusedConv + GlobalAveragePool + Flatten + Gemm. */
EML_TEST(mobilenet_v2_optimized)
{
    check_shared("mobilenet_v2", 55);
}

/* 20 Conv with 8 residual Add and 17 Relu fused: 20 FusedConv + MaxPool + GlobalAveragePool +
 * Flatten + Gemm. */
EML_TEST(resnet18_optimized)
{
    check_shared("resnet18", 24);
}

/* 18 Identity on weights fold, 26 Relu fuse: 26 FusedConv + 8 Concat + 3 MaxPool +
 * GlobalAveragePool + Flatten. */
EML_TEST(squeezenet1_1_optimized)
{
    check_shared("squeezenet1_1", 39);
}
