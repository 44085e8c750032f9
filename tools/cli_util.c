/* Helpers of the `edgeml` command line: error lines, option values, shapes, JSON strings, and
 * feeding graph inputs from files. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

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

/* ---- graph optimization (info, run, optimize) ---- */

void cli_optimize_args_init(cli_optimize_args *o)
{
    memset(o, 0, sizeof(*o));
    o->level = 2;
}

int cli_optimize_option(int argc, char **argv, int *i, cli_optimize_args *o)
{
    const char *v = NULL;
    int r;
    if (strcmp(argv[*i], "--no-optimize") == 0) {
        o->level = 0;
        *i += 1;
        return 1;
    }
    if ((r = cli_option_value(argc, argv, i, "--level", &v)) != 0) {
        long level;
        if (r < 0)
            return -1;
        if (cli_parse_int(v, 0, 2, &level) != 0) {
            cli_error(CLI_USAGE, "--level is 0 (none), 1 (ONNX ops only) or 2 (all), not '%s'",
                      v);
            return -1;
        }
        o->level = (int)level;
        return 1;
    }
    if ((r = cli_option_value(argc, argv, i, "--disable-pass", &v)) != 0) {
        if (r < 0)
            return -1;
        size_t used = strlen(o->disable);
        if (used + strlen(v) + 2 > sizeof(o->disable)) {
            cli_error(CLI_USAGE, "--disable-pass: too many names");
            return -1;
        }
        snprintf(o->disable + used, sizeof(o->disable) - used, "%s%s", used ? "," : "", v);
        return 1;
    }
    return 0;
}

int cli_optimize_graph(eml_graph *graph, const cli_optimize_args *o, eml_optimize_report *report,
                       const char *path)
{
    eml_optimize_options opts;
    eml_optimize_options_init(&opts);
    opts.level = o->level;
    opts.disable = o->disable[0] ? o->disable : NULL;
    eml_diag diag;
    eml_diag_init(&diag);
    eml_status st = eml_graph_optimize(graph, &opts, report, &diag);
    if (st == EML_EINVAL)
        return cli_error(CLI_USAGE, "%s", diag.message);
    if (st != EML_OK)
        return cli_error_diag(&diag, st, path);
    return CLI_OK;
}

void cli_print_passes(FILE *f, const eml_optimize_report *report)
{
    size_t col = 0;
    for (size_t i = 0; i < report->pass_count; i++) {
        char item[96];
        int n = snprintf(item, sizeof(item), "%s %llu", report->passes[i].name,
                         (unsigned long long)report->passes[i].rewrites);
        if (col && col + (size_t)n + 2 > 96) {
            fputs(",\n", f);
            col = 0;
        }
        col += (size_t)fprintf(f, "%s%s", col ? ", " : "  ", item);
    }
    fputs(report->pass_count ? "\n" : "  none\n", f);
}

/* ---- feeding graph inputs from files (run, bench) ---- */

int cli_find_input(const eml_graph *graph, const char *name, size_t len)
{
    for (size_t i = 0; i < eml_graph_input_count(graph); i++) {
        eml_value_info v;
        if (eml_graph_input(graph, i, &v) == EML_OK && strlen(v.name) == len &&
            memcmp(v.name, name, len) == 0)
            return (int)i;
    }
    return -1;
}

const char *cli_input_names(char *buf, size_t cap, const eml_graph *graph)
{
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < eml_graph_input_count(graph) && n < cap; i++) {
        eml_value_info v;
        if (eml_graph_input(graph, i, &v) == EML_OK)
            n += (size_t)snprintf(buf + n, cap - n, "%s'%s'", i ? ", " : "", v.name);
    }
    if (!buf[0])
        snprintf(buf, cap, "none");
    return buf;
}

int cli_dims_fit(const eml_value_info *v, const int64_t *dims, int rank)
{
    if (v->rank < 0)
        return 1;
    if (v->rank != rank)
        return 0;
    for (int d = 0; d < rank; d++)
        if (v->dims[d] >= 0 && v->dims[d] != dims[d])
            return 0;
    return 1;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

int cli_inputs_init(cli_inputs *in, const eml_graph *graph)
{
    in->count = eml_graph_input_count(graph);
    in->tensors = calloc(in->count + 1, sizeof(*in->tensors));
    in->files = calloc(in->count + 1, sizeof(*in->files));
    if (!in->tensors || !in->files)
        return cli_error(CLI_FAIL, "out of memory");
    return CLI_OK;
}

void cli_inputs_free(cli_inputs *in, eml_env *env)
{
    for (size_t i = 0; in->tensors && i < in->count; i++)
        eml_tensor_free(env, &in->tensors[i]);
    free(in->tensors);
    free(in->files);
    memset(in, 0, sizeof(*in));
}

int cli_inputs_assign(cli_inputs *in, const eml_graph *graph, const char *const *specs,
                      int n_specs, int require_all)
{
    char names[512];
    /* per spec: 1 when placed by its NAME= */
    unsigned char *named = calloc((size_t)n_specs + 1, 1);
    if (!named)
        return cli_error(CLI_FAIL, "out of memory");
    int rc = CLI_OK;
    for (int k = 0; k < n_specs && rc == CLI_OK; k++) {
        const char *spec = specs[k];
        const char *eq = strchr(spec, '=');
        if (!eq)
            continue;
        int idx = cli_find_input(graph, spec, (size_t)(eq - spec));
        if (idx < 0) {
            if (file_exists(spec))
                continue; /* a file whose name holds '=' */
            rc = cli_error(CLI_FAIL, "unknown input '%.*s' (the model's inputs: %s)",
                           (int)(eq - spec), spec, cli_input_names(names, sizeof(names), graph));
        } else if (in->files[idx]) {
            rc = cli_error(CLI_FAIL, "input '%.*s' given twice", (int)(eq - spec), spec);
        } else {
            in->files[idx] = eq + 1;
            named[k] = 1;
        }
    }
    /* the files without NAME= go in graph order to the inputs without a default, then to those
     * with one */
    for (int k = 0; k < n_specs && rc == CLI_OK; k++) {
        if (named[k])
            continue;
        int placed = 0;
        for (int pass = 0; pass < 2 && !placed; pass++)
            for (size_t i = 0; i < in->count && !placed; i++) {
                eml_value_info v;
                if (in->files[i] || eml_graph_input(graph, i, &v) != EML_OK ||
                    v.has_default != pass)
                    continue;
                in->files[i] = specs[k];
                placed = 1;
            }
        if (!placed)
            rc = cli_error(CLI_FAIL, "more input files than the model has inputs (%zu): '%s'",
                           in->count, specs[k]);
    }
    free(named);
    for (size_t i = 0; require_all && rc == CLI_OK && i < in->count; i++) {
        eml_value_info v;
        char shape[256];
        if (in->files[i] || eml_graph_input(graph, i, &v) != EML_OK || v.has_default)
            continue;
        rc = cli_error(CLI_FAIL, "input '%s' (%s%s) not given", v.name, eml_dtype_name(v.dtype),
                       cli_shape_str(shape, sizeof(shape), &v));
    }
    return rc;
}

static int is_image_file(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
                   strcasecmp(dot, ".jpeg") == 0);
}

static int is_image_channels(int64_t c)
{
    return c == 1 || c == 3 || c == 4;
}

/* Image options for input v: size and channels from its static dims, layout as asked or
 * guessed from the shape, mean/std from the command line. */
static int image_options(const cli_image_args *a, const eml_value_info *v, eml_image_options *img)
{
    eml_image_options_init(img);
    /* one value applies to every channel; with several, channels past the last keep 0 and 1 */
    for (int c = 0; a && c < 4; c++) {
        if (a->n_mean == 1 || c < a->n_mean)
            img->mean[c] = a->mean[a->n_mean == 1 ? 0 : c];
        if (a->n_std == 1 || c < a->n_std)
            img->std[c] = a->std[a->n_std == 1 ? 0 : c];
    }
    if (v->rank != 3 && v->rank != 4)
        return CLI_OK;
    const int64_t *d = v->dims + (v->rank == 4); /* C,H,W or H,W,C without the batch dim */
    int nhwc = a ? a->layout : -1;
    if (nhwc < 0)
        nhwc = is_image_channels(d[2]) && !is_image_channels(d[0]);
    img->nhwc = nhwc;
    int64_t c = nhwc ? d[2] : d[0], h = nhwc ? d[0] : d[1], w = nhwc ? d[1] : d[2];
    if (c > 0 && !is_image_channels(c))
        return cli_error(CLI_FAIL, "input '%s' takes %lld channels; images give 1, 3 or 4",
                         v->name, (long long)c);
    img->n_channels = c > 0 ? (int)c : 0;
    img->resize_h = h > 0 && h <= 65535 ? (int)h : 0;
    img->resize_w = w > 0 && w <= 65535 ? (int)w : 0;
    return CLI_OK;
}

/* The file's tensor must have the input's dtype, rank and static dims. */
static int check_input(const eml_value_info *v, const eml_tensor *t, const char *file)
{
    if ((v->dtype == EML_DTYPE_UNDEFINED || v->dtype == t->dtype) &&
        cli_dims_fit(v, t->dims, t->rank))
        return CLI_OK;
    char want[256], got[256];
    return cli_error(CLI_FAIL, "input '%s' takes %s%s but '%s' holds %s%s", v->name,
                     eml_dtype_name(v->dtype), cli_shape_str(want, sizeof(want), v), file,
                     eml_dtype_name(t->dtype), cli_dims_str(got, sizeof(got), t->dims, t->rank));
}

int cli_inputs_read(cli_inputs *in, eml_env *env, const eml_graph *graph,
                    const cli_image_args *img_args, FILE *log)
{
    for (size_t i = 0; i < in->count; i++) {
        const char *file = in->files[i];
        if (!file)
            continue;
        eml_value_info v;
        if (eml_graph_input(graph, i, &v) != EML_OK)
            return cli_error(CLI_FAIL, "input %zu: not found", i);
        /* tensor files (.pb, .npy, ...) carry their own shape: the image options (and their
         * channel check) are only for images */
        eml_image_options img;
        eml_image_options_init(&img);
        int rc = is_image_file(file) ? image_options(img_args, &v, &img) : CLI_OK;
        if (rc != CLI_OK)
            return rc;
        eml_diag diag;
        eml_diag_init(&diag);
        eml_tensor *t = &in->tensors[i];
        eml_status st = eml_tensor_read_file(env, file, &img, t, &diag);
        if (st != EML_OK)
            return cli_error_diag(&diag, st, file);
        if (is_image_file(file) && v.rank == 3 && t->rank == 4) {
            /* the input has no batch dim: drop the image's leading 1 */
            memmove(t->dims, t->dims + 1, 3 * sizeof(t->dims[0]));
            t->rank = 3;
        }
        if ((rc = check_input(&v, t, file)) != CLI_OK)
            return rc;
        char shape[256];
        if (log)
            fprintf(log, "input '%s': %s%s from %s\n", v.name, eml_dtype_name(t->dtype),
                    cli_dims_str(shape, sizeof(shape), t->dims, t->rank), file);
    }
    return CLI_OK;
}
