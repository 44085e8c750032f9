/* Cast: its params, prepare/infer/kernel, and the saturating float-to-integer conversions that
 * other kernels share. */
#ifndef EML_KERNELS_REF_CAST_H
#define EML_KERNELS_REF_CAST_H

#include <math.h>

/* op.h for EML_PARAMS_FIT and the prepare/infer ctx types; it includes only core and kernel.h. */
#include "graph/op.h"

typedef struct eml_cast_params {
    int32_t to; /* eml_dtype of the output */
} eml_cast_params;
EML_PARAMS_FIT(eml_cast_params);

/* Float to integer conversion without C's undefined behaviour: truncates toward zero, clamps to
 * [lo, hi] (those of the target type), NaN gives 0. */
static inline int64_t eml__f64_to_i64_sat(double v, int64_t lo, int64_t hi)
{
    if (isnan(v))
        return 0;
    if (v <= (double)lo)
        return lo;
    /* (double)INT64_MAX rounds up to 2^63, the first value out of range: >= is the right test */
    if (v >= (double)hi)
        return hi;
    return (int64_t)v;
}

static inline uint64_t eml__f64_to_u64_sat(double v, uint64_t hi)
{
    if (isnan(v) || v <= 0.0)
        return 0;
    if (v >= (double)hi)
        return hi;
    return (uint64_t)v;
}

/* Converts n elements between any two supported dtypes (same rules as the Cast op). */
void eml__cast_run(const void *src, eml_dtype from, void *dst, eml_dtype to, int64_t n);

eml_status eml__cast_prepare(eml_prepare_ctx *ctx);
eml_status eml__cast_infer(eml_infer_ctx *ctx);
eml_status eml__ref_cast(const eml_kernel_ctx *ctx);

#endif
