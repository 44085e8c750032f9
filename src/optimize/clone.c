/* Graph copies (quantization tries several precisions on copies of one float graph), an INT
 * attribute setter and the topological sort the rewrites end with. */
#include "graph/passes/passes.h"
#include "optimize/optimize.h"

static void *dup_bytes(eml_env *env, const void *src, size_t bytes, eml_status *st)
{
    if (!src)
        return NULL;
    void *p = eml__alloc(env, bytes ? bytes : 1);
    if (!p) {
        *st = EML_ENOMEM;
        return NULL;
    }
    if (bytes)
        memcpy(p, src, bytes);
    return p;
}

static char *dup_str(eml_env *env, const char *s, eml_status *st)
{
    if (!s)
        return NULL;
    char *p = eml__strdup(env, s);
    if (!p)
        *st = EML_ENOMEM;
    return p;
}

static eml_status clone_graph(const eml_graph *g, const eml_graph *parent, eml_graph **out);

static eml_status clone_attr(eml_env *env, const eml_attr *a, eml_attr *b, const eml_graph *owner)
{
    eml_status st = EML_OK;
    *b = *a;
    b->name = dup_str(env, a->name, &st);
    b->s = a->s ? dup_bytes(env, a->s, a->s_len + 1, &st) : NULL;
    b->floats = a->floats ? dup_bytes(env, a->floats, a->count * sizeof(float), &st) : NULL;
    b->ints = a->ints ? dup_bytes(env, a->ints, a->count * sizeof(int64_t), &st) : NULL;
    b->strings = NULL;
    b->t.data = NULL;
    b->g = NULL;
    if (a->strings) {
        b->strings = eml__calloc(env, EML_MAX(a->count, 1), sizeof(char *));
        if (!b->strings)
            return EML_ENOMEM;
        for (size_t i = 0; i < a->count; i++)
            b->strings[i] = dup_str(env, a->strings[i], &st);
    }
    if (a->t.data)
        b->t.data = dup_bytes(env, a->t.data, eml_tensor_bytes(&a->t), &st);
    if (st == EML_OK && a->g)
        st = clone_graph(a->g, owner, &b->g);
    return st;
}

static eml_status clone_graph(const eml_graph *g, const eml_graph *parent, eml_graph **out)
{
    eml_env *env = g->env;
    eml_graph *c = NULL;
    eml_status st = eml__graph_create(env, parent, &c);
    if (st != EML_OK)
        return st;
    c->values = eml__calloc(env, EML_MAX(g->n_values, 1), sizeof(eml_value));
    c->nodes = eml__calloc(env, EML_MAX(g->n_nodes, 1), sizeof(eml_node));
    c->inputs = eml__calloc(env, EML_MAX(g->n_inputs, 1), sizeof(int32_t));
    c->outputs = eml__calloc(env, EML_MAX(g->n_outputs, 1), sizeof(int32_t));
    c->opsets = eml__calloc(env, EML_MAX(g->n_opsets, 1), sizeof(eml_opset_import));
    if (!c->values || !c->nodes || !c->inputs || !c->outputs || !c->opsets) {
        st = EML_ENOMEM;
        goto fail;
    }
    c->cap_values = EML_MAX(g->n_values, 1);
    c->cap_nodes = EML_MAX(g->n_nodes, 1);
    c->cap_inputs = EML_MAX(g->n_inputs, 1);
    c->cap_outputs = EML_MAX(g->n_outputs, 1);
    for (size_t v = 0; v < g->n_values; v++) {
        const eml_value *a = &g->values[v];
        eml_value *b = &c->values[v];
        *b = *a;
        b->name = NULL;
        b->data = NULL;
        b->map_base = NULL; /* the copy owns heap memory, never the original's mapping */
        b->map_bytes = 0;
        memset(b->dim_names, 0, sizeof(b->dim_names));
        c->n_values = v + 1; /* counted now so that destroy frees a half-copied value */
        b->name = dup_str(env, a->name, &st);
        for (int d = 0; d < EML_MAX_RANK; d++)
            b->dim_names[d] = dup_str(env, a->dim_names[d], &st);
        if (a->data) {
            eml_tensor t = {a->dtype, a->rank, {0}, NULL};
            memcpy(t.dims, a->dims, sizeof(t.dims));
            b->data = dup_bytes(env, a->data, eml_tensor_bytes(&t), &st);
        }
        if (st != EML_OK)
            goto fail;
        EML_TRY(eml__strmap_put(env, &c->names, b->name, (int32_t)v));
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        const eml_node *a = &g->nodes[i];
        eml_node *b = &c->nodes[i];
        c->n_nodes = i + 1;
        b->op = a->op;
        b->opset = a->opset;
        b->n_inputs = a->n_inputs;
        b->n_outputs = a->n_outputs;
        b->name = dup_str(env, a->name, &st);
        b->op_type = dup_str(env, a->op_type, &st);
        b->domain = dup_str(env, a->domain, &st);
        b->inputs =
            dup_bytes(env, a->inputs, (size_t)EML_MAX(a->n_inputs, 1) * sizeof(int32_t), &st);
        b->outputs =
            dup_bytes(env, a->outputs, (size_t)EML_MAX(a->n_outputs, 1) * sizeof(int32_t), &st);
        b->attrs = eml__calloc(env, (size_t)EML_MAX(a->n_attrs, 1), sizeof(eml_attr));
        if (!b->attrs || st != EML_OK) {
            st = EML_ENOMEM;
            goto fail;
        }
        b->n_attrs = a->n_attrs;
        for (int32_t k = 0; k < a->n_attrs; k++)
            EML_TRY(clone_attr(env, &a->attrs[k], &b->attrs[k], c));
    }
    memcpy(c->inputs, g->inputs, g->n_inputs * sizeof(int32_t));
    c->n_inputs = g->n_inputs;
    memcpy(c->outputs, g->outputs, g->n_outputs * sizeof(int32_t));
    c->n_outputs = g->n_outputs;
    for (size_t i = 0; i < g->n_opsets; i++) {
        c->opsets[i].version = g->opsets[i].version;
        c->n_opsets = i + 1;
        c->opsets[i].domain = dup_str(env, g->opsets[i].domain, &st);
    }
    c->ir_version = g->ir_version;
    c->name = dup_str(env, g->name, &st);
    c->producer_name = dup_str(env, g->producer_name, &st);
    c->producer_version = dup_str(env, g->producer_version, &st);
    c->doc = dup_str(env, g->doc, &st);
fail:
    if (st != EML_OK) {
        eml_graph_destroy(c);
        c = NULL;
    }
    *out = c;
    return st;
}

eml_status eml__graph_clone(const eml_graph *g, eml_graph **out)
{
    return clone_graph(g, g->parent, out);
}

eml_status eml__node_attr_int(eml_graph *g, eml_node *n, int32_t index, const char *name,
                              int64_t value)
{
    eml_attr *a = &n->attrs[index];
    a->name = eml__strdup(g->env, name);
    if (!a->name)
        return EML_ENOMEM;
    a->type = EML_ATTR_INT;
    a->i = value;
    return EML_OK;
}

eml_status eml__graph_sort(eml_graph *g, eml_diag *diag)
{
    eml_env *env = g->env;
    int32_t *order = eml__alloc(env, EML_MAX(g->n_nodes, 1) * sizeof(int32_t));
    eml_node *nodes = eml__alloc(env, EML_MAX(g->n_nodes, 1) * sizeof(eml_node));
    eml_status st = EML_ENOMEM;
    eml__graph_reindex(g);
    if (order && nodes)
        st = eml__graph_verify(g, order, diag);
    if (st == EML_OK) {
        for (size_t i = 0; i < g->n_nodes; i++)
            nodes[i] = g->nodes[order[i]];
        eml__free(env, g->nodes);
        g->nodes = nodes;
        g->cap_nodes = EML_MAX(g->n_nodes, 1);
        nodes = NULL;
        eml__graph_reindex(g);
    }
    eml__free(env, nodes);
    eml__free(env, order);
    return st;
}

eml_status eml__drop_unused_consts(eml_graph *g)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if (eml__node_has_subgraph(&g->nodes[i]))
            return EML_OK; /* subgraphs may read initializers by name */
    int32_t *readers = eml__calloc(g->env, EML_MAX(g->n_values, 1), sizeof(int32_t));
    if (!readers)
        return EML_ENOMEM;
    for (size_t i = 0; i < g->n_nodes; i++)
        for (int32_t k = 0; k < g->nodes[i].n_inputs; k++)
            if (g->nodes[i].inputs[k] >= 0)
                readers[g->nodes[i].inputs[k]]++;
    for (size_t v = 0; v < g->n_values; v++)
        if (!readers[v] && eml__value_is_const(g, (int32_t)v) &&
            !(g->values[v].flags & EML_VALUE_OUTPUT))
            eml__value_drop_const(g, (int32_t)v);
    eml__free(g->env, readers);
    return EML_OK;
}
