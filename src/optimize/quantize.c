/* eml_quantize: checks the model and the options, prepares the graph (level-1 passes, opset 13)
 * and runs the rewrite of the asked precision, filling the report. */
#include <math.h>
#include <stdio.h>

#include "graph/passes/passes.h"
#include "optimize/optimize.h"

#define QDQ_OPSET 13

void eml_quantize_options_init(eml_quantize_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = (uint32_t)sizeof(*opts);
    opts->precision = EML_PRECISION_INT8;
    opts->method = EML_CALIB_MINMAX;
    opts->percentile = 99.99f;
    opts->accuracy_budget = 0.5f;
}

void eml_quantize_report_deinit(eml_quantize_report *report)
{
    if (!report || !report->env)
        return;
    eml__free(report->env, report->layers);
    report->layers = NULL;
    report->layer_count = 0;
}

static uint64_t parameter_bytes(const eml_graph *g)
{
    eml_graph_stats s;
    eml_graph_stats_get(g, &s);
    return s.parameter_bytes;
}

/* Ops whose meaning at opset 13 is the same as at every version from `since` on: a model using
 * only these (at those versions) may have its opset import raised to 13 for per-axis QDQ. */
static const struct {
    const char *op;
    int since;
} same_at_13[] = {
    {"Conv", 1},
    {"Relu", 6},
    {"MaxPool", 8},
    {"AveragePool", 7},
    {"GlobalAveragePool", 1},
    {"GlobalMaxPool", 1},
    {"Gemm", 7},
    {"MatMul", 1},
    {"Add", 7},
    {"Sub", 7},
    {"Mul", 7},
    {"Div", 7},
    {"Concat", 4},
    {"Flatten", 1},
    {"Reshape", 5},
    {"Clip", 11},
    {"BatchNormalization", 9},
    {"Identity", 1},
    {"Transpose", 1},
    {"Sigmoid", 6},
    {"Tanh", 6},
    {"LeakyRelu", 6},
    {"Constant", 9},
    {"Shape", 1},
    {"Gather", 1},
    {"Softmax", 13},
    {"Dropout", 12},
    {"Pad", 11},
};

static eml_status raise_opset(eml_graph *g, int *raised, eml_diag *diag)
{
    *raised = 0;
    int64_t opset = eml__graph_opset(g, "");
    if (opset >= QDQ_OPSET)
        return EML_OK;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const eml_node *n = &g->nodes[i];
        if (n->domain && n->domain[0])
            continue;
        bool ok = false;
        for (size_t k = 0; k < sizeof(same_at_13) / sizeof(same_at_13[0]) && !ok; k++)
            ok = strcmp(same_at_13[k].op, n->op_type) == 0 && n->opset >= same_at_13[k].since;
        if (!ok)
            return eml__diag(diag, EML_EUNSUPPORTED,
                             "quantize: the model's opset %lld is below 13, which per-channel "
                             "QDQ needs, and %s (opset %d) at node '%s' changes meaning at 13: "
                             "convert the model to opset 13 first",
                             (long long)opset, n->op_type, (int)n->opset, n->name);
    }
    for (size_t i = 0; i < g->n_opsets; i++)
        if (!g->opsets[i].domain || !g->opsets[i].domain[0] ||
            strcmp(g->opsets[i].domain, "ai.onnx") == 0)
            g->opsets[i].version = QDQ_OPSET;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (!g->nodes[i].domain || !g->nodes[i].domain[0])
            g->nodes[i].opset = QDQ_OPSET;
    *raised = 1;
    return EML_OK;
}

static eml_status check_not_quantized(const eml_graph *g, eml_diag *diag)
{
    static const char *const quantized_ops[] = {
        "QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv",
        "QLinearMatMul",  "MatMulInteger",    "ConvInteger",           NULL};
    for (size_t i = 0; i < g->n_nodes; i++)
        for (size_t k = 0; quantized_ops[k]; k++)
            if (strcmp(g->nodes[i].op_type, quantized_ops[k]) == 0)
                return eml__diag(diag, EML_EINVAL,
                                 "the model is already quantized (node '%s' is %s): quantize "
                                 "the float32 model",
                                 g->nodes[i].name, quantized_ops[k]);
    for (size_t v = 0; v < g->n_values; v++) {
        const eml_value *val = &g->values[v];
        if ((val->flags & EML_VALUE_INITIALIZER) && val->dtype == EML_DTYPE_F16 && val->rank > 0)
            return eml__diag(diag, EML_EINVAL,
                             "the model already stores weights in float16 (initializer '%s'): "
                             "quantize the float32 model",
                             val->name);
    }
    return EML_OK;
}

static eml_status report_layers(const eml_graph *g, const eml_qplan *plan, eml_quantize_report *r,
                                const char *precision)
{
    r->layers = eml__calloc(g->env, EML_MAX(plan->n_layers, 1), sizeof(eml_quantize_layer));
    if (!r->layers)
        return EML_ENOMEM;
    r->layer_count = plan->n_layers;
    for (size_t l = 0; l < plan->n_layers; l++) {
        const eml_node *n = &g->nodes[plan->layers[l].node];
        eml_quantize_layer *q = &r->layers[l];
        snprintf(q->node, sizeof(q->node), "%s", n->name);
        snprintf(q->op, sizeof(q->op), "%s", n->op_type);
        q->precision = precision;
        q->sqnr_db = NAN;
        q->sensitivity = NAN;
    }
    return EML_OK;
}

static eml_status quantize_calibrated(eml_graph *g, const eml_quantize_options *o,
                                      eml_quantize_report *r, eml_diag *diag)
{
    eml_qplan plan;
    eml_graph *ref = NULL;
    eml_status st = eml__check_data(g, o->calib, "calibration data", diag);
    if (st != EML_OK)
        return st;
    EML_TRY(eml__qplan_build(g, &plan, diag));
    EML_TRY(report_layers(g, &plan, r, "int8"));
    EML_TRY(eml__calibrate(g, o, plan.tensors, plan.n_tensors, plan.ranges, diag));
    r->quantized_tensors = plan.n_tensors;
    EML_TRY(eml__graph_clone(g, &ref));
    if (o->precision == EML_PRECISION_MIXED)
        EML_TRY(eml__quantize_mixed(g, &plan, o, r, diag));
    else
        EML_TRY(eml__quantize_static(g, &plan, o->per_tensor, diag));
    EML_TRY(eml__layer_sqnr(ref, g, &plan, o, r, diag));
fail:
    eml_graph_destroy(ref);
    eml__qplan_deinit(g->env, &plan);
    return st;
}

eml_status eml_quantize(eml_graph *g, const eml_quantize_options *opts, eml_quantize_report *report,
                        eml_diag *diag)
{
    eml_quantize_report own;
    eml_quantize_report *r = report ? report : &own;
    memset(r, 0, sizeof(*r));
    r->accuracy_fp32 = NAN;
    r->accuracy_mixed = NAN;
    if (!g)
        return eml__diag(diag, EML_EINVAL, "quantize: no graph");
    r->env = g->env;
    eml_quantize_options o;
    eml_quantize_options_init(&o);
    if (opts)
        memcpy(&o, opts, EML_MIN(sizeof(o), opts->struct_size ? opts->struct_size : sizeof(o)));
    if (o.precision < EML_PRECISION_INT8 || o.precision > EML_PRECISION_MIXED)
        return eml__diag(diag, EML_EINVAL, "quantize: unknown precision %d", (int)o.precision);
    if (o.method > EML_CALIB_ENTROPY)
        return eml__diag(diag, EML_EINVAL, "quantize: unknown calibration method %d",
                         (int)o.method);
    if (!(o.percentile > 50.0f && o.percentile <= 100.0f))
        return eml__diag(diag, EML_EINVAL, "quantize: percentile %g is not in (50, 100]",
                         (double)o.percentile);
    if (!(o.accuracy_budget >= 0.0f))
        return eml__diag(diag, EML_EINVAL, "quantize: accuracy budget %g is negative",
                         (double)o.accuracy_budget);
    bool calibrated = o.precision == EML_PRECISION_INT8 || o.precision == EML_PRECISION_MIXED;
    if (calibrated && (!o.calib || !o.calib->data))
        return eml__diag(diag, EML_EINVAL,
                         "quantize: static INT8 and mixed precision need calibration data");
    eml_status st = check_not_quantized(g, diag);
    if (st != EML_OK)
        return st;
    if (calibrated) {
        st = eml__check_data(g, o.calib, "calibration data", diag);
        if (st == EML_OK && o.eval_data)
            st = eml__check_data(g, o.eval_data, "evaluation data", diag);
        if (st != EML_OK)
            return st;
    }
    r->params_bytes_before = parameter_bytes(g);
    eml_optimize_options oo;
    eml_optimize_options_init(&oo);
    oo.level = 1;
    EML_TRY(eml_graph_optimize(g, &oo, NULL, diag));
    switch (o.precision) {
    case EML_PRECISION_INT8:
    case EML_PRECISION_MIXED:
        EML_TRY(raise_opset(g, &r->opset_upgraded, diag));
        EML_TRY(quantize_calibrated(g, &o, r, diag));
        break;
    case EML_PRECISION_INT8_DYNAMIC: {
        EML_TRY(raise_opset(g, &r->opset_upgraded, diag));
        size_t n = 0;
        EML_TRY(eml__quantize_dynamic(g, o.per_tensor, &n, diag));
        r->layer_count = 0;
        break;
    }
    case EML_PRECISION_FP16:
        EML_TRY(eml__convert_fp16(g, NULL, diag));
        EML_TRY(eml__graph_sort(g, diag));
        break;
    }
    r->params_bytes_after = parameter_bytes(g);
fail:
    if (!report)
        eml_quantize_report_deinit(&own);
    return st;
}
