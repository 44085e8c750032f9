/* `edgeml bench MODEL`: times eml_session_run on file or generated inputs and reports latency
 * percentiles, throughput, the planned arena and the process's peak RSS, as text or one JSON
 * object. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "cli.h"
#include "cli_bench_profile.h"

/* Generated float inputs are drawn from this seed, so that two runs see the same data. */
#define BENCH_SEED 1234u
/* Bounds the sample buffer (80 MB) for --seconds on tiny models. */
#define BENCH_MAX_SAMPLES 10000000L

typedef struct bench_options {
    const char *model;
    long threads; /* 0: one per CPU */
    long warmup;  /* unmeasured runs first */
    long runs;    /* measured runs, when seconds is 0 */
    double seconds;
    int json;
    int profile; /* --profile: a separate profiled pass after the latency runs */
    const char **specs; /* --input [NAME=]FILE */
    int n_specs;
    const char **shapes; /* --shape NAME=DxD... */
    int n_shapes;
    cli_optimize_args opt; /* the graph is optimized as `edgeml run` optimizes it */
} bench_options;

/* What bench allocates, released in one place. */
typedef struct bench_state {
    eml_env *env;
    eml_graph *graph;
    eml_plan *plan;
    eml_session *session;
    cli_inputs files;  /* inputs read from files */
    eml_tensor *feeds; /* per input: what each run gets; data NULL: the input's default */
    void **generated;  /* per input: generated data (malloc), or NULL */
    double *ms;        /* one latency per measured run */
    long n_ms;
    double total_s; /* wall time from the first measured run's start to the last one's end */
    int64_t batch;
    char batch_note[256];
} bench_state;

static int parse_args(int argc, char **argv, bench_options *o)
{
    memset(o, 0, sizeof(*o));
    o->warmup = 10;
    o->runs = 100;
    cli_optimize_args_init(&o->opt);
    o->specs = calloc((size_t)argc, sizeof(*o->specs));
    o->shapes = calloc((size_t)argc, sizeof(*o->shapes));
    if (!o->specs || !o->shapes)
        return cli_error(CLI_FAIL, "out of memory");
    int have_runs = 0, have_seconds = 0;
    int i = 1;
    while (i < argc) {
        const char *a = argv[i], *v = NULL;
        int r;
        if ((r = cli_optimize_option(argc, argv, &i, &o->opt)) != 0) {
            if (r < 0)
                return CLI_USAGE;
        } else if ((r = cli_option_value(argc, argv, &i, "--input", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            o->specs[o->n_specs++] = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--shape", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            if (!strchr(v, '='))
                return cli_error(CLI_USAGE, "--shape wants NAME=DIMS, like input=1x3x224x224");
            o->shapes[o->n_shapes++] = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 1, 4096, &o->threads) != 0)
                return r < 0 ? CLI_USAGE
                             : cli_error(CLI_USAGE, "--threads wants a number from 1 to 4096");
        } else if ((r = cli_option_value(argc, argv, &i, "--warmup", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 0, BENCH_MAX_SAMPLES, &o->warmup) != 0)
                return r < 0 ? CLI_USAGE
                             : cli_error(CLI_USAGE, "--warmup wants a number from 0 to %ld",
                                         BENCH_MAX_SAMPLES);
        } else if ((r = cli_option_value(argc, argv, &i, "--runs", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 1, BENCH_MAX_SAMPLES, &o->runs) != 0)
                return r < 0 ? CLI_USAGE
                             : cli_error(CLI_USAGE, "--runs wants a number from 1 to %ld",
                                         BENCH_MAX_SAMPLES);
            have_runs = 1;
        } else if ((r = cli_option_value(argc, argv, &i, "--seconds", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            char *end;
            errno = 0;
            o->seconds = strtod(v, &end);
            if (errno || end == v || *end || !(o->seconds > 0 && o->seconds <= 1e6))
                return cli_error(CLI_USAGE, "--seconds wants a number of seconds > 0");
            have_seconds = 1;
        } else if (strcmp(a, "--json") == 0) {
            o->json = 1;
            i++;
        } else if (strcmp(a, "--profile") == 0) {
            o->profile = 1;
            i++;
        } else if (a[0] == '-' && a[1]) {
            return cli_error(CLI_USAGE, "bench: unknown option '%s'", a);
        } else if (o->model) {
            return cli_error(CLI_USAGE,
                             "bench: one model at a time ('%s' and '%s'); input files "
                             "go with --input",
                             o->model, a);
        } else {
            o->model = a;
            i++;
        }
    }
    if (have_runs && have_seconds)
        return cli_error(CLI_USAGE, "bench: --runs and --seconds exclude each other");
    if (!o->model)
        return cli_error(CLI_USAGE, "bench: no model given (edgeml bench MODEL [--runs N])");
    return CLI_OK;
}

/* ---- generated inputs ---- */

/* splitmix64: small, seedable, the same sequence everywhere. */
static uint64_t next_u64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]: never 0, so that log() below stays finite. */
static double next_unit(uint64_t *state)
{
    return (double)((next_u64(state) >> 11) + 1) * (1.0 / 9007199254740992.0);
}

/* Standard normal by Box-Muller (one value per pair of draws: simple, and speed is no matter). */
static double next_normal(uint64_t *state)
{
    double u = next_unit(state), v = next_unit(state);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static void fill_normal(eml_tensor *t, uint64_t *state)
{
    int64_t n = eml_tensor_count(t);
    for (int64_t i = 0; i < n; i++) {
        double x = next_normal(state);
        switch (t->dtype) {
        case EML_DTYPE_F32:
            ((float *)t->data)[i] = (float)x;
            break;
        case EML_DTYPE_F64:
            ((double *)t->data)[i] = x;
            break;
        case EML_DTYPE_F16:
            ((uint16_t *)t->data)[i] = eml_f32_to_f16((float)x);
            break;
        case EML_DTYPE_BF16:
            ((uint16_t *)t->data)[i] = eml_f32_to_bf16((float)x);
            break;
        default:
            return;
        }
    }
}

static int is_float(eml_dtype d)
{
    return d == EML_DTYPE_F32 || d == EML_DTYPE_F64 || d == EML_DTYPE_F16 || d == EML_DTYPE_BF16;
}

/* "1x3x224x224" (or "" for a scalar) into dims; returns the rank, or -1. */
static int parse_dims(const char *s, int64_t *dims)
{
    int rank = 0;
    if (!*s)
        return 0;
    for (;;) {
        if (*s < '0' || *s > '9' || rank == EML_MAX_RANK)
            return -1;
        char *end;
        errno = 0;
        long long d = strtoll(s, &end, 10);
        if (errno || d > ((int64_t)1 << 40))
            return -1;
        dims[rank++] = d;
        if (*end == '\0')
            return rank;
        if (*end != 'x' && *end != 'X')
            return -1;
        s = end + 1;
    }
}

/* The --shape given for input `name`, or NULL; a second one for the same input is an error. */
static int find_shape(const bench_options *o, const char *name, const char **spec)
{
    *spec = NULL;
    size_t len = strlen(name);
    for (int k = 0; k < o->n_shapes; k++) {
        const char *eq = strchr(o->shapes[k], '=');
        if ((size_t)(eq - o->shapes[k]) != len || memcmp(o->shapes[k], name, len) != 0)
            continue;
        if (*spec)
            return cli_error(CLI_USAGE, "--shape given twice for input '%s'", name);
        *spec = eq + 1;
    }
    return CLI_OK;
}

/* Every --shape must name an input of the model that no file feeds. */
static int check_shape_names(const bench_options *o, const bench_state *s)
{
    char names[512];
    for (int k = 0; k < o->n_shapes; k++) {
        const char *eq = strchr(o->shapes[k], '=');
        int idx = cli_find_input(s->graph, o->shapes[k], (size_t)(eq - o->shapes[k]));
        if (idx < 0)
            return cli_error(CLI_FAIL, "--shape: unknown input '%.*s' (the model's inputs: %s)",
                             (int)(eq - o->shapes[k]), o->shapes[k],
                             cli_input_names(names, sizeof(names), s->graph));
        if (s->files.files[idx])
            return cli_error(CLI_USAGE, "input '%.*s' has both --shape and a file",
                             (int)(eq - o->shapes[k]), o->shapes[k]);
    }
    return CLI_OK;
}

/* Makes input i's tensor when no file feeds it: dims from --shape, else the declared ones with
 * dynamic dims = 1 (inputs with a default keep it unless --shape is given). Floats are standard
 * normal, integers and bools zero. */
static int generate_input(const bench_options *o, bench_state *s, size_t i, uint64_t *rng)
{
    eml_value_info v;
    if (eml_graph_input(s->graph, i, &v) != EML_OK)
        return cli_error(CLI_FAIL, "input %zu: not found", i);
    const char *shape;
    int rc = find_shape(o, v.name, &shape);
    if (rc != CLI_OK || (!shape && v.has_default))
        return rc;
    eml_tensor *t = &s->feeds[i];
    t->dtype = v.dtype;
    if (!eml_dtype_is_supported(v.dtype))
        return cli_error(CLI_FAIL, "input '%s' is %s: give it with --input NAME=FILE", v.name,
                         eml_dtype_name(v.dtype));
    char want[256], got[256];
    if (shape) {
        t->rank = parse_dims(shape, t->dims);
        if (t->rank < 0)
            return cli_error(CLI_USAGE, "--shape %s=%s: want dims like 1x3x224x224", v.name, shape);
        if (!cli_dims_fit(&v, t->dims, t->rank))
            return cli_error(CLI_FAIL, "--shape %s=%s does not fit the input's shape %s", v.name,
                             shape, cli_shape_str(want, sizeof(want), &v));
    } else {
        if (v.rank < 0)
            return cli_error(CLI_FAIL,
                             "input '%s' has an unknown rank: give --shape %s=DIMS "
                             "or --input %s=FILE",
                             v.name, v.name, v.name);
        t->rank = v.rank;
        for (int d = 0; d < v.rank; d++)
            t->dims[d] = v.dims[d] >= 0 ? v.dims[d] : 1;
    }
    /* the size is checked against the env's allocation limit before anything is allocated */
    uint64_t bytes = eml_dtype_size(t->dtype);
    for (int d = 0; d < t->rank; d++)
        bytes = t->dims[d] && bytes > UINT64_MAX / (uint64_t)t->dims[d]
                    ? UINT64_MAX
                    : bytes * (uint64_t)t->dims[d];
    if (bytes > eml_env_max_alloc_bytes(s->env))
        return cli_error(CLI_FAIL, "input '%s' %s%s is too large to generate", v.name,
                         eml_dtype_name(t->dtype),
                         cli_dims_str(got, sizeof(got), t->dims, t->rank));
    s->generated[i] = calloc(1, bytes ? (size_t)bytes : 1);
    if (!s->generated[i])
        return cli_error(CLI_FAIL, "out of memory");
    t->data = s->generated[i];
    if (is_float(t->dtype))
        fill_normal(t, rng);
    return CLI_OK;
}

/* The feeds: files first, generated tensors for the rest. Also finds the batch size. */
static int prepare_inputs(const bench_options *o, bench_state *s)
{
    int rc = cli_inputs_init(&s->files, s->graph);
    if (rc == CLI_OK)
        rc = cli_inputs_assign(&s->files, s->graph, o->specs, o->n_specs, 0);
    if (rc == CLI_OK)
        rc = check_shape_names(o, s);
    if (rc == CLI_OK)
        rc = cli_inputs_read(&s->files, s->env, s->graph, NULL, NULL);
    if (rc != CLI_OK)
        return rc;
    size_t n = s->files.count;
    s->feeds = calloc(n + 1, sizeof(*s->feeds));
    s->generated = calloc(n + 1, sizeof(*s->generated));
    if (!s->feeds || !s->generated)
        return cli_error(CLI_FAIL, "out of memory");
    uint64_t rng = BENCH_SEED;
    for (size_t i = 0; i < n && rc == CLI_OK; i++) {
        if (s->files.files[i])
            s->feeds[i] = s->files.tensors[i];
        else
            rc = generate_input(o, s, i, &rng);
    }
    /* the batch: dim 0 of the first fed input whose model declares that dim dynamic */
    s->batch = 1;
    snprintf(s->batch_note, sizeof(s->batch_note), "no fed input has a dynamic first dim");
    for (size_t i = 0; i < n && rc == CLI_OK; i++) {
        eml_value_info v;
        if (!s->feeds[i].data || eml_graph_input(s->graph, i, &v) != EML_OK || v.rank < 1 ||
            v.dims[0] >= 0 || s->feeds[i].rank < 1)
            continue;
        s->batch = s->feeds[i].dims[0];
        snprintf(s->batch_note, sizeof(s->batch_note), "dim 0 of input '%s'%s%s%s", v.name,
                 v.dim_names[0] && v.dim_names[0][0] ? " ('" : "",
                 v.dim_names[0] && v.dim_names[0][0] ? v.dim_names[0] : "",
                 v.dim_names[0] && v.dim_names[0][0] ? "')" : "");
        break;
    }
    return rc;
}

/* ---- timing ---- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int run_once(bench_state *s, double *ms)
{
    eml_diag diag;
    eml_diag_init(&diag);
    double t0 = now_s();
    eml_status st = eml_session_run(s->session, s->feeds, s->files.count, &diag);
    double t1 = now_s();
    if (st != EML_OK)
        return cli_error_diag(&diag, st, NULL);
    *ms = (t1 - t0) * 1e3;
    return CLI_OK;
}

static int measure(const bench_options *o, bench_state *s)
{
    double ms;
    for (long k = 0; k < o->warmup; k++)
        if (run_once(s, &ms) != CLI_OK)
            return CLI_FAIL;
    long cap = o->seconds > 0 ? 1024 : o->runs;
    s->ms = malloc((size_t)cap * sizeof(*s->ms));
    if (!s->ms)
        return cli_error(CLI_FAIL, "out of memory");
    double start = now_s(), end = start;
    for (;;) {
        if (run_once(s, &ms) != CLI_OK)
            return CLI_FAIL;
        end = now_s();
        s->ms[s->n_ms++] = ms;
        if (o->seconds > 0 ? end - start >= o->seconds : s->n_ms == o->runs)
            break;
        if (s->n_ms == cap) {
            if (cap == BENCH_MAX_SAMPLES)
                break;
            cap = cap * 2 < BENCH_MAX_SAMPLES ? cap * 2 : BENCH_MAX_SAMPLES;
            double *grown = realloc(s->ms, (size_t)cap * sizeof(*s->ms));
            if (!grown)
                return cli_error(CLI_FAIL, "out of memory");
            s->ms = grown;
        }
    }
    s->total_s = end - start;
    return CLI_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples: the smallest value with at least pct% of the
 * samples at or below it. */
static double percentile(const double *sorted, long n, int pct)
{
    long rank = ((long)pct * n + 99) / 100;
    return sorted[rank > 0 ? rank - 1 : 0];
}

/* ---- the machine ---- */

/* The value of the first "key<spaces/tabs>: value" line of /proc/cpuinfo, or "". */
static void cpuinfo_field(const char *key, char *out, size_t cap)
{
    out[0] = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[8192];
    size_t n = strlen(key);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, n) != 0 || (line[n] != ' ' && line[n] != '\t' && line[n] != ':'))
            continue;
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t')
            v++;
        v[strcspn(v, "\n")] = 0;
        snprintf(out, cap, "%s", v);
        break;
    }
    fclose(f);
}

static int has_word(const char *list, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = list; (p = strstr(p, word)) != NULL; p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
            return 1;
    return 0;
}

/* The widest kernel ISA class the CPU offers per /proc/cpuinfo (names as EML_ISA takes them),
 * capped by EML_ISA the way the library caps it; NULL when cpuinfo says nothing. */
static const char *cpu_isa(void)
{
    static const char *x86[] = {"ref", "avx2", "avx512", "avx512vnni"};
    static const char *arm[] = {"ref", "neon", "neondot", "neonfp16"};
    char flags[8192];
    const char **chain = x86;
    int level = 0;
    cpuinfo_field("flags", flags, sizeof(flags));
    if (flags[0]) {
        if (has_word(flags, "avx2") && has_word(flags, "fma"))
            level = 1;
        if (level == 1 && has_word(flags, "avx512f") && has_word(flags, "avx512bw") &&
            has_word(flags, "avx512vl") && has_word(flags, "avx512dq"))
            level = 2;
        if (level == 2 && has_word(flags, "avx512_vnni"))
            level = 3;
    } else {
        cpuinfo_field("Features", flags, sizeof(flags));
        if (!flags[0])
            return NULL;
        chain = arm;
        if (has_word(flags, "asimd"))
            level = 1;
        if (level == 1 && has_word(flags, "asimddp"))
            level = 2;
        if (level == 2 && has_word(flags, "asimdhp"))
            level = 3;
    }
    const char *cap = getenv("EML_ISA");
    if (cap && *cap && strcmp(cap, "native") != 0) {
        int cap_level = 0; /* an unknown value means ref, as in the library */
        for (int k = 0; k < 4; k++)
            if (strcmp(cap, chain[k]) == 0)
                cap_level = k;
        if (cap_level < level)
            level = cap_level;
    }
    return chain[level];
}

static uint64_t peak_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
#ifdef __APPLE__
    return (uint64_t)ru.ru_maxrss; /* bytes there, KiB on Linux */
#else
    return (uint64_t)ru.ru_maxrss * 1024u;
#endif
}

/* ---- report ---- */

typedef struct bench_report {
    double p50, p90, p99, min, max, mean, throughput;
    uint64_t arena_bytes, peak_rss_bytes;
    uint32_t threads;
    char cpu[256];
    const char *isa;
} bench_report;

static const char *input_source(const bench_state *s, size_t i)
{
    return s->files.files[i] ? "file" : s->feeds[i].data ? "generated" : "default";
}

static void print_json(const bench_options *o, const bench_state *s, const bench_report *r,
                       const bench_profile *prof)
{
    FILE *f = stdout;
    fputs("{\"runtime\": \"edgeml\", \"version\": \"" EML_VERSION_STRING "\", \"model\": ", f);
    cli_json_string(f, o->model);
    fprintf(f, ", \"threads\": %u, \"warmup\": %ld, \"runs\": %ld, \"total_s\": %.6f", r->threads,
            o->warmup, s->n_ms, s->total_s);
    fprintf(f,
            ", \"latency_ms\": {\"p50\": %.6f, \"p90\": %.6f, \"p99\": %.6f, \"min\": %.6f, "
            "\"mean\": %.6f, \"max\": %.6f}, \"percentiles\": \"nearest-rank\"",
            r->p50, r->p90, r->p99, r->min, r->mean, r->max);
    fprintf(f, ", \"throughput_ips\": %.6f, \"batch\": %lld, \"batch_from\": ", r->throughput,
            (long long)s->batch);
    cli_json_string(f, s->batch_note);
    fprintf(f, ", \"arena_bytes\": %llu, \"peak_rss_bytes\": %llu",
            (unsigned long long)r->arena_bytes, (unsigned long long)r->peak_rss_bytes);
    fprintf(f, ", \"optimize_level\": %d, \"disabled_passes\": ", o->opt.level);
    cli_json_string(f, o->opt.disable);
    fprintf(f, ", \"seed\": %u, \"inputs\": [", BENCH_SEED);
    for (size_t i = 0; i < s->files.count; i++) {
        eml_value_info v;
        if (eml_graph_input(s->graph, i, &v) != EML_OK)
            continue;
        const eml_tensor *t = &s->feeds[i];
        fputs(i ? ", {\"name\": " : "{\"name\": ", f);
        cli_json_string(f, v.name);
        fputs(", \"dtype\": ", f);
        cli_json_string(f, eml_dtype_name(t->data ? t->dtype : v.dtype));
        fputs(", \"shape\": ", f);
        if (t->data) {
            fputc('[', f);
            for (int d = 0; d < t->rank; d++)
                fprintf(f, d ? ", %lld" : "%lld", (long long)t->dims[d]);
            fputc(']', f);
        } else {
            fputs("null", f);
        }
        fprintf(f, ", \"source\": \"%s\"", input_source(s, i));
        if (s->files.files[i]) {
            fputs(", \"file\": ", f);
            cli_json_string(f, s->files.files[i]);
        }
        fputc('}', f);
    }
    fputs("], \"cpu\": ", f);
    cli_json_string(f, r->cpu[0] ? r->cpu : "unknown");
    if (r->isa) {
        fputs(", \"isa\": ", f);
        cli_json_string(f, r->isa);
    }
    if (prof)
        bench_profile_print_json(f, prof);
    fputs("}\n", f);
}

static void print_text(const bench_options *o, const bench_state *s, const bench_report *r)
{
    printf("model: %s\n", o->model);
    printf("inputs:\n");
    for (size_t i = 0; i < s->files.count; i++) {
        eml_value_info v;
        char shape[256];
        if (eml_graph_input(s->graph, i, &v) != EML_OK)
            continue;
        const eml_tensor *t = &s->feeds[i];
        if (!t->data)
            printf("  %s  %s%s  its default\n", v.name, eml_dtype_name(v.dtype),
                   cli_shape_str(shape, sizeof(shape), &v));
        else if (s->files.files[i])
            printf("  %s  %s%s  from %s\n", v.name, eml_dtype_name(t->dtype),
                   cli_dims_str(shape, sizeof(shape), t->dims, t->rank), s->files.files[i]);
        else if (is_float(t->dtype))
            printf("  %s  %s%s  generated: standard normal, seed %u\n", v.name,
                   eml_dtype_name(t->dtype), cli_dims_str(shape, sizeof(shape), t->dims, t->rank),
                   BENCH_SEED);
        else
            printf("  %s  %s%s  generated: zeros\n", v.name, eml_dtype_name(t->dtype),
                   cli_dims_str(shape, sizeof(shape), t->dims, t->rank));
    }
    if (o->opt.level == 0)
        printf("graph: as loaded (--no-optimize)\n");
    else
        printf("graph: optimized at level %d%s%s\n", o->opt.level,
               o->opt.disable[0] ? ", without " : "", o->opt.disable);
    printf("threads: %u; warm-up: %ld runs; measured: %ld runs in %.4g s\n", r->threads, o->warmup,
           s->n_ms, s->total_s);
    printf("latency (ms; nearest-rank percentiles of %ld runs):\n", s->n_ms);
    const char *names[6] = {"p50", "p90", "p99", "min", "mean", "max"};
    double values[6] = {r->p50, r->p90, r->p99, r->min, r->mean, r->max};
    for (int k = 0; k < 6; k++) /* sub-millisecond models keep four significant digits */
        printf(r->min < 1.0 ? "  %s %.4g" : "  %s %.3f", names[k], values[k]);
    printf("\n");
    printf("throughput: %.2f inferences/s (batch %lld: %s)\n", r->throughput, (long long)s->batch,
           s->batch_note);
    printf("memory: arena %llu bytes planned (dynamic dims = 1); peak RSS %llu bytes (%.1f MiB)\n",
           (unsigned long long)r->arena_bytes, (unsigned long long)r->peak_rss_bytes,
           (double)r->peak_rss_bytes / (1024.0 * 1024.0));
    printf("cpu: %s%s%s\n", r->cpu[0] ? r->cpu : "unknown", r->isa ? "; isa " : "",
           r->isa ? r->isa : "");
}

static int bench_model(const bench_options *o, bench_state *s)
{
    eml_diag diag;
    eml_diag_init(&diag);
    eml_status st = eml_plan_create(s->graph, &s->plan, &diag);
    if (st == EML_OK)
        st = eml_session_create(s->plan, NULL, &s->session, &diag);
    if (st != EML_OK)
        return cli_error_diag(&diag, st, o->model);
    int rc = measure(o, s);
    if (rc != CLI_OK)
        return rc;

    bench_report r;
    memset(&r, 0, sizeof(r));
    double sum = 0;
    for (long k = 0; k < s->n_ms; k++)
        sum += s->ms[k];
    qsort(s->ms, (size_t)s->n_ms, sizeof(*s->ms), cmp_double);
    r.p50 = percentile(s->ms, s->n_ms, 50);
    r.p90 = percentile(s->ms, s->n_ms, 90);
    r.p99 = percentile(s->ms, s->n_ms, 99);
    r.min = s->ms[0];
    r.max = s->ms[s->n_ms - 1];
    r.mean = sum / (double)s->n_ms;
    r.throughput = s->total_s > 0 ? (double)s->n_ms * (double)s->batch / s->total_s : 0;
    eml_plan_memory mem;
    eml_plan_memory_get(s->plan, &mem);
    r.arena_bytes = mem.arena_bytes;
    r.peak_rss_bytes = peak_rss_bytes();
    r.threads = eml_env_threads(s->env);
    cpuinfo_field("model name", r.cpu, sizeof(r.cpu));
    if (!r.cpu[0])
        cpuinfo_field("Hardware", r.cpu, sizeof(r.cpu));
    r.isa = cpu_isa();
    /* profiled after the latency runs, on its own session, so that those stay unprofiled */
    bench_profile prof;
    memset(&prof, 0, sizeof(prof));
    if (o->profile) {
        rc = bench_profile_run(s->plan, s->env, s->feeds, s->files.count, s->n_ms, &prof);
        if (rc != CLI_OK) {
            bench_profile_free(&prof);
            return rc;
        }
    }
    if (o->json) {
        print_json(o, s, &r, o->profile ? &prof : NULL);
    } else {
        print_text(o, s, &r);
        if (o->profile)
            bench_profile_print_text(stdout, &prof);
    }
    bench_profile_free(&prof);
    return CLI_OK;
}

int cli_bench(int argc, char **argv)
{
    bench_options o;
    bench_state s;
    memset(&s, 0, sizeof(s));
    int rc = parse_args(argc, argv, &o);
    if (rc == CLI_OK)
        rc = cli_load_model(o.model, (uint32_t)o.threads, &s.env, &s.graph);
    if (rc == CLI_OK)
        rc = cli_optimize_graph(s.graph, &o.opt, NULL, o.model);
    if (rc == CLI_OK)
        rc = prepare_inputs(&o, &s);
    if (rc == CLI_OK)
        rc = bench_model(&o, &s);
    for (size_t i = 0; s.generated && i < s.files.count; i++)
        free(s.generated[i]);
    free(s.generated);
    free(s.feeds);
    free(s.ms);
    cli_inputs_free(&s.files, s.env);
    free(o.specs);
    free(o.shapes);
    eml_session_destroy(s.session);
    eml_plan_destroy(s.plan);
    eml_graph_destroy(s.graph);
    eml_env_destroy(s.env);
    return rc;
}
