/* Generator ops (Shape, Size, ConstantOfShape, Constant, Range, EyeLike, OneHot, NonZero, Trilu):
 * prepare, infer and the reference kernels on small inputs, and what each op refuses. */
#include "movement_run.h"

/* ---- Shape, Size, ConstantOfShape, Constant ---- */

EML_TEST(shape_and_size)
{
    op_case r;
    op_begin(&r, "Shape", 15, 1, 1);
    attr_int(&r, "start", -3);
    attr_int(&r, "end", -1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in = tens(EML_DTYPE_BF16, NULL, 4, DIMS(2, 3, 4, 5)); /* data never read */
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_shape(&r.out[0], 1, DIMS(2));
    check_data(&r.out[0], I64(3, 4), 2 * sizeof(int64_t));
    op_end(&r);
    op_begin(&r, "Shape", 13, 1, 1);
    attr_int(&r, "start", 1); /* only from opset 15 */
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    op_end(&r);
    op_begin(&r, "Size", 13, 1, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_shape(&r.out[0], 0, NULL);
    check_data(&r.out[0], I64(120), sizeof(int64_t));
    op_end(&r);
}

EML_TEST(constant_of_shape_values)
{
    op_case r;
    op_begin(&r, "ConstantOfShape", 9, 1, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in = tens(EML_DTYPE_I64, I64(2, 2), 1, DIMS(2));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    CHECK(r.out[0].dtype == EML_DTYPE_F32);
    check_data(&r.out[0], F32(0, 0, 0, 0), 4 * sizeof(float));
    in.data = NULL;
    CHECK_STATUS(op_infer(&r, &in, 1), EML_EDYNAMIC);
    CHECK(r.out[0].dtype == EML_DTYPE_F32);
    in = tens(EML_DTYPE_I64, I64(2, -2), 1, DIMS(2));
    CHECK_STATUS(op_infer(&r, &in, 1), EML_ESHAPE);
    in = tens(EML_DTYPE_I64, I64(INT64_MAX, 4), 1, DIMS(2));
    CHECK_STATUS(op_infer(&r, &in, 1), EML_ELIMIT);
    op_end(&r);
    op_begin(&r, "ConstantOfShape", 9, 1, 1);
    attr_tensor(&r, "value", EML_DTYPE_I64, I64(-7), 1, DIMS(1));
    REQUIRE_OK(op_prepare(&r), &r.diag);
    in = tens(EML_DTYPE_I64, I64(3), 1, DIMS(1));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_data(&r.out[0], I64(-7, -7, -7), 3 * sizeof(int64_t));
    op_end(&r);
    op_begin(&r, "ConstantOfShape", 9, 1, 1);
    attr_tensor(&r, "value", EML_DTYPE_I64, I64(1, 2), 1, DIMS(2));
    CHECK_STATUS(op_prepare(&r), EML_EGRAPH);
    op_end(&r);
}

EML_TEST(constant_forms)
{
    op_case r;
    op_begin(&r, "Constant", 13, 0, 1);
    attr_tensor(&r, "value", EML_DTYPE_U32, (const uint32_t[]){5, 6, 7, 8}, 2, DIMS(2, 2));
    REQUIRE_OK(op_prepare(&r), &r.diag);
    REQUIRE_OK(op_exec(&r, NULL, 0), &r.diag);
    check_shape(&r.out[0], 2, DIMS(2, 2));
    check_data(&r.out[0], (const uint32_t[]){5, 6, 7, 8}, 16);
    op_end(&r);
    op_begin(&r, "Constant", 12, 0, 1);
    attr_ints(&r, "value_ints", I64(1, -2, 3), 3);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    REQUIRE_OK(op_exec(&r, NULL, 0), &r.diag);
    check_shape(&r.out[0], 1, DIMS(3));
    check_data(&r.out[0], I64(1, -2, 3), 3 * sizeof(int64_t));
    op_end(&r);
    op_begin(&r, "Constant", 12, 0, 1);
    attr_float(&r, "value_float", 2.5f);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    REQUIRE_OK(op_exec(&r, NULL, 0), &r.diag);
    check_shape(&r.out[0], 0, NULL);
    check_data(&r.out[0], F32(2.5f), sizeof(float));
    op_end(&r);
    op_begin(&r, "Constant", 11, 0, 1);
    attr_float(&r, "value_float", 2.5f); /* only from opset 12 */
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    op_end(&r);
    op_begin(&r, "Constant", 13, 0, 1);
    attr_string(&r, "value_string", "hello");
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    CHECK(strstr(r.diag.message, "value_string") != NULL);
    op_end(&r);
    op_begin(&r, "Constant", 13, 0, 1);
    new_attr(&r, "sparse_value", EML_ATTR_SPARSE_TENSOR);
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    op_end(&r);
    op_begin(&r, "Constant", 13, 0, 1);
    attr_int(&r, "value_int", 1);
    attr_float(&r, "value_float", 1);
    CHECK_STATUS(op_prepare(&r), EML_EGRAPH);
    op_end(&r);
}

/* ---- Range, EyeLike, OneHot, NonZero, Trilu ---- */

EML_TEST(range_counts)
{
    op_case r;
    op_begin(&r, "Range", 11, 3, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    const int16_t s16 = 10, l16 = 4, d16 = -2;
    eml_tensor in[3] = {tens(EML_DTYPE_I16, &s16, 0, NULL), tens(EML_DTYPE_I16, &l16, 0, NULL),
                        tens(EML_DTYPE_I16, &d16, 0, NULL)};
    REQUIRE_OK(op_exec(&r, in, 3), &r.diag);
    check_data(&r.out[0], (const int16_t[]){10, 8, 6}, 3 * sizeof(int16_t));
    /* the whole int64 span, without overflow */
    const int64_t s = INT64_MIN, l = INT64_MAX, d = INT64_MAX;
    in[0] = tens(EML_DTYPE_I64, &s, 0, NULL);
    in[1] = tens(EML_DTYPE_I64, &l, 0, NULL);
    in[2] = tens(EML_DTYPE_I64, &d, 0, NULL);
    REQUIRE_OK(op_exec(&r, in, 3), &r.diag);
    check_data(&r.out[0], I64(INT64_MIN, -1, INT64_MAX - 1), 3 * sizeof(int64_t));
    const double fs = 1, fl = 2, fd = 0.25, fz = 0;
    in[0] = tens(EML_DTYPE_F64, &fs, 0, NULL);
    in[1] = tens(EML_DTYPE_F64, &fl, 0, NULL);
    in[2] = tens(EML_DTYPE_F64, &fd, 0, NULL);
    REQUIRE_OK(op_exec(&r, in, 3), &r.diag);
    check_data(&r.out[0], (const double[]){1, 1.25, 1.5, 1.75}, 4 * sizeof(double));
    in[2].data = (void *)&fz;
    CHECK_STATUS(op_infer(&r, in, 3), EML_ESHAPE);
    in[2].data = NULL;
    CHECK_STATUS(op_infer(&r, in, 3), EML_EDYNAMIC);
    CHECK(r.out[0].dtype == EML_DTYPE_F64);
    in[2] = tens(EML_DTYPE_F32, &fz, 0, NULL);
    CHECK_STATUS(op_infer(&r, in, 3), EML_ETYPE);
    const uint8_t u = 1;
    for (int i = 0; i < 3; i++)
        in[i] = tens(EML_DTYPE_U8, &u, 0, NULL);
    CHECK_STATUS(op_infer(&r, in, 3), EML_EUNSUPPORTED);
    op_end(&r);
}

EML_TEST(eye_like_diagonals)
{
    op_case r;
    op_begin(&r, "EyeLike", 9, 1, 1);
    attr_int(&r, "k", -1);
    attr_int(&r, "dtype", EML_DTYPE_BOOL);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in = tens(EML_DTYPE_F32, NULL, 2, DIMS(3, 2));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    CHECK(r.out[0].dtype == EML_DTYPE_BOOL);
    check_data(&r.out[0], (const bool[]){0, 0, 1, 0, 0, 1}, 6);
    in = tens(EML_DTYPE_F32, NULL, 3, DIMS(3, 2, 1));
    CHECK_STATUS(op_infer(&r, &in, 1), EML_ESHAPE);
    op_end(&r);
    op_begin(&r, "EyeLike", 9, 1, 1);
    attr_int(&r, "k", INT64_MAX);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    in = tens(EML_DTYPE_I32, NULL, 2, DIMS(2, 2));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_data(&r.out[0], (const int32_t[]){0, 0, 0, 0}, 16);
    op_end(&r);
    op_begin(&r, "EyeLike", 9, 1, 1);
    attr_int(&r, "dtype", EML_DTYPE_STRING);
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    op_end(&r);
}

EML_TEST(one_hot_axis_and_out_of_range)
{
    op_case r;
    op_begin(&r, "OneHot", 11, 3, 1);
    attr_int(&r, "axis", 0);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    /* float indices truncate; 3 is outside [-3, 2]: all off */
    const float idx[3] = {1.7f, -1, 3};
    const float depth = 3;
    const int64_t values[2] = {0, 5};
    eml_tensor in[3] = {tens(EML_DTYPE_F32, idx, 1, DIMS(3)), tens(EML_DTYPE_F32, &depth, 0, NULL),
                        tens(EML_DTYPE_I64, values, 1, DIMS(2))};
    REQUIRE_OK(op_exec(&r, in, 3), &r.diag);
    check_shape(&r.out[0], 2, DIMS(3, 3));
    check_data(&r.out[0], I64(0, 0, 0, 5, 0, 0, 0, 5, 0), 9 * sizeof(int64_t));
    in[1].data = NULL;
    CHECK_STATUS(op_infer(&r, in, 3), EML_EDYNAMIC);
    CHECK(r.out[0].dtype == EML_DTYPE_I64);
    const float bad_depth = 0;
    in[1].data = (void *)&bad_depth;
    CHECK_STATUS(op_infer(&r, in, 3), EML_ESHAPE);
    op_end(&r);
}

EML_TEST(nonzero_values)
{
    op_case r;
    op_begin(&r, "NonZero", 13, 1, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    const float x[4] = {0.0f, 1.0f, -0.0f, NAN};
    eml_tensor in = tens(EML_DTYPE_F32, x, 2, DIMS(2, 2));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_shape(&r.out[0], 2, DIMS(2, 2));
    check_data(&r.out[0], I64(0, 1, 1, 1), 4 * sizeof(int64_t));
    in.data = NULL;
    CHECK_STATUS(op_infer(&r, &in, 1), EML_EDYNAMIC);
    CHECK(r.out[0].dtype == EML_DTYPE_I64);
    op_end(&r);
}

EML_TEST(trilu_upper_lower_k)
{
    op_case r;
    int64_t x[12];
    for (int i = 0; i < 12; i++)
        x[i] = i;
    op_begin(&r, "Trilu", 14, 2, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    const int64_t one = 1, big = INT64_MIN;
    eml_tensor in[2] = {tens(EML_DTYPE_I64, x, 2, DIMS(3, 4)), tens(EML_DTYPE_I64, &one, 0, NULL)};
    REQUIRE_OK(op_exec(&r, in, 2), &r.diag);
    check_data(&r.out[0], I64(0, 1, 2, 3, 0, 0, 6, 7, 0, 0, 0, 11), sizeof(x));
    in[1].data = (void *)&big; /* keeps everything */
    REQUIRE_OK(op_exec(&r, in, 2), &r.diag);
    check_data(&r.out[0], x, sizeof(x));
    op_end(&r);
    op_begin(&r, "Trilu", 14, 2, 1);
    attr_int(&r, "upper", 0);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    const int64_t minus = -1;
    in[1] = tens(EML_DTYPE_I64, &minus, 0, NULL);
    REQUIRE_OK(op_exec(&r, in, 2), &r.diag);
    check_data(&r.out[0], I64(0, 0, 0, 0, 4, 0, 0, 0, 8, 9, 0, 0), sizeof(x));
    in[0] = tens(EML_DTYPE_I64, x, 1, DIMS(12));
    CHECK_STATUS(op_infer(&r, in, 2), EML_ESHAPE);
    op_end(&r);
}
