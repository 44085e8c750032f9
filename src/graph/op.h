/* The op interface: each op of ops.def has a prepare (attributes → params, at load time), an
 * infer (input shapes/types → output shapes/types) and a reference kernel. */
#ifndef EML_GRAPH_OP_H
#define EML_GRAPH_OP_H

#include "core/core.h"
#include "kernels/kernel.h"

typedef enum eml_op_id {
#define EML_OP(name, domain, since, min_in, max_in, min_out, max_out, prepare, infer, kernel)               \
    EML_OP_##name,
#include "graph/ops.def"
#undef EML_OP
    EML_OP_COUNT,
    EML_OP_UNKNOWN = -1
} eml_op_id;

/* Largest params struct an op may use; prepare writes into a zeroed block of this size. */
#define EML_PARAMS_MAX 1024
#define EML_PARAMS(ctx, type) ((type *)(ctx)->params)
/* At file scope after each params struct: fails the build when it does not fit. */
#define EML_PARAMS_FIT(type) _Static_assert(sizeof(type) <= EML_PARAMS_MAX, #type " too large")

typedef struct eml_node eml_node;
typedef struct eml_attr eml_attr;

typedef struct eml_prepare_ctx {
    const eml_node *node;   /* attributes, name, input/output counts */
    eml_op_id op;
    int32_t opset;          /* opset version of the node's domain */
    void *params;           /* zeroed, EML_PARAMS_MAX bytes; the kernel receives it */
    eml_diag *diag;
} eml_prepare_ctx;

typedef eml_status (*eml_prepare_fn)(eml_prepare_ctx *ctx);

typedef struct eml_infer_ctx {
    const void *params;
    eml_op_id op;
    int32_t opset;
    const char *node_name;
    const eml_tensor *inputs;   /* concrete shapes; data non-NULL only when the value is known */
    int32_t n_inputs;
    eml_tensor *outputs;        /* infer sets dtype, rank and dims of each present output */
    int32_t n_outputs;
    size_t scratch_bytes;       /* infer may ask for scratch memory for the kernel */
    uint64_t macs;              /* infer may report multiply-accumulates, for `edgeml info` */
    eml_diag *diag;
} eml_infer_ctx;

/* Returns EML_OK; EML_EDYNAMIC when an output shape needs input data that is not known yet
 * (set output dtypes first); EML_ESHAPE / EML_ETYPE / EML_EUNSUPPORTED with a diag. */
typedef eml_status (*eml_infer_fn)(eml_infer_ctx *ctx);

typedef struct eml_op_info {
    const char *name;
    const char *domain;     /* "" for ONNX's default domain */
    int32_t since;          /* first opset of its domain defining the op */
    int32_t min_inputs, max_inputs;   /* max -1: variadic */
    int32_t min_outputs, max_outputs;
    eml_prepare_fn prepare;
    eml_infer_fn infer;
    eml_kernel_fn kernel;   /* NULL for ops the runtime runs itself (If) */
} eml_op_info;

/* EML_OP_UNKNOWN when (domain, name) is not a supported op; domain "" or "ai.onnx" is ONNX's
 * default domain. */
eml_op_id eml__op_find(const char *domain, const char *name);
const eml_op_info *eml__op_info(eml_op_id op);

/* ---- helpers for prepare: read attributes, refuse what is not supported ---- */

/* Sets the diag to "unsupported: <op> (opset N) at node '<name>': <detail>" and returns
 * EML_EUNSUPPORTED. */
eml_status eml__unsupported(const eml_prepare_ctx *ctx, const char *fmt, ...) EML_PRINTF(2, 3);
/* EML_EGRAPH with "<op> at node '<name>': <detail>" (invalid attribute values). */
eml_status eml__bad_attr(const eml_prepare_ctx *ctx, const char *fmt, ...) EML_PRINTF(2, 3);

/* Each returns EML_OK (the default when absent) or EML_EGRAPH when present with another type. */
eml_status eml__attr_int(const eml_prepare_ctx *ctx, const char *name, int64_t def, int64_t *out);
eml_status eml__attr_float(const eml_prepare_ctx *ctx, const char *name, float def, float *out);
/* STRING; *out borrowed from the graph; def when absent. */
eml_status eml__attr_string(const eml_prepare_ctx *ctx, const char *name, const char *def,
                            const char **out);
/* INTS / FLOATS into out[cap]; *count = -1 when absent; EML_EUNSUPPORTED when more than cap. */
eml_status eml__attr_ints(const eml_prepare_ctx *ctx, const char *name, int64_t *out, int cap,
                          int *count);
eml_status eml__attr_floats(const eml_prepare_ctx *ctx, const char *name, float *out, int cap,
                            int *count);
/* TENSOR; *out borrowed from the graph, NULL when absent. */
eml_status eml__attr_tensor(const eml_prepare_ctx *ctx, const char *name, const eml_tensor **out);
/* Fails (unsupported) when the node has an attribute not named in the NULL-ended list. */
eml_status eml__attr_only(const eml_prepare_ctx *ctx, const char *const *known);

/* ---- helpers for infer ---- */

static inline bool eml__in_present(const eml_infer_ctx *ctx, int32_t i)
{
    return i < ctx->n_inputs && ctx->inputs[i].dtype != EML_DTYPE_UNDEFINED;
}

/* EML_ESHAPE / EML_ETYPE with "<op> at node '<name>': <detail>". */
eml_status eml__infer_error(const eml_infer_ctx *ctx, eml_status status, const char *fmt, ...)
    EML_PRINTF(3, 4);
/* EML_EUNSUPPORTED with "unsupported: <op> (opset N) at node '<name>': <detail>" (e.g. an input
 * dtype the op does not take). */
eml_status eml__infer_unsupported(const eml_infer_ctx *ctx, const char *fmt, ...) EML_PRINTF(2, 3);
/* EML_EDYNAMIC when input i has no known data yet (its value decides an output shape). */
static inline eml_status eml__infer_need_data(const eml_infer_ctx *ctx, int32_t i)
{
    return ctx->inputs[i].data ? EML_OK : EML_EDYNAMIC;
}
/* Sets output i to dtype and shape. */
void eml__set_output(eml_infer_ctx *ctx, int32_t i, eml_dtype dtype, const int64_t *dims,
                     int rank);
/* Numpy-style broadcast of two shapes into out; EML_ESHAPE when incompatible. */
eml_status eml__broadcast_shape(const int64_t *a, int ra, const int64_t *b, int rb, int64_t *out,
                                int *rout);
/* Normalizes a possibly negative axis into [0, rank); false when out of range. */
bool eml__norm_axis(int64_t axis, int rank, int64_t *out);

#endif
