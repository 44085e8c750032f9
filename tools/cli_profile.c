/* `edgeml profile MODEL --data FILE -o OUT.json`: the reference profile of a model's inputs
 * (per channel, bins at the data's quantiles) written as a version config's "drift" key, which
 * the agent compares with the inputs it serves. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli.h"
#include "edgeml/drift.h"

typedef struct profile_args {
    const char *model, *data, *out, *config;
    long limit;
    eml_drift_profile_options o;
    int json;
} profile_args;

static int parse_double(const char *name, const char *v, double *out)
{
    char *end;
    double x = strtod(v, &end);
    if (*end || !(x > 0) || !isfinite(x))
        return cli_error(CLI_USAGE, "%s wants a positive number, not '%s'", name, v);
    *out = x;
    return CLI_OK;
}

/* Returns CLI_OK, or the exit status of a usage error (printed). */
static int parse_args(int argc, char **argv, profile_args *p, cli_data_args *da)
{
    int i = 1;
    while (i < argc) {
        const char *v = NULL;
        long n;
        int r = cli_data_option(argc, argv, &i, da);
        if (r < 0)
            return CLI_USAGE;
        if (r > 0)
            continue;
        if ((r = cli_option_value(argc, argv, &i, "--data", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            p->data = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--output", &v)) != 0 ||
                   (r = cli_option_value(argc, argv, &i, "-o", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            p->out = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--config", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            p->config = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--limit", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 1, UINT32_MAX, &p->limit) != 0)
                return r < 0 ? CLI_USAGE : cli_error(CLI_USAGE, "--limit wants a count >= 1");
        } else if ((r = cli_option_value(argc, argv, &i, "--axis", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, -1, EML_MAX_RANK - 1, &n) != 0)
                return r < 0 ? CLI_USAGE
                             : cli_error(CLI_USAGE, "--axis wants -1 to %d", EML_MAX_RANK - 1);
            p->o.axis = (int32_t)n;
        } else if ((r = cli_option_value(argc, argv, &i, "--bins", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 2, EML_DRIFT_MAX_BINS / 2, &n) != 0)
                return r < 0 ? CLI_USAGE
                             : cli_error(CLI_USAGE, "--bins wants 2 to %d", EML_DRIFT_MAX_BINS / 2);
            p->o.n_bins = (uint32_t)n;
        } else if ((r = cli_option_value(argc, argv, &i, "--window", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 2, 1000000000L, &n) != 0)
                return r < 0 ? CLI_USAGE : cli_error(CLI_USAGE, "--window wants a count >= 2");
            p->o.window = (uint64_t)n;
        } else if ((r = cli_option_value(argc, argv, &i, "--min-samples", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 0, 1000000000L, &n) != 0)
                return r < 0 ? CLI_USAGE : cli_error(CLI_USAGE, "--min-samples wants a count");
            p->o.min_samples = (uint64_t)n;
        } else if ((r = cli_option_value(argc, argv, &i, "--warn", &v)) != 0) {
            if (r < 0 || parse_double("--warn", v, &p->o.warn) != CLI_OK)
                return CLI_USAGE;
        } else if ((r = cli_option_value(argc, argv, &i, "--alert", &v)) != 0) {
            if (r < 0 || parse_double("--alert", v, &p->o.alert) != CLI_OK)
                return CLI_USAGE;
        } else if (strcmp(argv[i], "--json") == 0) {
            p->json = 1;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_error(CLI_USAGE, "profile: unknown option '%s'", argv[i]);
        } else if (p->model) {
            return cli_error(CLI_USAGE, "profile: one model at a time ('%s' and '%s')", p->model,
                             argv[i]);
        } else {
            p->model = argv[i++];
        }
    }
    if (!p->model || !p->data || (!p->out && !p->json))
        return cli_error(CLI_USAGE, "profile: %s (edgeml profile MODEL --data FILE -o OUT.json)",
                         !p->model  ? "no model given"
                         : !p->data ? "no --data given"
                                    : "no -o OUT.json given");
    if (p->o.warn > p->o.alert)
        return cli_error(CLI_USAGE, "profile: --warn %g is above --alert %g", p->o.warn,
                         p->o.alert);
    return CLI_OK;
}

/* Gives the data set the shape of the model's first input: [N, 28, 28] images feed
 * [N, 1, 28, 28] when the sample sizes agree. */
static int fit_shape(const eml_graph *graph, eml_tensor *data, const char *path)
{
    eml_value_info vi;
    if (eml_graph_input(graph, 0, &vi) != EML_OK || vi.rank < 1)
        return cli_error(CLI_FAIL, "the model has no input of known rank to profile");
    int64_t per_sample = 1, have = eml_tensor_count(data) / data->dims[0];
    for (int d = 1; d < vi.rank; d++)
        per_sample = vi.dims[d] > 0 && per_sample > 0 ? per_sample * vi.dims[d] : -1;
    if (per_sample > 0 && per_sample == have) {
        int64_t n = data->dims[0];
        data->rank = vi.rank;
        data->dims[0] = n;
        for (int d = 1; d < vi.rank; d++)
            data->dims[d] = vi.dims[d];
        return CLI_OK;
    }
    if (per_sample < 0 && data->rank == vi.rank)
        return CLI_OK; /* dynamic dims: the data's own shape */
    char a[128], b[128];
    return cli_error(CLI_FAIL, "'%s' holds samples of %lld values (shape %s); input '%s' wants %s",
                     path, (long long)have,
                     cli_dims_str(a, sizeof(a), data->dims + 1, data->rank - 1), vi.name,
                     cli_shape_str(b, sizeof(b), &vi));
}

/* The config to write: --config's object (or {}) with "drift" set to the profile (taken). */
static cJSON *make_config(const char *config_path, cJSON *profile)
{
    cJSON *cfg = NULL;
    if (config_path) {
        FILE *f = fopen(config_path, "rb");
        char *buf = NULL;
        long n = -1;
        if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
            (buf = malloc((size_t)n + 1)) && fread(buf, 1, (size_t)n, f) == (size_t)n) {
            buf[n] = 0;
            cfg = cJSON_Parse(buf);
        }
        if (f)
            fclose(f);
        free(buf);
        if (!cfg || !cJSON_IsObject(cfg)) {
            cJSON_Delete(cfg);
            cJSON_Delete(profile);
            cli_error(CLI_FAIL, "cannot read '%s' as a JSON object", config_path);
            return NULL;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(cfg, "drift");
    } else {
        cfg = cJSON_CreateObject();
    }
    if (!cfg || !cJSON_AddItemToObject(cfg, "drift", profile)) {
        cJSON_Delete(cfg);
        cJSON_Delete(profile);
        cli_error(CLI_FAIL, "out of memory");
        return NULL;
    }
    return cfg;
}

static void print_summary(const profile_args *p, const cJSON *profile, const char *out)
{
    const cJSON *in;
    cJSON_ArrayForEach(in, cJSON_GetObjectItem(profile, "inputs"))
    {
        const cJSON *chs = cJSON_GetObjectItem(in, "channels");
        int n = cJSON_GetArraySize(chs);
        printf("input '%s': %.0f samples, axis %d, %d channel%s, up to %u bins each\n",
               cJSON_GetObjectItem(in, "name")->valuestring,
               cJSON_GetObjectItem(in, "samples")->valuedouble,
               (int)cJSON_GetObjectItem(in, "axis")->valuedouble, n, n == 1 ? "" : "s",
               p->o.n_bins);
        for (int c = 0; c < n && c < 4; c++) {
            const cJSON *ch = cJSON_GetArrayItem(chs, c), *v;
            printf("  channel %d: edges", c);
            cJSON_ArrayForEach(v, cJSON_GetObjectItem(ch, "edges"))
            {
                printf(" %.4g", v->valuedouble);
            }
            printf("\n             fractions");
            cJSON_ArrayForEach(v, cJSON_GetObjectItem(ch, "fractions"))
            {
                printf(" %.4f", v->valuedouble);
            }
            printf("\n");
        }
        if (n > 4)
            printf("  ... %d more channels\n", n - 4);
    }
    printf("window %llu samples, status after %llu, warn at PSI %g, drift at %g\n",
           (unsigned long long)p->o.window, (unsigned long long)p->o.min_samples, p->o.warn,
           p->o.alert);
    if (out)
        printf("wrote %s (deploy it as the version's config.json)\n", out);
}

int cli_profile(int argc, char **argv)
{
    profile_args p;
    memset(&p, 0, sizeof(p));
    eml_drift_profile_options_init(&p.o);
    cli_data_args da;
    cli_data_args_init(&da);
    int rc = parse_args(argc, argv, &p, &da);
    if (rc != CLI_OK)
        return rc;
    eml_env *env;
    eml_graph *graph;
    if ((rc = cli_load_model(p.model, 1, &env, &graph)) != CLI_OK)
        return rc;
    eml_tensor data = {0};
    rc = cli_data_read(env, p.data, graph, &da, (uint32_t)p.limit, &data, NULL);
    if (rc == CLI_OK)
        rc = fit_shape(graph, &data, p.data);
    char *json = NULL;
    eml_drift_profiler *prof = NULL;
    eml_tensor *inputs = NULL;
    size_t n_in = eml_graph_input_count(graph);
    if (rc == CLI_OK && !(inputs = calloc(n_in, sizeof(eml_tensor))))
        rc = cli_error(CLI_FAIL, "out of memory");
    if (rc == CLI_OK) {
        eml_diag diag;
        eml_diag_init(&diag);
        inputs[0] = data; /* the other inputs, if any, are not profiled */
        eml_status st = eml_drift_profiler_create(graph, &p.o, &prof, &diag);
        if (st == EML_OK)
            st = eml_drift_profiler_add(prof, inputs, n_in, &diag);
        if (st == EML_OK)
            st = eml_drift_profiler_finish(prof, &json, &diag);
        if (st != EML_OK)
            rc = cli_error_diag(&diag, st, p.data);
    }
    cJSON *cfg = NULL;
    if (rc == CLI_OK) {
        cJSON *profile = cJSON_Parse(json);
        if (!profile)
            rc = cli_error(CLI_FAIL, "out of memory");
        else if (!(cfg = make_config(p.config, profile)))
            rc = CLI_FAIL;
    }
    if (rc == CLI_OK && p.out) {
        char *text = cJSON_Print(cfg);
        FILE *f = text ? fopen(p.out, "wb") : NULL;
        int ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
        if (f && fclose(f) != 0)
            ok = 0;
        free(text);
        if (!ok)
            rc = cli_error(CLI_FAIL, "cannot write '%s'", p.out);
    }
    if (rc == CLI_OK && p.json)
        printf("%s\n", json);
    else if (rc == CLI_OK)
        print_summary(&p, cJSON_GetObjectItem(cfg, "drift"), p.out);
    cJSON_Delete(cfg);
    free(json);
    free(inputs);
    eml_drift_profiler_destroy(prof);
    free(data.data);
    eml_graph_destroy(graph);
    eml_env_destroy(env);
    return rc;
}
