/* Top-1 and top-5 accuracy of a classifier on a labelled data set. */
#include "edgeml/runtime.h"
#include "optimize/optimize.h"

#define DEFAULT_BATCH 500

void eml_eval_options_init(eml_eval_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = (uint32_t)sizeof(*opts);
}

static bool label_at(const eml_tensor *labels, int64_t i, int64_t *out)
{
    switch (labels->dtype) {
    case EML_DTYPE_U8:
        *out = ((const uint8_t *)labels->data)[i];
        return true;
    case EML_DTYPE_I8:
        *out = ((const int8_t *)labels->data)[i];
        return true;
    case EML_DTYPE_U16:
        *out = ((const uint16_t *)labels->data)[i];
        return true;
    case EML_DTYPE_I16:
        *out = ((const int16_t *)labels->data)[i];
        return true;
    case EML_DTYPE_I32:
        *out = ((const int32_t *)labels->data)[i];
        return true;
    case EML_DTYPE_I64:
        *out = ((const int64_t *)labels->data)[i];
        return true;
    default:
        return false;
    }
}

eml_status eml_eval_classifier(const eml_graph *graph, const eml_tensor *data,
                               const eml_tensor *labels, const eml_eval_options *opts,
                               eml_eval_result *result, int32_t *predictions, eml_diag *diag)
{
    if (!graph || !result)
        return eml__diag(diag, EML_EINVAL, "eval: no graph or result");
    memset(result, 0, sizeof(*result));
    result->top5_pct = -1;
    eml_eval_options o;
    eml_eval_options_init(&o);
    if (opts)
        memcpy(&o, opts, EML_MIN(sizeof(o), opts->struct_size ? opts->struct_size : sizeof(o)));
    eml_status st = eml__check_data(graph, data, "evaluation data", diag);
    if (st != EML_OK)
        return st;
    int64_t n = data->dims[0];
    int64_t dummy;
    if (!labels || !labels->data)
        return eml__diag(diag, EML_EINVAL, "eval: no labels given");
    if (!label_at(labels, 0, &dummy))
        return eml__diag(diag, EML_ETYPE, "labels are %s: integer labels expected",
                         eml_dtype_name(labels->dtype));
    if (eml_tensor_count(labels) != n || labels->dims[0] != n)
        return eml__diag(diag, EML_ESHAPE, "%lld labels for %lld samples",
                         (long long)eml_tensor_count(labels), (long long)n);
    if (o.limit && (int64_t)o.limit < n)
        n = o.limit;
    eml_env *env = graph->env;
    const eml_value *in = &graph->values[graph->inputs[0]];
    int64_t per = eml_tensor_count(data) / data->dims[0];
    bool fixed = in->dims[0] > 0;
    int64_t b = fixed ? in->dims[0] : (o.batch ? o.batch : DEFAULT_BATCH);
    eml_plan *plan = NULL;
    eml_session *session = NULL;
    eml_tensor *inputs = eml__calloc(env, EML_MAX(graph->n_inputs, 1), sizeof(eml_tensor));
    float *pad = NULL;
    if (!inputs)
        return EML_ENOMEM;
    EML_TRY(eml_plan_create(graph, &plan, diag));
    EML_TRY(eml_session_create(plan, NULL, &session, diag));
    for (int64_t start = 0; start < n; start += b) {
        int64_t count = EML_MIN(b, n - start);
        eml_tensor *x = &inputs[0];
        x->dtype = EML_DTYPE_F32;
        x->rank = in->rank;
        x->dims[0] = fixed ? b : count;
        for (int d = 1; d < in->rank; d++)
            x->dims[d] = in->dims[d];
        x->data = (float *)data->data + start * per;
        if (fixed && count < b) {
            /* the model takes whole batches: the last one is padded with zeros */
            pad = eml__calloc(env, (size_t)(b * per), sizeof(float));
            if (!pad) {
                st = EML_ENOMEM;
                goto fail;
            }
            memcpy(pad, x->data, (size_t)(count * per) * sizeof(float));
            x->data = pad;
        }
        EML_TRY(eml_session_run(session, inputs, graph->n_inputs, diag));
        eml_tensor out;
        EML_TRY(eml_session_output(session, 0, &out));
        if (out.dtype != EML_DTYPE_F32 || out.rank < 2 || out.dims[0] != x->dims[0]) {
            char s[128];
            eml__shape_str(s, sizeof(s), out.dtype, out.dims, out.rank);
            st = eml__diag(diag, EML_ESHAPE,
                           "eval: output 0 is %s; a classifier gives float32 [batch, classes]", s);
            goto fail;
        }
        int64_t classes = eml_tensor_count(&out) / out.dims[0];
        result->n_classes = (uint32_t)classes;
        const float *scores = out.data;
        for (int64_t i = 0; i < count; i++) {
            const float *row = scores + i * classes;
            int64_t best = 0, label = -1; /* set by label_at: the dtype was checked above */
            for (int64_t c = 1; c < classes; c++)
                best = row[c] > row[best] ? c : best;
            label_at(labels, start + i, &label);
            if (predictions)
                predictions[start + i] = (int32_t)best;
            result->top1 += best == label;
            if (label >= 0 && label < classes) {
                int64_t above = 0;
                for (int64_t c = 0; c < classes; c++)
                    above += row[c] > row[label];
                result->top5 += above < 5;
            }
        }
        result->count += (uint64_t)count;
    }
    result->top1_pct = result->count ? 100.0 * (double)result->top1 / (double)result->count : 0;
    if (result->n_classes > 5)
        result->top5_pct = 100.0 * (double)result->top5 / (double)result->count;
fail:
    eml_session_destroy(session);
    eml_plan_destroy(plan);
    eml__free(env, inputs);
    eml__free(env, pad);
    return st;
}
