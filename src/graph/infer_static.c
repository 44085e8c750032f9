/* Static shape inference for graph passes: each op's prepare and infer on the declared input
 * shapes (dynamic dims replaced by placeholders, two runs to tell symbolic dims apart) and the
 * initializers' data. */
#include "graph/infer_static.h"

/* Most distinct dynamic dims tracked; more share the last placeholder pair. */
#define MAX_SYMBOLS 64
/* Inputs and outputs of a node that inference looks at; a node with more is left unknown. */
#define MAX_NODE_VALUES 64

/* Placeholder of symbol s in run r: odd, far apart in the two runs, and small enough that a
 * handful of them multiply without overflowing int64. */
static int64_t placeholder(int run, int s)
{
    return run == 0 ? 1031 + 6 * (int64_t)s : 1553 + 10 * (int64_t)s;
}

void eml__static_shapes_deinit(eml_static_shapes *s)
{
    if (!s->env)
        return;
    eml__free(s->env, s->run[0]);
    eml__free(s->env, s->run[1]);
    eml__free(s->env, s->known);
    memset(s, 0, sizeof(*s));
}

bool eml__static_concrete(const eml_static_shapes *s, int32_t v)
{
    if (v < 0 || (size_t)v >= s->n_values || !s->known[v])
        return false;
    for (int d = 0; d < s->run[0][v].rank; d++)
        if (s->run[0][v].dims[d] != s->run[1][v].dims[d])
            return false;
    return true;
}

bool eml__static_dim_symbolic(const eml_static_shapes *s, int32_t v, int d)
{
    return s->known[v] && d < s->run[0][v].rank && s->run[0][v].dims[d] != s->run[1][v].dims[d];
}

bool eml__static_same_shape(const eml_static_shapes *s, int32_t a, int32_t b)
{
    if (a < 0 || b < 0 || (size_t)a >= s->n_values || (size_t)b >= s->n_values || !s->known[a] ||
        !s->known[b])
        return false;
    for (int r = 0; r < 2; r++) {
        const eml_tensor *x = &s->run[r][a], *y = &s->run[r][b];
        if (x->dtype != y->dtype || x->rank != y->rank)
            return false;
        for (int d = 0; d < x->rank; d++)
            if (x->dims[d] != y->dims[d])
                return false;
    }
    return true;
}

eml_dtype eml__static_dtype(const eml_static_shapes *s, int32_t v)
{
    if (v < 0 || (size_t)v >= s->n_values)
        return EML_DTYPE_UNDEFINED;
    return s->run[0][v].dtype;
}

/* Symbol index of a dynamic dim: by name when it has one, else a fresh one. */
static int symbol_of(const char **names, int *n_names, const char *name)
{
    if (name && name[0]) {
        for (int i = 0; i < *n_names; i++)
            if (names[i] && strcmp(names[i], name) == 0)
                return i;
    }
    if (*n_names == MAX_SYMBOLS)
        return MAX_SYMBOLS - 1;
    names[*n_names] = name && name[0] ? name : NULL;
    return (*n_names)++;
}

static void seed_inputs(const eml_graph *g, eml_static_shapes *s)
{
    const char *names[MAX_SYMBOLS];
    int n_names = 0;
    for (size_t v = 0; v < g->n_values; v++) {
        const eml_value *val = &g->values[v];
        if (!(val->flags & EML_VALUE_INITIALIZER) || (val->flags & EML_VALUE_INPUT))
            continue;
        for (int r = 0; r < 2; r++) {
            eml_tensor *t = &s->run[r][v];
            t->dtype = val->dtype;
            t->rank = val->rank;
            memcpy(t->dims, val->dims, sizeof(t->dims));
            t->data = val->data;
        }
        s->known[v] = 1;
    }
    for (size_t i = 0; i < g->n_inputs; i++) {
        int32_t v = g->inputs[i];
        const eml_value *val = &g->values[v];
        if (val->rank < 0 || val->rank > EML_MAX_RANK || !eml_dtype_is_supported(val->dtype))
            continue;
        for (int r = 0; r < 2; r++) {
            eml_tensor *t = &s->run[r][v];
            t->dtype = val->dtype;
            t->rank = val->rank;
            t->data = NULL; /* a default may be overridden */
        }
        for (int d = 0; d < val->rank; d++) {
            if (val->dims[d] >= 0) {
                s->run[0][v].dims[d] = s->run[1][v].dims[d] = val->dims[d];
                continue;
            }
            int sym = symbol_of(names, &n_names, val->dim_names[d]);
            s->run[0][v].dims[d] = placeholder(0, sym);
            s->run[1][v].dims[d] = placeholder(1, sym);
        }
        s->known[v] = 1;
    }
}

static bool has_subgraph(const eml_node *n)
{
    for (int32_t a = 0; a < n->n_attrs; a++)
        if (n->attrs[a].g || n->attrs[a].type == EML_ATTR_GRAPHS)
            return true;
    return false;
}

/* Infers one node in both runs; leaves its outputs unknown when it cannot. */
static void infer_node(const eml_graph *g, const eml_node *node, void *params, eml_static_shapes *s)
{
    const eml_op_info *info = eml__op_info(node->op);
    if (!info || !info->prepare || !info->infer || !info->kernel || has_subgraph(node) ||
        node->n_inputs > MAX_NODE_VALUES || node->n_outputs > MAX_NODE_VALUES)
        return;
    for (int32_t k = 0; k < node->n_inputs; k++)
        if (node->inputs[k] >= 0 && !s->known[node->inputs[k]])
            return;
    memset(params, 0, EML_PARAMS_MAX);
    eml_prepare_ctx pc = {node, node->op, node->opset, params, NULL};
    if (info->prepare(&pc) != EML_OK)
        return;
    eml_tensor in[MAX_NODE_VALUES], out[MAX_NODE_VALUES];
    eml_tensor result[2][MAX_NODE_VALUES];
    for (int r = 0; r < 2; r++) {
        for (int32_t k = 0; k < node->n_inputs; k++) {
            int32_t v = node->inputs[k];
            if (v < 0)
                memset(&in[k], 0, sizeof(in[k]));
            else
                in[k] = s->run[r][v];
        }
        memset(out, 0, sizeof(eml_tensor) * (size_t)node->n_outputs);
        eml_infer_ctx ic;
        memset(&ic, 0, sizeof(ic));
        ic.params = params;
        ic.op = node->op;
        ic.opset = node->opset;
        ic.node_name = node->name;
        ic.inputs = in;
        ic.n_inputs = node->n_inputs;
        ic.outputs = out;
        ic.n_outputs = node->n_outputs;
        eml_status st = info->infer(&ic);
        if (st == EML_EDYNAMIC && r == 0) {
            /* the dtypes are set before an infer asks for data: passes may still use them */
            for (int32_t k = 0; k < node->n_outputs; k++)
                if (node->outputs[k] >= 0)
                    s->run[0][node->outputs[k]].dtype = out[k].dtype;
        }
        if (st != EML_OK)
            return;
        for (int32_t k = 0; k < node->n_outputs; k++) {
            result[r][k] = out[k];
            result[r][k].data = NULL;
            if (node->outputs[k] >= 0 &&
                (out[k].rank < 0 || out[k].rank > EML_MAX_RANK || eml_tensor_count(&out[k]) < 0))
                return;
        }
    }
    for (int32_t k = 0; k < node->n_outputs; k++) {
        int32_t v = node->outputs[k];
        if (v < 0)
            continue;
        if (result[0][k].rank != result[1][k].rank)
            continue; /* a rank that depends on a dynamic dim: unknown */
        s->run[0][v] = result[0][k];
        s->run[1][v] = result[1][k];
        s->known[v] = 1;
    }
    (void)g;
}

eml_status eml__infer_static(const eml_graph *g, eml_static_shapes *s, eml_diag *diag)
{
    eml_env *env = g->env;
    eml_status st = EML_OK;
    memset(s, 0, sizeof(*s));
    s->env = env;
    s->n_values = g->n_values;
    size_t nv = EML_MAX(g->n_values, 1);
    s->run[0] = eml__calloc(env, nv, sizeof(eml_tensor));
    s->run[1] = eml__calloc(env, nv, sizeof(eml_tensor));
    s->known = eml__calloc(env, nv, 1);
    int32_t *order = eml__calloc(env, EML_MAX(g->n_nodes, 1), sizeof(int32_t));
    void *params = eml__alloc(env, EML_PARAMS_MAX);
    if (!s->run[0] || !s->run[1] || !s->known || !order || !params) {
        st = EML_ENOMEM;
        goto fail;
    }
    EML_TRY(eml__graph_verify(g, order, diag));
    seed_inputs(g, s);
    for (size_t i = 0; i < g->n_nodes; i++)
        infer_node(g, &g->nodes[order[i]], params, s);
fail:
    eml__free(env, order);
    eml__free(env, params);
    if (st != EML_OK)
        eml__static_shapes_deinit(s);
    return st;
}
