/* `edgeml run MODEL [[--input] [NAME=]FILE]...`: feeds tensor files to a model, times the run,
 * prints each output (top-K rows for classifiers) and optionally writes them as .pb files. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

typedef struct run_options {
    const char *model;
    const char *output_dir;
    long threads;
    long top;
    cli_image_args img;
    const char **specs; /* [NAME=]FILE as given */
    int n_specs;
    cli_optimize_args opt;
} run_options;

/* What run allocates, released in one place. */
typedef struct run_state {
    eml_env *env;
    eml_graph *graph;
    eml_plan *plan;
    eml_session *session;
    cli_inputs inputs;
} run_state;

static int parse_args(int argc, char **argv, run_options *o)
{
    memset(o, 0, sizeof(*o));
    o->top = 5;
    o->img.layout = -1;
    cli_optimize_args_init(&o->opt);
    o->specs = calloc((size_t)argc, sizeof(*o->specs));
    if (!o->specs)
        return cli_error(CLI_FAIL, "out of memory");
    int i = 1;
    while (i < argc) {
        const char *a = argv[i], *v = NULL;
        int r;
        if (strcmp(a, "--") == 0) {
            for (i++; i < argc; i++)
                o->specs[o->n_specs++] = argv[i];
            break;
        }
        if ((r = cli_optimize_option(argc, argv, &i, &o->opt)) != 0) {
            if (r < 0)
                return CLI_USAGE;
        } else if ((r = cli_option_value(argc, argv, &i, "--input", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            o->specs[o->n_specs++] = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--output-dir", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            o->output_dir = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 1, 4096, &o->threads) != 0)
                return r < 0 ? CLI_USAGE
                             : cli_error(CLI_USAGE, "--threads wants a number from 1 to 4096");
        } else if ((r = cli_option_value(argc, argv, &i, "--top", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 0, 1000000, &o->top) != 0)
                return r < 0 ? CLI_USAGE : cli_error(CLI_USAGE, "--top wants a number >= 0");
        } else if ((r = cli_option_value(argc, argv, &i, "--mean", &v)) != 0) {
            if (r < 0 || (o->img.n_mean = cli_parse_floats(v, o->img.mean, 4)) < 0)
                return r < 0 ? CLI_USAGE
                             : cli_error(CLI_USAGE, "--mean wants 1 to 4 numbers: a,b,c");
        } else if ((r = cli_option_value(argc, argv, &i, "--std", &v)) != 0) {
            if (r < 0 || (o->img.n_std = cli_parse_floats(v, o->img.std, 4)) < 0)
                return r < 0 ? CLI_USAGE
                             : cli_error(CLI_USAGE, "--std wants 1 to 4 numbers: a,b,c");
            for (int c = 0; c < o->img.n_std; c++)
                if (!(o->img.std[c] != 0.0f))
                    return cli_error(CLI_USAGE, "--std values must not be zero");
        } else if ((r = cli_option_value(argc, argv, &i, "--layout", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            if (strcmp(v, "nchw") == 0)
                o->img.layout = 0;
            else if (strcmp(v, "nhwc") == 0)
                o->img.layout = 1;
            else
                return cli_error(CLI_USAGE, "--layout is nchw or nhwc, not '%s'", v);
        } else if (a[0] == '-' && a[1]) {
            return cli_error(CLI_USAGE, "run: unknown option '%s'", a);
        } else {
            if (!o->model)
                o->model = a;
            else
                o->specs[o->n_specs++] = a;
            i++;
        }
    }
    if (!o->model)
        return cli_error(CLI_USAGE, "run: no model given (edgeml run MODEL [NAME=]FILE...)");
    return CLI_OK;
}

static double elem_double(const eml_tensor *t, int64_t i)
{
    const void *p = t->data;
    switch (t->dtype) {
    case EML_DTYPE_F32: return ((const float *)p)[i];
    case EML_DTYPE_F64: return ((const double *)p)[i];
    case EML_DTYPE_F16: return eml_f16_to_f32(((const uint16_t *)p)[i]);
    case EML_DTYPE_BF16: return eml_bf16_to_f32(((const uint16_t *)p)[i]);
    case EML_DTYPE_I8: return ((const int8_t *)p)[i];
    case EML_DTYPE_I16: return ((const int16_t *)p)[i];
    case EML_DTYPE_I32: return ((const int32_t *)p)[i];
    case EML_DTYPE_I64: return (double)((const int64_t *)p)[i];
    case EML_DTYPE_U8: return ((const uint8_t *)p)[i];
    case EML_DTYPE_U16: return ((const uint16_t *)p)[i];
    case EML_DTYPE_U32: return ((const uint32_t *)p)[i];
    case EML_DTYPE_U64: return (double)((const uint64_t *)p)[i];
    case EML_DTYPE_BOOL: return ((const uint8_t *)p)[i] != 0;
    default: return 0;
    }
}

static int is_float(eml_dtype d)
{
    return d == EML_DTYPE_F32 || d == EML_DTYPE_F64 || d == EML_DTYPE_F16 || d == EML_DTYPE_BF16;
}

/* Prints the top-K entries of each row as "rank index value" lines. NaN ranks last; ties keep
 * the lower index first. */
static void print_top(const eml_tensor *t, int64_t rows, int64_t cols, long k)
{
    if (k > cols)
        k = cols;
    int64_t *best = malloc((size_t)(k ? k : 1) * sizeof(*best));
    if (!best)
        return;
    for (int64_t r = 0; r < rows; r++) {
        int64_t n = 0;
        for (int64_t c = 0; c < cols; c++) {
            double v = elem_double(t, r * cols + c);
            if (isnan(v) && n == k)
                continue;
            int64_t at = n;
            while (at > 0) {
                double b = elem_double(t, r * cols + best[at - 1]);
                if (!(v > b || (isnan(b) && !isnan(v))))
                    break;
                at--;
            }
            if (at >= k)
                continue;
            if (n < k)
                n++;
            memmove(best + at + 1, best + at, (size_t)(n - 1 - at) * sizeof(*best));
            best[at] = c;
        }
        printf("  row %lld top %ld:\n", (long long)r, k);
        for (int64_t j = 0; j < n; j++)
            printf("    %lld %lld %.6g\n", (long long)(j + 1), (long long)best[j],
                   elem_double(t, r * cols + best[j]));
    }
    free(best);
}

static void print_values(const eml_tensor *t)
{
    int64_t n = eml_tensor_count(t);
    printf("  values:");
    for (int64_t i = 0; i < n && i < 8; i++) {
        if (is_float(t->dtype))
            printf(" %.6g", elem_double(t, i));
        else if (t->dtype == EML_DTYPE_I64)
            printf(" %lld", (long long)((const int64_t *)t->data)[i]);
        else if (t->dtype == EML_DTYPE_U64)
            printf(" %llu", (unsigned long long)((const uint64_t *)t->data)[i]);
        else
            printf(" %.0f", elem_double(t, i));
    }
    printf(n > 8 ? " ... (%lld values)\n" : "\n", (long long)n);
}

static void print_output(const char *name, const eml_tensor *t, long top)
{
    char shape[256];
    printf("output '%s': %s%s\n", name, eml_dtype_name(t->dtype),
           cli_dims_str(shape, sizeof(shape), t->dims, t->rank));
    if (!t->data || eml_tensor_count(t) <= 0)
        return;
    /* classifier-like: float, at most 2 dims once the 1s are squeezed, the last one > 1 */
    int64_t kept[EML_MAX_RANK];
    int n_kept = 0;
    for (int d = 0; d < t->rank; d++)
        if (t->dims[d] != 1)
            kept[n_kept++] = t->dims[d];
    if (top > 0 && is_float(t->dtype) && n_kept >= 1 && n_kept <= 2 && kept[n_kept - 1] > 1)
        print_top(t, n_kept == 2 ? kept[0] : 1, kept[n_kept - 1], top);
    else
        print_values(t);
}

static int make_dir(const char *dir)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return CLI_OK;
        return cli_error(CLI_FAIL, "'%s' is not a folder", dir);
    }
    return cli_error(CLI_FAIL, "cannot create folder '%s': %s", dir, strerror(errno));
}

/* Output names become file names: '/' and other bytes a file name should not hold become '_'. */
static void file_name_for(char *buf, size_t cap, const char *dir, const char *name, size_t index)
{
    char safe[256];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && n + 1 < sizeof(safe); p++)
        safe[n++] = (*p == '/' || *p == '\\' || *p < 0x20) ? '_' : (char)*p;
    safe[n] = 0;
    if (n == 0)
        snprintf(safe, sizeof(safe), "output_%zu", index);
    snprintf(buf, cap, "%s/%s.pb", dir, safe);
}

static int write_outputs(const run_options *o, run_state *s)
{
    size_t n = eml_graph_output_count(s->graph);
    int rc = o->output_dir ? make_dir(o->output_dir) : CLI_OK;
    for (size_t i = 0; rc == CLI_OK && i < n; i++) {
        eml_value_info v;
        eml_tensor t;
        if (eml_graph_output(s->graph, i, &v) != EML_OK ||
            eml_session_output(s->session, i, &t) != EML_OK)
            return cli_error(CLI_FAIL, "output %zu: not available", i);
        print_output(v.name, &t, o->top);
        if (!o->output_dir)
            continue;
        char path[4096];
        file_name_for(path, sizeof(path), o->output_dir, v.name, i);
        eml_diag diag;
        eml_diag_init(&diag);
        eml_status st = eml_tensor_write_pb(s->env, &t, v.name, path, &diag);
        if (st != EML_OK)
            rc = cli_error_diag(&diag, st, path);
        else
            printf("  written to %s\n", path);
    }
    return rc;
}

static int run_model(const run_options *o, run_state *s)
{
    eml_diag diag;
    eml_diag_init(&diag);
    eml_status st = eml_plan_create(s->graph, &s->plan, &diag);
    if (st == EML_OK)
        st = eml_session_create(s->plan, NULL, &s->session, &diag);
    if (st != EML_OK)
        return cli_error_diag(&diag, st, o->model);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st = eml_session_run(s->session, s->inputs.tensors, s->inputs.count, &diag);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (st != EML_OK)
        return cli_error_diag(&diag, st, NULL);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    int rc = write_outputs(o, s);
    if (rc == CLI_OK)
        printf("inference: %.3f ms (%u threads)\n", ms, eml_env_threads(s->env));
    return rc;
}

int cli_run(int argc, char **argv)
{
    run_options o;
    run_state s;
    memset(&s, 0, sizeof(s));
    int rc = parse_args(argc, argv, &o);
    if (rc == CLI_OK)
        rc = cli_load_model(o.model, (uint32_t)o.threads, &s.env, &s.graph);
    if (rc == CLI_OK)
        rc = cli_optimize_graph(s.graph, &o.opt, NULL, o.model);
    if (rc == CLI_OK)
        rc = cli_inputs_init(&s.inputs, s.graph);
    if (rc == CLI_OK)
        rc = cli_inputs_assign(&s.inputs, s.graph, o.specs, o.n_specs, 1);
    if (rc == CLI_OK)
        rc = cli_inputs_read(&s.inputs, s.env, s.graph, &o.img, stdout);
    if (rc == CLI_OK)
        rc = run_model(&o, &s);
    cli_inputs_free(&s.inputs, s.env);
    free(o.specs);
    eml_session_destroy(s.session);
    eml_plan_destroy(s.plan);
    eml_graph_destroy(s.graph);
    eml_env_destroy(s.env);
    return rc;
}
