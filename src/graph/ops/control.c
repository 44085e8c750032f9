/* If: both branches must be graphs; output shapes are known only once the condition is. */
#include "graph/graph.h"
#include "graph/ops/control.h"

typedef struct eml_if_params {
    const eml_graph *branches[2];
} eml_if_params;
EML_PARAMS_FIT(eml_if_params);

eml_status eml__if_prepare(eml_prepare_ctx *ctx)
{
    static const char *const known[] = {"then_branch", "else_branch", NULL};
    eml_status st = eml__attr_only(ctx, known);
    if (st != EML_OK)
        return st;
    eml_if_params *p = EML_PARAMS(ctx, eml_if_params);
    for (int b = 0; b < 2; b++) {
        const eml_attr *a = eml__node_attr(ctx->node, known[b]);
        if (!a || a->type != EML_ATTR_GRAPH || !a->g)
            return eml__bad_attr(ctx, "attribute '%s' (a graph) is required", known[b]);
        p->branches[b] = a->g;
    }
    if (p->branches[0]->n_outputs != (size_t)ctx->node->n_outputs ||
        p->branches[1]->n_outputs != (size_t)ctx->node->n_outputs)
        return eml__bad_attr(ctx, "branches have %zu and %zu outputs, node has %d",
                             p->branches[0]->n_outputs, p->branches[1]->n_outputs,
                             (int)ctx->node->n_outputs);
    return EML_OK;
}

eml_status eml__if_infer(eml_infer_ctx *ctx)
{
    const eml_if_params *p = ctx->params;
    if (ctx->inputs[0].dtype != EML_DTYPE_BOOL)
        return eml__infer_error(ctx, EML_ETYPE, "cond is %s, expected bool",
                                eml_dtype_name(ctx->inputs[0].dtype));
    for (int32_t k = 0; k < ctx->n_outputs; k++) {
        const eml_value *v = &p->branches[0]->values[p->branches[0]->outputs[k]];
        ctx->outputs[k].dtype = v->dtype;
    }
    /* which branch runs, and so every output shape, is decided by data */
    return EML_EDYNAMIC;
}
