/* What the CLI tests (tests/integration/test_cli*.c) share: finding the built `edgeml` program and
 * the bundled Fashion-MNIST model, running the program with its output captured, and checks of
 * its error line and its JSON. */
#ifndef EML_TESTS_INTEGRATION_CLI_UTIL_H
#define EML_TESTS_INTEGRATION_CLI_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* Set by setup(): the program, the model's folder and file, and a fresh work folder. */
__attribute__((unused)) static char binary[1024];
__attribute__((unused)) static char model_dir[1024];
__attribute__((unused)) static char model[1100];
__attribute__((unused)) static char work[512];
/* The stdout and stderr of the last edgeml() run. */
__attribute__((unused)) static char out_text[1 << 16];
__attribute__((unused)) static char err_text[1 << 14];
/* edgeml() prints every run's command and output when set, else only those of failed runs. */
__attribute__((unused)) static bool echo_every_run;

/* Finds the program and the model (repository copy first, then ../shared); skips without them. */
static inline void setup(void)
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
    snprintf(work, sizeof(work), "%s/eml_cli_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(work) != NULL);
}

/* Removes the work folder. */
static inline void teardown(void)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

/* Reads the file at path into buf as a string, cut to cap - 1 bytes ("" when missing). */
static inline void read_text(const char *path, char *buf, size_t cap)
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
static inline int edgeml(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int edgeml(const char *fmt, ...)
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
    if (status != 0 || echo_every_run)
        printf("$ edgeml %s\n-> %d\n%s%s", args, status, out_text, err_text);
    return status;
}

/* Failure contract: the status and exactly one line on stderr, starting "error: ". */
static inline void check_one_error_line(int status, int want_status)
{
    CHECK(status == want_status);
    CHECK(strncmp(err_text, "error: ", 7) == 0);
    size_t n = strlen(err_text);
    CHECK(n > 7 && err_text[n - 1] == '\n' && strchr(err_text, '\n') == err_text + n - 1);
}

/* ---- a small JSON syntax check ---- */

/* Parses one JSON value at p; returns the end of it, or NULL when it is not valid JSON. */
static inline const char *json_value(const char *p);

/* Skips JSON white space. */
static inline const char *json_space(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')
        p++;
    return p;
}

/* Parses a JSON string; returns the end of it or NULL. */
static inline const char *json_string(const char *p)
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

/* Parses an object (is_object) or array ending with `close`; returns the end of it or NULL. */
static inline const char *json_list(const char *p, char close, int is_object)
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

static inline const char *json_value(const char *p)
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

/* One JSON object and nothing else but white space. */
static inline int json_valid_object(const char *text)
{
    const char *p = json_space(text);
    if (*p != '{')
        return 0;
    p = json_value(p);
    return p && *json_space(p) == 0;
}

/* The number after `"key": ` (searched from `from`, or the whole output), or -1 when absent. */
static inline double json_number(const char *from, const char *key)
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

#endif
