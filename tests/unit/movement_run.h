/* Runs one data-movement or generator op through prepare → infer → kernel, for the unit tests
 * test_ops_movement.c and test_ops_generate.c. */
#ifndef EML_TESTS_UNIT_MOVEMENT_RUN_H
#define EML_TESTS_UNIT_MOVEMENT_RUN_H

#include <math.h>
#include <string.h>

#include "graph/graph.h"
#include "harness.h"
#include "kernels/ref/movement.h"

/* ---- one node through prepare → infer → kernel ---- */

typedef struct op_fns {
    const char *name;
    eml_prepare_fn prepare;
    eml_infer_fn infer;
    eml_kernel_fn kernel;
} op_fns;

/* Called directly (not through the op table) so that the test links these objects for sure. */
static const op_fns fns[] = {
    {"Reshape", eml__reshape_prepare, eml__reshape_infer, eml__ref_copy},
    {"Flatten", eml__flatten_prepare, eml__flatten_infer, eml__ref_copy},
    {"Squeeze", eml__squeeze_prepare, eml__squeeze_infer, eml__ref_copy},
    {"Unsqueeze", eml__unsqueeze_prepare, eml__unsqueeze_infer, eml__ref_copy},
    {"Identity", eml__identity_prepare, eml__identity_infer, eml__ref_copy},
    {"Dropout", eml__dropout_prepare, eml__dropout_infer, eml__ref_dropout},
    {"Transpose", eml__transpose_prepare, eml__transpose_infer, eml__ref_transpose},
    {"Concat", eml__concat_prepare, eml__concat_infer, eml__ref_concat},
    {"Split", eml__split_prepare, eml__split_infer, eml__ref_split},
    {"Slice", eml__slice_prepare, eml__slice_infer, eml__ref_slice},
    {"Gather", eml__gather_prepare, eml__gather_infer, eml__ref_gather},
    {"GatherElements", eml__gather_prepare, eml__gather_elements_infer, eml__ref_gather_elements},
    {"Tile", eml__tile_prepare, eml__tile_infer, eml__ref_tile},
    {"Pad", eml__pad_prepare, eml__pad_infer, eml__ref_pad},
    {"DepthToSpace", eml__depth_space_prepare, eml__depth_space_infer, eml__ref_depth_space},
    {"SpaceToDepth", eml__depth_space_prepare, eml__depth_space_infer, eml__ref_depth_space},
    {"Shape", eml__shape_prepare, eml__shape_infer, eml__ref_shape},
    {"Size", eml__size_prepare, eml__size_infer, eml__ref_size},
    {"ConstantOfShape", eml__constant_of_shape_prepare, eml__constant_of_shape_infer,
     eml__ref_constant_of_shape},
    {"Constant", eml__constant_prepare, eml__constant_infer, eml__ref_constant},
    {"Range", eml__range_prepare, eml__range_infer, eml__ref_range},
    {"EyeLike", eml__eye_like_prepare, eml__eye_like_infer, eml__ref_eye_like},
    {"OneHot", eml__one_hot_prepare, eml__one_hot_infer, eml__ref_one_hot},
    {"NonZero", eml__nonzero_prepare, eml__nonzero_infer, eml__ref_nonzero},
    {"Trilu", eml__trilu_prepare, eml__trilu_infer, eml__ref_trilu},
};

#define MAX_OUT 4

typedef struct op_run {
    eml_env *env;
    eml_graph *g;
    eml_node *node;
    const op_fns *fn;
    eml_op_id op;
    int32_t opset;
    union {
        unsigned char bytes[EML_PARAMS_MAX];
        int64_t align;
    } params;
    eml_diag diag;
    eml_tensor out[MAX_OUT];
    int32_t n_out;
} op_run;

static inline void op_init(op_run *r, const char *op_type, int32_t opset, int32_t n_in,
                           int32_t n_out)
{
    memset(r, 0, sizeof(*r));
    REQUIRE(n_out <= MAX_OUT);
    REQUIRE(eml_env_create(NULL, &r->env) == EML_OK);
    REQUIRE(eml__graph_create(r->env, NULL, &r->g) == EML_OK);
    REQUIRE(eml__graph_add_node(r->g, "n0", op_type, "", n_in, n_out, 8, &r->node) == EML_OK);
    r->node->n_attrs = 0; /* counts the attributes set below */
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        if (strcmp(fns[i].name, op_type) == 0)
            r->fn = &fns[i];
    }
    REQUIRE(r->fn);
    r->op = eml__op_find("", op_type);
    REQUIRE(r->op != EML_OP_UNKNOWN);
    r->opset = opset;
    r->node->opset = opset;
    r->node->op = r->op;
    for (int32_t i = 0; i < n_in; i++)
        r->node->inputs[i] = i;
    for (int32_t i = 0; i < n_out; i++)
        r->node->outputs[i] = n_in + i;
    r->n_out = n_out;
    eml_diag_init(&r->diag);
}

static inline eml_attr *new_attr(op_run *r, const char *name, eml_attr_type type)
{
    REQUIRE(r->node->n_attrs < 8);
    eml_attr *a = &r->node->attrs[r->node->n_attrs++];
    a->name = eml__strdup(r->env, name);
    a->type = type;
    return a;
}

static inline void attr_int(op_run *r, const char *name, int64_t v)
{
    new_attr(r, name, EML_ATTR_INT)->i = v;
}

static inline void attr_float(op_run *r, const char *name, float v)
{
    new_attr(r, name, EML_ATTR_FLOAT)->f = v;
}

static inline void attr_string(op_run *r, const char *name, const char *v)
{
    eml_attr *a = new_attr(r, name, EML_ATTR_STRING);
    a->s = eml__strdup(r->env, v);
    a->s_len = strlen(v);
}

static inline void attr_ints(op_run *r, const char *name, const int64_t *v, size_t n)
{
    eml_attr *a = new_attr(r, name, EML_ATTR_INTS);
    a->ints = eml__alloc(r->env, EML_MAX(n, 1) * sizeof(int64_t));
    memcpy(a->ints, v, n * sizeof(int64_t));
    a->count = n;
}

static inline void attr_tensor(op_run *r, const char *name, eml_dtype dt, const void *data,
                               int32_t rank, const int64_t *dims)
{
    eml_attr *a = new_attr(r, name, EML_ATTR_TENSOR);
    a->t.dtype = dt;
    a->t.rank = rank;
    memcpy(a->t.dims, dims, (size_t)rank * sizeof(int64_t));
    size_t bytes = eml_tensor_bytes(&a->t);
    a->t.data = eml__alloc(r->env, EML_MAX(bytes, 1));
    memcpy(a->t.data, data, bytes);
}

static inline eml_status op_prepare(op_run *r)
{
    eml_prepare_ctx ctx = {r->node, r->op, r->opset, r->params.bytes, &r->diag};
    return r->fn->prepare(&ctx);
}

/* Infers the outputs (freeing those of an earlier run). */
static inline eml_status op_infer(op_run *r, eml_tensor *in, int32_t n_in)
{
    for (int32_t k = 0; k < r->n_out; k++)
        free(r->out[k].data);
    memset(r->out, 0, sizeof(r->out));
    eml_infer_ctx ic = {r->params.bytes, r->op,    r->opset, "n0", in,      n_in,
                        r->out,          r->n_out, 0,        0,    &r->diag};
    return r->fn->infer(&ic);
}

/* Infers the outputs, allocates them and runs the kernel. */
static inline eml_status op_exec(op_run *r, eml_tensor *in, int32_t n_in)
{
    eml_status st = op_infer(r, in, n_in);
    if (st != EML_OK)
        return st;
    for (int32_t k = 0; k < r->n_out; k++) {
        size_t bytes = eml_tensor_bytes(&r->out[k]);
        r->out[k].data = calloc(1, bytes ? bytes : 1);
    }
    eml_kernel_ctx kc = {r->params.bytes, in, n_in, r->out, r->n_out, NULL, 0, NULL, &r->diag};
    return r->fn->kernel(&kc);
}

static inline void op_done(op_run *r)
{
    for (int32_t k = 0; k < r->n_out; k++)
        free(r->out[k].data);
    eml_graph_destroy(r->g);
    eml_env_destroy(r->env);
}

static inline eml_tensor tens(eml_dtype dt, const void *data, int32_t rank, const int64_t *dims)
{
    eml_tensor t;
    memset(&t, 0, sizeof(t));
    t.dtype = dt;
    t.rank = rank;
    for (int32_t d = 0; d < rank; d++)
        t.dims[d] = dims[d];
    t.data = (void *)data;
    return t;
}

#define DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define I64(...) ((const int64_t[]){__VA_ARGS__})
#define F32(...) ((const float[]){__VA_ARGS__})

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

/* The output's bytes equal `want` (same element type and count). */
static inline void check_data(const eml_tensor *t, const void *want, size_t bytes)
{
    CHECK(eml_tensor_bytes(t) == bytes);
    if (eml_tensor_bytes(t) == bytes && memcmp(t->data, want, bytes) != 0) {
        fprintf(stderr, "  data differs\n");
        CHECK(false);
    }
}

#endif
