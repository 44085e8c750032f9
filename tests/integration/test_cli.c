/* Runs the built `edgeml` program on the bundled Fashion-MNIST CNN: info (text and JSON), run
 * with .pb, .npy and PNG inputs, written outputs, and the one-line errors of bad invocations. */
#include <png.h>

#include "cli_util.h"

static const int labels[8] = {9, 2, 1, 1, 6, 1, 4, 6};

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

/* A tensor file feeds any 4-D input, whatever its "channels": only images are checked for 1, 3
 * or 4 (LRN's input is [5,5,5,5]). */
EML_TEST(run_pb_into_a_4d_input_that_is_no_image)
{
    const char *dir = "/usr/share/libonnx-testdata/data/node/test_lrn";
    char lrn[512];
    snprintf(lrn, sizeof(lrn), "%s/model.onnx", dir);
    if (access(lrn, R_OK) != 0)
        eml_test_skip("the ONNX backend test data is not installed");
    setup();
    REQUIRE(edgeml("run '%s' '%s/test_data_set_0/input_0.pb'", lrn, dir) == 0);
    CHECK(strstr(out_text, "input 'x': float32[5,5,5,5]") != NULL);
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
