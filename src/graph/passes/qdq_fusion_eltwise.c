/* qdq-fusion's element-wise and movement patterns: Add → QAdd, MaxPool → QMaxPool,
 * GlobalAveragePool → QGlobalAveragePool, Flatten of uint8 values, and Q(DQ(x)) → x. */
#include "graph/passes/qdq_fusion.h"
#include "kernels/ref/qnhwc.h"

eml_status eml__qf_try_add(eml_qf *f, size_t i)
{
    const eml_node *n = &f->g->nodes[i];
    int32_t aq, bq, ai, qmin, qmax;
    eml_qf_param a, b, y;
    if (n->n_inputs != 2 || n->n_outputs != 1 || !eml__qf_dq_act(f, n->inputs[0], &aq, &a) ||
        !eml__qf_dq_act(f, n->inputs[1], &bq, &b) || !eml__static_same_shape(&f->s, aq, bq) ||
        !eml__static_same_shape(&f->s, n->inputs[0], n->outputs[0]))
        return EML_OK;
    const int32_t qi = eml__qf_tail(f, n->outputs[0], &ai, &y, &qmin, &qmax);
    eml_qadd q;
    if (qi < 0 || !eml__qadd_init((double)a.scale / y.scale, (double)b.scale / y.scale, &q))
        return EML_OK;
    const int32_t inputs[8] = {aq, a.scale_v, a.zp_v, bq, b.scale_v, b.zp_v, y.scale_v, y.zp_v};
    const bool nhwc[8] = {true, false, false, true};
    eml_status st = eml__qf_rewrite(f, i, "QAdd", inputs, nhwc, 8, qi, ai);
    if (st == EML_OK && qmin != 0)
        st = eml__qf_add_int_attr(f->g, i, "qmin", qmin);
    if (st == EML_OK && qmax != 255)
        st = eml__qf_add_int_attr(f->g, i, "qmax", qmax);
    return st;
}

eml_status eml__qf_try_pool(eml_qf *f, size_t i)
{
    const eml_node *n = &f->g->nodes[i];
    int32_t xq;
    eml_qf_param x, y;
    if (n->n_inputs != 1 || n->outputs[0] < 0 || (n->n_outputs > 1 && n->outputs[1] >= 0) ||
        !eml__qf_dq_act(f, n->inputs[0], &xq, &x))
        return EML_OK;
    const int32_t qi = eml__qf_q_reader(f, n->outputs[0], &y);
    if (qi < 0)
        return EML_OK;
    const bool global = n->op == EML_OP_GlobalAveragePool;
    if (global) {
        const int64_t *d = f->s.run[0][xq].dims;
        eml_qrequant rq;
        if (!eml__qrequant_init((double)x.scale / ((double)y.scale * (double)(d[2] * d[3])), &rq))
            return EML_OK;
    } else {
        eml_qadd q;
        if (!eml__qadd_init((double)x.scale / y.scale, 0.0, &q))
            return EML_OK;
    }
    n = &f->g->nodes[i];
    if (!global) {
        /* the pool's attributes are QMaxPool's: refuse what MaxPool's prepare refuses */
        char params[EML_PARAMS_MAX];
        memset(params, 0, sizeof(params));
        eml_prepare_ctx pc = {n, EML_OP_MaxPool, 17, params, NULL};
        if (eml__pool_prepare(&pc) != EML_OK)
            return EML_OK;
    }
    f->g->nodes[i].n_outputs = 1;
    const int32_t inputs[5] = {xq, x.scale_v, x.zp_v, y.scale_v, y.zp_v};
    const bool nhwc[5] = {true};
    return eml__qf_rewrite(f, i, global ? "QGlobalAveragePool" : "QMaxPool", inputs, nhwc, 5, qi,
                           -1);
}

/* DQ ─ Flatten ─ Q with the same parameters only moves uint8 values: the Flatten reads the
 * uint8 input and writes the Q's output. */
eml_status eml__qf_try_flatten(eml_qf *f, size_t i)
{
    eml_graph *g = f->g;
    const eml_node *n = &g->nodes[i];
    int32_t xq;
    eml_qf_param x, y;
    if (n->n_inputs != 1 || n->n_outputs != 1 || n->outputs[0] < 0 ||
        !eml__qf_dq_act(f, n->inputs[0], &xq, &x))
        return EML_OK;
    const int32_t qi = eml__qf_q_reader(f, n->outputs[0], &y);
    if (qi < 0 || x.scale != y.scale || x.zp != y.zp)
        return EML_OK;
    const int32_t old_out = n->outputs[0], q = g->nodes[qi].outputs[0];
    eml_status st = eml__node_set_input(g, &g->nodes[i], 0, xq);
    if (st != EML_OK)
        return st;
    g->nodes[i].outputs[0] = q;
    g->values[q].producer = (int32_t)i;
    g->values[old_out].producer = -1;
    f->dead[qi] = 1;
    f->rewrites++;
    return EML_OK;
}

/* Q(DQ(x)) with the same parameters is x: the Q node becomes an Identity of x, and x's twin
 * serves as its twin. */
eml_status eml__qf_try_cancel(eml_qf *f, size_t i)
{
    const eml_node *n = &f->g->nodes[i];
    int32_t xq;
    eml_qf_param x, y;
    if (n->n_inputs < 2 || n->n_outputs != 1 || !eml__qf_dq_act(f, n->inputs[0], &xq, &x) ||
        !eml__qf_read_qparam(f->g, eml__qf_in(n, 1), eml__qf_in(n, 2), EML_DTYPE_U8, &y) ||
        x.scale != y.scale || x.zp != y.zp || !eml__static_same_shape(&f->s, xq, n->outputs[0]))
        return EML_OK;
    const int32_t out = n->outputs[0];
    f->dead[i] = 1;
    f->rewrites++;
    if (f->twin[xq] >= 0)
        f->twin[out] = f->twin[xq];
    return eml__qf_add_node(f, "Identity", 0, xq, out);
}
