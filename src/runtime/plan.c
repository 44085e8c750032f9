/* Compiling a graph into a plan: execution order, prepared op params, If subplans, value
 * lifetimes, and the memory figures of the default input shapes. */
#include "runtime/plan.h"

#include "kernels/ref/binary.h"
#include "kernels/ref/unary.h"

bool eml__op_shape_only(eml_op_id op)
{
    return op == EML_OP_Shape || op == EML_OP_Size;
}

bool eml__op_is_view(eml_op_id op)
{
    return op == EML_OP_Reshape || op == EML_OP_Flatten || op == EML_OP_Squeeze ||
           op == EML_OP_Unsqueeze || op == EML_OP_Identity;
}

bool eml__op_in_place(eml_op_id op)
{
    const eml_op_info *info = eml__op_info(op);
    return op == EML_OP_Clip ||
           (info && (info->kernel == eml__ref_unary || info->kernel == eml__ref_binary));
}

void eml__infer_ctx_init(eml_infer_ctx *ctx, const eml_plan_node *pn, const eml_tensor *inputs,
                         eml_tensor *outputs, eml_diag *diag)
{
    memset(ctx, 0, sizeof(*ctx));
    ctx->params = pn->params;
    ctx->op = pn->node->op;
    ctx->opset = pn->node->opset;
    ctx->node_name = pn->node->name;
    ctx->inputs = inputs;
    ctx->n_inputs = pn->node->n_inputs;
    ctx->outputs = outputs;
    ctx->n_outputs = pn->node->n_outputs;
    ctx->diag = diag;
}

static void plan_free(eml_plan *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->nodes && i < p->n_nodes; i++) {
        eml__free(p->env, p->nodes[i].params);
        if (p->nodes[i].fast.destroy)
            p->nodes[i].fast.destroy(p->env, p->nodes[i].fast.state);
        eml__free(p->env, p->nodes[i].implicit);
        plan_free(p->nodes[i].branches[0]);
        plan_free(p->nodes[i].branches[1]);
    }
    eml__free(p->env, p->nodes);
    eml__free(p->env, p->last_use);
    eml__free(p->env, p);
}

void eml_plan_destroy(eml_plan *plan)
{
    plan_free(plan);
}

/* Calls add() for the name of every outer value read anywhere inside g (nested graphs too). */
static eml_status collect_outer(const eml_graph *g, eml_plan *p, eml_plan_node *pn)
{
    for (size_t v = 0; v < g->n_values; v++) {
        if (!(g->values[v].flags & EML_VALUE_OUTER))
            continue;
        int32_t id = eml__graph_find(p->graph, g->values[v].name);
        if (id < 0)
            continue; /* defined further out; the enclosing plan keeps it alive */
        bool seen = false;
        for (int32_t k = 0; k < pn->n_implicit && !seen; k++)
            seen = pn->implicit[k] == id;
        if (seen)
            continue;
        int32_t *grown = eml__alloc(p->env, (size_t)(pn->n_implicit + 1) * sizeof(int32_t));
        if (!grown)
            return EML_ENOMEM;
        if (pn->n_implicit)
            memcpy(grown, pn->implicit, (size_t)pn->n_implicit * sizeof(int32_t));
        eml__free(p->env, pn->implicit);
        pn->implicit = grown;
        pn->implicit[pn->n_implicit++] = id;
    }
    for (size_t n = 0; n < g->n_nodes; n++) {
        const eml_node *node = &g->nodes[n];
        for (int32_t a = 0; a < node->n_attrs; a++) {
            if (node->attrs[a].type == EML_ATTR_GRAPH && node->attrs[a].g) {
                eml_status st = collect_outer(node->attrs[a].g, p, pn);
                if (st != EML_OK)
                    return st;
            }
        }
    }
    return EML_OK;
}

static eml_status prepare_node(eml_plan *p, eml_plan_node *pn, eml_diag *diag)
{
    eml_status st = EML_OK;
    const eml_node *node = pn->node;
    pn->info = eml__op_info(node->op);
    if (!pn->info) { /* a graph built with unresolved ops */
        eml__diag_where(diag, NULL, node->name, node->op_type, node->opset, -1);
        return eml__diag(diag, EML_EUNSUPPORTED, "unsupported: %s (opset %d) at node '%s'",
                         node->op_type, (int)node->opset, node->name);
    }
    pn->params = eml__calloc(p->env, 1, EML_PARAMS_MAX);
    if (!pn->params)
        return EML_ENOMEM;
    eml_prepare_ctx pc = {node, node->op, node->opset, pn->params, diag};
    EML_TRY(pn->info->prepare(&pc));
    EML_TRY(eml__plan_select_fast(p, pn));
    if (node->op == EML_OP_If) {
        const eml_attr *branch[2] = {eml__node_attr(node, "then_branch"),
                                     eml__node_attr(node, "else_branch")};
        for (int b = 0; b < 2; b++) {
            if (!branch[b] || branch[b]->type != EML_ATTR_GRAPH || !branch[b]->g) {
                eml__diag_where(diag, NULL, node->name, node->op_type, node->opset, -1);
                return eml__diag(diag, EML_EGRAPH, "If at node '%s': missing %s", node->name,
                                 b ? "else_branch" : "then_branch");
            }
            EML_TRY(eml__plan_build(branch[b]->g, p, &pn->branches[b], diag));
        }
        EML_TRY(collect_outer(branch[0]->g, p, pn));
        EML_TRY(collect_outer(branch[1]->g, p, pn));
    }
fail:
    return st;
}

eml_status eml__plan_build(const eml_graph *graph, const eml_plan *parent, eml_plan **out,
                           eml_diag *diag)
{
    eml_status st = EML_OK;
    eml_env *env = graph->env;
    int32_t *order = NULL;
    *out = NULL;
    eml_plan *p = eml__calloc(env, 1, sizeof(*p));
    if (!p)
        return EML_ENOMEM;
    p->env = env;
    p->graph = graph;
    p->parent = parent;
    p->n_nodes = graph->n_nodes;
    order = eml__calloc(env, EML_MAX(graph->n_nodes, 1), sizeof(int32_t));
    p->nodes = eml__calloc(env, EML_MAX(graph->n_nodes, 1), sizeof(eml_plan_node));
    p->last_use = eml__calloc(env, EML_MAX(graph->n_values, 1), sizeof(int32_t));
    if (!order || !p->nodes || !p->last_use) {
        st = EML_ENOMEM;
        goto fail;
    }
    EML_TRY(eml__graph_verify(graph, order, diag));
    for (size_t i = 0; i < graph->n_nodes; i++) {
        p->nodes[i].node = &graph->nodes[order[i]];
        p->nodes[i].index = (int32_t)i;
        EML_TRY(prepare_node(p, &p->nodes[i], diag));
    }
    /* lifetimes: the last position reading each value; outputs live to the end */
    for (size_t v = 0; v < graph->n_values; v++) {
        p->last_use[v] = -1;
    }
    for (size_t i = 0; i < p->n_nodes; i++) {
        const eml_plan_node *pn = &p->nodes[i];
        for (int32_t k = 0; k < pn->node->n_inputs; k++) {
            if (pn->node->inputs[k] >= 0)
                p->last_use[pn->node->inputs[k]] = (int32_t)i;
        }
        for (int32_t k = 0; k < pn->n_implicit; k++)
            p->last_use[pn->implicit[k]] = (int32_t)i;
    }
    for (size_t o = 0; o < graph->n_outputs; o++)
        p->last_use[graph->outputs[o]] = (int32_t)p->n_nodes;
    eml__free(env, order);
    *out = p;
    return EML_OK;
fail:
    eml__free(env, order);
    plan_free(p);
    return st;
}

/* Memory figures for the default shapes: every dynamic dim taken as 1. */
static eml_status plan_default_memory(eml_plan *p, eml_diag *diag)
{
    const eml_graph *g = p->graph;
    eml_status st = EML_OK;
    eml_tensor *inputs = eml__calloc(p->env, EML_MAX(g->n_inputs, 1), sizeof(eml_tensor));
    if (!inputs)
        return EML_ENOMEM;
    bool all_static = true, known = true;
    for (size_t i = 0; i < g->n_inputs; i++) {
        const eml_value *v = &g->values[g->inputs[i]];
        if (v->flags & EML_VALUE_INITIALIZER)
            continue; /* default taken */
        if (v->rank < 0 || v->dtype == EML_DTYPE_UNDEFINED) {
            known = false;
            continue;
        }
        inputs[i].dtype = v->dtype;
        inputs[i].rank = v->rank;
        for (int d = 0; d < v->rank; d++) {
            all_static &= v->dims[d] >= 0;
            inputs[i].dims[d] = v->dims[d] >= 0 ? v->dims[d] : 1;
        }
    }
    if (known) {
        eml_spec spec;
        eml_diag local;
        eml_diag_init(&local);
        st = eml__spec_build(p, inputs, NULL, &spec, all_static ? diag : &local);
        if (st == EML_OK) {
            p->memory.arena_bytes = spec.arena_bytes;
            p->memory.activations_bytes = spec.activations_bytes;
            p->memory.macs = spec.macs;
            p->memory.is_static = spec.is_static;
            eml__spec_deinit(&spec);
        } else if (!all_static && st != EML_ENOMEM) {
            st = EML_OK; /* 1 may not be a valid size for every dynamic dim; real shapes decide */
        }
    }
    eml__free(p->env, inputs);
    return st;
}

eml_status eml_plan_create(const eml_graph *graph, eml_plan **out, eml_diag *diag)
{
    eml_plan *p = NULL;
    eml_status st = eml__plan_build(graph, NULL, &p, diag);
    if (st == EML_OK)
        st = plan_default_memory(p, diag);
    if (st != EML_OK) {
        plan_free(p);
        p = NULL;
    }
    *out = p;
    return st;
}

void eml_plan_memory_get(const eml_plan *plan, eml_plan_memory *out)
{
    *out = plan->memory;
}

size_t eml_plan_node_count(const eml_plan *plan)
{
    return plan ? plan->n_nodes : 0;
}

eml_status eml_plan_node_get(const eml_plan *plan, size_t index, eml_plan_node_info *out)
{
    if (!plan || index >= plan->n_nodes)
        return EML_ERANGE;
    const eml_plan_node *pn = &plan->nodes[index];
    out->name = pn->node->name ? pn->node->name : "";
    out->op_type = pn->node->op_type;
    out->domain = pn->info && pn->info->domain ? pn->info->domain : "";
    if (pn->fast.run && pn->fast.name)
        out->kernel = pn->fast.name;
    else
        out->kernel = eml__op_is_view(pn->node->op) ? "view" : "reference";
    return EML_OK;
}
