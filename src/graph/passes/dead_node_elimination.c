/* dead-node-elimination: nodes none of whose outputs reaches a graph output (directly or through
 * other nodes or a subgraph's reference), and initializers that nothing reads, go. Graph inputs
 * stay, whether read or not: they are the model's interface. */
#include "graph/passes/passes.h"

/* Marks every value of g that sub, at any depth, reads by name. */
static void need_outer(const eml_graph *g, const eml_graph *sub, uint8_t *needed)
{
    for (size_t i = 0; i < sub->n_values; i++) {
        if (!(sub->values[i].flags & EML_VALUE_OUTER))
            continue;
        int32_t id = eml__graph_find(g, sub->values[i].name);
        if (id >= 0)
            needed[id] = 1;
    }
    for (size_t n = 0; n < sub->n_nodes; n++)
        for (int32_t a = 0; a < sub->nodes[n].n_attrs; a++)
            if (sub->nodes[n].attrs[a].g)
                need_outer(g, sub->nodes[n].attrs[a].g, needed);
}

eml_status eml__pass_dead_node_elimination(eml_pass_ctx *ctx)
{
    eml_graph *g = ctx->g;
    eml_env *env = g->env;
    eml_status st = EML_OK;
    int32_t *order = eml__calloc(env, EML_MAX(g->n_nodes, 1), sizeof(int32_t));
    uint8_t *dead = eml__calloc(env, EML_MAX(g->n_nodes, 1), 1);
    uint8_t *needed = eml__calloc(env, EML_MAX(g->n_values, 1), 1);
    if (!order || !dead || !needed) {
        st = EML_ENOMEM;
        goto fail;
    }
    EML_TRY(eml__graph_verify(g, order, ctx->diag));
    for (size_t i = 0; i < g->n_outputs; i++)
        needed[g->outputs[i]] = 1;
    /* backwards through the order: a node is live when something needs one of its outputs */
    size_t removed = 0;
    for (size_t i = g->n_nodes; i-- > 0;) {
        const eml_node *n = &g->nodes[order[i]];
        bool live = false;
        for (int32_t k = 0; k < n->n_outputs && !live; k++)
            live = n->outputs[k] >= 0 && needed[n->outputs[k]];
        if (!live) {
            dead[order[i]] = 1;
            removed++;
            continue;
        }
        for (int32_t k = 0; k < n->n_inputs; k++)
            if (n->inputs[k] >= 0)
                needed[n->inputs[k]] = 1;
        for (int32_t a = 0; a < n->n_attrs; a++)
            if (n->attrs[a].g)
                need_outer(g, n->attrs[a].g, needed);
    }
    if (removed)
        eml__graph_remove_nodes(g, dead);
    ctx->rewrites += removed;
    for (size_t v = 0; v < g->n_values; v++) {
        if (eml__value_is_const(g, (int32_t)v) && !needed[v]) {
            eml__value_drop_const(g, (int32_t)v);
            ctx->rewrites++;
        }
    }
fail:
    eml__free(env, order);
    eml__free(env, dead);
    eml__free(env, needed);
    return st;
}
