/* Structural checks of a graph: every used value defined exactly once, outer references
 * resolvable, no cycle; and a topological order of the nodes (Kahn's algorithm). */
#include <stdio.h>

#include "graph/graph.h"

/* An enclosing graph during a recursive check, with who produces each of its values. */
typedef struct scope {
    const struct scope *up;
    const eml_graph *g;
    const int32_t *prod; /* node index producing each value, -1 for none */
} scope;

typedef struct edge {
    int32_t from, to;
} edge;

typedef struct edges {
    edge *items;
    size_t n, cap;
} edges;

static bool defined_locally(const eml_graph *g, const int32_t *prod, int32_t id)
{
    const eml_value *v = &g->values[id];
    if (v->flags & (EML_VALUE_INPUT | EML_VALUE_INITIALIZER | EML_VALUE_OUTER))
        return true;
    return prod ? prod[id] >= 0 : v->producer >= 0;
}

/* True when an enclosing graph defines `name`: first the scopes being checked, then (when the
 * check started at a subgraph) its parents, whose producers are read from the values. */
static bool defined_above(const scope *up, const eml_graph *g, const char *name)
{
    const eml_graph *outermost = g;
    for (const scope *s = up; s; s = s->up) {
        int32_t id = eml__graph_find(s->g, name);
        if (id >= 0 && defined_locally(s->g, s->prod, id))
            return true;
        outermost = s->g;
    }
    for (const eml_graph *a = outermost->parent; a; a = a->parent) {
        int32_t id = eml__graph_find(a, name);
        if (id >= 0 && defined_locally(a, NULL, id))
            return true;
    }
    return false;
}

static eml_status add_edge(eml_env *env, edges *e, int32_t from, int32_t to)
{
    eml_status st = eml__grow(env, (void **)&e->items, &e->cap, e->n + 1, sizeof(edge));
    if (st != EML_OK)
        return st;
    e->items[e->n].from = from;
    e->items[e->n].to = to;
    e->n++;
    return EML_OK;
}

/* A node holding subgraphs depends on the producers (in g) of every value its subgraphs, at any
 * depth, take from outside. */
static eml_status outer_edges(eml_env *env, const eml_graph *sub, const eml_graph *g,
                              const int32_t *prod, int32_t node, edges *e)
{
    eml_status st = EML_OK;
    for (size_t i = 0; i < sub->n_values && st == EML_OK; i++) {
        const eml_value *v = &sub->values[i];
        if (!(v->flags & EML_VALUE_OUTER))
            continue;
        int32_t id = eml__graph_find(g, v->name);
        if (id >= 0 && prod[id] >= 0)
            st = add_edge(env, e, prod[id], node);
    }
    for (size_t n = 0; n < sub->n_nodes && st == EML_OK; n++) {
        const eml_node *nd = &sub->nodes[n];
        for (int32_t a = 0; a < nd->n_attrs && st == EML_OK; a++) {
            if (nd->attrs[a].g)
                st = outer_edges(env, nd->attrs[a].g, g, prod, node, e);
        }
    }
    return st;
}

static void node_where(eml_diag *diag, const eml_node *n)
{
    eml__diag_where(diag, NULL, n->name, n->op_type, n->opset, -1);
}

/* Min-heap of ready node indices, so that a graph already in topological order keeps its file
 * order and the order never depends on anything but the graph. */
static void heap_push(int32_t *h, size_t *n, int32_t v)
{
    size_t i = (*n)++;
    h[i] = v;
    while (i > 0 && h[(i - 1) / 2] > h[i]) {
        int32_t t = h[i];
        h[i] = h[(i - 1) / 2];
        h[(i - 1) / 2] = t;
        i = (i - 1) / 2;
    }
}

static int32_t heap_pop(int32_t *h, size_t *n)
{
    int32_t top = h[0];
    h[0] = h[--(*n)];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < *n && h[l] < h[m])
            m = l;
        if (r < *n && h[r] < h[m])
            m = r;
        if (m == i)
            break;
        int32_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
    return top;
}

/* Names the nodes of one cycle among the nodes Kahn's algorithm could not place. mark and path
 * are scratch arrays of n_nodes entries. */
static eml_status cycle_error(const eml_graph *g, const int32_t *prod, const int32_t *indeg,
                              int32_t *mark, int32_t *path, eml_diag *diag)
{
    int32_t start = -1;
    for (size_t i = 0; i < g->n_nodes && start < 0; i++)
        if (indeg[i] > 0)
            start = (int32_t)i;
    /* walk backwards through unplaced producers until a node repeats: that loop is a cycle */
    for (size_t i = 0; i < g->n_nodes; i++)
        mark[i] = -1;
    int32_t cur = start, step = 0;
    while (cur >= 0 && mark[cur] < 0) {
        mark[cur] = step;
        path[step++] = cur;
        const eml_node *n = &g->nodes[cur];
        int32_t next = -1;
        for (int32_t k = 0; k < n->n_inputs && next < 0; k++) {
            int32_t id = n->inputs[k];
            if (id >= 0 && prod[id] >= 0 && indeg[prod[id]] > 0)
                next = prod[id];
        }
        cur = next;
    }
    char list[384];
    size_t len = 0;
    list[0] = 0;
    int listed = 0;
    if (cur >= 0) {
        /* path[k + 1] feeds path[k] and cur feeds path[step - 1]: print in data-flow order,
         * from cur round to cur */
        int32_t m = mark[cur];
        len += (size_t)snprintf(list, sizeof(list), "'%s'", g->nodes[cur].name);
        for (int32_t s = step - 1; s >= m && len < sizeof(list); s--)
            len += (size_t)snprintf(list + len, sizeof(list) - len, " -> '%s'",
                                    g->nodes[path[s]].name);
    } else { /* only through subgraph references: list the unplaced nodes */
        for (size_t i = 0; i < g->n_nodes && listed < 6 && len < sizeof(list); i++)
            if (indeg[i] > 0)
                len += (size_t)snprintf(list + len, sizeof(list) - len, "%s'%s'",
                                        listed++ ? ", " : "", g->nodes[i].name);
    }
    if (start >= 0)
        node_where(diag, &g->nodes[start]);
    return eml__diag(diag, EML_EGRAPH, "invalid graph: cycle through nodes %s", list);
}

static eml_status verify_graph(const eml_graph *g, const scope *up, int32_t *order, eml_diag *diag)
{
    eml_env *env = g->env;
    eml_status st = EML_OK;
    size_t nv = g->n_values, nn = g->n_nodes;
    int32_t *prod = eml__alloc(env, sizeof(int32_t) * EML_MAX(nv, 1));
    int32_t *indeg = eml__calloc(env, EML_MAX(nn, 1), sizeof(int32_t));
    int32_t *start = eml__calloc(env, nn + 1, sizeof(int32_t));
    int32_t *heap = eml__alloc(env, sizeof(int32_t) * EML_MAX(nn, 1));
    int32_t *own_order = order ? NULL : eml__alloc(env, sizeof(int32_t) * EML_MAX(nn, 1));
    int32_t *succ = NULL;
    edges e = {NULL, 0, 0};
    if (!prod || !indeg || !start || !heap || (!order && !own_order)) {
        st = EML_ENOMEM;
        goto fail;
    }
    if (!order)
        order = own_order;
    for (size_t i = 0; i < nv; i++)
        prod[i] = -1;

    for (size_t i = 0; i < nn; i++) {
        const eml_node *n = &g->nodes[i];
        for (int32_t k = 0; k < n->n_outputs; k++) {
            int32_t id = n->outputs[k];
            if (id < 0)
                continue;
            if ((size_t)id >= nv) {
                node_where(diag, n);
                st = eml__diag(diag, EML_EINTERNAL, "node '%s' refers to value %d of %zu", n->name,
                               (int)id, nv);
                goto fail;
            }
            const eml_value *v = &g->values[id];
            if (prod[id] >= 0) {
                node_where(diag, n);
                st = eml__diag(diag, EML_EGRAPH,
                               "invalid graph: value '%s' is produced twice, by node '%s' and "
                               "node '%s'",
                               v->name, g->nodes[prod[id]].name, n->name);
                goto fail;
            }
            if (v->flags & (EML_VALUE_INPUT | EML_VALUE_INITIALIZER | EML_VALUE_OUTER)) {
                node_where(diag, n);
                st = eml__diag(diag, EML_EGRAPH,
                               "invalid graph: value '%s' is produced by node '%s' but is also "
                               "%s",
                               v->name, n->name,
                               (v->flags & EML_VALUE_INPUT)         ? "a graph input"
                               : (v->flags & EML_VALUE_INITIALIZER) ? "an initializer"
                                                                    : "a value of an enclosing "
                                                                      "graph");
                goto fail;
            }
            prod[id] = (int32_t)i;
        }
    }

    for (size_t i = 0; i < nv; i++) {
        const eml_value *v = &g->values[i];
        if ((v->flags & EML_VALUE_OUTER) && !defined_above(up, g, v->name)) {
            st = eml__diag(diag, EML_EGRAPH,
                           "invalid graph: subgraph '%s' uses '%s', which no enclosing graph "
                           "defines",
                           g->name ? g->name : "", v->name);
            goto fail;
        }
    }

    /* every undefined input is named (up to what fits), not only the first */
    char missing[400];
    size_t len = 0;
    int n_missing = 0;
    const eml_node *first_bad = NULL;
    for (size_t i = 0; i < nn; i++) {
        const eml_node *n = &g->nodes[i];
        for (int32_t k = 0; k < n->n_inputs; k++) {
            int32_t id = n->inputs[k];
            if (id < 0)
                continue;
            if ((size_t)id >= nv) {
                node_where(diag, n);
                st = eml__diag(diag, EML_EINTERNAL, "node '%s' refers to value %d of %zu", n->name,
                               (int)id, nv);
                goto fail;
            }
            if (defined_locally(g, prod, id))
                continue;
            if (!first_bad)
                first_bad = n;
            if (n_missing++ < 8 && len < sizeof(missing))
                len += (size_t)snprintf(missing + len, sizeof(missing) - len,
                                        "%s'%s' (input %d of node '%s')", len ? ", " : "",
                                        g->values[id].name, (int)k, n->name);
        }
    }
    if (n_missing) {
        node_where(diag, first_bad);
        st = eml__diag(diag, EML_EGRAPH,
                       "invalid graph: %d node input%s defined by no graph input, initializer "
                       "or node: %s%s",
                       n_missing, n_missing > 1 ? "s are" : " is", missing,
                       n_missing > 8 ? ", ..." : "");
        goto fail;
    }
    for (size_t i = 0; i < g->n_outputs; i++) {
        int32_t id = g->outputs[i];
        if (id < 0 || (size_t)id >= nv) {
            st = eml__diag(diag, EML_EINTERNAL, "graph output %zu refers to value %d", i, (int)id);
            goto fail;
        }
        if (!defined_locally(g, prod, id)) {
            st = eml__diag(diag, EML_EGRAPH,
                           "invalid graph: graph output '%s' is defined by no node, input or "
                           "initializer",
                           g->values[id].name);
            goto fail;
        }
    }

    /* dependencies: the producers of each node's inputs and of its subgraphs' outer values */
    for (size_t i = 0; i < nn; i++) {
        const eml_node *n = &g->nodes[i];
        for (int32_t k = 0; k < n->n_inputs; k++) {
            int32_t id = n->inputs[k];
            if (id >= 0 && prod[id] >= 0)
                EML_TRY(add_edge(env, &e, prod[id], (int32_t)i));
        }
        for (int32_t a = 0; a < n->n_attrs; a++) {
            if (n->attrs[a].g)
                EML_TRY(outer_edges(env, n->attrs[a].g, g, prod, (int32_t)i, &e));
        }
    }
    succ = eml__alloc(env, sizeof(int32_t) * EML_MAX(e.n, 1));
    if (!succ) {
        st = EML_ENOMEM;
        goto fail;
    }
    for (size_t k = 0; k < e.n; k++) {
        start[e.items[k].from + 1]++;
        indeg[e.items[k].to]++;
    }
    for (size_t i = 0; i < nn; i++)
        start[i + 1] += start[i];
    for (size_t k = 0; k < e.n; k++) /* heap doubles as the fill cursor of each row */
        heap[e.items[k].from] = 0;
    for (size_t k = 0; k < e.n; k++) {
        int32_t f = e.items[k].from;
        succ[start[f] + heap[f]++] = e.items[k].to;
    }

    size_t n_heap = 0, placed = 0;
    for (size_t i = 0; i < nn; i++)
        if (indeg[i] == 0)
            heap_push(heap, &n_heap, (int32_t)i);
    while (n_heap > 0) {
        int32_t u = heap_pop(heap, &n_heap);
        order[placed++] = u;
        for (int32_t k = start[u]; k < start[u + 1]; k++)
            if (--indeg[succ[k]] == 0)
                heap_push(heap, &n_heap, succ[k]);
    }
    if (placed < nn) {
        st = cycle_error(g, prod, indeg, heap, start, diag);
        goto fail;
    }

    /* subgraphs, with this graph as their enclosing scope */
    scope here = {up, g, prod};
    for (size_t i = 0; i < nn; i++) {
        const eml_node *n = &g->nodes[i];
        for (int32_t a = 0; a < n->n_attrs; a++) {
            if (n->attrs[a].g)
                EML_TRY(verify_graph(n->attrs[a].g, &here, NULL, diag));
        }
    }

fail:
    eml__free(env, e.items);
    eml__free(env, succ);
    eml__free(env, own_order);
    eml__free(env, heap);
    eml__free(env, start);
    eml__free(env, indeg);
    eml__free(env, prod);
    return st;
}

eml_status eml__graph_verify(const eml_graph *g, int32_t *order, eml_diag *diag)
{
    return verify_graph(g, NULL, order, diag);
}
