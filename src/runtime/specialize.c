/* Specializing a plan to concrete input shapes: infer every shape, fold what is constant (Constant
 * nodes, shape arithmetic), and place the remaining activations and scratch in one arena. */
#include <stdio.h>

#include "graph/memory_plan.h"
#include "runtime/plan.h"

void eml__spec_deinit(eml_spec *s)
{
    const eml_plan *p = s->plan;
    if (!p)
        return;
    eml_env *env = p->env;
    for (size_t v = 0; s->owned && v < p->graph->n_values; v++)
        eml__free(env, s->owned[v]);
    eml__free(env, s->owned);
    eml__free(env, s->values);
    eml__free(env, s->kinds);
    eml__free(env, s->offsets);
    eml__free(env, s->folded);
    eml__free(env, s->scratch_offset);
    eml__free(env, s->scratch_bytes);
    if (s->node_inputs)
        eml__free(env, s->node_inputs[0]);
    eml__free(env, s->node_inputs);
    eml__free(env, s->node_outputs);
    eml__free(env, s->slot_offsets);
    eml__free(env, s->out_base);
    eml__free(env, s->node_macs);
    memset(s, 0, sizeof(*s));
}

static eml_status spec_alloc(eml_spec *s, const eml_plan *p)
{
    eml_env *env = p->env;
    size_t nv = EML_MAX(p->graph->n_values, 1), nn = EML_MAX(p->n_nodes, 1);
    memset(s, 0, sizeof(*s));
    s->plan = p;
    s->values = eml__calloc(env, nv, sizeof(eml_tensor));
    s->kinds = eml__calloc(env, nv, 1);
    s->offsets = eml__calloc(env, nv, sizeof(uint64_t));
    s->owned = eml__calloc(env, nv, sizeof(void *));
    s->folded = eml__calloc(env, nn, sizeof(bool));
    s->scratch_offset = eml__calloc(env, nn, sizeof(uint64_t));
    s->scratch_bytes = eml__calloc(env, nn, sizeof(uint64_t));
    s->node_inputs = eml__calloc(env, nn, sizeof(eml_tensor *));
    s->node_outputs = eml__calloc(env, nn, sizeof(eml_tensor *));
    s->node_macs = eml__calloc(env, nn, sizeof(uint64_t));
    if (!s->values || !s->kinds || !s->offsets || !s->owned || !s->folded || !s->scratch_offset ||
        !s->scratch_bytes || !s->node_inputs || !s->node_outputs || !s->node_macs)
        return EML_ENOMEM;
    /* one block of tensor views for every node's inputs and outputs */
    size_t total = 1;
    for (size_t i = 0; i < p->n_nodes; i++)
        total += (size_t)p->nodes[i].node->n_inputs + (size_t)p->nodes[i].node->n_outputs;
    eml_tensor *views = eml__calloc(env, total, sizeof(eml_tensor));
    s->slot_offsets = eml__calloc(env, total, sizeof(uint64_t));
    s->out_base = eml__calloc(env, nn, sizeof(size_t));
    if (!views || !s->slot_offsets || !s->out_base) {
        eml__free(env, views);
        return EML_ENOMEM;
    }
    eml_tensor *first = views;
    for (size_t i = 0; i < p->n_nodes; i++) {
        s->node_inputs[i] = views;
        views += p->nodes[i].node->n_inputs;
        s->node_outputs[i] = views;
        s->out_base[i] = (size_t)(views - first);
        views += p->nodes[i].node->n_outputs;
    }
    if (p->n_nodes == 0)
        s->node_inputs[0] = views;
    return EML_OK;
}

static eml_status bind_inputs(eml_spec *s, const eml_tensor *inputs, eml_diag *diag)
{
    const eml_graph *g = s->plan->graph;
    for (size_t v = 0; v < g->n_values; v++) {
        const eml_value *val = &g->values[v];
        if (!(val->flags & EML_VALUE_INITIALIZER))
            continue;
        eml_tensor *t = &s->values[v];
        t->dtype = val->dtype;
        t->rank = val->rank;
        memcpy(t->dims, val->dims, sizeof(t->dims));
        t->data = val->data;
        s->kinds[v] = EML_KIND_CONST;
    }
    for (size_t i = 0; i < g->n_inputs; i++) {
        int32_t v = g->inputs[i];
        if (inputs[i].dtype == EML_DTYPE_UNDEFINED) {
            if (g->values[v].flags & EML_VALUE_INITIALIZER)
                continue;
            return eml__diag(diag, EML_EINVAL, "input '%s' was not given and has no default",
                             g->values[v].name);
        }
        s->values[v] = inputs[i];
        s->values[v].data = NULL;
        s->kinds[v] = EML_KIND_INPUT;
    }
    return EML_OK;
}

eml_status eml__check_output_size(const eml_plan *p, const eml_plan_node *pn, const eml_tensor *t,
                             eml_diag *diag)
{
    int64_t count = eml_tensor_count(t);
    char buf[160];
    if (count < 0 || !eml_dtype_is_supported(t->dtype)) {
        eml__diag_where(diag, NULL, pn->node->name, pn->node->op_type, pn->node->opset, -1);
        return eml__diag(diag, EML_ESHAPE, "%s at node '%s': invalid output %s",
                         pn->node->op_type, pn->node->name,
                         eml__shape_str(buf, sizeof(buf), t->dtype, t->dims, t->rank));
    }
    uint64_t bytes;
    if (eml__mul_overflow((uint64_t)count, eml_dtype_size(t->dtype), &bytes) ||
        bytes > p->env->max_alloc_bytes) {
        eml__diag_where(diag, NULL, pn->node->name, pn->node->op_type, pn->node->opset, -1);
        return eml__diag(diag, EML_ELIMIT,
                         "%s at node '%s': output %s is over the allocation limit of %llu bytes",
                         pn->node->op_type, pn->node->name,
                         eml__shape_str(buf, sizeof(buf), t->dtype, t->dims, t->rank),
                         (unsigned long long)p->env->max_alloc_bytes);
    }
    return EML_OK;
}

/* Runs a node whose inputs are all known, once, into buffers the spec owns. */
static eml_status fold_node(eml_spec *s, const eml_plan_node *pn, size_t scratch_bytes,
                            eml_pool *pool, eml_diag *diag)
{
    eml_env *env = s->plan->env;
    const eml_node *node = pn->node;
    eml_tensor *in = s->node_inputs[pn->index];
    eml_tensor *out = s->node_outputs[pn->index];
    void *omitted[8] = {0};
    eml_status st = EML_OK;
    void *scratch = NULL;
    for (int32_t k = 0; k < node->n_outputs; k++) {
        size_t bytes = eml_tensor_bytes(&out[k]);
        void *buf = eml__calloc(env, 1, bytes ? bytes : 1);
        if (!buf) {
            st = EML_ENOMEM;
            goto fail;
        }
        out[k].data = buf;
        int32_t v = node->outputs[k];
        if (v >= 0)
            s->owned[v] = buf;
        else if (k < 8)
            omitted[k] = buf;
        else
            eml__free(env, buf); /* never more than 8 optional outputs in ops.def */
    }
    if (scratch_bytes) {
        scratch = eml__alloc(env, scratch_bytes);
        if (!scratch) {
            st = EML_ENOMEM;
            goto fail;
        }
    }
    eml_kernel_ctx kc = {NULL, in, node->n_inputs, out, node->n_outputs,
                         scratch, scratch_bytes, pool, diag};
    st = eml__node_run(pn, &kc);
    if (st != EML_OK)
        eml__diag_where(diag, NULL, node->name, node->op_type, node->opset, -1);
fail:
    eml__free(env, scratch);
    for (int k = 0; k < 8; k++)
        eml__free(env, omitted[k]);
    for (int32_t k = 0; k < node->n_outputs; k++) {
        int32_t v = node->outputs[k];
        if (v >= 0) {
            s->values[v].data = s->owned[v];
            s->kinds[v] = EML_KIND_CONST;
        }
    }
    return st;
}

static bool inputs_known(const eml_spec *s, const eml_plan_node *pn)
{
    for (int32_t k = 0; k < pn->node->n_inputs; k++) {
        int32_t v = pn->node->inputs[k];
        if (v < 0)
            continue;
        if (s->kinds[v] != EML_KIND_CONST)
            return false;
    }
    return pn->n_implicit == 0;
}

/* Infers shapes node by node, folding constant nodes. Stops with is_static false at the first
 * shape that needs data. */
static eml_status infer_all(eml_spec *s, eml_pool *pool, eml_diag *diag)
{
    const eml_plan *p = s->plan;
    s->is_static = true;
    for (size_t i = 0; i < p->n_nodes; i++) {
        const eml_plan_node *pn = &p->nodes[i];
        const eml_node *node = pn->node;
        eml_tensor *in = s->node_inputs[i];
        eml_tensor *out = s->node_outputs[i];
        for (int32_t k = 0; k < node->n_inputs; k++) {
            int32_t v = node->inputs[k];
            if (v < 0) {
                memset(&in[k], 0, sizeof(in[k]));
                continue;
            }
            if (s->kinds[v] == EML_KIND_NONE) {
                eml__diag_where(diag, NULL, node->name, node->op_type, node->opset, -1);
                return eml__diag(diag, EML_EGRAPH, "%s at node '%s': input '%s' has no value",
                                 node->op_type, node->name, p->graph->values[v].name);
            }
            in[k] = s->values[v];
        }
        memset(out, 0, sizeof(eml_tensor) * (size_t)node->n_outputs);
        eml_infer_ctx ic;
        eml__infer_ctx_init(&ic, pn, in, out, diag);
        eml_status st = pn->info->infer(&ic);
        if (st == EML_EDYNAMIC || !pn->info->kernel) {
            s->is_static = false;
            return EML_OK;
        }
        if (st != EML_OK)
            return st;
        s->macs += ic.macs;
        s->node_macs[i] = ic.macs;
        for (int32_t k = 0; k < node->n_outputs; k++) {
            if (node->outputs[k] < 0 && out[k].dtype == EML_DTYPE_UNDEFINED)
                continue;
            st = eml__check_output_size(p, pn, &out[k], diag);
            if (st != EML_OK)
                return st;
            if (node->outputs[k] >= 0)
                s->values[node->outputs[k]] = out[k];
        }
        size_t scratch = eml__node_scratch(pn, ic.scratch_bytes, in, out);
        bool shape_only = eml__op_shape_only(node->op);
        if (shape_only || inputs_known(s, pn)) {
            st = fold_node(s, pn, scratch, pool, diag);
            if (st != EML_OK)
                return st;
            s->folded[i] = true;
            continue;
        }
        s->scratch_bytes[i] = scratch;
        for (int32_t k = 0; k < node->n_outputs; k++) {
            if (node->outputs[k] >= 0)
                s->kinds[node->outputs[k]] = EML_KIND_ARENA;
        }
    }
    return EML_OK;
}

/* Whether output 0 of node i may take the buffer of its input k: an in-place elementwise op whose
 * input k has the output's size, is read by nothing later (through any view of its buffer), and
 * shares no buffer with the node's other inputs, whose elements sit at other positions. */
static bool can_write_over(const eml_spec *s, size_t i, int32_t k, const int32_t *root,
                           const int32_t *last)
{
    const eml_node *node = s->plan->nodes[i].node;
    int32_t in = node->inputs[k], out = node->outputs[0];
    if (in < 0 || s->kinds[in] != EML_KIND_ARENA || last[root[in]] != (int32_t)i ||
        s->values[in].dtype != s->values[out].dtype ||
        eml_tensor_bytes(&s->values[in]) != eml_tensor_bytes(&s->values[out]) ||
        s->values[in].rank != s->values[out].rank)
        return false;
    for (int32_t d = 0; d < s->values[in].rank; d++) {
        if (s->values[in].dims[d] != s->values[out].dims[d])
            return false;
    }
    for (int32_t j = 0; j < node->n_inputs; j++) {
        int32_t o = node->inputs[j];
        if (o >= 0 && o != in && s->kinds[o] == EML_KIND_ARENA && root[o] == root[in])
            return false;
    }
    return true;
}

/* Buffer sharing, in execution order. View ops (Reshape, Flatten, Squeeze, Unsqueeze, Identity)
 * give their output the input's bytes; in-place elementwise ops write over an input that dies
 * with them. root[v] is the value whose buffer v shares, and that buffer lives until the last use
 * of any value sharing it. Only arena values chain: inputs and constants are never written. A
 * value read later is already counted in last[] (its last use is known before the walk), so a
 * decision at step i never overlooks a later reader. */
static void share_buffers(const eml_spec *s, int32_t *root, int32_t *last)
{
    const eml_plan *p = s->plan;
    for (size_t v = 0; v < p->graph->n_values; v++) {
        root[v] = (int32_t)v;
        last[v] = p->last_use[v];
    }
    for (size_t i = 0; i < p->n_nodes; i++) {
        const eml_node *node = p->nodes[i].node;
        if (s->folded[i] || node->n_inputs < 1 || node->n_outputs < 1 || node->outputs[0] < 0 ||
            s->kinds[node->outputs[0]] != EML_KIND_ARENA)
            continue;
        int32_t out = node->outputs[0], from = -1;
        if (eml__op_is_view(node->op)) {
            int32_t in = node->inputs[0];
            if (in >= 0 && s->kinds[in] == EML_KIND_ARENA &&
                eml_tensor_bytes(&s->values[in]) == eml_tensor_bytes(&s->values[out]))
                from = in;
        } else if (eml__op_in_place(node->op) && node->n_outputs == 1) {
            for (int32_t k = 0; k < node->n_inputs && from < 0; k++) {
                if (can_write_over(s, i, k, root, last))
                    from = node->inputs[k];
            }
        }
        if (from < 0)
            continue;
        root[out] = root[from];
        last[root[from]] = EML_MAX(last[root[from]], p->last_use[out]);
    }
}

/* Places every arena value, omitted output and scratch block by liveness. */
static eml_status plan_memory(eml_spec *s)
{
    const eml_plan *p = s->plan;
    eml_env *env = p->env;
    size_t nv = EML_MAX(p->graph->n_values, 1);
    size_t n = 0, cap = p->graph->n_values + 2 * p->n_nodes + 1;
    for (size_t i = 0; i < p->n_nodes; i++)
        cap += (size_t)p->nodes[i].node->n_outputs;
    eml_buffer_req *reqs = eml__calloc(env, cap, sizeof(eml_buffer_req));
    int64_t *who = eml__calloc(env, cap, sizeof(int64_t)); /* >= 0 value, else -(slot + 1) */
    int32_t *root = eml__calloc(env, nv, sizeof(int32_t));
    int32_t *last = eml__calloc(env, nv, sizeof(int32_t));
    eml_status st = EML_ENOMEM;
    if (!reqs || !who || !root || !last)
        goto done;
    share_buffers(s, root, last);
    uint64_t view_bytes = 0;
    for (size_t i = 0; i < p->n_nodes; i++) {
        if (s->folded[i])
            continue;
        const eml_node *node = p->nodes[i].node;
        for (int32_t k = 0; k < node->n_outputs; k++) {
            int32_t v = node->outputs[k];
            const eml_tensor *t = v >= 0 ? &s->values[v] : &s->node_outputs[i][k];
            if (v < 0 && t->dtype == EML_DTYPE_UNDEFINED)
                continue;
            if (v >= 0 && root[v] != v) {
                view_bytes += (eml_tensor_bytes(t) + EML_ALIGN - 1) / EML_ALIGN * EML_ALIGN;
                continue;
            }
            int32_t end = v >= 0 ? last[v] : (int32_t)i;
            reqs[n] = (eml_buffer_req){eml_tensor_bytes(t), (int32_t)i, EML_MAX(end, (int32_t)i),
                                       0};
            who[n++] = v >= 0 ? v : -(int64_t)(s->out_base[i] + (size_t)k) - 1;
        }
        if (s->scratch_bytes[i]) {
            reqs[n] = (eml_buffer_req){s->scratch_bytes[i], (int32_t)i, (int32_t)i, 0};
            who[n++] = INT64_MIN;
            s->scratch_offset[i] = n - 1; /* index of the req until placed */
        }
    }
    st = eml__memory_plan(env, reqs, n, &s->arena_bytes, &s->activations_bytes);
    if (st != EML_OK)
        goto done;
    /* the plain sum counts every activation, shared buffers included, as a runtime without planning
     * would */
    s->activations_bytes += view_bytes;
    for (size_t r = 0; r < n; r++) {
        if (who[r] >= 0)
            s->offsets[who[r]] = reqs[r].offset;
        else if (who[r] != INT64_MIN)
            s->slot_offsets[-who[r] - 1] = reqs[r].offset;
    }
    for (size_t v = 0; v < p->graph->n_values; v++) {
        if (s->kinds[v] == EML_KIND_ARENA)
            s->offsets[v] = s->offsets[root[v]];
    }
    for (size_t i = 0; i < p->n_nodes; i++) {
        if (!s->folded[i] && s->scratch_bytes[i])
            s->scratch_offset[i] = reqs[s->scratch_offset[i]].offset;
    }
done:
    eml__free(env, reqs);
    eml__free(env, who);
    eml__free(env, root);
    eml__free(env, last);
    return st;
}

eml_status eml__spec_build(const eml_plan *plan, const eml_tensor *inputs, eml_pool *pool,
                           eml_spec *spec, eml_diag *diag)
{
    eml_status st = EML_OK;
    EML_TRY(spec_alloc(spec, plan));
    EML_TRY(bind_inputs(spec, inputs, diag));
    EML_TRY(infer_all(spec, pool, diag));
    if (spec->is_static)
        EML_TRY(plan_memory(spec));
    return EML_OK;
fail:
    eml__spec_deinit(spec);
    return st;
}
