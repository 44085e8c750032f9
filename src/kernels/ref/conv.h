/* The convolution family (Conv, ConvTranspose, ConvInteger, QLinearConv): params, the geometry
 * shared by shape inference and kernels, the im2col/GEMM helpers and the op entry points. */
#ifndef EML_KERNELS_REF_CONV_H
#define EML_KERNELS_REF_CONV_H

/* op.h for EML_PARAMS_FIT and the prepare/infer ctx types; it includes only core and kernel.h. */
#include "graph/op.h"

/* Spatial dims a conv or pool may have: a tensor of EML_MAX_RANK less batch and channels. */
#define EML_CONV_MAX_SPATIAL (EML_MAX_RANK - 2)

typedef enum eml_auto_pad {
    EML_AUTO_PAD_NOTSET = 0,
    EML_AUTO_PAD_SAME_UPPER = 1,
    EML_AUTO_PAD_SAME_LOWER = 2,
    EML_AUTO_PAD_VALID = 3
} eml_auto_pad;

/* Attributes as written in the node; counts are -1 when the attribute is absent. Counts are
 * checked against the input rank by infer, values (positive strides...) by prepare. */
typedef struct eml_conv_params {
    int32_t auto_pad;   /* eml_auto_pad */
    int32_t kernel_count, strides_count, dilations_count, pads_count;
    int32_t output_padding_count, output_shape_count;   /* ConvTranspose only */
    int64_t group;
    int64_t kernel[EML_CONV_MAX_SPATIAL];
    int64_t strides[EML_CONV_MAX_SPATIAL];
    int64_t dilations[EML_CONV_MAX_SPATIAL];
    int64_t pads[2 * EML_CONV_MAX_SPATIAL];
    int64_t output_padding[EML_CONV_MAX_SPATIAL];
    int64_t output_shape[EML_MAX_RANK];   /* spatial dims, or the whole output shape */
} eml_conv_params;
EML_PARAMS_FIT(eml_conv_params);

/* Everything a conv or pool kernel needs to walk its tensors, resolved from params and shapes.
 * For ConvTranspose, `in` is the input X and `out` the (larger) output Y. */
typedef struct eml_conv_geom {
    int32_t n_spatial;
    int64_t batch, in_channels, out_channels, group;
    int64_t in[EML_CONV_MAX_SPATIAL], out[EML_CONV_MAX_SPATIAL];
    int64_t kernel[EML_CONV_MAX_SPATIAL], stride[EML_CONV_MAX_SPATIAL];
    int64_t dilation[EML_CONV_MAX_SPATIAL];
    int64_t pad_begin[EML_CONV_MAX_SPATIAL], pad_end[EML_CONV_MAX_SPATIAL];
    int64_t in_size, out_size, kernel_size;   /* products over the spatial dims */
} eml_conv_geom;

/* Geometry of Conv (transpose false: x [N,C,...], w [M,C/group,k...]) or ConvTranspose
 * (transpose true: w [C,M/group,k...]). Returns EML_OK, or EML_ESHAPE with a reason in why.
 * Infer calls it to validate; kernels call it again on the validated shapes. */
eml_status eml__conv_geom(const eml_conv_params *p, const eml_tensor *x, const eml_tensor *w,
                          bool transpose, eml_conv_geom *g, char *why, size_t why_cap);

/* Spatial output size and pads of a conv/pool window along one axis (auto_pad, explicit pads,
 * ceil_mode). effective_kernel = (kernel - 1) * dilation + 1. Returns false when the output
 * would be empty or negative. */
bool eml__conv_out_dim(int32_t auto_pad, int64_t in, int64_t effective_kernel, int64_t stride,
                       int64_t pad_begin_attr, int64_t pad_end_attr, bool ceil_mode,
                       int64_t *out, int64_t *pad_begin, int64_t *pad_end);

/* ---- im2col / GEMM building blocks shared by the conv kernels ---- */

/* Below this many element operations a step runs on the calling thread: waking the pool would
 * cost more than the work. */
#define EML_CONV_INLINE_WORK 32768.0

/* Output positions handled per im2col chunk: bounds the scratch of big images. */
int64_t eml__conv_chunk(int64_t positions, int64_t rows, size_t elem_bytes);

/* Scratch bytes: the sum of each part rounded up to EML_ALIGN; false on overflow. */
bool eml__scratch_add(size_t *total, uint64_t count, size_t elem_bytes);
/* The part after `*offset` of that layout; advances offset. */
void *eml__scratch_take(void *scratch, size_t *offset, uint64_t count, size_t elem_bytes);

/* col[k][p - p0] for rows k of one group (channel c0 + k / kernel_size) and output positions
 * [p0, p1): the input value under the window, zero in the padding. x points at channel 0 of
 * one image. Types: f32 → f32, f64 → f64, f16/bf16 → f32, u8/i8 → int16 less zero_point. */
typedef struct eml_im2col_job {
    const eml_conv_geom *g;
    const void *x;
    eml_dtype dtype;
    int32_t zero_point;   /* integer inputs only */
    int64_t c0, p0, p1;
    void *col;            /* rows × (p1 - p0) */
} eml_im2col_job;
void eml__im2col(const eml_im2col_job *job, eml_pool *pool, int64_t rows);

/* C[m][p] += sum_k A[m * a_row + k * a_col] * B[k * ldb + p] for m < M, p < P.
 * Blocked so that a tile of B stays in cache; split over column tiles (independent outputs,
 * so results do not depend on the thread count). */
void eml__gemm_f32(eml_pool *pool, int64_t M, int64_t P, int64_t K, const float *A, int64_t a_row,
                   int64_t a_col, const float *B, int64_t ldb, float *C, int64_t ldc);
void eml__gemm_f64(eml_pool *pool, int64_t M, int64_t P, int64_t K, const double *A,
                   int64_t a_row, int64_t a_col, const double *B, int64_t ldb, double *C,
                   int64_t ldc);
/* Integer variant: int16 operands, int32 accumulation that wraps like the hardware's. */
void eml__gemm_s16(eml_pool *pool, int64_t M, int64_t P, int64_t K, const int16_t *A,
                   int64_t a_row, int64_t a_col, const int16_t *B, int64_t ldb, int32_t *C,
                   int64_t ldc);

/* ---- op entry points (named in ops.def) ---- */
eml_status eml__conv_prepare(eml_prepare_ctx *ctx);
eml_status eml__conv_infer(eml_infer_ctx *ctx);
eml_status eml__conv_integer_infer(eml_infer_ctx *ctx);
eml_status eml__qlinear_conv_infer(eml_infer_ctx *ctx);
eml_status eml__conv_transpose_prepare(eml_prepare_ctx *ctx);
eml_status eml__conv_transpose_infer(eml_infer_ctx *ctx);

eml_status eml__ref_conv(const eml_kernel_ctx *ctx);
eml_status eml__ref_conv_transpose(const eml_kernel_ctx *ctx);
eml_status eml__ref_conv_integer(const eml_kernel_ctx *ctx);
eml_status eml__ref_qlinear_conv(const eml_kernel_ctx *ctx);

/* Scratch bytes each kernel needs for geometry g and input dtype (infer asks for them). */
bool eml__conv_scratch(const eml_conv_geom *g, eml_dtype dtype, size_t *bytes);
bool eml__conv_transpose_scratch(const eml_conv_geom *g, eml_dtype dtype, size_t *bytes);
bool eml__conv_integer_scratch(const eml_conv_geom *g, bool requantize, size_t *bytes);

#endif
