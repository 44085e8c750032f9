/* Data-movement ops (Reshape ... SpaceToDepth): prepare, infer and the reference kernels on small
 * tensors with values from numpy, across opsets and dtypes, and what each op refuses. */
#include <math.h>
#include "movement_run.h"

static float iota_f[64];
static void fill_iota(void)
{
    for (int i = 0; i < 64; i++)
        iota_f[i] = (float)i;
}

/* ---- Reshape, Flatten, Squeeze, Unsqueeze, Identity ---- */

EML_TEST(reshape_zero_copies_and_minus_one_infers)
{
    fill_iota();
    op_case r;
    op_begin(&r, "Reshape", 13, 2, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in[2] = {tens(EML_DTYPE_F32, iota_f, 3, DIMS(2, 3, 4)),
                        tens(EML_DTYPE_I64, I64(0, -1, 2), 1, DIMS(3))};
    REQUIRE_OK(op_exec(&r, in, 2), &r.diag);
    check_shape(&r.out[0], 3, DIMS(2, 6, 2));
    check_data(&r.out[0], iota_f, 24 * sizeof(float));
    /* the shape's values unknown: dtype set, EDYNAMIC */
    in[1].data = NULL;
    CHECK_STATUS(op_infer(&r, in, 2), EML_EDYNAMIC);
    CHECK(r.out[0].dtype == EML_DTYPE_F32);
    /* two -1, wrong count, negative */
    in[1] = tens(EML_DTYPE_I64, I64(-1, -1), 1, DIMS(2));
    CHECK_STATUS(op_infer(&r, in, 2), EML_ESHAPE);
    in[1] = tens(EML_DTYPE_I64, I64(5, 5), 1, DIMS(2));
    CHECK_STATUS(op_infer(&r, in, 2), EML_ESHAPE);
    in[1] = tens(EML_DTYPE_I64, I64(-2, 12), 1, DIMS(2));
    CHECK_STATUS(op_infer(&r, in, 2), EML_ESHAPE);
    in[1] = tens(EML_DTYPE_F32, F32(24), 1, DIMS(1));
    CHECK_STATUS(op_infer(&r, in, 2), EML_ETYPE);
    op_end(&r);
}

EML_TEST(reshape_allowzero_and_attribute_form)
{
    op_case r;
    op_begin(&r, "Reshape", 14, 2, 1);
    attr_int(&r, "allowzero", 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in[2] = {tens(EML_DTYPE_I8, NULL, 3, DIMS(0, 3, 4)),
                        tens(EML_DTYPE_I64, I64(3, 4, 0), 1, DIMS(3))};
    REQUIRE_OK(op_infer(&r, in, 2), &r.diag);
    check_shape(&r.out[0], 3, DIMS(3, 4, 0));
    in[1] = tens(EML_DTYPE_I64, I64(0, -1), 1, DIMS(2)); /* ambiguous with allowzero */
    CHECK_STATUS(op_infer(&r, in, 2), EML_ESHAPE);
    op_end(&r);

    op_begin(&r, "Reshape", 1, 1, 1);
    CHECK_STATUS(op_prepare(&r), EML_EGRAPH); /* shape attribute required */
    op_end(&r);
    op_begin(&r, "Reshape", 4, 1, 1);
    attr_ints(&r, "shape", I64(4, -1), 2);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    const double x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    eml_tensor xin = tens(EML_DTYPE_F64, x, 2, DIMS(2, 4));
    REQUIRE_OK(op_exec(&r, &xin, 1), &r.diag);
    check_shape(&r.out[0], 2, DIMS(4, 2));
    check_data(&r.out[0], x, sizeof(x));
    op_end(&r);
    op_begin(&r, "Reshape", 13, 2, 1);
    attr_int(&r, "allowzero", 1); /* only from opset 14 */
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    CHECK(strstr(r.diag.message, "allowzero") != NULL);
    op_end(&r);
}

EML_TEST(flatten_axes)
{
    op_case r;
    const int64_t cases[][3] = {{0, 1, 24}, {2, 6, 4}, {3, 24, 1}, {-1, 6, 4}, {-3, 1, 24}};
    for (size_t c = 0; c < 5; c++) {
        op_begin(&r, "Flatten", 11, 1, 1);
        attr_int(&r, "axis", cases[c][0]);
        REQUIRE_OK(op_prepare(&r), &r.diag);
        eml_tensor in = tens(EML_DTYPE_U16, NULL, 3, DIMS(2, 3, 4));
        REQUIRE_OK(op_infer(&r, &in, 1), &r.diag);
        check_shape(&r.out[0], 2, cases[c] + 1);
        op_end(&r);
    }
    op_begin(&r, "Flatten", 11, 1, 1);
    attr_int(&r, "axis", 4);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in = tens(EML_DTYPE_F32, NULL, 3, DIMS(2, 3, 4));
    CHECK_STATUS(op_infer(&r, &in, 1), EML_ESHAPE);
    op_end(&r);
}

EML_TEST(squeeze_forms)
{
    op_case r;
    /* opset 11: axes attribute; no axes: every 1 goes */
    op_begin(&r, "Squeeze", 11, 1, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in = tens(EML_DTYPE_BOOL, NULL, 4, DIMS(1, 3, 1, 2));
    REQUIRE_OK(op_infer(&r, &in, 1), &r.diag);
    check_shape(&r.out[0], 2, DIMS(3, 2));
    op_end(&r);
    op_begin(&r, "Squeeze", 11, 1, 1);
    attr_ints(&r, "axes", I64(-2), 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    REQUIRE_OK(op_infer(&r, &in, 1), &r.diag);
    check_shape(&r.out[0], 3, DIMS(1, 3, 2));
    op_end(&r);
    op_begin(&r, "Squeeze", 11, 1, 1);
    attr_ints(&r, "axes", I64(1), 1); /* size 3 */
    REQUIRE_OK(op_prepare(&r), &r.diag);
    CHECK_STATUS(op_infer(&r, &in, 1), EML_ESHAPE);
    op_end(&r);
    /* opset 13: axes input, repeated axis refused, unknown axes wait */
    op_begin(&r, "Squeeze", 13, 2, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in2[2] = {in, tens(EML_DTYPE_I64, I64(0, -4), 1, DIMS(2))};
    CHECK_STATUS(op_infer(&r, in2, 2), EML_ESHAPE);
    in2[1] = tens(EML_DTYPE_I64, I64(0, 2), 1, DIMS(2));
    REQUIRE_OK(op_infer(&r, in2, 2), &r.diag);
    check_shape(&r.out[0], 2, DIMS(3, 2));
    in2[1].data = NULL;
    CHECK_STATUS(op_infer(&r, in2, 2), EML_EDYNAMIC);
    op_end(&r);
}

EML_TEST(unsqueeze_forms)
{
    op_case r;
    op_begin(&r, "Unsqueeze", 11, 1, 1);
    CHECK_STATUS(op_prepare(&r), EML_EGRAPH); /* axes required */
    op_end(&r);
    op_begin(&r, "Unsqueeze", 11, 1, 1);
    attr_ints(&r, "axes", I64(4, 0, -2), 3);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    const int32_t x[3] = {7, 8, 9};
    eml_tensor in = tens(EML_DTYPE_I32, x, 2, DIMS(3, 1));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_shape(&r.out[0], 5, DIMS(1, 3, 1, 1, 1));
    check_data(&r.out[0], x, sizeof(x));
    op_end(&r);
    op_begin(&r, "Unsqueeze", 13, 2, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in2[2] = {in, tens(EML_DTYPE_I64, I64(1, 1), 1, DIMS(2))};
    CHECK_STATUS(op_infer(&r, in2, 2), EML_ESHAPE);
    in2[1] = tens(EML_DTYPE_I64, I64(0, 1, 2, 3, 4, 5, 6), 1, DIMS(7)); /* rank 9 */
    CHECK_STATUS(op_infer(&r, in2, 2), EML_EUNSUPPORTED);
    op_end(&r);
}

EML_TEST(identity_copies_any_type)
{
    op_case r;
    op_begin(&r, "Identity", 16, 1, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    const uint16_t x[4] = {0x3c00, 0x4000, 0xbc00, 0x7e00}; /* float16 1, 2, -1, NaN */
    eml_tensor in = tens(EML_DTYPE_F16, x, 2, DIMS(2, 2));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_data(&r.out[0], x, sizeof(x));
    eml_tensor s = tens(EML_DTYPE_STRING, NULL, 0, NULL);
    CHECK_STATUS(op_infer(&r, &s, 1), EML_EUNSUPPORTED);
    op_end(&r);
}

/* ---- Dropout ---- */

EML_TEST(dropout_inference_and_masks)
{
    op_case r;
    const float x[3] = {-1, 0, 1};
    /* opset 7: mask has the data's type */
    op_begin(&r, "Dropout", 7, 1, 2);
    attr_float(&r, "ratio", 0.3f);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in[3] = {tens(EML_DTYPE_F32, x, 1, DIMS(3))};
    REQUIRE_OK(op_exec(&r, in, 1), &r.diag);
    check_data(&r.out[0], x, sizeof(x));
    check_data(&r.out[1], F32(1, 1, 1), sizeof(x));
    op_end(&r);
    /* opset 6 with is_test = 0 still runs as inference */
    op_begin(&r, "Dropout", 6, 1, 1);
    attr_int(&r, "is_test", 0);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    REQUIRE_OK(op_exec(&r, in, 1), &r.diag);
    check_data(&r.out[0], x, sizeof(x));
    op_end(&r);
    op_begin(&r, "Dropout", 10, 1, 1);
    attr_float(&r, "ratio", 1.0f);
    CHECK_STATUS(op_prepare(&r), EML_EGRAPH);
    op_end(&r);
    /* opset 13: bool mask; training with ratio 0 is the identity, above 0 a seeded mask */
    op_begin(&r, "Dropout", 13, 3, 2);
    attr_int(&r, "seed", 0);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    const bool on = true;
    const float zero = 0.0f;
    in[1] = tens(EML_DTYPE_F32, &zero, 0, NULL);
    in[2] = tens(EML_DTYPE_BOOL, &on, 0, NULL);
    REQUIRE_OK(op_exec(&r, in, 3), &r.diag);
    check_data(&r.out[0], x, sizeof(x));
    const bool all[3] = {true, true, true};
    check_data(&r.out[1], all, sizeof(all));
    /* ratio 0.6 with seed 0: NumPy's first draws 0.549, 0.715, 0.603 drop only element 0 */
    const float ratio = 0.6f;
    in[1] = tens(EML_DTYPE_F32, &ratio, 0, NULL);
    REQUIRE_OK(op_exec(&r, in, 3), &r.diag);
    const float kept[3] = {0.0f, x[1] / 0.4f, x[2] / 0.4f};
    for (int i = 0; i < 3; i++)
        CHECK(fabsf(((const float *)r.out[0].data)[i] - kept[i]) <= 1e-6f * fabsf(kept[i]));
    const bool some[3] = {false, true, true};
    check_data(&r.out[1], some, sizeof(some));
    /* a ratio outside [0, 1) known only at run time is a clear error from the kernel */
    const float one = 1.0f;
    in[1] = tens(EML_DTYPE_F32, NULL, 0, NULL);
    REQUIRE_OK(op_infer(&r, in, 3), &r.diag);
    float y[3];
    bool mask_bytes[3];
    r.out[0].data = y;
    r.out[1].data = mask_bytes;
    in[1].data = (void *)&one;
    eml_kernel_ctx kc = {r.params, in, 3, r.out, 2, NULL, 0, NULL, &r.diag};
    CHECK_STATUS(eml__ref_dropout(&kc), EML_ERANGE);
    r.out[0].data = r.out[1].data = NULL;
    eml_tensor ints = tens(EML_DTYPE_I32, x, 1, DIMS(3));
    CHECK_STATUS(op_infer(&r, &ints, 1), EML_EUNSUPPORTED);
    op_end(&r);
}

/* ---- Transpose ---- */

EML_TEST(transpose_perm_default_and_invalid)
{
    op_case r;
    const int8_t x[6] = {0, 1, 2, 3, 4, 5};
    op_begin(&r, "Transpose", 13, 1, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in = tens(EML_DTYPE_I8, x, 2, DIMS(2, 3));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_shape(&r.out[0], 2, DIMS(3, 2));
    const int8_t want[6] = {0, 3, 1, 4, 2, 5};
    check_data(&r.out[0], want, sizeof(want));
    op_end(&r);
    /* 3-d, 8-byte elements: perm (2, 0, 1) of a [2, 3, 2] */
    op_begin(&r, "Transpose", 1, 1, 1);
    attr_ints(&r, "perm", I64(2, 0, 1), 3);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    int64_t y[12];
    for (int i = 0; i < 12; i++)
        y[i] = i;
    in = tens(EML_DTYPE_I64, y, 3, DIMS(2, 3, 2));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_shape(&r.out[0], 3, DIMS(2, 2, 3));
    check_data(&r.out[0], I64(0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11), 12 * sizeof(int64_t));
    in = tens(EML_DTYPE_I64, y, 2, DIMS(3, 4));
    CHECK_STATUS(op_infer(&r, &in, 1), EML_ESHAPE);
    op_end(&r);
    op_begin(&r, "Transpose", 13, 1, 1);
    attr_ints(&r, "perm", I64(0, 0), 2);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    in = tens(EML_DTYPE_I64, y, 2, DIMS(3, 4));
    CHECK_STATUS(op_infer(&r, &in, 1), EML_ESHAPE);
    op_end(&r);
}

/* ---- Concat and Split ---- */

EML_TEST(concat_axis_rules)
{
    op_case r;
    op_begin(&r, "Concat", 4, 2, 1);
    CHECK_STATUS(op_prepare(&r), EML_EGRAPH); /* axis required since opset 4 */
    op_end(&r);
    /* opset 1 defaulted to axis 1; an empty input adds nothing */
    op_begin(&r, "Concat", 1, 3, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in[3] = {tens(EML_DTYPE_I64, I64(1, 2, 3, 4), 2, DIMS(2, 2)),
                        tens(EML_DTYPE_I64, NULL, 2, DIMS(2, 0)),
                        tens(EML_DTYPE_I64, I64(5, 6), 2, DIMS(2, 1))};
    REQUIRE_OK(op_exec(&r, in, 3), &r.diag);
    check_shape(&r.out[0], 2, DIMS(2, 3));
    check_data(&r.out[0], I64(1, 2, 5, 3, 4, 6), 6 * sizeof(int64_t));
    in[2] = tens(EML_DTYPE_I64, I64(5, 6), 2, DIMS(1, 2));
    CHECK_STATUS(op_infer(&r, in, 3), EML_ESHAPE);
    in[2] = tens(EML_DTYPE_I32, I64(5, 6), 2, DIMS(2, 1));
    CHECK_STATUS(op_infer(&r, in, 3), EML_ETYPE);
    op_end(&r);
}

EML_TEST(split_forms)
{
    fill_iota();
    op_case r;
    /* opset 2: split attribute, axis 1 */
    op_begin(&r, "Split", 2, 1, 2);
    attr_int(&r, "axis", 1);
    attr_ints(&r, "split", I64(1, 2), 2);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in[2] = {tens(EML_DTYPE_F32, iota_f, 2, DIMS(2, 3))};
    REQUIRE_OK(op_exec(&r, in, 1), &r.diag);
    check_shape(&r.out[0], 2, DIMS(2, 1));
    check_data(&r.out[0], F32(0, 3), 2 * sizeof(float));
    check_data(&r.out[1], F32(1, 2, 4, 5), 4 * sizeof(float));
    op_end(&r);
    /* equal parts must divide */
    op_begin(&r, "Split", 13, 1, 2);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    in[0] = tens(EML_DTYPE_F32, iota_f, 1, DIMS(5));
    CHECK_STATUS(op_infer(&r, in, 1), EML_ESHAPE);
    op_end(&r);
    /* opset 13: split input; wrong sum refused; unknown waits */
    op_begin(&r, "Split", 13, 2, 2);
    attr_ints(&r, "split", I64(2, 3), 2);
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED); /* no attribute at 13 */
    op_end(&r);
    op_begin(&r, "Split", 13, 2, 2);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    in[1] = tens(EML_DTYPE_I64, I64(4, 1), 1, DIMS(2));
    REQUIRE_OK(op_exec(&r, in, 2), &r.diag);
    check_data(&r.out[0], F32(0, 1, 2, 3), 4 * sizeof(float));
    check_data(&r.out[1], F32(4), sizeof(float));
    in[1] = tens(EML_DTYPE_I64, I64(4, 2), 1, DIMS(2));
    CHECK_STATUS(op_infer(&r, in, 2), EML_ESHAPE);
    in[1] = tens(EML_DTYPE_I64, I64(6, -1), 1, DIMS(2));
    CHECK_STATUS(op_infer(&r, in, 2), EML_ESHAPE);
    in[1].data = NULL;
    CHECK_STATUS(op_infer(&r, in, 2), EML_EDYNAMIC);
    CHECK(r.out[1].dtype == EML_DTYPE_F32);
    op_end(&r);
}

/* ---- Slice ---- */

EML_TEST(slice_negative_steps_and_clamping)
{
    op_case r;
    int32_t x[24];
    for (int i = 0; i < 24; i++)
        x[i] = i;
    /* numpy x[::-1, 2:0:-1, -1:-5:-2] with int32 index inputs */
    op_begin(&r, "Slice", 13, 5, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    const int32_t starts[3] = {-1, 2, -1}, ends[3] = {INT32_MIN, 0, -5}, steps[3] = {-1, -1, -2};
    const int32_t axes[3] = {0, -2, 2};
    eml_tensor in[5] = {
        tens(EML_DTYPE_I32, x, 3, DIMS(2, 3, 4)), tens(EML_DTYPE_I32, starts, 1, DIMS(3)),
        tens(EML_DTYPE_I32, ends, 1, DIMS(3)), tens(EML_DTYPE_I32, axes, 1, DIMS(3)),
        tens(EML_DTYPE_I32, steps, 1, DIMS(3))};
    REQUIRE_OK(op_exec(&r, in, 5), &r.diag);
    check_shape(&r.out[0], 3, DIMS(2, 2, 2));
    const int32_t want[8] = {23, 21, 19, 17, 11, 9, 7, 5};
    check_data(&r.out[0], want, sizeof(want));
    /* extreme int64 bounds and steps clamp instead of overflowing */
    const int64_t s64[1] = {INT64_MIN}, e64[1] = {INT64_MAX}, st64[1] = {INT64_MAX};
    eml_tensor in2[5] = {in[0], tens(EML_DTYPE_I64, s64, 1, DIMS(1)),
                         tens(EML_DTYPE_I64, e64, 1, DIMS(1))};
    in2[3] = tens(EML_DTYPE_UNDEFINED, NULL, 0, NULL);
    in2[4] = tens(EML_DTYPE_I64, st64, 1, DIMS(1));
    REQUIRE_OK(op_exec(&r, in2, 5), &r.diag);
    check_shape(&r.out[0], 3, DIMS(1, 3, 4));
    check_data(&r.out[0], x, 12 * sizeof(int32_t));
    /* step 0, repeated axis, unknown values */
    const int64_t zero[1] = {0}, rep[2] = {1, -2}, two[2] = {0, 0};
    in2[4] = tens(EML_DTYPE_I64, zero, 1, DIMS(1));
    CHECK_STATUS(op_infer(&r, in2, 5), EML_ESHAPE);
    eml_tensor in3[4] = {in[0], tens(EML_DTYPE_I64, two, 1, DIMS(2)),
                         tens(EML_DTYPE_I64, two, 1, DIMS(2)),
                         tens(EML_DTYPE_I64, rep, 1, DIMS(2))};
    CHECK_STATUS(op_infer(&r, in3, 4), EML_ESHAPE);
    in3[3].data = NULL;
    CHECK_STATUS(op_infer(&r, in3, 4), EML_EDYNAMIC);
    op_end(&r);
}

EML_TEST(slice_attribute_form)
{
    op_case r;
    op_begin(&r, "Slice", 1, 1, 1);
    attr_ints(&r, "starts", I64(1, 0), 2);
    attr_ints(&r, "ends", I64(1000, -1), 2);
    attr_ints(&r, "axes", I64(0, 1), 2);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    const uint8_t x[6] = {1, 2, 3, 4, 5, 6};
    eml_tensor in = tens(EML_DTYPE_U8, x, 2, DIMS(2, 3));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_shape(&r.out[0], 2, DIMS(1, 2));
    check_data(&r.out[0], (const uint8_t[]){4, 5}, 2);
    op_end(&r);
    op_begin(&r, "Slice", 1, 1, 1);
    attr_ints(&r, "starts", I64(1, 0), 2);
    attr_ints(&r, "ends", I64(1000), 1);
    CHECK_STATUS(op_prepare(&r), EML_EGRAPH);
    op_end(&r);
    op_begin(&r, "Slice", 10, 3, 1);
    attr_ints(&r, "starts", I64(1), 1);
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    op_end(&r);
}

/* ---- Gather, GatherElements ---- */

EML_TEST(gather_axis_and_range_errors)
{
    fill_iota();
    op_case r;
    op_begin(&r, "Gather", 13, 2, 1);
    attr_int(&r, "axis", 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    const int32_t idx[2] = {-1, 0};
    eml_tensor in[2] = {tens(EML_DTYPE_F32, iota_f, 2, DIMS(2, 3)),
                        tens(EML_DTYPE_I32, idx, 2, DIMS(1, 2))};
    REQUIRE_OK(op_exec(&r, in, 2), &r.diag);
    check_shape(&r.out[0], 3, DIMS(2, 1, 2));
    check_data(&r.out[0], F32(2, 0, 5, 3), 4 * sizeof(float));
    const int64_t bad[2] = {0, 3};
    in[1] = tens(EML_DTYPE_I64, bad, 1, DIMS(2));
    CHECK_STATUS(op_exec(&r, in, 2), EML_ERANGE);
    CHECK(strstr(r.diag.message, "index 3") != NULL);
    in[1] = tens(EML_DTYPE_F32, iota_f, 1, DIMS(2));
    CHECK_STATUS(op_infer(&r, in, 2), EML_EUNSUPPORTED);
    op_end(&r);
}

EML_TEST(gather_elements_checks)
{
    op_case r;
    op_begin(&r, "GatherElements", 13, 2, 1);
    attr_int(&r, "axis", -1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    const int16_t x[6] = {1, 2, 3, 4, 5, 6};
    const int64_t idx[4] = {2, -3, 1, 1};
    eml_tensor in[2] = {tens(EML_DTYPE_I16, x, 2, DIMS(2, 3)),
                        tens(EML_DTYPE_I64, idx, 2, DIMS(2, 2))};
    REQUIRE_OK(op_exec(&r, in, 2), &r.diag);
    check_data(&r.out[0], (const int16_t[]){3, 1, 5, 5}, 4 * sizeof(int16_t));
    const int64_t bad[4] = {0, 0, -4, 0};
    in[1].data = (void *)bad;
    CHECK_STATUS(op_exec(&r, in, 2), EML_ERANGE);
    in[1] = tens(EML_DTYPE_I64, idx, 2, DIMS(4, 1)); /* 4 rows of a 2-row data */
    CHECK_STATUS(op_infer(&r, in, 2), EML_ESHAPE);
    op_end(&r);
}

/* ---- Tile, Pad ---- */

EML_TEST(tile_forms)
{
    op_case r;
    op_begin(&r, "Tile", 13, 2, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    const uint8_t x[4] = {1, 2, 3, 4};
    eml_tensor in[3] = {tens(EML_DTYPE_U8, x, 2, DIMS(2, 2)),
                        tens(EML_DTYPE_I64, I64(2, 3), 1, DIMS(2))};
    REQUIRE_OK(op_exec(&r, in, 2), &r.diag);
    check_shape(&r.out[0], 2, DIMS(4, 6));
    const uint8_t want[24] = {1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4,
                              1, 2, 1, 2, 1, 2, 3, 4, 3, 4, 3, 4};
    check_data(&r.out[0], want, sizeof(want));
    in[1] = tens(EML_DTYPE_I64, I64(2, -1), 1, DIMS(2));
    CHECK_STATUS(op_infer(&r, in, 2), EML_ESHAPE);
    in[1] = tens(EML_DTYPE_I64, I64(2), 1, DIMS(1));
    CHECK_STATUS(op_infer(&r, in, 2), EML_ESHAPE);
    in[1] = tens(EML_DTYPE_I64, I64(INT64_MAX, 1), 1, DIMS(2));
    CHECK_STATUS(op_infer(&r, in, 2), EML_ELIMIT);
    op_end(&r);
    /* opset 1: tiles copies along one axis */
    op_begin(&r, "Tile", 1, 3, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    in[1] = tens(EML_DTYPE_I64, I64(2), 0, NULL);
    in[2] = tens(EML_DTYPE_I64, I64(1), 0, NULL);
    REQUIRE_OK(op_exec(&r, in, 3), &r.diag);
    check_shape(&r.out[0], 2, DIMS(2, 4));
    check_data(&r.out[0], (const uint8_t[]){1, 2, 1, 2, 3, 4, 3, 4}, 8);
    op_end(&r);
}

EML_TEST(pad_modes)
{
    fill_iota();
    op_case r;
    /* opset 2: reflect with pads longer than the axis (numpy.pad) */
    op_begin(&r, "Pad", 2, 1, 1);
    attr_string(&r, "mode", "reflect");
    attr_ints(&r, "pads", I64(1, 4, 2, 5), 4);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in[3] = {tens(EML_DTYPE_F32, iota_f, 2, DIMS(2, 3))};
    REQUIRE_OK(op_exec(&r, in, 1), &r.diag);
    check_shape(&r.out[0], 2, DIMS(5, 12));
    const float row0[12] = {3, 4, 5, 4, 3, 4, 5, 4, 3, 4, 5, 4};
    const float row1[12] = {0, 1, 2, 1, 0, 1, 2, 1, 0, 1, 2, 1};
    float want[60];
    for (int i = 0; i < 5; i++)
        memcpy(want + 12 * i, i % 2 ? row1 : row0, sizeof(row0));
    check_data(&r.out[0], want, sizeof(want));
    op_end(&r);
    /* opset 11: edge */
    op_begin(&r, "Pad", 11, 2, 1);
    attr_string(&r, "mode", "edge");
    REQUIRE_OK(op_prepare(&r), &r.diag);
    in[1] = tens(EML_DTYPE_I64, I64(0, 2, 1, 0), 1, DIMS(4));
    REQUIRE_OK(op_exec(&r, in, 2), &r.diag);
    check_data(&r.out[0], F32(0, 0, 0, 1, 2, 3, 3, 3, 4, 5, 3, 3, 3, 4, 5), 15 * sizeof(float));
    in[1] = tens(EML_DTYPE_I64, I64(0, 2, 1), 1, DIMS(3));
    CHECK_STATUS(op_infer(&r, in, 2), EML_ESHAPE);
    in[1] = tens(EML_DTYPE_I64, I64(0, 0, 1, 0), 1, DIMS(4));
    in[0] = tens(EML_DTYPE_F32, NULL, 2, DIMS(0, 3)); /* edge of nothing */
    CHECK_STATUS(op_infer(&r, in, 2), EML_ESHAPE);
    op_end(&r);
    /* opset 13: negative pads crop, constant_value input */
    op_begin(&r, "Pad", 13, 3, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    const int64_t x64[6] = {0, 1, 2, 3, 4, 5}, nine = 9;
    in[0] = tens(EML_DTYPE_I64, x64, 2, DIMS(2, 3));
    in[1] = tens(EML_DTYPE_I64, I64(0, -1, 1, 2), 1, DIMS(4));
    in[2] = tens(EML_DTYPE_I64, &nine, 0, NULL);
    REQUIRE_OK(op_exec(&r, in, 3), &r.diag);
    check_shape(&r.out[0], 2, DIMS(3, 4));
    check_data(&r.out[0], I64(1, 2, 9, 9, 4, 5, 9, 9, 9, 9, 9, 9), 12 * sizeof(int64_t));
    in[1] = tens(EML_DTYPE_I64, I64(0, -4, 0, 0), 1, DIMS(4));
    CHECK_STATUS(op_infer(&r, in, 3), EML_ESHAPE);
    in[1].data = NULL;
    CHECK_STATUS(op_infer(&r, in, 3), EML_EDYNAMIC);
    op_end(&r);
    op_begin(&r, "Pad", 13, 2, 1);
    attr_string(&r, "mode", "wrap");
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    CHECK(strstr(r.diag.message, "wrap") != NULL);
    op_end(&r);
}

/* ---- DepthToSpace, SpaceToDepth ---- */

EML_TEST(depth_space_modes)
{
    fill_iota();
    op_case r;
    eml_tensor in = tens(EML_DTYPE_F32, iota_f, 4, DIMS(1, 8, 1, 2));
    op_begin(&r, "DepthToSpace", 13, 1, 1);
    attr_int(&r, "blocksize", 2);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_shape(&r.out[0], 4, DIMS(1, 2, 2, 4));
    check_data(&r.out[0], F32(0, 4, 1, 5, 8, 12, 9, 13, 2, 6, 3, 7, 10, 14, 11, 15),
               16 * sizeof(float));
    op_end(&r);
    op_begin(&r, "DepthToSpace", 11, 1, 1);
    attr_int(&r, "blocksize", 2);
    attr_string(&r, "mode", "CRD");
    REQUIRE_OK(op_prepare(&r), &r.diag);
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_data(&r.out[0], F32(0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11, 12, 14, 13, 15),
               16 * sizeof(float));
    in = tens(EML_DTYPE_F32, iota_f, 4, DIMS(1, 6, 1, 2));
    CHECK_STATUS(op_infer(&r, &in, 1), EML_ESHAPE);
    op_end(&r);
    op_begin(&r, "SpaceToDepth", 13, 1, 1);
    attr_int(&r, "blocksize", 2);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    in = tens(EML_DTYPE_F32, iota_f, 4, DIMS(1, 1, 4, 4));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_shape(&r.out[0], 4, DIMS(1, 4, 2, 2));
    check_data(&r.out[0], F32(0, 2, 8, 10, 1, 3, 9, 11, 4, 6, 12, 14, 5, 7, 13, 15),
               16 * sizeof(float));
    op_end(&r);
    op_begin(&r, "SpaceToDepth", 13, 1, 1);
    attr_int(&r, "blocksize", 2);
    attr_string(&r, "mode", "CRD"); /* DepthToSpace only */
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    op_end(&r);
    op_begin(&r, "DepthToSpace", 13, 1, 1);
    attr_int(&r, "blocksize", 0);
    CHECK_STATUS(op_prepare(&r), EML_EGRAPH);
    op_end(&r);
    op_begin(&r, "DepthToSpace", 13, 1, 1);
    attr_int(&r, "blocksize", 2);
    attr_string(&r, "mode", "XYZ");
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    op_end(&r);
}

/* ---- randomized checks against per-element definitions ---- */

/* Python's slice.indices (numpy slicing): the elements a[start:stop:step] of an axis of `len`,
 * except where the ONNX spec differs: with a negative step, a start before the axis is clamped to
 * 0 (numpy would take nothing), as ONNX Runtime does. */
static int64_t py_slice(int64_t start, int64_t stop, int64_t step, int64_t len, int64_t *out)
{
    int64_t lower = step > 0 ? 0 : -1, upper = step > 0 ? len : len - 1;
    start = start < 0 ? start + len : start;
    start = start < lower ? lower : start > upper ? upper : start;
    if (step < 0 && start < 0)
        start = EML_MIN(0, len - 1);
    stop = stop < 0 ? stop + len : stop;
    stop = stop < lower ? lower : stop > upper ? upper : stop;
    int64_t n = 0;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step)
        out[n++] = i;
    return n;
}

EML_TEST(slice_random_against_numpy_slices)
{
    op_case r;
    op_begin(&r, "Slice", 13, 5, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    for (int round = 0; round < 300; round++) {
        int rank = 1 + (int)(eml_test_rand() % 4);
        int64_t dims[4], starts[4], ends[4], steps[4], pick[4][16], count[4];
        int32_t x[4096];
        for (int d = 0; d < rank; d++) {
            dims[d] = eml_test_rand() % 6;
            starts[d] = (int64_t)(eml_test_rand() % 17) - 8;
            ends[d] = (int64_t)(eml_test_rand() % 17) - 8;
            steps[d] = (int64_t)(eml_test_rand() % 7) - 3;
            if (steps[d] == 0)
                steps[d] = 1;
            count[d] = py_slice(starts[d], ends[d], steps[d], dims[d], pick[d]);
        }
        int64_t n = eml__shape_count(dims, rank);
        for (int64_t i = 0; i < n; i++)
            x[i] = (int32_t)i;
        eml_tensor in[5] = {tens(EML_DTYPE_I32, x, rank, dims),
                            tens(EML_DTYPE_I64, starts, 1, &(int64_t){rank}),
                            tens(EML_DTYPE_I64, ends, 1, &(int64_t){rank}),
                            tens(EML_DTYPE_UNDEFINED, NULL, 0, NULL),
                            tens(EML_DTYPE_I64, steps, 1, &(int64_t){rank})};
        REQUIRE_OK(op_exec(&r, in, 5), &r.diag);
        check_shape(&r.out[0], rank, count);
        /* walk the output in order, reading x at the picked coordinates */
        int64_t strides[4], idx[4] = {0}, m = eml__shape_count(count, rank);
        eml__strides(dims, rank, strides);
        const int32_t *y = r.out[0].data;
        for (int64_t k = 0; k < m; k++) {
            int64_t off = 0;
            for (int d = 0; d < rank; d++)
                off += pick[d][idx[d]] * strides[d];
            if (y[k] != x[off]) {
                fprintf(stderr, "  round %d element %lld\n", round, (long long)k);
                CHECK(y[k] == x[off]);
                break;
            }
            eml__index_next(idx, count, rank);
        }
    }
    op_end(&r);
}

/* numpy.pad's index rule for one axis: -1 for the constant. */
static int64_t np_pad_source(int64_t o, int64_t len, int64_t before, eml_pad_mode mode)
{
    int64_t i = o - before;
    if (i >= 0 && i < len)
        return i;
    if (mode == EML_PAD_CONSTANT)
        return -1;
    if (mode == EML_PAD_EDGE)
        return i < 0 ? 0 : len - 1;
    /* reflect: bounce between 0 and len - 1 */
    while (i < 0 || i >= len) {
        if (len == 1)
            return 0;
        i = i < 0 ? -i : 2 * (len - 1) - i;
    }
    return i;
}

EML_TEST(pad_random_against_numpy_rule)
{
    static const char *const modes[] = {"constant", "reflect", "edge"};
    for (int m = 0; m < 3; m++) {
        op_case r;
        op_begin(&r, "Pad", 13, 3, 1);
        attr_string(&r, "mode", modes[m]);
        REQUIRE_OK(op_prepare(&r), &r.diag);
        for (int round = 0; round < 200; round++) {
            int rank = 1 + (int)(eml_test_rand() % 3);
            int64_t dims[3], pads[6], out[3];
            int16_t x[512];
            for (int d = 0; d < rank; d++) {
                dims[d] = 1 + eml_test_rand() % 5;
                /* crops down to one element, pads up to twice the axis */
                pads[d] = (int64_t)(eml_test_rand() % (3 * dims[d])) - (dims[d] - 1) / 2;
                pads[d + rank] = (int64_t)(eml_test_rand() % (2 * dims[d] + 1)) - (dims[d] - 1) / 2;
                out[d] = dims[d] + pads[d] + pads[d + rank];
            }
            int64_t n = eml__shape_count(dims, rank);
            for (int64_t i = 0; i < n; i++)
                x[i] = (int16_t)(i + 1);
            const int16_t value = -5;
            eml_tensor in[3] = {tens(EML_DTYPE_I16, x, rank, dims),
                                tens(EML_DTYPE_I64, pads, 1, &(int64_t){2 * rank}),
                                tens(EML_DTYPE_I16, &value, 0, NULL)};
            REQUIRE_OK(op_exec(&r, in, 3), &r.diag);
            check_shape(&r.out[0], rank, out);
            int64_t strides[3], idx[3] = {0}, total = eml__shape_count(out, rank);
            eml__strides(dims, rank, strides);
            const int16_t *y = r.out[0].data;
            for (int64_t k = 0; k < total; k++) {
                int64_t off = 0;
                for (int d = 0; d < rank && off >= 0; d++) {
                    int64_t i = np_pad_source(idx[d], dims[d], pads[d], (eml_pad_mode)m);
                    off = i < 0 ? -1 : off + i * strides[d];
                }
                int16_t want = off < 0 ? value : x[off];
                if (y[k] != want) {
                    fprintf(stderr, "  %s round %d element %lld: %d, want %d\n", modes[m], round,
                            (long long)k, y[k], want);
                    CHECK(y[k] == want);
                    break;
                }
                eml__index_next(idx, out, rank);
            }
        }
        op_end(&r);
    }
}
