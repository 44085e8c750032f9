/* The harness of the per-family op tests (tests/unit/test_ops_*.c): one node built by hand and run
 * through its prepare → infer → kernel on hand-made tensors, and checks of the outputs. */
#ifndef EML_TESTS_UNIT_OP_TEST_UTIL_H
#define EML_TESTS_UNIT_OP_TEST_UTIL_H

#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "graph/graph.h"
#include "harness.h"

/* The functions under test for one op type; tables of them end with a {NULL} entry. */
typedef struct op_fns {
    const char *name;
    eml_prepare_fn prepare;
    eml_infer_fn infer;
    eml_kernel_fn kernel;
} op_fns;

/* A test file may define `static const op_fns *op_test_fns = its_table;` after including this:
 * op_begin then runs the functions named there (so the test links them for sure, whatever the op
 * table says). Left NULL, op_begin takes them from the op table. */
static const op_fns *op_test_fns;

/* The op table names the same functions as `table` for each of its ops. */
static inline void check_op_table_agrees(const op_fns *table)
{
    for (const op_fns *f = table; f->name; f++) {
        const eml_op_info *info = eml__op_info(eml__op_find("", f->name));
        REQUIRE(info != NULL);
        CHECK(info->prepare == f->prepare);
        CHECK(info->infer == f->infer);
        CHECK(info->kernel == f->kernel);
    }
}

#define OP_MAX_ATTRS 8
#define OP_MAX_OUT 5

/* One node, its params, and the outputs (and scratch) of its last run. */
typedef struct op_case {
    op_fns fns;
    eml_env *env;
    eml_graph *graph;
    eml_node *node;
    eml_op_id op;
    int32_t opset;
    _Alignas(64) unsigned char params[EML_PARAMS_MAX];
    eml_diag diag;
    eml_tensor out[OP_MAX_OUT];
    int32_t n_out;
    void *scratch;
    size_t scratch_bytes; /* what the last infer asked for */
    uint64_t macs;        /* what the last infer reported */
} op_case;

/* Builds node "n0" of `op_type` with inputs 0.. and outputs n_in.. and no attributes yet. */
static inline void op_begin(op_case *c, const char *op_type, int32_t opset, int32_t n_in,
                            int32_t n_out)
{
    memset(c, 0, sizeof(*c));
    REQUIRE(n_out <= OP_MAX_OUT);
    c->op = eml__op_find("", op_type);
    REQUIRE(c->op != EML_OP_UNKNOWN);
    if (op_test_fns) {
        for (const op_fns *f = op_test_fns; f->name; f++) {
            if (strcmp(f->name, op_type) == 0)
                c->fns = *f;
        }
    } else {
        const eml_op_info *info = eml__op_info(c->op);
        c->fns = (op_fns){op_type, info->prepare, info->infer, info->kernel};
    }
    REQUIRE(c->fns.name && c->fns.prepare && c->fns.infer && c->fns.kernel);
    REQUIRE(eml_env_create(NULL, &c->env) == EML_OK);
    REQUIRE(eml__graph_create(c->env, NULL, &c->graph) == EML_OK);
    REQUIRE(eml__graph_add_node(c->graph, "n0", op_type, "", n_in, n_out, OP_MAX_ATTRS,
                                &c->node) == EML_OK);
    c->node->n_attrs = 0; /* counts the attributes set below */
    c->opset = opset;
    c->node->opset = opset;
    c->node->op = c->op;
    for (int32_t i = 0; i < n_in; i++)
        c->node->inputs[i] = i;
    for (int32_t i = 0; i < n_out; i++)
        c->node->outputs[i] = n_in + i;
    c->n_out = n_out;
    eml_diag_init(&c->diag);
}

/* Appends an attribute of `type` named `name`; the caller sets its value. */
static inline eml_attr *new_attr(op_case *c, const char *name, eml_attr_type type)
{
    REQUIRE(c->node->n_attrs < OP_MAX_ATTRS);
    eml_attr *a = &c->node->attrs[c->node->n_attrs++];
    a->name = eml__strdup(c->env, name);
    REQUIRE(a->name);
    a->type = type;
    return a;
}

/* Appends an INT attribute. */
static inline void attr_int(op_case *c, const char *name, int64_t v)
{
    new_attr(c, name, EML_ATTR_INT)->i = v;
}

/* Appends a FLOAT attribute. */
static inline void attr_float(op_case *c, const char *name, float v)
{
    new_attr(c, name, EML_ATTR_FLOAT)->f = v;
}

/* Appends a STRING attribute. */
static inline void attr_string(op_case *c, const char *name, const char *v)
{
    eml_attr *a = new_attr(c, name, EML_ATTR_STRING);
    a->s = eml__strdup(c->env, v);
    REQUIRE(a->s);
    a->s_len = strlen(v);
}

/* Appends an INTS attribute of the n values at v. */
static inline void attr_ints(op_case *c, const char *name, const int64_t *v, size_t n)
{
    eml_attr *a = new_attr(c, name, EML_ATTR_INTS);
    a->ints = eml__alloc(c->env, EML_MAX(n, 1) * sizeof(int64_t));
    REQUIRE(a->ints);
    if (n)
        memcpy(a->ints, v, n * sizeof(int64_t));
    a->count = n;
}

/* Appends an INTS attribute of `n` int arguments. */
static inline void attr_ints_va(op_case *c, const char *name, int n, ...)
{
    eml_attr *a = new_attr(c, name, EML_ATTR_INTS);
    a->ints = eml__alloc(c->env, sizeof(int64_t) * (size_t)EML_MAX(n, 1));
    REQUIRE(a->ints);
    a->count = (size_t)n;
    va_list ap;
    va_start(ap, n);
    for (int i = 0; i < n; i++)
        a->ints[i] = va_arg(ap, int);
    va_end(ap);
}

/* Appends a FLOATS attribute of the n values at v. */
static inline void attr_floats(op_case *c, const char *name, const float *v, size_t n)
{
    eml_attr *a = new_attr(c, name, EML_ATTR_FLOATS);
    a->floats = eml__alloc(c->env, EML_MAX(n, 1) * sizeof(float));
    REQUIRE(a->floats);
    if (n)
        memcpy(a->floats, v, n * sizeof(float));
    a->count = n;
}

/* Appends a TENSOR attribute holding a copy of `data`. */
static inline void attr_tensor(op_case *c, const char *name, eml_dtype dt, const void *data,
                               int32_t rank, const int64_t *dims)
{
    eml_attr *a = new_attr(c, name, EML_ATTR_TENSOR);
    a->t.dtype = dt;
    a->t.rank = rank;
    memcpy(a->t.dims, dims, (size_t)rank * sizeof(int64_t));
    size_t bytes = eml_tensor_bytes(&a->t);
    a->t.data = eml__alloc(c->env, EML_MAX(bytes, 1));
    REQUIRE(a->t.data);
    memcpy(a->t.data, data, bytes);
}

/* Runs prepare on the node. */
static inline eml_status op_prepare(op_case *c)
{
    eml_prepare_ctx ctx = {.node = c->node,
                           .op = c->op,
                           .opset = c->opset,
                           .params = c->params,
                           .diag = &c->diag};
    return c->fns.prepare(&ctx);
}

/* Infers the outputs (freeing those of an earlier run); keeps scratch_bytes and macs. */
static inline eml_status op_infer(op_case *c, const eml_tensor *in, int32_t n_in)
{
    for (int32_t k = 0; k < c->n_out; k++)
        free(c->out[k].data);
    memset(c->out, 0, sizeof(c->out));
    eml_infer_ctx ctx = {.params = c->params,
                         .op = c->op,
                         .opset = c->opset,
                         .node_name = c->node->name,
                         .inputs = in,
                         .n_inputs = n_in,
                         .outputs = c->out,
                         .n_outputs = c->n_out,
                         .diag = &c->diag};
    eml_status st = c->fns.infer(&ctx);
    c->scratch_bytes = ctx.scratch_bytes;
    c->macs = ctx.macs;
    return st;
}

/* Runs the kernel after op_infer; outputs (zeroed) and scratch get exactly the bytes asked for,
 * so that the sanitizers see any overrun. */
static inline eml_status op_kernel(op_case *c, const eml_tensor *in, int32_t n_in, eml_pool *pool)
{
    for (int32_t k = 0; k < c->n_out; k++) {
        size_t bytes = eml_tensor_bytes(&c->out[k]);
        c->out[k].data = calloc(1, bytes ? bytes : 1);
        REQUIRE(c->out[k].data);
    }
    free(c->scratch);
    c->scratch = malloc(c->scratch_bytes ? c->scratch_bytes : 1);
    REQUIRE(c->scratch);
    eml_kernel_ctx ctx = {.params = c->params,
                          .inputs = in,
                          .n_inputs = n_in,
                          .outputs = c->out,
                          .n_outputs = c->n_out,
                          .scratch = c->scratch,
                          .scratch_bytes = c->scratch_bytes,
                          .pool = pool,
                          .diag = &c->diag};
    return c->fns.kernel(&ctx);
}

/* infer + kernel (without a pool), after op_prepare. */
static inline eml_status op_exec(op_case *c, const eml_tensor *in, int32_t n_in)
{
    eml_status st = op_infer(c, in, n_in);
    return st != EML_OK ? st : op_kernel(c, in, n_in, NULL);
}

/* prepare + infer + kernel, the kernel on `pool` (may be NULL). */
static inline eml_status op_run(op_case *c, const eml_tensor *in, int32_t n_in, eml_pool *pool)
{
    eml_status st = op_prepare(c);
    if (st == EML_OK)
        st = op_infer(c, in, n_in);
    return st != EML_OK ? st : op_kernel(c, in, n_in, pool);
}

/* Frees the outputs, the scratch, the graph and the env. */
static inline void op_end(op_case *c)
{
    for (int32_t k = 0; k < c->n_out; k++)
        free(c->out[k].data);
    free(c->scratch);
    eml_graph_destroy(c->graph);
    eml_env_destroy(c->env);
}

/* ---- tensors ---- */

/* A tensor view of `data` (borrowed) with `rank` dims given as int arguments. */
static inline eml_tensor tensor(eml_dtype dtype, const void *data, int rank, ...)
{
    eml_tensor t = {.dtype = dtype, .rank = rank, .data = (void *)data};
    va_list ap;
    va_start(ap, rank);
    for (int i = 0; i < rank; i++)
        t.dims[i] = va_arg(ap, int);
    va_end(ap);
    return t;
}

/* A tensor view of `data` (borrowed) with the `rank` dims at `dims`. */
static inline eml_tensor tens(eml_dtype dt, const void *data, int32_t rank, const int64_t *dims)
{
    eml_tensor t = {.dtype = dt, .rank = rank, .data = (void *)data};
    for (int32_t d = 0; d < rank; d++)
        t.dims[d] = dims[d];
    return t;
}

/* An omitted optional input. */
static const eml_tensor absent = {.dtype = EML_DTYPE_UNDEFINED};

#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define I64(...) ((const int64_t[]){__VA_ARGS__})
#define F32(...) ((const float[]){__VA_ARGS__})

/* ---- checks ---- */

/* t has exactly the given shape. */
static inline void check_shape(const eml_tensor *t, int32_t rank, const int64_t *dims)
{
    CHECK(t->rank == rank);
    for (int32_t d = 0; d < rank && d < t->rank; d++) {
        if (t->dims[d] != dims[d]) {
            fprintf(stderr, "  dim %d: got %lld, want %lld\n", (int)d, (long long)t->dims[d],
                    (long long)dims[d]);
            CHECK(t->dims[d] == dims[d]);
        }
    }
}

/* t's bytes equal `want` (same element type and count). */
static inline void check_data(const eml_tensor *t, const void *want, size_t bytes)
{
    CHECK(eml_tensor_bytes(t) == bytes);
    if (eml_tensor_bytes(t) == bytes && memcmp(t->data, want, bytes) != 0) {
        fprintf(stderr, "  data differs\n");
        CHECK(false);
    }
}

/* t has n elements of any dtype, each within 1e-6 + 1e-3 relative of `expected`. */
static inline void check_near(const eml_tensor *t, const double *expected, int64_t n)
{
    CHECK(eml_tensor_count(t) == n);
    for (int64_t i = 0; i < n; i++) {
        double v = eml__tensor_get_f64(t, i);
        if (fabs(v - expected[i]) > 1e-6 + 1e-3 * fabs(expected[i])) {
            fprintf(stderr, "element %lld: %.9g, expected %.9g\n", (long long)i, v, expected[i]);
            CHECK(0);
            return;
        }
    }
}

/* t is float32 with n elements, each within 1e-5 + 1e-4 relative of `want`. */
static inline void check_f32(const eml_tensor *t, const double *want, int64_t n)
{
    CHECK(t->dtype == EML_DTYPE_F32);
    REQUIRE(eml_tensor_count(t) == n);
    for (int64_t i = 0; i < n; i++) {
        double got = ((const float *)t->data)[i];
        if (!(fabs(got - want[i]) <= 1e-5 + 1e-4 * fabs(want[i]))) {
            fprintf(stderr, "element %lld: got %.9g, want %.9g\n", (long long)i, got, want[i]);
            CHECK(!"float mismatch");
        }
    }
}

#endif
