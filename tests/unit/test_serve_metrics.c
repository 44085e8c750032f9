/* The metrics registry: counters, gauges, histograms by label, and their Prometheus text. */
#include <string.h>

#include "harness.h"
#include "serve/metrics.h"

EML_TEST(counters_and_gauges)
{
    eml__metrics *m;
    REQUIRE(eml__metrics_create(&m) == EML_OK);
    eml__metrics_add(m, EML_METRIC_CACHE_HITS, "a", 1);
    eml__metrics_add(m, EML_METRIC_CACHE_HITS, "a", 2);
    eml__metrics_add(m, EML_METRIC_CACHE_HITS, "b", 5);
    eml__metrics_set(m, EML_METRIC_CACHE_BYTES, NULL, 100);
    eml__metrics_set(m, EML_METRIC_CACHE_BYTES, NULL, 42);
    CHECK(eml__metrics_get(m, EML_METRIC_CACHE_HITS, "a") == 3);
    CHECK(eml__metrics_get(m, EML_METRIC_CACHE_HITS, "b") == 5);
    CHECK(eml__metrics_get(m, EML_METRIC_CACHE_HITS, "c") == 0);
    CHECK(eml__metrics_get(m, EML_METRIC_CACHE_BYTES, NULL) == 42);
    eml__metrics_add(NULL, EML_METRIC_CACHE_HITS, "a", 1); /* no registry: no-op */
    eml__metrics_destroy(m);
}

EML_TEST(prometheus_text)
{
    eml__metrics *m;
    REQUIRE(eml__metrics_create(&m) == EML_OK);
    eml__metrics_add(m, EML_METRIC_BATCHES, "fashion_cnn", 2);
    eml__metrics_observe(m, EML_METRIC_BATCH_SIZE, "fashion_cnn", 3);
    eml__metrics_observe(m, EML_METRIC_BATCH_SIZE, "fashion_cnn", 1);
    eml__metrics_add(m, EML_METRIC_HTTP_REQUESTS, "404", 1);
    eml__metrics_add(m, EML_METRIC_INFER_REQUESTS, "we\"ird\\name", 1);
    char *t = eml__metrics_text(m);
    REQUIRE(t != NULL);
    CHECK(strstr(t, "# TYPE edgeml_batches_total counter\n") != NULL);
    CHECK(strstr(t, "edgeml_batches_total{model=\"fashion_cnn\"} 2\n") != NULL);
    CHECK(strstr(t, "edgeml_batch_size_bucket{model=\"fashion_cnn\",le=\"1\"} 1\n") != NULL);
    CHECK(strstr(t, "edgeml_batch_size_bucket{model=\"fashion_cnn\",le=\"2\"} 1\n") != NULL);
    CHECK(strstr(t, "edgeml_batch_size_bucket{model=\"fashion_cnn\",le=\"4\"} 2\n") != NULL);
    CHECK(strstr(t, "edgeml_batch_size_bucket{model=\"fashion_cnn\",le=\"+Inf\"} 2\n") != NULL);
    CHECK(strstr(t, "edgeml_batch_size_sum{model=\"fashion_cnn\"} 4\n") != NULL);
    CHECK(strstr(t, "edgeml_batch_size_count{model=\"fashion_cnn\"} 2\n") != NULL);
    CHECK(strstr(t, "edgeml_http_requests_total{code=\"404\"} 1\n") != NULL);
    /* label values are escaped as the text format requires */
    CHECK(strstr(t, "{model=\"we\\\"ird\\\\name\"} 1\n") != NULL);
    free(t);
    eml__metrics_destroy(m);
}

EML_TEST(series_are_bounded)
{
    eml__metrics *m;
    REQUIRE(eml__metrics_create(&m) == EML_OK);
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        eml__metrics_add(m, EML_METRIC_INFER_REQUESTS, name, 1);
    }
    CHECK(eml__metrics_get(m, EML_METRIC_INFER_REQUESTS, "m0") == 1);
    CHECK(eml__metrics_get(m, EML_METRIC_INFER_REQUESTS, "m4999") == 0);
    char *t = eml__metrics_text(m);
    CHECK(t != NULL);
    free(t);
    eml__metrics_destroy(m);
}
