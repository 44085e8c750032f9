/* Reference Slice, and the resolution of its starts/ends/axes/steps that infer shares. */
#include <stdio.h>

#include "kernels/ref/movement.h"

static bool is_index_type(eml_dtype t)
{
    return t == EML_DTYPE_I64 || t == EML_DTYPE_I32;
}

/* Checks that input i (an index list) has `n` elements (n < 0: any) and an integer type. */
static eml_status check_list(const eml_tensor *inputs, int32_t i, const char *what, int64_t n,
                             char *err, size_t err_cap)
{
    const eml_tensor *t = &inputs[i];
    if (!is_index_type(t->dtype)) {
        snprintf(err, err_cap, "%s must be int32 or int64, not %s", what, eml_dtype_name(t->dtype));
        return EML_ETYPE;
    }
    if (t->rank > 1 || (n >= 0 && eml_tensor_count(t) != n)) {
        snprintf(err, err_cap, "%s must be a 1-D tensor of %lld values", what, (long long)n);
        return EML_ESHAPE;
    }
    return EML_OK;
}

eml_status eml__slice_resolve(const eml_slice_params *p, const eml_tensor *inputs, int32_t n_inputs,
                              eml_slice_plan *plan, char *err, size_t err_cap)
{
    const eml_tensor *x = &inputs[0];
    int rank = x->rank;
    for (int d = 0; d < rank; d++) {
        plan->start[d] = 0;
        plan->step[d] = 1;
        plan->dims[d] = x->dims[d];
    }
    int64_t n;
    const eml_tensor *axes = NULL, *steps = NULL;
    eml_status st;
    if (p->from_attrs) {
        n = p->count;
        if (p->axes_count >= 0 && p->axes_count != n) {
            snprintf(err, err_cap, "axes has %d values, starts %lld", (int)p->axes_count,
                     (long long)n);
            return EML_EGRAPH;
        }
    } else {
        if ((st = check_list(inputs, 1, "starts", -1, err, err_cap)) != EML_OK)
            return st;
        n = eml_tensor_count(&inputs[1]);
        if ((st = check_list(inputs, 2, "ends", n, err, err_cap)) != EML_OK)
            return st;
        if (!eml__movement_absent(inputs, n_inputs, 3)) {
            axes = &inputs[3];
            if ((st = check_list(inputs, 3, "axes", n, err, err_cap)) != EML_OK)
                return st;
        }
        if (!eml__movement_absent(inputs, n_inputs, 4)) {
            steps = &inputs[4];
            if ((st = check_list(inputs, 4, "steps", n, err, err_cap)) != EML_OK)
                return st;
        }
    }
    if (n > rank) {
        snprintf(err, err_cap, "%lld starts for a rank-%d input", (long long)n, rank);
        return EML_ESHAPE;
    }
    bool seen[EML_MAX_RANK] = {false};
    for (int64_t i = 0; i < n; i++) {
        int64_t axis = i, start, end, step = 1;
        if (p->from_attrs) {
            if (p->axes_count >= 0)
                axis = p->axes[i];
            start = p->starts[i];
            end = p->ends[i];
        } else {
            if (axes)
                axis = eml__tensor_get_i64(axes, i);
            start = eml__tensor_get_i64(&inputs[1], i);
            end = eml__tensor_get_i64(&inputs[2], i);
            if (steps)
                step = eml__tensor_get_i64(steps, i);
        }
        if (axis < -rank || axis >= rank) {
            snprintf(err, err_cap, "axis %lld out of range for rank %d", (long long)axis, rank);
            return EML_ESHAPE;
        }
        if (axis < 0)
            axis += rank;
        if (seen[axis]) {
            snprintf(err, err_cap, "axis %lld repeated", (long long)axis);
            return EML_ESHAPE;
        }
        seen[axis] = true;
        if (step == 0) {
            snprintf(err, err_cap, "step 0 on axis %lld", (long long)axis);
            return EML_ESHAPE;
        }
        int64_t d = x->dims[axis];
        if (start < 0)
            start += d;
        if (end < 0)
            end += d;
        /* A step larger than the axis reaches one element at most; capping it keeps the
         * kernel's stride products in range without changing the result. */
        int64_t cap = EML_MAX(d, 1);
        step = EML_MAX(EML_MIN(step, cap), -cap);
        int64_t count;
        if (step > 0) {
            start = EML_MIN(EML_MAX(start, 0), d);
            end = EML_MIN(EML_MAX(end, 0), d);
            count = end > start ? (end - start - 1) / step + 1 : 0;
        } else {
            start = EML_MIN(EML_MAX(start, 0), d - 1);
            end = EML_MIN(EML_MAX(end, -1), d - 1);
            count = start > end ? (start - end - 1) / -step + 1 : 0;
        }
        plan->start[axis] = count > 0 ? start : 0;
        plan->step[axis] = step;
        plan->dims[axis] = count;
    }
    return EML_OK;
}

eml_status eml__ref_slice(const eml_kernel_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    eml_slice_plan plan;
    char err[160];
    eml_status st =
        eml__slice_resolve(ctx->params, ctx->inputs, ctx->n_inputs, &plan, err, sizeof(err));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "Slice: %s", err);
    if (eml__shape_count(plan.dims, x->rank) == 0)
        return EML_OK;
    int64_t strides[EML_MAX_RANK];
    eml__strides(x->dims, x->rank, strides);
    int64_t first = 0;
    for (int d = 0; d < x->rank; d++) {
        first += plan.start[d] * strides[d];
        strides[d] *= plan.step[d];
    }
    size_t es = eml_dtype_size(x->dtype);
    eml__copy_strided_nd(ctx->outputs[0].data, (const uint8_t *)x->data + (size_t)first * es,
                         plan.dims, strides, x->rank, es);
    return EML_OK;
}
