/* Reference kernel of Resize and Upsample: nearest, N-linear and N-cubic interpolation over any
 * rank, every coordinate transformation mode, as separable per-axis tap tables. */
#include <math.h>

#include "kernels/ref/resize.h"

/* The input positions and weights that one output coordinate of one axis reads. Positions are
 * element offsets into the input (index × stride), already clamped to the axis. */
typedef struct axis_taps {
    int64_t offset[4];
    double weight[4];
    int32_t count;
    int32_t outside; /* tf_crop_and_resize: the coordinate falls outside the input */
} axis_taps;

/* Output rows (all axes but the last) per pool task. */
#define TASK_ROWS 64

static const eml_tensor *non_empty(const eml_tensor *inputs, int32_t n_inputs, int32_t i)
{
    if (i < 0 || i >= n_inputs || inputs[i].dtype == EML_DTYPE_UNDEFINED)
        return NULL;
    return eml_tensor_count(&inputs[i]) > 0 ? &inputs[i] : NULL;
}

void eml__resize_sources(const eml_resize_params *p, const eml_tensor *inputs, int32_t n_inputs,
                         eml_resize_sources *out)
{
    out->scales = non_empty(inputs, n_inputs, p->scales_input);
    out->sizes = non_empty(inputs, n_inputs, p->sizes_input);
    out->roi = non_empty(inputs, n_inputs, p->roi_input);
}

size_t eml__resize_scratch_bytes(const eml_tensor *output)
{
    size_t n = 0;
    for (int d = 0; d < output->rank; d++)
        n += (size_t)output->dims[d];
    return n * sizeof(axis_taps);
}

/* ---- per-axis tables ---- */

typedef struct axis_geometry {
    int64_t in, out, stride;
    double scale;          /* the given scale, or out/in when sizes were given */
    double length_resized; /* in × scale: not floored, as ONNX's reference and ONNX Runtime use */
    double roi_start, roi_end;
} axis_geometry;

/* The spec's formulas, evaluated in double like ONNX's reference implementation. */
static double original_coord(const eml_resize_params *p, const axis_geometry *a, double x,
                             int *outside)
{
    double in = (double)a->in, len = a->length_resized, s = a->scale;
    *outside = 0;
    switch ((eml_resize_coord)p->coord) {
    case EML_RESIZE_HALF_PIXEL: return (x + 0.5) / s - 0.5;
    case EML_RESIZE_PYTORCH_HALF_PIXEL: return len > 1 ? (x + 0.5) / s - 0.5 : 0.0;
    case EML_RESIZE_ALIGN_CORNERS: return len == 1 ? 0.0 : x * (in - 1) / (len - 1);
    case EML_RESIZE_ASYMMETRIC: return x / s;
    case EML_RESIZE_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / s;
    case EML_RESIZE_TF_CROP_AND_RESIZE: {
        double start = a->roi_start, end = a->roi_end, xo;
        if (len == 1)
            xo = (end - start) * (in - 1) / 2;
        else
            xo = x * (end - start) * (in - 1) / (len - 1);
        xo += start * (in - 1);
        /* written so that NaN (from a corrupt roi) counts as outside */
        if (!(xo >= 0 && xo <= in - 1))
            *outside = 1;
        return xo;
    }
    }
    return 0.0;
}

static int64_t nearest_index(const eml_resize_params *p, const axis_geometry *a, double xo)
{
    double f = floor(xo), r = xo - f;
    switch ((eml_resize_nearest)p->nearest) {
    case EML_RESIZE_ROUND_PREFER_FLOOR: return (int64_t)(r <= 0.5 ? f : f + 1);
    case EML_RESIZE_ROUND_PREFER_CEIL: return (int64_t)(r < 0.5 ? f : f + 1);
    case EML_RESIZE_FLOOR: return (int64_t)f;
    case EML_RESIZE_CEIL: return (int64_t)ceil(xo);
    case EML_RESIZE_SIMPLE: return (int64_t)(a->scale < 1 ? ceil(xo) : f);
    }
    return (int64_t)f;
}

/* Keys' cubic convolution weights for the taps at floor-1 .. floor+2, r = x - floor(x). */
static void cubic_weights(double A, double r, double *w)
{
    double r1 = r + 1, q = 1 - r, q1 = q + 1;
    w[0] = ((A * r1 - 5 * A) * r1 + 8 * A) * r1 - 4 * A;
    w[1] = ((A + 2) * r - (A + 3)) * r * r + 1;
    w[2] = ((A + 2) * q - (A + 3)) * q * q + 1;
    w[3] = ((A * q1 - 5 * A) * q1 + 8 * A) * q1 - 4 * A;
}

static void build_axis(const eml_resize_params *p, const axis_geometry *a, axis_taps *taps)
{
    for (int64_t x = 0; x < a->out; x++) {
        axis_taps *t = &taps[x];
        int outside;
        double xo = original_coord(p, a, (double)x, &outside);
        /* only absurd scales or roi reach this far; it keeps the integer conversions defined */
        if (!(xo >= -8.0))
            xo = -8.0;
        if (xo > (double)a->in + 8.0)
            xo = (double)a->in + 8.0;
        int64_t index[4];
        double weight[4];
        int n;
        if (p->mode == EML_RESIZE_NEAREST) {
            index[0] = nearest_index(p, a, xo);
            weight[0] = 1.0;
            n = 1;
        } else {
            double f = floor(xo), r = xo - f;
            if (p->mode == EML_RESIZE_LINEAR) {
                index[0] = (int64_t)f;
                index[1] = (int64_t)f + 1;
                weight[0] = 1 - r;
                weight[1] = r;
                n = 2;
            } else {
                for (int k = 0; k < 4; k++)
                    index[k] = (int64_t)f - 1 + k;
                cubic_weights(p->cubic_coeff_a, r, weight);
                n = 4;
            }
            if (p->exclude_outside) {
                double sum = 0;
                for (int k = 0; k < n; k++) {
                    if (index[k] < 0 || index[k] >= a->in)
                        weight[k] = 0;
                    sum += weight[k];
                }
                for (int k = 0; k < n && sum != 0; k++)
                    weight[k] /= sum;
            }
        }
        /* edge padding: taps beyond the axis read its first or last element */
        t->count = 0;
        t->outside = outside;
        for (int k = 0; k < n; k++) {
            if (weight[k] == 0)
                continue;
            int64_t i = EML_MAX(0, EML_MIN(index[k], a->in - 1));
            t->offset[t->count] = i * a->stride;
            t->weight[t->count] = weight[k];
            t->count++;
        }
    }
}

/* ---- running ---- */

typedef double (*load_fn)(const void *data, int64_t i);

static double load_f32(const void *d, int64_t i) { return ((const float *)d)[i]; }
static double load_f64(const void *d, int64_t i) { return ((const double *)d)[i]; }
static double load_f16(const void *d, int64_t i)
{
    return eml_f16_to_f32(((const uint16_t *)d)[i]);
}
static double load_bf16(const void *d, int64_t i)
{
    return eml_bf16_to_f32(((const uint16_t *)d)[i]);
}
static double load_i8(const void *d, int64_t i) { return ((const int8_t *)d)[i]; }
static double load_i16(const void *d, int64_t i) { return ((const int16_t *)d)[i]; }
static double load_i32(const void *d, int64_t i) { return ((const int32_t *)d)[i]; }
static double load_i64(const void *d, int64_t i) { return (double)((const int64_t *)d)[i]; }
static double load_u8(const void *d, int64_t i) { return ((const uint8_t *)d)[i]; }
static double load_u16(const void *d, int64_t i) { return ((const uint16_t *)d)[i]; }
static double load_u32(const void *d, int64_t i) { return ((const uint32_t *)d)[i]; }
static double load_u64(const void *d, int64_t i) { return (double)((const uint64_t *)d)[i]; }

static load_fn loader(eml_dtype dt)
{
    switch (dt) {
    case EML_DTYPE_F32: return load_f32;
    case EML_DTYPE_F64: return load_f64;
    case EML_DTYPE_F16: return load_f16;
    case EML_DTYPE_BF16: return load_bf16;
    case EML_DTYPE_I8: return load_i8;
    case EML_DTYPE_I16: return load_i16;
    case EML_DTYPE_I32: return load_i32;
    case EML_DTYPE_I64: return load_i64;
    case EML_DTYPE_U8: return load_u8;
    case EML_DTYPE_U16: return load_u16;
    case EML_DTYPE_U32: return load_u32;
    case EML_DTYPE_U64: return load_u64;
    default: return NULL;
    }
}

/* Integer outputs of linear/cubic interpolation are rounded to nearest and saturated. */
static bool int_range(eml_dtype dt, double *lo, double *hi)
{
    switch (dt) {
    case EML_DTYPE_I8: *lo = INT8_MIN, *hi = INT8_MAX; return true;
    case EML_DTYPE_I16: *lo = INT16_MIN, *hi = INT16_MAX; return true;
    case EML_DTYPE_I32: *lo = INT32_MIN, *hi = INT32_MAX; return true;
    /* the largest doubles below 2^63 and 2^64, so that the casts stay defined */
    case EML_DTYPE_I64: *lo = -9223372036854775808.0, *hi = 9223372036854774784.0; return true;
    case EML_DTYPE_U8: *lo = 0, *hi = UINT8_MAX; return true;
    case EML_DTYPE_U16: *lo = 0, *hi = UINT16_MAX; return true;
    case EML_DTYPE_U32: *lo = 0, *hi = UINT32_MAX; return true;
    case EML_DTYPE_U64: *lo = 0, *hi = 18446744073709549568.0; return true;
    default: return false;
    }
}

static void store(eml_tensor *y, int64_t i, double v)
{
    double lo, hi;
    if (int_range(y->dtype, &lo, &hi)) {
        v = v != v ? 0 : round(v);
        v = v < lo ? lo : v > hi ? hi : v;
    }
    eml__tensor_set_f64(y, i, v);
}

typedef struct resize_run {
    const eml_resize_params *p;
    const eml_tensor *x;
    eml_tensor *y;
    int rank;
    const axis_taps *tables[EML_MAX_RANK];
    int64_t rows;          /* output elements / last output dim */
    size_t elem_bytes;
    load_fn load;
    unsigned char extrapolation[8]; /* extrapolation_value in the output dtype */
} resize_run;

/* Interpolates axis d onward; the outer axes' taps are summed around the inner ones, as ONNX's
 * reference does (innermost axis first). */
static double gather(const resize_run *r, const int64_t *o, int d, int64_t offset)
{
    const axis_taps *t = &r->tables[d][o[d]];
    double acc = 0;
    for (int32_t k = 0; k < t->count; k++) {
        int64_t at = offset + t->offset[k];
        double v = d + 1 == r->rank ? r->load(r->x->data, at) : gather(r, o, d + 1, at);
        acc += t->weight[k] * v;
    }
    return acc;
}

static void resize_rows(const resize_run *r, int64_t row_begin, int64_t row_end)
{
    int last = r->rank - 1;
    int64_t width = r->y->dims[last];
    const unsigned char *xd = r->x->data;
    unsigned char *yd = r->y->data;
    size_t es = r->elem_bytes;
    for (int64_t row = row_begin; row < row_end; row++) {
        int64_t o[EML_MAX_RANK] = {0};
        int64_t rem = row;
        bool row_outside = false;
        int64_t base = 0; /* nearest: offset of the row's prefix */
        for (int d = last - 1; d >= 0; d--) {
            o[d] = rem % r->y->dims[d];
            rem /= r->y->dims[d];
            const axis_taps *t = &r->tables[d][o[d]];
            row_outside |= t->outside != 0;
            if (t->count > 0)
                base += t->offset[0];
        }
        for (int64_t x = 0; x < width; x++) {
            int64_t out_i = row * width + x;
            const axis_taps *t = &r->tables[last][x];
            o[last] = x;
            if (row_outside || t->outside) {
                memcpy(yd + (size_t)out_i * es, r->extrapolation, es);
            } else if (r->p->mode == EML_RESIZE_NEAREST) {
                /* a plain copy: exact for every dtype, bool included */
                memcpy(yd + (size_t)out_i * es, xd + (size_t)(base + t->offset[0]) * es, es);
            } else {
                store(r->y, out_i, gather(r, o, 0, 0));
            }
        }
    }
}

static void resize_task(void *arg, size_t index)
{
    const resize_run *r = arg;
    int64_t begin = (int64_t)index * TASK_ROWS;
    resize_rows(r, begin, EML_MIN(begin + TASK_ROWS, r->rows));
}

eml_status eml__ref_resize(const eml_kernel_ctx *ctx)
{
    const eml_resize_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    eml_tensor *y = &ctx->outputs[0];
    if (eml_tensor_count(y) <= 0)
        return EML_OK;
    if (ctx->scratch_bytes < eml__resize_scratch_bytes(y))
        return eml__diag(ctx->diag, EML_EINTERNAL, "Resize: scratch of %zu bytes, need %zu",
                         ctx->scratch_bytes, eml__resize_scratch_bytes(y));

    eml_resize_sources src;
    eml__resize_sources(p, ctx->inputs, ctx->n_inputs, &src);
    resize_run r = {.p = p, .x = x, .y = y, .rank = x->rank};
    int64_t strides[EML_MAX_RANK];
    eml__strides(x->dims, x->rank, strides);
    axis_taps *next = ctx->scratch;
    for (int d = 0; d < x->rank; d++) {
        axis_geometry a = {.in = x->dims[d], .out = y->dims[d], .stride = strides[d]};
        if (src.sizes) {
            a.scale = (double)a.out / (double)a.in;
            a.length_resized = (double)a.out;
        } else {
            a.scale = src.scales ? eml__tensor_get_f64(src.scales, d) : p->attr_scales[d];
            a.length_resized = (double)a.in * a.scale;
        }
        /* infer checked roi's length only where it is used */
        bool roi = src.roi && p->coord == EML_RESIZE_TF_CROP_AND_RESIZE;
        a.roi_start = roi ? eml__tensor_get_f64(src.roi, d) : 0.0;
        a.roi_end = roi ? eml__tensor_get_f64(src.roi, x->rank + d) : 1.0;
        build_axis(p, &a, next);
        r.tables[d] = next;
        next += a.out;
    }
    r.rows = eml_tensor_count(y) / y->dims[x->rank - 1];
    r.elem_bytes = eml_dtype_size(y->dtype);
    r.load = loader(x->dtype);
    eml_tensor ext = {.dtype = y->dtype, .rank = 0, .data = r.extrapolation};
    store(&ext, 0, p->extrapolation_value);
    if (p->mode != EML_RESIZE_NEAREST && !r.load)
        return eml__diag(ctx->diag, EML_EINTERNAL, "Resize: no interpolation for %s",
                         eml_dtype_name(x->dtype));
    eml__pool_run(ctx->pool, (size_t)((r.rows + TASK_ROWS - 1) / TASK_ROWS), resize_task, &r);
    return EML_OK;
}
