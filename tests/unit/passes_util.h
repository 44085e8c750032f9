/* Helpers of the graph-pass tests: building small graphs by hand, running a graph on the
 * reference kernels, and comparing outputs. Included by the pass and layout tests. */
#ifndef EML_TESTS_PASSES_UTIL_H
#define EML_TESTS_PASSES_UTIL_H

#include <math.h>
#include <string.h>

#include "graph/graph.h"
#include "graph/passes/passes.h"
#include "harness.h"

/* Every run in these tests uses the reference kernels: set before the first plan is made. */
static inline void pt_use_reference_kernels(void)
{
    setenv("EML_ISA", "ref", 1);
}

static inline eml_env *pt_env(void)
{
    pt_use_reference_kernels();
    eml_env *env = NULL;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    return env;
}

/* ---- building ---- */

/* A graph with opset imports "" 17 (or `opset`) that the exporter writes as they are. */
static inline eml_graph *pt_graph(eml_env *env, int64_t opset)
{
    eml_graph *g = NULL;
    REQUIRE(eml__graph_create(env, NULL, &g) == EML_OK);
    g->opsets = eml__calloc(env, 1, sizeof(eml_opset_import));
    REQUIRE(g->opsets);
    g->opsets[0].domain = eml__strdup(env, "");
    g->opsets[0].version = opset;
    g->n_opsets = 1;
    g->ir_version = 8;
    g->name = eml__strdup(env, "test");
    return g;
}

/* A declared value (graph input when is_input). dims < 0 are dynamic, named by dim_name. */
static inline int32_t pt_input(eml_graph *g, const char *name, eml_dtype dt, int rank,
                               const int64_t *dims, const char *dim_name)
{
    int32_t id;
    REQUIRE(eml__graph_value(g, name, &id) == EML_OK);
    eml_value *v = &g->values[id];
    v->dtype = dt;
    v->rank = rank;
    for (int d = 0; d < rank; d++) {
        v->dims[d] = dims[d];
        if (dims[d] < 0 && dim_name)
            v->dim_names[d] = eml__strdup(g->env, dim_name);
    }
    REQUIRE(eml__graph_add_input(g, id) == EML_OK);
    return id;
}

/* A float32 initializer with values from `data` (copied), or seeded random in [-1, 1) when
 * data is NULL. */
static inline int32_t pt_const_f32(eml_graph *g, const char *name, int rank, const int64_t *dims,
                                   const float *data)
{
    int32_t id;
    REQUIRE(eml__graph_value(g, name, &id) == EML_OK);
    eml_value *v = &g->values[id];
    v->flags |= EML_VALUE_INITIALIZER;
    v->dtype = EML_DTYPE_F32;
    v->rank = rank;
    int64_t n = 1;
    for (int d = 0; d < rank; d++) {
        v->dims[d] = dims[d];
        n *= dims[d];
    }
    float *p = eml__alloc(g->env, (size_t)(n ? n : 1) * sizeof(float));
    REQUIRE(p);
    for (int64_t i = 0; i < n; i++)
        p[i] = data ? data[i] : eml_test_randf(-1.0f, 1.0f);
    v->data = p;
    return id;
}

/* An initializer of any dtype with the bytes of `data` (copied). */
static inline int32_t pt_const(eml_graph *g, const char *name, eml_dtype dt, int rank,
                               const int64_t *dims, const void *data)
{
    int32_t id;
    REQUIRE(eml__graph_value(g, name, &id) == EML_OK);
    eml_value *v = &g->values[id];
    v->flags |= EML_VALUE_INITIALIZER;
    v->dtype = dt;
    v->rank = rank;
    int64_t n = 1;
    for (int d = 0; d < rank; d++) {
        v->dims[d] = dims[d];
        n *= dims[d];
    }
    const size_t bytes = (size_t)n * eml_dtype_size(dt);
    v->data = eml__alloc(g->env, bytes ? bytes : 1);
    REQUIRE(v->data);
    memcpy(v->data, data, bytes);
    return id;
}

static inline int32_t pt_const_i64(eml_graph *g, const char *name, int64_t n, const int64_t *data)
{
    int32_t id;
    REQUIRE(eml__graph_value(g, name, &id) == EML_OK);
    eml_value *v = &g->values[id];
    v->flags |= EML_VALUE_INITIALIZER;
    v->dtype = EML_DTYPE_I64;
    v->rank = 1;
    v->dims[0] = n;
    v->data = eml__alloc(g->env, (size_t)(n ? n : 1) * sizeof(int64_t));
    REQUIRE(v->data);
    memcpy(v->data, data, (size_t)n * sizeof(int64_t));
    return id;
}

/* Adds a node of the default domain (or `domain`) reading and writing values by name ("" for an
 * omitted one); outputs are created. Attributes are added with pt_attr_*. */
static inline eml_node *pt_node(eml_graph *g, const char *op, const char *domain, const char *name,
                                const char *const *ins, int n_in, const char *const *outs,
                                int n_out)
{
    eml_node *n;
    REQUIRE(eml__graph_add_node(g, name, op, domain ? domain : "", n_in, n_out, 0, &n) == EML_OK);
    n->op = eml__op_find(n->domain, op);
    REQUIRE(n->op != EML_OP_UNKNOWN);
    n->opset = (int32_t)eml__graph_opset(g, n->domain);
    if (n->opset <= 0)
        n->opset = 1;
    for (int k = 0; k < n_in; k++)
        if (ins[k][0])
            REQUIRE(eml__graph_value(g, ins[k], &n->inputs[k]) == EML_OK);
    int32_t index = (int32_t)(g->n_nodes - 1);
    for (int k = 0; k < n_out; k++) {
        if (!outs[k][0])
            continue;
        REQUIRE(eml__graph_value(g, outs[k], &n->outputs[k]) == EML_OK);
        g->values[n->outputs[k]].producer = index;
    }
    return n;
}

static inline eml_attr *pt_attr(eml_graph *g, eml_node *n, const char *name, eml_attr_type type)
{
    eml_attr *grown = eml__calloc(g->env, (size_t)n->n_attrs + 1, sizeof(eml_attr));
    REQUIRE(grown);
    if (n->n_attrs)
        memcpy(grown, n->attrs, (size_t)n->n_attrs * sizeof(eml_attr));
    eml__free(g->env, n->attrs);
    n->attrs = grown;
    eml_attr *a = &n->attrs[n->n_attrs++];
    a->name = eml__strdup(g->env, name);
    a->type = type;
    return a;
}

static inline void pt_attr_ints(eml_graph *g, eml_node *n, const char *name, const int64_t *v,
                                size_t count)
{
    eml_attr *a = pt_attr(g, n, name, EML_ATTR_INTS);
    a->ints = eml__alloc(g->env, (count ? count : 1) * sizeof(int64_t));
    memcpy(a->ints, v, count * sizeof(int64_t));
    a->count = count;
}

static inline void pt_attr_float(eml_graph *g, eml_node *n, const char *name, float f)
{
    pt_attr(g, n, name, EML_ATTR_FLOAT)->f = f;
}

static inline void pt_attr_int(eml_graph *g, eml_node *n, const char *name, int64_t i)
{
    pt_attr(g, n, name, EML_ATTR_INT)->i = i;
}

static inline void pt_attr_string(eml_graph *g, eml_node *n, const char *name, const char *s)
{
    eml_attr *a = pt_attr(g, n, name, EML_ATTR_STRING);
    a->s = eml__strdup(g->env, s);
    a->s_len = strlen(s);
}

static inline void pt_output(eml_graph *g, const char *name)
{
    int32_t id = eml__graph_find(g, name);
    REQUIRE(id >= 0);
    REQUIRE(eml__graph_add_output(g, id) == EML_OK);
}

/* ---- reading ---- */

static inline size_t pt_count_op(const eml_graph *g, const char *op)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        n += strcmp(g->nodes[i].op_type, op) == 0;
    return n;
}

static inline const eml_node *pt_find_op(const eml_graph *g, const char *op)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if (strcmp(g->nodes[i].op_type, op) == 0)
            return &g->nodes[i];
    return NULL;
}

/* ---- options ---- */

/* The passes these tests are about. Others (e.g. a layout pass for fast kernels) may join the
 * list; the tests that check structure disable them so that what they check stays theirs. */
static const char *const pt_own_passes =
    "constant-folding,shape-folding,identity-elimination,batchnorm-folding,residual-fusion,"
    "activation-fusion,dead-node-elimination";

/* A disable list: every pass not named in `keep` (comma-separated). */
static inline const char *pt_disable_except(char *buf, size_t cap, const char *keep)
{
    size_t n = 0;
    buf[0] = 0;
    for (size_t i = 0; eml_optimize_pass_name(i); i++) {
        const char *name = eml_optimize_pass_name(i);
        size_t len = strlen(name);
        bool kept = false;
        for (const char *k = keep; k && *k;) {
            const char *end = strchr(k, ',');
            size_t klen = end ? (size_t)(end - k) : strlen(k);
            kept = kept || (klen == len && memcmp(k, name, len) == 0);
            k = end ? end + 1 : k + klen;
        }
        if (!kept)
            n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? "," : "", name);
    }
    return buf[0] ? buf : NULL;
}

/* ---- running ---- */

#define PT_MAX_OUTPUTS 8

typedef struct pt_outputs {
    size_t count;
    eml_tensor t[PT_MAX_OUTPUTS]; /* data malloc'd */
} pt_outputs;

static inline void pt_outputs_free(pt_outputs *o)
{
    for (size_t i = 0; i < o->count; i++)
        free(o->t[i].data);
    o->count = 0;
}

/* Plans and runs g once on inputs (one per graph input) and copies the outputs. */
static inline void pt_run(eml_graph *g, const eml_tensor *inputs, pt_outputs *out)
{
    eml_diag diag;
    eml_diag_init(&diag);
    eml_plan *plan = NULL;
    eml_session *s = NULL;
    REQUIRE_OK(eml_plan_create(g, &plan, &diag), &diag);
    REQUIRE_OK(eml_session_create(plan, NULL, &s, &diag), &diag);
    REQUIRE_OK(eml_session_run(s, inputs, eml_graph_input_count(g), &diag), &diag);
    out->count = eml_graph_output_count(g);
    REQUIRE(out->count <= PT_MAX_OUTPUTS);
    for (size_t i = 0; i < out->count; i++) {
        eml_tensor t;
        REQUIRE(eml_session_output(s, i, &t) == EML_OK);
        out->t[i] = t;
        size_t bytes = eml_tensor_bytes(&t);
        out->t[i].data = malloc(bytes ? bytes : 1);
        REQUIRE(out->t[i].data);
        memcpy(out->t[i].data, t.data, bytes);
    }
    eml_session_destroy(s);
    eml_plan_destroy(plan);
}

/* max |a - b| / max |b| over float32 outputs of the same shapes; 1e30 when shapes differ. */
static inline double pt_rel_diff(const pt_outputs *a, const pt_outputs *b)
{
    if (a->count != b->count)
        return 1e30;
    double worst = 0;
    for (size_t i = 0; i < a->count; i++) {
        const eml_tensor *x = &a->t[i], *y = &b->t[i];
        if (x->dtype != y->dtype || x->rank != y->rank)
            return 1e30;
        for (int d = 0; d < x->rank; d++)
            if (x->dims[d] != y->dims[d])
                return 1e30;
        if (x->dtype != EML_DTYPE_F32) {
            if (memcmp(x->data, y->data, eml_tensor_bytes(x)) != 0)
                return 1e30;
            continue;
        }
        const float *p = x->data, *q = y->data;
        double diff = 0, scale = 0;
        for (int64_t k = 0; k < eml_tensor_count(x); k++) {
            if (isnan(p[k]) != isnan(q[k]))
                return 1e30;
            if (isnan(p[k]))
                continue;
            diff = fmax(diff, fabs((double)p[k] - q[k]));
            scale = fmax(scale, fabs((double)q[k]));
        }
        worst = fmax(worst, diff / (scale > 0 ? scale : 1));
    }
    return worst;
}

/* A float32 tensor of seeded random values in [-1, 1), malloc'd. */
static inline eml_tensor pt_random(int rank, const int64_t *dims)
{
    eml_tensor t = {EML_DTYPE_F32, rank, {0}, NULL};
    int64_t n = 1;
    for (int d = 0; d < rank; d++) {
        t.dims[d] = dims[d];
        n *= dims[d];
    }
    float *p = malloc((size_t)(n ? n : 1) * sizeof(float));
    REQUIRE(p);
    for (int64_t i = 0; i < n; i++)
        p[i] = eml_test_randf(-1.0f, 1.0f);
    t.data = p;
    return t;
}

/* ---- optimizing ---- */

/* Optimizes with only the named passes (comma-separated) enabled; the graph must verify after. */
static inline eml_optimize_report pt_optimize_only(eml_graph *g, const char *keep)
{
    char disable[512];
    eml_optimize_options o;
    eml_optimize_options_init(&o);
    o.disable = pt_disable_except(disable, sizeof(disable), keep);
    eml_optimize_report r;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_graph_optimize(g, &o, &r, &diag), &diag);
    REQUIRE_OK(eml__graph_verify(g, NULL, &diag), &diag);
    return r;
}

/* How many rewrites the report gives for `pass` (0 when it is not listed). */
static inline uint64_t pt_rewrites_of(const eml_optimize_report *r, const char *pass)
{
    for (size_t i = 0; i < r->pass_count; i++)
        if (strcmp(r->passes[i].name, pass) == 0)
            return r->passes[i].rewrites;
    return 0;
}

/* Runs g on inputs, optimizes it with `passes` only, runs it again: the outputs must agree
 * within tol (relative to the largest magnitude). Returns the report. */
static inline eml_optimize_report pt_check_same(eml_graph *g, const eml_tensor *inputs,
                                                const char *passes, double tol)
{
    pt_outputs before, after;
    pt_run(g, inputs, &before);
    eml_optimize_report r = pt_optimize_only(g, passes);
    pt_run(g, inputs, &after);
    double d = pt_rel_diff(&after, &before);
    if (!(d <= tol))
        fprintf(stderr, "outputs differ by %g after %s\n", d, passes);
    CHECK(d <= tol);
    pt_outputs_free(&before);
    pt_outputs_free(&after);
    return r;
}

/* Reads the TensorProto file at path into *t (allocated from env). */
static inline void pt_read_pb(eml_env *env, const char *path, eml_tensor *t)
{
    size_t n = 0;
    void *bytes = eml_test_read_file(path, &n);
    REQUIRE(bytes);
    eml_diag diag;
    eml_diag_init(&diag);
    char name[256];
    REQUIRE_OK(eml_tensor_read_pb(env, bytes, n, t, name, sizeof(name), &diag), &diag);
    free(bytes);
}

#endif
