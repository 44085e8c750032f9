/* constant-folding: a node whose inputs are all constants (initializers that no caller can
 * replace) runs once, with its op's reference kernel, and its outputs become initializers.
 * dequantize-folding does the same for the DequantizeLinear nodes constant-folding leaves alone:
 * it runs after qdq-fusion, so the int8 weights it folds are those no integer kernel took (a
 * Gemm between Q/DQ pairs then gets float weights it can pack once, instead of dequantizing them
 * on every run). */
#include "graph/passes/passes.h"

/* Ops left alone even on constants: If runs subgraphs; DequantizeLinear of constant weights is
 * how a QDQ model says "int8 weights", which int8 kernels want to keep; Identity and Dropout are
 * identity-elimination's, which rewires readers to the constant instead of copying it (and a
 * training-mode Dropout draws random numbers on every run). */
static bool all_inputs_const(const eml_graph *g, const eml_node *n)
{
    for (int32_t k = 0; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0 && !eml__value_is_const(g, n->inputs[k]))
            return false;
    return n->n_outputs > 0;
}

static bool foldable(const eml_graph *g, const eml_node *n)
{
    const eml_op_info *info = eml__op_info(n->op);
    if (!info || !info->kernel || n->op == EML_OP_If || n->op == EML_OP_DequantizeLinear ||
        eml__node_has_subgraph(n))
        return false;
    if (n->op == EML_OP_Identity || n->op == EML_OP_Dropout)
        return false;
    return all_inputs_const(g, n);
}

static bool dequantize_foldable(const eml_graph *g, const eml_node *n)
{
    return n->op == EML_OP_DequantizeLinear && all_inputs_const(g, n);
}

static eml_status fold_nodes(eml_pass_ctx *ctx, bool (*pick)(const eml_graph *, const eml_node *))
{
    eml_graph *g = ctx->g;
    eml_env *env = g->env;
    eml_status st = EML_OK;
    int32_t *order = eml__calloc(env, EML_MAX(g->n_nodes, 1), sizeof(int32_t));
    uint8_t *dead = eml__calloc(env, EML_MAX(g->n_nodes, 1), 1);
    eml_tensor *in = NULL, *out = NULL;
    int32_t cap_in = 0, cap_out = 0;
    if (!order || !dead) {
        st = EML_ENOMEM;
        goto fail;
    }
    EML_TRY(eml__graph_verify(g, order, ctx->diag));
    /* in topological order, so that a chain of constant nodes folds in one sweep */
    for (size_t i = 0; i < g->n_nodes; i++) {
        eml_node *n = &g->nodes[order[i]];
        if (!pick(g, n))
            continue;
        if (n->n_inputs > cap_in || n->n_outputs > cap_out) {
            eml__free(env, in);
            eml__free(env, out);
            cap_in = EML_MAX(cap_in, n->n_inputs);
            cap_out = EML_MAX(cap_out, n->n_outputs);
            in = eml__calloc(env, (size_t)EML_MAX(cap_in, 1), sizeof(eml_tensor));
            out = eml__calloc(env, (size_t)EML_MAX(cap_out, 1), sizeof(eml_tensor));
            if (!in || !out) {
                st = EML_ENOMEM;
                goto fail;
            }
        }
        for (int32_t k = 0; k < n->n_inputs; k++) {
            memset(&in[k], 0, sizeof(in[k]));
            if (n->inputs[k] >= 0)
                eml__value_const(g, n->inputs[k], &in[k]);
        }
        eml_status est = eml__node_evaluate(g, n, in, out, EML_FOLD_MAX_BYTES);
        if (est == EML_ENOMEM) {
            st = est;
            goto fail;
        }
        if (est != EML_OK)
            continue; /* needs data it cannot have, too big, or an error the runtime reports */
        for (int32_t k = 0; k < n->n_outputs; k++) {
            if (n->outputs[k] >= 0)
                eml__value_set_const(g, n->outputs[k], &out[k]);
            else
                eml__free(env, out[k].data);
        }
        /* a float16 model's weights (Cast float16 -> float32): the f16 kernels may take them */
        if (n->op == EML_OP_Cast && in[0].dtype == EML_DTYPE_F16 && n->outputs[0] >= 0 &&
            out[0].dtype == EML_DTYPE_F32)
            g->values[n->outputs[0]].flags |= EML_VALUE_FROM_F16;
        dead[order[i]] = 1;
        ctx->rewrites++;
    }
    if (ctx->rewrites)
        eml__graph_remove_nodes(g, dead);
fail:
    eml__free(env, in);
    eml__free(env, out);
    eml__free(env, order);
    eml__free(env, dead);
    return st;
}

eml_status eml__pass_constant_folding(eml_pass_ctx *ctx)
{
    return fold_nodes(ctx, foldable);
}

eml_status eml__pass_dequantize_folding(eml_pass_ctx *ctx)
{
    return fold_nodes(ctx, dequantize_foldable);
}
