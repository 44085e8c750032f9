/* Compiling a graph into a plan and running it in sessions. */
#ifndef EDGEML_RUNTIME_H
#define EDGEML_RUNTIME_H

#include "edgeml/env.h"
#include "edgeml/graph.h"
#include "edgeml/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eml_plan eml_plan;
typedef struct eml_session eml_session;

/* Compiles a graph: orders nodes, prepares each op, and plans memory for the default input shapes
 * (dynamic dims taken as 1). graph: borrowed, must outlive the plan.
 * Returns EML_OK, EML_EGRAPH, EML_EUNSUPPORTED, EML_ESHAPE, EML_ELIMIT, EML_ENOMEM.
 * A plan is immutable: many sessions on many threads may share it. */
EML_API eml_status eml_plan_create(const eml_graph *graph, eml_plan **out, eml_diag *diag);
EML_API void eml_plan_destroy(eml_plan *plan);

/* Memory figures of the default-shape plan. */
typedef struct eml_plan_memory {
    uint64_t arena_bytes;        /* activations and scratch placed by liveness in one arena */
    uint64_t activations_bytes;  /* the plain sum of all activations and scratch, for comparison */
    uint64_t macs;               /* multiply-accumulates of Conv/ConvTranspose/Gemm/MatMul */
    int is_static;               /* 1: every shape known ahead; 0: some depend on data */
} eml_plan_memory;

EML_API void eml_plan_memory_get(const eml_plan *plan, eml_plan_memory *out);

/* One node of a plan, in execution order: what runs it (for listings such as `edgeml info
 * --nodes`). Strings are borrowed from the plan. */
typedef struct eml_plan_node_info {
    const char *name;    /* the node's name ("" when the model gave none) */
    const char *op_type;
    const char *domain;  /* "" for ONNX's default domain */
    const char *kernel;  /* the fast kernel chosen at compile time, "view" (Reshape and the like:
                          * no kernel, it shares its input's buffer) or "reference" */
} eml_plan_node_info;

EML_API size_t eml_plan_node_count(const eml_plan *plan);
/* Returns EML_OK, or EML_ERANGE when index >= eml_plan_node_count(plan). */
EML_API eml_status eml_plan_node_get(const eml_plan *plan, size_t index, eml_plan_node_info *out);

typedef struct eml_session_options {
    uint32_t struct_size; /* set by eml_session_options_init(); fields are only appended */
    uint32_t n_threads;   /* 0: the env's pool as configured */
} eml_session_options;

EML_API void eml_session_options_init(eml_session_options *opts);

/* plan: borrowed, must outlive the session. opts: copied; NULL = defaults.
 * Returns EML_OK, EML_ENOMEM. A session runs one call at a time. */
EML_API eml_status eml_session_create(const eml_plan *plan, const eml_session_options *opts,
                                      eml_session **out, eml_diag *diag);
EML_API void eml_session_destroy(eml_session *session);

/* Runs the model. inputs: borrowed for the call, one per graph input in graph order
 * (eml_graph_input); an entry whose data is NULL takes the input's default.
 * Returns EML_OK, EML_EINVAL (count), EML_ETYPE, EML_ESHAPE (wrong input), EML_ERANGE
 * (a data-dependent index out of range), EML_ELIMIT, EML_ENOMEM. */
EML_API eml_status eml_session_run(eml_session *session, const eml_tensor *inputs,
                                   size_t n_inputs, eml_diag *diag);

/* Output `index` of the last run, as a view borrowed from the session: valid until the next run
 * or destroy. Returns EML_OK or EML_ERANGE. */
EML_API eml_status eml_session_output(const eml_session *session, size_t index,
                                      eml_tensor *out);

#ifdef __cplusplus
}
#endif
#endif
