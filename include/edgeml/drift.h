/* Input drift: reference profiles of a model's inputs made from real data (per channel, bins
 * at the data's quantiles), stored in a version's config.json under "drift", which the agent
 * compares with the inputs it serves (population stability index). */
#ifndef EDGEML_DRIFT_H
#define EDGEML_DRIFT_H

#include <stddef.h>
#include <stdint.h>

#include "edgeml/graph.h"
#include "edgeml/status.h"
#include "edgeml/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits every profile keeps (the agent refuses profiles beyond them). */
#define EML_DRIFT_MAX_BINS 1000
#define EML_DRIFT_MAX_CHANNELS 65536

typedef struct eml_drift_profile_options {
    uint32_t struct_size; /* set by eml_drift_profile_options_init(); fields are only appended */
    int32_t axis;         /* channel axis of every input (default 1: C of NCHW, F of [N,F]);
                             -1: the whole input is one channel */
    uint32_t n_bins;      /* bins per channel at the data's quantiles, 2..EML_DRIFT_MAX_BINS
                             (default 10); ties make fewer, a point mass gets its own bin */
    uint64_t max_values;  /* values kept per channel (reservoir sample beyond; default 2^22) */
    /* Written into the profile for the agent: */
    uint64_t window;      /* samples (rows) in the agent's running window (default 10000) */
    uint64_t min_samples; /* samples before a status other than "collecting" (default 100) */
    double warn, alert;   /* PSI thresholds of "warn" and "drift" (default 0.1, 0.25) */
} eml_drift_profile_options;

EML_API void eml_drift_profile_options_init(eml_drift_profile_options *opts);

typedef struct eml_drift_profiler eml_drift_profiler;

/* A profiler of the inputs of `graph` (borrowed for the call: names, ranks, channel counts).
 * opts: copied; NULL = defaults. Returns EML_OK, EML_EINVAL (options, an axis outside an
 * input's rank, more than EML_DRIFT_MAX_CHANNELS channels), EML_ENOMEM. */
EML_API eml_status eml_drift_profiler_create(const eml_graph *graph,
                                             const eml_drift_profile_options *opts,
                                             eml_drift_profiler **out, eml_diag *diag);
/* Adds samples: inputs[i] feeds graph input i (dim 0 = samples); an input whose data is NULL
 * is skipped. Values are taken as numbers of any dtype; NaN are ignored. inputs: borrowed for
 * the call. Returns EML_OK, EML_EINVAL (count), EML_ESHAPE (rank or channel count differ from
 * the graph's), EML_ETYPE (string data), EML_ENOMEM. Not thread-safe. */
EML_API eml_status eml_drift_profiler_add(eml_drift_profiler *p, const eml_tensor *inputs,
                                          size_t n_inputs, eml_diag *diag);
/* The profile of what was added, as the JSON text of config.json's "drift" object:
 * {"window", "min_samples", "warn", "alert", "inputs": [{"name", "axis", "samples",
 *  "channels": [{"edges": [...], "fractions": [...]}]}]}, malloc'd (free() it). Inputs that
 * got no data are left out. Returns EML_OK, EML_EINVAL (no data at all), EML_ENOMEM. */
EML_API eml_status eml_drift_profiler_finish(eml_drift_profiler *p, char **json, eml_diag *diag);
/* NULL is a no-op. */
EML_API void eml_drift_profiler_destroy(eml_drift_profiler *p);

/* Population stability index of `actual` against `expected` (fractions of n_bins bins):
 * sum((a - e) * ln(a / e)), each fraction raised to EML_DRIFT_EPSILON first so that empty bins
 * count without dividing by zero. 0 for identical distributions; by convention < 0.1 is
 * stable, 0.1-0.25 a moderate shift, > 0.25 a significant one. */
#define EML_DRIFT_EPSILON 1e-4
EML_API double eml_drift_psi(const double *expected, const double *actual, size_t n_bins);

#ifdef __cplusplus
}
#endif
#endif
