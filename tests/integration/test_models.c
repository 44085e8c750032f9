/* Real models: outputs match the stored reference outputs (ONNX Runtime's), and the bundled
 * Fashion-MNIST CNN classifies the real 10,000-image test set at its reference accuracy. */
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

static eml_env *make_env(void)
{
    eml_env *env = NULL;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    return env;
}

static void *read_or_skip(const char *path, size_t *n)
{
    void *bytes = eml_test_read_file(path, n);
    if (!bytes) {
        char why[1200];
        snprintf(why, sizeof(why), "%s is absent", path);
        eml_test_skip(why);
    }
    return bytes;
}

static void read_pb(eml_env *env, const char *path, eml_tensor *t)
{
    size_t n = 0;
    void *bytes = read_or_skip(path, &n);
    eml_diag diag;
    eml_diag_init(&diag);
    char name[256];
    REQUIRE_OK(eml_tensor_read_pb(env, bytes, n, t, name, sizeof(name), &diag), &diag);
    free(bytes);
}

/* max |got - want| relative to the reference output's largest magnitude */
static double relative_error(const eml_tensor *got, const eml_tensor *want)
{
    REQUIRE(got->dtype == EML_DTYPE_F32 && want->dtype == EML_DTYPE_F32);
    REQUIRE(eml_tensor_count(got) == eml_tensor_count(want));
    const float *g = got->data, *w = want->data;
    double max_diff = 0, scale = 0;
    for (int64_t i = 0; i < eml_tensor_count(want); i++) {
        max_diff = fmax(max_diff, fabs((double)g[i] - w[i]));
        scale = fmax(scale, fabs((double)w[i]));
    }
    return max_diff / (scale > 0 ? scale : 1);
}

static double run_reference(const char *dir)
{
    eml_env *env = make_env();
    char path[1024];
    snprintf(path, sizeof(path), "%s/model.onnx", dir);
    if (access(path, R_OK) != 0)
        eml_test_skip("model absent (../shared/models)");
    eml_diag diag;
    eml_diag_init(&diag);
    eml_graph *g;
    eml_plan *plan;
    eml_session *s;
    REQUIRE_OK(eml_graph_load_onnx(env, path, &g, &diag), &diag);
    REQUIRE_OK(eml_plan_create(g, &plan, &diag), &diag);
    REQUIRE_OK(eml_session_create(plan, NULL, &s, &diag), &diag);
    eml_tensor in, want, got;
    snprintf(path, sizeof(path), "%s/test_data_set_0/input_0.pb", dir);
    read_pb(env, path, &in);
    snprintf(path, sizeof(path), "%s/test_data_set_0/output_0.pb", dir);
    read_pb(env, path, &want);
    REQUIRE_OK(eml_session_run(s, &in, 1, &diag), &diag);
    REQUIRE(eml_session_output(s, 0, &got) == EML_OK);
    double err = relative_error(&got, &want);
    printf("%s: max abs diff / max |ref| = %.3g\n", dir, err);
    eml_tensor_free(env, &in);
    eml_tensor_free(env, &want);
    eml_session_destroy(s);
    eml_plan_destroy(plan);
    eml_graph_destroy(g);
    eml_env_destroy(env);
    return err;
}

static void check_shared_model(const char *name)
{
    const char *shared = eml_test_shared_dir();
    if (!shared)
        eml_test_skip("EML_SHARED_DIR unset");
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/models/%s", shared, name);
    CHECK(run_reference(dir) <= 1e-4);
}

EML_TEST(bundled_fashion_cnn_matches_reference)
{
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/models/fashion_cnn", eml_test_source_dir());
    CHECK(run_reference(dir) <= 1e-4);
}

EML_TEST(fashion_mlp_matches_reference)
{
    check_shared_model("fashion_mlp");
}

EML_TEST(mobilenet_v2_matches_reference)
{
    check_shared_model("mobilenet_v2");
}

EML_TEST(resnet18_matches_reference)
{
    check_shared_model("resnet18");
}

EML_TEST(squeezenet1_1_matches_reference)
{
    check_shared_model("squeezenet1_1");
}

/* Top-1 accuracy of the bundled CNN on the 10,000 test images, in batches of 500. */
EML_TEST(fashion_cnn_accuracy_on_test_set)
{
    const char *images_path = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
    const char *labels_path = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
    if (access(images_path, R_OK) != 0)
        eml_test_skip("dataset-fashion-mnist is not installed");
    eml_env *env = make_env();
    eml_diag diag;
    eml_diag_init(&diag);
    eml_tensor images, labels;
    REQUIRE_OK(eml_tensor_read_idx(env, images_path, &images, &diag), &diag);
    REQUIRE_OK(eml_tensor_read_idx(env, labels_path, &labels, &diag), &diag);
    REQUIRE(images.rank == 3 && images.dims[0] == 10000 && images.dims[1] == 28);
    REQUIRE(labels.rank == 1 && labels.dims[0] == 10000);

    char path[1024];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", eml_test_source_dir());
    eml_graph *g;
    eml_plan *plan;
    eml_session *s;
    REQUIRE_OK(eml_graph_load_onnx(env, path, &g, &diag), &diag);
    REQUIRE_OK(eml_plan_create(g, &plan, &diag), &diag);
    REQUIRE_OK(eml_session_create(plan, NULL, &s, &diag), &diag);

    enum { BATCH = 500 };
    static float batch[BATCH * 28 * 28];
    const uint8_t *pixels = images.data, *truth = labels.data;
    int correct = 0;
    for (int start = 0; start < 10000; start += BATCH) {
        for (int i = 0; i < BATCH * 28 * 28; i++)
            batch[i] = pixels[(size_t)start * 28 * 28 + (size_t)i] / 255.0f;
        eml_tensor in = {EML_DTYPE_F32, 4, {BATCH, 1, 28, 28}, batch};
        REQUIRE_OK(eml_session_run(s, &in, 1, &diag), &diag);
        eml_tensor out;
        REQUIRE(eml_session_output(s, 0, &out) == EML_OK);
        REQUIRE(out.rank == 2 && out.dims[0] == BATCH && out.dims[1] == 10);
        const float *scores = out.data;
        for (int i = 0; i < BATCH; i++) {
            int best = 0;
            for (int c = 1; c < 10; c++)
                best = scores[i * 10 + c] > scores[i * 10 + best] ? c : best;
            correct += best == truth[start + i];
        }
    }
    double accuracy = correct / 100.0;
    printf("fashion_cnn top-1 on the 10,000-image test set: %.2f%% (reference 90.67%%)\n",
           accuracy);
    CHECK(fabs(accuracy - 90.67) <= 0.05 + 1e-9);
    eml_session_destroy(s);
    eml_plan_destroy(plan);
    eml_graph_destroy(g);
    eml_tensor_free(env, &images);
    eml_tensor_free(env, &labels);
    eml_env_destroy(env);
}

/* A wrong dtype or shape at run time is an error naming the input, and the session still works. */
EML_TEST(wrong_input_refused)
{
    eml_env *env = make_env();
    eml_diag diag;
    eml_diag_init(&diag);
    char path[1024];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", eml_test_source_dir());
    eml_graph *g;
    eml_plan *plan;
    eml_session *s;
    REQUIRE_OK(eml_graph_load_onnx(env, path, &g, &diag), &diag);
    REQUIRE_OK(eml_plan_create(g, &plan, &diag), &diag);
    REQUIRE_OK(eml_session_create(plan, NULL, &s, &diag), &diag);
    static float data[2 * 28 * 28];
    int32_t idata[28 * 28] = {0};
    eml_tensor bad_shape = {EML_DTYPE_F32, 4, {1, 1, 27, 28}, data};
    eml_tensor bad_rank = {EML_DTYPE_F32, 2, {28, 28}, data};
    eml_tensor bad_type = {EML_DTYPE_I32, 4, {1, 1, 28, 28}, idata};
    eml_tensor no_data = {EML_DTYPE_F32, 4, {1, 1, 28, 28}, NULL};
    CHECK_STATUS(eml_session_run(s, &bad_shape, 1, &diag), EML_ESHAPE);
    CHECK(strstr(diag.message, "input 'input'") != NULL);
    CHECK(strstr(diag.message, "float32[1,1,27,28]") != NULL);
    CHECK_STATUS(eml_session_run(s, &bad_rank, 1, &diag), EML_ESHAPE);
    CHECK_STATUS(eml_session_run(s, &bad_type, 1, &diag), EML_ETYPE);
    CHECK_STATUS(eml_session_run(s, &no_data, 1, &diag), EML_EINVAL);
    CHECK_STATUS(eml_session_run(s, &bad_shape, 2, &diag), EML_EINVAL);
    eml_tensor out;
    CHECK_STATUS(eml_session_output(s, 0, &out), EML_ERANGE);
    /* a good run afterwards, at two batch sizes: dynamic dims resolved per run */
    eml_tensor good = {EML_DTYPE_F32, 4, {2, 1, 28, 28}, data};
    REQUIRE_OK(eml_session_run(s, &good, 1, &diag), &diag);
    REQUIRE(eml_session_output(s, 0, &out) == EML_OK);
    CHECK(out.dims[0] == 2 && out.dims[1] == 10);
    good.dims[0] = 1;
    REQUIRE_OK(eml_session_run(s, &good, 1, &diag), &diag);
    REQUIRE(eml_session_output(s, 0, &out) == EML_OK);
    CHECK(out.dims[0] == 1);
    eml_session_destroy(s);
    eml_plan_destroy(plan);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* The planner's arena is smaller than the plain sum of activations on a real model. */
EML_TEST(arena_smaller_than_sum)
{
    eml_env *env = make_env();
    eml_diag diag;
    eml_diag_init(&diag);
    char path[1024];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", eml_test_source_dir());
    eml_graph *g;
    eml_plan *plan;
    REQUIRE_OK(eml_graph_load_onnx(env, path, &g, &diag), &diag);
    REQUIRE_OK(eml_plan_create(g, &plan, &diag), &diag);
    eml_plan_memory m;
    eml_plan_memory_get(plan, &m);
    printf("arena %llu bytes, sum of activations %llu bytes, %llu MACs\n",
           (unsigned long long)m.arena_bytes, (unsigned long long)m.activations_bytes,
           (unsigned long long)m.macs);
    CHECK(m.is_static);
    CHECK(m.arena_bytes > 0);
    CHECK(m.arena_bytes < m.activations_bytes);
    CHECK(m.macs > 0);
    eml_plan_destroy(plan);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}
