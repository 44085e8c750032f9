/* residual-fusion: Add(conv_out, Z), where conv_out comes from a Conv (or a FusedConv with neither
 * Z nor activation) that nothing else reads and Z has exactly conv_out's static shape and dtype,
 * becomes FusedConv(X, W, B, Z). A broadcasting Add is never fused; an activation after it fuses
 * next, in activation-fusion. */
#include "graph/passes/passes.h"

static bool is_float(eml_dtype dt)
{
    return dt == EML_DTYPE_F32 || dt == EML_DTYPE_F64 || dt == EML_DTYPE_F16 ||
           dt == EML_DTYPE_BF16;
}

/* The Conv producing c that may take a Z, or -1. */
static int32_t conv_for(const eml_graph *g, const eml_uses *u, int32_t c)
{
    if (!eml__uses_private(g, u, c, 1))
        return -1;
    int32_t p = g->values[c].producer;
    const eml_node *n = &g->nodes[p];
    if (n->outputs[0] != c || eml__node_has_subgraph(n))
        return -1;
    if (n->op == EML_OP_Conv)
        return p;
    if (n->op == EML_OP_FusedConv && !(n->n_inputs > 3 && n->inputs[3] >= 0) &&
        !eml__node_has_activation(n))
        return p;
    return -1;
}

eml_status eml__pass_residual_fusion(eml_pass_ctx *ctx)
{
    eml_graph *g = ctx->g;
    bool any = false;
    for (size_t i = 0; i < g->n_nodes && !any; i++)
        any = g->nodes[i].op == EML_OP_Add;
    if (!any)
        return EML_OK;
    eml_uses u;
    eml_static_shapes s;
    eml_status st = eml__uses_build(g, &u);
    if (st != EML_OK)
        return st;
    st = eml__infer_static(g, &s, ctx->diag);
    if (st != EML_OK) {
        eml__uses_deinit(&u);
        return st;
    }
    uint8_t *dead = eml__calloc(g->env, EML_MAX(g->n_nodes, 1), 1);
    if (!dead) {
        st = EML_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        const eml_node *add = &g->nodes[i];
        if (add->op != EML_OP_Add || add->n_inputs != 2 || add->outputs[0] < 0)
            continue;
        const eml_attr *bc = eml__node_attr(add, "broadcast"); /* opset < 7 */
        if (bc && bc->i != 0)
            continue;
        for (int side = 0; side < 2; side++) {
            int32_t c = add->inputs[side], z = add->inputs[1 - side];
            if (c < 0 || z < 0 || c == z)
                continue;
            int32_t p = conv_for(g, &u, c);
            if (p < 0 || !eml__static_same_shape(&s, c, z) || !is_float(eml__static_dtype(&s, c)))
                continue;
            /* a FusedConv without Z or activation is the Conv itself: each step keeps the graph
             * computing the same thing should the next one run out of memory */
            EML_TRY(eml__graph_import_edgeml(g));
            eml_node *conv = &g->nodes[p];
            if (conv->op == EML_OP_Conv)
                EML_TRY(eml__node_set_op(g, conv, "FusedConv", EML_EDGEML_DOMAIN));
            EML_TRY(eml__node_set_input(g, conv, 3, -1));
            int32_t y = add->outputs[0];
            conv->inputs[3] = z;
            conv->outputs[0] = y;
            g->values[y].producer = p;
            g->values[c].producer = -1;
            /* z is now read by the conv instead of the Add: the counts stay right */
            dead[i] = 1;
            ctx->rewrites++;
            break;
        }
    }
fail:
    if (ctx->rewrites)
        eml__graph_remove_nodes(g, dead);
    eml__free(g->env, dead);
    eml__static_shapes_deinit(&s);
    eml__uses_deinit(&u);
    return st;
}
