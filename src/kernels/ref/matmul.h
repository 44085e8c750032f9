/* The matrix-product family (Gemm, MatMul, MatMulInteger, QLinearMatMul, Einsum): params, shape
 * binding shared by infer and the kernels, and the op functions named in ops.def. */
#ifndef EML_KERNELS_REF_MATMUL_H
#define EML_KERNELS_REF_MATMUL_H

#include "graph/op.h"

/* ---- Gemm ---- */

typedef struct eml_gemm_params {
    float alpha;
    float beta;
    int32_t trans_a;   /* 0 or 1 */
    int32_t trans_b;
} eml_gemm_params;
EML_PARAMS_FIT(eml_gemm_params);

/* ---- MatMul-like shapes (numpy matmul: 1-D promotion, batch broadcasting) ---- */

typedef struct eml_matmul_shape {
    int64_t m, n, k;
    int n_batch;                            /* broadcast batch dims of the output */
    int64_t batch_dims[EML_MAX_RANK];
    int64_t a_batch_strides[EML_MAX_RANK];  /* elements; 0 where A is broadcast */
    int64_t b_batch_strides[EML_MAX_RANK];
    int64_t batch_count;                    /* product of batch_dims */
    int out_rank;
    int64_t out_dims[EML_MAX_RANK];
} eml_matmul_shape;

/* Binds numpy matmul shapes of a and b. Returns EML_OK or EML_ESHAPE (rank 0, inner dims differ,
 * batch dims not broadcastable, output rank above EML_MAX_RANK). */
eml_status eml__matmul_shape(const eml_tensor *a, const eml_tensor *b, eml_matmul_shape *out);

/* Where a per-tensor / per-row (A side) / per-column (B side) quantization parameter (zero point
 * or scale) is read: offset = sum(batch index * batch_strides) + row-or-column * vec_stride. */
typedef struct eml_matmul_qparam {
    int64_t batch_strides[EML_MAX_RANK];
    int64_t vec_stride;
} eml_matmul_qparam;

/* p: a parameter of A (a_side) or of B. Accepts one element (per tensor), a 1-D vector of M (A)
 * or N (B) elements, or an N-D tensor shaped [..., M, 1] (A) or [..., 1, N] (B) whose leading
 * dims broadcast to the batch dims. Returns EML_OK or EML_ESHAPE. */
eml_status eml__matmul_qparam(const eml_matmul_shape *s, const eml_tensor *p, bool a_side,
                              eml_matmul_qparam *out);

/* Scratch the reference kernels need: MatMul/Gemm (per matrix product of M×K by K×N; nonzero
 * only for float16/bfloat16), MatMulInteger and QLinearMatMul. */
size_t eml__ref_matmul_scratch_bytes(eml_dtype dtype, int64_t m, int64_t n, int64_t k);
size_t eml__ref_matmul_integer_scratch_bytes(int64_t m, int64_t n, int64_t k, bool qlinear);

/* ---- Einsum ---- */

#define EML_EINSUM_MAX_OPERANDS 32
#define EML_EINSUM_MAX_TERM (EML_MAX_RANK + 1)  /* letters of one term, the ellipsis included */
#define EML_EINSUM_ELLIPSIS 127                 /* the ellipsis in a term */
#define EML_EINSUM_LETTERS 52                   /* a-z then A-Z, as label codes 0..51 */
#define EML_EINSUM_MAX_LABELS (EML_EINSUM_LETTERS + EML_MAX_RANK)

typedef struct eml_einsum_params {
    int32_t n_operands;
    int8_t term_len[EML_EINSUM_MAX_OPERANDS];
    int8_t terms[EML_EINSUM_MAX_OPERANDS][EML_EINSUM_MAX_TERM];  /* label codes or ELLIPSIS */
    int8_t out_len;
    int8_t out[EML_EINSUM_MAX_TERM];      /* explicit, or the implicit output made by prepare */
} eml_einsum_params;
EML_PARAMS_FIT(eml_einsum_params);

/* Loop structure of one einsum on concrete shapes: labels 0..n_out-1 index the output, the rest
 * are summed over; strides[k][l] is how far operand k moves per step of label l. */
typedef struct eml_einsum_plan {
    int n_labels;
    int n_out;
    int64_t dims[EML_EINSUM_MAX_LABELS];
    int64_t strides[EML_EINSUM_MAX_OPERANDS][EML_EINSUM_MAX_LABELS];
    int out_rank;
    int64_t out_dims[EML_MAX_RANK];
} eml_einsum_plan;

/* Binds the equation to the operands' shapes. Returns EML_OK, EML_EINVAL (operand count),
 * EML_ESHAPE (rank differs from the term, a letter with two sizes, ellipsis dims that do not
 * broadcast, output rank above EML_MAX_RANK); *why says which. */
eml_status eml__einsum_bind(const eml_einsum_params *p, const eml_tensor *inputs, int32_t n_inputs,
                            eml_einsum_plan *plan, const char **why);

/* ---- op functions (ops.def) ---- */

eml_status eml__gemm_prepare(eml_prepare_ctx *ctx);
eml_status eml__gemm_infer(eml_infer_ctx *ctx);
eml_status eml__ref_gemm(const eml_kernel_ctx *ctx);

eml_status eml__matmul_prepare(eml_prepare_ctx *ctx);
eml_status eml__matmul_infer(eml_infer_ctx *ctx);
eml_status eml__ref_matmul(const eml_kernel_ctx *ctx);
eml_status eml__matmul_integer_infer(eml_infer_ctx *ctx);
eml_status eml__ref_matmul_integer(const eml_kernel_ctx *ctx);
eml_status eml__qlinear_matmul_infer(eml_infer_ctx *ctx);
eml_status eml__ref_qlinear_matmul(const eml_kernel_ctx *ctx);

eml_status eml__einsum_prepare(eml_prepare_ctx *ctx);
eml_status eml__einsum_infer(eml_infer_ctx *ctx);
eml_status eml__ref_einsum(const eml_kernel_ctx *ctx);

#endif
