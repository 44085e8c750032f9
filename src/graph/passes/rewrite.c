/* Helpers the graph passes share: who reads each value, evaluating a node once, and the edits
 * (remove nodes, new initializers, change a node's op, inputs and attributes). */
#include <stdio.h>

#include "graph/passes/passes.h"

/* ---- reading the graph ---- */

void eml__uses_deinit(eml_uses *u)
{
    if (!u->env)
        return;
    eml__free(u->env, u->count);
    eml__free(u->env, u->consumer);
    eml__free(u->env, u->fixed);
    memset(u, 0, sizeof(*u));
}

/* Marks (and counts as read) every value of g that sub, at any depth, reads by name. */
static void mark_outer(const eml_graph *g, const eml_graph *sub, eml_uses *u)
{
    for (size_t i = 0; i < sub->n_values; i++) {
        if (!(sub->values[i].flags & EML_VALUE_OUTER))
            continue;
        int32_t id = eml__graph_find(g, sub->values[i].name);
        if (id >= 0) {
            u->fixed[id] = 1;
            u->count[id]++;
        }
    }
    for (size_t n = 0; n < sub->n_nodes; n++)
        for (int32_t a = 0; a < sub->nodes[n].n_attrs; a++)
            if (sub->nodes[n].attrs[a].g)
                mark_outer(g, sub->nodes[n].attrs[a].g, u);
}

eml_status eml__uses_build(const eml_graph *g, eml_uses *u)
{
    memset(u, 0, sizeof(*u));
    u->env = g->env;
    size_t nv = EML_MAX(g->n_values, 1);
    u->count = eml__calloc(g->env, nv, sizeof(int32_t));
    u->consumer = eml__alloc(g->env, nv * sizeof(int32_t));
    u->fixed = eml__calloc(g->env, nv, 1);
    if (!u->count || !u->consumer || !u->fixed) {
        eml__uses_deinit(u);
        return EML_ENOMEM;
    }
    for (size_t v = 0; v < g->n_values; v++)
        u->consumer[v] = -1;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const eml_node *n = &g->nodes[i];
        for (int32_t k = 0; k < n->n_inputs; k++) {
            int32_t v = n->inputs[k];
            if (v < 0)
                continue;
            u->count[v]++;
            u->consumer[v] = (int32_t)i;
        }
        for (int32_t a = 0; a < n->n_attrs; a++)
            if (n->attrs[a].g)
                mark_outer(g, n->attrs[a].g, u);
    }
    for (size_t i = 0; i < g->n_outputs; i++)
        u->fixed[g->outputs[i]] = 1;
    return EML_OK;
}

bool eml__uses_private(const eml_graph *g, const eml_uses *u, int32_t v, int32_t readers)
{
    return v >= 0 && g->values[v].producer >= 0 && u->count[v] == readers && !u->fixed[v];
}

bool eml__value_is_const(const eml_graph *g, int32_t v)
{
    if (v < 0)
        return false;
    uint32_t f = g->values[v].flags;
    return (f & EML_VALUE_INITIALIZER) && !(f & EML_VALUE_INPUT);
}

bool eml__value_const(const eml_graph *g, int32_t v, eml_tensor *out)
{
    if (!eml__value_is_const(g, v))
        return false;
    const eml_value *val = &g->values[v];
    memset(out, 0, sizeof(*out));
    out->dtype = val->dtype;
    out->rank = val->rank;
    for (int d = 0; d < val->rank && d < EML_MAX_RANK; d++)
        out->dims[d] = val->dims[d];
    out->data = val->data;
    return true;
}

bool eml__node_has_subgraph(const eml_node *n)
{
    for (int32_t a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].g || n->attrs[a].type == EML_ATTR_GRAPHS)
            return true;
    return false;
}

/* ---- evaluating a node ---- */

eml_status eml__node_evaluate(eml_graph *g, const eml_node *node, const eml_tensor *inputs,
                              eml_tensor *outputs, size_t max_bytes)
{
    eml_env *env = g->env;
    const eml_op_info *info = eml__op_info(node->op);
    if (!info || !info->prepare || !info->infer || !info->kernel)
        return EML_EUNSUPPORTED;
    eml_status st = EML_OK;
    void *scratch = NULL;
    void *params = eml__calloc(env, 1, EML_PARAMS_MAX);
    if (!params)
        return EML_ENOMEM;
    for (int32_t k = 0; k < node->n_outputs; k++)
        memset(&outputs[k], 0, sizeof(outputs[k]));
    eml_prepare_ctx pc = {node, node->op, node->opset, params, NULL};
    EML_TRY(info->prepare(&pc));
    eml_infer_ctx ic;
    memset(&ic, 0, sizeof(ic));
    ic.params = params;
    ic.op = node->op;
    ic.opset = node->opset;
    ic.node_name = node->name;
    ic.inputs = inputs;
    ic.n_inputs = node->n_inputs;
    ic.outputs = outputs;
    ic.n_outputs = node->n_outputs;
    EML_TRY(info->infer(&ic));
    uint64_t limit = EML_MIN((uint64_t)max_bytes, env->max_alloc_bytes);
    for (int32_t k = 0; k < node->n_outputs; k++) {
        eml_tensor *t = &outputs[k];
        if (t->dtype == EML_DTYPE_UNDEFINED && node->outputs[k] < 0)
            continue;
        int64_t count = eml_tensor_count(t);
        uint64_t bytes;
        if (t->rank < 0 || t->rank > EML_MAX_RANK || count < 0 ||
            !eml_dtype_is_supported(t->dtype)) {
            st = EML_ESHAPE;
            goto fail;
        }
        if (eml__mul_overflow((uint64_t)count, eml_dtype_size(t->dtype), &bytes) || bytes > limit) {
            st = EML_ELIMIT;
            goto fail;
        }
        t->data = eml__calloc(env, 1, bytes ? (size_t)bytes : 1);
        if (!t->data) {
            st = EML_ENOMEM;
            goto fail;
        }
    }
    if (ic.scratch_bytes > limit) {
        st = EML_ELIMIT;
        goto fail;
    }
    if (ic.scratch_bytes && !(scratch = eml__alloc(env, ic.scratch_bytes))) {
        st = EML_ENOMEM;
        goto fail;
    }
    eml_kernel_ctx kc = {params,  inputs,           node->n_inputs, outputs, node->n_outputs,
                         scratch, ic.scratch_bytes, env->pool,      NULL};
    st = info->kernel(&kc);
fail:
    if (st != EML_OK) {
        for (int32_t k = 0; k < node->n_outputs; k++) {
            eml__free(env, outputs[k].data);
            outputs[k].data = NULL;
        }
    }
    eml__free(env, scratch);
    eml__free(env, params);
    return st;
}

/* ---- changing the graph ---- */

/* Frees what an attribute owns (as graph.c does when a graph is destroyed). */
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
    memset(a, 0, sizeof(*a));
}

static void node_deinit(eml_env *env, eml_node *n)
{
    eml__free(env, n->name);
    eml__free(env, n->op_type);
    eml__free(env, n->domain);
    eml__free(env, n->inputs);
    eml__free(env, n->outputs);
    for (int32_t a = 0; n->attrs && a < n->n_attrs; a++)
        attr_deinit(env, &n->attrs[a]);
    eml__free(env, n->attrs);
}

void eml__graph_reindex(eml_graph *g)
{
    for (size_t v = 0; v < g->n_values; v++)
        g->values[v].producer = -1;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const eml_node *n = &g->nodes[i];
        for (int32_t k = 0; k < n->n_outputs; k++) {
            int32_t v = n->outputs[k];
            if (v >= 0 && g->values[v].producer < 0 &&
                !(g->values[v].flags & (EML_VALUE_INPUT | EML_VALUE_INITIALIZER)))
                g->values[v].producer = (int32_t)i;
        }
    }
}

void eml__graph_remove_nodes(eml_graph *g, const uint8_t *dead)
{
    size_t kept = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        if (dead[i]) {
            node_deinit(g->env, &g->nodes[i]);
            continue;
        }
        if (kept != i)
            g->nodes[kept] = g->nodes[i];
        kept++;
    }
    g->n_nodes = kept;
    eml__graph_reindex(g);
}

void eml__value_set_const(eml_graph *g, int32_t v, const eml_tensor *t)
{
    eml_value *val = &g->values[v];
    eml__value_free_data(g->env, val);
    for (int d = 0; d < EML_MAX_RANK; d++) {
        eml__free(g->env, val->dim_names[d]);
        val->dim_names[d] = NULL;
    }
    val->flags |= EML_VALUE_INITIALIZER;
    val->dtype = t->dtype;
    val->rank = t->rank;
    memset(val->dims, 0, sizeof(val->dims));
    for (int d = 0; d < t->rank; d++)
        val->dims[d] = t->dims[d];
    val->data = t->data;
    val->producer = -1;
}

void eml__value_drop_const(eml_graph *g, int32_t v)
{
    eml_value *val = &g->values[v];
    val->flags &= ~(uint32_t)EML_VALUE_INITIALIZER;
    eml__value_free_data(g->env, val);
}

eml_status eml__graph_new_value(eml_graph *g, const char *base, const char *suffix, int32_t *id)
{
    size_t len = strlen(base) + strlen(suffix) + 24;
    char *name = eml__alloc(g->env, len);
    if (!name)
        return EML_ENOMEM;
    snprintf(name, len, "%s%s", base, suffix);
    for (unsigned k = 2; eml__graph_find(g, name) >= 0; k++)
        snprintf(name, len, "%s%s_%u", base, suffix, k);
    eml_status st = eml__graph_value(g, name, id);
    eml__free(g->env, name);
    return st;
}

eml_status eml__graph_new_const(eml_graph *g, const char *base, const char *suffix,
                                const eml_tensor *t, int32_t *id)
{
    eml_status st = eml__graph_new_value(g, base, suffix, id);
    if (st == EML_OK)
        eml__value_set_const(g, *id, t);
    return st;
}

eml_status eml__node_set_input(eml_graph *g, eml_node *n, int32_t k, int32_t v)
{
    if (k >= n->n_inputs) {
        int32_t *grown = eml__alloc(g->env, (size_t)(k + 1) * sizeof(int32_t));
        if (!grown)
            return EML_ENOMEM;
        for (int32_t i = 0; i <= k; i++)
            grown[i] = i < n->n_inputs ? n->inputs[i] : -1;
        eml__free(g->env, n->inputs);
        n->inputs = grown;
        n->n_inputs = k + 1;
    }
    n->inputs[k] = v;
    return EML_OK;
}

static bool is_default_domain(const char *d)
{
    return !d || !d[0] || strcmp(d, "ai.onnx") == 0;
}

eml_status eml__node_set_op(eml_graph *g, eml_node *n, const char *op_type, const char *domain)
{
    char *t = eml__strdup(g->env, op_type);
    char *d = eml__strdup(g->env, domain);
    if (!t || !d) {
        eml__free(g->env, t);
        eml__free(g->env, d);
        return EML_ENOMEM;
    }
    bool same_domain = is_default_domain(n->domain) == is_default_domain(domain) &&
                       (is_default_domain(domain) || strcmp(n->domain, domain) == 0);
    eml__free(g->env, n->op_type);
    eml__free(g->env, n->domain);
    n->op_type = t;
    n->domain = d;
    n->op = eml__op_find(domain, op_type);
    int64_t opset = eml__graph_opset(g, domain);
    if (opset > 0)
        n->opset = (int32_t)EML_MIN(opset, INT32_MAX);
    else if (!same_domain)
        n->opset = strcmp(domain, EML_EDGEML_DOMAIN) == 0 ? EML_EDGEML_OPSET : 1;
    return EML_OK;
}

/* The attribute named `name`, emptied for a new value, or a new one appended. */
static eml_status attr_slot(eml_graph *g, eml_node *n, const char *name, eml_attr **out)
{
    for (int32_t a = 0; a < n->n_attrs; a++) {
        if (strcmp(n->attrs[a].name, name) != 0)
            continue;
        char *keep = n->attrs[a].name;
        n->attrs[a].name = NULL;
        attr_deinit(g->env, &n->attrs[a]);
        n->attrs[a].name = keep;
        *out = &n->attrs[a];
        return EML_OK;
    }
    char *copy = eml__strdup(g->env, name);
    eml_attr *grown = eml__calloc(g->env, (size_t)n->n_attrs + 1, sizeof(eml_attr));
    if (!copy || !grown) {
        eml__free(g->env, copy);
        eml__free(g->env, grown);
        return EML_ENOMEM;
    }
    if (n->n_attrs)
        memcpy(grown, n->attrs, (size_t)n->n_attrs * sizeof(eml_attr));
    eml__free(g->env, n->attrs);
    n->attrs = grown;
    *out = &n->attrs[n->n_attrs++];
    (*out)->name = copy;
    return EML_OK;
}

eml_status eml__node_set_attr_string(eml_graph *g, eml_node *n, const char *name, const char *s)
{
    eml_attr *a;
    eml_status st = attr_slot(g, n, name, &a);
    if (st != EML_OK)
        return st;
    a->type = EML_ATTR_STRING;
    a->s = eml__strdup(g->env, s);
    a->s_len = strlen(s);
    return a->s ? EML_OK : EML_ENOMEM;
}

eml_status eml__node_set_attr_floats(eml_graph *g, eml_node *n, const char *name,
                                     const float *values, size_t count)
{
    eml_attr *a;
    eml_status st = attr_slot(g, n, name, &a);
    if (st != EML_OK)
        return st;
    a->type = EML_ATTR_FLOATS;
    a->floats = eml__alloc(g->env, EML_MAX(count, 1) * sizeof(float));
    if (!a->floats)
        return EML_ENOMEM;
    if (count)
        memcpy(a->floats, values, count * sizeof(float));
    a->count = count;
    return EML_OK;
}

eml_status eml__node_set_attr_float(eml_graph *g, eml_node *n, const char *name, float f)
{
    eml_attr *a;
    eml_status st = attr_slot(g, n, name, &a);
    if (st != EML_OK)
        return st;
    a->type = EML_ATTR_FLOAT;
    a->f = f;
    return EML_OK;
}

static eml_status add_opset(eml_graph *g, const char *domain, int64_t version)
{
    eml_opset_import *grown = eml__calloc(g->env, g->n_opsets + 1, sizeof(eml_opset_import));
    char *d = eml__strdup(g->env, domain);
    if (!grown || !d) {
        eml__free(g->env, grown);
        eml__free(g->env, d);
        return EML_ENOMEM;
    }
    if (g->n_opsets)
        memcpy(grown, g->opsets, g->n_opsets * sizeof(eml_opset_import));
    eml__free(g->env, g->opsets);
    g->opsets = grown;
    g->opsets[g->n_opsets].domain = d;
    g->opsets[g->n_opsets].version = version;
    g->n_opsets++;
    return EML_OK;
}

eml_status eml__graph_import_edgeml(eml_graph *g)
{
    for (size_t i = 0; i < g->n_opsets; i++)
        if (strcmp(g->opsets[i].domain, EML_EDGEML_DOMAIN) == 0)
            return EML_OK;
    if (g->n_opsets == 0) {
        /* the exporter writes the opset imports it finds, or only the default domain's when
         * there are none: list the default domain too */
        int64_t v = 0;
        for (size_t i = 0; i < g->n_nodes; i++)
            if (is_default_domain(g->nodes[i].domain))
                v = EML_MAX(v, (int64_t)g->nodes[i].opset);
        if (v > 0) {
            eml_status st = add_opset(g, "", v);
            if (st != EML_OK)
                return st;
        }
    }
    return add_opset(g, EML_EDGEML_DOMAIN, EML_EDGEML_OPSET);
}

/* Index of attribute `name`, -1 when absent. */
static int32_t attr_index(const eml_node *n, const char *name)
{
    for (int32_t a = 0; a < n->n_attrs; a++)
        if (strcmp(n->attrs[a].name, name) == 0)
            return a;
    return -1;
}

eml_status eml__node_set_activation(eml_graph *g, eml_node *n, const char *activation,
                                    const float *params, size_t n_params)
{
    eml_env *env = g->env;
    int32_t ia = attr_index(n, "activation"), ip = attr_index(n, "activation_params");
    int32_t extra = (ia < 0) + (ip < 0 && n_params > 0);
    char *s = eml__strdup(env, activation);
    char *name_a = ia < 0 ? eml__strdup(env, "activation") : NULL;
    char *name_p = ip < 0 && n_params ? eml__strdup(env, "activation_params") : NULL;
    float *floats = n_params ? eml__alloc(env, n_params * sizeof(float)) : NULL;
    eml_attr *grown =
        extra ? eml__calloc(env, (size_t)(n->n_attrs + extra), sizeof(eml_attr)) : NULL;
    if (!s || (ia < 0 && !name_a) || (ip < 0 && n_params && !name_p) || (n_params && !floats) ||
        (extra && !grown)) {
        eml__free(env, s);
        eml__free(env, name_a);
        eml__free(env, name_p);
        eml__free(env, floats);
        eml__free(env, grown);
        return EML_ENOMEM;
    }
    /* everything is allocated: from here on nothing fails */
    if (extra) {
        if (n->n_attrs)
            memcpy(grown, n->attrs, (size_t)n->n_attrs * sizeof(eml_attr));
        eml__free(env, n->attrs);
        n->attrs = grown;
        if (ia < 0) {
            ia = n->n_attrs++;
            n->attrs[ia].name = name_a;
        }
        if (ip < 0 && n_params) {
            ip = n->n_attrs++;
            n->attrs[ip].name = name_p;
        }
    }
    eml_attr *a = &n->attrs[ia];
    char *keep = a->name;
    a->name = NULL;
    attr_deinit(env, a);
    a->name = keep;
    a->type = EML_ATTR_STRING;
    a->s = s;
    a->s_len = strlen(s);
    if (ip >= 0) {
        eml_attr *p = &n->attrs[ip];
        keep = p->name;
        p->name = NULL;
        attr_deinit(env, p);
        p->name = keep;
        p->type = EML_ATTR_FLOATS;
        p->floats = floats;
        p->count = n_params;
        if (n_params)
            memcpy(floats, params, n_params * sizeof(float));
    }
    return EML_OK;
}

bool eml__node_has_activation(const eml_node *n)
{
    const eml_attr *a = eml__node_attr(n, "activation");
    return a && (a->type != EML_ATTR_STRING || a->s_len > 0);
}
