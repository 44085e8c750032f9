/* Dynamic batching for one loaded model: requests queue, worker threads merge them along the
 * batch dimension and run them, callers wait for their own slice of the outputs. */
#ifndef EML_SERVE_BATCHER_H
#define EML_SERVE_BATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "edgeml/graph.h"
#include "edgeml/runtime.h"
#include "serve/metrics.h"

/* Serving conditions beyond the library's statuses (agent-internal, never returned by the public
 * API): the queue is full, a deadline passed before the request ran, the model is going away. */
#define EML__EBUSY ((eml_status)-101)
#define EML__ETIMEOUT ((eml_status)-102)
#define EML__EUNAVAILABLE ((eml_status)-103)

#define EML__MAX_PREFERRED 8

typedef struct eml__batch_options {
    uint32_t max_batch_size;     /* rows per run; 0 or 1: no batching */
    uint64_t max_queue_delay_us; /* how long the oldest request may wait for company */
    uint32_t preferred[EML__MAX_PREFERRED]; /* batch sizes to dispatch at once when reached */
    uint32_t n_preferred;
    uint32_t max_queue;          /* queued requests beyond this are refused with EML__EBUSY */
    uint32_t n_workers;          /* worker threads, each with its own session; 0: 1 */
} eml__batch_options;

void eml__batch_options_init(eml__batch_options *o);

typedef struct eml__batcher eml__batcher;

/* graph, plan: borrowed, must outlive the batcher. metrics: borrowed, may be NULL; label: copied
 * (the model's name for metrics). Starts the workers. Returns EML_OK, EML_EINVAL, EML_ENOMEM. */
eml_status eml__batcher_create(const eml_graph *graph, const eml_plan *plan,
                               const eml__batch_options *opts, eml__metrics *metrics,
                               const char *label, eml__batcher **out, eml_diag *diag);
/* Stops the workers; requests still queued finish with EML__EUNAVAILABLE. NULL is a no-op. */
void eml__batcher_destroy(eml__batcher *b);

/* Runs one request on a worker and waits for it. inputs: borrowed until return, one per graph
 * input. deadline_ns: CLOCK_MONOTONIC time after which the request is dropped unrun (0: none).
 * On EML_OK *outputs is an array of *n_outputs tensors with malloc'd data (eml__outputs_free).
 * Returns EML_OK, EML_EINVAL/EML_ETYPE/EML_ESHAPE (inputs do not fit the model, or more rows
 * than max_batch_size), EML__EBUSY,
 * EML__ETIMEOUT, EML__EUNAVAILABLE, or the run's status. Thread-safe. */
eml_status eml__batcher_infer(eml__batcher *b, const eml_tensor *inputs, size_t n_inputs,
                              uint64_t deadline_ns, eml_tensor **outputs, size_t *n_outputs,
                              eml_diag *diag);
void eml__outputs_free(eml_tensor *outputs, size_t n_outputs);

/* Where a request's time went, on CLOCK_MONOTONIC: queue_ns from its arrival to the start of the
 * session run that computed it (the queue and the wait for a fuller batch), run_ns that run
 * (for a merged batch: the whole batch's run; copying the outputs out is not counted). */
typedef struct eml__infer_times {
    uint64_t queue_ns, run_ns;
} eml__infer_times;
/* eml__batcher_infer, and on EML_OK *times (may be NULL) filled. */
eml_status eml__batcher_infer_timed(eml__batcher *b, const eml_tensor *inputs, size_t n_inputs,
                                    uint64_t deadline_ns, eml_tensor **outputs, size_t *n_outputs,
                                    eml__infer_times *times, eml_diag *diag);

/* Requests waiting in the queue now (not yet taken by a worker). Thread-safe. */
uint32_t eml__batcher_queued(eml__batcher *b);

/* Effective settings (max_batch_size is 1 when the model has no dynamic batch dimension). */
void eml__batcher_options(const eml__batcher *b, eml__batch_options *out);

/* CLOCK_MONOTONIC now, in nanoseconds. */
uint64_t eml__now_ns(void);

#endif
