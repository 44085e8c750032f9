/* Elementwise ops with broadcasting (binary arithmetic, comparison and logic, PRelu, variadic
 * Max/Min/Mean/Sum, Where, Expand): params, the shared broadcast loop, prepare/infer/kernels. */
#ifndef EML_KERNELS_REF_BINARY_H
#define EML_KERNELS_REF_BINARY_H

/* op.h for EML_PARAMS_FIT and the prepare/infer ctx types; it includes only core and kernel.h. */
#include "graph/op.h"

/* What a binary row computes; append-only like every enum here. */
typedef enum eml_binary_kind {
    EML_BINARY_ADD = 0,
    EML_BINARY_SUB = 1,
    EML_BINARY_MUL = 2,
    EML_BINARY_DIV = 3,
    EML_BINARY_POW = 4,
    EML_BINARY_MOD = 5,   /* integer mod: the sign of the divisor (Python's %) */
    EML_BINARY_FMOD = 6,  /* C fmod: the sign of the dividend */
    EML_BINARY_AND = 7,
    EML_BINARY_OR = 8,
    EML_BINARY_XOR = 9,
    EML_BINARY_EQUAL = 10,
    EML_BINARY_GREATER = 11,
    EML_BINARY_GREATER_EQUAL = 12,
    EML_BINARY_LESS = 13,
    EML_BINARY_LESS_EQUAL = 14,
    EML_BINARY_PRELU = 15,
    EML_BINARY_MAX = 16,
    EML_BINARY_MIN = 17
} eml_binary_kind;

/* How B's dims line up with A's. */
typedef enum eml_bcast_mode {
    EML_BCAST_NUMPY = 0,   /* right-aligned (opset >= 7, and opset < 7 without `axis`) */
    EML_BCAST_AXIS = 1,    /* opset < 7 broadcast=1 with axis: B starts at A's dim `axis` */
    EML_BCAST_CHANNEL = 2  /* PRelu opset < 7: a 1-D slope of A's dim 1 is per channel */
} eml_bcast_mode;

typedef struct eml_binary_params {
    int32_t kind;           /* eml_binary_kind */
    int32_t mode;           /* eml_bcast_mode */
    int64_t axis;           /* EML_BCAST_AXIS only; may be negative (counts from A's rank) */
    int32_t unidirectional; /* the output has A's shape: B must broadcast to A (PRelu, legacy) */
} eml_binary_params;
EML_PARAMS_FIT(eml_binary_params);

/* Max, Min, Sum, Mean: a binary kind folded over the inputs, then divided by their count. */
typedef struct eml_variadic_params {
    int32_t kind;   /* EML_BINARY_MAX, EML_BINARY_MIN or EML_BINARY_ADD */
    int32_t mean;   /* divide by the number of inputs at the end */
} eml_variadic_params;
EML_PARAMS_FIT(eml_variadic_params);

/* ---- the broadcast loop (shared by every op of this family) ---- */

#define EML_BCAST_MAX_INPUTS 3

/* One innermost run of the loop: n elements; in[k] points at input k's first element of the run
 * and steps by s[k] elements (0: broadcast, 1: dense). `user` is the caller's, unchanged. */
typedef void (*eml_bcast_row_fn)(const void *user, void *out, const void *const *in,
                                 const int64_t *s, int64_t n);

/* Runs row() over every element of `out` (shape and data set), the inputs broadcast numpy-style
 * (right-aligned) to out's shape, which the caller has checked. Splits rows over the pool when
 * the tensor is large. */
void eml__bcast_run(eml_tensor *out, const eml_tensor *const *in, int n_in, eml_bcast_row_fn row,
                    const void *user, eml_pool *pool);

/* B's dims as the broadcast sees them: unchanged for numpy mode, padded with 1s to A's rank for
 * the legacy modes. EML_ESHAPE when a legacy axis does not fit A. */
eml_status eml__binary_align(const eml_binary_params *p, const eml_tensor *a, const eml_tensor *b,
                             int64_t *b_dims, int *b_rank);

/* True when the binary kind has a kernel for these input dtypes (b: the exponent for Pow; the
 * same as a for every other kind). */
bool eml__binary_supported(eml_binary_kind kind, eml_dtype a, eml_dtype b);

/* ---- the ops (named in ops.def) ---- */
eml_status eml__binary_prepare(eml_prepare_ctx *ctx);
eml_status eml__binary_infer(eml_infer_ctx *ctx);
eml_status eml__ref_binary(const eml_kernel_ctx *ctx);

eml_status eml__variadic_prepare(eml_prepare_ctx *ctx);
eml_status eml__variadic_infer(eml_infer_ctx *ctx);
eml_status eml__ref_variadic(const eml_kernel_ctx *ctx);

eml_status eml__where_prepare(eml_prepare_ctx *ctx);
eml_status eml__where_infer(eml_infer_ctx *ctx);
eml_status eml__ref_where(const eml_kernel_ctx *ctx);

eml_status eml__expand_prepare(eml_prepare_ctx *ctx);
eml_status eml__expand_infer(eml_infer_ctx *ctx);
eml_status eml__ref_expand(const eml_kernel_ctx *ctx);

#endif
