/* Unit tests of QuantizeLinear, DequantizeLinear and DynamicQuantizeLinear through their prepare,
 * infer and reference kernel: rounding, saturation, per-axis parameters, refusals. */
#include "kernels/ref/quantize.h"
#include "op_test_util.h"

/* The functions under test, named directly (ops.def names the same ones; see op_table_agrees). */
static const op_fns quantize_fns[] = {
    {"QuantizeLinear", eml__quantize_prepare, eml__quantize_infer, eml__ref_quantize},
    {"DequantizeLinear", eml__quantize_prepare, eml__dequantize_infer, eml__ref_dequantize},
    {"DynamicQuantizeLinear", eml__quantize_prepare, eml__dynamic_quantize_infer,
     eml__ref_dynamic_quantize},
    {NULL},
};

static const op_fns *op_test_fns = quantize_fns;

/* ---- QuantizeLinear ---- */

static const float ties[] = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 300.0f, -300.0f};

EML_TEST(quantize_rounds_half_to_even_and_saturates)
{
    const float scale[] = {1.0f};
    const uint8_t zp_u8[] = {3};
    const int8_t zp_i8[] = {-3};
    eml_tensor in[3] = {tensor(EML_DTYPE_F32, ties, 1, 8), tensor(EML_DTYPE_F32, scale, 0),
                        tensor(EML_DTYPE_U8, zp_u8, 0)};
    op_case oc;
    op_begin(&oc, "QuantizeLinear", 10, 3, 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    const uint8_t want_u8[] = {1, 1, 3, 3, 5, 5, 255, 0};
    CHECK(oc.out[0].dtype == EML_DTYPE_U8);
    CHECK(memcmp(oc.out[0].data, want_u8, sizeof(want_u8)) == 0);
    op_end(&oc);

    in[2] = tensor(EML_DTYPE_I8, zp_i8, 1, 1);
    op_begin(&oc, "QuantizeLinear", 13, 3, 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    const int8_t want_i8[] = {-5, -5, -3, -3, -1, -1, 127, -128};
    CHECK(oc.out[0].dtype == EML_DTYPE_I8);
    CHECK(memcmp(oc.out[0].data, want_i8, sizeof(want_i8)) == 0);
    op_end(&oc);
}

EML_TEST(quantize_without_zero_point_is_uint8)
{
    const float x[] = {-1.0f, 0.0f, 1.0f, 2.0f, 1000.0f, NAN}, scale[] = {0.5f};
    eml_tensor in[2] = {tensor(EML_DTYPE_F32, x, 2, 2, 3), tensor(EML_DTYPE_F32, scale, 0)};
    op_case oc;
    op_begin(&oc, "QuantizeLinear", 13, 2, 1);
    REQUIRE_OK(op_run(&oc, in, 2, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_U8 && oc.out[0].rank == 2);
    const uint8_t *y = oc.out[0].data;
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 2 && y[3] == 4 && y[4] == 255);
    op_end(&oc);

    /* an omitted (empty-named) zero point is the same */
    eml_tensor omitted[3] = {in[0], in[1], absent};
    op_begin(&oc, "QuantizeLinear", 13, 3, 1);
    REQUIRE_OK(op_run(&oc, omitted, 3, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_U8 && ((uint8_t *)oc.out[0].data)[3] == 4);
    op_end(&oc);
}

EML_TEST(quantize_per_axis_backend_case)
{
    /* ONNX backend test test_quantizelinear_axis (axis defaults to 1) */
    const float x[] = {-162, 10, -100, 232, -20, -50, -76, 0, 0, 252, 32, -44, 245, -485, -960,
                       -270, -375, -470};
    const float scale[] = {2, 4, 5};
    const uint8_t zp[] = {84, 24, 196};
    const uint8_t want[] = {3,  89, 34,  200, 74, 59, 5,   24,  24,
                            87, 32, 13,  245, 99, 4,  142, 121, 102};
    eml_tensor in[3] = {tensor(EML_DTYPE_F32, x, 4, 1, 3, 3, 2), tensor(EML_DTYPE_F32, scale, 1, 3),
                        tensor(EML_DTYPE_U8, zp, 1, 3)};
    op_case oc;
    op_begin(&oc, "QuantizeLinear", 13, 3, 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    CHECK(memcmp(oc.out[0].data, want, sizeof(want)) == 0);
    op_end(&oc);

    /* the same with a negative axis */
    op_begin(&oc, "QuantizeLinear", 13, 3, 1);
    attr_int(&oc, "axis", -3);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    CHECK(memcmp(oc.out[0].data, want, sizeof(want)) == 0);
    op_end(&oc);

    /* and back: test_dequantizelinear_axis */
    eml_tensor dq[3] = {tensor(EML_DTYPE_U8, want, 4, 1, 3, 3, 2), in[1], in[2]};
    op_begin(&oc, "DequantizeLinear", 13, 3, 1);
    REQUIRE_OK(op_run(&oc, dq, 3, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_F32);
    CHECK(memcmp(oc.out[0].data, x, sizeof(x)) == 0);
    op_end(&oc);
}

EML_TEST(quantize_int32_input)
{
    const int32_t x[] = {-1000, -7, -3, 3, 5, 7, 1000};
    const float scale[] = {2.0f};
    const int8_t zp[] = {1};
    eml_tensor in[3] = {tensor(EML_DTYPE_I32, x, 1, 7), tensor(EML_DTYPE_F32, scale, 0),
                        tensor(EML_DTYPE_I8, zp, 0)};
    op_case oc;
    op_begin(&oc, "QuantizeLinear", 13, 3, 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    const int8_t want[] = {-128, -3, -1, 3, 3, 5, 127};
    CHECK(memcmp(oc.out[0].data, want, sizeof(want)) == 0);
    op_end(&oc);
}

EML_TEST(quantize_refusals)
{
    const float x[6] = {0}, scale2[] = {1, 2}, scale3[] = {1, 2, 3};
    const uint8_t zp2[] = {0, 0};
    op_case oc;
    /* axis arrived with opset 13 */
    op_begin(&oc, "QuantizeLinear", 10, 2, 1);
    attr_int(&oc, "axis", 0);
    CHECK_STATUS(op_prepare(&oc), EML_EUNSUPPORTED);
    op_end(&oc);

    /* per-axis scale before opset 13 */
    eml_tensor per_axis[2] = {tensor(EML_DTYPE_F32, x, 2, 3, 2),
                              tensor(EML_DTYPE_F32, scale3, 1, 3)};
    op_begin(&oc, "QuantizeLinear", 10, 2, 1);
    REQUIRE_OK(op_prepare(&oc), &oc.diag);
    CHECK_STATUS(op_infer(&oc, per_axis, 2), EML_ESHAPE);
    op_end(&oc);

    op_begin(&oc, "QuantizeLinear", 13, 3, 1);
    REQUIRE_OK(op_prepare(&oc), &oc.diag);
    /* axis 1 has 2 entries, the scale 3 */
    CHECK_STATUS(op_infer(&oc, per_axis, 2), EML_ESHAPE);
    /* zero point shaped unlike the scale */
    eml_tensor zp_mismatch[3] = {tensor(EML_DTYPE_F32, x, 2, 3, 2),
                                 tensor(EML_DTYPE_F32, scale2, 1, 2), tensor(EML_DTYPE_U8, zp2, 0)};
    CHECK_STATUS(op_infer(&oc, zp_mismatch, 3), EML_ESHAPE);
    eml_tensor f64[2] = {tensor(EML_DTYPE_F64, x, 1, 3), tensor(EML_DTYPE_F32, scale2, 0)};
    CHECK_STATUS(op_infer(&oc, f64, 2), EML_EUNSUPPORTED);
    eml_tensor scale_f64[2] = {tensor(EML_DTYPE_F32, x, 1, 3), tensor(EML_DTYPE_F64, scale2, 0)};
    CHECK_STATUS(op_infer(&oc, scale_f64, 2), EML_ETYPE);
    eml_tensor zp_i32[3] = {tensor(EML_DTYPE_F32, x, 1, 3), tensor(EML_DTYPE_F32, scale2, 0),
                            tensor(EML_DTYPE_I32, zp2, 0)};
    CHECK_STATUS(op_infer(&oc, zp_i32, 3), EML_EUNSUPPORTED);
    op_end(&oc);

    /* axis out of range for a per-axis scale */
    op_begin(&oc, "QuantizeLinear", 13, 2, 1);
    attr_int(&oc, "axis", 2);
    REQUIRE_OK(op_prepare(&oc), &oc.diag);
    eml_tensor far[2] = {tensor(EML_DTYPE_F32, x, 2, 3, 2), tensor(EML_DTYPE_F32, scale2, 1, 2)};
    CHECK_STATUS(op_infer(&oc, far, 2), EML_ESHAPE);
    op_end(&oc);
}

/* ---- DequantizeLinear ---- */

EML_TEST(dequantize_per_tensor_int8_and_int32)
{
    const int8_t x[] = {-128, -1, 0, 127};
    const float scale[] = {0.5f};
    const int8_t zp[] = {-1};
    eml_tensor in[3] = {tensor(EML_DTYPE_I8, x, 1, 4), tensor(EML_DTYPE_F32, scale, 0),
                        tensor(EML_DTYPE_I8, zp, 0)};
    op_case oc;
    op_begin(&oc, "DequantizeLinear", 10, 3, 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    const float want[] = {-63.5f, 0.0f, 0.5f, 64.0f};
    CHECK(memcmp(oc.out[0].data, want, sizeof(want)) == 0);
    op_end(&oc);

    /* int32 (a bias) has no zero point */
    const int32_t xi[] = {-100000, 5, 1 << 30};
    eml_tensor i32[2] = {tensor(EML_DTYPE_I32, xi, 1, 3), tensor(EML_DTYPE_F32, scale, 1, 1)};
    op_begin(&oc, "DequantizeLinear", 13, 2, 1);
    REQUIRE_OK(op_run(&oc, i32, 2, NULL), &oc.diag);
    const float want_i32[] = {-50000.0f, 2.5f, 536870912.0f};
    CHECK(memcmp(oc.out[0].data, want_i32, sizeof(want_i32)) == 0);
    op_end(&oc);

    /* zero point of another dtype than x */
    const uint8_t zpu[] = {0};
    eml_tensor mixed[3] = {in[0], in[1], tensor(EML_DTYPE_U8, zpu, 0)};
    op_begin(&oc, "DequantizeLinear", 13, 3, 1);
    CHECK_STATUS(op_run(&oc, mixed, 3, NULL), EML_ETYPE);
    op_end(&oc);
    const float xf[] = {1};
    eml_tensor floats[2] = {tensor(EML_DTYPE_F32, xf, 1, 1), in[1]};
    op_begin(&oc, "DequantizeLinear", 13, 2, 1);
    CHECK_STATUS(op_run(&oc, floats, 2, NULL), EML_EUNSUPPORTED);
    op_end(&oc);
}

/* ---- DynamicQuantizeLinear ---- */

static void dynamic_check(const float *x, int n, const uint8_t *want_y, float want_scale,
                          uint8_t want_zp)
{
    eml_tensor in[1] = {tensor(EML_DTYPE_F32, x, 1, n)};
    op_case oc;
    op_begin(&oc, "DynamicQuantizeLinear", 11, 1, 3);
    REQUIRE_OK(op_run(&oc, in, 1, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_U8 && oc.out[0].rank == 1 && oc.out[0].dims[0] == n);
    CHECK(oc.out[1].dtype == EML_DTYPE_F32 && oc.out[1].rank == 0);
    CHECK(oc.out[2].dtype == EML_DTYPE_U8 && oc.out[2].rank == 0);
    CHECK(memcmp(oc.out[0].data, want_y, (size_t)n) == 0);
    CHECK(*(float *)oc.out[1].data == want_scale);
    CHECK(*(uint8_t *)oc.out[2].data == want_zp);
    op_end(&oc);
}

EML_TEST(dynamic_quantize_backend_cases)
{
    /* test_dynamicquantizelinear, _max_adjusted, _min_adjusted */
    const float x0[] = {0, 2, -3, -2.5f, 1.34f, 0.5f};
    dynamic_check(x0, 6, (const uint8_t[]){153, 255, 0, 26, 221, 179}, 0.019607843831181526f, 153);
    const float x1[] = {-1.0f, -2.1f, -1.3f, -2.5f, -3.34f, -4.0f};
    dynamic_check(x1, 6, (const uint8_t[]){191, 121, 172, 96, 42, 0}, 0.015686275f, 255);
    const float x2[] = {1, 2.1f, 1.3f, 2.5f, 3.34f, 4, 1.5f, 2.6f, 3.9f, 4, 3, 2.345f};
    dynamic_check(x2, 12,
                  (const uint8_t[]){64, 134, 83, 159, 213, 255, 96, 166, 249, 255, 191, 149},
                  0.015686275f, 0);
}

EML_TEST(dynamic_quantize_all_zero_input)
{
    /* range 0: scale 1/255 (as ONNX Runtime), not the formula's 0/0 */
    const float x[] = {0, 0, 0};
    dynamic_check(x, 3, (const uint8_t[]){0, 0, 0}, 1.0f / 255.0f, 0);
    op_case oc;
    op_begin(&oc, "DynamicQuantizeLinear", 11, 1, 3);
    const double xd[] = {1};
    eml_tensor in[1] = {tensor(EML_DTYPE_F64, xd, 1, 1)};
    CHECK_STATUS(op_run(&oc, in, 1, NULL), EML_EUNSUPPORTED);
    op_end(&oc);
}

EML_TEST(op_table_agrees)
{
    check_op_table_agrees(quantize_fns);
}
