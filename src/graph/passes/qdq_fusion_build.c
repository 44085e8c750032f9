/* qdq-fusion's graph builders: new Transpose, Reshape and Identity nodes, channels-last twins
 * of uint8 values, and the rewrite of a matched node into an edgeml integer op. */
#include <stdio.h>

#include "graph/passes/qdq_fusion.h"

static const int64_t to_nhwc_perm[4] = {0, 2, 3, 1};
static const int64_t to_nchw_perm[4] = {0, 3, 1, 2};

eml_status eml__qf_add_node(eml_qf *f, const char *op, int32_t n_attrs, int32_t input,
                            int32_t output)
{
    eml_graph *g = f->g;
    char name[256];
    snprintf(name, sizeof(name), "%.200s_%s", g->values[output].name, op);
    eml_node *n;
    eml_status st = eml__graph_add_node(g, name, op, "", 1, 1, n_attrs, &n);
    if (st == EML_OK)
        st = eml__node_set_op(g, n, op, "");
    if (st != EML_OK)
        return st;
    if (n->opset <= 0)
        n->opset = 17;
    n->inputs[0] = input;
    n->outputs[0] = output;
    g->values[output].producer = (int32_t)(g->n_nodes - 1);
    return EML_OK;
}

eml_status eml__qf_add_transpose(eml_qf *f, int32_t input, int32_t output, const int64_t *perm)
{
    eml_status st = eml__qf_add_node(f, "Transpose", 1, input, output);
    if (st != EML_OK)
        return st;
    eml_graph *g = f->g;
    eml_attr *a = &g->nodes[g->n_nodes - 1].attrs[0];
    a->name = eml__strdup(g->env, "perm");
    a->ints = eml__alloc(g->env, 4 * sizeof(int64_t));
    if (!a->name || !a->ints)
        return EML_ENOMEM;
    a->type = EML_ATTR_INTS;
    a->count = 4;
    memcpy(a->ints, perm, 4 * sizeof(int64_t));
    return EML_OK;
}

/* output = Reshape(input, shape) with a new constant shape of `rank` entries (0 copies the
 * input's dim, as ONNX's Reshape does). */
eml_status eml__qf_add_reshape(eml_qf *f, int32_t input, int32_t output, const int64_t *shape,
                               int rank)
{
    eml_graph *g = f->g;
    eml_tensor t = {EML_DTYPE_I64, 1, {rank}, eml__alloc(g->env, (size_t)rank * sizeof(int64_t))};
    if (!t.data)
        return EML_ENOMEM;
    memcpy(t.data, shape, (size_t)rank * sizeof(int64_t));
    int32_t sv;
    eml_status st = eml__graph_new_const(g, g->values[output].name, "_shape", &t, &sv);
    if (st != EML_OK) {
        eml__free(g->env, t.data);
        return st;
    }
    char name[256];
    snprintf(name, sizeof(name), "%.200s_Reshape", g->values[output].name);
    eml_node *n;
    st = eml__graph_add_node(g, name, "Reshape", "", 2, 1, 0, &n);
    if (st == EML_OK)
        st = eml__node_set_op(g, n, "Reshape", "");
    if (st != EML_OK)
        return st;
    if (n->opset <= 0)
        n->opset = 17;
    n->inputs[0] = input;
    n->inputs[1] = sv;
    n->outputs[0] = output;
    g->values[output].producer = (int32_t)(g->n_nodes - 1);
    return EML_OK;
}

static const int64_t matrix_to_nhwc[4] = {0, 1, 1, -1};

/* The channels-last copy of uint8 value q, made now when it has none. */
eml_status eml__qf_twin_of(eml_qf *f, int32_t q, int32_t *out)
{
    if (f->twin[q] >= 0) {
        *out = f->twin[q];
        return EML_OK;
    }
    eml_status st = eml__graph_new_value(f->g, f->g->values[q].name, "_nhwc", out);
    if (st == EML_OK && eml__qf_known2(f, q)) {
        st = eml__qf_add_reshape(f, q, *out, matrix_to_nhwc, 4);
    } else if (st == EML_OK && eml__qf_known3(f, q)) {
        /* a batch of matrices is one matrix of B·M rows */
        const int64_t rows[4] = {-1, 1, 1, f->s.run[0][q].dims[2]};
        st = eml__qf_add_reshape(f, q, *out, rows, 4);
    } else if (st == EML_OK) {
        st = eml__qf_add_transpose(f, q, *out, to_nhwc_perm);
    }
    if (st == EML_OK)
        f->twin[q] = *out;
    return st;
}

/* Appends an INT attribute to node i. */
eml_status eml__qf_add_int_attr(eml_graph *g, size_t i, const char *name, int64_t v)
{
    eml_node *n = &g->nodes[i];
    eml_attr *attrs = eml__calloc(g->env, (size_t)n->n_attrs + 1, sizeof(eml_attr));
    char *s = eml__strdup(g->env, name);
    if (!attrs || !s) {
        eml__free(g->env, attrs);
        eml__free(g->env, s);
        return EML_ENOMEM;
    }
    if (n->n_attrs)
        memcpy(attrs, n->attrs, (size_t)n->n_attrs * sizeof(eml_attr));
    attrs[n->n_attrs].name = s;
    attrs[n->n_attrs].type = EML_ATTR_INT;
    attrs[n->n_attrs].i = v;
    eml__free(g->env, n->attrs);
    n->attrs = attrs;
    n->n_attrs++;
    return EML_OK;
}

/* Turns node i into edgeml op `op` reading `inputs` (values; channels-last where asked in
 * `nhwc`), writing the twin of Q node qi's output, whose NCHW form then comes from a Transpose
 * (dropped later when nothing reads it). Marks qi (unless it is i) and the activation ai (or -1)
 * dead. */
eml_status eml__qf_rewrite(eml_qf *f, size_t i, const char *op, const int32_t *inputs,
                           const bool *nhwc, int32_t n_in, int32_t qi, int32_t ai)
{
    eml_graph *g = f->g;
    int32_t vals[16];
    eml_status st = eml__graph_import_edgeml(g);
    for (int32_t k = 0; k < n_in && st == EML_OK; k++) {
        vals[k] = inputs[k];
        if (nhwc[k])
            st = eml__qf_twin_of(f, inputs[k], &vals[k]);
    }
    const int32_t q = g->nodes[qi].outputs[0];
    int32_t y;
    if (st == EML_OK)
        st = eml__graph_new_value(g, g->values[q].name, "_nhwc", &y);
    if (st == EML_OK)
        st = eml__node_set_op(g, &g->nodes[i], op, EML_EDGEML_DOMAIN);
    for (int32_t k = 0; k < n_in && st == EML_OK; k++)
        st = eml__node_set_input(g, &g->nodes[i], k, vals[k]);
    if (st != EML_OK)
        return st;
    g->nodes[i].n_inputs = n_in;
    g->nodes[i].outputs[0] = y;
    g->values[y].producer = (int32_t)i;
    f->twin[q] = y;
    if (qi != (int32_t)i) /* QLinearConv writes its uint8 output itself */
        f->dead[qi] = 1;
    if (ai >= 0)
        f->dead[ai] = 1;
    f->rewrites += 1 + (qi != (int32_t)i) + (ai >= 0);
    return eml__qf_add_transpose(f, y, q, to_nchw_perm);
}
