/* Graph passes: the pass interface, the ordered list (passes.c), and the rewriting helpers every
 * pass shares (rewrite.c). A pass rewrites the top-level graph in place and leaves it valid. */
#ifndef EML_GRAPH_PASSES_PASSES_H
#define EML_GRAPH_PASSES_PASSES_H

#include "graph/graph.h"
#include "graph/infer_static.h"

/* Outputs bigger than this are not folded into initializers: a model should not grow by more
 * than a constant it can compute at run time. */
#define EML_FOLD_MAX_BYTES ((size_t)64 << 20)

/* The domain and version of edgeml's own ops. */
#define EML_EDGEML_DOMAIN "ai.edgeml"
#define EML_EDGEML_OPSET 1

typedef struct eml_pass_ctx {
    eml_graph *g;
    eml_diag *diag;
    uint64_t rewrites; /* the pass adds one per node folded, removed or fused */
} eml_pass_ctx;

/* Returns EML_OK (having rewritten nothing or something) or EML_ENOMEM; any other status means
 * the graph could not be analysed and is passed on. */
typedef eml_status (*eml_pass_fn)(eml_pass_ctx *ctx);

typedef struct eml_pass {
    const char *name;
    int level; /* runs at this optimization level and above */
    eml_pass_fn fn;
} eml_pass;

/* The passes (one file each). */
eml_status eml__pass_constant_folding(eml_pass_ctx *ctx);
eml_status eml__pass_shape_folding(eml_pass_ctx *ctx);
eml_status eml__pass_identity_elimination(eml_pass_ctx *ctx);
eml_status eml__pass_batchnorm_folding(eml_pass_ctx *ctx);
eml_status eml__pass_residual_fusion(eml_pass_ctx *ctx);
eml_status eml__pass_activation_fusion(eml_pass_ctx *ctx);
eml_status eml__pass_dead_node_elimination(eml_pass_ctx *ctx);
eml_status eml__pass_nhwc_layout(eml_pass_ctx *ctx);
eml_status eml__pass_qdq_fusion(eml_pass_ctx *ctx);
eml_status eml__pass_dequantize_folding(eml_pass_ctx *ctx);

/* ---- reading the graph ---- */

/* Who reads each value of the top-level graph. */
typedef struct eml_uses {
    eml_env *env;
    int32_t *count;    /* per value: node input slots reading it */
    int32_t *consumer; /* per value: a node reading it (the last in node order), -1 none */
    uint8_t *fixed;    /* per value: a graph output, or read by a subgraph by name */
} eml_uses;

eml_status eml__uses_build(const eml_graph *g, eml_uses *u);
void eml__uses_deinit(eml_uses *u);

/* True when a pass may absorb value v into a fused node: produced by a node, read by exactly
 * `readers` input slots, neither a graph output nor read by a subgraph. */
bool eml__uses_private(const eml_graph *g, const eml_uses *u, int32_t v, int32_t readers);

/* True for an initializer that is not also a graph input (whose default a caller may replace). */
bool eml__value_is_const(const eml_graph *g, int32_t v);
/* A constant's data as a tensor view (borrowed); false when v is not constant. */
bool eml__value_const(const eml_graph *g, int32_t v, eml_tensor *out);

/* True when the node holds a subgraph (If branches); passes leave such nodes alone. */
bool eml__node_has_subgraph(const eml_node *n);

/* ---- evaluating a node ---- */

/* Runs the node's prepare, infer and reference kernel once on the given inputs (one per node
 * input; dtype UNDEFINED for an omitted one). On EML_OK outputs[k] (one per node output) hold data
 * allocated from the graph's env, which the caller takes (eml__free), including for omitted
 * outputs. Returns EML_EDYNAMIC, EML_ELIMIT (an output over max_bytes) or the op's own error
 * without outputs: the caller then leaves the node as it is. */
eml_status eml__node_evaluate(eml_graph *g, const eml_node *node, const eml_tensor *inputs,
                              eml_tensor *outputs, size_t max_bytes);

/* ---- changing the graph ---- */

/* Removes the nodes marked in `dead` (per node index), frees them and recomputes producers. */
void eml__graph_remove_nodes(eml_graph *g, const uint8_t *dead);
/* Sets each value's producer from the nodes. */
void eml__graph_reindex(eml_graph *g);

/* Turns value v into an initializer holding data (taken, allocated from the env): v's declared
 * dim names go, its producer must already be gone. */
void eml__value_set_const(eml_graph *g, int32_t v, const eml_tensor *t);
/* Stops v being an initializer and frees its data (v stays as a name). */
void eml__value_drop_const(eml_graph *g, int32_t v);

/* A new value whose name starts with base and suffix and is not used yet ("<base><suffix>",
 * then "<base><suffix>_2", ...). */
eml_status eml__graph_new_value(eml_graph *g, const char *base, const char *suffix, int32_t *id);
/* A new initializer named as eml__graph_new_value does, holding t's data (taken on success). */
eml_status eml__graph_new_const(eml_graph *g, const char *base, const char *suffix,
                                const eml_tensor *t, int32_t *id);

/* Sets input k of a node to v, growing its inputs with omitted ones when k is past the end. */
eml_status eml__node_set_input(eml_graph *g, eml_node *n, int32_t k, int32_t v);
/* Changes a node's op (type, domain, resolved op id and its domain's opset). */
eml_status eml__node_set_op(eml_graph *g, eml_node *n, const char *op_type, const char *domain);
/* Sets (replacing or appending) an attribute. */
eml_status eml__node_set_attr_string(eml_graph *g, eml_node *n, const char *name, const char *s);
eml_status eml__node_set_attr_floats(eml_graph *g, eml_node *n, const char *name,
                                     const float *values, size_t count);
eml_status eml__node_set_attr_float(eml_graph *g, eml_node *n, const char *name, float f);
/* Sets a fused node's activation and activation_params (emptied when n_params is 0) at once:
 * on ENOMEM the node is unchanged. */
eml_status eml__node_set_activation(eml_graph *g, eml_node *n, const char *activation,
                                    const float *params, size_t n_params);
/* True when a fused node has a non-empty activation attribute. */
bool eml__node_has_activation(const eml_node *n);

/* Adds the opset import ai.edgeml 1 (and, to a graph built without opset imports, the default
 * domain at the highest opset its nodes use) so that a saved model imports again. */
eml_status eml__graph_import_edgeml(eml_graph *g);

#endif
