/* batchnorm-folding: an inference BatchNormalization right after a Conv (or a FusedConv with
 * neither Z nor activation), a Gemm (or FusedGemm without activation) or a MatMul of matrices
 * (which becomes a Gemm), with constant weights, is folded into new weights and bias: with
 * s = scale / sqrt(var + epsilon),
 *   Conv:  W'[m] = W[m] * s[m],  B' = (B - mean) * s + bias
 *   Gemm:  B' = B * s per output column,  C' = (beta * C - mean) * s + bias,  beta' = 1
 * computed in double. BatchNormalization normalizes axis 1: for a matrix product that is the
 * last axis, the one the weights' columns make. The BatchNormalization goes; its output name
 * stays. */
#include <math.h>

#include "graph/passes/passes.h"
#include "kernels/ref/matmul.h"
#include "kernels/ref/norm.h"

typedef struct bn_consts {
    eml_tensor scale, bias, mean, var;
    float epsilon;
    int64_t channels;
} bn_consts;

static bool float_type(eml_dtype dt)
{
    return dt == EML_DTYPE_F32 || dt == EML_DTYPE_F64;
}

/* Runs a node's prepare into params; false when it fails. */
static bool prepare(const eml_node *n, void *params)
{
    const eml_op_info *info = eml__op_info(n->op);
    if (!info || !info->prepare)
        return false;
    memset(params, 0, EML_PARAMS_MAX);
    eml_prepare_ctx pc = {n, n->op, n->opset, params, NULL};
    return info->prepare(&pc) == EML_OK;
}

/* The BatchNormalization's constants when it is an inference BN over `dtype` values. */
static bool bn_read(const eml_graph *g, const eml_uses *u, const eml_node *bn, eml_dtype dtype,
                    void *params, bn_consts *c)
{
    if (bn->n_inputs != 5 || bn->outputs[0] < 0 || !prepare(bn, params))
        return false;
    const eml_batchnorm_params *p = params;
    if (p->training || !p->spatial)
        return false;
    for (int32_t k = 1; k < bn->n_outputs; k++)
        if (bn->outputs[k] >= 0 && (u->count[bn->outputs[k]] || u->fixed[bn->outputs[k]]))
            return false;
    eml_tensor *t[4] = {&c->scale, &c->bias, &c->mean, &c->var};
    for (int k = 0; k < 4; k++) {
        if (!eml__value_const(g, bn->inputs[k + 1], t[k]) || t[k]->dtype != dtype ||
            t[k]->rank != 1)
            return false;
    }
    c->channels = c->scale.dims[0];
    for (int k = 1; k < 4; k++)
        if (t[k]->dims[0] != c->channels)
            return false;
    c->epsilon = p->epsilon;
    return true;
}

static double get(const eml_tensor *t, int64_t i)
{
    return t->dtype == EML_DTYPE_F32 ? (double)((const float *)t->data)[i]
                                     : ((const double *)t->data)[i];
}

static void put(eml_tensor *t, int64_t i, double v)
{
    if (t->dtype == EML_DTYPE_F32)
        ((float *)t->data)[i] = (float)v;
    else
        ((double *)t->data)[i] = v;
}

static double bn_scale(const bn_consts *c, int64_t m)
{
    return get(&c->scale, m) / sqrt(get(&c->var, m) + (double)c->epsilon);
}

/* A new tensor of t's dtype and the given shape, data from the env. */
static eml_status new_tensor(eml_env *env, eml_dtype dtype, const int64_t *dims, int rank,
                             eml_tensor *t)
{
    memset(t, 0, sizeof(*t));
    t->dtype = dtype;
    t->rank = rank;
    for (int d = 0; d < rank; d++)
        t->dims[d] = dims[d];
    t->data = eml__calloc(env, 1, EML_MAX(eml_tensor_bytes(t), 1));
    return t->data ? EML_OK : EML_ENOMEM;
}

/* Makes the producer's weights (input 1) and bias (input 2) new initializers named after the old
 * weights and the output. Every allocation comes before the node changes, so that on ENOMEM the
 * graph still computes what it did (an orphan initializer is dead-node-elimination's). w and b
 * are taken. */
static eml_status attach(eml_graph *g, int32_t node, eml_tensor *w, eml_tensor *b)
{
    eml_node *n = &g->nodes[node];
    int32_t w_id = -1, b_id = -1;
    eml_status st = eml__graph_new_const(g, g->values[n->inputs[1]].name, "_bnfold", w, &w_id);
    if (st != EML_OK) {
        eml__free(g->env, w->data);
        eml__free(g->env, b->data);
        return st;
    }
    st = eml__graph_new_const(g, g->values[n->outputs[0]].name, "_bias", b, &b_id);
    if (st != EML_OK) {
        eml__free(g->env, b->data);
        return st;
    }
    st = eml__node_set_input(g, n, 2, n->n_inputs > 2 ? n->inputs[2] : -1);
    if (st != EML_OK)
        return st;
    n->inputs[1] = w_id;
    n->inputs[2] = b_id;
    return EML_OK;
}

static bool conv_foldable(const eml_graph *g, const eml_node *conv, void *params)
{
    if (conv->op == EML_OP_FusedConv) {
        if (conv->n_inputs > 3 && conv->inputs[3] >= 0)
            return false;
        const eml_attr *a = eml__node_attr(conv, "activation");
        if (a && (a->type != EML_ATTR_STRING || a->s_len > 0))
            return false;
    }
    (void)g;
    return prepare(conv, params);
}

static eml_status fold_conv(eml_graph *g, int32_t ci, const bn_consts *c, bool *done)
{
    const eml_node *conv = &g->nodes[ci];
    eml_tensor w, b, nw, nb;
    *done = false;
    if (!eml__value_const(g, conv->inputs[1], &w) || w.dtype != c->scale.dtype || w.rank < 3 ||
        w.dims[0] != c->channels)
        return EML_OK;
    bool has_b = conv->n_inputs > 2 && conv->inputs[2] >= 0;
    if (has_b && (!eml__value_const(g, conv->inputs[2], &b) || b.dtype != w.dtype || b.rank != 1 ||
                  b.dims[0] != c->channels))
        return EML_OK;
    eml_status st = new_tensor(g->env, w.dtype, w.dims, w.rank, &nw);
    if (st != EML_OK)
        return st;
    st = new_tensor(g->env, w.dtype, &c->channels, 1, &nb);
    if (st != EML_OK) {
        eml__free(g->env, nw.data);
        return st;
    }
    int64_t per = eml_tensor_count(&w) / c->channels;
    for (int64_t m = 0; m < c->channels; m++) {
        double s = bn_scale(c, m);
        for (int64_t i = 0; i < per; i++)
            put(&nw, m * per + i, get(&w, m * per + i) * s);
        double b0 = has_b ? get(&b, m) : 0.0;
        put(&nb, m, (b0 - get(&c->mean, m)) * s + get(&c->bias, m));
    }
    st = attach(g, ci, &nw, &nb);
    *done = st == EML_OK;
    return st;
}

static eml_status fold_gemm(eml_graph *g, int32_t gi, const bn_consts *c, const void *params,
                            bool *done)
{
    const eml_node *gemm = &g->nodes[gi];
    const eml_gemm_params *p = params;
    eml_tensor b, cc, nb, nc;
    *done = false;
    if (gemm->op == EML_OP_FusedGemm) {
        const eml_attr *a = eml__node_attr(gemm, "activation");
        if (a && (a->type != EML_ATTR_STRING || a->s_len > 0))
            return EML_OK;
    }
    if (!eml__value_const(g, gemm->inputs[1], &b) || b.dtype != c->scale.dtype || b.rank != 2)
        return EML_OK;
    int64_t n = p->trans_b ? b.dims[0] : b.dims[1];
    if (n != c->channels)
        return EML_OK;
    bool has_c = gemm->n_inputs > 2 && gemm->inputs[2] >= 0;
    int64_t c_rows = 1;
    if (has_c) {
        if (!eml__value_const(g, gemm->inputs[2], &cc) || cc.dtype != b.dtype || cc.rank > 2)
            return EML_OK;
        int64_t last = cc.rank == 0 ? 1 : cc.dims[cc.rank - 1];
        if (last != 1 && last != n)
            return EML_OK;
        c_rows = cc.rank == 2 ? cc.dims[0] : 1;
    }
    /* beta becomes 1: make sure the attribute exists first (absent means 1, so adding it
     * changes nothing), so that setting it after the swap cannot fail */
    if (!eml__node_attr(gemm, "beta")) {
        eml_status sb = eml__node_set_attr_float(g, &g->nodes[gi], "beta", 1.0f);
        if (sb != EML_OK)
            return sb;
    }
    int64_t c_dims[2] = {c_rows, n};
    eml_status st = new_tensor(g->env, b.dtype, b.dims, 2, &nb);
    if (st != EML_OK)
        return st;
    st = c_rows > 1 ? new_tensor(g->env, b.dtype, c_dims, 2, &nc)
                    : new_tensor(g->env, b.dtype, &n, 1, &nc);
    if (st != EML_OK) {
        eml__free(g->env, nb.data);
        return st;
    }
    int64_t rows = b.dims[0], cols = b.dims[1];
    for (int64_t r = 0; r < rows; r++)
        for (int64_t q = 0; q < cols; q++) {
            int64_t col = p->trans_b ? r : q; /* the output column this weight feeds */
            put(&nb, r * cols + q, get(&b, r * cols + q) * bn_scale(c, col));
        }
    int64_t c_cols = has_c && cc.rank > 0 ? cc.dims[cc.rank - 1] : 1;
    for (int64_t r = 0; r < c_rows; r++)
        for (int64_t q = 0; q < n; q++) {
            double c0 = has_c ? (double)p->beta * get(&cc, r * c_cols + (c_cols == 1 ? 0 : q)) : 0;
            put(&nc, r * n + q, (c0 - get(&c->mean, q)) * bn_scale(c, q) + get(&c->bias, q));
        }
    st = attach(g, gi, &nb, &nc);
    if (st == EML_OK)
        st = eml__node_set_attr_float(g, &g->nodes[gi], "beta", 1.0f); /* in place */
    *done = st == EML_OK;
    return st;
}

eml_status eml__pass_batchnorm_folding(eml_pass_ctx *ctx)
{
    eml_graph *g = ctx->g;
    eml_env *env = g->env;
    eml_uses u;
    eml_static_shapes s;
    bool shapes_ready = false;
    eml_status st = eml__uses_build(g, &u);
    if (st != EML_OK)
        return st;
    uint8_t *dead = eml__calloc(env, EML_MAX(g->n_nodes, 1), 1);
    void *params = eml__alloc(env, EML_PARAMS_MAX);
    void *bn_params = eml__alloc(env, EML_PARAMS_MAX);
    if (!dead || !params || !bn_params) {
        st = EML_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        const eml_node *bn = &g->nodes[i];
        if (bn->op != EML_OP_BatchNormalization || bn->n_inputs < 1 || bn->inputs[0] < 0)
            continue;
        int32_t x = bn->inputs[0];
        if (!eml__uses_private(g, &u, x, 1))
            continue;
        int32_t pi = g->values[x].producer;
        const eml_node *prod = &g->nodes[pi];
        bool is_conv = prod->op == EML_OP_Conv || prod->op == EML_OP_FusedConv;
        bool is_gemm = prod->op == EML_OP_Gemm || prod->op == EML_OP_FusedGemm;
        bool is_matmul = prod->op == EML_OP_MatMul;
        if ((!is_conv && !is_gemm && !is_matmul) || prod->outputs[0] != x ||
            eml__node_has_subgraph(prod))
            continue;
        eml_tensor w;
        if (prod->n_inputs < 2 || !eml__value_const(g, prod->inputs[1], &w) || !float_type(w.dtype))
            continue;
        bn_consts c;
        if (!bn_read(g, &u, bn, w.dtype, bn_params, &c))
            continue;
        bool done = false;
        if (is_conv && conv_foldable(g, prod, params)) {
            EML_TRY(fold_conv(g, pi, &c, &done));
        } else if (is_gemm && prepare(prod, params)) {
            EML_TRY(fold_gemm(g, pi, &c, params, &done));
        } else if (is_matmul && w.rank == 2 && w.dims[1] == c.channels) {
            /* MatMul of matrices is Gemm with its defaults; A's rank decides */
            if (!shapes_ready) {
                EML_TRY(eml__infer_static(g, &s, ctx->diag));
                shapes_ready = true;
            }
            int32_t a = prod->inputs[0];
            if (a < 0 || !s.known[a] || s.run[0][a].rank != 2)
                continue;
            EML_TRY(eml__node_set_op(g, &g->nodes[pi], "Gemm", ""));
            eml_gemm_params defaults = {1.0f, 1.0f, 0, 0};
            EML_TRY(fold_gemm(g, pi, &c, &defaults, &done));
        }
        if (!done)
            continue;
        /* the producer now makes the BatchNormalization's output */
        int32_t y = g->nodes[i].outputs[0];
        g->nodes[pi].outputs[0] = y;
        g->values[y].producer = pi;
        g->values[x].producer = -1;
        dead[i] = 1;
        ctx->rewrites++;
    }
fail:
    if (ctx->rewrites)
        eml__graph_remove_nodes(g, dead);
    eml__free(env, dead);
    eml__free(env, params);
    eml__free(env, bn_params);
    if (shapes_ready)
        eml__static_shapes_deinit(&s);
    eml__uses_deinit(&u);
    return st;
}
