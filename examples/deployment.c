/* Deployment: deploy a model descriptor to the node "local" (a new version), ship an update (a
 * pruned copy) as the next version, check it serves, and roll back to the version before. */
#include "common.h"

static void show_serving(eml_manager *m)
{
    eml_diag diag;
    eml_diag_init(&diag);
    eml_node_info n;
    TRY("node status", eml_manager_node_status(m, "local", &n, &diag));
    for (size_t i = 0; i < n.model_count; i++)
        printf("  node local serves %s version %u (site version %u)\n", n.models[i].model,
               n.models[i].version, n.models[i].site_version);
    eml_node_info_deinit(&n);
}

int main(int argc, char **argv)
{
    example_args(argc, argv);
    eml_diag diag;
    eml_diag_init(&diag);
    eml_manager *m = open_site();

    eml_model_descriptor desc = fashion_descriptor("fashion_cnn", model_path);
    eml_deploy_result r1, r2;
    TRY("deploy", eml_manager_deploy(m, &desc, "local", &r1, &diag));
    printf("deployed %s: site version %u, node version %u, sha256 %.12s..., health check "
           "%.3f ms\n",
           desc.id, r1.version, r1.node_version, r1.sha256, r1.health_latency_ms);

    /* An update: the same network with 30% of its weights pruned, as the next version. */
    eml_prune_options p;
    eml_prune_options_init(&p);
    p.sparsity = 0.3f;
    eml_derive_result pr;
    TRY("prune", eml_manager_prune(m, "fashion_cnn", "fashion_cnn-update", &p, &pr, &diag));
    char file[2300];
    desc.file = artifact_path(m, pr.id, file, sizeof(file));
    TRY("deploy the update", eml_manager_deploy(m, &desc, "local", &r2, &diag));
    printf("deployed the update: site version %u, node version %u\n", r2.version, r2.node_version);
    show_serving(m);

    /* A descriptor that does not fit the file is refused before anything is deployed. */
    eml_model_descriptor wrong = fashion_descriptor("fashion_cnn", model_path);
    wrong.input_shape[1] = 3;
    eml_deploy_result rw;
    eml_status st = eml_manager_deploy(m, &wrong, "local", &rw, &diag);
    printf("a descriptor saying 3 channels: %s (%s)\n", eml_status_name(st), diag.message);

    uint32_t serving = 0;
    eml_diag_init(&diag);
    TRY("rollback", eml_manager_rollback(m, "local", "fashion_cnn", 0, &serving, &diag));
    printf("rolled back: node local serves fashion_cnn version %u again\n", serving);
    show_serving(m);
    eml_manager_close(m);
    return st == EML_ESHAPE && serving == r1.node_version ? 0 : 1;
}
