/* The optimizer: the ordered list of graph passes and eml_graph_optimize, which runs the enabled
 * ones in rounds until a round changes nothing. */
#include <stdio.h>

#include "graph/passes/passes.h"

/* In order. Folding comes first so that the fusions see constants; residual fusion comes before
 * activation fusion so that Conv + Add + Relu becomes one FusedConv; dead nodes go last. Level 1
 * keeps the graph in ONNX ops; level 2 adds edgeml's fused ops. */
static const eml_pass passes[] = {
    {"constant-folding", 1, eml__pass_constant_folding},
    {"shape-folding", 1, eml__pass_shape_folding},
    {"identity-elimination", 1, eml__pass_identity_elimination},
    {"batchnorm-folding", 1, eml__pass_batchnorm_folding},
    /* before the float fusions, which would take the Conv and its Relu of a QDQ pattern */
    {"qdq-fusion", 2, eml__pass_qdq_fusion},
    {"dequantize-folding", 2, eml__pass_dequantize_folding},
    {"residual-fusion", 2, eml__pass_residual_fusion},
    {"activation-fusion", 2, eml__pass_activation_fusion},
    {"nhwc-layout", 2, eml__pass_nhwc_layout},
    {"dead-node-elimination", 1, eml__pass_dead_node_elimination},
};

#define N_PASSES (sizeof(passes) / sizeof(passes[0]))
_Static_assert(N_PASSES <= EML_OPTIMIZE_MAX_PASSES, "report too small for the pass list");

/* Rounds are few in practice (folding a shape can make more constants foldable); the cap keeps a
 * pathological graph from looping. */
#define MAX_ROUNDS 8

void eml_optimize_options_init(eml_optimize_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = (uint32_t)sizeof(*opts);
    opts->level = 2;
}

const char *eml_optimize_pass_name(size_t index)
{
    return index < N_PASSES ? passes[index].name : NULL;
}

static size_t initializer_count(const eml_graph *g)
{
    size_t n = 0;
    for (size_t v = 0; v < g->n_values; v++)
        n += (g->values[v].flags & EML_VALUE_INITIALIZER) != 0;
    return n;
}

/* Puts the nodes in topological order (fusions can make a node read a value produced later in
 * the list), as ONNX files must have them; otherwise keeps their order. */
static eml_status sort_nodes(eml_graph *g, eml_diag *diag)
{
    eml_env *env = g->env;
    int32_t *order = eml__alloc(env, EML_MAX(g->n_nodes, 1) * sizeof(int32_t));
    if (!order)
        return EML_ENOMEM;
    eml_status st = eml__graph_verify(g, order, diag);
    bool sorted = true;
    for (size_t i = 0; st == EML_OK && i < g->n_nodes && sorted; i++)
        sorted = order[i] == (int32_t)i;
    if (st == EML_OK && !sorted) {
        eml_node *nodes = eml__alloc(env, EML_MAX(g->n_nodes, 1) * sizeof(eml_node));
        if (!nodes) {
            st = EML_ENOMEM;
        } else {
            for (size_t i = 0; i < g->n_nodes; i++)
                nodes[i] = g->nodes[order[i]];
            eml__free(env, g->nodes);
            g->nodes = nodes;
            g->cap_nodes = g->n_nodes;
            eml__graph_reindex(g);
        }
    }
    eml__free(env, order);
    return st;
}

/* Marks the passes named in a comma-separated list (spaces around names ignored). */
static eml_status parse_disable(const char *list, bool *disabled, eml_diag *diag)
{
    const char *p = list;
    while (p && *p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        size_t len = (size_t)(end - p);
        while (len && p[len - 1] == ' ')
            len--;
        if (len) {
            bool found = false;
            for (size_t i = 0; i < N_PASSES && !found; i++) {
                if (strlen(passes[i].name) == len && memcmp(passes[i].name, p, len) == 0) {
                    disabled[i] = true;
                    found = true;
                }
            }
            if (!found) {
                char known[512];
                size_t n = 0;
                known[0] = 0;
                for (size_t i = 0; i < N_PASSES && n < sizeof(known); i++)
                    n += (size_t)snprintf(known + n, sizeof(known) - n, "%s%s", i ? ", " : "",
                                          passes[i].name);
                return eml__diag(diag, EML_EINVAL, "unknown pass '%.*s' (passes: %s)",
                                 (int)EML_MIN(len, 200), p, known);
            }
        }
        p = end;
    }
    return EML_OK;
}

eml_status eml_graph_optimize(eml_graph *graph, const eml_optimize_options *opts,
                              eml_optimize_report *report, eml_diag *diag)
{
    eml_optimize_options o;
    eml_optimize_options_init(&o);
    if (opts) {
        /* fields past the caller's struct_size keep their defaults */
        size_t n = EML_MIN((size_t)opts->struct_size, sizeof(o));
        if (n < sizeof(uint32_t))
            return eml__diag(diag, EML_EINVAL, "optimize options: struct_size %u",
                             (unsigned)opts->struct_size);
        memcpy(&o, opts, n);
        o.struct_size = (uint32_t)sizeof(o);
    }
    eml_optimize_report local;
    eml_optimize_report *r = report ? report : &local;
    memset(r, 0, sizeof(*r));
    if (!graph)
        return eml__diag(diag, EML_EINVAL, "optimize: no graph");
    if (o.level < 0 || o.level > 2)
        return eml__diag(diag, EML_EINVAL, "optimize: level %d (0 none, 1 basic, 2 all)", o.level);
    bool disabled[N_PASSES] = {false};
    eml_status st = parse_disable(o.disable, disabled, diag);
    if (st != EML_OK)
        return st;
    r->nodes_before = r->nodes_after = graph->n_nodes;
    r->initializers_before = r->initializers_after = initializer_count(graph);
    st = eml__graph_verify(graph, NULL, diag);
    if (st != EML_OK)
        return st;
    size_t slot[N_PASSES];
    for (size_t i = 0; i < N_PASSES; i++) {
        if (passes[i].level > o.level || disabled[i])
            continue;
        slot[i] = r->pass_count++;
        r->passes[slot[i]].name = passes[i].name;
    }
    bool changed = r->pass_count > 0;
    while (changed && r->rounds < MAX_ROUNDS) {
        changed = false;
        r->rounds++;
        for (size_t i = 0; i < N_PASSES; i++) {
            if (passes[i].level > o.level || disabled[i])
                continue;
            eml_pass_ctx ctx = {graph, diag, 0};
            st = passes[i].fn(&ctx);
            r->passes[slot[i]].rewrites += ctx.rewrites;
            changed = changed || ctx.rewrites > 0;
            if (st != EML_OK) {
                char why[400];
                snprintf(why, sizeof(why), "%.399s",
                         diag && diag->status == st && diag->message[0] ? diag->message
                                                                        : eml_status_str(st));
                eml__diag(diag, st, "optimize: pass %s: %s", passes[i].name, why);
                goto done;
            }
#ifndef NDEBUG
            eml_diag vd;
            eml_diag_init(&vd);
            st = eml__graph_verify(graph, NULL, &vd);
            if (st == EML_ENOMEM)
                goto done;
            if (st != EML_OK) {
                st = eml__diag(diag, EML_EINTERNAL, "optimize: pass %s left an invalid graph: %s",
                               passes[i].name, vd.message);
                goto done;
            }
#endif
        }
    }
    if (r->pass_count > 0)
        st = sort_nodes(graph, diag);
done:
    r->nodes_after = graph->n_nodes;
    r->initializers_after = initializer_count(graph);
    return st;
}
