/* Static shape inference for graph passes: every value's dtype and shape from the declared input
 * shapes and the initializers, without running the model. */
#ifndef EML_GRAPH_INFER_STATIC_H
#define EML_GRAPH_INFER_STATIC_H

#include "graph/graph.h"

/* Inference runs twice, with a different placeholder size for each dynamic input dim in each run
 * (one placeholder per dim name, so that equal names compare equal, and one per unnamed dim).
 * A dim that comes out the same in both runs is taken as static; one that differs depends on a
 * dynamic dim and is symbolic. Placeholders are large odd numbers, so that a symbolic dim never
 * looks like a real size by accident (a dim clamped by a constant, as min(N, 100), still could;
 * passes fold only what they need). */
typedef struct eml_static_shapes {
    eml_env *env;
    size_t n_values;
    eml_tensor *run[2]; /* per value: dtype, rank, dims of each run; data of initializers */
    uint8_t *known;     /* per value: 1 when both runs inferred it */
} eml_static_shapes;

/* Infers the top-level graph's values in topological order. A value is unknown downstream of an
 * op whose infer needs data that is not an initializer (EML_EDYNAMIC), of an If, of an input
 * without a declared shape, and of an op whose infer fails (the runtime reports that error, not
 * the optimizer). A graph input with a default takes its declared shape but not its data.
 * Returns EML_OK, EML_EGRAPH (cycle or undefined value), EML_ENOMEM. */
eml_status eml__infer_static(const eml_graph *g, eml_static_shapes *out, eml_diag *diag);
void eml__static_shapes_deinit(eml_static_shapes *s);

/* True when v's shape is known and none of its dims is symbolic. */
bool eml__static_concrete(const eml_static_shapes *s, int32_t v);
/* True when dim d of v is symbolic (differs between the runs). */
bool eml__static_dim_symbolic(const eml_static_shapes *s, int32_t v, int d);
/* True when a and b are known with the same dtype and rank and equal dims in both runs: the same
 * shape for every input shape (a symbolic dim equals only the same symbolic dim). */
bool eml__static_same_shape(const eml_static_shapes *s, int32_t a, int32_t b);
/* The dtype of v, UNDEFINED when unknown. */
eml_dtype eml__static_dtype(const eml_static_shapes *s, int32_t v);

#endif
