/* `edgeml infer|deploy|rollback` on a node of the site, and `edgeml help fleet`. */
#include <stdlib.h>
#include <string.h>

#include "cli_fleet.h"

/* Value k of a tensor as a double (outputs are shown whatever their dtype). */
static double value_at(const eml_tensor *t, int64_t k)
{
    const void *p = t->data;
    switch (t->dtype) {
    case EML_DTYPE_F32:
        return ((const float *)p)[k];
    case EML_DTYPE_F64:
        return ((const double *)p)[k];
    case EML_DTYPE_F16:
        return eml_f16_to_f32(((const uint16_t *)p)[k]);
    case EML_DTYPE_BF16:
        return eml_bf16_to_f32(((const uint16_t *)p)[k]);
    case EML_DTYPE_U8:
        return ((const uint8_t *)p)[k];
    case EML_DTYPE_I8:
        return ((const int8_t *)p)[k];
    case EML_DTYPE_U16:
        return ((const uint16_t *)p)[k];
    case EML_DTYPE_I16:
        return ((const int16_t *)p)[k];
    case EML_DTYPE_U32:
        return ((const uint32_t *)p)[k];
    case EML_DTYPE_I32:
        return ((const int32_t *)p)[k];
    case EML_DTYPE_U64:
        return (double)((const uint64_t *)p)[k];
    case EML_DTYPE_I64:
        return (double)((const int64_t *)p)[k];
    case EML_DTYPE_BOOL:
        return ((const bool *)p)[k];
    default:
        return 0;
    }
}

/* Prints "row r: class 9 (9.304), class 7 (2.664), ..." for [N, C] outputs, else the values. */
static void print_output(const eml_named_tensor *o, long top)
{
    const eml_tensor *t = &o->tensor;
    char dims[128];
    printf("output '%s' %s%s\n", o->name, eml_dtype_name(t->dtype),
           cli_dims_str(dims, sizeof(dims), t->dims, t->rank));
    int64_t count = eml_tensor_count(t);
    if (t->rank == 2 && t->dims[1] > 1) {
        int64_t c = t->dims[1];
        for (int64_t r = 0; r < t->dims[0]; r++) {
            printf("  row %lld:", (long long)r);
            /* top-K by repeated selection: C is small for classifiers */
            int64_t shown[64];
            long k_max = top < c ? top : (long)c;
            if (k_max > 64)
                k_max = 64;
            for (long k = 0; k < k_max; k++) {
                int64_t best = -1;
                for (int64_t j = 0; j < c; j++) {
                    int used = 0;
                    for (long q = 0; q < k; q++)
                        used |= shown[q] == j;
                    if (!used && (best < 0 || value_at(t, r * c + j) > value_at(t, r * c + best)))
                        best = j;
                }
                shown[k] = best;
                printf("%s class %lld (%.4g)", k ? "," : "", (long long)best,
                       value_at(t, r * c + best));
            }
            printf("\n");
        }
        return;
    }
    printf("  ");
    for (int64_t k = 0; k < count && k < 16; k++)
        printf("%s%.6g", k ? " " : "", value_at(t, k));
    printf("%s\n", count > 16 ? " ..." : "");
}

int cli_infer(int argc, char **argv)
{
    const char *model = NULL, *node = "local";
    const char *files[16];
    int n_files = 0, json = 0;
    long top = 5;
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        int r;
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            i++;
        } else if ((r = cli_option_value(argc, argv, &i, "--node", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            node = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--top", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 1, 1000, &top) != 0)
                return cli_error(CLI_USAGE, "--top needs a count from 1 to 1000");
        } else if (argv[i][0] == '-') {
            return cli_error(CLI_USAGE, "infer: unknown option '%s' (see 'edgeml help infer')",
                             argv[i]);
        } else if (!model) {
            model = argv[i++];
        } else if (n_files < 16) {
            files[n_files++] = argv[i++];
        } else {
            return cli_error(CLI_USAGE, "infer: at most 16 input files");
        }
    }
    if (!model || n_files == 0)
        return cli_error(CLI_USAGE, "infer needs a MODEL of the site and its input FILE(s)");
    eml_env *env = NULL;
    if (eml_env_create(NULL, &env) != EML_OK)
        return cli_error(CLI_FAIL, "out of memory");
    eml_tensor inputs[16];
    memset(inputs, 0, sizeof(inputs));
    eml_diag d;
    eml_diag_init(&d);
    int rc = CLI_OK;
    for (int k = 0; k < n_files && rc == CLI_OK; k++) {
        eml_status st = eml_tensor_read_file(env, files[k], NULL, &inputs[k], &d);
        if (st != EML_OK)
            rc = cli_error_diag(&d, st, files[k]);
    }
    eml_manager *m = rc == CLI_OK ? cli_fleet_open() : NULL;
    if (rc == CLI_OK && !m)
        rc = CLI_FAIL;
    if (rc == CLI_OK) {
        eml_infer_result r;
        eml_status st = eml_manager_infer(m, node, model, inputs, (size_t)n_files, &r, &d);
        if (st != EML_OK) {
            rc = cli_error_diag(&d, st, NULL);
        } else if (json) {
            printf("{\"model\": ");
            cli_json_string(stdout, r.model);
            printf(", \"version\": %u, \"node\": ", r.version);
            cli_json_string(stdout, r.node);
            printf(", \"inference_ms\": %.4f, \"round_trip_ms\": %.4f, \"outputs\": [",
                   r.inference_ms, r.round_trip_ms);
            for (size_t o = 0; o < r.output_count; o++) {
                const eml_tensor *t = &r.outputs[o].tensor;
                printf("%s{\"name\": ", o ? ", " : "");
                cli_json_string(stdout, r.outputs[o].name);
                printf(", \"datatype\": \"%s\", \"shape\": [", eml_dtype_name(t->dtype));
                for (int q = 0; q < t->rank; q++)
                    printf("%s%lld", q ? ", " : "", (long long)t->dims[q]);
                printf("], \"data\": [");
                int64_t count = eml_tensor_count(t);
                for (int64_t q = 0; q < count; q++)
                    printf("%s%.9g", q ? ", " : "", value_at(t, q));
                printf("]}");
            }
            printf("]}\n");
        } else {
            printf("model %s version %u on node %s: inference %.3f ms on the node, round trip "
                   "%.3f ms\n",
                   r.model, r.version, r.node, r.inference_ms, r.round_trip_ms);
            for (size_t o = 0; o < r.output_count; o++)
                print_output(&r.outputs[o], top);
        }
        eml_infer_result_deinit(&r);
    }
    for (int k = 0; k < n_files; k++)
        eml_tensor_free(env, &inputs[k]);
    eml_manager_close(m);
    eml_env_destroy(env);
    return rc;
}

int cli_deploy(int argc, char **argv)
{
    const char *file = NULL, *node = "local";
    eml_model_descriptor desc;
    eml_model_descriptor_init(&desc);
    int json = 0;
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        int r;
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            i++;
        } else if ((r = cli_option_value(argc, argv, &i, "--node", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            node = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--model", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            desc.id = v;
        } else if ((r = cli_fleet_descriptor_option(argc, argv, &i, &desc)) != 0) {
            if (r < 0)
                return CLI_USAGE;
        } else if (argv[i][0] == '-') {
            return cli_error(CLI_USAGE, "deploy: unknown option '%s' (see 'edgeml help deploy')",
                             argv[i]);
        } else if (!file) {
            file = argv[i++];
        } else {
            return cli_error(CLI_USAGE, "deploy takes one model FILE");
        }
    }
    if (!desc.id)
        return cli_error(CLI_USAGE, "deploy needs --model ID (and the model FILE, unless the "
                                    "site has the model: then its latest version)");
    desc.file = file;
    eml_manager *m = cli_fleet_open();
    if (!m)
        return CLI_FAIL;
    eml_deploy_result r;
    eml_diag d;
    eml_diag_init(&d);
    eml_status st = eml_manager_deploy(m, &desc, node, &r, &d);
    eml_manager_close(m);
    if (st != EML_OK)
        return cli_error_diag(&d, st, NULL);
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, desc.id);
        printf(", \"node\": ");
        cli_json_string(stdout, node);
        printf(", \"version\": %u, \"node_version\": %u, \"sha256\": \"%s\", \"model_bytes\": "
               "%llu, \"health_latency_ms\": %.4f}\n",
               r.version, r.node_version, r.sha256, (unsigned long long)r.model_bytes,
               r.health_latency_ms);
    } else {
        char b[32];
        printf("deployed %s version %u (%s, sha256 %.16s...) to node %s: serving as node "
               "version %u, health check %.3f ms\n",
               desc.id, r.version, cli_fleet_bytes(b, sizeof(b), r.model_bytes), r.sha256, node,
               r.node_version, r.health_latency_ms);
    }
    return CLI_OK;
}

int cli_rollback(int argc, char **argv)
{
    const char *model = NULL, *node = "local";
    long version = 0;
    int json = 0;
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        int r;
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            i++;
        } else if ((r = cli_option_value(argc, argv, &i, "--node", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            node = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--version", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 1, UINT32_MAX, &version) != 0)
                return cli_error(CLI_USAGE, "--version needs a node version number");
        } else if (argv[i][0] == '-') {
            return cli_error(CLI_USAGE,
                             "rollback: unknown option '%s' (see 'edgeml help rollback')", argv[i]);
        } else if (!model) {
            model = argv[i++];
        } else {
            return cli_error(CLI_USAGE, "rollback takes one MODEL");
        }
    }
    if (!model)
        return cli_error(CLI_USAGE, "rollback needs a MODEL of the site");
    eml_manager *m = cli_fleet_open();
    if (!m)
        return CLI_FAIL;
    uint32_t serving = 0;
    eml_diag d;
    eml_diag_init(&d);
    eml_status st = eml_manager_rollback(m, node, model, (uint32_t)version, &serving, &d);
    eml_manager_close(m);
    if (st != EML_OK)
        return cli_error_diag(&d, st, NULL);
    if (json) {
        printf("{\"model\": ");
        cli_json_string(stdout, model);
        printf(", \"node\": ");
        cli_json_string(stdout, node);
        printf(", \"serving\": %u}\n", serving);
    } else {
        printf("node %s now serves %s version %u\n", node, model, serving);
    }
    return CLI_OK;
}

int cli_fleet_help(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fputs(CLI_FLEET_HELP, stdout);
    return CLI_OK;
}
