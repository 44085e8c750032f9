/* `edgeml eval MODEL --data FILE --labels FILE`: top-1 (and top-5) accuracy of a classifier on a
 * labelled data set, the model optimized as `edgeml run` runs it. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_eval(int argc, char **argv)
{
    const char *model = NULL, *data_path = NULL, *labels_path = NULL, *pred_path = NULL;
    long limit = 0, batch = 0, threads = 0;
    int json = 0;
    cli_optimize_args opt;
    cli_optimize_args_init(&opt);
    cli_data_args da;
    cli_data_args_init(&da);
    int i = 1;
    while (i < argc) {
        const char *v = NULL;
        int r = cli_optimize_option(argc, argv, &i, &opt);
        if (r == 0)
            r = cli_data_option(argc, argv, &i, &da);
        if (r < 0)
            return CLI_USAGE;
        if (r > 0)
            continue;
        if ((r = cli_option_value(argc, argv, &i, "--data", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            data_path = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--labels", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            labels_path = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--predictions", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            pred_path = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--limit", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 1, UINT32_MAX, &limit) != 0)
                return r < 0 ? CLI_USAGE : cli_error(CLI_USAGE, "--limit wants a count >= 1");
        } else if ((r = cli_option_value(argc, argv, &i, "--batch", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 1, 1 << 20, &batch) != 0)
                return r < 0 ? CLI_USAGE : cli_error(CLI_USAGE, "--batch wants a count >= 1");
        } else if ((r = cli_option_value(argc, argv, &i, "--threads", &v)) != 0) {
            if (r < 0 || cli_parse_int(v, 1, 1024, &threads) != 0)
                return r < 0 ? CLI_USAGE : cli_error(CLI_USAGE, "--threads wants 1 to 1024");
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_error(CLI_USAGE, "eval: unknown option '%s'", argv[i]);
        } else if (model) {
            return cli_error(CLI_USAGE, "eval: one model at a time ('%s' and '%s')", model,
                             argv[i]);
        } else {
            model = argv[i++];
        }
    }
    if (!model || !data_path)
        return cli_error(CLI_USAGE, "eval: %s (edgeml eval MODEL --data FILE --labels FILE)",
                         model ? "no --data given" : "no model given");
    eml_env *env;
    eml_graph *graph;
    int rc = cli_load_model(model, (uint32_t)threads, &env, &graph);
    if (rc != CLI_OK)
        return rc;
    eml_tensor data = {0}, labels = {0}, folder_labels = {0};
    rc = cli_data_read(env, data_path, graph, &da, (uint32_t)limit, &data, &folder_labels);
    if (rc == CLI_OK && labels_path)
        rc = cli_labels_read(env, labels_path, (uint32_t)limit, &labels);
    else if (rc == CLI_OK && !folder_labels.data)
        rc = cli_error(CLI_USAGE,
                       "eval: no --labels given (and '%s' is not a folder of class "
                       "subfolders)",
                       data_path);
    eml_optimize_report report;
    if (rc == CLI_OK)
        rc = cli_optimize_graph(graph, &opt, &report, model);
    eml_eval_result res;
    int32_t *pred = NULL;
    if (rc == CLI_OK && pred_path && !(pred = calloc((size_t)data.dims[0], sizeof(int32_t))))
        rc = cli_error(CLI_FAIL, "out of memory");
    if (rc == CLI_OK) {
        eml_eval_options eo;
        eml_eval_options_init(&eo);
        eo.batch = (uint32_t)batch;
        eml_diag diag;
        eml_diag_init(&diag);
        eml_status st = eml_eval_classifier(graph, &data, labels.data ? &labels : &folder_labels,
                                            &eo, &res, pred, &diag);
        if (st != EML_OK)
            rc = cli_error_diag(&diag, st, data_path);
    }
    if (rc == CLI_OK && pred) {
        eml_tensor t = {EML_DTYPE_I32, 1, {(int64_t)res.count}, pred};
        eml_diag diag;
        eml_diag_init(&diag);
        eml_status st = eml_tensor_write_npy(&t, pred_path, &diag);
        if (st != EML_OK)
            rc = cli_error_diag(&diag, st, pred_path);
    }
    if (rc == CLI_OK && json) {
        printf("{\"model\": ");
        cli_json_string(stdout, model);
        printf(", \"data\": ");
        cli_json_string(stdout, data_path);
        printf(", \"samples\": %llu, \"classes\": %u, \"top1_correct\": %llu, \"top1\": %.4f",
               (unsigned long long)res.count, res.n_classes, (unsigned long long)res.top1,
               res.top1_pct);
        if (res.top5_pct >= 0)
            printf(", \"top5\": %.4f", res.top5_pct);
        printf("}\n");
    } else if (rc == CLI_OK) {
        printf("%s on %s: %llu samples, %u classes\n", model, data_path,
               (unsigned long long)res.count, res.n_classes);
        printf("top-1: %.2f%% (%llu/%llu)\n", res.top1_pct, (unsigned long long)res.top1,
               (unsigned long long)res.count);
        if (res.top5_pct >= 0)
            printf("top-5: %.2f%% (%llu/%llu)\n", res.top5_pct, (unsigned long long)res.top5,
                   (unsigned long long)res.count);
    }
    free(pred);
    free(data.data);
    free(labels.data);
    free(folder_labels.data);
    eml_graph_destroy(graph);
    eml_env_destroy(env);
    return rc;
}
