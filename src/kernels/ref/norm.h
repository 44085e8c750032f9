/* The normalization family (BatchNormalization, InstanceNormalization, LayerNormalization):
 * params and the prepare/infer/kernel entry points named in ops.def. */
#ifndef EML_KERNELS_REF_NORM_H
#define EML_KERNELS_REF_NORM_H

#include "graph/op.h"
#include "kernels/kernel.h"
#include "kernels/ref/reduce.h"

typedef struct eml_batchnorm_params {
    float epsilon;
    float momentum;
    int32_t training;  /* opset 14+ training_mode=1: batch statistics; outputs 1, 2 are the
                          updated running mean and variance */
    int32_t spatial;   /* 0 (opset < 9): scale, B, mean, var hold one value per element of
                          X.shape[1:] instead of one per channel */
} eml_batchnorm_params;
EML_PARAMS_FIT(eml_batchnorm_params);

/* X as [batch, channels, inner]: a 1-D X is one channel; spatial=0 makes every element of
 * X.shape[1:] a channel of its own. */
static inline void eml__batchnorm_view(const eml_batchnorm_params *p, const eml_tensor *x,
                                       int64_t *batch, int64_t *channels, int64_t *inner)
{
    *batch = x->rank > 0 ? x->dims[0] : 1;
    *channels = 1;
    *inner = 1;
    if (x->rank >= 2 && !p->spatial) {
        *channels = eml__shape_count(x->dims + 1, x->rank - 1);
    } else if (x->rank >= 2) {
        *channels = x->dims[1];
        *inner = eml__shape_count(x->dims + 2, x->rank - 2);
    }
}

eml_status eml__batchnorm_prepare(eml_prepare_ctx *ctx);
eml_status eml__batchnorm_infer(eml_infer_ctx *ctx);
eml_status eml__ref_batchnorm(const eml_kernel_ctx *ctx);

typedef struct eml_instancenorm_params {
    float epsilon;
} eml_instancenorm_params;
EML_PARAMS_FIT(eml_instancenorm_params);

eml_status eml__instancenorm_prepare(eml_prepare_ctx *ctx);
eml_status eml__instancenorm_infer(eml_infer_ctx *ctx);
eml_status eml__ref_instancenorm(const eml_kernel_ctx *ctx);

typedef struct eml_layernorm_params {
    int64_t axis;       /* first normalized axis, in [-r, r] */
    float epsilon;
} eml_layernorm_params;
EML_PARAMS_FIT(eml_layernorm_params);

/* The normalized axis for a rank-`rank` input, in [0, rank]; false when out of range. */
static inline bool eml__layernorm_axis(const eml_layernorm_params *p, int rank, int64_t *axis)
{
    if (p->axis == rank) {
        *axis = rank;
        return true;
    }
    return eml__norm_axis(p->axis, rank, axis);
}

eml_status eml__layernorm_prepare(eml_prepare_ctx *ctx);
eml_status eml__layernorm_infer(eml_infer_ctx *ctx);
eml_status eml__ref_layernorm(const eml_kernel_ctx *ctx);

#endif
