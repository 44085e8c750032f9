/* Serving metrics: counters, gauges and histograms with one label, rendered as Prometheus text. */
#ifndef EML_SERVE_METRICS_H
#define EML_SERVE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "edgeml/status.h"

typedef struct eml__metrics eml__metrics;

/* Every metric the node exports: name, type, help. One list, so /metrics and the code agree. */
#define EML_METRICS_MAP(X)                                                                         \
    X(CACHE_HITS, "edgeml_cache_hits_total", "counter", "Model lookups served from memory")        \
    X(CACHE_MISSES, "edgeml_cache_misses_total", "counter", "Model lookups that loaded the model") \
    X(CACHE_EVICTIONS, "edgeml_cache_evictions_total", "counter",                                  \
      "Models unloaded to stay within the memory budget")                                          \
    X(CACHE_PREFETCHES, "edgeml_cache_prefetches_total", "counter", "Models loaded ahead of use")  \
    X(CACHE_UNLOADS, "edgeml_cache_unloads_total", "counter", "Models unloaded on request")        \
    X(CACHE_BYTES, "edgeml_cache_bytes", "gauge", "Bytes held by loaded models")                   \
    X(CACHE_BUDGET, "edgeml_cache_budget_bytes", "gauge", "Memory budget of loaded models")        \
    X(MODELS_LOADED, "edgeml_models_loaded", "gauge", "Models in memory")                          \
    X(INFER_REQUESTS, "edgeml_inference_requests_total", "counter", "Inference requests")          \
    X(INFER_FAILURES, "edgeml_inference_failures_total", "counter", "Failed inference requests")   \
    X(QUEUE_REJECTED, "edgeml_queue_rejected_total", "counter",                                    \
      "Requests refused because the model's queue was full")                                      \
    X(DEADLINE_EXPIRED, "edgeml_deadline_expired_total", "counter",                                \
      "Requests whose deadline passed before they ran")                                           \
    X(BATCHES, "edgeml_batches_total", "counter", "Model executions (each runs one batch)")       \
    X(BATCH_SIZE, "edgeml_batch_size", "histogram", "Requests per executed batch")                 \
    X(REQUEST_SECONDS, "edgeml_request_duration_seconds", "histogram",                             \
      "Time from queueing to reply of an inference request")                                      \
    X(HTTP_REQUESTS, "edgeml_http_requests_total", "counter", "HTTP requests by status code")   \
    X(AB_REQUESTS, "edgeml_ab_requests_total", "counter", "A/B test requests by model/arm")       \
    X(AB_ERRORS, "edgeml_ab_errors_total", "counter", "Failed A/B test requests by model/arm")    \
    X(AB_SECONDS, "edgeml_ab_request_duration_seconds", "histogram",                             \
      "Latency of successful A/B test requests by model/arm")                                     \
    X(VARIANT_CHOICES, "edgeml_variant_choices_total", "counter",                                  \
      "Variant chosen by the adaptive policy, by model/variant")                                  \
    X(VARIANT_REASONS, "edgeml_variant_choice_reasons_total", "counter",                           \
      "Why the adaptive policy chose, by model/reason (preferred, slo, queue, power)")            \
    X(DRIFT_PSI, "edgeml_drift_psi", "gauge",                                                      \
      "Largest population stability index of a model's inputs against its reference profile")     \
    X(DRIFT_SAMPLES, "edgeml_drift_samples_total", "counter",                                      \
      "Input samples counted against a model's reference profile")

typedef enum eml__metric_id {
#define EML__METRIC_ENUM(id, name, type, help) EML_METRIC_##id,
    EML_METRICS_MAP(EML__METRIC_ENUM)
#undef EML__METRIC_ENUM
        EML_METRIC_COUNT
} eml__metric_id;

/* Returns EML_OK or EML_ENOMEM. The registry is safe to use from any thread. */
eml_status eml__metrics_create(eml__metrics **out);
void eml__metrics_destroy(eml__metrics *m);

/* label: the value of the metric's one label ("model" or, for HTTP, "code"); NULL or "" for none.
 * m may be NULL (no-op), so serving works without a registry. Series beyond a fixed maximum are
 * dropped rather than grown without bound (a client cannot exhaust memory by naming models). */
void eml__metrics_add(eml__metrics *m, eml__metric_id id, const char *label, double delta);
void eml__metrics_set(eml__metrics *m, eml__metric_id id, const char *label, double value);
void eml__metrics_observe(eml__metrics *m, eml__metric_id id, const char *label, double value);

/* A counter's or gauge's value (a histogram's count); 0 when absent. */
double eml__metrics_get(eml__metrics *m, eml__metric_id id, const char *label);

/* The Prometheus text exposition (version 0.0.4), malloc'd; the caller frees it. NULL on ENOMEM. */
char *eml__metrics_text(eml__metrics *m);

#endif
