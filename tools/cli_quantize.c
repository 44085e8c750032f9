/* `edgeml quantize MODEL -o OUT.onnx --precision int8|int8-dynamic|fp16|mixed`: quantizes a
 * model and prints what that run measured: sizes, latencies, accuracies and per-layer SQNR. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli.h"

typedef struct quantize_args {
    const char *model, *out, *calib, *eval_data, *eval_labels;
    eml_quantize_options q;
    long calib_limit, eval_limit, threads;
    int json, bench;
    cli_data_args data;
} quantize_args;

static const char *const precision_names[] = {NULL, "int8", "int8-dynamic", "fp16", "mixed"};
static const char *const method_names[] = {"minmax", "percentile", "entropy"};

static int parse(int argc, char **argv, quantize_args *a)
{
    int i = 1;
    while (i < argc) {
        const char *v = NULL;
        int r = cli_data_option(argc, argv, &i, &a->data);
        if (r < 0)
            return CLI_USAGE;
        if (r > 0)
            continue;
        if ((r = cli_option_value(argc, argv, &i, "--output", &v)) != 0 ||
            (r = cli_option_value(argc, argv, &i, "-o", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            a->out = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--precision", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            int found = 0;
            for (int p = EML_PRECISION_INT8; p <= EML_PRECISION_MIXED && !found; p++)
                if (strcmp(v, precision_names[p]) == 0) {
                    a->q.precision = (eml_precision)p;
                    found = 1;
                }
            if (!found)
                return cli_error(CLI_USAGE,
                                 "--precision is int8, int8-dynamic, fp16 or mixed, not '%s'", v);
        } else if ((r = cli_option_value(argc, argv, &i, "--method", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            int found = 0;
            for (int m = 0; m < 3 && !found; m++)
                if (strcmp(v, method_names[m]) == 0) {
                    a->q.method = (eml_calib_method)m;
                    found = 1;
                }
            if (!found)
                return cli_error(CLI_USAGE, "--method is minmax, percentile or entropy, not '%s'",
                                 v);
        } else if ((r = cli_option_value(argc, argv, &i, "--percentile", &v)) != 0) {
            char *end = NULL;
            if (r < 0)
                return CLI_USAGE;
            a->q.percentile = strtof(v, &end);
            if (*end || !(a->q.percentile > 50.0f && a->q.percentile <= 100.0f))
                return cli_error(CLI_USAGE, "--percentile wants a number in (50, 100], not '%s'",
                                 v);
        } else if ((r = cli_option_value(argc, argv, &i, "--accuracy-budget", &v)) != 0) {
            char *end = NULL;
            if (r < 0)
                return CLI_USAGE;
            a->q.accuracy_budget = strtof(v, &end);
            if (*end || !(a->q.accuracy_budget >= 0.0f && a->q.accuracy_budget <= 100.0f))
                return cli_error(CLI_USAGE, "--accuracy-budget wants points in [0, 100], not '%s'",
                                 v);
        } else if ((r = cli_option_value(argc, argv, &i, "--calib", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            a->calib = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--eval-data", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            a->eval_data = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--eval-labels", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            a->eval_labels = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--calib-limit", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 1, UINT32_MAX, &a->calib_limit) != 0)
                return r < 0 ? CLI_USAGE : cli_error(CLI_USAGE, "--calib-limit wants a count");
        } else if ((r = cli_option_value(argc, argv, &i, "--eval-limit", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 1, UINT32_MAX, &a->eval_limit) != 0)
                return r < 0 ? CLI_USAGE : cli_error(CLI_USAGE, "--eval-limit wants a count");
        } else if ((r = cli_option_value(argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 1, 1024, &a->threads) != 0)
                return r < 0 ? CLI_USAGE : cli_error(CLI_USAGE, "--threads wants 1 to 1024");
        } else if (strcmp(argv[i], "--per-tensor") == 0) {
            a->q.per_tensor = 1;
            i++;
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = 1;
            i++;
        } else if (strcmp(argv[i], "--no-bench") == 0) {
            a->bench = 0;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_error(CLI_USAGE, "quantize: unknown option '%s'", argv[i]);
        } else if (a->model) {
            return cli_error(CLI_USAGE, "quantize: one model at a time ('%s' and '%s')", a->model,
                             argv[i]);
        } else {
            a->model = argv[i++];
        }
    }
    if (!a->model || !a->out)
        return cli_error(CLI_USAGE, "quantize: %s (edgeml quantize MODEL -o OUT.onnx)",
                         a->model ? "no output given (-o OUT.onnx)" : "no model given");
    if ((a->q.precision == EML_PRECISION_INT8 || a->q.precision == EML_PRECISION_MIXED) &&
        !a->calib)
        return cli_error(CLI_USAGE, "quantize: --precision %s needs --calib FILE",
                         precision_names[a->q.precision]);
    if (!a->eval_data != !a->eval_labels)
        return cli_error(CLI_USAGE, "quantize: --eval-data and --eval-labels go together");
    return CLI_OK;
}

static double file_mb(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (double)sb.st_size / 1e6 : NAN;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A model loaded and optimized as `edgeml run` runs it, with batch-1 inputs. */
typedef struct runner {
    eml_graph *graph;
    eml_plan *plan;
    eml_session *session;
    eml_tensor *inputs;
    size_t n_inputs;
    double *times;
    size_t n_times, cap_times;
} runner;

static void runner_free(runner *r)
{
    for (size_t i = 0; r->inputs && i < r->n_inputs; i++)
        free(r->inputs[i].data);
    free(r->inputs);
    free(r->times);
    eml_session_destroy(r->session);
    eml_plan_destroy(r->plan);
    eml_graph_destroy(r->graph);
    memset(r, 0, sizeof(*r));
}

/* sample: one sample for the first input (float32), or NULL for zeros. */
static int runner_init(runner *r, eml_env *env, const char *path, const float *sample)
{
    memset(r, 0, sizeof(*r));
    eml_diag diag;
    eml_diag_init(&diag);
    eml_status st = eml_graph_load_onnx(env, path, &r->graph, &diag);
    if (st != EML_OK)
        return cli_error_diag(&diag, st, path);
    cli_optimize_args opt;
    cli_optimize_args_init(&opt);
    eml_optimize_report rep;
    int rc = cli_optimize_graph(r->graph, &opt, &rep, path);
    if (rc != CLI_OK)
        return rc;
    if ((st = eml_plan_create(r->graph, &r->plan, &diag)) != EML_OK ||
        (st = eml_session_create(r->plan, NULL, &r->session, &diag)) != EML_OK)
        return cli_error_diag(&diag, st, path);
    r->n_inputs = eml_graph_input_count(r->graph);
    r->inputs = calloc(r->n_inputs ? r->n_inputs : 1, sizeof(eml_tensor));
    if (!r->inputs)
        return cli_error(CLI_FAIL, "out of memory");
    for (size_t i = 0; i < r->n_inputs; i++) {
        eml_value_info v;
        eml_graph_input(r->graph, i, &v);
        if (v.has_default || v.rank < 0)
            continue;
        eml_tensor *t = &r->inputs[i];
        t->dtype = v.dtype;
        t->rank = v.rank;
        for (int d = 0; d < v.rank; d++)
            t->dims[d] = v.dims[d] < 0 ? 1 : v.dims[d];
        size_t bytes = eml_tensor_bytes(t);
        t->data = calloc(1, bytes ? bytes : 1);
        if (!t->data)
            return cli_error(CLI_FAIL, "out of memory");
        if (i == 0 && sample && t->dtype == EML_DTYPE_F32 && t->dims[0] == 1)
            memcpy(t->data, sample, bytes);
    }
    return CLI_OK;
}

static int runner_time(runner *r, int runs, const char *path)
{
    for (int k = 0; k < runs; k++) {
        eml_diag diag;
        eml_diag_init(&diag);
        double t0 = now_ms();
        eml_status st = eml_session_run(r->session, r->inputs, r->n_inputs, &diag);
        double dt = now_ms() - t0;
        if (st != EML_OK)
            return cli_error_diag(&diag, st, path);
        if (r->n_times == r->cap_times) {
            size_t cap = r->cap_times ? 2 * r->cap_times : 64;
            double *grown = realloc(r->times, cap * sizeof(double));
            if (!grown)
                return cli_error(CLI_FAIL, "out of memory");
            r->times = grown;
            r->cap_times = cap;
        }
        r->times[r->n_times++] = dt;
    }
    return CLI_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double runner_median(runner *r)
{
    if (!r->n_times)
        return NAN;
    qsort(r->times, r->n_times, sizeof(double), cmp_double);
    return r->times[r->n_times / 2];
}

/* Latencies measured side by side: warm-up, then rounds alternating the two models, each
 * round at least 5 runs and 0.2 s per model. */
static int measure_latency(runner *a, runner *b, const char *pa, const char *pb, double *ma,
                           double *mb)
{
    int rc = runner_time(a, 2, pa);
    if (rc == CLI_OK)
        rc = runner_time(b, 2, pb);
    a->n_times = b->n_times = 0;
    for (int round = 0; round < 3 && rc == CLI_OK; round++) {
        runner *rs[2] = {a, b};
        const char *ps[2] = {pa, pb};
        for (int m = 0; m < 2 && rc == CLI_OK; m++) {
            double t0 = now_ms();
            int done = 0;
            while (rc == CLI_OK && (done < 5 || now_ms() - t0 < 200.0)) {
                rc = runner_time(rs[m], 1, ps[m]);
                done++;
            }
        }
    }
    *ma = runner_median(a);
    *mb = runner_median(b);
    return rc;
}

static int evaluate(runner *r, const eml_tensor *data, const eml_tensor *labels,
                    eml_eval_result *res, const char *path)
{
    eml_diag diag;
    eml_diag_init(&diag);
    eml_status st = eml_eval_classifier(r->graph, data, labels, NULL, res, NULL, &diag);
    return st == EML_OK ? CLI_OK : cli_error_diag(&diag, st, path);
}

static void json_number(double v)
{
    if (isfinite(v))
        printf("%.4f", v);
    else
        printf("null");
}

typedef struct measured {
    double size_before, size_after, lat_before, lat_after;
    int have_eval;
    eml_eval_result acc_before, acc_after;
    uint64_t calib_samples;
} measured;

static void print_json(const quantize_args *a, const eml_quantize_report *rep, const measured *m)
{
    printf("{\"model\": ");
    cli_json_string(stdout, a->model);
    printf(", \"output\": ");
    cli_json_string(stdout, a->out);
    printf(", \"precision\": \"%s\"", precision_names[a->q.precision]);
    if (m->calib_samples)
        printf(", \"method\": \"%s\", \"calib_samples\": %llu", method_names[a->q.method],
               (unsigned long long)m->calib_samples);
    printf(", \"per_channel\": %s", a->q.per_tensor ? "false" : "true");
    printf(", \"original_size_mb\": ");
    json_number(m->size_before);
    printf(", \"quantized_size_mb\": ");
    json_number(m->size_after);
    printf(", \"size_ratio\": ");
    json_number(m->size_after / m->size_before);
    printf(", \"latency_ms_before\": ");
    json_number(m->lat_before);
    printf(", \"latency_ms_after\": ");
    json_number(m->lat_after);
    printf(", \"speedup\": ");
    json_number(m->lat_before / m->lat_after);
    printf(", \"accuracy_before\": ");
    json_number(m->have_eval ? m->acc_before.top1_pct : NAN);
    printf(", \"accuracy_after\": ");
    json_number(m->have_eval ? m->acc_after.top1_pct : NAN);
    if (m->have_eval && m->acc_before.top5_pct >= 0) {
        printf(", \"top5_before\": ");
        json_number(m->acc_before.top5_pct);
        printf(", \"top5_after\": ");
        json_number(m->acc_after.top5_pct);
    }
    printf(", \"eval_samples\": %llu",
           m->have_eval ? (unsigned long long)m->acc_after.count : 0ULL);
    printf(", \"opset_upgraded\": %s, \"quantized_tensors\": %zu",
           rep->opset_upgraded ? "true" : "false", rep->quantized_tensors);
    if (a->q.precision == EML_PRECISION_MIXED) {
        printf(", \"mixed_accuracy_fp32\": ");
        json_number(rep->accuracy_fp32);
        printf(", \"mixed_accuracy_chosen\": ");
        json_number(rep->accuracy_mixed);
    }
    printf(", \"layers\": [");
    for (size_t l = 0; l < rep->layer_count; l++) {
        const eml_quantize_layer *q = &rep->layers[l];
        printf("%s{\"node\": ", l ? ", " : "");
        cli_json_string(stdout, q->node);
        printf(", \"op\": \"%s\", \"precision\": \"%s\", \"sqnr_db\": ", q->op, q->precision);
        json_number(q->sqnr_db);
        printf(", \"sensitivity\": ");
        json_number(q->sensitivity);
        printf("}");
    }
    printf("]}\n");
}

static void print_text(const quantize_args *a, const eml_quantize_report *rep, const measured *m)
{
    printf("%s -> %s: %s", a->model, a->out, precision_names[a->q.precision]);
    if (m->calib_samples)
        printf(", %s calibration on %llu samples", method_names[a->q.method],
               (unsigned long long)m->calib_samples);
    if (a->q.precision != EML_PRECISION_FP16)
        printf(", %s weights", a->q.per_tensor ? "per-tensor" : "per-channel");
    printf("%s\n", rep->opset_upgraded ? " (opset raised to 13)" : "");
    printf("size: %.3f MB -> %.3f MB (%.3fx)\n", m->size_before, m->size_after,
           m->size_after / m->size_before);
    if (!isnan(m->lat_before))
        printf("latency (batch 1, median, this machine): %.3f ms -> %.3f ms (speedup %.2fx)\n",
               m->lat_before, m->lat_after, m->lat_before / m->lat_after);
    if (m->have_eval) {
        printf("top-1 accuracy on %llu samples: %.2f%% -> %.2f%% (%+.2f points)\n",
               (unsigned long long)m->acc_after.count, m->acc_before.top1_pct,
               m->acc_after.top1_pct, m->acc_after.top1_pct - m->acc_before.top1_pct);
        if (m->acc_before.top5_pct >= 0)
            printf("top-5 accuracy: %.2f%% -> %.2f%%\n", m->acc_before.top5_pct,
                   m->acc_after.top5_pct);
    }
    if (a->q.precision == EML_PRECISION_MIXED)
        printf("mixed precision: top-1 %.2f%% in float32, %.2f%% as chosen (budget %.2f points, "
               "measured on %s)\n",
               rep->accuracy_fp32, rep->accuracy_mixed, (double)a->q.accuracy_budget,
               a->eval_data ? "the evaluation data"
                            : "agreement with float32 on the calibration "
                              "data");
    if (rep->layer_count) {
        printf("layers (output SQNR against float32 on the first calibration samples):\n");
        for (size_t l = 0; l < rep->layer_count; l++) {
            const eml_quantize_layer *q = &rep->layers[l];
            printf("  %-40s %-7s %-5s SQNR %6.1f dB", q->node, q->op, q->precision, q->sqnr_db);
            if (!isnan(q->sensitivity))
                printf("  alone in int8: %+.2f points", -q->sensitivity);
            printf("\n");
        }
    }
    printf("written to %s\n", a->out);
}

int cli_quantize(int argc, char **argv)
{
    quantize_args a;
    memset(&a, 0, sizeof(a));
    eml_quantize_options_init(&a.q);
    cli_data_args_init(&a.data);
    a.bench = 1;
    int rc = parse(argc, argv, &a);
    if (rc != CLI_OK)
        return rc;
    eml_env *env;
    eml_graph *graph;
    rc = cli_load_model(a.model, (uint32_t)a.threads, &env, &graph);
    if (rc != CLI_OK)
        return rc;
    eml_tensor calib = {0}, calib_labels = {0}, data = {0}, labels = {0}, folder_labels = {0};
    eml_quantize_report rep;
    memset(&rep, 0, sizeof(rep));
    measured m;
    memset(&m, 0, sizeof(m));
    m.lat_before = m.lat_after = NAN;
    runner ra, rb;
    memset(&ra, 0, sizeof(ra));
    memset(&rb, 0, sizeof(rb));
    if (a.calib)
        rc = cli_data_read(env, a.calib, graph, &a.data, (uint32_t)a.calib_limit, &calib,
                           &calib_labels);
    if (rc == CLI_OK && a.eval_data) {
        rc = cli_data_read(env, a.eval_data, graph, &a.data, (uint32_t)a.eval_limit, &data,
                           &folder_labels);
        if (rc == CLI_OK)
            rc = cli_labels_read(env, a.eval_labels, (uint32_t)a.eval_limit, &labels);
    }
    if (rc == CLI_OK) {
        a.q.calib = calib.data ? &calib : NULL;
        a.q.eval_data = data.data ? &data : NULL;
        a.q.eval_labels = labels.data ? &labels : NULL;
        m.calib_samples = calib.data && a.q.precision != EML_PRECISION_FP16 &&
                                  a.q.precision != EML_PRECISION_INT8_DYNAMIC
                              ? (uint64_t)calib.dims[0]
                              : 0;
        eml_diag diag;
        eml_diag_init(&diag);
        eml_status st = eml_quantize(graph, &a.q, &rep, &diag);
        if (st == EML_OK)
            st = eml_graph_save_onnx(graph, a.out, &diag);
        if (st != EML_OK)
            rc = cli_error_diag(&diag, st, a.model);
    }
    if (rc == CLI_OK) {
        m.size_before = file_mb(a.model);
        m.size_after = file_mb(a.out);
        rc = runner_init(&ra, env, a.model, calib.data);
        if (rc == CLI_OK)
            rc = runner_init(&rb, env, a.out, calib.data);
    }
    if (rc == CLI_OK && a.bench)
        rc = measure_latency(&ra, &rb, a.model, a.out, &m.lat_before, &m.lat_after);
    if (rc == CLI_OK && data.data) {
        rc = evaluate(&ra, &data, &labels, &m.acc_before, a.model);
        if (rc == CLI_OK)
            rc = evaluate(&rb, &data, &labels, &m.acc_after, a.out);
        m.have_eval = rc == CLI_OK;
    }
    if (rc == CLI_OK) {
        if (a.json)
            print_json(&a, &rep, &m);
        else
            print_text(&a, &rep, &m);
    }
    runner_free(&ra);
    runner_free(&rb);
    eml_quantize_report_deinit(&rep);
    free(calib.data);
    free(calib_labels.data);
    free(data.data);
    free(labels.data);
    free(folder_labels.data);
    eml_graph_destroy(graph);
    eml_env_destroy(env);
    return rc;
}
