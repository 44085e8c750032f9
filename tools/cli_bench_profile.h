/* `edgeml bench --profile`: a separate pass of profiled runs and its per-node and per-op tables. */
#ifndef EML_CLI_BENCH_PROFILE_H
#define EML_CLI_BENCH_PROFILE_H

#include <stdio.h>

#include "edgeml/edgeml.h"

/* What the profiled pass measured: per executed node (plan order) and the mean wall time of one
 * run timed around eml_session_run. */
typedef struct bench_profile {
    eml_env *env;            /* borrowed: frees nodes */
    eml_node_profile *nodes; /* eml_session_profile's list */
    size_t count;
    long runs;
    double mean_run_ms;
    double sum_nodes_ms;     /* the node means added up: one run's time inside nodes */
} bench_profile;

/* Runs one warm-up and then `runs` profiled runs of the plan on a new profiled session with the
 * given feeds. Returns CLI_OK or CLI_FAIL (printed); bench_profile_free either way. */
int bench_profile_run(const eml_plan *plan, eml_env *env, const eml_tensor *feeds,
                      size_t n_feeds, long runs, bench_profile *out);
void bench_profile_free(bench_profile *p);

/* The two tables (top nodes by time, then per op type) and the sum line, as text. */
void bench_profile_print_text(FILE *f, const bench_profile *p);
/* `, "profile": [...]` and the pass's figures, to go inside bench's JSON object. */
void bench_profile_print_json(FILE *f, const bench_profile *p);

#endif
