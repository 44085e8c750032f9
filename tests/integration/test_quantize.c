/* Post-training quantization on real data: the Fashion-MNIST CNN calibrated on 500 training
 * images keeps its accuracy on the 10,000-image test set (INT8 within 0.5 points of float32,
 * FP16 within 0.05, mixed within its budget), the vision models shrink to their size targets,
 * and bad calibration data or an already quantized model get clear errors.
 * Under the sanitizers the accuracy cases use the first 1,000 test images (the figures of the
 * plain build are the reference); the vision-model size cases run in the plain build only.
 * Mixed precision evaluates the model once per layer and per step of its search: its case uses
 * the first 2,000 test images (300 under the sanitizers). */
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fashion_util.h"
#include "harness.h"

#if defined(__SANITIZE_ADDRESS__)
#define EVAL_IMAGES 1000
#define MIXED_IMAGES 300
#define SANITIZED 1
#else
#define EVAL_IMAGES 10000
#define MIXED_IMAGES 2000
#define SANITIZED 0
#endif

#define CALIB_IMAGES 500

static eml_env *make_env(void)
{
    eml_env *env = NULL;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    return env;
}

static eml_graph *load(eml_env *env, const char *path)
{
    eml_graph *g = NULL;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_graph_load_onnx(env, path, &g, &diag), &diag);
    return g;
}

static eml_graph *load_fashion_cnn(eml_env *env)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", eml_test_source_dir());
    return load(env, path);
}

static double top1(const eml_graph *g, const eml_tensor *data, const eml_tensor *labels)
{
    eml_eval_result r;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_eval_classifier(g, data, labels, NULL, &r, NULL, &diag), &diag);
    REQUIRE(r.count == (uint64_t)data->dims[0]);
    return r.top1_pct;
}

/* Quantizes the CNN as asked and returns top-1 before and after on the test images. */
static void fashion_accuracy(eml_precision precision, eml_calib_method method, float budget,
                             double *before, double *after)
{
    eml_env *env = make_env();
    int images = precision == EML_PRECISION_MIXED ? MIXED_IMAGES : EVAL_IMAGES;
    eml_tensor calib = fashion_images(env, FASHION_TRAIN_IMAGES, 0, CALIB_IMAGES, 3, NULL);
    eml_tensor test = fashion_images(env, FASHION_TEST_IMAGES, 0, images, 3, NULL);
    eml_tensor labels = fashion_labels(env, images);
    eml_graph *g = load_fashion_cnn(env);
    *before = top1(g, &test, &labels);
    eml_quantize_options o;
    eml_quantize_options_init(&o);
    o.precision = precision;
    o.method = method;
    o.calib = &calib;
    o.accuracy_budget = budget;
    if (precision == EML_PRECISION_MIXED) {
        o.eval_data = &test;
        o.eval_labels = &labels;
    }
    eml_quantize_report rep;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_quantize(g, &o, &rep, &diag), &diag);
    *after = top1(g, &test, &labels);
    printf("fashion_cnn precision %d method %d: top-1 on %d test images %.2f%% -> %.2f%%\n",
           (int)precision, (int)method, images, *before, *after);
    for (size_t l = 0; l < rep.layer_count; l++)
        printf("  %-32s %-5s %-5s SQNR %.1f dB\n", rep.layers[l].node, rep.layers[l].op,
               rep.layers[l].precision, rep.layers[l].sqnr_db);
    eml_quantize_report_deinit(&rep);
    eml_graph_destroy(g);
    free(calib.data);
    free(test.data);
    eml_tensor_free(env, &labels);
    eml_env_destroy(env);
}

EML_TEST(fashion_cnn_fp32_accuracy_by_eval)
{
    eml_env *env = make_env();
    eml_tensor test = fashion_images(env, FASHION_TEST_IMAGES, 0, EVAL_IMAGES, 3, NULL);
    eml_tensor labels = fashion_labels(env, EVAL_IMAGES);
    eml_graph *g = load_fashion_cnn(env);
    eml_eval_result r;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_eval_classifier(g, &test, &labels, NULL, &r, NULL, &diag), &diag);
    printf("top-1 %.2f%%, top-5 %.2f%% on %llu images\n", r.top1_pct, r.top5_pct,
           (unsigned long long)r.count);
    CHECK(r.n_classes == 10);
    CHECK(r.top5_pct >= r.top1_pct);
    if (!SANITIZED)
        CHECK(fabs(r.top1_pct - 90.67) <= 0.005);
    eml_graph_destroy(g);
    free(test.data);
    eml_tensor_free(env, &labels);
    eml_env_destroy(env);
}

EML_TEST(fashion_cnn_int8_minmax_within_half_a_point)
{
    double before, after;
    fashion_accuracy(EML_PRECISION_INT8, EML_CALIB_MINMAX, 0, &before, &after);
    CHECK(fabs(after - before) <= 0.5);
}

EML_TEST(fashion_cnn_int8_entropy_within_half_a_point)
{
    double before, after;
    fashion_accuracy(EML_PRECISION_INT8, EML_CALIB_ENTROPY, 0, &before, &after);
    CHECK(fabs(after - before) <= 0.5);
}

EML_TEST(fashion_cnn_int8_percentile_within_half_a_point)
{
    double before, after;
    fashion_accuracy(EML_PRECISION_INT8, EML_CALIB_PERCENTILE, 0, &before, &after);
    CHECK(fabs(after - before) <= 0.5);
}

EML_TEST(fashion_cnn_fp16_within_five_hundredths)
{
    double before, after;
    fashion_accuracy(EML_PRECISION_FP16, EML_CALIB_MINMAX, 0, &before, &after);
    CHECK(fabs(after - before) <= 0.05 + 1e-9);
}

EML_TEST(fashion_cnn_int8_dynamic_within_half_a_point)
{
    double before, after;
    fashion_accuracy(EML_PRECISION_INT8_DYNAMIC, EML_CALIB_MINMAX, 0, &before, &after);
    CHECK(fabs(after - before) <= 0.5);
}

EML_TEST(fashion_cnn_mixed_keeps_its_budget)
{
    double before, after;
    fashion_accuracy(EML_PRECISION_MIXED, EML_CALIB_MINMAX, 0.05f, &before, &after);
    CHECK(after >= before - 0.05 - 1e-9);
}

static double file_size(const char *path)
{
    struct stat sb;
    REQUIRE(stat(path, &sb) == 0);
    return (double)sb.st_size;
}

/* Quantizes a shared vision model (calibrated on its one reference input) and returns the
 * written file's size over the original's. */
static double size_ratio(const char *name, eml_precision precision)
{
    if (SANITIZED)
        eml_test_skip("vision-model sizes are checked in the plain build (slow under ASan)");
    const char *shared = eml_test_shared_dir();
    char path[1024], input[1024], out[1024];
    snprintf(path, sizeof(path), "%s/models/%s/model.onnx", shared ? shared : "", name);
    snprintf(input, sizeof(input), "%s/models/%s/test_data_set_0/input_0.pb", shared ? shared : "",
             name);
    if (!shared || access(path, R_OK) != 0)
        eml_test_skip("../shared/models is absent");
    snprintf(out, sizeof(out), "%s/quantize_%s_%d.onnx",
             getenv("EML_BINARY_DIR") ? getenv("EML_BINARY_DIR") : "/tmp", name, (int)precision);
    eml_env *env = make_env();
    eml_diag diag;
    eml_diag_init(&diag);
    eml_tensor calib;
    REQUIRE_OK(eml_tensor_read_file(env, input, NULL, &calib, &diag), &diag);
    eml_graph *g = load(env, path);
    eml_quantize_options o;
    eml_quantize_options_init(&o);
    o.precision = precision;
    o.calib = &calib;
    REQUIRE_OK(eml_quantize(g, &o, NULL, &diag), &diag);
    REQUIRE_OK(eml_graph_save_onnx(g, out, &diag), &diag);
    double ratio = file_size(out) / file_size(path);
    printf("%s precision %d: %.0f -> %.0f bytes (%.4fx)\n", name, (int)precision, file_size(path),
           file_size(out), ratio);
    /* the written model loads and runs on the reference input */
    eml_graph *back = load(env, out);
    eml_plan *plan;
    eml_session *s;
    REQUIRE_OK(eml_plan_create(back, &plan, &diag), &diag);
    REQUIRE_OK(eml_session_create(plan, NULL, &s, &diag), &diag);
    REQUIRE_OK(eml_session_run(s, &calib, 1, &diag), &diag);
    eml_session_destroy(s);
    eml_plan_destroy(plan);
    eml_graph_destroy(back);
    unlink(out);
    eml_graph_destroy(g);
    eml_tensor_free(env, &calib);
    eml_env_destroy(env);
    return ratio;
}

EML_TEST(resnet18_int8_size)
{
    CHECK(size_ratio("resnet18", EML_PRECISION_INT8) <= 0.27);
}

EML_TEST(mobilenet_v2_int8_size)
{
    CHECK(size_ratio("mobilenet_v2", EML_PRECISION_INT8) <= 0.27);
}

EML_TEST(resnet18_fp16_size)
{
    CHECK(size_ratio("resnet18", EML_PRECISION_FP16) <= 0.51);
}

EML_TEST(mobilenet_v2_fp16_size)
{
    CHECK(size_ratio("mobilenet_v2", EML_PRECISION_FP16) <= 0.51);
}

/* ---- bad input ---- */

static eml_status quantize_with(eml_graph *g, const eml_tensor *calib, eml_diag *diag)
{
    eml_quantize_options o;
    eml_quantize_options_init(&o);
    o.calib = calib;
    eml_diag_init(diag);
    return eml_quantize(g, &o, NULL, diag);
}

/* The quantized Fashion CNN (a dynamic batch dim) runs as it should: its convs, pools and dense
 * layers on the integer ops, and no weight dequantized on every run: every DequantizeLinear left
 * reads an activation. */
EML_TEST(fashion_cnn_int8_runs_on_integer_ops)
{
    eml_env *env = make_env();
    eml_tensor calib = fashion_images(env, FASHION_TRAIN_IMAGES, 0, 50, 3, NULL);
    eml_graph *g = load_fashion_cnn(env);
    eml_diag diag;
    REQUIRE_OK(quantize_with(g, &calib, &diag), &diag);
    eml_optimize_options oo;
    eml_optimize_options_init(&oo);
    REQUIRE_OK(eml_graph_optimize(g, &oo, NULL, &diag), &diag);
    eml_plan *plan = NULL;
    REQUIRE_OK(eml_plan_create(g, &plan, &diag), &diag);
    size_t qconv = 0, qpool = 0, dq = 0, q = 0, gemm = 0;
    for (size_t i = 0; i < eml_plan_node_count(plan); i++) {
        eml_plan_node_info info;
        REQUIRE(eml_plan_node_get(plan, i, &info) == EML_OK);
        qconv += strcmp(info.op_type, "QConv") == 0;
        gemm += strstr(info.op_type, "Gemm") != NULL;
        qpool += strcmp(info.op_type, "QMaxPool") == 0;
        dq += strcmp(info.op_type, "DequantizeLinear") == 0;
        q += strcmp(info.op_type, "QuantizeLinear") == 0;
    }
    printf("plan: %zu QConv, %zu QMaxPool, %zu QuantizeLinear, %zu DequantizeLinear\n", qconv,
           qpool, q, dq);
    CHECK(qconv == 4 && qpool == 2); /* the two convolutions and the two dense layers */
    CHECK(gemm == 0);
    CHECK(dq <= q);
    eml_plan_destroy(plan);
    eml_graph_destroy(g);
    free(calib.data);
    eml_env_destroy(env);
}

EML_TEST(calibration_data_that_does_not_fit_is_refused)
{
    eml_env *env = make_env();
    eml_graph *g = load_fashion_cnn(env);
    eml_diag diag;
    static float data[4 * 30 * 30];
    static int32_t idata[4 * 28 * 28];
    eml_tensor wrong_shape = {EML_DTYPE_F32, 3, {4, 30, 30}, data};
    CHECK_STATUS(quantize_with(g, &wrong_shape, &diag), EML_ESHAPE);
    printf("%s\n", diag.message);
    CHECK(strstr(diag.message, "calibration data") && strstr(diag.message, "input 'input'"));
    eml_tensor wrong_type = {EML_DTYPE_I32, 3, {4, 28, 28}, idata};
    CHECK_STATUS(quantize_with(g, &wrong_type, &diag), EML_ETYPE);
    printf("%s\n", diag.message);
    CHECK(strstr(diag.message, "int32") != NULL);
    eml_tensor empty = {EML_DTYPE_F32, 3, {0, 28, 28}, data};
    CHECK_STATUS(quantize_with(g, &empty, &diag), EML_EINVAL);
    printf("%s\n", diag.message);
    CHECK(strstr(diag.message, "empty") != NULL);
    CHECK_STATUS(quantize_with(g, NULL, &diag), EML_EINVAL);
    CHECK(strstr(diag.message, "calibration") != NULL);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(already_quantized_model_is_refused)
{
    eml_env *env = make_env();
    eml_graph *g = load_fashion_cnn(env);
    static float data[8 * 28 * 28];
    for (size_t i = 0; i < sizeof(data) / sizeof(data[0]); i++)
        data[i] = (float)(i % 255) / 255.0f;
    eml_tensor calib = {EML_DTYPE_F32, 4, {8, 1, 28, 28}, data};
    eml_diag diag;
    REQUIRE_OK(quantize_with(g, &calib, &diag), &diag);
    CHECK_STATUS(quantize_with(g, &calib, &diag), EML_EINVAL);
    printf("%s\n", diag.message);
    CHECK(strstr(diag.message, "already quantized") != NULL);
    eml_graph_destroy(g);
    /* a float16 model too */
    g = load_fashion_cnn(env);
    eml_quantize_options o;
    eml_quantize_options_init(&o);
    o.precision = EML_PRECISION_FP16;
    REQUIRE_OK(eml_quantize(g, &o, NULL, &diag), &diag);
    CHECK_STATUS(quantize_with(g, &calib, &diag), EML_EINVAL);
    printf("%s\n", diag.message);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(bad_options_are_refused)
{
    eml_env *env = make_env();
    eml_graph *g = load_fashion_cnn(env);
    static float data[2 * 28 * 28];
    eml_tensor calib = {EML_DTYPE_F32, 3, {2, 28, 28}, data};
    eml_quantize_options o;
    eml_diag diag;
    eml_diag_init(&diag);
    eml_quantize_options_init(&o);
    o.calib = &calib;
    o.precision = (eml_precision)9;
    CHECK_STATUS(eml_quantize(g, &o, NULL, &diag), EML_EINVAL);
    eml_quantize_options_init(&o);
    o.calib = &calib;
    o.method = EML_CALIB_PERCENTILE;
    o.percentile = 20.0f;
    CHECK_STATUS(eml_quantize(g, &o, NULL, &diag), EML_EINVAL);
    CHECK_STATUS(eml_quantize(NULL, &o, NULL, &diag), EML_EINVAL);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}
