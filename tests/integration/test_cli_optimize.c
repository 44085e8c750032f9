/* Runs the built `edgeml` program's optimization options on the bundled Fashion-MNIST CNN: info
 * before -> after, --no-optimize, --disable-pass, `edgeml optimize` writing a model that loads
 * and runs to the same outputs, and the one-line errors of bad invocations. */
#include <math.h>

#include "cli_util.h"

/* "--disable-pass a,b" for the passes `edgeml info --json` lists that these tests do not check
 * (other passes, e.g. a layout pass for fast kernels, may join the list), or "". */
static const char *others_off(char *buf, size_t cap)
{
    static const char *const own[] = {
        "constant-folding", "shape-folding",     "identity-elimination", "batchnorm-folding",
        "residual-fusion",  "activation-fusion", "dead-node-elimination"};
    REQUIRE(edgeml("info --json '%s'", model) == 0);
    const char *p = strstr(out_text, "\"passes\": {");
    REQUIRE(p);
    p += strlen("\"passes\": {");
    const char *close = strchr(p, '}');
    REQUIRE(close);
    size_t n = (size_t)snprintf(buf, cap, "--disable-pass ");
    bool any = false;
    /* keys of {"name": count, ...}: each name is the string after '{' or ',' */
    for (const char *q = strchr(p, '"'); q && q < close; q = strchr(q, '"')) {
        const char *end = strchr(q + 1, '"');
        REQUIRE(end && end < close);
        size_t len = (size_t)(end - q - 1);
        bool mine = false;
        for (size_t i = 0; i < sizeof(own) / sizeof(own[0]); i++)
            mine = mine || (strlen(own[i]) == len && memcmp(own[i], q + 1, len) == 0);
        if (!mine) {
            n += (size_t)snprintf(buf + n, cap - n, "%s%.*s", any ? "," : "", (int)len, q + 1);
            any = true;
        }
        q = strchr(end, ',');
        if (!q || q > close)
            break;
    }
    if (!any)
        buf[0] = 0;
    return buf;
}

EML_TEST(info_before_and_after)
{
    setup();
    char off[512];
    others_off(off, sizeof(off));
    REQUIRE(edgeml("info '%s' %s", model, off) == 0);
    CHECK(strstr(out_text, "ops (10 nodes; ") != NULL);
    CHECK(strstr(out_text, "Conv 2 -> 0") != NULL && strstr(out_text, "Relu 3 -> 0") != NULL);
    CHECK(strstr(out_text, "FusedConv 0 -> 2") != NULL);
    CHECK(strstr(out_text, "activation-fusion 3") != NULL);
    CHECK(strstr(out_text, "rewrites per pass") != NULL);

    REQUIRE(edgeml("info --no-optimize '%s'", model) == 0);
    CHECK(strstr(out_text, "ops (10 nodes):") != NULL && strstr(out_text, " -> ") == NULL);
    CHECK(strstr(out_text, "FusedConv") == NULL);

    REQUIRE(edgeml("info '%s' --disable-pass activation-fusion", model) == 0);
    CHECK(strstr(out_text, "FusedConv") == NULL && strstr(out_text, "Relu 3") != NULL);
    CHECK(strstr(out_text, "activation-fusion") == NULL);

    REQUIRE(edgeml("info --json '%s' %s", model, off) == 0);
    CHECK(strstr(out_text, "\"ops\": {\"Conv\": 2") != NULL);
    CHECK(strstr(out_text, "\"optimized\": {\"level\": 2") != NULL);
    CHECK(strstr(out_text, "\"FusedConv\": 2") != NULL);
    CHECK(strstr(out_text, "\"activation-fusion\": 3") != NULL);
    REQUIRE(edgeml("info --json --no-optimize '%s'", model) == 0);
    CHECK(strstr(out_text, "\"optimized\": null") != NULL);
    teardown();
}

EML_TEST(bad_options)
{
    setup();
    check_one_error_line(edgeml("info '%s' --disable-pass no-such-pass", model), 2);
    CHECK(strstr(err_text, "'no-such-pass'") != NULL);
    check_one_error_line(edgeml("run '%s' x.pb --disable-pass bogus", model), 2);
    check_one_error_line(edgeml("info '%s' --disable-pass", model), 2);
    check_one_error_line(edgeml("info '%s' --level 3", model), 2);
    check_one_error_line(edgeml("optimize '%s'", model), 2);
    check_one_error_line(edgeml("optimize -o '%s/x.onnx'", work), 2);
    check_one_error_line(edgeml("optimize '%s' -o '%s/x.onnx' --frob", model, work), 2);
    check_one_error_line(edgeml("optimize '%s/none.onnx' -o '%s/x.onnx'", work, work), 1);
    CHECK(edgeml("help optimize") == 0 && strstr(out_text, "--disable-pass") != NULL);
    teardown();
}

/* Reads a float32 .pb output written by `run --output-dir`. */
static eml_tensor read_output(eml_env *env, const char *dir)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/output.pb", dir);
    size_t n = 0;
    void *bytes = eml_test_read_file(path, &n);
    REQUIRE(bytes);
    eml_tensor t;
    char name[64];
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_tensor_read_pb(env, bytes, n, &t, name, sizeof(name), &diag), &diag);
    free(bytes);
    REQUIRE(t.dtype == EML_DTYPE_F32);
    return t;
}

EML_TEST(optimize_writes_a_model_that_runs)
{
    setup();
    char input[1200];
    snprintf(input, sizeof(input), "%s/models/fashion_cnn/test_data_set_0/input_0.pb",
             eml_test_source_dir());
    char off[512];
    others_off(off, sizeof(off));
    REQUIRE(edgeml("optimize '%s' -o '%s/opt.onnx' %s", model, work, off) == 0);
    CHECK(strstr(out_text, "10 nodes -> 7") != NULL && strstr(out_text, "written to") != NULL);
    REQUIRE(edgeml("info --no-optimize '%s/opt.onnx'", work) == 0);
    CHECK(strstr(out_text, "ops (7 nodes):") != NULL && strstr(out_text, "FusedConv 2") != NULL);
    REQUIRE(edgeml("optimize '%s' --level 1 --output '%s/onnx_only.onnx'", model, work) == 0);
    REQUIRE(edgeml("info --no-optimize '%s/onnx_only.onnx'", work) == 0);
    CHECK(strstr(out_text, "FusedConv") == NULL && strstr(out_text, "Relu 3") != NULL);

    /* the written model, the original optimized and the original as loaded agree */
    REQUIRE(edgeml("run '%s/opt.onnx' '%s' --output-dir '%s/a'", work, input, work) == 0);
    REQUIRE(edgeml("run '%s' '%s' --output-dir '%s/b'", model, input, work) == 0);
    REQUIRE(edgeml("run '%s' '%s' --no-optimize --output-dir '%s/c'", model, input, work) == 0);
    eml_env *env = NULL;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    char dir[600];
    snprintf(dir, sizeof(dir), "%s/a", work);
    eml_tensor a = read_output(env, dir);
    snprintf(dir, sizeof(dir), "%s/b", work);
    eml_tensor b = read_output(env, dir);
    snprintf(dir, sizeof(dir), "%s/c", work);
    eml_tensor c = read_output(env, dir);
    REQUIRE(eml_tensor_count(&a) == 80 && eml_tensor_count(&b) == 80 && eml_tensor_count(&c) == 80);
    CHECK(memcmp(a.data, b.data, eml_tensor_bytes(&a)) == 0);
    double diff = 0, scale = 0;
    for (int i = 0; i < 80; i++) {
        diff = fmax(diff, fabs((double)((float *)a.data)[i] - ((float *)c.data)[i]));
        scale = fmax(scale, fabs((double)((float *)c.data)[i]));
    }
    CHECK(diff <= 1e-5 * scale);
    eml_tensor_free(env, &a);
    eml_tensor_free(env, &b);
    eml_tensor_free(env, &c);
    eml_env_destroy(env);
    teardown();
}
