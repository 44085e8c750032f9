/* The pooling family (AveragePool, MaxPool, GlobalAveragePool, GlobalMaxPool) and LRN: params,
 * geometry and the op entry points. */
#ifndef EML_KERNELS_REF_POOL_H
#define EML_KERNELS_REF_POOL_H

#include "kernels/ref/conv.h"

/* Counts are -1 when the attribute is absent; infer checks them against the input rank. */
typedef struct eml_pool_params {
    int32_t is_max;              /* MaxPool (else AveragePool) */
    int32_t auto_pad;            /* eml_auto_pad */
    int32_t ceil_mode, count_include_pad, storage_order;
    int32_t kernel_count, strides_count, dilations_count, pads_count;
    int64_t kernel[EML_CONV_MAX_SPATIAL];
    int64_t strides[EML_CONV_MAX_SPATIAL];
    int64_t dilations[EML_CONV_MAX_SPATIAL];
    int64_t pads[2 * EML_CONV_MAX_SPATIAL];
} eml_pool_params;
EML_PARAMS_FIT(eml_pool_params);

typedef struct eml_global_pool_params {
    int32_t is_max;
} eml_global_pool_params;
EML_PARAMS_FIT(eml_global_pool_params);

typedef struct eml_lrn_params {
    float alpha, beta, bias;
    int64_t size;
} eml_lrn_params;
EML_PARAMS_FIT(eml_lrn_params);

/* Window geometry of a pool over x [N, C, spatial...] (in_channels = out_channels = C).
 * Returns EML_OK or EML_ESHAPE with a reason in why. */
eml_status eml__pool_geom(const eml_pool_params *p, const eml_tensor *x, eml_conv_geom *g,
                          char *why, size_t why_cap);

/* Scratch bytes the AveragePool/MaxPool kernel needs for geometry g (infer asks for them). */
size_t eml__pool_scratch_bytes(const eml_conv_geom *g);

eml_status eml__pool_prepare(eml_prepare_ctx *ctx);
eml_status eml__pool_infer(eml_infer_ctx *ctx);
eml_status eml__global_pool_prepare(eml_prepare_ctx *ctx);
eml_status eml__global_pool_infer(eml_infer_ctx *ctx);
eml_status eml__lrn_prepare(eml_prepare_ctx *ctx);
eml_status eml__lrn_infer(eml_infer_ctx *ctx);

eml_status eml__ref_pool(const eml_kernel_ctx *ctx);
eml_status eml__ref_global_pool(const eml_kernel_ctx *ctx);
eml_status eml__ref_lrn(const eml_kernel_ctx *ctx);

#endif
