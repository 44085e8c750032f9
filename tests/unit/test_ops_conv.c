/* Unit tests of Conv, ConvTranspose, ConvInteger and QLinearConv through their prepare, infer and
 * reference kernel, on small tensors with values from the ONNX spec's examples and numpy. */
#include "kernels/ref/conv.h"
#include "op_test_util.h"

/* The functions under test, named directly (ops.def names the same ones; see op_table_agrees). */
static const op_fns conv_fns[] = {
    {"Conv", eml__conv_prepare, eml__conv_infer, eml__ref_conv},
    {"ConvTranspose", eml__conv_transpose_prepare, eml__conv_transpose_infer,
     eml__ref_conv_transpose},
    {"ConvInteger", eml__conv_prepare, eml__conv_integer_infer, eml__ref_conv_integer},
    {"QLinearConv", eml__conv_prepare, eml__qlinear_conv_infer, eml__ref_qlinear_conv},
    {NULL},
};

static const op_fns *op_test_fns = conv_fns;

static float iota_f32[64];

static const float *iota(void)
{
    for (int i = 0; i < 64; i++)
        iota_f32[i] = (float)i;
    return iota_f32;
}

static const float ones9[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};

/* ---- Conv ---- */

EML_TEST(conv_padding_from_spec)
{
    eml_tensor in[2] = {tensor(EML_DTYPE_F32, iota(), 4, 1, 1, 5, 5),
                        tensor(EML_DTYPE_F32, ones9, 4, 1, 1, 3, 3)};
    op_case oc;
    op_begin(&oc, "Conv", 11, 2, 1);
    attr_ints_va(&oc, "kernel_shape", 2, 3, 3);
    attr_ints_va(&oc, "pads", 4, 1, 1, 1, 1);
    REQUIRE_OK(op_run(&oc, in, 2, NULL), &oc.diag);
    check_shape(&oc.out[0], 4, (const int64_t[]){1, 1, 5, 5});
    check_near(&oc.out[0],
               (const double[]){12, 21, 27, 33, 24, 33, 54, 63, 72, 51, 63, 99, 108,
                                117, 81, 93, 144, 153, 162, 111, 72, 111, 117, 123, 84},
               25);
    CHECK(oc.macs == 25 * 9);
    op_end(&oc);
}

EML_TEST(conv_strides_asymmetric_pads_and_same_lower)
{
    eml_tensor in[2] = {tensor(EML_DTYPE_F32, iota(), 4, 1, 1, 7, 5),
                        tensor(EML_DTYPE_F32, ones9, 4, 1, 1, 3, 3)};
    op_case oc;
    op_begin(&oc, "Conv", 11, 2, 1);
    attr_ints_va(&oc, "strides", 2, 2, 2);
    attr_ints_va(&oc, "pads", 4, 1, 0, 1, 0);
    REQUIRE_OK(op_run(&oc, in, 2, NULL), &oc.diag);
    check_shape(&oc.out[0], 4, (const int64_t[]){1, 1, 4, 2});
    check_near(&oc.out[0], (const double[]){21, 33, 99, 117, 189, 207, 171, 183}, 8);
    op_end(&oc);

    in[0].dims[2] = 5;
    op_begin(&oc, "Conv", 1, 2, 1);
    attr_ints_va(&oc, "strides", 2, 2, 2);
    attr_string(&oc, "auto_pad", "SAME_LOWER");
    REQUIRE_OK(op_run(&oc, in, 2, NULL), &oc.diag);
    check_shape(&oc.out[0], 4, (const int64_t[]){1, 1, 3, 3});
    check_near(&oc.out[0], (const double[]){12, 27, 24, 63, 108, 81, 72, 117, 84}, 9);
    op_end(&oc);
}

EML_TEST(conv_depthwise_groups_and_bias)
{
    const float x[] = {1, 2, 3, 4, 5, 6, 7, 8}, w[] = {2, 3}, b[] = {1, -1};
    eml_tensor in[3] = {tensor(EML_DTYPE_F32, x, 4, 1, 2, 2, 2),
                        tensor(EML_DTYPE_F32, w, 4, 2, 1, 1, 1), tensor(EML_DTYPE_F32, b, 1, 2)};
    op_case oc;
    op_begin(&oc, "Conv", 11, 3, 1);
    attr_int(&oc, "group", 2);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){3, 5, 7, 9, 14, 17, 20, 23}, 8);
    op_end(&oc);
}

EML_TEST(conv_1d_dilation_and_3d_pointwise_f64)
{
    const float x[] = {1, 2, 3, 4, 5, 6}, w[] = {1, 0, -1}, b[] = {0.5f};
    eml_tensor in[3] = {tensor(EML_DTYPE_F32, x, 3, 1, 1, 6), tensor(EML_DTYPE_F32, w, 3, 1, 1, 3),
                        tensor(EML_DTYPE_F32, b, 1, 1)};
    op_case oc;
    op_begin(&oc, "Conv", 11, 3, 1);
    attr_ints_va(&oc, "dilations", 1, 2);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    check_shape(&oc.out[0], 3, (const int64_t[]){1, 1, 2});
    check_near(&oc.out[0], (const double[]){-3.5, -3.5}, 2);
    op_end(&oc);

    /* a 1×1×1 kernel reads the input in place (no im2col); two images, two output channels */
    const double xd[] = {1, 2, 3, 4, 5, 6, 7, 8}, wd[] = {1, 10, -1, 1};
    eml_tensor ind[2] = {tensor(EML_DTYPE_F64, xd, 5, 2, 2, 1, 1, 2),
                         tensor(EML_DTYPE_F64, wd, 5, 2, 2, 1, 1, 1)};
    op_begin(&oc, "Conv", 11, 2, 1);
    REQUIRE_OK(op_run(&oc, ind, 2, NULL), &oc.diag);
    CHECK(oc.scratch_bytes == 0);
    check_shape(&oc.out[0], 5, (const int64_t[]){2, 2, 1, 1, 2});
    check_near(&oc.out[0], (const double[]){31, 42, 2, 2, 75, 86, 2, 2}, 8);
    op_end(&oc);
}

EML_TEST(conv_float16)
{
    uint16_t x[25], w[9], b[1] = {eml_f32_to_f16(0.5f)};
    for (int i = 0; i < 25; i++)
        x[i] = eml_f32_to_f16((float)i);
    for (int i = 0; i < 9; i++)
        w[i] = eml_f32_to_f16(1.0f);
    eml_tensor in[3] = {tensor(EML_DTYPE_F16, x, 4, 1, 1, 5, 5),
                        tensor(EML_DTYPE_F16, w, 4, 1, 1, 3, 3), tensor(EML_DTYPE_F16, b, 1, 1)};
    op_case oc;
    op_begin(&oc, "Conv", 11, 3, 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_F16);
    check_near(&oc.out[0], (const double[]){54.5, 63.5, 72.5, 99.5, 108.5, 117.5, 144.5, 153.5,
                                            162.5},
               9);
    op_end(&oc);
}

/* A conv big enough to be chunked and split over threads gives the same bits on any pool. */
EML_TEST(conv_threads_agree_with_inline)
{
    enum { C = 5, H = 40, M = 70 };
    static float x[C * H * H], w[M * C * 9], b[M];
    for (int i = 0; i < C * H * H; i++)
        x[i] = eml_test_randf(-1, 1);
    for (int i = 0; i < M * C * 9; i++)
        w[i] = eml_test_randf(-1, 1);
    for (int i = 0; i < M; i++)
        b[i] = eml_test_randf(-1, 1);
    eml_tensor in[3] = {tensor(EML_DTYPE_F32, x, 4, 1, C, H, H),
                        tensor(EML_DTYPE_F32, w, 4, M, C, 3, 3), tensor(EML_DTYPE_F32, b, 1, M)};
    eml_env *env;
    eml_pool *pool;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    REQUIRE(eml__pool_create(env, 3, &pool) == EML_OK);
    op_case a, t;
    op_begin(&a, "Conv", 11, 3, 1);
    attr_ints_va(&a, "pads", 4, 1, 1, 1, 1);
    REQUIRE_OK(op_run(&a, in, 3, NULL), &a.diag);
    op_begin(&t, "Conv", 11, 3, 1);
    attr_ints_va(&t, "pads", 4, 1, 1, 1, 1);
    REQUIRE_OK(op_run(&t, in, 3, pool), &t.diag);
    CHECK(memcmp(a.out[0].data, t.out[0].data, eml_tensor_bytes(&a.out[0])) == 0);
    /* spot-check one output against a direct sum */
    const float *y = a.out[0].data;
    int m = 37, oy = 0, ox = 17;
    double s = b[m];
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < 3; ky++)
            for (int kx = 0; kx < 3; kx++) {
                int iy = oy - 1 + ky, ix = ox - 1 + kx;
                if (iy >= 0 && iy < H && ix >= 0 && ix < H)
                    s += (double)x[(c * H + iy) * H + ix] * w[((m * C + c) * 3 + ky) * 3 + kx];
            }
    CHECK(fabs(y[(m * H + oy) * H + ox] - s) < 1e-4);
    CHECK(a.macs == (uint64_t)M * H * H * C * 9);
    op_end(&a);
    op_end(&t);
    eml__pool_destroy(pool);
    eml_env_destroy(env);
}

EML_TEST(conv_refuses_bad_attributes_and_shapes)
{
    const float x[25] = {0}, w[9] = {0};
    eml_tensor in[2] = {tensor(EML_DTYPE_F32, x, 4, 1, 1, 5, 5),
                        tensor(EML_DTYPE_F32, w, 4, 1, 1, 3, 3)};
    op_case oc;

    op_begin(&oc, "Conv", 11, 2, 1);
    attr_ints_va(&oc, "strides", 2, 0, 1);
    CHECK_STATUS(op_prepare(&oc), EML_EGRAPH);
    op_end(&oc);

    op_begin(&oc, "Conv", 11, 2, 1);
    attr_string(&oc, "auto_pad", "SAME_MIDDLE");
    CHECK_STATUS(op_prepare(&oc), EML_EUNSUPPORTED);
    CHECK(strstr(oc.diag.message, "auto_pad") != NULL);
    op_end(&oc);

    op_begin(&oc, "Conv", 11, 2, 1);
    attr_int(&oc, "fancy", 1);
    CHECK_STATUS(op_prepare(&oc), EML_EUNSUPPORTED);
    op_end(&oc);

    op_begin(&oc, "Conv", 11, 2, 1);
    attr_int(&oc, "group", 0);
    CHECK_STATUS(op_prepare(&oc), EML_EGRAPH);
    op_end(&oc);

    op_begin(&oc, "Conv", 11, 2, 1);
    attr_ints_va(&oc, "kernel_shape", 2, 2, 2);   /* W says 3×3 */
    CHECK_STATUS(op_run(&oc, in, 2, NULL), EML_ESHAPE);
    op_end(&oc);

    op_begin(&oc, "Conv", 11, 2, 1);
    attr_ints_va(&oc, "pads", 2, 1, 1);   /* 2D needs four */
    CHECK_STATUS(op_run(&oc, in, 2, NULL), EML_ESHAPE);
    op_end(&oc);

    op_begin(&oc, "Conv", 11, 2, 1);
    attr_int(&oc, "group", 2);   /* one input channel cannot split in two */
    CHECK_STATUS(op_run(&oc, in, 2, NULL), EML_ESHAPE);
    op_end(&oc);

    eml_tensor big_kernel[2] = {in[0], tensor(EML_DTYPE_F32, w, 4, 1, 1, 9, 1)};
    op_begin(&oc, "Conv", 11, 2, 1);   /* a 9-tall kernel over 5 rows leaves no output */
    CHECK_STATUS(op_run(&oc, big_kernel, 2, NULL), EML_ESHAPE);
    op_end(&oc);

    eml_tensor ints[2] = {tensor(EML_DTYPE_I32, x, 4, 1, 1, 5, 5),
                          tensor(EML_DTYPE_I32, w, 4, 1, 1, 3, 3)};
    op_begin(&oc, "Conv", 11, 2, 1);
    CHECK_STATUS(op_run(&oc, ints, 2, NULL), EML_EUNSUPPORTED);
    op_end(&oc);

    eml_tensor bad_bias[3] = {in[0], in[1], tensor(EML_DTYPE_F32, w, 1, 2)};
    op_begin(&oc, "Conv", 11, 3, 1);
    CHECK_STATUS(op_run(&oc, bad_bias, 3, NULL), EML_ESHAPE);
    op_end(&oc);

    eml_tensor rank2[2] = {tensor(EML_DTYPE_F32, x, 2, 5, 5), tensor(EML_DTYPE_F32, w, 2, 3, 3)};
    op_begin(&oc, "Conv", 11, 2, 1);
    CHECK_STATUS(op_run(&oc, rank2, 2, NULL), EML_ESHAPE);
    op_end(&oc);
}

/* ---- ConvTranspose ---- */

/* The spec's example input [[0,1,2],[3,4,5],[6,7,8]] with two 3×3 all-ones filters. */
static const float ct_w[18] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};

EML_TEST(conv_transpose_from_spec)
{
    eml_tensor in[2] = {tensor(EML_DTYPE_F32, iota(), 4, 1, 1, 3, 3),
                        tensor(EML_DTYPE_F32, ct_w, 4, 1, 2, 3, 3)};
    static const double plane[25] = {0, 1,  3,  3,  2,  3, 8,  15, 12, 7,  9, 21, 36,
                                     27, 15, 9, 20, 33, 24, 13, 6, 13, 21, 15, 8};
    double expected[50];
    memcpy(expected, plane, sizeof(plane));
    memcpy(expected + 25, plane, sizeof(plane));
    op_case oc;
    op_begin(&oc, "ConvTranspose", 11, 2, 1);
    REQUIRE_OK(op_run(&oc, in, 2, NULL), &oc.diag);
    check_shape(&oc.out[0], 4, (const int64_t[]){1, 2, 5, 5});
    check_near(&oc.out[0], expected, 50);
    CHECK(oc.macs == 9 * 2 * 9);
    op_end(&oc);
}

EML_TEST(conv_transpose_same_upper_and_output_shape)
{
    eml_tensor in[2] = {tensor(EML_DTYPE_F32, iota(), 4, 1, 1, 3, 3),
                        tensor(EML_DTYPE_F32, ct_w, 4, 1, 2, 3, 3)};
    op_case oc;
    op_begin(&oc, "ConvTranspose", 11, 2, 1);
    attr_string(&oc, "auto_pad", "SAME_UPPER");
    attr_ints_va(&oc, "strides", 2, 2, 2);
    REQUIRE_OK(op_run(&oc, in, 2, NULL), &oc.diag);
    check_shape(&oc.out[0], 4, (const int64_t[]){1, 2, 6, 6});
    static const double same[36] = {0, 0, 1, 1, 3, 2, 0, 0, 1,  1,  3,  2,  3, 3, 8,  5, 12, 7,
                                    3, 3, 7, 4, 9, 5, 9, 9, 20, 11, 24, 13, 6, 6, 13, 7, 15, 8};
    double both[72];   /* both output channels see the same all-ones filter */
    memcpy(both, same, sizeof(same));
    memcpy(both + 36, same, sizeof(same));
    check_near(&oc.out[0], both, 72);
    op_end(&oc);

    /* output_shape [10, 8] with strides [3, 2] equals output_padding [1, 1]: the extra row and
     * column are at the end and hold only the (absent) bias */
    op_begin(&oc, "ConvTranspose", 11, 2, 1);
    attr_ints_va(&oc, "strides", 2, 3, 2);
    attr_ints_va(&oc, "output_shape", 2, 10, 8);
    REQUIRE_OK(op_run(&oc, in, 2, NULL), &oc.diag);
    check_shape(&oc.out[0], 4, (const int64_t[]){1, 2, 10, 8});
    const float *y = oc.out[0].data;
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 1 && y[3] == 1 && y[4] == 3 && y[5] == 2);
    CHECK(y[6] == 2 && y[7] == 0);       /* last column: output padding */
    CHECK(y[9 * 8 + 0] == 0);            /* last row: output padding */
    CHECK(y[8 * 8 + 4] == 15);           /* row 8: input row 2 under kernel row 2, 7 + 8 */
    op_end(&oc);
}

EML_TEST(conv_transpose_groups_pads_bias_f64)
{
    /* two groups of one channel; pads crop one pixel off each end of the 1D output */
    const double x[] = {1, 2, 3, 10, 20, 30}, w[] = {1, 1, 1, 1, -1, 1}, b[] = {100, 200};
    eml_tensor in[3] = {tensor(EML_DTYPE_F64, x, 3, 1, 2, 3), tensor(EML_DTYPE_F64, w, 3, 2, 1, 3),
                        tensor(EML_DTYPE_F64, b, 1, 2)};
    op_case oc;
    op_begin(&oc, "ConvTranspose", 11, 3, 1);
    attr_int(&oc, "group", 2);
    attr_ints_va(&oc, "pads", 2, 1, 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    check_shape(&oc.out[0], 3, (const int64_t[]){1, 2, 3});
    /* full outputs [1,3,6,5,3] and [10,10,20,-10,30] */
    check_near(&oc.out[0], (const double[]){103, 106, 105, 210, 220, 190}, 6);
    op_end(&oc);
}

EML_TEST(conv_transpose_refuses_bad_input)
{
    eml_tensor in[2] = {tensor(EML_DTYPE_F32, iota(), 4, 1, 2, 3, 3),
                        tensor(EML_DTYPE_F32, ct_w, 4, 1, 2, 3, 3)};   /* W says 1 channel */
    op_case oc;
    op_begin(&oc, "ConvTranspose", 11, 2, 1);
    CHECK_STATUS(op_run(&oc, in, 2, NULL), EML_ESHAPE);
    op_end(&oc);

    op_begin(&oc, "ConvTranspose", 11, 2, 1);
    attr_ints_va(&oc, "output_padding", 2, -1, 0);
    CHECK_STATUS(op_prepare(&oc), EML_EGRAPH);
    op_end(&oc);

    op_begin(&oc, "ConvTranspose", 11, 2, 1);
    attr_ints_va(&oc, "output_shape", 3, 4, 4, 4);
    in[0].dims[1] = 1;
    CHECK_STATUS(op_run(&oc, in, 2, NULL), EML_ESHAPE);
    op_end(&oc);
}

/* ---- ConvInteger ---- */

EML_TEST(conv_integer_backend_cases)
{
    const uint8_t x[] = {2, 3, 4, 5, 6, 7, 8, 9, 10}, w[] = {1, 1, 1, 1}, x_zp[] = {1};
    eml_tensor in[3] = {tensor(EML_DTYPE_U8, x, 4, 1, 1, 3, 3),
                        tensor(EML_DTYPE_U8, w, 4, 1, 1, 2, 2), tensor(EML_DTYPE_U8, x_zp, 0)};
    op_case oc;
    op_begin(&oc, "ConvInteger", 10, 3, 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_I32);
    const int32_t *y = oc.out[0].data;
    CHECK(y[0] == 12 && y[1] == 16 && y[2] == 24 && y[3] == 28);
    op_end(&oc);

    /* padding stands for x_zero_point, so it adds nothing */
    op_begin(&oc, "ConvInteger", 10, 3, 1);
    attr_ints_va(&oc, "pads", 4, 1, 1, 1, 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    static const int32_t padded[16] = {1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9};
    CHECK(memcmp(oc.out[0].data, padded, sizeof(padded)) == 0);
    op_end(&oc);
}

EML_TEST(conv_integer_per_channel_weight_zero_point)
{
    const int8_t x[] = {-1, 2, 3}, w[] = {1, 1, -3, 3}, w_zp[] = {1, -1};
    eml_tensor in[4] = {tensor(EML_DTYPE_I8, x, 3, 1, 1, 3), tensor(EML_DTYPE_I8, w, 3, 2, 1, 2),
                        absent, tensor(EML_DTYPE_I8, w_zp, 1, 2)};
    op_case oc;
    op_begin(&oc, "ConvInteger", 10, 4, 1);
    REQUIRE_OK(op_run(&oc, in, 4, NULL), &oc.diag);
    /* channel 0: weights 0,0; channel 1: weights -2,4 */
    const int32_t *y = oc.out[0].data;
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 10 && y[3] == 8);
    op_end(&oc);

    const uint8_t xu[] = {1, 2, 3};
    eml_tensor mixed[4] = {tensor(EML_DTYPE_U8, xu, 3, 1, 1, 3), in[1], in[2],
                           tensor(EML_DTYPE_I8, w_zp, 1, 3)};   /* 3 zero points for 2 channels */
    op_begin(&oc, "ConvInteger", 10, 4, 1);
    CHECK_STATUS(op_run(&oc, mixed, 4, NULL), EML_ESHAPE);
    op_end(&oc);

    eml_tensor floats[2] = {tensor(EML_DTYPE_F32, iota(), 3, 1, 1, 3), in[1]};
    op_begin(&oc, "ConvInteger", 10, 2, 1);
    CHECK_STATUS(op_run(&oc, floats, 2, NULL), EML_EUNSUPPORTED);
    op_end(&oc);
}

/* ---- QLinearConv ---- */

EML_TEST(qlinear_conv_rounds_half_to_even_and_saturates)
{
    /* acc = (x - 10) · 4 = 0, 40, 80, 120; multiplier 0.5 · 0.25 / 2 = 0.0625 gives
     * 0, 2.5, 5, 7.5 → 0, 2, 5, 8 (ties to even) */
    const uint8_t x[] = {10, 20, 30, 40}, x_zp[] = {10};
    const int8_t w[] = {4}, w_zp[] = {0};
    const float x_scale[] = {0.5f}, w_scale[] = {0.25f}, y_scale[] = {2.0f};
    uint8_t y_zp[] = {100};
    eml_tensor in[8] = {
        tensor(EML_DTYPE_U8, x, 4, 1, 1, 2, 2), tensor(EML_DTYPE_F32, x_scale, 0),
        tensor(EML_DTYPE_U8, x_zp, 0),          tensor(EML_DTYPE_I8, w, 4, 1, 1, 1, 1),
        tensor(EML_DTYPE_F32, w_scale, 1, 1),   tensor(EML_DTYPE_I8, w_zp, 1, 1),
        tensor(EML_DTYPE_F32, y_scale, 0),      tensor(EML_DTYPE_U8, y_zp, 0)};
    op_case oc;
    op_begin(&oc, "QLinearConv", 10, 8, 1);
    REQUIRE_OK(op_run(&oc, in, 8, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_U8);
    const uint8_t *y = oc.out[0].data;
    CHECK(y[0] == 100 && y[1] == 102 && y[2] == 105 && y[3] == 108);
    op_end(&oc);

    y_zp[0] = 250;
    op_begin(&oc, "QLinearConv", 10, 8, 1);
    REQUIRE_OK(op_run(&oc, in, 8, NULL), &oc.diag);
    y = oc.out[0].data;
    CHECK(y[0] == 250 && y[1] == 252 && y[2] == 255 && y[3] == 255);
    op_end(&oc);
}

EML_TEST(qlinear_conv_per_channel_int8_with_bias)
{
    const int8_t x[] = {1, 2, 3}, x_zp[] = {1}, w[] = {2, 1, 1, 3}, w_zp[] = {0, 1};
    const float x_scale[] = {1.0f}, w_scale[] = {1.0f, 0.5f}, y_scale[] = {1.0f};
    const int8_t y_zp[] = {-120};
    const int32_t b[] = {10, -1000};
    eml_tensor in[9] = {
        tensor(EML_DTYPE_I8, x, 3, 1, 1, 3),    tensor(EML_DTYPE_F32, x_scale, 0),
        tensor(EML_DTYPE_I8, x_zp, 0),          tensor(EML_DTYPE_I8, w, 3, 2, 1, 2),
        tensor(EML_DTYPE_F32, w_scale, 1, 2),   tensor(EML_DTYPE_I8, w_zp, 1, 2),
        tensor(EML_DTYPE_F32, y_scale, 0),      tensor(EML_DTYPE_I8, y_zp, 0),
        tensor(EML_DTYPE_I32, b, 1, 2)};
    op_case oc;
    op_begin(&oc, "QLinearConv", 10, 9, 1);
    REQUIRE_OK(op_run(&oc, in, 9, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_I8);
    /* x - zp = 0,1,2. channel 0: w 2,1 → 1, 4; +10 → 11, 14 → -109, -106.
     * channel 1: w 0,2 → 2, 4; -1000 → -998·0.5 = -499 → saturates at -128 */
    const int8_t *y = oc.out[0].data;
    CHECK(y[0] == -109 && y[1] == -106 && y[2] == -128 && y[3] == -128);
    op_end(&oc);

    eml_tensor bad = in[1];
    in[1] = tensor(EML_DTYPE_F32, w_scale, 1, 2);   /* x_scale must be one value */
    op_begin(&oc, "QLinearConv", 10, 9, 1);
    CHECK_STATUS(op_run(&oc, in, 9, NULL), EML_ESHAPE);
    op_end(&oc);
    in[1] = bad;

    in[8] = tensor(EML_DTYPE_F32, x_scale, 1, 2);   /* bias must be int32 */
    op_begin(&oc, "QLinearConv", 10, 9, 1);
    CHECK_STATUS(op_run(&oc, in, 9, NULL), EML_ETYPE);
    op_end(&oc);
}

EML_TEST(op_table_agrees)
{
    check_op_table_agrees(conv_fns);
}
