/* Running a plan node by node when shapes depend on data (NonZero, a Reshape fed by computed
 * values, If): each node's shapes are inferred from its actual inputs, and its outputs allocated
 * then freed after their last use. */
#include "runtime/plan.h"

typedef struct scope {
    const eml_plan *plan;
    eml_tensor *values;
    const struct scope *parent;
} scope;

static eml_status run_plan(const eml_plan *p, eml_tensor *values, bool *owned,
                           const scope *parent, eml_pool *pool, eml_prof *prof, eml_diag *diag);

static void release(eml_env *env, eml_tensor *values, bool *owned, int32_t v)
{
    if (owned[v]) {
        eml__free(env, values[v].data);
        owned[v] = false;
    }
    memset(&values[v], 0, sizeof(values[v]));
}

static eml_status bind_outer_and_constants(const eml_plan *p, eml_tensor *values,
                                           const scope *parent, eml_diag *diag)
{
    const eml_graph *g = p->graph;
    for (size_t v = 0; v < g->n_values; v++) {
        const eml_value *val = &g->values[v];
        if ((val->flags & EML_VALUE_INITIALIZER) && !values[v].data) {
            values[v].dtype = val->dtype;
            values[v].rank = val->rank;
            memcpy(values[v].dims, val->dims, sizeof(values[v].dims));
            values[v].data = val->data;
        }
        if (!(val->flags & EML_VALUE_OUTER))
            continue;
        bool found = false;
        for (const scope *sc = parent; sc && !found; sc = sc->parent) {
            int32_t id = eml__graph_find(sc->plan->graph, val->name);
            if (id >= 0 && sc->values[id].dtype != EML_DTYPE_UNDEFINED) {
                values[v] = sc->values[id];
                found = true;
            }
        }
        if (!found)
            return eml__diag(diag, EML_EGRAPH, "subgraph value '%s' is not defined outside it",
                             val->name);
    }
    return EML_OK;
}

/* If: runs the branch the condition picks and copies its outputs out. */
static eml_status run_if(const eml_plan_node *pn, eml_tensor *in, eml_tensor *out,
                         const scope *me, eml_pool *pool, eml_diag *diag)
{
    eml_env *env = me->plan->env;
    if (in[0].dtype != EML_DTYPE_BOOL || eml_tensor_count(&in[0]) != 1) {
        eml__diag_where(diag, NULL, pn->node->name, "If", pn->node->opset, -1);
        return eml__diag(diag, EML_ETYPE, "If at node '%s': cond must be one bool",
                         pn->node->name);
    }
    const eml_plan *sub = pn->branches[*(const bool *)in[0].data ? 0 : 1];
    const eml_graph *sg = sub->graph;
    eml_status st = EML_OK;
    size_t nv = EML_MAX(sg->n_values, 1);
    eml_tensor *values = eml__calloc(env, nv, sizeof(eml_tensor));
    bool *owned = eml__calloc(env, nv, sizeof(bool));
    if (!values || !owned) {
        st = EML_ENOMEM;
        goto fail;
    }
    EML_TRY(run_plan(sub, values, owned, me, pool, NULL, diag));
    if ((int32_t)sg->n_outputs != pn->node->n_outputs) {
        st = eml__diag(diag, EML_EGRAPH, "If at node '%s': branch has %zu outputs, node has %d",
                       pn->node->name, sg->n_outputs, (int)pn->node->n_outputs);
        goto fail;
    }
    for (int32_t k = 0; k < pn->node->n_outputs; k++) {
        const eml_tensor *src = &values[sg->outputs[k]];
        out[k] = *src;
        size_t bytes = eml_tensor_bytes(src);
        out[k].data = eml__alloc(env, bytes ? bytes : 1);
        if (!out[k].data) {
            st = EML_ENOMEM;
            goto fail;
        }
        if (bytes)
            memcpy(out[k].data, src->data, bytes);
    }
fail:
    for (size_t v = 0; owned && v < sg->n_values; v++) {
        if (owned[v])
            eml__free(env, values[v].data);
    }
    eml__free(env, values);
    eml__free(env, owned);
    return st;
}

static eml_status run_node(const eml_plan *p, const eml_plan_node *pn, eml_tensor *in,
                           eml_tensor *out, const scope *me, eml_pool *pool, uint64_t *macs,
                           eml_diag *diag)
{
    eml_env *env = p->env;
    const eml_node *node = pn->node;
    if (node->op == EML_OP_If)
        return run_if(pn, in, out, me, pool, diag);
    eml_infer_ctx ic;
    eml__infer_ctx_init(&ic, pn, in, out, diag);
    eml_status st = pn->info->infer(&ic);
    if (st == EML_EDYNAMIC) {
        eml__diag_where(diag, NULL, node->name, node->op_type, node->opset, -1);
        return eml__diag(diag, EML_EINTERNAL, "%s at node '%s': shape unknown with all data",
                         node->op_type, node->name);
    }
    if (st != EML_OK)
        return st;
    if (macs)
        *macs = ic.macs;
    for (int32_t k = 0; k < node->n_outputs; k++) {
        if (node->outputs[k] < 0 && out[k].dtype == EML_DTYPE_UNDEFINED)
            continue;
        EML_TRY(eml__check_output_size(p, pn, &out[k], diag));
        size_t bytes = eml_tensor_bytes(&out[k]);
        out[k].data = eml__calloc(env, 1, bytes ? bytes : 1);
        if (!out[k].data)
            return EML_ENOMEM;
    }
    size_t scratch_bytes = eml__node_scratch(pn, ic.scratch_bytes, in, out);
    void *scratch = NULL;
    if (scratch_bytes) {
        scratch = eml__alloc(env, scratch_bytes);
        if (!scratch)
            return EML_ENOMEM;
    }
    eml_kernel_ctx kc = {NULL, in, node->n_inputs, out, node->n_outputs,
                         scratch, scratch_bytes, pool, diag};
    st = eml__node_run(pn, &kc);
    eml__free(env, scratch);
    if (st != EML_OK)
        eml__diag_where(diag, NULL, node->name, node->op_type, node->opset, -1);
fail:
    return st;
}

static eml_status run_plan(const eml_plan *p, eml_tensor *values, bool *owned,
                           const scope *parent, eml_pool *pool, eml_prof *prof, eml_diag *diag)
{
    eml_env *env = p->env;
    scope me = {p, values, parent};
    eml_status st = bind_outer_and_constants(p, values, parent, diag);
    /* profiled: one clock read per node boundary; a node's time here includes its shape
     * inference and the allocation and release of its buffers */
    uint64_t t_prev = prof ? eml__prof_now_ns() : 0;
    for (size_t i = 0; i < p->n_nodes && st == EML_OK; i++) {
        const eml_plan_node *pn = &p->nodes[i];
        const eml_node *node = pn->node;
        size_t n = (size_t)node->n_inputs + (size_t)node->n_outputs;
        eml_tensor *views = eml__calloc(env, EML_MAX(n, 1), sizeof(eml_tensor));
        if (!views)
            return EML_ENOMEM;
        eml_tensor *in = views, *out = views + node->n_inputs;
        for (int32_t k = 0; k < node->n_inputs; k++) {
            int32_t v = node->inputs[k];
            if (v >= 0)
                in[k] = values[v];
        }
        st = run_node(p, pn, in, out, &me, pool, prof ? &prof->macs[i] : NULL, diag);
        for (int32_t k = 0; k < node->n_outputs; k++) {
            int32_t v = node->outputs[k];
            if (v >= 0 && out[k].data) {
                values[v] = out[k];
                owned[v] = true;
            } else {
                eml__free(env, out[k].data);
            }
        }
        eml__free(env, views);
        /* free what no later node (or output) reads */
        for (int32_t k = 0; k < node->n_inputs && st == EML_OK; k++) {
            int32_t v = node->inputs[k];
            if (v >= 0 && p->last_use[v] == (int32_t)i)
                release(env, values, owned, v);
        }
        for (int32_t k = 0; k < pn->n_implicit && st == EML_OK; k++) {
            int32_t v = pn->implicit[k];
            if (p->last_use[v] == (int32_t)i)
                release(env, values, owned, v);
        }
        if (prof) {
            uint64_t t = eml__prof_now_ns();
            prof->ns[i] += t - t_prev;
            prof->runs[i]++;
            t_prev = t;
        }
    }
    return st;
}

eml_status eml__run_dynamic(const eml_plan *plan, eml_tensor *values, bool *owned,
                            eml_pool *pool, eml_prof *prof, eml_diag *diag)
{
    return run_plan(plan, values, owned, NULL, pool, prof, diag);
}
