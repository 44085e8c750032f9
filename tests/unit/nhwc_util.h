/* Helpers of the channels-last kernel tests (test_nhwc.c, test_nhwc_pool.c): running one node's
 * prepare, infer and kernel by hand, random data, layout transposes, and checking a fast kernel
 * against the reference on 1, 2 and 3 threads. */
#ifndef EML_TESTS_NHWC_UTIL_H
#define EML_TESTS_NHWC_UTIL_H

#include <math.h>

#include "core/core.h"
#include "graph/graph.h"
#include "harness.h"
#include "kernels/fast_nhwc.h"
#include "kernels/ref/movement.h"
#include "kernels/ref/nhwc.h"

/* ---- one node, run by hand ---- */

#define MAX_ATTRS 10

typedef struct node_case {
    eml_env *env;
    eml_graph *graph;
    eml_node *node;
    _Alignas(64) unsigned char params[EML_PARAMS_MAX];
    eml_diag diag;
    eml_tensor out;
    size_t scratch_bytes;
} node_case;

static inline void node_begin(node_case *c, const char *op, const char *domain, int32_t opset,
                              int n_in)
{
    memset(c, 0, sizeof(*c));
    REQUIRE(eml_env_create(NULL, &c->env) == EML_OK);
    REQUIRE(eml__graph_create(c->env, NULL, &c->graph) == EML_OK);
    REQUIRE(eml__graph_add_node(c->graph, "n0", op, domain, n_in, 1, MAX_ATTRS, &c->node) ==
            EML_OK);
    c->node->n_attrs = 0;
    c->node->op = eml__op_find(domain, op);
    c->node->opset = opset;
    REQUIRE(c->node->op != EML_OP_UNKNOWN);
    eml_diag_init(&c->diag);
}

static inline void node_end(node_case *c)
{
    eml_graph_destroy(c->graph);
    eml_env_destroy(c->env);
}

static inline eml_attr *add_attr(node_case *c, const char *name, eml_attr_type type)
{
    REQUIRE(c->node->n_attrs < MAX_ATTRS);
    eml_attr *a = &c->node->attrs[c->node->n_attrs++];
    a->name = eml__strdup(c->env, name);
    a->type = type;
    return a;
}

static inline void attr_i(node_case *c, const char *name, int64_t v)
{
    add_attr(c, name, EML_ATTR_INT)->i = v;
}

static inline void attr_s(node_case *c, const char *name, const char *s)
{
    eml_attr *a = add_attr(c, name, EML_ATTR_STRING);
    a->s = eml__strdup(c->env, s);
    a->s_len = strlen(s);
}

static inline void attr_ints(node_case *c, const char *name, const int64_t *v, size_t n)
{
    eml_attr *a = add_attr(c, name, EML_ATTR_INTS);
    a->ints = eml__alloc(c->env, sizeof(int64_t) * EML_MAX(n, 1));
    REQUIRE(a->ints);
    memcpy(a->ints, v, n * sizeof(int64_t));
    a->count = n;
}

static inline void attr_floats(node_case *c, const char *name, const float *v, size_t n)
{
    eml_attr *a = add_attr(c, name, EML_ATTR_FLOATS);
    a->floats = eml__alloc(c->env, sizeof(float) * EML_MAX(n, 1));
    REQUIRE(a->floats);
    memcpy(a->floats, v, n * sizeof(float));
    a->count = n;
}

static inline eml_status node_prepare(node_case *c, eml_prepare_fn prepare)
{
    eml_prepare_ctx ctx = {c->node, c->node->op, c->node->opset, c->params, &c->diag};
    return prepare(&ctx);
}

static inline eml_status node_infer(node_case *c, eml_infer_fn infer, const eml_tensor *in,
                                    int n_in)
{
    eml_infer_ctx ctx = {.params = c->params,
                         .op = c->node->op,
                         .opset = c->node->opset,
                         .node_name = c->node->name,
                         .inputs = in,
                         .n_inputs = n_in,
                         .outputs = &c->out,
                         .n_outputs = 1,
                         .diag = &c->diag};
    eml_status st = infer(&ctx);
    c->scratch_bytes = ctx.scratch_bytes;
    return st;
}

/* Runs a kernel into c->out (shape from infer); output and scratch get exactly the bytes asked
 * for, so that the sanitizers see any overrun. Returns the output (malloc'd). */
static inline float *node_kernel(node_case *c, eml_kernel_fn kernel, const void *params,
                                 const eml_tensor *in, int n_in, size_t scratch_bytes,
                                 eml_pool *pool)
{
    float *y = malloc(eml_tensor_bytes(&c->out) + 1);
    void *scratch = malloc(scratch_bytes + 1);
    REQUIRE(y && scratch);
    c->out.data = y;
    eml_kernel_ctx k = {params, in, n_in, &c->out, 1, scratch, scratch_bytes, pool, &c->diag};
    REQUIRE_OK(kernel(&k), &c->diag);
    free(scratch);
    return y;
}

static inline float *random_floats(size_t n)
{
    float *p = malloc(n * sizeof(float) + 1);
    REQUIRE(p);
    for (size_t i = 0; i < n; i++)
        p[i] = eml_test_randf(-1.0f, 1.0f);
    return p;
}

static inline int rnd(int lo, int hi) /* inclusive */
{
    return lo + (int)(eml_test_rand() % (uint32_t)(hi - lo + 1));
}

/* [N, H, W, C] ⇄ [N, C, H, W] */
static inline float *to_nchw(const float *x, const int64_t *d /* NHWC dims */)
{
    const int64_t N = d[0], H = d[1], W = d[2], C = d[3];
    float *y = malloc((size_t)(N * H * W * C) * sizeof(float) + 1);
    REQUIRE(y);
    for (int64_t n = 0; n < N; n++)
        for (int64_t h = 0; h < H; h++)
            for (int64_t w = 0; w < W; w++)
                for (int64_t c = 0; c < C; c++)
                    y[((n * C + c) * H + h) * W + w] = x[((n * H + h) * W + w) * C + c];
    return y;
}

static inline eml_tensor t4(const float *data, int64_t a, int64_t b, int64_t c, int64_t d)
{
    return (eml_tensor){EML_DTYPE_F32, 4, {a, b, c, d}, (void *)data};
}

/* ---- fast kernels against the reference ---- */

static inline bool close_enough(float got, float want)
{
    if (isnan(want))
        return isnan(got);
    if (got == want) /* infinities too */
        return true;
    return fabsf(got - want) <= 1e-4f + 1e-4f * fabsf(want);
}

/* The fast kernel fk on 1, 2 and 3 threads (pools[0] NULL): thread counts bit-identical, and
 * the 1-thread result within tolerance of ref: element by element (close_enough) when scale_tol
 * is 0, else |got - ref| <= scale_tol * scale (a kernel that sums in another order, as Winograd
 * does, errs in proportion to the scale of its sums, not to each output). *worst, when not NULL,
 * takes the largest max |got - ref| / scale seen. */
static inline bool check_fast_within(node_case *nc, const eml_fast_kernel *fk, const eml_tensor *in,
                                     int n_in, const float *ref, eml_pool *const pools[3],
                                     double scale_tol, double scale, double *worst)
{
    const int64_t count = eml_tensor_count(&nc->out);
    float *outs[3] = {NULL, NULL, NULL};
    bool ok = true;
    for (int t = 0; t < 3; t++) {
        size_t sb = fk->scratch_bytes ? fk->scratch_bytes(fk->state, in, n_in, &nc->out, 1) : 0;
        outs[t] = node_kernel(nc, fk->run, fk->state, in, n_in, sb, pools[t]);
    }
    double diff = 0;
    for (int64_t i = 0; i < count; i++)
        diff = fmax(diff, fabs((double)outs[0][i] - (double)ref[i]));
    if (worst && scale > 0)
        *worst = fmax(*worst, diff / scale);
    for (int64_t i = 0; i < count && ok; i++) {
        const bool close = scale_tol > 0
                               ? fabs((double)outs[0][i] - (double)ref[i]) <= scale_tol * scale
                               : close_enough(outs[0][i], ref[i]);
        if (!close) {
            fprintf(stderr, "%s: element %lld: %.9g, reference %.9g (scale %.6g)\n", fk->name,
                    (long long)i, outs[0][i], ref[i], scale);
            ok = false;
        }
    }
    for (int t = 1; t < 3 && ok; t++) {
        if (memcmp(outs[0], outs[t], (size_t)count * sizeof(float)) != 0) {
            fprintf(stderr, "%s: %d threads differ from 1\n", fk->name, t + 1);
            ok = false;
        }
    }
    for (int t = 0; t < 3; t++)
        free(outs[t]);
    return ok;
}

/* Runs fast kernel fk on pools of 1, 2 and 3 threads: all three bit-identical, each close to
 * ref. Returns false after printing the first difference. */
static inline bool check_fast(node_case *nc, const eml_fast_kernel *fk, const eml_tensor *in,
                              int n_in, const float *ref, eml_pool *const pools[3])
{
    return check_fast_within(nc, fk, in, n_in, ref, pools, 0.0, 0.0, NULL);
}

typedef struct pools3 {
    eml_env *env;
    eml_pool *p[3];
} pools3;

static inline void pools_begin(pools3 *p)
{
    REQUIRE(eml_env_create(NULL, &p->env) == EML_OK);
    p->p[0] = NULL;
    REQUIRE(eml__pool_create(p->env, 2, &p->p[1]) == EML_OK);
    REQUIRE(eml__pool_create(p->env, 3, &p->p[2]) == EML_OK);
}

static inline void pools_end(pools3 *p)
{
    eml__pool_destroy(p->p[1]);
    eml__pool_destroy(p->p[2]);
    eml_env_destroy(p->env);
}

/* Selects the fast conv with kernel k and table ops for the reference node nc (weights and bias
 * constant, X and Z not). */

#endif
