/* `edgeml prune MODEL -o OUT.onnx --sparsity S`: magnitude pruning, and what that run measured:
 * per-layer sparsity, the file sizes plain and zlib-compressed, and accuracy before and after. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "cli.h"

typedef struct prune_args {
    const char *model, *out, *eval_data, *eval_labels;
    eml_prune_options p;
    long eval_limit, threads;
    int json;
    cli_data_args data;
} prune_args;

static int parse(int argc, char **argv, prune_args *a)
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
        } else if ((r = cli_option_value(argc, argv, &i, "--sparsity", &v)) != 0) {
            char *end = NULL;
            if (r < 0)
                return CLI_USAGE;
            a->p.sparsity = strtof(v, &end);
            if (end == v || *end || !(a->p.sparsity >= 0.0f && a->p.sparsity < 1.0f))
                return cli_error(CLI_USAGE, "--sparsity wants a fraction in [0, 1), not '%s'", v);
        } else if ((r = cli_option_value(argc, argv, &i, "--min-weights", &v)) != 0) {
            long n;
            if (r < 0 || cli_parse_int(v, 0, 1L << 40, &n) != 0)
                return r < 0 ? CLI_USAGE : cli_error(CLI_USAGE, "--min-weights wants a count");
            a->p.min_weights = (uint64_t)n;
        } else if ((r = cli_option_value(argc, argv, &i, "--eval-data", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            a->eval_data = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--eval-labels", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            a->eval_labels = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--eval-limit", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 1, UINT32_MAX, &a->eval_limit) != 0)
                return r < 0 ? CLI_USAGE : cli_error(CLI_USAGE, "--eval-limit wants a count");
        } else if ((r = cli_option_value(argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 1, 1024, &a->threads) != 0)
                return r < 0 ? CLI_USAGE : cli_error(CLI_USAGE, "--threads wants 1 to 1024");
        } else if (strcmp(argv[i], "--per-layer") == 0) {
            a->p.scope = EML_PRUNE_PER_LAYER;
            i++;
        } else if (strcmp(argv[i], "--structured") == 0) {
            a->p.method = EML_PRUNE_CHANNELS;
            i++;
        } else if (strcmp(argv[i], "--keep-first") == 0) {
            a->p.keep_first = 1;
            i++;
        } else if (strcmp(argv[i], "--keep-last") == 0) {
            a->p.keep_last = 1;
            i++;
        } else if (strcmp(argv[i], "--json") == 0) {
            a->json = 1;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_error(CLI_USAGE, "prune: unknown option '%s'", argv[i]);
        } else if (a->model) {
            return cli_error(CLI_USAGE, "prune: one model at a time ('%s' and '%s')", a->model,
                             argv[i]);
        } else {
            a->model = argv[i++];
        }
    }
    if (!a->model || !a->out)
        return cli_error(CLI_USAGE, "prune: %s (edgeml prune MODEL -o OUT.onnx --sparsity S)",
                         a->model ? "no output given (-o OUT.onnx)" : "no model given");
    if (!a->eval_data != !a->eval_labels)
        return cli_error(CLI_USAGE, "prune: --eval-data and --eval-labels go together");
    return CLI_OK;
}

typedef struct file_size {
    uint64_t bytes, zlib_bytes; /* zlib_bytes: compress2 at level 9 */
} file_size;

/* The file's size and its zlib-compressed size. Returns CLI_OK or CLI_FAIL (printed). */
static int measure_file(const char *path, file_size *out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return cli_error(CLI_FAIL, "cannot open %s", path);
    unsigned char *buf = NULL, *z = NULL;
    int rc = CLI_FAIL;
    if (fseek(f, 0, SEEK_END) != 0)
        goto done;
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0)
        goto done;
    buf = malloc((size_t)n + 1);
    uLongf zn = compressBound((uLong)n);
    z = malloc(zn);
    if (!buf || !z) {
        rc = cli_error(CLI_FAIL, "out of memory");
        goto done;
    }
    if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
        rc = cli_error(CLI_FAIL, "cannot read %s", path);
        goto done;
    }
    if (compress2(z, &zn, buf, (uLong)n, 9) != Z_OK) {
        rc = cli_error(CLI_FAIL, "zlib could not compress %s", path);
        goto done;
    }
    out->bytes = (uint64_t)n;
    out->zlib_bytes = (uint64_t)zn;
    rc = CLI_OK;
done:
    free(buf);
    free(z);
    fclose(f);
    return rc;
}

typedef struct measured {
    file_size before, after;
    int have_eval;
    eml_eval_result acc_before, acc_after;
} measured;

static const char *method_text(const eml_prune_options *p)
{
    if (p->method == EML_PRUNE_CHANNELS)
        return "structured (whole output channels by L1 norm), per layer";
    return p->scope == EML_PRUNE_PER_LAYER ? "unstructured magnitude, per layer"
                                           : "unstructured magnitude, global threshold";
}

static void json_number(double v)
{
    if (isfinite(v))
        printf("%.6g", v);
    else
        printf("null");
}

static void print_json(const prune_args *a, const eml_prune_report *r, const measured *m)
{
    printf("{\"model\": ");
    cli_json_string(stdout, a->model);
    printf(", \"output\": ");
    cli_json_string(stdout, a->out);
    printf(", \"method\": \"%s\", \"scope\": \"%s\", \"target_sparsity\": ",
           a->p.method == EML_PRUNE_CHANNELS ? "channels" : "unstructured",
           a->p.method == EML_PRUNE_CHANNELS || a->p.scope == EML_PRUNE_PER_LAYER ? "per_layer"
                                                                                  : "global");
    json_number(a->p.sparsity);
    printf(", \"sparsity\": ");
    json_number(r->sparsity);
    printf(", \"pruned_weights\": %llu, \"pruned_zeros\": %llu, \"params\": %llu, "
           "\"param_zeros\": %llu",
           (unsigned long long)r->pruned_weight_count, (unsigned long long)r->pruned_zeros,
           (unsigned long long)r->param_count, (unsigned long long)r->param_zeros);
    printf(", \"size_bytes_before\": %llu, \"size_bytes_after\": %llu, \"zlib_bytes_before\": "
           "%llu, \"zlib_bytes_after\": %llu",
           (unsigned long long)m->before.bytes, (unsigned long long)m->after.bytes,
           (unsigned long long)m->before.zlib_bytes, (unsigned long long)m->after.zlib_bytes);
    printf(", \"accuracy_before\": ");
    json_number(m->have_eval ? m->acc_before.top1_pct : NAN);
    printf(", \"accuracy_after\": ");
    json_number(m->have_eval ? m->acc_after.top1_pct : NAN);
    printf(", \"eval_samples\": %llu",
           m->have_eval ? (unsigned long long)m->acc_after.count : 0ULL);
    printf(", \"layers\": [");
    for (size_t l = 0; l < r->layer_count; l++) {
        const eml_prune_layer *p = &r->layers[l];
        printf("%s{\"node\": ", l ? ", " : "");
        cli_json_string(stdout, p->node);
        printf(", \"op\": \"%s\", \"weight\": ", p->op);
        cli_json_string(stdout, p->weight);
        printf(", \"weights\": %llu, \"zeros_before\": %llu, \"zeros_after\": %llu, "
               "\"sparsity\": ",
               (unsigned long long)p->weight_count, (unsigned long long)p->zeros_before,
               (unsigned long long)p->zeros_after);
        json_number(p->sparsity);
        if (p->channels)
            printf(", \"channels\": %u, \"channels_pruned\": %u", p->channels, p->channels_pruned);
        printf(", \"skipped\": ");
        if (p->skipped)
            cli_json_string(stdout, p->skipped);
        else
            printf("null");
        printf("}");
    }
    printf("]}\n");
}

static void print_text(const prune_args *a, const eml_prune_report *r, const measured *m)
{
    printf("%s -> %s: %s, target sparsity %.1f%%\n", a->model, a->out, method_text(&a->p),
           100.0 * a->p.sparsity);
    printf("layers (weight zeros after pruning):\n");
    for (size_t l = 0; l < r->layer_count; l++) {
        const eml_prune_layer *p = &r->layers[l];
        printf("  %-36s %-6s %9llu weights  %6.2f%% zero", p->node, p->op,
               (unsigned long long)p->weight_count, 100.0 * p->sparsity);
        if (p->channels)
            printf("  (%u of %u channels)", p->channels_pruned, p->channels);
        if (p->skipped)
            printf("  kept dense: %s", p->skipped);
        printf("\n");
    }
    printf("pruned layers: %llu of %llu weights zero (%.2f%%); all float parameters: %llu of "
           "%llu zero (%.2f%%)\n",
           (unsigned long long)r->pruned_zeros, (unsigned long long)r->pruned_weight_count,
           100.0 * r->sparsity, (unsigned long long)r->param_zeros,
           (unsigned long long)r->param_count,
           r->param_count ? 100.0 * (double)r->param_zeros / (double)r->param_count : 0.0);
    printf("file: %.3f MB -> %.3f MB; zlib-compressed (level 9): %.3f MB -> %.3f MB (%.2fx)\n",
           (double)m->before.bytes / 1e6, (double)m->after.bytes / 1e6,
           (double)m->before.zlib_bytes / 1e6, (double)m->after.zlib_bytes / 1e6,
           m->after.zlib_bytes ? (double)m->before.zlib_bytes / (double)m->after.zlib_bytes : 0);
    if (m->have_eval)
        printf("top-1 accuracy on %llu samples: %.2f%% -> %.2f%% (%+.2f points)\n",
               (unsigned long long)m->acc_after.count, m->acc_before.top1_pct,
               m->acc_after.top1_pct, m->acc_after.top1_pct - m->acc_before.top1_pct);
    printf("the zeros are stored densely: latency is unchanged (dense kernels); the gain is the "
           "compressed size\n");
    printf("written to %s\n", a->out);
}

static int evaluate(const eml_graph *g, const eml_tensor *data, const eml_tensor *labels,
                    eml_eval_result *res, const char *path)
{
    eml_diag diag;
    eml_diag_init(&diag);
    eml_status st = eml_eval_classifier(g, data, labels, NULL, res, NULL, &diag);
    return st == EML_OK ? CLI_OK : cli_error_diag(&diag, st, path);
}

int cli_prune(int argc, char **argv)
{
    prune_args a;
    memset(&a, 0, sizeof(a));
    eml_prune_options_init(&a.p);
    cli_data_args_init(&a.data);
    int rc = parse(argc, argv, &a);
    if (rc != CLI_OK)
        return rc;
    eml_env *env;
    eml_graph *graph, *saved = NULL;
    rc = cli_load_model(a.model, (uint32_t)a.threads, &env, &graph);
    if (rc != CLI_OK)
        return rc;
    eml_tensor data = {0}, labels = {0}, folder_labels = {0};
    eml_prune_report rep;
    memset(&rep, 0, sizeof(rep));
    measured m;
    memset(&m, 0, sizeof(m));
    if (a.eval_data) {
        rc = cli_data_read(env, a.eval_data, graph, &a.data, (uint32_t)a.eval_limit, &data,
                           &folder_labels);
        if (rc == CLI_OK)
            rc = cli_labels_read(env, a.eval_labels, (uint32_t)a.eval_limit, &labels);
        if (rc == CLI_OK)
            rc = evaluate(graph, &data, &labels, &m.acc_before, a.model);
    }
    if (rc == CLI_OK) {
        eml_diag diag;
        eml_diag_init(&diag);
        eml_status st = eml_prune(graph, &a.p, &rep, &diag);
        if (st == EML_OK)
            st = eml_graph_save_onnx(graph, a.out, &diag);
        if (st != EML_OK)
            rc = cli_error_diag(&diag, st, a.model);
    }
    if (rc == CLI_OK)
        rc = measure_file(a.model, &m.before);
    if (rc == CLI_OK)
        rc = measure_file(a.out, &m.after);
    /* The accuracy after is that of the written file, loaded back: what a user deploys. */
    if (rc == CLI_OK && data.data) {
        eml_diag diag;
        eml_diag_init(&diag);
        eml_status st = eml_graph_load_onnx(env, a.out, &saved, &diag);
        rc = st == EML_OK ? evaluate(saved, &data, &labels, &m.acc_after, a.out)
                          : cli_error_diag(&diag, st, a.out);
        m.have_eval = rc == CLI_OK;
    }
    if (rc == CLI_OK) {
        if (a.json)
            print_json(&a, &rep, &m);
        else
            print_text(&a, &rep, &m);
    }
    eml_prune_report_deinit(&rep);
    free(data.data);
    free(labels.data);
    free(folder_labels.data);
    eml_graph_destroy(saved);
    eml_graph_destroy(graph);
    eml_env_destroy(env);
    return rc;
}
