/* Runs the built `edgeml` program on the bundled Fashion-MNIST CNN: info (text and JSON), run
 * with .pb, .npy and PNG inputs, written outputs, and the one-line errors of bad invocations. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <png.h>

#include "harness.h"

static const int labels[8] = {9, 2, 1, 1, 6, 1, 4, 6};

static char model_dir[1024];
static char binary[1024];
static char work[512];
static char out_text[1 << 16];
static char err_text[1 << 14];

/* Finds the program and the model (repository copy first, then ../shared); skips without them. */
static void setup(void)
{
    const char *bin = getenv("EML_BINARY_DIR");
    if (!bin)
        eml_test_skip("EML_BINARY_DIR not set");
    snprintf(binary, sizeof(binary), "%s/edgeml", bin);
    if (access(binary, X_OK) != 0)
        eml_test_skip("the edgeml program is not built");
    const char *roots[2] = {eml_test_source_dir(), eml_test_shared_dir()};
    model_dir[0] = 0;
    for (int i = 0; i < 2 && !model_dir[0]; i++) {
        char path[1100];
        if (!roots[i])
            continue;
        snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", roots[i]);
        if (access(path, R_OK) == 0)
            snprintf(model_dir, sizeof(model_dir), "%s/models/fashion_cnn", roots[i]);
    }
    if (!model_dir[0])
        eml_test_skip("models/fashion_cnn/model.onnx not found in the source or shared folder");
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/eml_cli_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(work) != NULL);
}

static void teardown(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

static void read_text(const char *path, char *buf, size_t cap)
{
    size_t n = 0;
    char *b = eml_test_read_file(path, &n);
    if (n >= cap)
        n = cap - 1;
    if (b)
        memcpy(buf, b, n);
    buf[b ? n : 0] = 0;
    free(b);
}

/* Runs `edgeml ARGS` (ARGS already shell-quoted); returns the exit status, with stdout and stderr
 * in out_text and err_text. */
static int edgeml(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int edgeml(const char *fmt, ...)
{
    char args[4096], cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(args, sizeof(args), fmt, ap);
    va_end(ap);
    snprintf(cmd, sizeof(cmd), "'%s' %s >'%s/stdout' 2>'%s/stderr'", binary, args, work, work);
    int rc = system(cmd);
    char path[700];
    snprintf(path, sizeof(path), "%s/stdout", work);
    read_text(path, out_text, sizeof(out_text));
    snprintf(path, sizeof(path), "%s/stderr", work);
    read_text(path, err_text, sizeof(err_text));
    int status = rc == -1 || !WIFEXITED(rc) ? -1 : WEXITSTATUS(rc);
    if (status != 0)
        printf("$ edgeml %s\n-> %d\n%s%s", args, status, out_text, err_text);
    return status;
}

/* Failure contract: a non-zero status and exactly one line on stderr, starting "error: ". */
static void check_one_error_line(int status, int want_status)
{
    CHECK(status == want_status);
    CHECK(strncmp(err_text, "error: ", 7) == 0);
    size_t n = strlen(err_text);
    CHECK(n > 7 && err_text[n - 1] == '\n' && strchr(err_text, '\n') == err_text + n - 1);
}

/* ---- a small JSON syntax check ---- */

static const char *json_value(const char *p);

static const char *json_space(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

static const char *json_string(const char *p)
{
    if (*p != '"')
        return NULL;
    for (p++; *p && *p != '"'; p++) {
        if ((unsigned char)*p < 0x20)
            return NULL;
        if (*p == '\\' && !*++p)
            return NULL;
    }
    return *p == '"' ? p + 1 : NULL;
}

static const char *json_list(const char *p, char close, int is_object)
{
    p = json_space(p + 1);
    if (*p == close)
        return p + 1;
    for (;;) {
        if (is_object) {
            if (!(p = json_string(p)))
                return NULL;
            p = json_space(p);
            if (*p != ':')
                return NULL;
            p = json_space(p + 1);
        }
        if (!(p = json_value(p)))
            return NULL;
        p = json_space(p);
        if (*p == close)
            return p + 1;
        if (*p != ',')
            return NULL;
        p = json_space(p + 1);
    }
}

static const char *json_value(const char *p)
{
    p = json_space(p);
    if (*p == '{')
        return json_list(p, '}', 1);
    if (*p == '[')
        return json_list(p, ']', 0);
    if (*p == '"')
        return json_string(p);
    if (strncmp(p, "true", 4) == 0 || strncmp(p, "null", 4) == 0)
        return p + 4;
    if (strncmp(p, "false", 5) == 0)
        return p + 5;
    char *end;
    strtod(p, &end);
    return end == p ? NULL : end;
}

static int json_valid_object(const char *text)
{
    const char *p = json_space(text);
    if (*p != '{')
        return 0;
    p = json_value(p);
    return p && *json_space(p) == 0;
}

/* ---- reading `run` output ---- */

/* The top-1 index of `row` of output 'output', or -1. */
static int top1(const char *text, int row)
{
    char key[64];
    snprintf(key, sizeof(key), "  row %d top ", row);
    const char *p = strstr(text, key);
    if (!p || !(p = strchr(p, '\n')))
        return -1;
    int rank, index;
    float value;
    if (sscanf(p + 1, " %d %d %f", &rank, &index, &value) != 3 || rank != 1)
        return -1;
    return index;
}

static int count_lines_between(const char *text, const char *from, const char *to)
{
    const char *p = strstr(text, from), *end = to ? strstr(text, to) : NULL;
    if (!p)
        return -1;
    if (!end)
        end = text + strlen(text);
    int n = 0;
    for (p = strchr(p, '\n'); p && p + 1 < end; p = strchr(p + 1, '\n'))
        n++;
    return n;
}

EML_TEST(version_and_usage)
{
    setup();
    CHECK(edgeml("--version") == 0);
    CHECK(strncmp(out_text, "edgeml ", 7) == 0);
    CHECK(edgeml("help") == 0);
    CHECK(strstr(out_text, "info") && strstr(out_text, "run"));
    CHECK(edgeml("help run") == 0 && strstr(out_text, "--output-dir"));
    check_one_error_line(edgeml("frobnicate"), 2);
    check_one_error_line(edgeml("--frobnicate"), 2);
    CHECK(edgeml("%s", "") == 2);
    check_one_error_line(edgeml("info"), 2);
    check_one_error_line(edgeml("run '%s/model.onnx' --threads zero", model_dir), 2);
    check_one_error_line(edgeml("run '%s/model.onnx' --layout chwn", model_dir), 2);
    check_one_error_line(edgeml("run '%s/model.onnx' --bogus", model_dir), 2);
    teardown();
}

EML_TEST(info_text)
{
    setup();
    REQUIRE(edgeml("info '%s/model.onnx'", model_dir) == 0);
    CHECK(strstr(out_text, "input  float32 [batch,1,28,28]") != NULL);
    CHECK(strstr(out_text, "output  float32 [batch,10]") != NULL);
    CHECK(strstr(out_text, "Conv 2") != NULL && strstr(out_text, "Gemm 2") != NULL);
    CHECK(strstr(out_text, "parameters: ") != NULL && strstr(out_text, "MACs: ") != NULL);
    CHECK(strstr(out_text, "arena ") != NULL && strstr(out_text, "dynamic dims = 1") != NULL);
    CHECK(strstr(out_text, "opset 13") != NULL);
    CHECK(err_text[0] == 0);
    teardown();
}

EML_TEST(info_json)
{
    setup();
    REQUIRE(edgeml("info --json '%s/model.onnx'", model_dir) == 0);
    CHECK(json_valid_object(out_text));
    static const char *keys[] = {"inputs",     "outputs",         "ops",           "parameters",
                                 "parameter_bytes", "macs",       "file_bytes",    "arena_bytes",
                                 "activations_bytes", "opset",   "ir_version",    "producer"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        char key[64];
        snprintf(key, sizeof(key), "\"%s\":", keys[i]);
        if (!strstr(out_text, key))
            fprintf(stderr, "missing key %s\n", key);
        CHECK(strstr(out_text, key) != NULL);
    }
    CHECK(strstr(out_text, "{\"name\": \"input\", \"dtype\": \"float32\", "
                           "\"shape\": [\"batch\", 1, 28, 28]") != NULL);
    CHECK(strstr(out_text, "{\"name\": \"output\", \"dtype\": \"float32\", "
                           "\"shape\": [\"batch\", 10]") != NULL);
    CHECK(strstr(out_text, "\"Conv\": 2") != NULL);
    CHECK(strstr(out_text, "\"opset\": 13") != NULL);
    /* the parameter count of the README: 207k */
    const char *p = strstr(out_text, "\"parameters\": ");
    CHECK(p && strtoll(p + 14, NULL, 10) > 200000 && strtoll(p + 14, NULL, 10) < 210000);
    teardown();
}

/* --nodes lists the plan: every node once, in order, with its kernel; the fashion CNN's convs run
 * channels-last on the NHWC conv kernels (portable ones under EML_ISA=ref). */
EML_TEST(info_nodes)
{
    setup();
    REQUIRE(edgeml("info --nodes '%s/model.onnx'", model_dir) == 0);
    const char *list = strstr(out_text, "nodes in execution order (");
    REQUIRE(list != NULL);
    int listed = atoi(list + strlen("nodes in execution order ("));
    CHECK(listed > 0 && count_lines_between(out_text, "nodes in execution order", NULL) == listed);
    CHECK(strstr(list, "NhwcConv") != NULL && strstr(list, "Gemm") != NULL);
    CHECK(strstr(list, " view ") != NULL); /* the Flatten before the classifier */
    REQUIRE(edgeml("info --nodes --json '%s/model.onnx'", model_dir) == 0);
    CHECK(json_valid_object(out_text));
    CHECK(strstr(out_text, "\"nodes\": [{\"op\": ") != NULL);
    CHECK(strstr(out_text, "\"op\": \"NhwcConv\", \"domain\": \"ai.edgeml\", "
                           "\"kernel\": \"f32_nhwc_conv") != NULL);
    teardown();
}

/* The written output equals ONNX Runtime's within the backend-test tolerance. */
static void check_written_output(const char *path)
{
    char ref_path[1200];
    snprintf(ref_path, sizeof(ref_path), "%s/test_data_set_0/output_0.pb", model_dir);
    size_t n_got, n_ref;
    void *got_bytes = eml_test_read_file(path, &n_got);
    void *ref_bytes = eml_test_read_file(ref_path, &n_ref);
    REQUIRE(got_bytes && ref_bytes);
    eml_env *env = NULL;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_tensor got, ref;
    char name[64];
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE(eml_tensor_read_pb(env, got_bytes, n_got, &got, name, sizeof(name), &diag) == EML_OK);
    CHECK(strcmp(name, "output") == 0);
    REQUIRE(eml_tensor_read_pb(env, ref_bytes, n_ref, &ref, NULL, 0, &diag) == EML_OK);
    CHECK(got.dtype == EML_DTYPE_F32 && got.rank == 2 && got.dims[0] == 8 && got.dims[1] == 10);
    for (int64_t i = 0; i < 80 && got.rank == 2; i++) {
        float g = ((float *)got.data)[i], r = ((float *)ref.data)[i];
        float tol = 1e-3f * (r < 0 ? -r : r) + 1e-4f;
        CHECK(g - r <= tol && r - g <= tol);
    }
    eml_tensor_free(env, &got);
    eml_tensor_free(env, &ref);
    eml_env_destroy(env);
    free(got_bytes);
    free(ref_bytes);
}

EML_TEST(run_pb_top5_and_output_file)
{
    setup();
    REQUIRE(edgeml("run '%s/model.onnx' --input 'input=%s/test_data_set_0/input_0.pb' "
                   "--output-dir '%s/out' --threads 2",
                   model_dir, model_dir, work) == 0);
    CHECK(strstr(out_text, "output 'output': float32[8,10]") != NULL);
    for (int r = 0; r < 8; r++) {
        if (top1(out_text, r) != labels[r])
            fprintf(stderr, "row %d: top-1 %d, label %d\n", r, top1(out_text, r), labels[r]);
        CHECK(top1(out_text, r) == labels[r]);
    }
    CHECK(count_lines_between(out_text, "  row 0 top 5:", "  row 1 top") == 5);
    CHECK(strstr(out_text, "inference: ") != NULL && strstr(out_text, " ms") != NULL);
    char path[700];
    snprintf(path, sizeof(path), "%s/out/output.pb", work);
    CHECK(access(path, R_OK) == 0);
    check_written_output(path);
    teardown();
}

EML_TEST(run_npy_positional)
{
    setup();
    REQUIRE(edgeml("run '%s/model.onnx' '%s/test_data_set_0/input_0.npy' --top 3", model_dir,
                   model_dir) == 0);
    CHECK(top1(out_text, 0) == 9);
    CHECK(top1(out_text, 4) == 6);
    CHECK(count_lines_between(out_text, "  row 0 top 3:", "  row 1 top") == 3);
    teardown();
}

/* Image 0 of the test set as a PNG: the pixels are the .npy input × 255, exactly. */
EML_TEST(run_png_image)
{
    setup();
    char npy[1200];
    snprintf(npy, sizeof(npy), "%s/test_data_set_0/input_0.npy", model_dir);
    eml_env *env = NULL;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_tensor x;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE(eml_tensor_read_file(env, npy, NULL, &x, &diag) == EML_OK);
    unsigned char px[28 * 28];
    for (int i = 0; i < 28 * 28; i++)
        px[i] = (unsigned char)(((float *)x.data)[i] * 255.0f + 0.5f);
    eml_tensor_free(env, &x);
    eml_env_destroy(env);

    char png_path[700];
    snprintf(png_path, sizeof(png_path), "%s/boot.png", work);
    FILE *f = fopen(png_path, "wb");
    REQUIRE(f != NULL);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    REQUIRE(png && info);
    if (setjmp(png_jmpbuf(png)))
        REQUIRE(!"libpng failed");
    png_init_io(png, f);
    png_set_IHDR(png, info, 28, 28, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < 28; y++)
        png_write_row(png, px + y * 28);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);

    REQUIRE(edgeml("run '%s/model.onnx' '%s'", model_dir, png_path) == 0);
    CHECK(strstr(out_text, "float32[1,1,28,28]") != NULL);
    CHECK(top1(out_text, 0) == 9);
    teardown();
}

EML_TEST(run_errors_are_one_line)
{
    setup();
    /* missing input file */
    check_one_error_line(edgeml("run '%s/model.onnx' '%s/nothing.npy'", model_dir, work), 1);
    CHECK(strstr(err_text, "nothing.npy") != NULL);
    /* missing model */
    check_one_error_line(edgeml("run '%s/none.onnx' x.npy", work), 1);
    /* a tensor of the wrong shape (the expected output as input) */
    check_one_error_line(edgeml("run '%s/model.onnx' '%s/test_data_set_0/output_0.npy'",
                                model_dir, model_dir),
                         1);
    CHECK(strstr(err_text, "input") != NULL);
    /* an input name the model does not have */
    check_one_error_line(
        edgeml("run '%s/model.onnx' --input 'pixels=%s/test_data_set_0/input_0.pb'", model_dir,
               model_dir),
        1);
    CHECK(strstr(err_text, "pixels") != NULL);
    /* no input at all */
    check_one_error_line(edgeml("run '%s/model.onnx'", model_dir), 1);
    /* a corrupt model: the real one cut short, and text */
    char cmd[2600];
    snprintf(cmd, sizeof(cmd), "head -c 5000 '%s/model.onnx' > '%s/cut.onnx'", model_dir, work);
    REQUIRE(system(cmd) == 0);
    check_one_error_line(edgeml("info '%s/cut.onnx'", work), 1);
    check_one_error_line(edgeml("run '%s/cut.onnx' '%s/test_data_set_0/input_0.pb'", work,
                                model_dir),
                         1);
    snprintf(cmd, sizeof(cmd), "echo 'not a model' > '%s/text.onnx'", work);
    REQUIRE(system(cmd) == 0);
    check_one_error_line(edgeml("info '%s/text.onnx'", work), 1);
    teardown();
}
