/* Fuzz target: ONNX model bytes through the importer, then compiled into a plan (shape inference,
 * prepare and memory planning all see the fuzzed graph). External data is refused. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    eml_env *env = fuzz_env();
    if (!env)
        return 0;
    eml_graph *graph = NULL;
    eml_diag diag;
    eml_diag_init(&diag);
    if (eml_graph_load_onnx_bytes(env, data, size, NULL, &graph, &diag) != EML_OK)
        return 0;
    eml_graph_stats stats;
    eml_graph_stats_get(graph, &stats);
    eml_plan *plan = NULL;
    eml_diag_init(&diag);
    if (eml_plan_create(graph, &plan, &diag) == EML_OK) {
        eml_plan_memory mem;
        eml_plan_memory_get(plan, &mem);
        eml_plan_destroy(plan);
    }
    eml_graph_destroy(graph);
    return 0;
}
