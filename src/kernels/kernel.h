/* What every kernel sees when it runs: tensors, the op's params, scratch memory and the pool. */
#ifndef EML_KERNELS_KERNEL_H
#define EML_KERNELS_KERNEL_H

#include "core/core.h"

typedef struct eml_kernel_ctx {
    const void *params;         /* the op's params struct, filled by its prepare at load time */
    const eml_tensor *inputs;   /* an omitted optional input has dtype UNDEFINED and data NULL */
    int32_t n_inputs;
    eml_tensor *outputs;        /* shape and dtype set by the op's infer; data allocated */
    int32_t n_outputs;
    void *scratch;              /* scratch_bytes asked for by infer, 64-byte aligned */
    size_t scratch_bytes;
    eml_pool *pool;             /* may be NULL; split work only over independent outputs */
    eml_diag *diag;             /* for data-dependent errors (an index out of range) */
} eml_kernel_ctx;

typedef eml_status (*eml_kernel_fn)(const eml_kernel_ctx *ctx);

/* True when optional input i was given. */
static inline bool eml__kin_present(const eml_kernel_ctx *ctx, int32_t i)
{
    return i < ctx->n_inputs && ctx->inputs[i].dtype != EML_DTYPE_UNDEFINED;
}

/* Reads element i of an integer or float tensor as double / int64 (for small index and shape
 * tensors, never on hot paths). */
double eml__tensor_get_f64(const eml_tensor *t, int64_t i);
int64_t eml__tensor_get_i64(const eml_tensor *t, int64_t i);
/* Writes element i converting from double (saturating casts are the caller's business). */
void eml__tensor_set_f64(eml_tensor *t, int64_t i, double v);

/* Row-major strides (in elements) of a shape. */
void eml__strides(const int64_t *dims, int rank, int64_t *strides);

#endif
