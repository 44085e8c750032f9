/* Running a data set through a graph in batches while watching chosen inner values: they are
 * made graph outputs for the time of the runs, so that the runtime keeps them. */
#include "edgeml/runtime.h"
#include "optimize/optimize.h"

/* Samples per run when the first input's dim 0 is dynamic. */
#define DEFAULT_BATCH 100

/* Values per sample of the first input (dims after dim 0), or -1 when one is dynamic. */
static int64_t sample_count(const eml_value *in)
{
    int64_t n = 1;
    for (int d = 1; d < in->rank; d++) {
        if (in->dims[d] < 0)
            return -1;
        n *= in->dims[d];
    }
    return n;
}

eml_status eml__check_data(const eml_graph *g, const eml_tensor *data, const char *what,
                           eml_diag *diag)
{
    if (!data || !data->data)
        return eml__diag(diag, EML_EINVAL, "no %s given", what);
    if (g->n_inputs == 0)
        return eml__diag(diag, EML_EINVAL, "the model has no input to feed %s to", what);
    const eml_value *in = &g->values[g->inputs[0]];
    char s1[128], s2[128];
    eml__shape_str(s1, sizeof(s1), data->dtype, data->dims, data->rank);
    eml__shape_str(s2, sizeof(s2), in->dtype, in->dims, in->rank > 0 ? in->rank : 0);
    if (data->rank < 1 || data->dims[0] <= 0)
        return eml__diag(diag, data->rank < 1 ? EML_ESHAPE : EML_EINVAL,
                         "%s %s is empty: it needs at least one sample", what, s1);
    if (data->dtype != EML_DTYPE_F32)
        return eml__diag(diag, EML_ETYPE, "%s is %s; input '%s' takes %s", what, s1, in->name, s2);
    if (in->dtype != EML_DTYPE_F32)
        return eml__diag(diag, EML_ETYPE, "input '%s' is %s: only float32 inputs are fed from %s",
                         in->name, s2, what);
    int64_t per = in->rank >= 1 ? sample_count(in) : -1;
    if (per < 0)
        return eml__diag(diag, EML_ESHAPE,
                         "input '%s' is %s: its dims after the first must be static to feed %s",
                         in->name, s2, what);
    int64_t have = eml_tensor_count(data) / data->dims[0];
    if (have != per)
        return eml__diag(diag, EML_ESHAPE,
                         "%s %s does not fit input '%s' %s: %lld values per sample, the input "
                         "takes %lld",
                         what, s1, in->name, s2, (long long)have, (long long)per);
    return EML_OK;
}

eml_status eml__observe(eml_graph *g, const eml_tensor *data, uint32_t batch, uint32_t limit,
                        const int32_t *ids, size_t n_ids, eml_observe_fn fn, void *user,
                        eml_diag *diag)
{
    eml_env *env = g->env;
    eml_status st = eml__check_data(g, data, "data", diag);
    if (st != EML_OK)
        return st;
    const eml_value *in = &g->values[g->inputs[0]];
    int64_t per = sample_count(in);
    int64_t n = data->dims[0];
    if (limit && (int64_t)limit < n)
        n = limit;
    int64_t b = in->dims[0] > 0 ? in->dims[0] : (batch ? batch : DEFAULT_BATCH);
    if (in->dims[0] > 0 && n < b)
        return eml__diag(diag, EML_ESHAPE, "input '%s' takes batches of %lld, only %lld given",
                         in->name, (long long)b, (long long)n);
    size_t n_outputs0 = g->n_outputs;
    uint32_t *flags0 = eml__alloc(env, EML_MAX(n_ids, 1) * sizeof(uint32_t));
    size_t *slot = eml__alloc(env, EML_MAX(n_ids, 1) * sizeof(size_t));
    eml_tensor *views = eml__calloc(env, EML_MAX(n_ids, 1), sizeof(eml_tensor));
    eml_tensor *inputs = eml__calloc(env, EML_MAX(g->n_inputs, 1), sizeof(eml_tensor));
    eml_plan *plan = NULL;
    eml_session *session = NULL;
    size_t saved = 0;
    if (!flags0 || !slot || !views || !inputs) {
        st = EML_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n_ids; i++) {
        flags0[i] = g->values[ids[i]].flags;
        saved = i + 1;
        slot[i] = SIZE_MAX;
        for (size_t o = 0; o < g->n_outputs && slot[i] == SIZE_MAX; o++)
            if (g->outputs[o] == ids[i])
                slot[i] = o;
        if (slot[i] == SIZE_MAX) {
            EML_TRY(eml__graph_add_output(g, ids[i]));
            slot[i] = g->n_outputs - 1;
        }
    }
    EML_TRY(eml_plan_create(g, &plan, diag));
    EML_TRY(eml_session_create(plan, NULL, &session, diag));
    for (int64_t start = 0; start + (in->dims[0] > 0 ? b : 1) <= n; start += b) {
        int64_t count = EML_MIN(b, n - start);
        eml_tensor *x = &inputs[0];
        x->dtype = EML_DTYPE_F32;
        x->rank = in->rank;
        x->dims[0] = count;
        for (int d = 1; d < in->rank; d++)
            x->dims[d] = in->dims[d];
        x->data = (float *)data->data + start * per;
        EML_TRY(eml_session_run(session, inputs, g->n_inputs, diag));
        for (size_t i = 0; i < n_ids; i++)
            EML_TRY(eml_session_output(session, slot[i], &views[i]));
        EML_TRY(fn(user, views, n_ids, (uint64_t)start));
    }
fail:
    eml_session_destroy(session);
    eml_plan_destroy(plan);
    g->n_outputs = n_outputs0;
    for (size_t i = 0; i < saved; i++)
        g->values[ids[i]].flags = flags0[i];
    eml__free(env, flags0);
    eml__free(env, slot);
    eml__free(env, views);
    eml__free(env, inputs);
    return st;
}
