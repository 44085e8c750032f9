/* The activation a fused op (FusedConv, FusedGemm, FusedMatMul) applies to its result in place,
 * with the formulas of the unary family's kernels so that a fused node computes exactly what the
 * unfused pair of nodes does. */
#ifndef EML_KERNELS_REF_ACTIVATION_H
#define EML_KERNELS_REF_ACTIVATION_H

#include "kernels/kernel.h"

/* Values are stored in params structs only, never in files: files name activations by string
 * (the ONNX op names, plus "SiLU" for x * Sigmoid(x)). */
typedef enum eml_activation_kind {
    EML_ACTIVATION_NONE = 0,
    EML_ACTIVATION_RELU = 1,         /* max(x, 0) */
    EML_ACTIVATION_CLIP = 2,         /* min(max(x, alpha), beta): alpha = min, beta = max */
    EML_ACTIVATION_LEAKY_RELU = 3,   /* x < 0 ? alpha * x : x */
    EML_ACTIVATION_HARD_SIGMOID = 4, /* clamp(alpha * x + beta, 0, 1) */
    EML_ACTIVATION_HARD_SWISH = 5,   /* x * clamp(x / 6 + 1/2, 0, 1) */
    EML_ACTIVATION_SIGMOID = 6,      /* 1 / (1 + exp(-x)) */
    EML_ACTIVATION_TANH = 7,
    EML_ACTIVATION_SILU = 8 /* x * Sigmoid(x), the sigmoid rounded to the dtype first */
} eml_activation_kind;

typedef struct eml_activation {
    int32_t kind; /* eml_activation_kind */
    float alpha, beta;
} eml_activation;

/* Applies a to the n elements of data (float32, float64, float16 or bfloat16; float16/bfloat16
 * computed in float32 and rounded after each step, as the unfused ops do). pool may be NULL. */
void eml__activation_apply(const eml_activation *a, eml_dtype dtype, void *data, int64_t n,
                           eml_pool *pool);

/* y[i] += z[i] for n elements of one float dtype (float16/bfloat16 through float32). */
void eml__activation_add(eml_dtype dtype, void *y, const void *z, int64_t n, eml_pool *pool);

#endif
