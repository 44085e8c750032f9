/* Node management: list the site's nodes, show a node's status (device, CPU, memory, models,
 * last seen), and see what happens with a node that is offline. */
#include "common.h"

static void print_node(const eml_node_info *n)
{
    printf("node %s (%s, %s)\n", n->id, n->transport, n->online ? "online" : "offline");
    printf("  device %s, cpu %s x%u\n", n->device_type[0] ? n->device_type : "unknown",
           n->cpu_model[0] ? n->cpu_model : "unavailable", n->cpu_count);
    if (n->has_memory)
        printf("  memory %.1f of %.1f MiB available\n", n->memory_available_bytes / 1048576.0,
               n->memory_total_bytes / 1048576.0);
    else
        printf("  memory unavailable\n");
    if (n->has_temperature)
        printf("  temperature %.1f C\n", n->temperature_c);
    else
        printf("  temperature unavailable\n");
    if (n->has_power)
        printf("  power %.3f W\n", n->power_w);
    else
        printf("  power unavailable\n");
    printf("  last seen %lld (unix seconds; 0: never)\n", (long long)n->last_seen_unix);
    for (size_t i = 0; i < n->model_count; i++)
        printf("  serves %s version %u\n", n->models[i].model, n->models[i].version);
}

int main(int argc, char **argv)
{
    example_args(argc, argv);
    eml_diag diag;
    eml_diag_init(&diag);
    eml_manager *m = open_site();
    ensure_deployed(m);

    /* A node that will be reached through MQTT: recorded, offline while no broker is set. */
    eml_node_info probe;
    if (eml_manager_node_status(m, "edge-02", &probe, NULL) == EML_ENOTFOUND)
        TRY("add node", eml_manager_node_add(m, "edge-02", "mqtt", &diag));
    eml_node_info_deinit(&probe);

    eml_node_info *nodes = NULL;
    size_t n = 0;
    TRY("nodes", eml_manager_nodes(m, &nodes, &n, &diag));
    for (size_t i = 0; i < n; i++) {
        print_node(&nodes[i]);
        eml_node_info_deinit(&nodes[i]);
    }
    eml_manager_free(nodes);

    float zeros[784] = {0};
    eml_tensor in = {EML_DTYPE_F32, 4, {1, 1, 28, 28}, zeros};
    eml_infer_result r;
    eml_status st = eml_manager_infer(m, "edge-02", "fashion_cnn", &in, 1, &r, &diag);
    printf("inference on edge-02: %s (%s)\n", eml_status_name(st), diag.message);
    eml_infer_result_deinit(&r);
    st = eml_manager_infer(m, "edge-99", "fashion_cnn", &in, 1, &r, &diag);
    printf("inference on edge-99: %s (%s)\n", eml_status_name(st), diag.message);
    eml_infer_result_deinit(&r);
    eml_manager_close(m);
    return 0;
}
