/* FP16: float32 initializers stored as float16, each read through a Cast back to float32 (the
 * form ONNX Runtime runs on CPUs without float16 arithmetic; edgeml folds the Casts at load). */
#include <math.h>
#include <stdio.h>

#include "graph/passes/passes.h"
#include "optimize/optimize.h"

/* Largest finite float16: weights beyond it are clamped rather than becoming infinite. */
#define F16_MAX 65504.0f

static eml_status convert_one(eml_graph *g, int32_t v)
{
    eml_tensor t;
    if (!eml__value_const(g, v, &t))
        return EML_OK;
    char base[400];
    snprintf(base, sizeof(base), "%s", g->values[v].name);
    int32_t h_id, cast;
    void *h_data;
    eml_status st =
        eml__opt_new_const(g, base, "_fp16", EML_DTYPE_F16, t.rank, t.dims, &h_id, &h_data);
    if (st == EML_OK)
        st = eml__opt_add_node(g, base, "Cast", 1, 1, 1, &cast);
    if (st != EML_OK)
        return st;
    const float *x = g->values[v].data;
    uint16_t *h = h_data;
    int64_t count = eml_tensor_count(&t);
    for (int64_t i = 0; i < count; i++) {
        float f = x[i];
        if (isfinite(f))
            f = f > F16_MAX ? F16_MAX : f < -F16_MAX ? -F16_MAX : f;
        h[i] = eml_f32_to_f16(f);
    }
    eml_node *n = &g->nodes[cast];
    EML_TRY(eml__node_attr_int(g, n, 0, "to", EML_DTYPE_F32));
    n->inputs[0] = h_id;
    n->outputs[0] = v;
    /* v keeps its name and readers; its data now comes from the Cast */
    eml__value_drop_const(g, v);
    g->values[v].producer = cast;
fail:
    return st;
}

eml_status eml__convert_fp16(eml_graph *g, const uint8_t *only, eml_diag *diag)
{
    eml_env *env = g->env;
    size_t n_values0 = g->n_values, n_nodes0 = g->n_nodes;
    uint8_t *pick = eml__calloc(env, EML_MAX(n_values0, 1), 1);
    if (!pick)
        return EML_ENOMEM;
    for (size_t i = 0; i < n_nodes0; i++) {
        if (only && !only[i])
            continue;
        const eml_node *n = &g->nodes[i];
        if (eml__node_has_subgraph(n))
            continue;
        for (int32_t k = 0; k < n->n_inputs; k++) {
            int32_t v = n->inputs[k];
            if (v >= 0 && eml__value_is_const(g, v) && g->values[v].dtype == EML_DTYPE_F32)
                pick[v] = 1;
        }
    }
    eml_status st = EML_OK;
    for (size_t v = 0; v < n_values0 && st == EML_OK; v++)
        if (pick[v])
            st = convert_one(g, (int32_t)v);
    eml__free(env, pick);
    (void)diag;
    return st;
}
