/* f32 elementwise micro-kernels (binary arithmetic, activations, softmax rows): one table of them
 * per ISA, listed best first in src/kernels/lists/f32_velementwise.inc. The fast Add/Sub/Mul/Div,
 * unary activations, Clip and Softmax kernels (src/kernels/fast_elementwise.c) run them. */
#ifndef EML_KERNELS_VELEMENTWISE_H
#define EML_KERNELS_VELEMENTWISE_H

#include "core/core.h"
#include "core/cpu.h"

/* y[i] = a[i] op b[i] for i < n, where a scalar operand (see the patterns) is read once from
 * a[0] or b[0]. Any alignment; y may be a or b (in place). */
typedef void (*eml_f32_vbinary_fn)(size_t n, const float *a, const float *b, float *y);

typedef enum eml_f32_vbinary_op {
    EML_F32_VADD = 0,
    EML_F32_VSUB = 1,
    EML_F32_VMUL = 2,
    EML_F32_VDIV = 3,
    EML_F32_VBINARY_OPS = 4
} eml_f32_vbinary_op;

typedef enum eml_f32_vbinary_pattern {
    EML_F32_VV = 0, /* both operands are vectors */
    EML_F32_VS = 1, /* b is a scalar */
    EML_F32_SV = 2, /* a is a scalar */
    EML_F32_VBINARY_PATTERNS = 3
} eml_f32_vbinary_pattern;

/* Constants of the unary functions, filled once from the op's attributes. */
typedef struct eml_f32_vunary_params {
    float alpha; /* LeakyRelu slope; HardSigmoid/HardSwish alpha */
    float beta;  /* HardSigmoid/HardSwish beta */
    float min;   /* Clamp bounds (-inf / +inf where absent) */
    float max;
} eml_f32_vunary_params;

/* y[i] = f(x[i]) for i < n. Any alignment; y may be x. NaN in gives NaN out for every function
 * (Relu, LeakyRelu, Clamp, HardSigmoid and HardSwish pass NaN through like the reference
 * kernels). */
typedef void (*eml_f32_vunary_fn)(size_t n, const float *x, float *y,
                                  const eml_f32_vunary_params *params);

/* Maximum errors against the exact function, which tests/unit/test_fast_elementwise.c holds
 * every variant to over every 509th float of the whole range (it measured exp 7.4e-8, sigmoid
 * 1.7e-7, tanh 1.5e-7 relative and erf 1.25e-7 absolute). Relative for exp (above its flush
 * point: exp(x) is 0 for x < -86.9, an absolute error below 2e-38), sigmoid (likewise for
 * x < -86.9) and tanh; absolute for erf. Relu, LeakyRelu, Clamp, HardSigmoid and HardSwish
 * round exactly like the reference kernels. */
#define EML_F32_VEXP_MAX_REL_ERROR 1.5e-7f
#define EML_F32_VSIGMOID_MAX_REL_ERROR 2.5e-7f
#define EML_F32_VTANH_MAX_REL_ERROR 2.5e-7f
#define EML_F32_VERF_MAX_ABS_ERROR 2e-7f

typedef enum eml_f32_vunary_op {
    EML_F32_VRELU = 0,
    EML_F32_VLEAKY_RELU = 1,
    EML_F32_VCLAMP = 2,
    EML_F32_VSIGMOID = 3,
    EML_F32_VTANH = 4,
    EML_F32_VHARD_SIGMOID = 5,
    EML_F32_VHARD_SWISH = 6,
    EML_F32_VEXP = 7,
    EML_F32_VERF = 8,
    EML_F32_VSILU = 9, /* x·sigmoid(x), the sigmoid rounded to float first (fused activations) */
    EML_F32_VUNARY_OPS = 10
} eml_f32_vunary_op;

/* One row of n >= 1 contiguous floats: y = softmax(x) or log_softmax(x), computed in float with
 * the row's maximum subtracted first. y may be x. */
typedef void (*eml_f32_vrow_fn)(size_t n, const float *x, float *y);

/* Every micro-kernel of one ISA. */
typedef struct eml_f32_velem_ops {
    const char *isa_name; /* "avx512", "avx2" */
    uint32_t isa;         /* EML_ISA_* it needs */
    uint32_t width;       /* floats per vector */
    eml_f32_vbinary_fn binary[EML_F32_VBINARY_OPS][EML_F32_VBINARY_PATTERNS];
    eml_f32_vunary_fn unary[EML_F32_VUNARY_OPS];
    eml_f32_vrow_fn softmax;
    eml_f32_vrow_fn log_softmax;
} eml_f32_velem_ops;

#define EML_VELEM(isa, table) extern const eml_f32_velem_ops table;
#include "kernels/lists/f32_velementwise.inc"
#undef EML_VELEM

/* Every table built for this architecture, best first (*count may be 0). Whether the CPU runs
 * one is up to the caller (eml__cpu_has). */
const eml_f32_velem_ops *const *eml__f32_velem_tables(size_t *count);

/* The first listed table whose features are present (EML_ISA caps them); NULL when none is:
 * the reference kernels then run. */
const eml_f32_velem_ops *eml__f32_velem_select(void);

#endif
