/* Runs `edgeml bench` on the bundled Fashion-MNIST CNN: the JSON report's fields and their sanity
 * (never their speed), --seconds, file and --shape inputs, and the one-line errors of bad
 * invocations. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static char model[1100];
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
    model[0] = 0;
    for (int i = 0; i < 2 && !model[0]; i++) {
        if (!roots[i])
            continue;
        snprintf(model_dir, sizeof(model_dir), "%s/models/fashion_cnn", roots[i]);
        snprintf(model, sizeof(model), "%s/model.onnx", model_dir);
        if (access(model, R_OK) != 0)
            model[0] = 0;
    }
    if (!model[0])
        eml_test_skip("models/fashion_cnn/model.onnx not found in the source or shared folder");
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/eml_bench_XXXXXX", tmp && *tmp ? tmp : "/tmp");
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
    printf("$ edgeml %s\n-> %d\n%s%s", args, status, out_text, err_text);
    return status;
}

/* Failure contract: the status and exactly one line on stderr, starting "error: "; no stdout. */
static void check_one_error_line(int status, int want_status)
{
    CHECK(status == want_status);
    CHECK(strncmp(err_text, "error: ", 7) == 0);
    size_t n = strlen(err_text);
    CHECK(n > 7 && err_text[n - 1] == '\n' && strchr(err_text, '\n') == err_text + n - 1);
    CHECK(out_text[0] == 0);
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

/* One JSON object and nothing else but a final newline. */
static int json_valid_object(const char *text)
{
    const char *p = json_space(text);
    if (*p != '{')
        return 0;
    p = json_value(p);
    return p && *json_space(p) == 0;
}

/* The number after `"key": ` (searched from `from`, or the whole output), or -1 when absent. */
static double json_number(const char *from, const char *key)
{
    char pattern[96];
    snprintf(pattern, sizeof(pattern), "\"%s\": ", key);
    const char *p = strstr(from ? from : out_text, pattern);
    if (!p)
        return -1;
    char *end;
    double v = strtod(p + strlen(pattern), &end);
    return end == p + strlen(pattern) ? -1 : v;
}

/* The report's fields, with values that make sense for `runs` measured runs. */
static void check_report(long runs)
{
    CHECK(json_valid_object(out_text));
    const char *lat = strstr(out_text, "\"latency_ms\": {");
    REQUIRE(lat != NULL);
    double p50 = json_number(lat, "p50"), p90 = json_number(lat, "p90");
    double p99 = json_number(lat, "p99"), min = json_number(lat, "min");
    double mean = json_number(lat, "mean");
    CHECK(min > 0);
    CHECK(p50 >= min && p90 >= p50 && p99 >= p90);
    CHECK(mean >= min);
    if (runs > 0)
        CHECK(json_number(NULL, "runs") == (double)runs);
    else
        CHECK(json_number(NULL, "runs") >= 1);
    CHECK(json_number(NULL, "throughput_ips") > 0);
    CHECK(json_number(NULL, "arena_bytes") > 0);
    CHECK(json_number(NULL, "peak_rss_bytes") > 0);
    CHECK(json_number(NULL, "threads") >= 1);
    CHECK(json_number(NULL, "total_s") > 0);
    CHECK(strstr(out_text, "\"model\": \"") != NULL);
    CHECK(strstr(out_text, "\"cpu\": \"") != NULL);
    CHECK(strstr(out_text, "\"percentiles\": \"nearest-rank\"") != NULL);
}

EML_TEST(bench_json_fields)
{
    setup();
    REQUIRE(edgeml("bench '%s' --runs 5 --json", model) == 0);
    check_report(5);
    CHECK(err_text[0] == 0);
    /* generated input: the declared shape with the dynamic batch dim = 1 */
    CHECK(strstr(out_text, "\"shape\": [1, 1, 28, 28], \"source\": \"generated\"") != NULL);
    CHECK(json_number(NULL, "batch") == 1);
    CHECK(json_number(NULL, "seed") >= 0);
    CHECK(json_number(NULL, "optimize_level") == 2);
    /* the graph as loaded */
    REQUIRE(edgeml("bench '%s' --runs 3 --json --no-optimize", model) == 0);
    check_report(3);
    CHECK(json_number(NULL, "optimize_level") == 0);
    teardown();
}

EML_TEST(bench_seconds_and_threads)
{
    setup();
    REQUIRE(edgeml("bench '%s' --seconds 0.2 --threads 1 --warmup 2 --json", model) == 0);
    check_report(-1);
    CHECK(json_number(NULL, "threads") == 1);
    CHECK(json_number(NULL, "warmup") == 2);
    REQUIRE(edgeml("bench '%s' --seconds=0.05 --warmup=0 --threads=2 --json", model) == 0);
    check_report(-1);
    CHECK(json_number(NULL, "threads") == 2);
    teardown();
}

EML_TEST(bench_text)
{
    setup();
    REQUIRE(edgeml("bench '%s' --runs 3 --warmup 1 --threads 1", model) == 0);
    CHECK(strstr(out_text, "generated: standard normal, seed ") != NULL);
    CHECK(strstr(out_text, "nearest-rank") != NULL);
    CHECK(strstr(out_text, "  p50 ") != NULL && strstr(out_text, " p99 ") != NULL);
    CHECK(strstr(out_text, "throughput: ") != NULL && strstr(out_text, "inferences/s") != NULL);
    CHECK(strstr(out_text, "arena ") != NULL && strstr(out_text, "peak RSS ") != NULL);
    CHECK(strstr(out_text, "measured: 3 runs") != NULL);
    CHECK(err_text[0] == 0);
    REQUIRE(edgeml("help bench") == 0);
    CHECK(strstr(out_text, "--seconds") != NULL && strstr(out_text, "--shape") != NULL);
    teardown();
}

/* A file feeds 8 images: the batch is 8; --shape sets the generated batch the same way. */
EML_TEST(bench_file_and_shape_inputs)
{
    setup();
    REQUIRE(edgeml("bench '%s' --runs 2 --json --input 'input=%s/test_data_set_0/input_0.pb'",
                   model, model_dir) == 0);
    check_report(2);
    CHECK(strstr(out_text, "\"shape\": [8, 1, 28, 28], \"source\": \"file\"") != NULL);
    CHECK(json_number(NULL, "batch") == 8);
    REQUIRE(edgeml("bench '%s' --runs 2 --json --input '%s/test_data_set_0/input_0.npy'", model,
                   model_dir) == 0);
    CHECK(json_number(NULL, "batch") == 8);
    REQUIRE(edgeml("bench '%s' --runs 2 --json --shape input=4x1x28x28", model) == 0);
    check_report(2);
    CHECK(strstr(out_text, "\"shape\": [4, 1, 28, 28], \"source\": \"generated\"") != NULL);
    CHECK(json_number(NULL, "batch") == 4);
    teardown();
}

EML_TEST(bench_usage_errors)
{
    setup();
    check_one_error_line(edgeml("bench"), 2);
    check_one_error_line(edgeml("bench '%s' --bogus", model), 2);
    check_one_error_line(edgeml("bench '%s' --runs 0", model), 2);
    check_one_error_line(edgeml("bench '%s' --runs many", model), 2);
    check_one_error_line(edgeml("bench '%s' --runs", model), 2);
    check_one_error_line(edgeml("bench '%s' --seconds 0", model), 2);
    check_one_error_line(edgeml("bench '%s' --seconds soon", model), 2);
    check_one_error_line(edgeml("bench '%s' --runs 5 --seconds 1", model), 2);
    check_one_error_line(edgeml("bench '%s' --warmup -1", model), 2);
    check_one_error_line(edgeml("bench '%s' --threads 0", model), 2);
    check_one_error_line(edgeml("bench '%s' --shape input", model), 2);
    check_one_error_line(edgeml("bench '%s' --shape input=1x-1x28x28", model), 2);
    check_one_error_line(edgeml("bench '%s' '%s'", model, model), 2);
    check_one_error_line(edgeml("bench '%s' --level 3", model), 2);
    teardown();
}

EML_TEST(bench_failures_are_one_line)
{
    setup();
    /* missing model */
    check_one_error_line(edgeml("bench '%s/none.onnx' --runs 1", work), 1);
    CHECK(strstr(err_text, "none.onnx") != NULL);
    /* an input the model does not have, a shape that does not fit, a file of the wrong shape */
    check_one_error_line(edgeml("bench '%s' --shape pixels=1x1x28x28", model), 1);
    CHECK(strstr(err_text, "pixels") != NULL);
    check_one_error_line(edgeml("bench '%s' --shape input=1x3x28x28", model), 1);
    check_one_error_line(
        edgeml("bench '%s' --input '%s/test_data_set_0/output_0.pb'", model, model_dir), 1);
    check_one_error_line(edgeml("bench '%s' --input '%s/nothing.npy'", model, work), 1);
    teardown();
}
