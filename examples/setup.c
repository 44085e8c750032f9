/* Setup: open (or create) the edge site "factory-edge-01" and look at it: site status, nodes,
 * and the models with the latency and accuracy last measured on a node. */
#include "common.h"

int main(int argc, char **argv)
{
    example_args(argc, argv);
    eml_diag diag;
    eml_diag_init(&diag);
    eml_manager *m = open_site();
    printf("site %s in %s\n", SITE, eml_manager_site_dir(m));

    eml_site_status s;
    TRY("site status", eml_manager_status(m, &s, &diag));
    printf("models: %u known, %u deployed; nodes: %u total, %u online (transport %s)\n",
           s.models_total, s.models_deployed, s.nodes_total, s.nodes_online, s.transport);

    eml_model_info *models = NULL;
    size_t n = 0;
    TRY("model list", eml_manager_models(m, &models, &n, &diag));
    for (size_t i = 0; i < n; i++) {
        const eml_model_info *x = &models[i];
        printf("model %-22s version %u, %llu bytes, ", x->id, x->latest_version,
               (unsigned long long)x->model_bytes);
        if (x->latency_ms.has)
            printf("latency %.3f ms on %s, ", x->latency_ms.value, x->latency_ms.node);
        else
            printf("latency not measured, ");
        if (x->accuracy_pct.has)
            printf("accuracy %.2f%% on %s\n", x->accuracy_pct.value, x->accuracy_pct.node);
        else
            printf("accuracy not measured\n");
    }
    if (n == 0)
        printf("no model yet (see deployment.c)\n");
    eml_manager_free(models);
    eml_manager_close(m);
    return 0;
}
