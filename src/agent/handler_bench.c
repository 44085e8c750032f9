/* The handler's "model.bench": times a deployed model on this node on generated inputs and reports
 * latency percentiles, throughput, memory and, where the node has a power sensor, energy.
 *
 * Command: {"op": "model.bench", "model": "m", "version"?: N, "runs"?: 100, "warmup"?: 5,
 *           "seconds"?: S, "batch"?: 1, "threads"?: T}
 *   runs     measured runs, 1..100000 (default 100)
 *   warmup   unmeasured runs first, 0..10000 (default 5)
 *   seconds  time budget of the measured runs, (0, 60]; alone: runs until it is spent (at most
 *            100000 runs); with runs: whichever comes first
 *   batch    rows per run: the first dimension of every input whose first dimension is dynamic,
 *            1..65536 (default 1); other dynamic dimensions are 1. A model whose inputs have a
 *            fixed first dimension runs with that many rows, and another batch is refused.
 *   threads  1 (one thread) or the agent's thread count (default: the agent's pool)
 * HTTP: POST /v2/edgeml/models/{m}[/versions/{v}]/bench with that JSON (without op/model) or an
 * empty body.
 *
 * Reply (200), keys stable; numbers are measured in this call, never modelled:
 * {"model": "m", "version": "1", "device_type": "x86_64-cpu", "cpu_model": "...",
 *  "threads": 2, "batch": 1,
 *  "inputs": [{"name": "input", "datatype": "FP32", "shape": [1,1,28,28],
 *              "data": "random_normal" | "zeros" | "default"}],
 *  "warmup": 5, "runs": 100,            runs actually measured
 *  "stopped_by": "runs" | "seconds" | "max_duration",
 *  "duration_s": 0.05,                  wall time of the measured runs
 *  "latency_ms": {"min", "mean", "p50", "p90", "p99", "max"},
 *  "throughput": {"inferences_per_s": rows*runs/duration_s, "runs_per_s": runs/duration_s},
 *  "memory": {"arena_bytes": the plan's activation arena for its default shapes (dynamic dims
 *                            1; a larger batch allocates its activations at run time),
 *             "rss_before_bytes", "rss_peak_bytes", "rss_growth_bytes": peak - before
 *             (process-wide, sampled every 10 ms and at the end: this bench's session, and
 *             whatever else the agent did meanwhile)},
 *  "energy": {"source": "rapl" | "hwmon" | "power_supply" | "unavailable",
 *             "scope": what the sensor covers (a whole CPU package or board: other processes
 *                      count too), or "unavailable",
 *             "joules", "watts", "joules_per_inference": numbers, or "unavailable" each}}
 * Errors: 400 bad options (absurd runs, seconds, batch, threads), 404 unknown model, 503 busy
 * (one bench at a time per process) or out of memory, the run's status otherwise.
 *
 * Where it runs: on the request's own thread (libmicrohttpd runs one thread per connection), on
 * its own session of the plan the model's batcher serves, so inference requests of other
 * connections keep going (they share the CPU: a bench measures a busy node as busy). A bench is
 * bounded: at most BENCH_MAX_SECONDS of wall time, warmup included, whatever the options say, and
 * one at a time per process, so it can never hold a connection or the node forever. The model is
 * held in the cache during the bench (it cannot be unloaded under it). Sensors are read under
 * /sys, or under $EML_SYSFS_ROOT when set (the tests point it at a made-up tree). */
#include <dirent.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "agent/agent.h"
#include "core/core.h"
#include "serve/node_status.h"

#define BENCH_MAX_RUNS 100000
#define BENCH_MAX_WARMUP 10000
#define BENCH_MAX_SECONDS 60.0
#define BENCH_MAX_BATCH 65536
#define BENCH_DEFAULT_RUNS 100
#define BENCH_DEFAULT_WARMUP 5
/* Largest generated input: a bench must not be a way to make the node allocate gigabytes. */
#define BENCH_MAX_INPUT_BYTES (256ull << 20)
/* RSS and power are sampled between runs at most this often, so sampling costs no throughput. */
#define BENCH_SAMPLE_NS 10000000ull
#define BENCH_MAX_SENSORS 16
#define BENCH_SEED 1234u

/* One bench at a time per process: two would measure each other. */
static atomic_flag bench_running = ATOMIC_FLAG_INIT;

typedef struct bench_opts {
    long runs, warmup, batch, threads;
    double seconds; /* 0: no budget but the maximum */
    int have_runs;
} bench_opts;

/* ---- energy: real sensors only ---- */

typedef enum { SENSOR_NONE, SENSOR_RAPL, SENSOR_HWMON, SENSOR_SUPPLY } sensor_kind;

typedef struct energy_meter {
    sensor_kind kind;
    int n;
    char path[BENCH_MAX_SENSORS][400];
    double range_uj[BENCH_MAX_SENSORS]; /* RAPL counters wrap at this */
    double last_uj[BENCH_MAX_SENSORS];
    double joules; /* integrated so far */
    double last_w; /* power sensors: the previous sample */
    uint64_t last_ns, first_ns;
} energy_meter;

static int read_double(const char *path, double *v)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char buf[64];
    int ok = fgets(buf, sizeof(buf), f) != NULL;
    fclose(f);
    if (!ok)
        return 0;
    char *end;
    *v = strtod(buf, &end);
    return end != buf;
}

static void read_word(const char *path, char *buf, size_t cap)
{
    buf[0] = 0;
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (!fgets(buf, (int)cap, f))
        buf[0] = 0;
    fclose(f);
    buf[strcspn(buf, "\n")] = 0;
}

/* Where /sys is: EML_SYSFS_ROOT when set (tests give a made-up tree of sensor files), else /sys. */
static const char *sysfs(void)
{
    const char *r = getenv("EML_SYSFS_ROOT");
    return r && r[0] && strlen(r) < 200 ? r : "/sys";
}

/* RAPL packages: /sys/class/powercap/intel-rapl:N (not the :N:M subzones, already counted in
 * their package). Also AMD's, which Linux exposes under the same name. */
static void find_rapl(energy_meter *m)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/class/powercap", sysfs());
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && m->n < BENCH_MAX_SENSORS) {
        const char *colon = strchr(e->d_name, ':');
        if (strncmp(e->d_name, "intel-rapl:", 11) != 0 || !colon || strchr(colon + 1, ':'))
            continue;
        char *p = m->path[m->n];
        double uj, range = 0;
        snprintf(p, sizeof(m->path[0]), "%s/%.64s/energy_uj", dir, e->d_name);
        if (!read_double(p, &uj))
            continue; /* root-only on most kernels since 2020 */
        char rp[400];
        snprintf(rp, sizeof(rp), "%s/%.64s/max_energy_range_uj", dir, e->d_name);
        if (!read_double(rp, &range))
            range = 0;
        m->range_uj[m->n] = range;
        m->last_uj[m->n] = uj;
        m->n++;
    }
    closedir(d);
    if (m->n)
        m->kind = SENSOR_RAPL;
}

static void find_hwmon(energy_meter *m)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/class/hwmon", sysfs());
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && m->n < BENCH_MAX_SENSORS) {
        if (e->d_name[0] == '.')
            continue;
        for (int k = 1; k <= 4 && m->n < BENCH_MAX_SENSORS; k++) {
            char *p = m->path[m->n];
            double uw;
            snprintf(p, sizeof(m->path[0]), "%s/%.64s/power%d_input", dir, e->d_name, k);
            if (read_double(p, &uw))
                m->n++;
        }
    }
    closedir(d);
    if (m->n)
        m->kind = SENSOR_HWMON;
}

/* power_now of supplies that power the node now: a discharging battery (a charging one reports
 * what goes into it, not what the node draws). */
static void find_supply(energy_meter *m)
{
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/class/power_supply", sysfs());
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) && m->n < BENCH_MAX_SENSORS) {
        if (e->d_name[0] == '.')
            continue;
        char sp[400], status[64];
        snprintf(sp, sizeof(sp), "%s/%.64s/status", dir, e->d_name);
        read_word(sp, status, sizeof(status));
        if (status[0] && strcmp(status, "Discharging") != 0)
            continue;
        char *p = m->path[m->n];
        double uw;
        snprintf(p, sizeof(m->path[0]), "%s/%.64s/power_now", dir, e->d_name);
        if (read_double(p, &uw))
            m->n++;
    }
    closedir(d);
    if (m->n)
        m->kind = SENSOR_SUPPLY;
}

/* Watts now, summed over the power sensors; negative when a read fails. */
static double read_watts(const energy_meter *m)
{
    double w = 0;
    for (int i = 0; i < m->n; i++) {
        double uw;
        if (!read_double(m->path[i], &uw))
            return -1;
        w += uw / 1e6;
    }
    return w;
}

static void meter_start(energy_meter *m)
{
    memset(m, 0, sizeof(*m));
    find_rapl(m);
    if (!m->n)
        find_hwmon(m);
    if (!m->n)
        find_supply(m);
    m->first_ns = m->last_ns = eml__now_ns();
    if (m->kind == SENSOR_HWMON || m->kind == SENSOR_SUPPLY) {
        m->last_w = read_watts(m);
        if (m->last_w < 0)
            m->kind = SENSOR_NONE;
    }
}

/* Adds the energy since the last sample: RAPL's counters directly (a wrap adds the range), power
 * sensors by the trapezoid rule. A failed read turns the meter off: no partial figure. */
static void meter_sample(energy_meter *m)
{
    uint64_t now = eml__now_ns();
    if (m->kind == SENSOR_RAPL) {
        for (int i = 0; i < m->n; i++) {
            double uj;
            if (!read_double(m->path[i], &uj)) {
                m->kind = SENSOR_NONE;
                return;
            }
            double delta = uj - m->last_uj[i];
            if (delta < 0)
                delta += m->range_uj[i];
            if (delta < 0) {
                m->kind = SENSOR_NONE;
                return;
            }
            m->joules += delta / 1e6;
            m->last_uj[i] = uj;
        }
    } else if (m->kind == SENSOR_HWMON || m->kind == SENSOR_SUPPLY) {
        double w = read_watts(m);
        if (w < 0) {
            m->kind = SENSOR_NONE;
            return;
        }
        m->joules += 0.5 * (w + m->last_w) * (double)(now - m->last_ns) / 1e9;
        m->last_w = w;
    }
    m->last_ns = now;
}

/* ---- options and inputs ---- */

/* An optional integer option in [lo, hi]. Returns EML_OK or EML_EINVAL. */
static eml_status int_opt(const cJSON *cmd, const char *key, long lo, long hi, long *v, int *given,
                          eml_diag *d)
{
    const cJSON *j = cJSON_GetObjectItemCaseSensitive(cmd, key);
    if (given)
        *given = 0;
    if (!j || cJSON_IsNull(j))
        return EML_OK;
    double x = cJSON_IsNumber(j) ? j->valuedouble : NAN;
    if (!(x >= (double)lo && x <= (double)hi && x == floor(x)))
        return eml__diag(d, EML_EINVAL, "\"%s\" must be an integer from %ld to %ld", key, lo, hi);
    *v = (long)x;
    if (given)
        *given = 1;
    return EML_OK;
}

static eml_status parse_opts(eml_agent *a, const cJSON *cmd, bench_opts *o, eml_diag *d)
{
    memset(o, 0, sizeof(*o));
    o->runs = BENCH_DEFAULT_RUNS;
    o->warmup = BENCH_DEFAULT_WARMUP;
    o->batch = 0;
    eml_status st;
    if ((st = int_opt(cmd, "runs", 1, BENCH_MAX_RUNS, &o->runs, &o->have_runs, d)) != EML_OK ||
        (st = int_opt(cmd, "warmup", 0, BENCH_MAX_WARMUP, &o->warmup, NULL, d)) != EML_OK ||
        (st = int_opt(cmd, "batch", 1, BENCH_MAX_BATCH, &o->batch, NULL, d)) != EML_OK ||
        (st = int_opt(cmd, "threads", 0, 4096, &o->threads, NULL, d)) != EML_OK)
        return st;
    uint32_t pool = eml_env_threads(a->env);
    if (o->threads > 1 && (uint32_t)o->threads != pool)
        return eml__diag(d, EML_EINVAL,
                         "\"threads\" must be 1 or the agent's %u (a bench runs on one thread or "
                         "on the agent's pool)",
                         pool);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(cmd, "seconds");
    if (s && !cJSON_IsNull(s)) {
        if (!cJSON_IsNumber(s) || !(s->valuedouble > 0 && s->valuedouble <= BENCH_MAX_SECONDS))
            return eml__diag(d, EML_EINVAL, "\"seconds\" must be a number in (0, %g]",
                             BENCH_MAX_SECONDS);
        o->seconds = s->valuedouble;
        if (!o->have_runs)
            o->runs = BENCH_MAX_RUNS;
    }
    return EML_OK;
}

typedef struct bench_inputs {
    size_t n;
    eml_tensor *feeds;
    const char **kind; /* "random_normal", "zeros", "default" */
    int64_t rows;
} bench_inputs;

static void inputs_free(bench_inputs *in)
{
    for (size_t i = 0; in->feeds && i < in->n; i++)
        free(in->feeds[i].data);
    free(in->feeds);
    free((void *)in->kind);
    memset(in, 0, sizeof(*in));
}

/* Builds one tensor per graph input: dynamic first dimension → batch, other dynamic dims → 1;
 * float inputs random normal (fixed seed), others zeros (random integers could be out-of-range
 * indices). Inputs with a default are left to it. */
static eml_status make_inputs(const eml_graph *g, long batch, bench_inputs *in, eml_diag *d)
{
    memset(in, 0, sizeof(*in));
    in->n = eml_graph_input_count(g);
    in->feeds = calloc(in->n ? in->n : 1, sizeof(eml_tensor));
    in->kind = calloc(in->n ? in->n : 1, sizeof(char *));
    if (!in->feeds || !in->kind)
        return eml__diag(d, EML_ENOMEM, "out of memory");
    eml_mt19937 mt;
    eml__mt_seed(&mt, BENCH_SEED);
    for (size_t i = 0; i < in->n; i++) {
        eml_value_info v;
        eml_status st = eml_graph_input(g, i, &v);
        if (st != EML_OK)
            return eml__diag(d, st, "input %zu of the graph is missing", i);
        eml_tensor *t = &in->feeds[i];
        if (v.has_default) {
            in->kind[i] = "default";
            continue;
        }
        if (v.rank < 0 || !eml_dtype_is_supported(v.dtype))
            return eml__diag(d, EML_EUNSUPPORTED,
                             "input '%.64s': unknown rank or type %s, cannot generate data", v.name,
                             eml_dtype_name(v.dtype));
        t->dtype = v.dtype;
        t->rank = v.rank;
        uint64_t count = 1;
        for (int k = 0; k < v.rank; k++) {
            int64_t dim = v.dims[k];
            if (dim < 0)
                dim = k == 0 ? (batch ? batch : 1) : 1;
            t->dims[k] = dim;
            count *= (uint64_t)(dim ? dim : 1);
        }
        if (v.rank > 0 && !in->rows)
            in->rows = t->dims[0];
        if (v.rank > 0 && v.dims[0] >= 0 && batch && batch != v.dims[0])
            return eml__diag(d, EML_EINVAL,
                             "input '%.64s' has a fixed first dimension of %lld: \"batch\" must "
                             "be %lld or absent",
                             v.name, (long long)v.dims[0], (long long)v.dims[0]);
        if (count > BENCH_MAX_INPUT_BYTES / eml_dtype_size(v.dtype))
            return eml__diag(d, EML_EINVAL, "input '%.64s' would take more than %llu bytes", v.name,
                             (unsigned long long)BENCH_MAX_INPUT_BYTES);
        t->data = calloc(count ? count : 1, eml_dtype_size(v.dtype));
        if (!t->data)
            return eml__diag(d, EML_ENOMEM, "out of memory");
        in->kind[i] = "zeros";
        if (v.dtype == EML_DTYPE_F32 || v.dtype == EML_DTYPE_F64) {
            in->kind[i] = "random_normal";
            for (int64_t e = 0; e < eml_tensor_count(t); e++) {
                /* Box-Muller */
                double u1 = eml__mt_next_double(&mt), u2 = eml__mt_next_double(&mt);
                double z = sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
                if (v.dtype == EML_DTYPE_F32)
                    ((float *)t->data)[e] = (float)z;
                else
                    ((double *)t->data)[e] = z;
            }
        }
    }
    if (!in->rows)
        in->rows = 1;
    return EML_OK;
}

/* ---- the measurement ---- */

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Nearest-rank percentile of sorted values. */
static double percentile(const double *sorted, long n, double pct)
{
    long k = (long)ceil(pct / 100.0 * (double)n) - 1;
    if (k < 0)
        k = 0;
    if (k >= n)
        k = n - 1;
    return sorted[k];
}

static uint64_t max_rss_bytes(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_maxrss * 1024; /* kilobytes on Linux */
}

typedef struct bench_result {
    double *ms;
    long n_ms;
    double duration_s;
    const char *stopped_by;
    uint64_t rss_before, rss_peak;
    energy_meter meter;
    uint32_t threads;
} bench_result;

static eml_status measure(eml_agent *a, const eml_plan *plan, const bench_opts *o,
                          const bench_inputs *in, bench_result *res, eml_diag *d)
{
    eml_session_options so;
    eml_session_options_init(&so);
    so.n_threads = o->threads == 1 ? 1 : 0;
    res->threads = o->threads == 1 ? 1 : eml_env_threads(a->env);
    eml_session *session = NULL;
    res->ms = malloc((size_t)o->runs * sizeof(double));
    if (!res->ms)
        return eml__diag(d, EML_ENOMEM, "out of memory");
    res->rss_before = eml__rss_bytes();
    uint64_t maxrss_before = max_rss_bytes();
    res->rss_peak = res->rss_before;
    uint64_t start = eml__now_ns();
    uint64_t hard_end = start + (uint64_t)(BENCH_MAX_SECONDS * 1e9);
    eml_status st = eml_session_create(plan, &so, &session, d);
    res->stopped_by = "runs";
    for (long i = 0; st == EML_OK && i < o->warmup; i++) {
        st = eml_session_run(session, in->feeds, in->n, d);
        if (eml__now_ns() >= hard_end)
            break;
    }
    if (st != EML_OK)
        goto done;
    meter_start(&res->meter);
    uint64_t t0 = eml__now_ns(), last_sample = t0;
    uint64_t budget_end = o->seconds > 0 ? t0 + (uint64_t)(o->seconds * 1e9) : hard_end;
    uint64_t t_end = t0;
    while (res->n_ms < o->runs) {
        uint64_t a0 = eml__now_ns();
        if (a0 >= hard_end && res->n_ms > 0) {
            res->stopped_by = "max_duration";
            break;
        }
        if (a0 >= budget_end && res->n_ms > 0) {
            res->stopped_by = "seconds";
            break;
        }
        st = eml_session_run(session, in->feeds, in->n, d);
        uint64_t a1 = eml__now_ns();
        if (st != EML_OK)
            goto done;
        res->ms[res->n_ms++] = (double)(a1 - a0) / 1e6;
        t_end = a1;
        if (a1 - last_sample >= BENCH_SAMPLE_NS) {
            uint64_t rss = eml__rss_bytes();
            if (rss > res->rss_peak)
                res->rss_peak = rss;
            meter_sample(&res->meter);
            last_sample = eml__now_ns();
        }
    }
    meter_sample(&res->meter);
    res->duration_s = (double)(t_end - t0) / 1e9;
    uint64_t rss = eml__rss_bytes();
    if (rss > res->rss_peak)
        res->rss_peak = rss;
    /* A peak between samples shows in the process's high-water mark when it beat the old one. */
    uint64_t maxrss_after = max_rss_bytes();
    if (maxrss_after > maxrss_before && maxrss_after > res->rss_peak)
        res->rss_peak = maxrss_after;
done:
    eml_session_destroy(session);
    return st;
}

/* ---- the reply ---- */

static void add_or_unavailable(cJSON *o, const char *key, int has, double v)
{
    if (has)
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddStringToObject(o, key, "unavailable");
}

static cJSON *energy_json(const energy_meter *m, double rows_total)
{
    cJSON *e = cJSON_CreateObject();
    if (!e)
        return NULL;
    static const char *source[] = {"unavailable", "rapl", "hwmon", "power_supply"};
    static const char *scope[] = {
        "unavailable",
        "CPU packages (RAPL): other processes on the node count too",
        "the hwmon power sensors' rails: other processes on the node count too",
        "the discharging battery: the whole node",
    };
    double secs = (double)(m->last_ns - m->first_ns) / 1e9;
    int has = m->kind != SENSOR_NONE && secs > 0;
    cJSON_AddStringToObject(e, "source", source[has ? m->kind : 0]);
    cJSON_AddStringToObject(e, "scope", scope[has ? m->kind : 0]);
    add_or_unavailable(e, "joules", has, m->joules);
    add_or_unavailable(e, "watts", has, has ? m->joules / secs : 0);
    add_or_unavailable(e, "joules_per_inference", has && rows_total > 0,
                       rows_total > 0 ? m->joules / rows_total : 0);
    return e;
}

static cJSON *make_reply(const char *model, int64_t version, const eml_graph *g,
                         const eml_plan *plan, const bench_opts *o, const bench_inputs *in,
                         bench_result *res)
{
    cJSON *r = cJSON_CreateObject();
    if (!r)
        return NULL;
    eml__node_status ns;
    eml__node_status_read(&ns);
    char vs[24];
    snprintf(vs, sizeof(vs), "%lld", (long long)version);
    cJSON_AddStringToObject(r, "model", model);
    cJSON_AddStringToObject(r, "version", vs);
    cJSON_AddStringToObject(r, "device_type", ns.device_type);
    cJSON_AddStringToObject(r, "cpu_model", ns.cpu_model[0] ? ns.cpu_model : "unavailable");
    cJSON_AddNumberToObject(r, "threads", res->threads);
    cJSON_AddNumberToObject(r, "batch", (double)in->rows);
    cJSON *ins = cJSON_AddArrayToObject(r, "inputs");
    for (size_t i = 0; ins && i < in->n; i++) {
        eml_value_info v;
        if (eml_graph_input(g, i, &v) != EML_OK)
            continue;
        cJSON *t = cJSON_CreateObject();
        if (!t || !cJSON_AddItemToArray(ins, t)) {
            cJSON_Delete(t);
            break;
        }
        const char *dt = eml__oip_dtype_name(v.dtype);
        cJSON_AddStringToObject(t, "name", v.name);
        cJSON_AddStringToObject(t, "datatype", dt ? dt : eml_dtype_name(v.dtype));
        cJSON *shape = cJSON_AddArrayToObject(t, "shape");
        const eml_tensor *f = &in->feeds[i];
        for (int k = 0; shape && f->data && k < f->rank; k++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)f->dims[k]));
        cJSON_AddStringToObject(t, "data", in->kind[i]);
    }
    cJSON_AddNumberToObject(r, "warmup", (double)o->warmup);
    cJSON_AddNumberToObject(r, "runs", (double)res->n_ms);
    cJSON_AddStringToObject(r, "stopped_by", res->stopped_by);
    cJSON_AddNumberToObject(r, "duration_s", res->duration_s);

    long n = res->n_ms;
    double sum = 0;
    for (long i = 0; i < n; i++)
        sum += res->ms[i];
    qsort(res->ms, (size_t)n, sizeof(double), cmp_double);
    cJSON *lat = cJSON_AddObjectToObject(r, "latency_ms");
    if (lat) {
        cJSON_AddNumberToObject(lat, "min", res->ms[0]);
        cJSON_AddNumberToObject(lat, "mean", sum / (double)n);
        cJSON_AddNumberToObject(lat, "p50", percentile(res->ms, n, 50));
        cJSON_AddNumberToObject(lat, "p90", percentile(res->ms, n, 90));
        cJSON_AddNumberToObject(lat, "p99", percentile(res->ms, n, 99));
        cJSON_AddNumberToObject(lat, "max", res->ms[n - 1]);
    }
    double rows_total = (double)in->rows * (double)n;
    /* A run shorter than the clock's resolution: fall back on the summed latencies. */
    double secs = res->duration_s > 0 ? res->duration_s : sum / 1e3;
    cJSON *tp = cJSON_AddObjectToObject(r, "throughput");
    if (tp) {
        cJSON_AddNumberToObject(tp, "inferences_per_s", secs > 0 ? rows_total / secs : 0);
        cJSON_AddNumberToObject(tp, "runs_per_s", secs > 0 ? (double)n / secs : 0);
    }
    cJSON *mem = cJSON_AddObjectToObject(r, "memory");
    if (mem) {
        eml_plan_memory pm;
        eml_plan_memory_get(plan, &pm);
        cJSON_AddNumberToObject(mem, "arena_bytes", (double)pm.arena_bytes);
        cJSON_AddNumberToObject(mem, "rss_before_bytes", (double)res->rss_before);
        cJSON_AddNumberToObject(mem, "rss_peak_bytes", (double)res->rss_peak);
        cJSON_AddNumberToObject(mem, "rss_growth_bytes", (double)(res->rss_peak - res->rss_before));
    }
    cJSON *e = energy_json(&res->meter, rows_total);
    if (e)
        cJSON_AddItemToObject(r, "energy", e);
    if (!ins || !lat || !tp || !mem || !e) {
        cJSON_Delete(r);
        return NULL;
    }
    return r;
}

void eml__op_bench(eml_agent *a, const eml__request *req, eml__reply *r)
{
    eml_diag d;
    eml_diag_init(&d);
    const char *model;
    int64_t version;
    bench_opts o;
    bench_inputs in;
    bench_result res;
    memset(&in, 0, sizeof(in));
    memset(&res, 0, sizeof(res));
    eml__served *s = NULL;
    int holding = 0;
    eml_status st = eml__cmd_model(req->cmd, &model, &version, &d);
    if (st == EML_OK)
        st = parse_opts(a, req->cmd, &o, &d);
    if (st == EML_OK && atomic_flag_test_and_set(&bench_running))
        st = eml__diag(&d, EML__EBUSY, "another bench is running on this node; try later");
    else if (st == EML_OK)
        holding = 1;
    if (st == EML_OK)
        st = eml__cache_acquire(a->cache, model, version, &s, &d);
    if (st == EML_OK)
        st = make_inputs(eml__served_graph(s), o.batch, &in, &d);
    if (st == EML_OK)
        st = measure(a, eml__served_plan(s), &o, &in, &res, &d);
    cJSON *reply = NULL;
    if (st == EML_OK) {
        reply = make_reply(model, eml__served_version(s), eml__served_graph(s), eml__served_plan(s),
                           &o, &in, &res);
        if (!reply)
            st = eml__diag(&d, EML_ENOMEM, "out of memory");
    }
    free(res.ms);
    inputs_free(&in);
    if (s)
        eml__cache_release(a->cache, s);
    if (holding)
        atomic_flag_clear(&bench_running);
    if (st != EML_OK) {
        eml__reply_error(r, st, &d);
        return;
    }
    r->http_status = 200;
    r->json = reply;
}
