/* `edgeml [--site S] [--broker URL] evaluate NODE MODEL --data F --labels F`: the accuracy of
 * the model version a node serves, measured on the node (eml_manager_evaluate) and recorded. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "cli_fleet.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* "fashion-mnist/t10k-images-idx3-ubyte.gz": the file and its folder's name. */
static const char *dataset_name(const char *path)
{
    const char *base = path + strlen(path);
    for (int slashes = 0; base > path; base--)
        if (base[-1] == '/' && ++slashes == 2)
            break;
    return base;
}

int cli_fleet_evaluate(int argc, char **argv)
{
    const char *pos[2] = {NULL, NULL}, *data_path = NULL, *labels_path = NULL;
    int n_pos = 0, json = 0;
    long limit = 0;
    cli_data_args da;
    cli_data_args_init(&da);
    for (int i = 1; i < argc;) {
        const char *v = NULL;
        int r;
        if ((r = cli_option_value(argc, argv, &i, "--data", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            data_path = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--labels", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            labels_path = v;
        } else if ((r = cli_option_value(argc, argv, &i, "--limit", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            if (cli_parse_int(v, 1, UINT32_MAX, &limit) != 0)
                return cli_error(CLI_USAGE, "--limit needs a whole number from 1 to %u",
                                 UINT32_MAX);
        } else if ((r = cli_data_option(argc, argv, &i, &da)) != 0) {
            if (r < 0)
                return CLI_USAGE;
        } else if (strcmp(argv[i], "--json") == 0) {
            json = 1;
            i++;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_error(CLI_USAGE, "evaluate: unknown option '%s'", argv[i]);
        } else if (n_pos < 2) {
            pos[n_pos++] = argv[i++];
        } else {
            return cli_error(CLI_USAGE, "evaluate takes NODE MODEL, then options");
        }
    }
    if (n_pos != 2)
        return cli_error(CLI_USAGE, "usage: edgeml [--site S] [--broker URL] evaluate NODE MODEL "
                                    "--data FILE --labels FILE [--limit N] [--json]");
    if (!data_path || !labels_path)
        return cli_error(CLI_USAGE, "evaluate needs --data FILE and --labels FILE");
    struct stat sb;
    if (stat(data_path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return cli_error(CLI_USAGE,
                         "evaluate: --data takes a file (.npy, .pb, IDX), not a folder of images");
    const char *node = pos[0], *model = pos[1];

    eml_env *env = NULL;
    eml_env_options eo;
    eml_env_options_init(&eo);
    eo.n_threads = 1;
    if (eml_env_create(&eo, &env) != EML_OK)
        return cli_error(CLI_FAIL, "cannot create an environment");
    eml_tensor data, labels;
    memset(&data, 0, sizeof(data));
    memset(&labels, 0, sizeof(labels));
    int rc = cli_data_read(env, data_path, NULL, &da, (uint32_t)limit, &data, NULL);
    if (rc == CLI_OK)
        rc = cli_labels_read(env, labels_path, (uint32_t)limit, &labels);
    eml_manager *m = rc == CLI_OK ? cli_fleet_open() : NULL;
    if (rc == CLI_OK && !m)
        rc = CLI_FAIL;
    eml_diag d;
    eml_diag_init(&d);
    eml_eval_result ev;
    memset(&ev, 0, sizeof(ev));
    double took_ms = 0;
    const char *dataset = dataset_name(data_path);
    if (rc == CLI_OK) {
        double t0 = now_ms();
        eml_status st = eml_manager_evaluate(m, node, model, &data, &labels, dataset, &ev, &d);
        took_ms = now_ms() - t0;
        if (st != EML_OK)
            rc = cli_error_diag(&d, st, NULL);
    }
    eml_model_info info;
    memset(&info, 0, sizeof(info));
    if (rc == CLI_OK && eml_manager_model(m, model, &info, &d) != EML_OK)
        memset(&info, 0, sizeof(info));
    uint32_t site_version = info.accuracy_pct.has ? info.accuracy_pct.version : 0;
    if (rc == CLI_OK && json) {
        printf("{\"node\": ");
        cli_json_string(stdout, node);
        printf(", \"model\": ");
        cli_json_string(stdout, model);
        printf(", \"site_version\": %u, \"dataset\": ", site_version);
        cli_json_string(stdout, dataset);
        printf(", \"samples\": %llu, \"classes\": %u, \"top1\": %llu, \"top1_pct\": %.4f, ",
               (unsigned long long)ev.count, ev.n_classes, (unsigned long long)ev.top1,
               ev.top1_pct);
        if (ev.top5_pct >= 0)
            printf("\"top5_pct\": %.4f, ", ev.top5_pct);
        else
            printf("\"top5_pct\": \"unavailable\", ");
        printf("\"elapsed_ms\": %.3f}\n", took_ms);
    } else if (rc == CLI_OK) {
        printf("evaluate %s (site version %u) on node %s: %llu samples of %s\n", model,
               site_version, node, (unsigned long long)ev.count, dataset);
        printf("  top-1 accuracy  %.2f%% (%llu of %llu)\n", ev.top1_pct,
               (unsigned long long)ev.top1, (unsigned long long)ev.count);
        if (ev.top5_pct >= 0)
            printf("  top-5 accuracy  %.2f%%\n", ev.top5_pct);
        else
            printf("  top-5 accuracy  unavailable (%u classes)\n", ev.n_classes);
        printf("  elapsed         %.1f ms (sending the data, the run on the node, the reply)\n",
               took_ms);
        printf("recorded in site %s\n", eml_manager_site_dir(m));
    }
    free(data.data);
    free(labels.data);
    eml_manager_close(m);
    eml_env_destroy(env);
    return rc;
}
