/* `edgeml run MODEL [[--input] [NAME=]FILE]...`: feeds tensor files to a model, times the run,
 * prints each output (top-K rows for classifiers) and optionally writes them as .pb files. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

typedef struct run_options {
    const char *model;
    const char *output_dir;
    long threads;
    long top;
    float mean[4], std[4];
    int n_mean, n_std;
    int layout; /* -1: from the input's shape; 0: nchw; 1: nhwc */
    const char **specs; /* [NAME=]FILE as given */
    int n_specs;
} run_options;

/* What run allocates, released in one place. */
typedef struct run_state {
    eml_env *env;
    eml_graph *graph;
    eml_plan *plan;
    eml_session *session;
    eml_tensor *inputs;  /* one per graph input; data NULL: the default */
    int *spec_of;        /* per graph input: index into specs, -1 when not given */
    size_t n_inputs;
} run_state;

static int parse_args(int argc, char **argv, run_options *o)
{
    memset(o, 0, sizeof(*o));
    o->top = 5;
    o->layout = -1;
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
        if ((r = cli_option_value(argc, argv, &i, "--input", &v)) != 0) {
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
            if (r < 0 || (o->n_mean = cli_parse_floats(v, o->mean, 4)) < 0)
                return r < 0 ? CLI_USAGE
                             : cli_error(CLI_USAGE, "--mean wants 1 to 4 numbers: a,b,c");
        } else if ((r = cli_option_value(argc, argv, &i, "--std", &v)) != 0) {
            if (r < 0 || (o->n_std = cli_parse_floats(v, o->std, 4)) < 0)
                return r < 0 ? CLI_USAGE
                             : cli_error(CLI_USAGE, "--std wants 1 to 4 numbers: a,b,c");
            for (int c = 0; c < o->n_std; c++)
                if (!(o->std[c] != 0.0f))
                    return cli_error(CLI_USAGE, "--std values must not be zero");
        } else if ((r = cli_option_value(argc, argv, &i, "--layout", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            if (strcmp(v, "nchw") == 0)
                o->layout = 0;
            else if (strcmp(v, "nhwc") == 0)
                o->layout = 1;
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

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int find_input(const eml_graph *g, const char *name, size_t len)
{
    for (size_t i = 0; i < eml_graph_input_count(g); i++) {
        eml_value_info v;
        if (eml_graph_input(g, i, &v) == EML_OK && strlen(v.name) == len &&
            memcmp(v.name, name, len) == 0)
            return (int)i;
    }
    return -1;
}

static const char *spec_file(const char *spec, int named)
{
    return named ? strchr(spec, '=') + 1 : spec;
}

static int input_names(const eml_graph *g, char *buf, size_t cap)
{
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; i < eml_graph_input_count(g) && n < cap; i++) {
        eml_value_info v;
        if (eml_graph_input(g, i, &v) == EML_OK)
            n += (size_t)snprintf(buf + n, cap - n, "%s'%s'", i ? ", " : "", v.name);
    }
    return (int)n;
}

/* Matches the files to graph inputs: NAME=FILE by name, the others in graph order to the inputs
 * without a default first, then to those with one. named[k] says whether spec k had a name. */
static int assign_inputs(const run_options *o, run_state *s, int *named)
{
    const eml_graph *g = s->graph;
    char names[512];
    for (int k = 0; k < o->n_specs; k++) {
        const char *spec = o->specs[k];
        const char *eq = strchr(spec, '=');
        named[k] = 0;
        if (!eq)
            continue;
        int idx = find_input(g, spec, (size_t)(eq - spec));
        if (idx < 0) {
            if (file_exists(spec))
                continue; /* a file whose name holds '=' */
            input_names(g, names, sizeof(names));
            return cli_error(CLI_FAIL, "unknown input '%.*s' (the model's inputs: %s)",
                             (int)(eq - spec), spec, names[0] ? names : "none");
        }
        if (s->spec_of[idx] >= 0)
            return cli_error(CLI_FAIL, "input '%.*s' given twice", (int)(eq - spec), spec);
        s->spec_of[idx] = k;
        named[k] = 1;
    }
    for (int k = 0; k < o->n_specs; k++) {
        if (named[k])
            continue;
        int placed = 0;
        for (int pass = 0; pass < 2 && !placed; pass++)
            for (size_t i = 0; i < s->n_inputs && !placed; i++) {
                eml_value_info v;
                if (s->spec_of[i] >= 0 || eml_graph_input(g, i, &v) != EML_OK ||
                    v.has_default != pass)
                    continue;
                s->spec_of[i] = k;
                placed = 1;
            }
        if (!placed)
            return cli_error(CLI_FAIL, "more input files than the model has inputs (%zu): '%s'",
                             s->n_inputs, o->specs[k]);
    }
    for (size_t i = 0; i < s->n_inputs; i++) {
        eml_value_info v;
        char shape[256];
        if (s->spec_of[i] >= 0 || eml_graph_input(g, i, &v) != EML_OK || v.has_default)
            continue;
        return cli_error(CLI_FAIL, "input '%s' (%s%s) not given", v.name, eml_dtype_name(v.dtype),
                         cli_shape_str(shape, sizeof(shape), &v));
    }
    return CLI_OK;
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
static int image_options(const run_options *o, const eml_value_info *v, eml_image_options *img)
{
    eml_image_options_init(img);
    /* one value applies to every channel; with several, channels past the last keep 0 and 1 */
    for (int c = 0; c < 4; c++) {
        if (o->n_mean == 1 || c < o->n_mean)
            img->mean[c] = o->mean[o->n_mean == 1 ? 0 : c];
        if (o->n_std == 1 || c < o->n_std)
            img->std[c] = o->std[o->n_std == 1 ? 0 : c];
    }
    if (v->rank != 3 && v->rank != 4)
        return CLI_OK;
    const int64_t *d = v->dims + (v->rank == 4); /* C,H,W or H,W,C without the batch dim */
    int nhwc = o->layout;
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
    int ok = v->dtype == EML_DTYPE_UNDEFINED || v->dtype == t->dtype;
    if (v->rank >= 0) {
        ok = ok && v->rank == t->rank;
        for (int d = 0; ok && d < v->rank; d++)
            ok = v->dims[d] < 0 || v->dims[d] == t->dims[d];
    }
    if (ok)
        return CLI_OK;
    char want[256], got[256];
    return cli_error(CLI_FAIL, "input '%s' takes %s%s but '%s' holds %s%s", v->name,
                     eml_dtype_name(v->dtype), cli_shape_str(want, sizeof(want), v), file,
                     eml_dtype_name(t->dtype), cli_dims_str(got, sizeof(got), t->dims, t->rank));
}

static int read_inputs(const run_options *o, run_state *s, const int *named)
{
    for (size_t i = 0; i < s->n_inputs; i++) {
        int k = s->spec_of[i];
        if (k < 0)
            continue;
        eml_value_info v;
        if (eml_graph_input(s->graph, i, &v) != EML_OK)
            return cli_error(CLI_FAIL, "input %zu: not found", i);
        const char *file = spec_file(o->specs[k], named[k]);
        eml_image_options img;
        int rc = image_options(o, &v, &img);
        if (rc != CLI_OK)
            return rc;
        eml_diag diag;
        eml_diag_init(&diag);
        eml_tensor *t = &s->inputs[i];
        eml_status st = eml_tensor_read_file(s->env, file, &img, t, &diag);
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
        printf("input '%s': %s%s from %s\n", v.name, eml_dtype_name(t->dtype),
               cli_dims_str(shape, sizeof(shape), t->dims, t->rank), file);
    }
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
    st = eml_session_run(s->session, s->inputs, s->n_inputs, &diag);
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
    int *named = NULL;
    int rc = parse_args(argc, argv, &o);
    if (rc != CLI_OK)
        goto done;
    rc = cli_load_model(o.model, (uint32_t)o.threads, &s.env, &s.graph);
    if (rc != CLI_OK)
        goto done;
    s.n_inputs = eml_graph_input_count(s.graph);
    s.inputs = calloc(s.n_inputs + 1, sizeof(*s.inputs));
    s.spec_of = malloc((s.n_inputs + 1) * sizeof(*s.spec_of));
    named = calloc((size_t)o.n_specs + 1, sizeof(*named));
    if (!s.inputs || !s.spec_of || !named) {
        rc = cli_error(CLI_FAIL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < s.n_inputs; i++)
        s.spec_of[i] = -1;
    if ((rc = assign_inputs(&o, &s, named)) != CLI_OK)
        goto done;
    if ((rc = read_inputs(&o, &s, named)) != CLI_OK)
        goto done;
    rc = run_model(&o, &s);
done:
    for (size_t i = 0; s.inputs && i < s.n_inputs; i++)
        eml_tensor_free(s.env, &s.inputs[i]);
    free(s.inputs);
    free(s.spec_of);
    free(named);
    free(o.specs);
    eml_session_destroy(s.session);
    eml_plan_destroy(s.plan);
    eml_graph_destroy(s.graph);
    eml_env_destroy(s.env);
    return rc;
}
