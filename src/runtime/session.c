/* Sessions: check inputs, keep a specialization per input shapes with its arena, run it (or run
 * node by node when shapes depend on data), and hand out outputs. */
#include <stdio.h>

#include "runtime/plan.h"

struct eml_session {
    const eml_plan *plan;
    eml_env *env;
    eml_pool *pool;
    eml_spec spec;
    bool has_spec;
    eml_tensor *spec_shapes;    /* the input shapes the spec was built for */
    void *arena;
    uint64_t arena_bytes;
    /* results of a run node by node */
    eml_tensor *dyn_values;
    bool *dyn_owned;
    bool last_dynamic;
    bool has_run;
    eml_prof prof;              /* per plan node; arrays NULL when profiling is off */
    bool profiling;
};

void eml_session_options_init(eml_session_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = sizeof(*opts);
}

eml_status eml_session_create(const eml_plan *plan, const eml_session_options *opts,
                              eml_session **out, eml_diag *diag)
{
    eml_session_options o;
    eml_session_options_init(&o);
    if (opts) {
        if (opts->struct_size == 0 || opts->struct_size > sizeof(o))
            return eml__diag(diag, EML_EINVAL, "session options: bad struct_size");
        memcpy(&o, opts, opts->struct_size);
    }
    *out = NULL;
    eml_env *env = plan->env;
    eml_session *s = eml__calloc(env, 1, sizeof(*s));
    if (!s)
        return EML_ENOMEM;
    s->plan = plan;
    s->env = env;
    s->pool = o.n_threads == 1 ? NULL : env->pool;
    size_t ni = EML_MAX(plan->graph->n_inputs, 1), nv = EML_MAX(plan->graph->n_values, 1);
    s->spec_shapes = eml__calloc(env, ni, sizeof(eml_tensor));
    s->dyn_values = eml__calloc(env, nv, sizeof(eml_tensor));
    s->dyn_owned = eml__calloc(env, nv, sizeof(bool));
    if (!s->spec_shapes || !s->dyn_values || !s->dyn_owned) {
        eml_session_destroy(s);
        return EML_ENOMEM;
    }
    if (o.profile) {
        size_t nn = EML_MAX(plan->n_nodes, 1);
        s->profiling = true;
        s->prof.ns = eml__calloc(env, nn, sizeof(uint64_t));
        s->prof.runs = eml__calloc(env, nn, sizeof(uint64_t));
        s->prof.macs = eml__calloc(env, nn, sizeof(uint64_t));
        if (!s->prof.ns || !s->prof.runs || !s->prof.macs) {
            eml_session_destroy(s);
            return EML_ENOMEM;
        }
    }
    *out = s;
    return EML_OK;
}

static void free_dynamic(eml_session *s)
{
    size_t nv = s->plan->graph->n_values;
    for (size_t v = 0; v < nv; v++) {
        if (s->dyn_owned[v])
            eml__free(s->env, s->dyn_values[v].data);
        s->dyn_owned[v] = false;
    }
    memset(s->dyn_values, 0, sizeof(eml_tensor) * EML_MAX(nv, 1));
}

void eml_session_destroy(eml_session *s)
{
    if (!s)
        return;
    if (s->dyn_values && s->dyn_owned)
        free_dynamic(s);
    if (s->has_spec)
        eml__spec_deinit(&s->spec);
    eml__free(s->env, s->arena);
    eml__free(s->env, s->spec_shapes);
    eml__free(s->env, s->dyn_values);
    eml__free(s->env, s->dyn_owned);
    eml__free(s->env, s->prof.ns);
    eml__free(s->env, s->prof.runs);
    eml__free(s->env, s->prof.macs);
    eml__free(s->env, s);
}

static eml_status check_input(const eml_session *s, size_t i, const eml_tensor *t,
                              eml_diag *diag)
{
    const eml_value *v = &s->plan->graph->values[s->plan->graph->inputs[i]];
    char want[200], got[200];
    bool ok = t->rank >= 0 && t->rank <= EML_MAX_RANK && eml_dtype_is_supported(t->dtype);
    if (ok && v->dtype != EML_DTYPE_UNDEFINED && v->dtype != t->dtype)
        ok = false;
    /* the declared shape binds only inputs that some node reads */
    bool read = s->plan->last_use[s->plan->graph->inputs[i]] >= 0;
    if (ok && read && v->rank >= 0 && v->rank != t->rank)
        ok = false;
    for (int d = 0; ok && d < t->rank; d++) {
        if (t->dims[d] < 0 ||
            (read && v->rank >= 0 && v->dims[d] >= 0 && v->dims[d] != t->dims[d]))
            ok = false;
    }
    if (!ok) {
        bool type_only = v->dtype != EML_DTYPE_UNDEFINED && v->dtype != t->dtype;
        int rank = v->rank < 0 ? 0 : v->rank;
        eml__shape_str(want, sizeof(want), v->dtype, v->dims, rank);
        eml__shape_str(got, sizeof(got), t->dtype, t->dims,
                       t->rank < 0 || t->rank > EML_MAX_RANK ? 0 : t->rank);
        return eml__diag(diag, type_only ? EML_ETYPE : EML_ESHAPE,
                         "input '%s': expected %s%s, got %s", v->name, want,
                         v->rank < 0 ? " (any shape)" : "", got);
    }
    int64_t count = eml_tensor_count(t);
    uint64_t bytes;
    if (count < 0 || eml__mul_overflow((uint64_t)count, eml_dtype_size(t->dtype), &bytes) ||
        bytes > s->env->max_alloc_bytes)
        return eml__diag(diag, EML_ELIMIT, "input '%s': too large", v->name);
    if (count > 0 && !t->data)
        return eml__diag(diag, EML_EINVAL, "input '%s': no data", v->name);
    return EML_OK;
}

static bool same_shapes(const eml_session *s, const eml_tensor *shapes)
{
    for (size_t i = 0; i < s->plan->graph->n_inputs; i++) {
        const eml_tensor *a = &s->spec_shapes[i], *b = &shapes[i];
        if (a->dtype != b->dtype || a->rank != b->rank)
            return false;
        for (int d = 0; d < a->rank; d++) {
            if (a->dims[d] != b->dims[d])
                return false;
        }
    }
    return true;
}

static eml_status respecialize(eml_session *s, const eml_tensor *shapes, eml_diag *diag)
{
    if (s->has_spec)
        eml__spec_deinit(&s->spec);
    s->has_spec = false;
    eml_status st = eml__spec_build(s->plan, shapes, s->pool, &s->spec, diag);
    if (st != EML_OK)
        return st;
    s->has_spec = true;
    memcpy(s->spec_shapes, shapes, sizeof(eml_tensor) * s->plan->graph->n_inputs);
    if (s->spec.is_static && s->spec.arena_bytes > s->arena_bytes) {
        eml__free(s->env, s->arena);
        s->arena_bytes = 0;
        s->arena = eml__alloc(s->env, s->spec.arena_bytes);
        if (!s->arena) {
            eml__spec_deinit(&s->spec);
            s->has_spec = false;
            return eml__diag(diag, EML_ENOMEM, "arena of %llu bytes",
                             (unsigned long long)s->spec.arena_bytes);
        }
        s->arena_bytes = s->spec.arena_bytes;
    }
    return EML_OK;
}

static eml_status run_dynamic(eml_session *s, const eml_tensor *inputs, eml_diag *diag)
{
    const eml_graph *g = s->plan->graph;
    free_dynamic(s);
    for (size_t i = 0; i < g->n_inputs; i++) {
        if (inputs[i].data || inputs[i].dtype != EML_DTYPE_UNDEFINED)
            s->dyn_values[g->inputs[i]] = inputs[i];
    }
    return eml__run_dynamic(s->plan, s->dyn_values, s->dyn_owned, s->pool,
                            s->profiling ? &s->prof : NULL, diag);
}

eml_status eml_session_run(eml_session *s, const eml_tensor *inputs, size_t n_inputs,
                           eml_diag *diag)
{
    const eml_graph *g = s->plan->graph;
    s->has_run = false;
    if (n_inputs != g->n_inputs)
        return eml__diag(diag, EML_EINVAL, "model takes %zu inputs, %zu given", g->n_inputs,
                         n_inputs);
    eml_tensor shapes_buf[16];
    eml_tensor *shapes = shapes_buf;
    if (n_inputs > 16) {
        shapes = eml__calloc(s->env, n_inputs, sizeof(eml_tensor));
        if (!shapes)
            return EML_ENOMEM;
    }
    eml_status st = EML_OK;
    for (size_t i = 0; i < n_inputs; i++) {
        memset(&shapes[i], 0, sizeof(shapes[i]));
        if (!inputs[i].data && eml_tensor_count(&inputs[i]) != 0) {
            if (!(g->values[g->inputs[i]].flags & EML_VALUE_INITIALIZER)) {
                st = eml__diag(diag, EML_EINVAL, "input '%s' was not given and has no default",
                               g->values[g->inputs[i]].name);
                goto done;
            }
            continue;
        }
        st = check_input(s, i, &inputs[i], diag);
        if (st != EML_OK)
            goto done;
        shapes[i] = inputs[i];
        shapes[i].data = NULL;
    }
    if (!s->has_spec || !same_shapes(s, shapes)) {
        st = respecialize(s, shapes, diag);
        if (st != EML_OK)
            goto done;
    }
    if (s->spec.is_static) {
        s->last_dynamic = false;
        st = eml__spec_run(&s->spec, s->arena, inputs, s->pool, s->profiling ? &s->prof : NULL,
                           diag);
    } else {
        s->last_dynamic = true;
        /* inputs taking their defaults are bound by the executor from the initializers */
        for (size_t i = 0; i < n_inputs; i++) {
            if (shapes[i].dtype == EML_DTYPE_UNDEFINED)
                memset(&shapes[i], 0, sizeof(shapes[i]));
            else
                shapes[i] = inputs[i];
        }
        st = run_dynamic(s, shapes, diag);
    }
    s->has_run = st == EML_OK;
done:
    if (shapes != shapes_buf)
        eml__free(s->env, shapes);
    return st;
}

eml_status eml_session_output(const eml_session *s, size_t index, eml_tensor *out)
{
    const eml_graph *g = s->plan->graph;
    if (index >= g->n_outputs || !s->has_run)
        return EML_ERANGE;
    int32_t v = g->outputs[index];
    *out = s->last_dynamic ? s->dyn_values[v] : s->spec.values[v];
    return EML_OK;
}

eml_status eml_session_profile(const eml_session *s, eml_node_profile **out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (!s->profiling)
        return EML_EINVAL;
    const eml_plan *p = s->plan;
    size_t n = 0;
    for (size_t i = 0; i < p->n_nodes; i++)
        n += s->prof.runs[i] > 0;
    if (n == 0)
        return EML_OK;
    eml_node_profile *list = eml__calloc(s->env, n, sizeof(*list));
    if (!list)
        return EML_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < p->n_nodes; i++) {
        if (s->prof.runs[i] == 0)
            continue;
        eml_plan_node_info info;
        eml_plan_node_get(p, i, &info);
        eml_node_profile *e = &list[k++];
        e->name = info.name;
        e->op_type = info.op_type;
        e->kernel = info.kernel;
        e->index = i;
        e->total_ns = s->prof.ns[i];
        e->runs = s->prof.runs[i];
        /* the static path's MACs come from its specialization, the dynamic path's from the
         * node's last inference */
        e->macs = !s->last_dynamic && s->has_spec && s->spec.is_static ? s->spec.node_macs[i]
                                                                        : s->prof.macs[i];
    }
    *out = list;
    *count = n;
    return EML_OK;
}

void eml_session_profile_reset(eml_session *s)
{
    if (!s->profiling)
        return;
    size_t nn = EML_MAX(s->plan->n_nodes, 1);
    memset(s->prof.ns, 0, nn * sizeof(uint64_t));
    memset(s->prof.runs, 0, nn * sizeof(uint64_t));
    memset(s->prof.macs, 0, nn * sizeof(uint64_t));
}

void eml_profile_free(eml_env *env, eml_node_profile *profile)
{
    if (profile)
        eml__free(env, profile);
}
