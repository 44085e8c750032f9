/* `edgeml optimize MODEL -o OUT.onnx`: runs the graph passes and writes the optimized model as
 * ONNX (edgeml's fused ops under the ai.edgeml domain; --level 1 keeps to ONNX ops). */
#include <string.h>

#include "cli.h"

int cli_optimize(int argc, char **argv)
{
    const char *model = NULL, *out = NULL;
    cli_optimize_args opt;
    cli_optimize_args_init(&opt);
    int i = 1;
    while (i < argc) {
        const char *v = NULL;
        int r = cli_optimize_option(argc, argv, &i, &opt);
        if (r < 0)
            return CLI_USAGE;
        if (r > 0)
            continue;
        if ((r = cli_option_value(argc, argv, &i, "--output", &v)) != 0 ||
            (r = cli_option_value(argc, argv, &i, "-o", &v)) != 0) {
            if (r < 0)
                return CLI_USAGE;
            if (out)
                return cli_error(CLI_USAGE, "optimize: one output at a time");
            out = v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_error(CLI_USAGE, "optimize: unknown option '%s'", argv[i]);
        } else if (model) {
            return cli_error(CLI_USAGE, "optimize: one model at a time ('%s' and '%s')", model,
                             argv[i]);
        } else {
            model = argv[i++];
        }
    }
    if (!model || !out)
        return cli_error(CLI_USAGE, "optimize: %s (edgeml optimize MODEL -o OUT.onnx)",
                         model ? "no output given" : "no model given");
    eml_env *env;
    eml_graph *graph;
    int rc = cli_load_model(model, 1, &env, &graph);
    if (rc != CLI_OK)
        return rc;
    eml_optimize_report report;
    memset(&report, 0, sizeof(report));
    rc = cli_optimize_graph(graph, &opt, &report, model);
    if (rc == CLI_OK) {
        eml_diag diag;
        eml_diag_init(&diag);
        eml_status st = eml_graph_save_onnx(graph, out, &diag);
        if (st != EML_OK)
            rc = cli_error_diag(&diag, st, out);
    }
    if (rc == CLI_OK) {
        printf("%s: %zu nodes -> %zu, %zu initializers -> %zu\n", model, report.nodes_before,
               report.nodes_after, report.initializers_before, report.initializers_after);
        printf("optimization (level %d, %u round%s), rewrites per pass:\n", opt.level,
               (unsigned)report.rounds, report.rounds == 1 ? "" : "s");
        cli_print_passes(stdout, &report);
        printf("written to %s\n", out);
    }
    eml_graph_destroy(graph);
    eml_env_destroy(env);
    return rc;
}
