/* eml_prune: the target sparsity is reached, the largest weights and the biases stay as they were,
 * channels go whole, bad options and graphs are refused without touching a weight. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "edgeml/optimize.h"
#include "passes_util.h"

static eml_graph *load_fashion_cnn(eml_env *env)
{
    const char *src = eml_test_source_dir();
    if (!src)
        eml_test_skip("EML_SOURCE_DIR not set");
    char path[1024];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", src);
    eml_graph *g = NULL;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_graph_load_onnx(env, path, &g, &d), &d);
    return g;
}

static int64_t value_count(const eml_graph *g, int32_t v)
{
    return eml__shape_count(g->values[v].dims, g->values[v].rank);
}

/* A malloc'd copy of every float32 initializer's data, indexed by value id. */
static float **snapshot(const eml_graph *g)
{
    float **s = calloc(g->n_values, sizeof(float *));
    REQUIRE(s);
    for (size_t v = 0; v < g->n_values; v++) {
        const eml_value *val = &g->values[v];
        if (!(val->flags & EML_VALUE_INITIALIZER) || val->dtype != EML_DTYPE_F32)
            continue;
        size_t bytes = (size_t)value_count(g, (int32_t)v) * sizeof(float);
        s[v] = malloc(bytes ? bytes : 1);
        REQUIRE(s[v]);
        memcpy(s[v], val->data, bytes);
    }
    return s;
}

static void snapshot_free(const eml_graph *g, float **s)
{
    for (size_t v = 0; v < g->n_values; v++)
        free(s[v]);
    free(s);
}

static int unchanged(const eml_graph *g, float **s, int32_t v)
{
    return memcmp(g->values[v].data, s[v], (size_t)value_count(g, v) * sizeof(float)) == 0;
}

static int32_t weight_of(const eml_graph *g, const char *name)
{
    int32_t v = eml__graph_find(g, name);
    REQUIRE(v >= 0);
    return v;
}

static uint64_t zeros(const float *w, int64_t n)
{
    uint64_t z = 0;
    for (int64_t i = 0; i < n; i++)
        z += w[i] == 0.0f;
    return z;
}

/* Checks that each weight of v is either its original or 0, and returns the largest original
 * magnitude pruned and the smallest kept (for the threshold property). */
static void check_magnitudes(const eml_graph *g, float **s, int32_t v, float *max_pruned,
                             float *min_kept)
{
    const float *w = g->values[v].data;
    for (int64_t i = 0; i < value_count(g, v); i++) {
        CHECK(w[i] == s[v][i] || w[i] == 0.0f);
        float m = fabsf(s[v][i]);
        if (w[i] == 0.0f && m > *max_pruned)
            *max_pruned = m;
        if (w[i] != 0.0f && m < *min_kept)
            *min_kept = m;
    }
}

static const char *const cnn_weights[] = {"onnx::Conv_32", "onnx::Conv_35", "classifier.1.weight",
                                          "classifier.4.weight"};
static const char *const cnn_biases[] = {"onnx::Conv_33", "onnx::Conv_36", "classifier.1.bias",
                                         "classifier.4.bias"};

EML_TEST(prune_global_reaches_target_keeps_largest_and_biases)
{
    eml_env *env = pt_env();
    eml_graph *g = load_fashion_cnn(env);
    float **s = snapshot(g);
    eml_prune_options o;
    eml_prune_options_init(&o);
    o.sparsity = 0.5f;
    eml_prune_report r;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_prune(g, &o, &r, &d), &d);
    REQUIRE(r.layer_count == 4);
    /* The first Conv has 144 weights, below the default 256: left dense. */
    CHECK(r.layers[0].skipped && strstr(r.layers[0].skipped, "min_weights"));
    CHECK(unchanged(g, s, weight_of(g, cnn_weights[0])));
    uint64_t total = 0, z = 0;
    float max_pruned = 0, min_kept = INFINITY;
    for (int l = 1; l < 4; l++) {
        int32_t v = weight_of(g, cnn_weights[l]);
        CHECK(r.layers[l].skipped == NULL);
        CHECK(strcmp(r.layers[l].weight, cnn_weights[l]) == 0);
        total += (uint64_t)value_count(g, v);
        uint64_t lz = zeros(g->values[v].data, value_count(g, v));
        CHECK(lz == r.layers[l].zeros_after);
        z += lz;
        check_magnitudes(g, s, v, &max_pruned, &min_kept);
        printf("%-32s %8llu weights  sparsity %.4f\n", r.layers[l].node,
               (unsigned long long)r.layers[l].weight_count, r.layers[l].sparsity);
    }
    CHECK(total == r.pruned_weight_count && z == r.pruned_zeros);
    CHECK(fabs((double)z / (double)total - 0.5) <= 0.01);
    CHECK(z == (uint64_t)llround(0.5 * (double)total)); /* exact, in fact */
    /* One global threshold: nothing pruned is larger than anything kept, in any layer. */
    CHECK(max_pruned <= min_kept);
    CHECK(min_kept > 0);
    for (int b = 0; b < 4; b++)
        CHECK(unchanged(g, s, weight_of(g, cnn_biases[b])));
    CHECK(r.param_count > r.pruned_weight_count);
    CHECK(r.param_zeros >= r.pruned_zeros);
    /* Pruning again to the same target finds the zeros already there and changes nothing. */
    float **s2 = snapshot(g);
    eml_prune_report r2;
    REQUIRE_OK(eml_prune(g, &o, &r2, &d), &d);
    for (int l = 0; l < 4; l++)
        CHECK(unchanged(g, s2, weight_of(g, cnn_weights[l])));
    eml_prune_report_deinit(&r2);
    snapshot_free(g, s2);
    eml_prune_report_deinit(&r);
    snapshot_free(g, s);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(prune_per_layer_each_layer_at_target)
{
    eml_env *env = pt_env();
    eml_graph *g = load_fashion_cnn(env);
    float **s = snapshot(g);
    eml_prune_options o;
    eml_prune_options_init(&o);
    o.sparsity = 0.7f;
    o.scope = EML_PRUNE_PER_LAYER;
    o.min_weights = 0;
    eml_prune_report r;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_prune(g, &o, &r, &d), &d);
    for (int l = 0; l < 4; l++) {
        int32_t v = weight_of(g, cnn_weights[l]);
        CHECK(r.layers[l].skipped == NULL);
        CHECK(fabs(r.layers[l].sparsity - 0.7) <= 0.01);
        CHECK(r.layers[l].zeros_after == (uint64_t)llround(0.7 * (double)r.layers[l].weight_count));
        float max_pruned = 0, min_kept = INFINITY;
        check_magnitudes(g, s, v, &max_pruned, &min_kept);
        CHECK(max_pruned <= min_kept);
        CHECK(unchanged(g, s, weight_of(g, cnn_biases[l])));
    }
    eml_prune_report_deinit(&r);
    snapshot_free(g, s);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(prune_keeps_first_and_last_when_asked)
{
    eml_env *env = pt_env();
    eml_graph *g = load_fashion_cnn(env);
    float **s = snapshot(g);
    eml_prune_options o;
    eml_prune_options_init(&o);
    o.min_weights = 0;
    o.keep_first = o.keep_last = 1;
    o.sparsity = 0.9f;
    eml_prune_report r;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_prune(g, &o, &r, &d), &d);
    CHECK(r.layers[0].skipped && strcmp(r.layers[0].skipped, "first layer") == 0);
    CHECK(r.layers[3].skipped && strcmp(r.layers[3].skipped, "last layer") == 0);
    CHECK(unchanged(g, s, weight_of(g, cnn_weights[0])));
    CHECK(unchanged(g, s, weight_of(g, cnn_weights[3])));
    CHECK(!unchanged(g, s, weight_of(g, cnn_weights[1])));
    CHECK(r.pruned_weight_count == 4608 + 200704);
    CHECK(fabs(r.sparsity - 0.9) <= 0.01);
    eml_prune_report_deinit(&r);
    snapshot_free(g, s);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* x[1,2] MatMul W[2,5] -> y. */
static eml_graph *matmul_graph(eml_env *env, const float *w)
{
    eml_graph *g = pt_graph(env, 13);
    int64_t xd[2] = {1, 2}, wd[2] = {2, 5};
    pt_input(g, "x", EML_DTYPE_F32, 2, xd, NULL);
    pt_const_f32(g, "W", 2, wd, w);
    const char *ins[2] = {"x", "W"}, *outs[1] = {"y"};
    pt_node(g, "MatMul", NULL, "mm", ins, 2, outs, 1);
    REQUIRE(eml__graph_add_output(g, eml__graph_find(g, "y")) == EML_OK);
    return g;
}

EML_TEST(prune_exact_count_with_ties)
{
    eml_env *env = pt_env();
    float w[10];
    for (int i = 0; i < 10; i++)
        w[i] = (i % 2) ? 1.0f : -1.0f; /* all the same magnitude */
    eml_graph *g = matmul_graph(env, w);
    eml_prune_options o;
    eml_prune_options_init(&o);
    o.min_weights = 0;
    o.sparsity = 0.3f;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_prune(g, &o, NULL, &d), &d);
    const float *p = g->values[eml__graph_find(g, "W")].data;
    /* Exactly 3 zeros; ties go in position order. */
    CHECK(zeros(p, 10) == 3);
    CHECK(p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 1.0f && p[9] == 1.0f);
    eml_graph_destroy(g);

    /* Distinct magnitudes: the 5 smallest |w| go, signs do not matter. */
    const float v[10] = {0.5f, -0.1f, 3.0f, -2.0f, 0.05f, 9.0f, -0.7f, 0.3f, -4.0f, 0.2f};
    g = matmul_graph(env, v);
    o.sparsity = 0.5f;
    REQUIRE_OK(eml_prune(g, &o, NULL, &d), &d);
    p = g->values[eml__graph_find(g, "W")].data;
    const float want[10] = {0, 0, 3.0f, -2.0f, 0, 9.0f, -0.7f, 0, -4.0f, 0};
    for (int i = 0; i < 10; i++)
        CHECK(p[i] == want[i]);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(prune_channels_whole_and_smallest)
{
    eml_env *env = pt_env();
    /* MatMul W[2,5]: output channels are columns. L1 norms: 0.3, 10, 2, 0.2, 5. A second MatMul
     * reads y: the first is not an output layer. */
    const float v[10] = {0.1f, 5.0f, -1.0f, 0.1f, 2.0f, -0.2f, 5.0f, 1.0f, 0.1f, -3.0f};
    eml_graph *g = pt_graph(env, 13);
    int64_t xd[2] = {1, 2}, wd[2] = {2, 5}, w2d[2] = {5, 3};
    pt_input(g, "x", EML_DTYPE_F32, 2, xd, NULL);
    pt_const_f32(g, "W", 2, wd, v);
    pt_const_f32(g, "W2", 2, w2d, NULL);
    const char *ins[2] = {"x", "W"}, *outs[1] = {"y"};
    pt_node(g, "MatMul", NULL, "mm", ins, 2, outs, 1);
    const char *ins2[2] = {"y", "W2"}, *outs2[1] = {"z"};
    pt_node(g, "MatMul", NULL, "mm2", ins2, 2, outs2, 1);
    REQUIRE(eml__graph_add_output(g, eml__graph_find(g, "z")) == EML_OK);
    eml_prune_options o;
    eml_prune_options_init(&o);
    o.min_weights = 0;
    o.sparsity = 0.4f; /* 2 of 5 channels */
    o.method = EML_PRUNE_CHANNELS;
    eml_prune_report r;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_prune(g, &o, &r, &d), &d);
    const float *p = g->values[eml__graph_find(g, "W")].data;
    const float want[10] = {0, 5.0f, -1.0f, 0, 2.0f, 0, 5.0f, 1.0f, 0, -3.0f};
    for (int i = 0; i < 10; i++)
        CHECK(p[i] == want[i]);
    CHECK(r.layers[0].channels == 5 && r.layers[0].channels_pruned == 2);
    CHECK(r.layers[0].zeros_after == 4);
    /* The second MatMul computes the model's output: its channels stay. */
    REQUIRE(r.layer_count == 2);
    CHECK(r.layers[1].skipped && strstr(r.layers[1].skipped, "output layer"));
    CHECK(r.layers[1].zeros_after == 0);
    eml_prune_report_deinit(&r);
    eml_graph_destroy(g);

    /* Conv weights [O, I, kh, kw]: channels along axis 0, biases untouched. */
    g = load_fashion_cnn(env);
    float **s = snapshot(g);
    o.sparsity = 0.25f;
    REQUIRE_OK(eml_prune(g, &o, &r, &d), &d);
    int32_t cv = weight_of(g, "onnx::Conv_35"); /* [32,16,3,3] */
    const float *cw = g->values[cv].data;
    int dead = 0;
    double max_dead = 0, min_live = INFINITY;
    for (int c = 0; c < 32; c++) {
        uint64_t z = zeros(cw + c * 144, 144);
        CHECK(z == 144 || z < 144);
        double l1 = 0;
        for (int k = 0; k < 144; k++)
            l1 += fabs(s[cv][c * 144 + k]);
        if (z == 144) {
            dead++;
            max_dead = l1 > max_dead ? l1 : max_dead;
        } else {
            min_live = l1 < min_live ? l1 : min_live;
        }
    }
    CHECK(dead == 8);
    CHECK(max_dead <= min_live);
    CHECK(r.layers[1].channels == 32 && r.layers[1].channels_pruned == 8);
    CHECK(r.layers[2].channels == 128 && r.layers[2].channels_pruned == 32);
    CHECK(r.layers[3].skipped && strstr(r.layers[3].skipped, "output layer"));
    CHECK(unchanged(g, s, weight_of(g, cnn_weights[3])));
    for (int b = 0; b < 4; b++)
        CHECK(unchanged(g, s, weight_of(g, cnn_biases[b])));
    eml_prune_report_deinit(&r);
    snapshot_free(g, s);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(prune_refuses_bad_options_without_touching_weights)
{
    eml_env *env = pt_env();
    eml_graph *g = load_fashion_cnn(env);
    float **s = snapshot(g);
    eml_diag d;
    eml_diag_init(&d);
    eml_prune_report r;
    const float bad_sparsity[] = {1.0f, -0.1f, 1.5f, NAN, INFINITY};
    for (size_t i = 0; i < sizeof(bad_sparsity) / sizeof(bad_sparsity[0]); i++) {
        eml_prune_options o;
        eml_prune_options_init(&o);
        o.sparsity = bad_sparsity[i];
        CHECK_STATUS(eml_prune(g, &o, &r, &d), EML_EINVAL);
        eml_prune_report_deinit(&r);
    }
    eml_prune_options o;
    eml_prune_options_init(&o);
    o.method = (eml_prune_method)7;
    CHECK_STATUS(eml_prune(g, &o, &r, &d), EML_EINVAL);
    eml_prune_options_init(&o);
    o.scope = (eml_prune_scope)9;
    CHECK_STATUS(eml_prune(g, &o, &r, &d), EML_EINVAL);
    eml_prune_options_init(&o);
    o.struct_size = 0;
    CHECK_STATUS(eml_prune(g, &o, &r, &d), EML_EINVAL);
    eml_prune_options_init(&o);
    o.struct_size = sizeof(o) + 8;
    CHECK_STATUS(eml_prune(g, &o, &r, &d), EML_EINVAL);
    /* Every layer excluded. */
    eml_prune_options_init(&o);
    o.min_weights = 1u << 30;
    CHECK_STATUS(eml_prune(g, &o, &r, &d), EML_EINVAL);
    CHECK(strstr(d.message, "excluded") != NULL);
    eml_prune_report_deinit(&r);
    CHECK_STATUS(eml_prune(NULL, NULL, NULL, &d), EML_EINVAL);
    for (size_t v = 0; v < g->n_values; v++)
        if (s[v])
            CHECK(unchanged(g, s, (int32_t)v));
    snapshot_free(g, s);
    eml_graph_destroy(g);

    /* A model without a layer to prune: x -> Relu -> y. */
    g = pt_graph(env, 13);
    int64_t xd[2] = {1, 4};
    pt_input(g, "x", EML_DTYPE_F32, 2, xd, NULL);
    const char *ins[1] = {"x"}, *outs[1] = {"y"};
    pt_node(g, "Relu", NULL, "relu", ins, 1, outs, 1);
    REQUIRE(eml__graph_add_output(g, eml__graph_find(g, "y")) == EML_OK);
    CHECK_STATUS(eml_prune(g, NULL, NULL, &d), EML_EINVAL);
    CHECK(strstr(d.message, "nothing to prune") != NULL);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(prune_sparsity_zero_changes_nothing)
{
    eml_env *env = pt_env();
    eml_graph *g = load_fashion_cnn(env);
    float **s = snapshot(g);
    eml_prune_options o;
    eml_prune_options_init(&o);
    o.sparsity = 0.0f;
    eml_prune_report r;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml_prune(g, &o, &r, &d), &d);
    for (size_t v = 0; v < g->n_values; v++)
        if (s[v])
            CHECK(unchanged(g, s, (int32_t)v));
    CHECK(r.pruned_zeros == 0);
    eml_prune_report_deinit(&r);
    snapshot_free(g, s);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}
