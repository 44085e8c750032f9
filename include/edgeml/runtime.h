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
    int profile;          /* 1: time every node of every run (eml_session_profile); 0: off */
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

/* ---- Profiling (eml_session_options.profile = 1) ----
 * Each run of a profiled session reads CLOCK_MONOTONIC once before its first node and once after
 * each node, and adds the difference to that node: n + 1 reads for n nodes. A node's time is its
 * kernel's plus the few stores that bind its tensor views; on the node-by-node path (shapes that
 * depend on data) it also includes the node's shape inference and the allocation and release of
 * its buffers, and an If counts as one node, its branch included. The arrays are allocated by
 * eml_session_create: a profiled run allocates nothing more than an unprofiled one. With profiling
 * off the executors read no clock. Times add up over runs (and over changes of input shapes)
 * until eml_session_profile_reset. */
typedef struct eml_node_profile {
    const char *name;    /* borrowed from the plan, as eml_plan_node_get gives them */
    const char *op_type; /* the op as the plan runs it ("QConv", "FusedConv" after fusion) */
    const char *kernel;  /* the fast kernel chosen at compile time, "view" or "reference" */
    size_t index;        /* position in the plan (eml_plan_node_get) */
    uint64_t total_ns;   /* summed over runs */
    uint64_t runs;       /* runs of this node, a failed run's nodes up to the failure included */
    uint64_t macs;       /* multiply-accumulates of one run of the node (Conv, Gemm, MatMul and
                          * their fused and integer forms) as inferred for the last input shapes;
                          * 0: none or unknown */
} eml_node_profile;

/* Per executed node, in plan order: every node that ran at least once since the session was
 * created or reset; nodes folded at specialization never run and are not listed. *out is
 * allocated with the plan's env (free it with eml_profile_free) and NULL when *count is 0.
 * Returns EML_OK (count 0 before any run), EML_EINVAL when the session was created without
 * profiling (*out NULL, *count 0), EML_ENOMEM. */
EML_API eml_status eml_session_profile(const eml_session *session, eml_node_profile **out,
                                       size_t *count);
/* Clears the times and counts; a no-op without profiling. */
EML_API void eml_session_profile_reset(eml_session *session);
/* env: the env of the plan the profile came from. NULL profile is a no-op. */
EML_API void eml_profile_free(eml_env *env, eml_node_profile *profile);

#ifdef __cplusplus
}
#endif
#endif
