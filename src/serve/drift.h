/* The drift monitor: a model version's reference profile (config.json's "drift") and running
 * per-channel bin counts of the inputs it serves, over a window, compared by PSI. */
#ifndef EML_SERVE_DRIFT_H
#define EML_SERVE_DRIFT_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "edgeml/drift.h"
#include "edgeml/graph.h"

typedef struct eml__drift eml__drift;

/* Parses and checks a profile: `profile` is the "drift" object (borrowed for the call).
 * graph (borrowed for the call, may be NULL): when given, the profile is also bound to it
 * (eml__drift_bind). Returns EML_OK, EML_EINVAL (a bad profile: the diag names the input,
 * the channel and what is wrong), EML_ENOMEM. */
eml_status eml__drift_create(const cJSON *profile, const eml_graph *graph, eml__drift **out,
                             eml_diag *diag);
/* NULL is a no-op. No call on d may be running. */
void eml__drift_destroy(eml__drift *d);

/* Matches the profile's inputs to the graph's by name and checks ranks and static channel
 * counts; observe counts nothing until this succeeded. Returns EML_OK, EML_EINVAL (unknown
 * input, axis outside the rank, channel count differs). Thread-safe; idempotent. */
eml_status eml__drift_bind(eml__drift *d, const eml_graph *graph, eml_diag *diag);
int eml__drift_is_bound(eml__drift *d);

/* Counts a request's inputs (graph order, n_in of them, as the graph was bound; borrowed).
 * An input whose channel dim differs from the profile's is skipped. Returns the samples
 * (rows) counted. *refresh (may be NULL) is set to 1 when enough samples came since the last
 * eml__drift_summary that a gauge of it should be refreshed. Thread-safe. */
uint64_t eml__drift_observe(eml__drift *d, const eml_tensor *in, size_t n_in, int *refresh);

/* Empties the window. Thread-safe. */
void eml__drift_reset(eml__drift *d);

typedef struct eml__drift_summary {
    uint64_t samples;       /* rows in the window (of the input with the most) */
    uint64_t total_samples; /* rows counted since creation or reset */
    double max_psi;         /* over inputs and channels; 0 without samples */
    const char *status;     /* "collecting" (fewer than min_samples), "ok", "warn", "drift" */
} eml__drift_summary;

/* Computes PSI now. Thread-safe. */
void eml__drift_summarize(eml__drift *d, eml__drift_summary *out);
/* The full report: {"status", "samples", "total_samples", "max_psi", "window", "min_samples",
 * "warn", "alert", "inputs": [{"name", "axis", "samples", "max_psi", "channels": [{"psi",
 * "values", "expected": [...], "actual": [...]}]}]}; per-bin fractions only when `bins`.
 * NULL on ENOMEM. Thread-safe. */
cJSON *eml__drift_report(eml__drift *d, int bins);

#endif
