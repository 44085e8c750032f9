/* Reference Pad (constant, reflect, edge; negative pads crop) and Tile, with Pad's pads resolution
 * that infer shares. */
#include <stdio.h>

#include "kernels/ref/movement.h"

eml_status eml__pad_resolve(const eml_pad_params *p, const eml_tensor *inputs, int32_t n_inputs,
                            int64_t *begin, int64_t *end, char *err, size_t err_cap)
{
    const eml_tensor *x = &inputs[0];
    int rank = x->rank;
    const eml_tensor *pads = NULL;
    int64_t n = p->pads_count;
    if (!p->from_attrs) {
        pads = &inputs[1];
        if (eml__movement_absent(inputs, n_inputs, 1) ||
            (pads->dtype != EML_DTYPE_I64 && pads->dtype != EML_DTYPE_I32)) {
            snprintf(err, err_cap, "pads must be an int64 tensor");
            return EML_ETYPE;
        }
        n = pads->rank <= 1 ? eml_tensor_count(pads) : -1;
    }
    if (n != 2 * (int64_t)rank) {
        snprintf(err, err_cap, "pads must have 2 x rank = %d values", 2 * rank);
        return EML_ESHAPE;
    }
    for (int d = 0; d < rank; d++) {
        begin[d] = pads ? eml__tensor_get_i64(pads, d) : p->pads[d];
        end[d] = pads ? eml__tensor_get_i64(pads, d + rank) : p->pads[d + rank];
        int64_t out;
        if (__builtin_add_overflow(x->dims[d], begin[d], &out) ||
            __builtin_add_overflow(out, end[d], &out) || out < 0) {
            snprintf(err, err_cap, "pads %lld and %lld on axis %d of size %lld",
                     (long long)begin[d], (long long)end[d], d, (long long)x->dims[d]);
            return EML_ESHAPE;
        }
        if (p->mode != EML_PAD_CONSTANT && x->dims[d] == 0 && out > 0) {
            snprintf(err, err_cap, "%s padding of the empty axis %d",
                     p->mode == EML_PAD_EDGE ? "edge" : "reflect", d);
            return EML_ESHAPE;
        }
    }
    return EML_OK;
}

/* Input index for output index o of an axis of size d padded by b at its beginning; -1 for the
 * constant value. Reflect mirrors without repeating the edge, periodically (as numpy.pad does for
 * pads longer than the axis). */
static int64_t pad_source(int64_t o, int64_t d, int64_t b, int mode)
{
    int64_t i = o - b;
    if (i >= 0 && i < d)
        return i;
    if (mode == EML_PAD_CONSTANT)
        return -1;
    if (mode == EML_PAD_EDGE || d == 1)
        return i < 0 ? 0 : d - 1;
    int64_t period = 2 * (d - 1);
    i %= period;
    if (i < 0)
        i += period;
    return i < d ? i : period - i;
}

static void fill(uint8_t *dst, int64_t n, const uint8_t *value, size_t es)
{
    for (int64_t i = 0; i < n; i++)
        memcpy(dst + (size_t)i * es, value, es);
}

eml_status eml__ref_pad(const eml_kernel_ctx *ctx)
{
    const eml_pad_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    eml_tensor *y = &ctx->outputs[0];
    int64_t begin[EML_MAX_RANK], end[EML_MAX_RANK];
    char err[160];
    eml_status st = eml__pad_resolve(p, ctx->inputs, ctx->n_inputs, begin, end, err, sizeof(err));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "Pad: %s", err);
    size_t es = eml_dtype_size(x->dtype);
    uint8_t value[8] = {0};
    if (!eml__movement_absent(ctx->inputs, ctx->n_inputs, 2) &&
        eml_tensor_count(&ctx->inputs[2]) > 0) {
        memcpy(value, ctx->inputs[2].data, es);
    } else if (p->from_attrs) {
        eml_tensor v = {.dtype = x->dtype, .rank = 0, .data = value};
        eml__tensor_set_f64(&v, 0, p->value);
    }
    int rank = x->rank;
    if (eml_tensor_count(y) == 0)
        return EML_OK;
    if (rank == 0) {
        memcpy(y->data, x->data, es);
        return EML_OK;
    }
    int64_t strides[EML_MAX_RANK];
    eml__strides(x->dims, rank, strides);
    int last = rank - 1;
    int64_t row = y->dims[last], d = x->dims[last], b = begin[last];
    /* output indices [lo, hi) of the last axis read the input row directly */
    int64_t lo = EML_MIN(EML_MAX(b, 0), row), hi = EML_MAX(EML_MIN(d + b, row), lo);
    int64_t in_count = eml_tensor_count(x);
    int64_t index[EML_MAX_RANK] = {0};
    uint8_t *dst = y->data;
    do {
        int64_t src = 0;
        bool constant_row = false;
        for (int a = 0; a < last && !constant_row; a++) {
            int64_t i = pad_source(index[a], x->dims[a], begin[a], p->mode);
            constant_row = i < 0;
            src += i * strides[a];
        }
        if (constant_row) {
            fill(dst, row, value, es);
        } else {
            /* an empty input leaves nothing to read (and no pointer to offset) */
            const uint8_t *s = in_count ? (const uint8_t *)x->data + (size_t)src * es : value;
            for (int64_t o = 0; o < lo; o++) {
                int64_t i = pad_source(o, d, b, p->mode);
                memcpy(dst + (size_t)o * es, i < 0 ? value : s + (size_t)i * es, es);
            }
            if (hi > lo)
                memcpy(dst + (size_t)lo * es, s + (size_t)(lo - b) * es, (size_t)(hi - lo) * es);
            for (int64_t o = hi; o < row; o++) {
                int64_t i = pad_source(o, d, b, p->mode);
                memcpy(dst + (size_t)o * es, i < 0 ? value : s + (size_t)i * es, es);
            }
        }
        dst += (size_t)row * es;
    } while (eml__index_next(index, y->dims, last));
    return EML_OK;
}

/* Output element i of each axis reads input element i mod (input size): the output shape from
 * infer carries the repeats. */
eml_status eml__ref_tile(const eml_kernel_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    eml_tensor *y = &ctx->outputs[0];
    int rank = x->rank;
    size_t es = eml_dtype_size(x->dtype);
    if (eml_tensor_count(y) == 0)
        return EML_OK;
    if (rank == 0) {
        memcpy(y->data, x->data, es);
        return EML_OK;
    }
    int64_t strides[EML_MAX_RANK];
    eml__strides(x->dims, rank, strides);
    int last = rank - 1;
    size_t in_row = (size_t)x->dims[last] * es;
    int64_t copies = y->dims[last] / x->dims[last];
    int64_t index[EML_MAX_RANK] = {0};
    uint8_t *dst = y->data;
    do {
        int64_t src = 0;
        for (int a = 0; a < last; a++)
            src += (index[a] % x->dims[a]) * strides[a];
        for (int64_t c = 0; c < copies; c++) {
            memcpy(dst, (const uint8_t *)x->data + (size_t)src * es, in_row);
            dst += in_row;
        }
    } while (eml__index_next(index, y->dims, last));
    return EML_OK;
}
