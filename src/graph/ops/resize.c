/* Prepare and infer of Resize (opsets 10, 11, 13) and Upsample (opsets 7, 9): attributes to
 * params, and the output shape from the scales or sizes input's values. */
#include <math.h>

#include "graph/graph.h"
#include "kernels/ref/resize.h"

typedef struct name_value {
    const char *name;
    int32_t value;
} name_value;

static const name_value modes[] = {
    {"nearest", EML_RESIZE_NEAREST}, {"linear", EML_RESIZE_LINEAR}, {"cubic", EML_RESIZE_CUBIC}};

/* tf_half_pixel_for_nn left the spec at opset 13; it is still taken there, as ONNX Runtime
 * does not break models that kept it either. */
static const name_value coords[] = {
    {"half_pixel", EML_RESIZE_HALF_PIXEL},
    {"pytorch_half_pixel", EML_RESIZE_PYTORCH_HALF_PIXEL},
    {"align_corners", EML_RESIZE_ALIGN_CORNERS},
    {"asymmetric", EML_RESIZE_ASYMMETRIC},
    {"tf_half_pixel_for_nn", EML_RESIZE_TF_HALF_PIXEL_FOR_NN},
    {"tf_crop_and_resize", EML_RESIZE_TF_CROP_AND_RESIZE}};

static const name_value nearest_modes[] = {
    {"round_prefer_floor", EML_RESIZE_ROUND_PREFER_FLOOR},
    {"round_prefer_ceil", EML_RESIZE_ROUND_PREFER_CEIL},
    {"floor", EML_RESIZE_FLOOR},
    {"ceil", EML_RESIZE_CEIL}};

/* Reads a string attribute that must be one of `n` names (only the first `n` are allowed). */
static eml_status string_choice(const eml_prepare_ctx *ctx, const char *attr, const char *def,
                                const name_value *names, size_t n, int32_t *out)
{
    const char *s;
    eml_status st = eml__attr_string(ctx, attr, def, &s);
    if (st != EML_OK)
        return st;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(s, names[i].name) == 0) {
            *out = names[i].value;
            return EML_OK;
        }
    }
    return eml__unsupported(ctx, "attribute '%s' = '%s'", attr, s);
}

#define COUNT_OF(a) (sizeof(a) / sizeof((a)[0]))

/* Upsample and Resize-10: nearest or linear, asymmetric coordinates, the "simple" nearest rule. */
static eml_status prepare_old(eml_prepare_ctx *ctx, eml_resize_params *p)
{
    eml_status st = EML_OK;
    bool attr_scales = ctx->op == EML_OP_Upsample && ctx->opset < 9;
    static const char *const known_attr_scales[] = {"mode", "scales", NULL};
    static const char *const known_input_scales[] = {"mode", NULL};
    EML_TRY(eml__attr_only(ctx, attr_scales ? known_attr_scales : known_input_scales));
    EML_TRY(string_choice(ctx, "mode", "nearest", modes, 2, &p->mode));
    p->coord = EML_RESIZE_ASYMMETRIC;
    p->nearest = EML_RESIZE_SIMPLE;
    if (!attr_scales) {
        p->scales_input = 1;
        return EML_OK;
    }
    int count;
    EML_TRY(eml__attr_floats(ctx, "scales", p->attr_scales, EML_MAX_RANK, &count));
    if (count < 0)
        return eml__bad_attr(ctx, "attribute 'scales' is required");
    for (int i = 0; i < count; i++) {
        if (!(p->attr_scales[i] > 0) || isinf(p->attr_scales[i]))
            return eml__bad_attr(ctx, "scales[%d] = %g must be positive and finite", i,
                                 (double)p->attr_scales[i]);
    }
    p->attr_scales_count = count;
fail:
    return st;
}

eml_status eml__resize_prepare(eml_prepare_ctx *ctx)
{
    eml_status st = EML_OK;
    eml_resize_params *p = EML_PARAMS(ctx, eml_resize_params);
    p->roi_input = p->scales_input = p->sizes_input = -1;
    p->attr_scales_count = -1;
    p->cubic_coeff_a = -0.75f;
    if (ctx->op == EML_OP_Upsample || ctx->opset < 11)
        return prepare_old(ctx, p);

    static const char *const known[] = {"mode", "coordinate_transformation_mode", "cubic_coeff_a",
                                        "exclude_outside", "extrapolation_value", "nearest_mode",
                                        NULL};
    EML_TRY(eml__attr_only(ctx, known));
    EML_TRY(string_choice(ctx, "mode", "nearest", modes, COUNT_OF(modes), &p->mode));
    EML_TRY(string_choice(ctx, "coordinate_transformation_mode", "half_pixel", coords,
                          COUNT_OF(coords), &p->coord));
    EML_TRY(string_choice(ctx, "nearest_mode", "round_prefer_floor", nearest_modes,
                          COUNT_OF(nearest_modes), &p->nearest));
    int64_t exclude;
    EML_TRY(eml__attr_int(ctx, "exclude_outside", 0, &exclude));
    if (exclude != 0 && exclude != 1)
        return eml__bad_attr(ctx, "attribute 'exclude_outside' = %lld must be 0 or 1",
                             (long long)exclude);
    p->exclude_outside = (int32_t)exclude;
    EML_TRY(eml__attr_float(ctx, "cubic_coeff_a", -0.75f, &p->cubic_coeff_a));
    EML_TRY(eml__attr_float(ctx, "extrapolation_value", 0.0f, &p->extrapolation_value));
    p->roi_input = 1;
    p->scales_input = 2;
    p->sizes_input = 3;
fail:
    return st;
}

static bool is_float(eml_dtype dt)
{
    return dt == EML_DTYPE_F32 || dt == EML_DTYPE_F64 || dt == EML_DTYPE_F16 ||
           dt == EML_DTYPE_BF16;
}

/* Checks the dtype and length of a present scales/sizes/roi input, even an empty one. */
static eml_status check_input(eml_infer_ctx *ctx, int32_t i, const char *what, bool integer,
                              int64_t want)
{
    if (i < 0 || !eml__in_present(ctx, i))
        return EML_OK;
    const eml_tensor *t = &ctx->inputs[i];
    bool ok = integer ? t->dtype == EML_DTYPE_I64 || t->dtype == EML_DTYPE_I32
                      : is_float(t->dtype);
    if (!ok)
        return eml__infer_error(ctx, EML_ETYPE, "input '%s' has dtype %s", what,
                                eml_dtype_name(t->dtype));
    int64_t n = eml_tensor_count(t);
    if (t->rank != 1 && n != 0)
        return eml__infer_error(ctx, EML_ESHAPE, "input '%s' must be 1-D, has rank %d", what,
                                (int)t->rank);
    if (n != 0 && n != want)
        return eml__infer_error(ctx, EML_ESHAPE, "input '%s' has %lld values, expected %lld",
                                what, (long long)n, (long long)want);
    return EML_OK;
}

/* Output dims beyond this are refused before any arithmetic can overflow. */
#define MAX_DIM ((double)(1ll << 40))

eml_status eml__resize_infer(eml_infer_ctx *ctx)
{
    eml_status st = EML_OK;
    const eml_resize_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    int rank = x->rank;
    if (!eml_dtype_is_supported(x->dtype))
        return eml__infer_unsupported(ctx, "input dtype %s", eml_dtype_name(x->dtype));
    if (p->mode != EML_RESIZE_NEAREST && x->dtype == EML_DTYPE_BOOL)
        return eml__infer_unsupported(ctx, "interpolation of bool");
    if (rank < 1)
        return eml__infer_error(ctx, EML_ESHAPE, "input must have rank >= 1");
    ctx->outputs[0].dtype = x->dtype;

    EML_TRY(check_input(ctx, p->scales_input, "scales", false, rank));
    EML_TRY(check_input(ctx, p->sizes_input, "sizes", true, rank));
    if (p->coord == EML_RESIZE_TF_CROP_AND_RESIZE)
        EML_TRY(check_input(ctx, p->roi_input, "roi", false, 2 * (int64_t)rank));
    eml_resize_sources src;
    eml__resize_sources(p, ctx->inputs, ctx->n_inputs, &src);
    if (src.scales && src.sizes)
        return eml__infer_error(ctx, EML_EGRAPH, "only one of 'scales' and 'sizes' may be given");
    if (p->attr_scales_count >= 0 && p->attr_scales_count != rank)
        return eml__infer_error(ctx, EML_ESHAPE, "attribute 'scales' has %d values, input rank %d",
                                (int)p->attr_scales_count, rank);
    if (!src.scales && !src.sizes && p->attr_scales_count < 0)
        return eml__infer_error(ctx, EML_EGRAPH, "one of 'scales' and 'sizes' is required");

    const eml_tensor *from = src.sizes ? src.sizes : src.scales;
    if (from && !from->data)
        return EML_EDYNAMIC;
    int64_t dims[EML_MAX_RANK];
    for (int d = 0; d < rank; d++) {
        if (src.sizes) {
            dims[d] = eml__tensor_get_i64(src.sizes, d);
            if (dims[d] < 0 || (double)dims[d] > MAX_DIM)
                return eml__infer_error(ctx, EML_ESHAPE, "sizes[%d] = %lld is out of range", d,
                                        (long long)dims[d]);
            if (x->dims[d] == 0 && dims[d] > 0)
                return eml__infer_error(ctx, EML_ESHAPE,
                                        "sizes[%d] = %lld, but the input axis is empty", d,
                                        (long long)dims[d]);
            continue;
        }
        double s = src.scales ? eml__tensor_get_f64(src.scales, d) : p->attr_scales[d];
        if (!(s > 0) || isinf(s))
            return eml__infer_error(ctx, EML_ESHAPE, "scales[%d] = %g must be positive and finite",
                                    d, s);
        /* ONNX's reference and shape inference floor in × scale; the roi plays no part */
        double v = floor((double)x->dims[d] * s);
        if (v > MAX_DIM)
            return eml__infer_error(ctx, EML_ELIMIT, "output dim %d would be %g", d, v);
        dims[d] = (int64_t)v;
    }
    if (eml__shape_count(dims, rank) < 0)
        return eml__infer_error(ctx, EML_ELIMIT, "output has too many elements");
    eml__set_output(ctx, 0, x->dtype, dims, rank);
    ctx->scratch_bytes = eml__resize_scratch_bytes(&ctx->outputs[0]);
fail:
    return st;
}
