/* Running a static specialization: every shape known, activations at planned arena offsets,
 * nothing allocated. */
#include "runtime/plan.h"

eml_status eml__spec_run(eml_spec *s, void *arena, const eml_tensor *inputs, eml_pool *pool,
                         eml_prof *prof, eml_diag *diag)
{
    const eml_plan *p = s->plan;
    const eml_graph *g = p->graph;
    char *base = arena;
    for (size_t i = 0; i < g->n_inputs; i++) {
        int32_t v = g->inputs[i];
        if (s->kinds[v] == EML_KIND_INPUT)
            s->values[v].data = inputs[i].data;
    }
    for (size_t v = 0; v < g->n_values; v++) {
        if (s->kinds[v] == EML_KIND_ARENA)
            s->values[v].data = base + s->offsets[v];
    }
    /* profiled: one clock read per node boundary; a node's time includes binding its views */
    uint64_t t_prev = prof ? eml__prof_now_ns() : 0;
    for (size_t i = 0; i < p->n_nodes; i++) {
        if (s->folded[i])
            continue;
        const eml_plan_node *pn = &p->nodes[i];
        const eml_node *node = pn->node;
        eml_tensor *in = s->node_inputs[i];
        eml_tensor *out = s->node_outputs[i];
        for (int32_t k = 0; k < node->n_inputs; k++) {
            if (node->inputs[k] >= 0)
                in[k].data = s->values[node->inputs[k]].data;
        }
        for (int32_t k = 0; k < node->n_outputs; k++) {
            int32_t v = node->outputs[k];
            if (v >= 0)
                out[k].data = s->values[v].data;
            else if (out[k].dtype != EML_DTYPE_UNDEFINED)
                out[k].data = base + s->slot_offsets[s->out_base[i] + (size_t)k];
        }
        eml_kernel_ctx kc = {NULL, in, node->n_inputs, out, node->n_outputs,
                             s->scratch_bytes[i] ? base + s->scratch_offset[i] : NULL,
                             s->scratch_bytes[i], pool, diag};
        eml_status st = eml__node_run(pn, &kc);
        if (prof) {
            uint64_t t = eml__prof_now_ns();
            prof->ns[i] += t - t_prev;
            prof->runs[i]++;
            t_prev = t;
        }
        if (st != EML_OK) {
            eml__diag_where(diag, NULL, node->name, node->op_type, node->opset, -1);
            return st;
        }
    }
    return EML_OK;
}
