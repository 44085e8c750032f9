/* Internal runtime structures: the plan (ordered, prepared nodes) and its shape specialization
 * (shapes, folded constants and arena offsets for one set of input shapes). */
#ifndef EML_RUNTIME_PLAN_H
#define EML_RUNTIME_PLAN_H

#include <time.h>

#include "edgeml/runtime.h"
#include "graph/graph.h"
#include "kernels/fast.h"

typedef struct eml_plan_node {
    const eml_node *node;
    const eml_op_info *info;
    int32_t index;              /* position in the plan's order */
    void *params;               /* EML_PARAMS_MAX bytes, filled by the op's prepare */
    struct eml_plan *branches[2]; /* If: then_branch, else_branch */
    int32_t *implicit;          /* outer values its subgraphs read (value ids of this graph) */
    int32_t n_implicit;
    eml_fast_kernel fast;       /* run instead of the reference kernel when fast.run is set */
} eml_plan_node;

struct eml_plan {
    eml_env *env;
    const eml_graph *graph;
    const struct eml_plan *parent;
    eml_plan_node *nodes;       /* in execution order */
    size_t n_nodes;
    int32_t *last_use;          /* per value: last plan position reading it; n_nodes for outputs */
    eml_plan_memory memory;     /* of the default-shape specialization */
};

typedef enum eml_value_kind {
    EML_KIND_NONE = 0,      /* not computed (unused, or an omitted output) */
    EML_KIND_INPUT,         /* the caller's input */
    EML_KIND_CONST,         /* initializer or folded at specialization; data fixed */
    EML_KIND_ARENA          /* computed each run into the arena at `offset` */
} eml_value_kind;

/* Shapes, folded values and memory layout of a plan for one set of input shapes. */
typedef struct eml_spec {
    const eml_plan *plan;
    eml_tensor *values;         /* per value: dtype and shape (data for CONST) */
    uint8_t *kinds;             /* eml_value_kind per value */
    uint64_t *offsets;          /* ARENA values */
    bool *folded;               /* per plan node: ran at specialization */
    uint64_t *scratch_offset;   /* per plan node */
    uint64_t *scratch_bytes;
    void **owned;               /* per value: folded data owned by the spec */
    eml_tensor **node_inputs;   /* per plan node: tensor views bound before each run */
    eml_tensor **node_outputs;
    size_t *out_base;           /* per plan node: index of its first output view */
    uint64_t *slot_offsets;     /* per output view: arena offset of an omitted optional output */
    bool is_static;             /* false: some shape depends on data; run node by node */
    uint64_t arena_bytes;
    uint64_t activations_bytes;
    uint64_t macs;
    uint64_t *node_macs;        /* per plan node: infer's multiply-accumulates (for profiles) */
} eml_spec;

/* Infers every shape for the given input shapes (data NULL: shapes only), folds what is constant,
 * and plans the arena. On EML_EDYNAMIC-like situations it returns EML_OK with is_static false.
 * inputs: one per graph input; an entry with dtype UNDEFINED takes the default. */
eml_status eml__spec_build(const eml_plan *plan, const eml_tensor *inputs, eml_pool *pool,
                           eml_spec *spec, eml_diag *diag);
void eml__spec_deinit(eml_spec *spec);

/* A session's per-node profile (eml_session_options.profile), allocated with the session:
 * arrays of plan->n_nodes entries that the executors add to. NULL where profiling is off. */
typedef struct eml_prof {
    uint64_t *ns;     /* wall time between the node's start and end boundaries, summed */
    uint64_t *runs;   /* times the node ran */
    uint64_t *macs;   /* the node's multiply-accumulates as last inferred (dynamic path) */
} eml_prof;

/* CLOCK_MONOTONIC now, in nanoseconds: one read per node boundary of a profiled run. */
static inline uint64_t eml__prof_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* Runs a static spec with its arena: binds inputs, runs every node not folded.
 * inputs: one per graph input (data NULL: the default). prof: NULL, or where node times go. */
eml_status eml__spec_run(eml_spec *spec, void *arena, const eml_tensor *inputs, eml_pool *pool,
                         eml_prof *prof, eml_diag *diag);

/* Runs a plan node by node, inferring each node's shapes from the data (for graphs whose shapes
 * depend on values, and for If branches). values: per value of plan->graph, in/out: inputs,
 * initializers and outer values set by the caller (data borrowed); computed values get data
 * owned by the run (owned[v] true). prof: NULL, or where the top-level nodes' times go (an If
 * counts as one node, its branch included). */
eml_status eml__run_dynamic(const eml_plan *plan, eml_tensor *values, bool *owned,
                            eml_pool *pool, eml_prof *prof, eml_diag *diag);

/* Builds a subplan for an If branch. */
eml_status eml__plan_build(const eml_graph *graph, const eml_plan *parent, eml_plan **out,
                           eml_diag *diag);

/* Fills an infer ctx for node `pn` from value tensors; used by both executors. */
void eml__infer_ctx_init(eml_infer_ctx *ctx, const eml_plan_node *pn, const eml_tensor *inputs,
                         eml_tensor *outputs, eml_diag *diag);

/* EML_ESHAPE for an invalid output shape, EML_ELIMIT when over the env's allocation limit. */
eml_status eml__check_output_size(const eml_plan *p, const eml_plan_node *pn, const eml_tensor *t,
                                  eml_diag *diag);

/* Picks a fast kernel for a prepared node (src/runtime/compile.c). */
eml_status eml__plan_select_fast(const eml_plan *p, eml_plan_node *pn);
/* Runs a node's kernel (fast or reference), setting kc->params to what that kernel expects. */
eml_status eml__node_run(const eml_plan_node *pn, eml_kernel_ctx *kc);
/* Scratch bytes of the kernel that will run, given the reference kernel's (from infer). */
size_t eml__node_scratch(const eml_plan_node *pn, size_t reference_bytes, const eml_tensor *in,
                         const eml_tensor *out);

/* True for ops whose output depends only on the input's shape (Shape, Size): they fold as soon as
 * shapes are known. */
bool eml__op_shape_only(eml_op_id op);

/* True for ops whose output is the input's bytes under another shape (Reshape, Flatten, Squeeze,
 * Unsqueeze, Identity): the planner lets the output share the input's buffer. */
bool eml__op_is_view(eml_op_id op);
/* Elementwise ops whose kernels may write their output over an input of the same shape and dtype:
 * every output element is computed from the elements at its own position, read before it is
 * written (unary functions, activations, Clip, and the broadcasting binary ops). */
bool eml__op_in_place(eml_op_id op);

#endif
