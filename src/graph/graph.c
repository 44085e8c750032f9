/* The graph IR: building, destroying and the public queries on a graph. */
#include <sys/mman.h>

#include "graph/graph.h"

eml_status eml__graph_create(eml_env *env, const eml_graph *parent, eml_graph **out)
{
    *out = NULL;
    eml_graph *g = eml__calloc(env, 1, sizeof(*g));
    if (!g)
        return EML_ENOMEM;
    g->env = env;
    g->parent = parent;
    eml_status st = eml__strmap_init(env, &g->names, 64);
    if (st != EML_OK) {
        eml__free(env, g);
        return st;
    }
    *out = g;
    return EML_OK;
}

static void attr_deinit(eml_env *env, eml_attr *a)
{
    eml__free(env, a->name);
    eml__free(env, a->s);
    eml__free(env, a->floats);
    eml__free(env, a->ints);
    for (size_t i = 0; a->strings && i < a->count; i++)
        eml__free(env, a->strings[i]);
    eml__free(env, a->strings);
    eml__free(env, a->t.data);
    eml_graph_destroy(a->g);
}

void eml__value_free_data(eml_env *env, eml_value *v)
{
    if (v->map_base)
        munmap(v->map_base, v->map_bytes);
    else
        eml__free(env, v->data);
    v->data = NULL;
    v->map_base = NULL;
    v->map_bytes = 0;
}

void eml__graph_page_out_mapped(const eml_graph *g)
{
#ifdef MADV_PAGEOUT
    for (size_t i = 0; i < g->n_values; i++)
        if (g->values[i].map_base)
            (void)madvise(g->values[i].map_base, g->values[i].map_bytes, MADV_PAGEOUT);
#else
    (void)g;
#endif
}

void eml_graph_destroy(eml_graph *g)
{
    if (!g)
        return;
    eml_env *env = g->env;
    for (size_t i = 0; i < g->n_nodes; i++) {
        eml_node *n = &g->nodes[i];
        eml__free(env, n->name);
        eml__free(env, n->op_type);
        eml__free(env, n->domain);
        eml__free(env, n->inputs);
        eml__free(env, n->outputs);
        for (int32_t a = 0; n->attrs && a < n->n_attrs; a++)
            attr_deinit(env, &n->attrs[a]);
        eml__free(env, n->attrs);
    }
    for (size_t i = 0; i < g->n_values; i++) {
        eml_value *v = &g->values[i];
        eml__free(env, v->name);
        eml__value_free_data(env, v);
        for (int d = 0; d < EML_MAX_RANK; d++)
            eml__free(env, v->dim_names[d]);
    }
    for (size_t i = 0; i < g->n_opsets; i++)
        eml__free(env, g->opsets[i].domain);
    eml__free(env, g->opsets);
    eml__free(env, g->nodes);
    eml__free(env, g->values);
    eml__free(env, g->inputs);
    eml__free(env, g->outputs);
    eml__free(env, g->name);
    eml__free(env, g->producer_name);
    eml__free(env, g->producer_version);
    eml__free(env, g->doc);
    eml__strmap_deinit(env, &g->names);
    eml__free(env, g);
}

int32_t eml__graph_find(const eml_graph *g, const char *name)
{
    return eml__strmap_get(&g->names, name);
}

eml_status eml__graph_value(eml_graph *g, const char *name, int32_t *id)
{
    int32_t found = eml__graph_find(g, name);
    if (found >= 0) {
        *id = found;
        return EML_OK;
    }
    eml_status st = eml__grow(g->env, (void **)&g->values, &g->cap_values, g->n_values + 1,
                              sizeof(eml_value));
    if (st != EML_OK)
        return st;
    eml_value *v = &g->values[g->n_values];
    memset(v, 0, sizeof(*v));
    v->name = eml__strdup(g->env, name);
    if (!v->name)
        return EML_ENOMEM;
    v->rank = -1;
    v->producer = -1;
    st = eml__strmap_put(g->env, &g->names, v->name, (int32_t)g->n_values);
    if (st != EML_OK) {
        eml__free(g->env, v->name);
        return st;
    }
    *id = (int32_t)g->n_values++;
    return EML_OK;
}

eml_status eml__graph_add_node(eml_graph *g, const char *name, const char *op_type,
                               const char *domain, int32_t n_inputs, int32_t n_outputs,
                               int32_t n_attrs, eml_node **out)
{
    eml_status st = eml__grow(g->env, (void **)&g->nodes, &g->cap_nodes, g->n_nodes + 1,
                              sizeof(eml_node));
    if (st != EML_OK)
        return st;
    eml_node *n = &g->nodes[g->n_nodes];
    memset(n, 0, sizeof(*n));
    g->n_nodes++; /* counted now so that destroy frees a half-built node */
    n->op = EML_OP_UNKNOWN;
    n->name = eml__strdup(g->env, name);
    n->op_type = eml__strdup(g->env, op_type);
    n->domain = eml__strdup(g->env, domain);
    n->inputs = eml__calloc(g->env, (size_t)EML_MAX(n_inputs, 1), sizeof(int32_t));
    n->outputs = eml__calloc(g->env, (size_t)EML_MAX(n_outputs, 1), sizeof(int32_t));
    n->attrs = eml__calloc(g->env, (size_t)EML_MAX(n_attrs, 1), sizeof(eml_attr));
    if (!n->name || !n->op_type || !n->domain || !n->inputs || !n->outputs || !n->attrs)
        return EML_ENOMEM;
    n->n_inputs = n_inputs;
    n->n_outputs = n_outputs;
    n->n_attrs = n_attrs;
    for (int32_t i = 0; i < n_inputs; i++)
        n->inputs[i] = -1;
    for (int32_t i = 0; i < n_outputs; i++)
        n->outputs[i] = -1;
    *out = n;
    return EML_OK;
}

eml_status eml__graph_add_input(eml_graph *g, int32_t value)
{
    eml_status st = eml__grow(g->env, (void **)&g->inputs, &g->cap_inputs, g->n_inputs + 1,
                              sizeof(int32_t));
    if (st != EML_OK)
        return st;
    g->inputs[g->n_inputs++] = value;
    g->values[value].flags |= EML_VALUE_INPUT;
    return EML_OK;
}

eml_status eml__graph_add_output(eml_graph *g, int32_t value)
{
    eml_status st = eml__grow(g->env, (void **)&g->outputs, &g->cap_outputs, g->n_outputs + 1,
                              sizeof(int32_t));
    if (st != EML_OK)
        return st;
    g->outputs[g->n_outputs++] = value;
    g->values[value].flags |= EML_VALUE_OUTPUT;
    return EML_OK;
}

int64_t eml__graph_opset(const eml_graph *g, const char *domain)
{
    while (g->parent)
        g = g->parent;
    bool is_default = domain[0] == 0 || strcmp(domain, "ai.onnx") == 0;
    for (size_t i = 0; i < g->n_opsets; i++) {
        const char *d = g->opsets[i].domain;
        bool d_default = d[0] == 0 || strcmp(d, "ai.onnx") == 0;
        if ((is_default && d_default) || strcmp(d, domain) == 0)
            return g->opsets[i].version;
    }
    return 0;
}

/* ---- public queries ---- */

static void fill_info(const eml_graph *g, int32_t id, eml_value_info *out)
{
    const eml_value *v = &g->values[id];
    memset(out, 0, sizeof(*out));
    out->name = v->name;
    out->dtype = v->dtype;
    out->rank = v->rank;
    for (int d = 0; d < v->rank && d < EML_MAX_RANK; d++) {
        out->dims[d] = v->dims[d];
        out->dim_names[d] = v->dim_names[d] ? v->dim_names[d] : "";
    }
    out->has_default = (v->flags & EML_VALUE_INITIALIZER) != 0;
}

size_t eml_graph_input_count(const eml_graph *g)
{
    return g->n_inputs;
}

size_t eml_graph_output_count(const eml_graph *g)
{
    return g->n_outputs;
}

eml_status eml_graph_input(const eml_graph *g, size_t index, eml_value_info *out)
{
    if (index >= g->n_inputs)
        return EML_ERANGE;
    fill_info(g, g->inputs[index], out);
    return EML_OK;
}

eml_status eml_graph_output(const eml_graph *g, size_t index, eml_value_info *out)
{
    if (index >= g->n_outputs)
        return EML_ERANGE;
    fill_info(g, g->outputs[index], out);
    return EML_OK;
}

void eml_graph_stats_get(const eml_graph *g, eml_graph_stats *out)
{
    memset(out, 0, sizeof(*out));
    out->node_count = g->n_nodes;
    for (size_t i = 0; i < g->n_values; i++) {
        const eml_value *v = &g->values[i];
        if (!(v->flags & EML_VALUE_INITIALIZER))
            continue;
        int64_t n = eml__shape_count(v->dims, v->rank);
        out->initializer_count++;
        out->parameter_count += (uint64_t)(n > 0 ? n : 0);
        out->parameter_bytes += (uint64_t)(n > 0 ? n : 0) * eml_dtype_size(v->dtype);
        if (v->map_base)
            out->mapped_bytes += (uint64_t)(n > 0 ? n : 0) * eml_dtype_size(v->dtype);
    }
    out->ir_version = g->ir_version;
    out->opset = (int32_t)eml__graph_opset(g, "");
    out->producer = g->producer_name ? g->producer_name : "";
}

void eml_graph_op_counts(const eml_graph *g, void (*fn)(void *, const char *, size_t), void *user)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        const char *op = g->nodes[i].op_type;
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(g->nodes[j].op_type, op) == 0;
        if (seen)
            continue;
        size_t count = 0;
        for (size_t j = i; j < g->n_nodes; j++)
            count += strcmp(g->nodes[j].op_type, op) == 0;
        fn(user, op, count);
    }
}
