/* Unit tests of Resize and Upsample: prepare/infer/kernel on small tensors with expected values
 * from ONNX's backend tests and its reference implementation, and the refusals. */
#include "kernels/ref/resize.h"
#include "op_test_util.h"

/* The family's functions, named directly; the op table must point at them (see fx_prepare). */
static const op_fns resize_fns[] = {
    {"Resize", eml__resize_prepare, eml__resize_infer, eml__ref_resize},
    {"Upsample", eml__resize_prepare, eml__resize_infer, eml__ref_resize},
    {NULL},
};

static const op_fns *op_test_fns = resize_fns;

/* op_prepare, after checking that the op table names the functions under test. */
static eml_status fx_prepare(op_case *f)
{
    const eml_op_info *info = eml__op_info(f->op);
    REQUIRE(info->prepare == eml__resize_prepare && info->infer == eml__resize_infer &&
            info->kernel == eml__ref_resize);
    return op_prepare(f);
}

static eml_tensor vec(eml_dtype dt, int64_t n, const void *data)
{
    return tens(dt, data, 1, &n);
}

static void check_floats(const eml_tensor *t, const float *want, int64_t n)
{
    REQUIRE(t->dtype == EML_DTYPE_F32 && eml_tensor_count(t) == n);
    const float *y = t->data;
    for (int64_t i = 0; i < n; i++) {
        bool ok = fabs((double)y[i] - want[i]) <= 1e-5 + 1e-5 * fabs(want[i]);
        if (!ok)
            fprintf(stderr, "[%lld]: got %.9g want %.9g\n", (long long)i, y[i], want[i]);
        CHECK(ok);
    }
}

static const float seq16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const int64_t dims1144[4] = {1, 1, 4, 4};

/* Runs Resize-13 on X = seq16 as [1,1,4,4] with the given attributes set by the caller. */
static void run_4x4(op_case *f, const float *scales, const int64_t *sizes)
{
    eml_tensor in[4] = {tens(EML_DTYPE_F32, seq16, 4, dims1144), absent, absent, absent};
    if (scales)
        in[2] = vec(EML_DTYPE_F32, 4, scales);
    if (sizes)
        in[3] = vec(EML_DTYPE_I64, 4, sizes);
    REQUIRE_OK(fx_prepare(f), &f->diag);
    REQUIRE_OK(op_exec(f, in, 4), &f->diag);
}

/* ---- the modes, against ONNX's backend test data ---- */

EML_TEST(nearest_upsample_scales)
{
    /* test_resize_upsample_scales_nearest */
    const float x[4] = {1, 2, 3, 4}, scales[4] = {1, 1, 2, 3};
    const int64_t dims[4] = {1, 1, 2, 2}, out_dims[4] = {1, 1, 4, 6};
    eml_tensor in[3] = {tens(EML_DTYPE_F32, x, 4, dims), absent, vec(EML_DTYPE_F32, 4, scales)};
    op_case f;
    op_begin(&f, "Resize", 13, 3, 1);
    attr_string(&f, "mode", "nearest");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(op_exec(&f, in, 3), &f.diag);
    check_shape(&f.out[0], 4, out_dims);
    const float want[24] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
    check_floats(&f.out[0], want, 24);
    op_end(&f);
}

EML_TEST(nearest_modes)
{
    /* test_resize_upsample_sizes_nearest_ceil_half_pixel and ..._round_prefer_ceil_asymmetric:
     * the same expected output */
    const float want[64] = {1,  2,  2,  3,  3,  4,  4,  4,  5,  6,  6,  7,  7,  8,  8,  8,
                            5,  6,  6,  7,  7,  8,  8,  8,  9,  10, 10, 11, 11, 12, 12, 12,
                            9,  10, 10, 11, 11, 12, 12, 12, 13, 14, 14, 15, 15, 16, 16, 16,
                            13, 14, 14, 15, 15, 16, 16, 16, 13, 14, 14, 15, 15, 16, 16, 16};
    const int64_t sizes[4] = {1, 1, 8, 8};
    op_case f;
    op_begin(&f, "Resize", 13, 4, 1);
    attr_string(&f, "nearest_mode", "ceil");
    run_4x4(&f, NULL, sizes);
    check_floats(&f.out[0], want, 64);
    op_end(&f);

    op_begin(&f, "Resize", 13, 4, 1);
    attr_string(&f, "coordinate_transformation_mode", "asymmetric");
    attr_string(&f, "nearest_mode", "round_prefer_ceil");
    run_4x4(&f, NULL, sizes);
    check_floats(&f.out[0], want, 64);
    op_end(&f);

    /* test_resize_upsample_sizes_nearest_floor_align_corners */
    op_begin(&f, "Resize", 13, 4, 1);
    attr_string(&f, "coordinate_transformation_mode", "align_corners");
    attr_string(&f, "nearest_mode", "floor");
    run_4x4(&f, NULL, sizes);
    const float row[4][8] = {{1, 1, 1, 2, 2, 3, 3, 4},
                             {5, 5, 5, 6, 6, 7, 7, 8},
                             {9, 9, 9, 10, 10, 11, 11, 12},
                             {13, 13, 13, 14, 14, 15, 15, 16}};
    const int rows[8] = {0, 0, 0, 1, 1, 2, 2, 3};
    float want_floor[64];
    for (int i = 0; i < 8; i++)
        memcpy(&want_floor[i * 8], row[rows[i]], sizeof(row[0]));
    check_floats(&f.out[0], want_floor, 64);
    op_end(&f);
}

EML_TEST(linear_modes)
{
    /* test_resize_upsample_scales_linear: half_pixel */
    const float x[4] = {1, 2, 3, 4}, up[4] = {1, 1, 2, 2};
    const int64_t dims[4] = {1, 1, 2, 2};
    eml_tensor in[3] = {tens(EML_DTYPE_F32, x, 4, dims), absent, vec(EML_DTYPE_F32, 4, up)};
    op_case f;
    op_begin(&f, "Resize", 13, 3, 1);
    attr_string(&f, "mode", "linear");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(op_exec(&f, in, 3), &f.diag);
    const float want[16] = {1,   1.25f, 1.75f, 2,   1.5f, 1.75f, 2.25f, 2.5f,
                            2.5f, 2.75f, 3.25f, 3.5f, 3,    3.25f, 3.75f, 4};
    check_floats(&f.out[0], want, 16);
    op_end(&f);

    /* test_resize_downsample_scales_linear_align_corners: the resized length is in × scale,
     * not floored (2.4 here), as ONNX's reference computes it */
    const float x8[8] = {1, 2, 3, 4, 5, 6, 7, 8}, down[4] = {1, 1, 0.6f, 0.6f};
    const int64_t dims8[4] = {1, 1, 2, 4}, out_dims[4] = {1, 1, 1, 2};
    in[0] = tens(EML_DTYPE_F32, x8, 4, dims8);
    in[2] = vec(EML_DTYPE_F32, 4, down);
    op_begin(&f, "Resize", 13, 3, 1);
    attr_string(&f, "mode", "linear");
    attr_string(&f, "coordinate_transformation_mode", "align_corners");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(op_exec(&f, in, 3), &f.diag);
    check_shape(&f.out[0], 4, out_dims);
    const float want_ac[2] = {1, 3.142857f};
    check_floats(&f.out[0], want_ac, 2);
    op_end(&f);
}

EML_TEST(cubic_modes)
{
    const float scales[4] = {1, 1, 0.8f, 0.8f};
    /* test_resize_downsample_scales_cubic */
    op_case f;
    op_begin(&f, "Resize", 13, 3, 1);
    attr_string(&f, "mode", "cubic");
    run_4x4(&f, scales, NULL);
    const float want[9] = {1.47119140625f, 2.78125f,       4.08251953125f,
                           6.71142578125f, 8.021484375f,   9.32275390625f,
                           11.91650390625f, 13.2265625f,   14.52783203125f};
    check_floats(&f.out[0], want, 9);
    op_end(&f);

    /* test_resize_downsample_scales_cubic_A_n0p5_exclude_outside */
    op_begin(&f, "Resize", 13, 3, 1);
    attr_string(&f, "mode", "cubic");
    attr_float(&f, "cubic_coeff_a", -0.5f);
    attr_int(&f, "exclude_outside", 1);
    run_4x4(&f, scales, NULL);
    const float want_ex[9] = {1.3681267499923706f, 2.669501304626465f,  4.013336658477783f,
                              6.573625087738037f,  7.875f,              9.21883487701416f,
                              11.948966026306152f, 13.250341415405273f, 14.594176292419434f};
    check_floats(&f.out[0], want_ex, 9);
    op_end(&f);

    /* rank 1, from ONNX's reference implementation: align_corners, and pytorch_half_pixel
     * downsampling with A = -0.5 and exclude_outside */
    const float x1[6] = {0, 1, 4, 9, 16, 25}, half = 0.5f;
    const int64_t nine = 9;
    eml_tensor in[4] = {vec(EML_DTYPE_F32, 6, x1), absent, absent, vec(EML_DTYPE_I64, 1, &nine)};
    op_begin(&f, "Resize", 13, 4, 1);
    attr_string(&f, "mode", "cubic");
    attr_string(&f, "coordinate_transformation_mode", "align_corners");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(op_exec(&f, in, 4), &f.diag);
    const float want1[9] = {0,      0.3100586f, 1.609375f, 3.337891f, 6.125f,
                            9.998047f, 13.64062f, 20.01221f, 25};
    check_floats(&f.out[0], want1, 9);
    op_end(&f);

    in[2] = vec(EML_DTYPE_F32, 1, &half);
    in[3] = absent;
    op_begin(&f, "Resize", 13, 4, 1);
    attr_string(&f, "mode", "cubic");
    attr_string(&f, "coordinate_transformation_mode", "pytorch_half_pixel");
    attr_float(&f, "cubic_coeff_a", -0.5f);
    attr_int(&f, "exclude_outside", 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(op_exec(&f, in, 4), &f.diag);
    const float want2[3] = {0.2941177f, 6.25f, 21.17647f};
    check_floats(&f.out[0], want2, 3);
    op_end(&f);
}

EML_TEST(trilinear_rank3)
{
    /* every axis resized; x = arange(24)^1.5 as [2,3,4], sizes [3,2,5], half_pixel, values from
     * ONNX's reference implementation */
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)pow(i, 1.5);
    const int64_t dims[3] = {2, 3, 4}, sizes[3] = {3, 2, 5};
    eml_tensor in[4] = {tens(EML_DTYPE_F32, x, 3, dims), absent, absent,
                        vec(EML_DTYPE_I64, 3, sizes)};
    op_case f;
    op_begin(&f, "Resize", 13, 4, 1);
    attr_string(&f, "mode", "linear");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(op_exec(&f, in, 4), &f.diag);
    check_shape(&f.out[0], 3, sizes);
    const float want[30] = {2,        3.081559f, 4.67032f, 6.615042f, 8.527179f, 18.97056f,
                            21.82273f, 25.2182f,  28.77159f, 31.99222f, 24.58846f, 27.05438f,
                            30.09931f, 33.38165f, 36.4015f,  51.0263f,  54.76824f, 59.15473f,
                            63.67003f, 67.71254f, 47.17691f, 51.0272f,  55.52831f, 60.14825f,
                            64.27583f, 83.08204f, 87.71375f, 93.09126f, 98.56848f, 103.4329f};
    check_floats(&f.out[0], want, 30);
    op_end(&f);
}

EML_TEST(tf_crop_and_resize)
{
    /* test_resize_tf_crop_and_resize */
    const float roi[8] = {0, 0, 0.4f, 0.6f, 1, 1, 1.2f, 1.7f};
    const int64_t sizes[4] = {1, 1, 3, 3};
    eml_tensor in[4] = {tens(EML_DTYPE_F32, seq16, 4, dims1144), vec(EML_DTYPE_F32, 8, roi),
                        absent, vec(EML_DTYPE_I64, 4, sizes)};
    op_case f;
    op_begin(&f, "Resize", 13, 4, 1);
    attr_string(&f, "mode", "linear");
    attr_string(&f, "coordinate_transformation_mode", "tf_crop_and_resize");
    attr_float(&f, "extrapolation_value", 10.0f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(op_exec(&f, in, 4), &f.diag);
    const float want[9] = {7.6000004f, 10, 10, 12.400001f, 10, 10, 10, 10, 10};
    check_floats(&f.out[0], want, 9);

    /* a NaN in roi puts the axis outside, never out of bounds */
    const float bad_roi[8] = {0, 0, NAN, 0.6f, 1, 1, 1.2f, 1.7f};
    in[1] = vec(EML_DTYPE_F32, 8, bad_roi);
    REQUIRE_OK(op_exec(&f, in, 4), &f.diag);
    const float all10[9] = {10, 10, 10, 10, 10, 10, 10, 10, 10};
    check_floats(&f.out[0], all10, 9);
    op_end(&f);
}

EML_TEST(tf_half_pixel_for_nn_opset11)
{
    /* test_resize_downsample_sizes_nearest_tf_half_pixel_for_nn: roi and scales are empty
     * tensors, as opset 11 requires them present */
    const int64_t sizes[4] = {1, 1, 3, 2}, empty = 0;
    eml_tensor in[4] = {tens(EML_DTYPE_F32, seq16, 4, dims1144),
                        tens(EML_DTYPE_F32, NULL, 1, &empty),
                        tens(EML_DTYPE_F32, NULL, 1, &empty), vec(EML_DTYPE_I64, 4, sizes)};
    op_case f;
    op_begin(&f, "Resize", 11, 4, 1);
    attr_string(&f, "coordinate_transformation_mode", "tf_half_pixel_for_nn");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(op_exec(&f, in, 4), &f.diag);
    const float want[6] = {6, 8, 10, 12, 14, 16};
    check_floats(&f.out[0], want, 6);
    op_end(&f);
}

/* ---- Upsample and Resize-10: asymmetric coordinates, the "simple" nearest rule ---- */

EML_TEST(upsample_and_resize10)
{
    const float x[4] = {1, 2, 3, 4}, scales[4] = {1, 1, 2, 3};
    const int64_t dims[4] = {1, 1, 2, 2};
    const float want_nn[24] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,
                               3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
    eml_tensor in[2] = {tens(EML_DTYPE_F32, x, 4, dims), vec(EML_DTYPE_F32, 4, scales)};

    /* test_upsample_nearest (opset 9, scales input) */
    op_case f;
    op_begin(&f, "Upsample", 9, 2, 1);
    attr_string(&f, "mode", "nearest");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(op_exec(&f, in, 2), &f.diag);
    check_floats(&f.out[0], want_nn, 24);
    op_end(&f);

    /* opset 7: scales attribute */
    op_begin(&f, "Upsample", 7, 1, 1);
    attr_floats(&f, "scales", scales, 4);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(op_exec(&f, in, 1), &f.diag);
    check_floats(&f.out[0], want_nn, 24);
    op_end(&f);

    /* linear, asymmetric: x / scale, the last input element repeated past the end */
    const float sc2[4] = {1, 1, 1, 2};
    in[1] = vec(EML_DTYPE_F32, 4, sc2);
    op_begin(&f, "Upsample", 9, 2, 1);
    attr_string(&f, "mode", "linear");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(op_exec(&f, in, 2), &f.diag);
    const float want_lin[8] = {1, 1.5f, 2, 2, 3, 3.5f, 4, 4};
    check_floats(&f.out[0], want_lin, 8);
    op_end(&f);

    /* Resize-10 nearest downsampling rounds up (ONNX Runtime's rule before opset 11) */
    const float x5[5] = {1, 2, 3, 4, 5}, s06 = 0.6f;
    eml_tensor in1[2] = {vec(EML_DTYPE_F32, 5, x5), vec(EML_DTYPE_F32, 1, &s06)};
    op_begin(&f, "Resize", 10, 2, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(op_exec(&f, in1, 2), &f.diag);
    const float want_down[3] = {1, 3, 5}; /* x / 0.6 = 0, 1.67, 3.33 → 0, 2, 4 */
    check_floats(&f.out[0], want_down, 3);
    op_end(&f);
}

/* ---- dtypes ---- */

EML_TEST(dtypes)
{
    const float scales[2] = {1, 2};
    const int64_t dims[2] = {2, 2};
    op_case f;

    /* nearest copies any dtype exactly: int64 and bool */
    const int64_t xi[4] = {INT64_MIN, -1, 7, INT64_MAX};
    eml_tensor in[3] = {tens(EML_DTYPE_I64, xi, 2, dims), absent,
                        vec(EML_DTYPE_F32, 2, scales)};
    op_begin(&f, "Resize", 13, 3, 1);
    attr_string(&f, "coordinate_transformation_mode", "asymmetric");
    attr_string(&f, "nearest_mode", "floor");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(op_exec(&f, in, 3), &f.diag);
    const int64_t want_i[8] = {INT64_MIN, INT64_MIN, -1, -1, 7, 7, INT64_MAX, INT64_MAX};
    CHECK(f.out[0].dtype == EML_DTYPE_I64 && memcmp(f.out[0].data, want_i, sizeof(want_i)) == 0);
    const bool xb[4] = {1, 0, 0, 1}, want_b[8] = {1, 1, 0, 0, 0, 0, 1, 1};
    in[0] = tens(EML_DTYPE_BOOL, xb, 2, dims);
    REQUIRE_OK(op_exec(&f, in, 3), &f.diag);
    CHECK(f.out[0].dtype == EML_DTYPE_BOOL && memcmp(f.out[0].data, want_b, 8) == 0);
    op_end(&f);

    /* linear on uint8 rounds to nearest: 10, 12.5 → 13 (half away from zero), 15, 15 */
    const uint8_t xu[4] = {10, 15, 200, 255};
    in[0] = tens(EML_DTYPE_U8, xu, 2, dims);
    op_begin(&f, "Resize", 13, 3, 1);
    attr_string(&f, "mode", "linear");
    attr_string(&f, "coordinate_transformation_mode", "asymmetric");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(op_exec(&f, in, 3), &f.diag);
    const uint8_t want_u[8] = {10, 13, 15, 15, 200, 228, 255, 255};
    CHECK(f.out[0].dtype == EML_DTYPE_U8 && memcmp(f.out[0].data, want_u, 8) == 0);

    /* float16 and float64 */
    uint16_t xh[4];
    for (int i = 0; i < 4; i++)
        xh[i] = eml_f32_to_f16((float)i);
    in[0] = tens(EML_DTYPE_F16, xh, 2, dims);
    REQUIRE_OK(op_exec(&f, in, 3), &f.diag);
    const float want_h[8] = {0, 0.5f, 1, 1, 2, 2.5f, 3, 3};
    const uint16_t *yh = f.out[0].data;
    for (int i = 0; i < 8; i++)
        CHECK(eml_f16_to_f32(yh[i]) == want_h[i]);
    const double xd[4] = {0, 1, 2, 3};
    in[0] = tens(EML_DTYPE_F64, xd, 2, dims);
    REQUIRE_OK(op_exec(&f, in, 3), &f.diag);
    const double *yd = f.out[0].data;
    for (int i = 0; i < 8; i++)
        CHECK(yd[i] == want_h[i]);

    /* bool cannot be interpolated */
    in[0] = tens(EML_DTYPE_BOOL, xb, 2, dims);
    CHECK_STATUS(op_exec(&f, in, 3), EML_EUNSUPPORTED);
    op_end(&f);
}

/* ---- shapes that depend on data, and refusals ---- */

EML_TEST(shape_needs_data)
{
    const int64_t dims[2] = {2, 3};
    eml_tensor in[4] = {tens(EML_DTYPE_F32, NULL, 2, dims), absent,
                        vec(EML_DTYPE_F32, 2, NULL), absent};
    op_case f;
    op_begin(&f, "Resize", 13, 4, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK_STATUS(op_infer(&f, in, 3), EML_EDYNAMIC);
    CHECK(f.out[0].dtype == EML_DTYPE_F32);

    /* known values: floor(in × scale) per axis; scratch for the tap tables */
    const float scales[2] = {1.5f, 0.5f};
    in[2].data = (void *)scales;
    REQUIRE_OK(op_infer(&f, in, 3), &f.diag);
    const int64_t want[2] = {3, 1};
    check_shape(&f.out[0], 2, want);
    CHECK(f.scratch_bytes > 0);
    op_end(&f);
}

EML_TEST(refusals)
{
    const int64_t dims[2] = {2, 3}, sizes[2] = {4, 6}, bad_sizes[2] = {-1, 6};
    const int64_t zero_dims[2] = {0, 3};
    const float scales[2] = {2, 2}, neg[2] = {2, -1}, three[3] = {1, 2, 2};
    const float x[6] = {0};
    eml_tensor in[4] = {tens(EML_DTYPE_F32, x, 2, dims), absent, vec(EML_DTYPE_F32, 2, scales),
                        vec(EML_DTYPE_I64, 2, sizes)};
    op_case f;
    op_begin(&f, "Resize", 13, 4, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK_STATUS(op_infer(&f, in, 4), EML_EGRAPH); /* both scales and sizes */
    CHECK_STATUS(op_infer(&f, in, 2), EML_EGRAPH); /* neither */
    in[3] = vec(EML_DTYPE_I64, 2, bad_sizes);
    in[2] = absent;
    CHECK_STATUS(op_infer(&f, in, 4), EML_ESHAPE);
    in[3] = vec(EML_DTYPE_I64, 2, sizes);
    in[0] = tens(EML_DTYPE_F32, x, 2, zero_dims);
    CHECK_STATUS(op_infer(&f, in, 4), EML_ESHAPE); /* nothing to interpolate from */
    in[0] = tens(EML_DTYPE_F32, x, 2, dims);
    in[3] = vec(EML_DTYPE_F32, 2, scales);
    CHECK_STATUS(op_infer(&f, in, 4), EML_ETYPE); /* sizes must be integers */
    in[3] = absent;
    in[2] = vec(EML_DTYPE_F32, 2, neg);
    CHECK_STATUS(op_infer(&f, in, 3), EML_ESHAPE);
    in[2] = vec(EML_DTYPE_F32, 3, three);
    CHECK_STATUS(op_infer(&f, in, 3), EML_ESHAPE); /* one scale per axis */
    const eml_tensor scalar = {.dtype = EML_DTYPE_F32, .rank = 0, .data = (void *)x};
    in[0] = scalar;
    in[2] = absent;
    CHECK_STATUS(op_infer(&f, in, 3), EML_ESHAPE);
    op_end(&f);

    /* attributes */
    const struct {
        int32_t opset;
        const char *name, *value;
        eml_status want;
    } cases[] = {
        {13, "mode", "bicubic", EML_EUNSUPPORTED},
        {10, "mode", "cubic", EML_EUNSUPPORTED}, /* cubic came with opset 11 */
        {13, "coordinate_transformation_mode", "corners", EML_EUNSUPPORTED},
        {13, "nearest_mode", "nearest", EML_EUNSUPPORTED},
        {10, "coordinate_transformation_mode", "half_pixel", EML_EUNSUPPORTED},
        {13, "antialias", "1", EML_EUNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        op_begin(&f, "Resize", cases[i].opset, 3, 1);
        attr_string(&f, cases[i].name, cases[i].value);
        CHECK_STATUS(fx_prepare(&f), cases[i].want);
        CHECK(strstr(f.diag.message, cases[i].name) != NULL);
        op_end(&f);
    }
    op_begin(&f, "Resize", 13, 3, 1);
    attr_int(&f, "exclude_outside", 2);
    CHECK_STATUS(fx_prepare(&f), EML_EGRAPH);
    op_end(&f);

    /* Upsample-7 needs its scales attribute, positive, one per axis */
    op_begin(&f, "Upsample", 7, 1, 1);
    CHECK_STATUS(fx_prepare(&f), EML_EGRAPH);
    op_end(&f);
    op_begin(&f, "Upsample", 7, 1, 1);
    attr_floats(&f, "scales", neg, 2);
    CHECK_STATUS(fx_prepare(&f), EML_EGRAPH);
    op_end(&f);
    op_begin(&f, "Upsample", 7, 1, 1);
    attr_floats(&f, "scales", three, 3);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    in[0] = tens(EML_DTYPE_F32, x, 2, dims);
    CHECK_STATUS(op_infer(&f, in, 1), EML_ESHAPE);
    op_end(&f);
}
