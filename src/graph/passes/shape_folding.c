/* shape-folding: Shape and Size of a value whose shape static inference knows become
 * initializers. Each is evaluated on both inference runs (different sizes for every dynamic
 * dim): only a result equal in both, which no dynamic dim reaches, is folded. */
#include "graph/passes/passes.h"

/* Evaluates a Shape/Size node on run r's shape of its input; out's data is taken by the caller. */
static eml_status eval_run(eml_graph *g, const eml_node *n, const eml_static_shapes *s, int r,
                           eml_tensor *out)
{
    eml_tensor in = s->run[r][n->inputs[0]];
    in.data = NULL; /* only the shape is read */
    return eml__node_evaluate(g, n, &in, out, EML_FOLD_MAX_BYTES);
}

static bool same_tensor(const eml_tensor *a, const eml_tensor *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank)
        return false;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d])
            return false;
    size_t bytes = eml_tensor_bytes(a);
    return bytes == 0 || memcmp(a->data, b->data, bytes) == 0;
}

eml_status eml__pass_shape_folding(eml_pass_ctx *ctx)
{
    eml_graph *g = ctx->g;
    eml_env *env = g->env;
    eml_static_shapes s;
    bool any = false;
    for (size_t i = 0; i < g->n_nodes && !any; i++)
        any = g->nodes[i].op == EML_OP_Shape || g->nodes[i].op == EML_OP_Size;
    if (!any)
        return EML_OK;
    eml_status st = eml__infer_static(g, &s, ctx->diag);
    if (st != EML_OK)
        return st;
    uint8_t *dead = eml__calloc(env, EML_MAX(g->n_nodes, 1), 1);
    if (!dead) {
        eml__static_shapes_deinit(&s);
        return EML_ENOMEM;
    }
    for (size_t i = 0; i < g->n_nodes; i++) {
        eml_node *n = &g->nodes[i];
        if ((n->op != EML_OP_Shape && n->op != EML_OP_Size) || n->n_inputs != 1 ||
            n->n_outputs != 1 || n->inputs[0] < 0 || n->outputs[0] < 0 || !s.known[n->inputs[0]])
            continue;
        eml_tensor a, b;
        memset(&a, 0, sizeof(a));
        memset(&b, 0, sizeof(b));
        eml_status ea = eval_run(g, n, &s, 0, &a);
        eml_status eb = ea == EML_OK ? eval_run(g, n, &s, 1, &b) : ea;
        if (ea == EML_ENOMEM || eb == EML_ENOMEM) {
            if (ea == EML_OK)
                eml__free(env, a.data);
            st = EML_ENOMEM;
            break;
        }
        if (ea != EML_OK)
            continue;
        if (eb != EML_OK) {
            eml__free(env, a.data);
            continue;
        }
        bool fold = same_tensor(&a, &b);
        eml__free(env, b.data);
        if (!fold) {
            eml__free(env, a.data);
            continue;
        }
        eml__value_set_const(g, n->outputs[0], &a);
        dead[i] = 1;
        ctx->rewrites++;
    }
    if (ctx->rewrites)
        eml__graph_remove_nodes(g, dead);
    eml__free(env, dead);
    eml__static_shapes_deinit(&s);
    return st;
}
