/* Helpers of the `edgeml` command line: error lines, option values, shapes, JSON strings. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void print_error_line(const char *text)
{
    fputs("error: ", stderr);
    for (const char *p = text; *p; p++)
        fputc(*p == '\n' || *p == '\r' ? ' ' : *p, stderr);
    fputc('\n', stderr);
}

int cli_error(int code, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    print_error_line(text);
    return code;
}

int cli_error_diag(const eml_diag *diag, eml_status st, const char *file)
{
    const char *msg = diag->message[0] ? diag->message : eml_status_str(st);
    if (file && *file && !strstr(msg, file))
        return cli_error(CLI_FAIL, "%s: %s", file, msg);
    return cli_error(CLI_FAIL, "%s", msg);
}

int cli_option_value(int argc, char **argv, int *i, const char *name, const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
        *i += 1;
        return 1;
    }
    if (arg[n] != '\0')
        return 0;
    if (*i + 1 >= argc) {
        cli_error(CLI_USAGE, "option %s needs a value", name);
        return -1;
    }
    *value = argv[*i + 1];
    *i += 2;
    return 1;
}

int cli_parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int cli_parse_floats(const char *s, float *out, int max)
{
    int n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        float v = strtof(p, &end);
        if (errno || end == p || n == max)
            return -1;
        out[n++] = v;
        if (*end == '\0')
            return n;
        if (*end != ',')
            return -1;
        p = end + 1;
    }
}

const char *cli_dims_str(char *buf, size_t cap, const int64_t *dims, int rank)
{
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < rank && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, d ? ",%lld" : "%lld", (long long)dims[d]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    return buf;
}

const char *cli_shape_str(char *buf, size_t cap, const eml_value_info *v)
{
    if (v->rank < 0) {
        snprintf(buf, cap, "[?]");
        return buf;
    }
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < v->rank && n < cap; d++) {
        const char *sep = d ? "," : "";
        if (v->dims[d] >= 0)
            n += (size_t)snprintf(buf + n, cap - n, "%s%lld", sep, (long long)v->dims[d]);
        else
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", sep,
                                  v->dim_names[d] && v->dim_names[d][0] ? v->dim_names[d] : "?");
    }
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    return buf;
}

void cli_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

int cli_load_model(const char *path, uint32_t n_threads, eml_env **env, eml_graph **graph)
{
    *env = NULL;
    *graph = NULL;
    eml_env_options o;
    eml_env_options_init(&o);
    o.n_threads = n_threads;
    eml_status st = eml_env_create(&o, env);
    if (st != EML_OK)
        return cli_error(CLI_FAIL, "cannot create the environment: %s", eml_status_str(st));
    eml_diag diag;
    eml_diag_init(&diag);
    st = eml_graph_load_onnx(*env, path, graph, &diag);
    if (st != EML_OK) {
        eml_env_destroy(*env);
        *env = NULL;
        return cli_error_diag(&diag, st, path);
    }
    return CLI_OK;
}
