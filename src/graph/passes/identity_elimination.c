/* identity-elimination: Identity, and Dropout as inference runs it (no training_mode that may be
 * true, mask unused), are removed and their readers read the input instead. When the removed
 * node's output is a graph output (or read by a subgraph), that name is kept: the input's
 * producer produces it instead, or, when the input is a constant, the output becomes a copy of
 * it. An output that is a graph input's copy keeps its node. */
#include "graph/passes/passes.h"

/* Dropout is the identity when no training_mode input is given (or is a constant false) and
 * nothing reads its mask. Before opset 12 there is no training_mode input: edgeml runs those
 * Dropouts for inference, as their is_test semantics allow. */
static bool dropout_is_identity(const eml_graph *g, const eml_uses *u, const eml_node *n)
{
    if (n->n_inputs > 2 && n->inputs[2] >= 0) {
        eml_tensor t;
        if (!eml__value_const(g, n->inputs[2], &t) || t.dtype != EML_DTYPE_BOOL ||
            eml_tensor_count(&t) != 1 || ((const uint8_t *)t.data)[0] != 0)
            return false;
    }
    for (int32_t k = 1; k < n->n_outputs; k++) {
        int32_t m = n->outputs[k];
        if (m >= 0 && (u->count[m] > 0 || u->fixed[m]))
            return false;
    }
    return true;
}

static void replace_inputs(eml_graph *g, int32_t from, int32_t to)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        for (int32_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] == from)
                g->nodes[i].inputs[k] = to;
}

eml_status eml__pass_identity_elimination(eml_pass_ctx *ctx)
{
    eml_graph *g = ctx->g;
    eml_uses u;
    eml_status st = eml__uses_build(g, &u);
    if (st != EML_OK)
        return st;
    uint8_t *dead = eml__calloc(g->env, EML_MAX(g->n_nodes, 1), 1);
    if (!dead) {
        eml__uses_deinit(&u);
        return EML_ENOMEM;
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        eml_node *n = &g->nodes[i];
        if (n->op != EML_OP_Identity && n->op != EML_OP_Dropout)
            continue;
        if (n->n_inputs < 1 || n->n_outputs < 1 || n->inputs[0] < 0 || n->outputs[0] < 0)
            continue;
        if (n->op == EML_OP_Dropout && !dropout_is_identity(g, &u, n))
            continue;
        int32_t x = n->inputs[0], y = n->outputs[0];
        if (!u.fixed[y]) {
            replace_inputs(g, y, x);
        } else {
            /* keep y's name: x's producer makes y, and x's readers read y */
            int32_t p = g->values[x].producer;
            eml_tensor t;
            if (eml__value_const(g, x, &t)) {
                size_t bytes = eml_tensor_bytes(&t);
                void *copy = eml__alloc(g->env, bytes ? bytes : 1);
                if (!copy) {
                    st = EML_ENOMEM;
                    break;
                }
                memcpy(copy, t.data, bytes);
                t.data = copy;
                eml__value_set_const(g, y, &t);
                dead[i] = 1;
                ctx->rewrites++;
                continue;
            }
            if (p < 0 || u.fixed[x])
                continue;
            eml_node *pn = &g->nodes[p];
            for (int32_t k = 0; k < pn->n_outputs; k++)
                if (pn->outputs[k] == x)
                    pn->outputs[k] = y;
            replace_inputs(g, x, y);
            g->values[y].producer = p;
            g->values[x].producer = -1;
        }
        dead[i] = 1;
        ctx->rewrites++;
    }
    if (ctx->rewrites)
        eml__graph_remove_nodes(g, dead);
    eml__free(g->env, dead);
    eml__uses_deinit(&u);
    return st;
}
