/* Plan-time kernel choice: for each node, the op's fast-kernel selector (if the op has one) may
 * take over from the reference kernel, packing the node's constant weights once for all
 * sessions. */
#include "kernels/fast_f16.h"
#include "runtime/plan.h"

#define EML_FAST_OP(name, select)                                                                  \
    eml_status select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);
#include "kernels/lists/fast_ops.inc"
#undef EML_FAST_OP

typedef struct fast_entry {
    eml_op_id op;
    eml_fast_select_fn select;
} fast_entry;

static const fast_entry fast_ops[] = {
#define EML_FAST_OP(name, select) {EML_OP_##name, select},
#include "kernels/lists/fast_ops.inc"
#undef EML_FAST_OP
    {EML_OP_UNKNOWN, NULL}};

eml_status eml__plan_select_fast(const eml_plan *p, eml_plan_node *pn)
{
    const eml_node *node = pn->node;
    const eml_graph *g = p->graph;
    eml_fast_select_fn select = NULL;
    for (size_t i = 0; fast_ops[i].select && !select; i++) {
        if (fast_ops[i].op == node->op)
            select = fast_ops[i].select;
    }
    if (!select)
        return EML_OK;
    eml_tensor inputs[16];
    if (node->n_inputs > 16)
        return EML_OK;
    uint32_t f16_inputs = 0; /* inputs whose constant data was widened from float16 */
    for (int32_t k = 0; k < node->n_inputs; k++) {
        memset(&inputs[k], 0, sizeof(inputs[k]));
        int32_t v = node->inputs[k];
        if (v < 0)
            continue;
        const eml_value *val = &g->values[v];
        inputs[k].dtype = val->dtype;
        inputs[k].rank = val->rank;
        for (int d = 0; d < val->rank && d < EML_MAX_RANK; d++)
            inputs[k].dims[d] = val->dims[d];
        /* a default an input may override is not constant */
        if ((val->flags & EML_VALUE_INITIALIZER) && !(val->flags & EML_VALUE_INPUT))
            inputs[k].data = val->data;
        if (inputs[k].data && (val->flags & EML_VALUE_FROM_F16))
            f16_inputs |= 1u << k;
    }
    eml_fast_select_ctx ctx = {node->op,       pn->params,      node->opset, inputs,
                               node->n_inputs, node->n_outputs, p->env};
    /* a float16 model's weights run on float16 arithmetic where the CPU has it (fast_f16.h) */
    if (f16_inputs) {
        eml_status st = eml__fast_f16_select(&ctx, f16_inputs, &pn->fast);
        if (st != EML_OK || pn->fast.run)
            return st;
    }
    return select(&ctx, &pn->fast);
}

eml_status eml__node_run(const eml_plan_node *pn, eml_kernel_ctx *kc)
{
    if (pn->fast.run) {
        kc->params = pn->fast.state;
        return pn->fast.run(kc);
    }
    kc->params = pn->params;
    return pn->info->kernel(kc);
}

size_t eml__node_scratch(const eml_plan_node *pn, size_t reference_bytes, const eml_tensor *in,
                         const eml_tensor *out)
{
    if (!pn->fast.run)
        return reference_bytes;
    if (!pn->fast.scratch_bytes)
        return 0;
    return pn->fast.scratch_bytes(pn->fast.state, in, pn->node->n_inputs, out, pn->node->n_outputs);
}
