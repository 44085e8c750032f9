/* Optimization: quantize the site's model to INT8 (calibrated on 200 training images) and prune
 * half of its weights, deploy both variants to the node "local", and measure size, latency and
 * accuracy (on 1000 test images) of all three there. */
#include "common.h"

static void measure(eml_manager *m, const char *id, const eml_tensor *images,
                    const eml_tensor *labels)
{
    eml_diag diag;
    eml_diag_init(&diag);
    eml_bench_options o;
    eml_bench_options_init(&o);
    o.runs = 100;
    eml_bench_result b;
    TRY("bench", eml_manager_bench(m, "local", id, &o, &b, &diag));
    eml_eval_result ev;
    TRY("evaluate", eml_manager_evaluate(m, "local", id, images, labels,
                                         "fashion-mnist t10k[0:1000]", &ev, &diag));
    eml_model_info info;
    TRY("model", eml_manager_model(m, id, &info, &diag));
    printf("%-22s %9.1f KiB %10.3f ms %9.2f%%\n", id, info.model_bytes / 1024.0, b.latency_ms_p50,
           ev.top1_pct);
}

int main(int argc, char **argv)
{
    example_args(argc, argv);
    eml_diag diag;
    eml_diag_init(&diag);
    eml_tensor calib, test;
    uint8_t *calib_labels = NULL, *test_labels = NULL;
    test_images(200, "train", &calib, &calib_labels);
    test_images(1000, "t10k", &test, &test_labels);
    eml_tensor labels = {EML_DTYPE_U8, 1, {1000}, test_labels};
    eml_manager *m = open_site();
    ensure_deployed(m);

    eml_quantize_options q;
    eml_quantize_options_init(&q);
    q.precision = EML_PRECISION_INT8;
    q.calib = &calib;
    eml_derive_result qr, pr;
    TRY("quantize", eml_manager_quantize(m, "fashion_cnn", NULL, &q, &qr, &diag));
    printf("quantized: %s v%u, %llu -> %llu bytes\n", qr.id, qr.version,
           (unsigned long long)qr.bytes_before, (unsigned long long)qr.bytes_after);
    eml_prune_options p;
    eml_prune_options_init(&p);
    p.sparsity = 0.5f;
    TRY("prune", eml_manager_prune(m, "fashion_cnn", NULL, &p, &pr, &diag));
    printf("pruned:    %s v%u, %.1f%% of the pruned weights zero\n", pr.id, pr.version,
           100 * pr.sparsity);

    const char *ids[2] = {qr.id, pr.id};
    for (int i = 0; i < 2; i++) {
        char file[2300];
        eml_model_descriptor desc =
            fashion_descriptor(ids[i], artifact_path(m, ids[i], file, sizeof(file)));
        eml_deploy_result r;
        TRY("deploy", eml_manager_deploy(m, &desc, "local", &r, &diag));
    }
    printf("%-22s %13s %13s %10s\n", "model", "size", "latency p50", "top-1");
    measure(m, "fashion_cnn", &test, &labels);
    measure(m, qr.id, &test, &labels);
    measure(m, pr.id, &test, &labels);
    free(calib.data);
    free(calib_labels);
    free(test.data);
    free(test_labels);
    eml_manager_close(m);
    return 0;
}
