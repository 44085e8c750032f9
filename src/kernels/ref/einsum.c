/* Reference Einsum: any equation, as one plain loop over every combination of its labels. */
#include "kernels/ref/matmul.h"

eml_status eml__einsum_bind(const eml_einsum_params *p, const eml_tensor *inputs, int32_t n_inputs,
                            eml_einsum_plan *plan, const char **why)
{
    memset(plan, 0, sizeof(*plan));
    *why = "";
    if (n_inputs != p->n_operands) {
        *why = "the equation names another number of operands";
        return EML_EINVAL;
    }
    /* each operand's ellipsis covers its rank minus its letters; all of them broadcast
     * numpy-style (right-aligned) into ell_rank dims */
    int ell_rank = 0;
    int ell_of[EML_EINSUM_MAX_OPERANDS];
    for (int k = 0; k < p->n_operands; k++) {
        int letters = 0;
        bool has_ell = false;
        for (int t = 0; t < p->term_len[k]; t++) {
            if (p->terms[k][t] == EML_EINSUM_ELLIPSIS)
                has_ell = true;
            else
                letters++;
        }
        int rank = inputs[k].rank;
        if (rank < letters || (!has_ell && rank != letters)) {
            *why = "an operand's rank differs from its term";
            return EML_ESHAPE;
        }
        ell_of[k] = rank - letters;
        ell_rank = EML_MAX(ell_rank, ell_of[k]);
    }
    /* every label's size: letters 0..51, ellipsis dims 52.. (size 1 broadcasts, as numpy) */
    int64_t size[EML_EINSUM_MAX_LABELS];
    bool used[EML_EINSUM_MAX_LABELS] = {false};
    for (int l = 0; l < EML_EINSUM_MAX_LABELS; l++)
        size[l] = 1;
    for (int k = 0; k < p->n_operands; k++) {
        const eml_tensor *x = &inputs[k];
        for (int t = 0, d = 0; t < p->term_len[k]; t++) {
            int first = p->terms[k][t], count = 1;
            if (first == EML_EINSUM_ELLIPSIS) {
                first = EML_EINSUM_LETTERS + ell_rank - ell_of[k];
                count = ell_of[k];
            }
            for (int c = 0; c < count; c++, d++) {
                int l = first + c;
                int64_t dim = x->dims[d];
                if (dim < 0) {
                    *why = "a negative dim";
                    return EML_ESHAPE;
                }
                if (used[l] && size[l] != dim && size[l] != 1 && dim != 1) {
                    *why = l < EML_EINSUM_LETTERS ? "a letter stands for two different sizes"
                                                  : "the ellipsis dims do not broadcast";
                    return EML_ESHAPE;
                }
                if (!used[l] || size[l] == 1)
                    size[l] = dim;
                used[l] = true;
            }
        }
    }
    /* order: the output's labels first, then the summed ones */
    int pos[EML_EINSUM_MAX_LABELS];
    for (int l = 0; l < EML_EINSUM_MAX_LABELS; l++)
        pos[l] = -1;
    int n = 0;
    for (int t = 0; t < p->out_len; t++) {
        int first = p->out[t], count = 1;
        if (first == EML_EINSUM_ELLIPSIS) {
            first = EML_EINSUM_LETTERS;
            count = ell_rank;
        }
        if (plan->out_rank + count > EML_MAX_RANK) {
            *why = "the output has more dims than a tensor may have";
            return EML_ESHAPE;
        }
        for (int c = 0; c < count; c++) {
            int l = first + c;
            pos[l] = n;
            plan->dims[n++] = size[l];
            plan->out_dims[plan->out_rank++] = size[l];
        }
    }
    plan->n_out = n;
    for (int l = 0; l < EML_EINSUM_MAX_LABELS; l++) {
        if (used[l] && pos[l] < 0) {
            pos[l] = n;
            plan->dims[n++] = size[l];
        }
    }
    plan->n_labels = n;
    /* an operand moves along every dim that bears the label (a repeated letter walks the
     * diagonal); a broadcast dim of size 1 does not move */
    for (int k = 0; k < p->n_operands; k++) {
        const eml_tensor *x = &inputs[k];
        int64_t strides[EML_MAX_RANK];
        eml__strides(x->dims, x->rank, strides);
        for (int t = 0, d = 0; t < p->term_len[k]; t++) {
            int first = p->terms[k][t], count = 1;
            if (first == EML_EINSUM_ELLIPSIS) {
                first = EML_EINSUM_LETTERS + ell_rank - ell_of[k];
                count = ell_of[k];
            }
            for (int c = 0; c < count; c++, d++) {
                if (x->dims[d] != 1)
                    plan->strides[k][pos[first + c]] += strides[d];
            }
        }
    }
    return EML_OK;
}

typedef double (*load_f64_fn)(const void *p, int64_t i);
typedef uint64_t (*load_u64_fn)(const void *p, int64_t i);

static double ld_f32(const void *p, int64_t i) { return ((const float *)p)[i]; }
static double ld_f64(const void *p, int64_t i) { return ((const double *)p)[i]; }
static double ld_f16(const void *p, int64_t i) { return eml_f16_to_f32(((const uint16_t *)p)[i]); }
static double ld_bf16(const void *p, int64_t i)
{
    return eml_bf16_to_f32(((const uint16_t *)p)[i]);
}
/* Integers are read sign-extended into uint64: products and sums then wrap modulo 2^64, and the
 * low bits stored are those of the wrapped result in the element type. */
static uint64_t ld_i8(const void *p, int64_t i) { return (uint64_t)((const int8_t *)p)[i]; }
static uint64_t ld_i16(const void *p, int64_t i) { return (uint64_t)((const int16_t *)p)[i]; }
static uint64_t ld_i32(const void *p, int64_t i) { return (uint64_t)((const int32_t *)p)[i]; }
static uint64_t ld_i64(const void *p, int64_t i) { return (uint64_t)((const int64_t *)p)[i]; }
static uint64_t ld_u8(const void *p, int64_t i) { return ((const uint8_t *)p)[i]; }
static uint64_t ld_u16(const void *p, int64_t i) { return ((const uint16_t *)p)[i]; }
static uint64_t ld_u32(const void *p, int64_t i) { return ((const uint32_t *)p)[i]; }
static uint64_t ld_u64(const void *p, int64_t i) { return ((const uint64_t *)p)[i]; }

static void store(eml_tensor *y, int64_t i, double vf, uint64_t vi)
{
    void *p = y->data;
    switch (y->dtype) {
    case EML_DTYPE_F32: ((float *)p)[i] = (float)vf; break;
    case EML_DTYPE_F64: ((double *)p)[i] = vf; break;
    case EML_DTYPE_F16: ((uint16_t *)p)[i] = eml_f32_to_f16((float)vf); break;
    case EML_DTYPE_BF16: ((uint16_t *)p)[i] = eml_f32_to_bf16((float)vf); break;
    case EML_DTYPE_I8: ((int8_t *)p)[i] = (int8_t)(uint8_t)vi; break;
    case EML_DTYPE_I16: ((int16_t *)p)[i] = (int16_t)(uint16_t)vi; break;
    case EML_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)(uint32_t)vi; break;
    case EML_DTYPE_I64: ((int64_t *)p)[i] = (int64_t)vi; break;
    case EML_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)vi; break;
    case EML_DTYPE_U16: ((uint16_t *)p)[i] = (uint16_t)vi; break;
    case EML_DTYPE_U32: ((uint32_t *)p)[i] = (uint32_t)vi; break;
    default: ((uint64_t *)p)[i] = vi; break;
    }
}

/* Advances an odometer over dims[0..n) (last fastest), moving each operand's offset along; false
 * after the last combination. */
static bool step(int n, const int64_t *dims, int64_t *idx, int n_ops,
                 const int64_t (*strides)[EML_EINSUM_MAX_LABELS], int first, int64_t *off)
{
    for (int l = n - 1; l >= 0; l--) {
        for (int k = 0; k < n_ops; k++)
            off[k] += strides[k][first + l];
        if (++idx[l] < dims[l])
            return true;
        for (int k = 0; k < n_ops; k++)
            off[k] -= strides[k][first + l] * dims[l];
        idx[l] = 0;
    }
    return false;
}

eml_status eml__ref_einsum(const eml_kernel_ctx *ctx)
{
    const eml_einsum_params *p = ctx->params;
    eml_einsum_plan plan;
    const char *why;
    if (eml__einsum_bind(p, ctx->inputs, ctx->n_inputs, &plan, &why) != EML_OK)
        return eml__diag(ctx->diag, EML_EINTERNAL, "Einsum: %s", why);
    eml_tensor *y = &ctx->outputs[0];
    load_f64_fn ldf = NULL;
    load_u64_fn ldi = NULL;
    switch (y->dtype) {
    case EML_DTYPE_F32: ldf = ld_f32; break;
    case EML_DTYPE_F64: ldf = ld_f64; break;
    case EML_DTYPE_F16: ldf = ld_f16; break;
    case EML_DTYPE_BF16: ldf = ld_bf16; break;
    case EML_DTYPE_I8: ldi = ld_i8; break;
    case EML_DTYPE_I16: ldi = ld_i16; break;
    case EML_DTYPE_I32: ldi = ld_i32; break;
    case EML_DTYPE_I64: ldi = ld_i64; break;
    case EML_DTYPE_U8: ldi = ld_u8; break;
    case EML_DTYPE_U16: ldi = ld_u16; break;
    case EML_DTYPE_U32: ldi = ld_u32; break;
    case EML_DTYPE_U64: ldi = ld_u64; break;
    default: return eml__diag(ctx->diag, EML_EINTERNAL, "Einsum: dtype %s",
                              eml_dtype_name(y->dtype));
    }
    const int n_ops = p->n_operands, n_out = plan.n_out, n_red = plan.n_labels - plan.n_out;
    const int64_t *red_dims = plan.dims + n_out;
    int64_t out_count = eml__shape_count(plan.dims, n_out);
    bool red_empty = eml__shape_count(red_dims, n_red) == 0;
    const void *data[EML_EINSUM_MAX_OPERANDS];
    for (int k = 0; k < n_ops; k++)
        data[k] = ctx->inputs[k].data;
    int64_t out_idx[EML_MAX_RANK] = {0}, red_idx[EML_EINSUM_MAX_LABELS];
    int64_t base[EML_EINSUM_MAX_OPERANDS] = {0}, off[EML_EINSUM_MAX_OPERANDS];
    /* floats sum in double; integers in uint64 (wrapping) */
    for (int64_t o = 0; o < out_count; o++) {
        double accf = 0.0;
        uint64_t acci = 0;
        if (!red_empty) {
            memcpy(off, base, sizeof(int64_t) * (size_t)n_ops);
            memset(red_idx, 0, sizeof(red_idx));
            do {
                if (ldf) {
                    double v = 1.0;
                    for (int k = 0; k < n_ops; k++)
                        v *= ldf(data[k], off[k]);
                    accf += v;
                } else {
                    uint64_t v = 1;
                    for (int k = 0; k < n_ops; k++)
                        v *= ldi(data[k], off[k]);
                    acci += v;
                }
            } while (step(n_red, red_dims, red_idx, n_ops, plan.strides, n_out, off));
        }
        store(y, o, accf, acci);
        step(n_out, plan.dims, out_idx, n_ops, plan.strides, 0, base);
    }
    return EML_OK;
}
