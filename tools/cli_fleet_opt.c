/* The site forms of `edgeml bench`, `edgeml quantize` and `edgeml prune`: MODEL is a model of
 * the site, and what they measure or make is recorded in the site. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_fleet.h"

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Reads samples (IDX, plain or .gz; .npy; .pb) as float32, uint8 scaled by 1/255 unless scale
 * is given; labels (to_float 0) keep their dtype. limit: the first samples only (0: all). */
static int read_set(eml_env *env, const char *path, uint32_t limit, int to_float, float scale,
                    eml_tensor *out)
{
    eml_diag d;
    eml_diag_init(&d);
    eml_tensor t;
    eml_status st = ends_with(path, ".npy") || ends_with(path, ".pb")
                        ? eml_tensor_read_file(env, path, NULL, &t, &d)
                        : eml_tensor_read_idx(env, path, &t, &d);
    if (st != EML_OK)
        return cli_error_diag(&d, st, path);
    if (t.rank < 1 || t.dims[0] < 1) {
        eml_tensor_free(env, &t);
        return cli_error(CLI_FAIL, "%s: no samples", path);
    }
    if (limit && t.dims[0] > (int64_t)limit)
        t.dims[0] = limit;
    if (!to_float || t.dtype == EML_DTYPE_F32) {
        *out = t;
        return CLI_OK;
    }
    if (isnan(scale))
        scale = t.dtype == EML_DTYPE_U8 ? 1.0f / 255 : 1.0f;
    eml_tensor f = t;
    f.dtype = EML_DTYPE_F32;
    int64_t n = eml_tensor_count(&t);
    f.data = malloc((size_t)n * sizeof(float));
    if (!f.data) {
        eml_tensor_free(env, &t);
        return cli_error(CLI_FAIL, "out of memory reading %s", path);
    }
    for (int64_t k = 0; k < n; k++) {
        double v;
        switch (t.dtype) {
        case EML_DTYPE_U8:
            v = ((const uint8_t *)t.data)[k];
            break;
        case EML_DTYPE_I8:
            v = ((const int8_t *)t.data)[k];
            break;
        case EML_DTYPE_I16:
            v = ((const int16_t *)t.data)[k];
            break;
        case EML_DTYPE_I32:
            v = ((const int32_t *)t.data)[k];
            break;
        case EML_DTYPE_F64:
            v = ((const double *)t.data)[k];
            break;
        default:
            free(f.data);
            eml_tensor_free(env, &t);
            return cli_error(CLI_FAIL, "%s: %s samples are not supported", path,
                             eml_dtype_name(t.dtype));
        }
        ((float *)f.data)[k] = (float)v * scale;
    }
    eml_tensor_free(env, &t);
    *out = f;
    return CLI_OK;
}

/* Frees what read_set returned: float copies are malloc'd, the rest belong to env. */
static void free_set(eml_env *env, eml_tensor *t, int was_converted)
{
    if (was_converted)
        free(t->data);
    else
        eml_tensor_free(env, t);
    t->data = NULL;
}

/* Matches "--name VALUE" as a whole number in [lo, hi]. 1 matched, 0 other, -1 usage error. */
static int int_option(int argc, char **argv, int *i, const char *name, long lo, long hi, long *out)
{
    const char *v = NULL;
    int r = cli_option_value(argc, argv, i, name, &v);
    if (r <= 0)
        return r;
    if (cli_parse_int(v, lo, hi, out) != 0) {
        cli_error(CLI_USAGE, "%s needs a whole number from %ld to %ld", name, lo, hi);
        return -1;
    }
    return 1;
}

int cli_fleet_bench(int argc, char **argv)
{
    const char *model = NULL, *node = "local", *eval_data = NULL, *eval_labels = NULL;
    long runs = 100, warmup = 10, batch = 1, eval_limit = 0;
    float scale = NAN;
    int json = 0;
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        int r;
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            i++;
        } else if ((r = int_option(argc, argv, &i, "--runs", 1, 100000, &runs)) != 0 ||
                   (r = int_option(argc, argv, &i, "--warmup", 0, 10000, &warmup)) != 0 ||
                   (r = int_option(argc, argv, &i, "--batch", 1, 65536, &batch)) != 0 ||
                   (r = int_option(argc, argv, &i, "--eval-limit", 1, UINT32_MAX, &eval_limit)) !=
                       0) {
            if (r < 0)
                return CLI_USAGE;
        } else if ((r = cli_option_value(argc, argv, &i, "--node", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            node = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--eval-data", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            eval_data = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--eval-labels", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            eval_labels = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--scale", &v)) != 0) {
            char *end;
            if (r < 0 || !(scale = strtof(v, &end), *end == 0 && scale > 0))
                return cli_error(CLI_USAGE, "--scale needs a positive number");
        } else if (argv[i][0] == '-') {
            return cli_error(CLI_USAGE, "bench: unknown option '%s' (see 'edgeml help fleet')",
                             argv[i]);
        } else if (!model) {
            model = argv[i++];
        } else {
            return cli_error(CLI_USAGE, "bench takes one MODEL of the site");
        }
    }
    if (!model)
        return cli_error(CLI_USAGE, "bench needs a MODEL of the site");
    if (!eval_data != !eval_labels)
        return cli_error(CLI_USAGE, "--eval-data and --eval-labels go together");
    eml_env *env = NULL;
    if (eml_env_create(NULL, &env) != EML_OK)
        return cli_error(CLI_FAIL, "out of memory");
    eml_tensor data = {0}, labels = {0};
    int rc = CLI_OK;
    if (eval_data) {
        rc = read_set(env, eval_data, (uint32_t)eval_limit, 1, scale, &data);
        if (rc == CLI_OK)
            rc = read_set(env, eval_labels, (uint32_t)eval_limit, 0, 1, &labels);
    }
    eml_manager *m = rc == CLI_OK ? cli_fleet_open() : NULL;
    if (rc == CLI_OK && !m)
        rc = CLI_FAIL;
    eml_diag d;
    eml_diag_init(&d);
    eml_bench_result b;
    eml_eval_result ev;
    memset(&ev, 0, sizeof(ev));
    if (rc == CLI_OK) {
        eml_bench_options bo;
        eml_bench_options_init(&bo);
        bo.runs = (uint32_t)runs;
        bo.warmup = (uint32_t)warmup;
        bo.batch = (uint32_t)batch;
        /* warmup 0 asks for none: the options' 0 means the default */
        eml_status st = eml_manager_bench(m, node, model, &bo, &b, &d);
        if (st != EML_OK)
            rc = cli_error_diag(&d, st, NULL);
    }
    char dataset[300] = "";
    if (rc == CLI_OK && eval_data) {
        /* "fashion-mnist/t10k-images-idx3-ubyte.gz": the file and its folder name */
        const char *base = eval_data + strlen(eval_data);
        for (int slashes = 0; base > eval_data; base--)
            if (base[-1] == '/' && ++slashes == 2)
                break;
        snprintf(dataset, sizeof(dataset), "%s", base);
        eml_status st = eml_manager_evaluate(m, node, model, &data, &labels, dataset, &ev, &d);
        if (st != EML_OK)
            rc = cli_error_diag(&d, st, eval_data);
    }
    if (rc == CLI_OK && json) {
        printf("{\"model\": ");
        cli_json_string(stdout, b.model);
        printf(", \"node\": ");
        cli_json_string(stdout, b.node);
        printf(", \"version\": %u, \"site_version\": %u, \"runs\": %u, \"batch\": %u, "
               "\"throughput_ips\": %.4f, \"latency_ms\": {\"mean\": %.5f, \"p50\": %.5f, "
               "\"p90\": %.5f, \"p99\": %.5f, \"min\": %.5f, \"max\": %.5f}, ",
               b.version, b.site_version, b.runs, b.batch, b.throughput_ips, b.latency_ms_mean,
               b.latency_ms_p50, b.latency_ms_p90, b.latency_ms_p99, b.latency_ms_min,
               b.latency_ms_max);
        if (b.has_peak_memory)
            printf("\"peak_memory_bytes\": %llu, ", (unsigned long long)b.peak_memory_bytes);
        else
            printf("\"peak_memory_bytes\": \"unavailable\", ");
        if (b.has_power)
            printf("\"power_w\": %.4f, ", b.power_w);
        else
            printf("\"power_w\": \"unavailable\", ");
        if (b.has_energy)
            printf("\"energy_j_per_inference\": %.6g", b.energy_j_per_inference);
        else
            printf("\"energy_j_per_inference\": \"unavailable\"");
        if (eval_data) {
            printf(", \"accuracy\": {\"top1_pct\": %.4f, \"samples\": %llu, \"dataset\": ",
                   ev.top1_pct, (unsigned long long)ev.count);
            cli_json_string(stdout, dataset);
            printf("}");
        }
        printf("}\n");
    } else if (rc == CLI_OK) {
        char a[32];
        printf("bench %s version %u (site version %u) on node %s: %u runs, batch %u\n", b.model,
               b.version, b.site_version, b.node, b.runs, b.batch);
        printf("  throughput    %.1f inferences/s\n", b.throughput_ips);
        printf("  latency       p50 %.3f ms, p90 %.3f ms, p99 %.3f ms (mean %.3f, min %.3f, max "
               "%.3f)\n",
               b.latency_ms_p50, b.latency_ms_p90, b.latency_ms_p99, b.latency_ms_mean,
               b.latency_ms_min, b.latency_ms_max);
        if (b.has_peak_memory)
            printf("  peak memory   %s (the node process's RSS)\n",
                   cli_fleet_bytes(a, sizeof(a), b.peak_memory_bytes));
        else
            printf("  peak memory   unavailable\n");
        if (b.has_power)
            printf("  power         %.3f W\n", b.power_w);
        else
            printf("  power         unavailable (no power sensor on the node)\n");
        if (b.has_energy)
            printf("  energy        %.6g J per inference\n", b.energy_j_per_inference);
        else
            printf("  energy        unavailable (no power sensor on the node)\n");
        if (eval_data)
            printf("  accuracy      %.2f%% top-1 on %s (%llu samples)\n", ev.top1_pct, dataset,
                   (unsigned long long)ev.count);
        printf("recorded in site %s\n", eml_manager_site_dir(m));
    }
    if (data.data)
        free_set(env, &data, 1);
    if (labels.data)
        free_set(env, &labels, 0);
    eml_manager_close(m);
    eml_env_destroy(env);
    return rc;
}

/* Prints a derived model's result. */
static void print_derived(eml_manager *m, const char *model, const eml_derive_result *r,
                          const char *what, int json)
{
    char a[32], b[32];
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, model);
        printf(", \"id\": ");
        cli_json_string(stdout, r->id);
        printf(", \"version\": %u, \"bytes_before\": %llu, \"bytes_after\": %llu, \"sha256\": "
               "\"%s\", \"file\": ",
               r->version, (unsigned long long)r->bytes_before, (unsigned long long)r->bytes_after,
               r->sha256);
        char file[2300];
        snprintf(file, sizeof(file), "%s/artifacts/%s.onnx", eml_manager_site_dir(m), r->sha256);
        cli_json_string(stdout, file);
        if (r->sparsity > 0)
            printf(", \"sparsity\": %.6f", r->sparsity);
        printf("}\n");
        return;
    }
    printf("%s %s (%s) into %s version %u (%s)", what, model,
           cli_fleet_bytes(a, sizeof(a), r->bytes_before), r->id, r->version,
           cli_fleet_bytes(b, sizeof(b), r->bytes_after));
    if (r->sparsity > 0)
        printf(", %.1f%% of the pruned weights zero", 100 * r->sparsity);
    printf("\nfile %s/artifacts/%s.onnx; deploy it with: edgeml deploy --model %s --node NODE"
           " (or edgeml rollout %s)\n",
           eml_manager_site_dir(m), r->sha256, r->id, r->id);
}

int cli_fleet_quantize(int argc, char **argv)
{
    const char *model = NULL, *as = NULL, *calib_path = NULL;
    long calib_limit = 0;
    float scale = NAN;
    int json = 0;
    eml_quantize_options qo;
    eml_quantize_options_init(&qo);
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        int r;
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            i++;
        } else if (strcmp(argv[i], "--per-tensor") == 0) {
            qo.per_tensor = 1;
            i++;
        } else if ((r = int_option(argc, argv, &i, "--calib-limit", 1, UINT32_MAX, &calib_limit)) !=
                   0) {
            if (r < 0)
                return CLI_USAGE;
        } else if ((r = cli_option_value(argc, argv, &i, "--as", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            as = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--calib", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            calib_path = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--precision", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            if (strcmp(v, "int8") == 0)
                qo.precision = EML_PRECISION_INT8;
            else if (strcmp(v, "int8-dynamic") == 0)
                qo.precision = EML_PRECISION_INT8_DYNAMIC;
            else if (strcmp(v, "fp16") == 0)
                qo.precision = EML_PRECISION_FP16;
            else if (strcmp(v, "mixed") == 0)
                qo.precision = EML_PRECISION_MIXED;
            else
                return cli_error(CLI_USAGE, "--precision: int8, int8-dynamic, fp16 or mixed");
        } else if ((r = cli_option_value(argc, argv, &i, "--method", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            if (strcmp(v, "minmax") == 0)
                qo.method = EML_CALIB_MINMAX;
            else if (strcmp(v, "percentile") == 0)
                qo.method = EML_CALIB_PERCENTILE;
            else if (strcmp(v, "entropy") == 0)
                qo.method = EML_CALIB_ENTROPY;
            else
                return cli_error(CLI_USAGE, "--method: minmax, percentile or entropy");
        } else if ((r = cli_option_value(argc, argv, &i, "--scale", &v)) != 0) {
            char *end;
            if (r < 0 || !(scale = strtof(v, &end), *end == 0 && scale > 0))
                return cli_error(CLI_USAGE, "--scale needs a positive number");
        } else if (argv[i][0] == '-') {
            return cli_error(CLI_USAGE, "quantize: unknown option '%s' (see 'edgeml help fleet')",
                             argv[i]);
        } else if (!model) {
            model = argv[i++];
        } else {
            return cli_error(CLI_USAGE, "quantize takes one MODEL of the site");
        }
    }
    if (!model)
        return cli_error(CLI_USAGE, "quantize needs a MODEL of the site");
    int needs_calib = qo.precision == EML_PRECISION_INT8 || qo.precision == EML_PRECISION_MIXED;
    if (needs_calib && !calib_path)
        return cli_error(CLI_USAGE, "int8 and mixed quantization need --calib FILE");
    eml_env *env = NULL;
    if (eml_env_create(NULL, &env) != EML_OK)
        return cli_error(CLI_FAIL, "out of memory");
    eml_tensor calib = {0};
    int rc =
        calib_path ? read_set(env, calib_path, (uint32_t)calib_limit, 1, scale, &calib) : CLI_OK;
    if (calib_path && rc == CLI_OK)
        qo.calib = &calib;
    eml_manager *m = rc == CLI_OK ? cli_fleet_open() : NULL;
    if (rc == CLI_OK && !m)
        rc = CLI_FAIL;
    if (rc == CLI_OK) {
        eml_derive_result r;
        eml_diag d;
        eml_diag_init(&d);
        eml_status st = eml_manager_quantize(m, model, as, &qo, &r, &d);
        if (st != EML_OK)
            rc = cli_error_diag(&d, st, NULL);
        else
            print_derived(m, model, &r, "quantized", json);
    }
    if (calib.data)
        free_set(env, &calib, 1);
    eml_manager_close(m);
    eml_env_destroy(env);
    return rc;
}

/* `edgeml prune` options: filled from argv; returns CLI_OK or CLI_USAGE (printed). */
static int prune_args(int argc, char **argv, eml_prune_options *po, const char **model,
                      const char **as, const char **out, int *json)
{
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        int r;
        if (strcmp(argv[i], "--json") == 0) {
            *json = 1;
            i++;
        } else if (strcmp(argv[i], "--per-layer") == 0) {
            po->scope = EML_PRUNE_PER_LAYER;
            i++;
        } else if (strcmp(argv[i], "--structured") == 0) {
            po->method = EML_PRUNE_CHANNELS;
            i++;
        } else if (strcmp(argv[i], "--keep-first") == 0 || strcmp(argv[i], "--keep-last") == 0) {
            *(argv[i][7] == 'f' ? &po->keep_first : &po->keep_last) = 1;
            i++;
        } else if ((r = cli_option_value(argc, argv, &i, "--min-weights", &v)) != 0) {
            long n = 0;
            if (r < 0 || cli_parse_int(v, 0, INT32_MAX, &n) != 0)
                return cli_error(CLI_USAGE, "--min-weights needs a count");
            po->min_weights = (uint64_t)n;
        } else if ((r = cli_option_value(argc, argv, &i, "--as", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            *as = v;
        } else if ((r = cli_option_value(argc, argv, &i, "-o", &v)) != 0 ||
                   (r = cli_option_value(argc, argv, &i, "--output", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            *out = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--sparsity", &v)) != 0) {
            char *end;
            if (r < 0 || !(po->sparsity = strtof(v, &end),
                           *end == 0 && po->sparsity >= 0 && po->sparsity < 1))
                return cli_error(CLI_USAGE, "--sparsity needs a fraction in [0, 1), like 0.5");
        } else if ((r = cli_option_value(argc, argv, &i, "--method", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            if (strcmp(v, "unstructured") == 0)
                po->method = EML_PRUNE_UNSTRUCTURED;
            else if (strcmp(v, "channels") == 0)
                po->method = EML_PRUNE_CHANNELS;
            else
                return cli_error(CLI_USAGE, "--method: unstructured or channels");
        } else if (argv[i][0] == '-') {
            return cli_error(CLI_USAGE, "prune: unknown option '%s' (see 'edgeml help prune')",
                             argv[i]);
        } else if (!*model) {
            *model = argv[i++];
        } else {
            return cli_error(CLI_USAGE, "prune takes one MODEL");
        }
    }
    return *model ? CLI_OK : cli_error(CLI_USAGE, "prune needs a MODEL");
}

int cli_fleet_prune(int argc, char **argv)
{
    const char *model = NULL, *as = NULL, *out = NULL;
    int json = 0;
    eml_prune_options po;
    eml_prune_options_init(&po);
    int rc = prune_args(argc, argv, &po, &model, &as, &out, &json);
    if (rc != CLI_OK)
        return rc;
    eml_diag d;
    eml_diag_init(&d);
    if (out)
        return cli_error(CLI_USAGE, "the site form of prune records a new model: use --as ID, "
                                    "not -o");
    eml_manager *m = cli_fleet_open();
    if (!m)
        return CLI_FAIL;
    eml_derive_result r;
    eml_status st = eml_manager_prune(m, model, as, &po, &r, &d);
    if (st != EML_OK)
        rc = cli_error_diag(&d, st, NULL);
    else
        print_derived(m, model, &r, "pruned", json);
    eml_manager_close(m);
    return rc;
}
