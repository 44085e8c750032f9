/* Elementwise unary ops (math functions, activations, Not/IsNaN/IsInf, Clip): params and the
 * prepare/infer/kernel functions that ops.def names. */
#ifndef EML_KERNELS_REF_UNARY_H
#define EML_KERNELS_REF_UNARY_H

#include "graph/op.h"

/* The elementwise functions of this family. The kernel knows these, not graph op ids, so that
 * kernels stay below the graph module; graph/ops/unary.c maps each op onto one. */
#define EML_UNARY_FN_LIST(X)                                                                       \
    X(ABS) X(ACOS) X(ACOSH) X(ASIN) X(ASINH) X(ATAN) X(ATANH) X(CEIL) X(COS) X(COSH) X(ERF)       \
    X(EXP) X(FLOOR) X(LOG) X(NEG) X(RECIPROCAL) X(ROUND) X(SIGMOID) X(SIGN) X(SIN) X(SINH)        \
    X(SQRT) X(TAN) X(TANH) X(SOFTPLUS) X(SOFTSIGN) X(NOT) X(ISNAN) X(ISINF) X(RELU) X(ELU)        \
    X(CELU) X(SELU) X(LEAKY_RELU) X(HARD_SIGMOID) X(HARD_SWISH) X(THRESHOLDED_RELU) X(SHRINK)

typedef enum eml_unary_fn {
#define EML__UNARY_ENUM(name) EML_UNARY_##name,
    EML_UNARY_FN_LIST(EML__UNARY_ENUM)
#undef EML__UNARY_ENUM
    EML_UNARY_FN_COUNT
} eml_unary_fn;

typedef struct eml_unary_params {
    int32_t fn;             /* eml_unary_fn */
    /* Attributes, by op: Elu/Celu/LeakyRelu/ThresholdedRelu alpha; Selu alpha, gamma;
     * HardSigmoid (and HardSwish's fixed 1/6, 0.5) alpha, beta; Shrink lambd in alpha, bias in
     * beta. */
    float alpha, beta, gamma;
    int32_t detect_positive, detect_negative; /* IsInf */
} eml_unary_params;
EML_PARAMS_FIT(eml_unary_params);

typedef struct eml_clip_params {
    int32_t from_inputs;    /* opset >= 11: min and max are optional inputs 1 and 2 */
    int32_t has_min, has_max; /* opset < 11: which attribute bounds apply */
    float min, max;
} eml_clip_params;
EML_PARAMS_FIT(eml_clip_params);

eml_status eml__unary_prepare(eml_prepare_ctx *ctx);
eml_status eml__unary_infer(eml_infer_ctx *ctx);
eml_status eml__ref_unary(const eml_kernel_ctx *ctx);

eml_status eml__clip_prepare(eml_prepare_ctx *ctx);
eml_status eml__clip_infer(eml_infer_ctx *ctx);
eml_status eml__ref_clip(const eml_kernel_ctx *ctx);

#endif
