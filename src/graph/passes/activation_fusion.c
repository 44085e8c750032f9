/* activation-fusion: Conv, Gemm or MatMul (or their fused forms without an activation yet) whose
 * only reader is an activation (Relu, Clip with constant bounds, LeakyRelu, HardSigmoid,
 * HardSwish, Sigmoid, Tanh, SiLU written as Mul(x, Sigmoid(x)), or HardSwish written as
 * Mul(x, HardSigmoid(x, 1/6, 1/2))) become FusedConv, FusedGemm or
 * FusedMatMul carrying that activation. Float types only; never through a graph output. */
#include <math.h>

#include "graph/passes/passes.h"
#include "kernels/ref/unary.h"

typedef struct activation {
    const char *name;
    float params[2];
    size_t n_params;
    int32_t input;      /* the value the activation reads (the producer's output) */
    int32_t readers;    /* input slots reading it that the fusion removes */
    int32_t extra_node; /* SiLU's Sigmoid node, else -1 */
} activation;

static bool is_float(eml_dtype dt)
{
    return dt == EML_DTYPE_F32 || dt == EML_DTYPE_F64 || dt == EML_DTYPE_F16 ||
           dt == EML_DTYPE_BF16;
}

static bool prepare(const eml_node *n, void *params)
{
    const eml_op_info *info = eml__op_info(n->op);
    if (!info || !info->prepare)
        return false;
    memset(params, 0, EML_PARAMS_MAX);
    eml_prepare_ctx pc = {n, n->op, n->opset, params, NULL};
    return info->prepare(&pc) == EML_OK;
}

/* A Clip bound from a constant input (absent or empty: none, -inf/+inf). False when it is not a
 * constant or does not convert to float exactly (the fused op keeps bounds as floats). */
static bool clip_bound(const eml_graph *g, const eml_node *n, int32_t k, float none, float *out)
{
    *out = none;
    if (k >= n->n_inputs || n->inputs[k] < 0)
        return true;
    eml_tensor t;
    if (!eml__value_const(g, n->inputs[k], &t))
        return false;
    int64_t count = eml_tensor_count(&t);
    if (count == 0)
        return true;
    if (count != 1 || !is_float(t.dtype))
        return false;
    double v = eml__tensor_get_f64(&t, 0);
    if (isnan(v) || (double)(float)v != v)
        return false;
    *out = (float)v;
    return true;
}

/* Recognizes node n as an activation of one float value; fills a. */
static bool read_activation(const eml_graph *g, const eml_uses *u, const eml_node *n, void *params,
                            activation *a)
{
    memset(a, 0, sizeof(*a));
    a->readers = 1;
    a->extra_node = -1;
    if (n->n_inputs < 1 || n->inputs[0] < 0 || n->n_outputs != 1 || n->outputs[0] < 0)
        return false;
    a->input = n->inputs[0];
    switch (n->op) {
    case EML_OP_Relu:
        a->name = "Relu";
        return true;
    case EML_OP_HardSwish:
        a->name = "HardSwish";
        return true;
    case EML_OP_Sigmoid:
        a->name = "Sigmoid";
        return true;
    case EML_OP_Tanh:
        a->name = "Tanh";
        return true;
    case EML_OP_LeakyRelu:
    case EML_OP_HardSigmoid: {
        if (!prepare(n, params))
            return false;
        const eml_unary_params *p = params;
        bool leaky = n->op == EML_OP_LeakyRelu;
        a->name = leaky ? "LeakyRelu" : "HardSigmoid";
        a->params[0] = p->alpha;
        a->params[1] = p->beta;
        a->n_params = leaky ? 1 : 2;
        return true;
    }
    case EML_OP_Clip: {
        if (!prepare(n, params))
            return false;
        const eml_clip_params *p = params;
        a->name = "Clip";
        a->n_params = 2;
        if (!p->from_inputs) {
            a->params[0] = p->has_min ? p->min : -INFINITY;
            a->params[1] = p->has_max ? p->max : INFINITY;
            return true;
        }
        return clip_bound(g, n, 1, -INFINITY, &a->params[0]) &&
               clip_bound(g, n, 2, INFINITY, &a->params[1]);
    }
    case EML_OP_Mul: {
        /* SiLU: Mul(x, Sigmoid(x)) or Mul(Sigmoid(x), x); HardSwish: the same with
         * HardSigmoid(x, alpha 1/6, beta 1/2), as torch exports it below opset 14; x read by
         * exactly those two */
        if (n->n_inputs != 2)
            return false;
        for (int side = 0; side < 2; side++) {
            int32_t x = n->inputs[side], sg = n->inputs[1 - side];
            if (x < 0 || sg < 0 || !eml__uses_private(g, u, sg, 1))
                continue;
            int32_t s = g->values[sg].producer;
            if (s < 0)
                continue;
            const eml_node *sn = &g->nodes[s];
            if ((sn->op != EML_OP_Sigmoid && sn->op != EML_OP_HardSigmoid) || sn->n_inputs != 1 ||
                sn->inputs[0] != x)
                continue;
            if (sn->op == EML_OP_HardSigmoid) {
                if (!prepare(sn, params))
                    continue;
                const eml_unary_params *p = params;
                if (p->alpha != (float)(1.0 / 6.0) || p->beta != 0.5f)
                    continue;
            }
            a->name = sn->op == EML_OP_Sigmoid ? "SiLU" : "HardSwish";
            a->input = x;
            a->readers = 2;
            a->extra_node = s;
            return true;
        }
        return false;
    }
    default:
        return false;
    }
}

/* The fused form of the producer's op, NULL when it cannot take an activation. */
static const char *fused_name(const eml_node *p)
{
    switch (p->op) {
    case EML_OP_Conv:
        return "FusedConv";
    case EML_OP_Gemm:
        return "FusedGemm";
    case EML_OP_MatMul:
        return "FusedMatMul";
    case EML_OP_FusedConv:
    case EML_OP_FusedGemm:
    case EML_OP_FusedMatMul:
        return eml__node_has_activation(p) ? NULL : p->op_type;
    default:
        return NULL;
    }
}

eml_status eml__pass_activation_fusion(eml_pass_ctx *ctx)
{
    eml_graph *g = ctx->g;
    eml_env *env = g->env;
    eml_uses u;
    eml_static_shapes s;
    memset(&s, 0, sizeof(s));
    eml_status st = eml__uses_build(g, &u);
    if (st != EML_OK)
        return st;
    uint8_t *dead = eml__calloc(env, EML_MAX(g->n_nodes, 1), 1);
    void *params = eml__alloc(env, EML_PARAMS_MAX);
    if (!dead || !params) {
        st = EML_ENOMEM;
        goto fail;
    }
    EML_TRY(eml__infer_static(g, &s, ctx->diag));
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (dead[i])
            continue;
        activation a;
        if (!read_activation(g, &u, &g->nodes[i], params, &a))
            continue;
        if (!eml__uses_private(g, &u, a.input, a.readers) ||
            !is_float(eml__static_dtype(&s, a.input)))
            continue;
        int32_t p = g->values[a.input].producer;
        eml_node *prod = &g->nodes[p];
        const char *fused = fused_name(prod);
        if (!fused || prod->outputs[0] != a.input || eml__node_has_subgraph(prod) || dead[p])
            continue;
        /* the op change alone computes the same; the activation is set in one step */
        EML_TRY(eml__graph_import_edgeml(g));
        if (strcmp(prod->op_type, fused) != 0)
            EML_TRY(eml__node_set_op(g, prod, fused, EML_EDGEML_DOMAIN));
        EML_TRY(eml__node_set_activation(g, prod, a.name, a.params, a.n_params));
        int32_t y = g->nodes[i].outputs[0];
        prod->outputs[0] = y;
        g->values[y].producer = p;
        g->values[a.input].producer = -1;
        dead[i] = 1;
        if (a.extra_node >= 0)
            dead[a.extra_node] = 1;
        ctx->rewrites++;
    }
fail:
    if (ctx->rewrites)
        eml__graph_remove_nodes(g, dead);
    eml__free(env, dead);
    eml__free(env, params);
    eml__static_shapes_deinit(&s);
    eml__uses_deinit(&u);
    return st;
}
