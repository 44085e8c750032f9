/* Benchmarking: run the deployed model 200 times on the node "local" and print throughput,
 * latency percentiles, peak memory and energy (or "unavailable" where the node has no power
 * sensor); the figures are recorded and show up in the site's model list. */
#include "common.h"

int main(int argc, char **argv)
{
    example_args(argc, argv);
    eml_diag diag;
    eml_diag_init(&diag);
    eml_manager *m = open_site();
    ensure_deployed(m);

    eml_bench_options o;
    eml_bench_options_init(&o);
    o.runs = 200;
    o.warmup = 10;
    eml_bench_result b;
    TRY("bench", eml_manager_bench(m, "local", "fashion_cnn", &o, &b, &diag));
    printf("fashion_cnn v%u on %s: %u runs, batch %u\n", b.version, b.node, b.runs, b.batch);
    printf("throughput  %.1f inferences/s\n", b.throughput_ips);
    printf("latency     p50 %.3f ms, p90 %.3f ms, p99 %.3f ms\n", b.latency_ms_p50,
           b.latency_ms_p90, b.latency_ms_p99);
    if (b.has_peak_memory)
        printf("memory      %.1f MiB peak RSS of the node\n", b.peak_memory_bytes / 1048576.0);
    else
        printf("memory      unavailable\n");
    if (b.has_power)
        printf("power       %.3f W\n", b.power_w);
    else
        printf("power       unavailable (no power sensor)\n");
    if (b.has_energy)
        printf("energy      %.6f J per inference\n", b.energy_j_per_inference);
    else
        printf("energy      unavailable (no power sensor)\n");

    eml_model_info info;
    TRY("model", eml_manager_model(m, "fashion_cnn", &info, &diag));
    printf("model list: latency %.3f ms measured on %s\n", info.latency_ms.value,
           info.latency_ms.node);
    eml_manager_close(m);
    return info.latency_ms.has && info.latency_ms.value == b.latency_ms_p50 ? 0 : 1;
}
