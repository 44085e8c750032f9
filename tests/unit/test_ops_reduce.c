/* Reduce*, ArgMax/ArgMin, Softmax/LogSoftmax/Hardmax, CumSum and TopK: prepare, infer and the
 * reference kernels on small tensors with values from numpy, and what each op refuses. */
#include "kernels/ref/reduce.h"
#include "op_test_util.h"

static void check_i64(const eml_tensor *t, const int64_t *want, int64_t n)
{
    CHECK(t->dtype == EML_DTYPE_I64);
    REQUIRE(eml_tensor_count(t) == n);
    for (int64_t i = 0; i < n; i++) {
        if (((const int64_t *)t->data)[i] != want[i]) {
            fprintf(stderr, "element %lld: got %lld, want %lld\n", (long long)i,
                    (long long)((const int64_t *)t->data)[i], (long long)want[i]);
            CHECK(!"int mismatch");
        }
    }
}

/* ---- Reduce* ---- */

EML_TEST(reduce_sum_axes_keepdims)
{
    float x[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)(i + 1);
    eml_tensor in = tens(EML_DTYPE_F32, x, 3, DIMS(2, 3, 2));
    for (int keep = 0; keep < 2; keep++) {
        op_case r;
        op_begin(&r, "ReduceSum", 11, 1, 1);
        attr_ints(&r, "axes", DIMS(1), 1);
        attr_int(&r, "keepdims", keep);
        REQUIRE_OK(op_prepare(&r), &r.diag);
        REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
        if (keep)
            check_shape(&r.out[0], 3, DIMS(2, 1, 2));
        else
            check_shape(&r.out[0], 2, DIMS(2, 2));
        check_f32(&r.out[0], (const double[]){9, 12, 27, 30}, 4);
        op_end(&r);
    }
}

EML_TEST(reduce_every_kind_over_all_axes)
{
    static const struct {
        const char *op;
        double want;
    } cases[] = {
        {"ReduceL1", 10},          {"ReduceL2", 5.477225575},    {"ReduceLogSum", 1.791759469},
        {"ReduceLogSumExp", 4.350759163}, {"ReduceMax", 4},      {"ReduceMean", 1.5},
        {"ReduceMin", -2},         {"ReduceProd", -24},          {"ReduceSum", 6},
        {"ReduceSumSquare", 30},
    };
    float x[] = {1, -2, 3, 4};
    eml_tensor in = tens(EML_DTYPE_F32, x, 2, DIMS(2, 2));
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        op_case r;
        op_begin(&r, cases[c].op, 11, 1, 1);
        attr_int(&r, "keepdims", 0);
        REQUIRE_OK(op_prepare(&r), &r.diag);
        REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
        CHECK(r.out[0].rank == 0);
        check_f32(&r.out[0], &cases[c].want, 1);
        op_end(&r);
    }
}

EML_TEST(reduce_split_axes_and_negative_axes)
{
    /* axes 0 and 2 of [2,3,4] are not adjacent: the kernel walks them with strides */
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i * 0.5f - 3.0f;
    eml_tensor in = tens(EML_DTYPE_F32, x, 3, DIMS(2, 3, 4));
    const char *ops[] = {"ReduceSum", "ReduceL2"};
    const double want[2][3] = {{6, 22, 38}, {8.888194, 11.61895, 15.9687195}};
    for (int o = 0; o < 2; o++) {
        op_case r;
        op_begin(&r, ops[o], 13, 1, 1);
        if (o == 0) {
            /* ReduceSum 13 takes axes as an input */
            int64_t axes[] = {-1, 0};
            eml_tensor ins[2] = {in, tens(EML_DTYPE_I64, axes, 1, DIMS(2))};
            attr_int(&r, "keepdims", 0);
            REQUIRE_OK(op_prepare(&r), &r.diag);
            REQUIRE_OK(op_exec(&r, ins, 2), &r.diag);
        } else {
            attr_ints(&r, "axes", DIMS(-1, 0), 2);
            attr_int(&r, "keepdims", 0);
            REQUIRE_OK(op_prepare(&r), &r.diag);
            REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
        }
        check_shape(&r.out[0], 1, DIMS(3));
        check_f32(&r.out[0], want[o], 3);
        op_end(&r);
    }
}

EML_TEST(reduce_sum13_empty_axes_and_unknown_axes)
{
    float x[] = {1, 2, 3, 4, 5, 6};
    int64_t none[1] = {0};
    for (int noop = 0; noop < 2; noop++) {
        op_case r;
        op_begin(&r, "ReduceSum", 13, 2, 1);
        attr_int(&r, "noop_with_empty_axes", noop);
        REQUIRE_OK(op_prepare(&r), &r.diag);
        eml_tensor ins[2] = {tens(EML_DTYPE_F32, x, 2, DIMS(2, 3)),
                             tens(EML_DTYPE_I64, none, 1, DIMS(0))};
        REQUIRE_OK(op_exec(&r, ins, 2), &r.diag);
        if (noop) {
            check_shape(&r.out[0], 2, DIMS(2, 3));
            check_f32(&r.out[0], (const double[]){1, 2, 3, 4, 5, 6}, 6);
        } else {
            check_shape(&r.out[0], 2, DIMS(1, 1));
            check_f32(&r.out[0], (const double[]){21}, 1);
        }
        op_end(&r);
    }
    /* axes present but not known yet: the output shape waits for them */
    op_case r;
    op_begin(&r, "ReduceSum", 13, 2, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor ins[2] = {tens(EML_DTYPE_F32, x, 2, DIMS(2, 3)),
                         tens(EML_DTYPE_I64, NULL, 1, DIMS(1))};
    CHECK_STATUS(op_exec(&r, ins, 2), EML_EDYNAMIC);
    CHECK(r.out[0].dtype == EML_DTYPE_F32);
    op_end(&r);
}

EML_TEST(reduce_integer_types_exact)
{
    /* int64 sums beyond 2^53 stay exact */
    int64_t big[] = {(int64_t)1 << 60, 1, 3, -((int64_t)1 << 60)};
    op_case r;
    op_begin(&r, "ReduceSum", 11, 1, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in = tens(EML_DTYPE_I64, big, 1, DIMS(4));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_shape(&r.out[0], 1, DIMS(1));
    CHECK(((int64_t *)r.out[0].data)[0] == 4);
    op_end(&r);

    int8_t s8[] = {-5, 7, -128, 3, 2, 1};
    const char *ops[] = {"ReduceMax", "ReduceMin"};
    const int8_t want[2][2] = {{7, 3}, {-128, 1}};
    for (int o = 0; o < 2; o++) {
        op_begin(&r, ops[o], 12, 1, 1);
        attr_ints(&r, "axes", DIMS(1), 1);
        attr_int(&r, "keepdims", 0);
        REQUIRE_OK(op_prepare(&r), &r.diag);
        in = tens(EML_DTYPE_I8, s8, 2, DIMS(2, 3));
        REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
        CHECK(r.out[0].dtype == EML_DTYPE_I8);
        CHECK(((int8_t *)r.out[0].data)[0] == want[o][0]);
        CHECK(((int8_t *)r.out[0].data)[1] == want[o][1]);
        op_end(&r);
    }

    int32_t m[] = {-7, 2, 1, 5, 5, 6};
    op_begin(&r, "ReduceMean", 11, 1, 1);
    attr_ints(&r, "axes", DIMS(1), 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    in = tens(EML_DTYPE_I32, m, 2, DIMS(2, 3));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    CHECK(((int32_t *)r.out[0].data)[0] == -1); /* -4/3 truncates toward zero */
    CHECK(((int32_t *)r.out[0].data)[1] == 5);
    op_end(&r);

    uint64_t u[] = {UINT64_MAX / 2, 2, 3, 1};
    op_begin(&r, "ReduceProd", 11, 1, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    in = tens(EML_DTYPE_U64, u, 1, DIMS(4));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    CHECK(((uint64_t *)r.out[0].data)[0] == (UINT64_MAX / 2) * 6);
    op_end(&r);
}

EML_TEST(reduce_empty_axis_gives_identities)
{
    const char *ops[] = {"ReduceSum", "ReduceProd"};
    for (int o = 0; o < 2; o++) {
        op_case r;
        op_begin(&r, ops[o], 11, 1, 1);
        attr_ints(&r, "axes", DIMS(1), 1);
        REQUIRE_OK(op_prepare(&r), &r.diag);
        float dummy = 0;
        eml_tensor in = tens(EML_DTYPE_F32, &dummy, 2, DIMS(2, 0));
        REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
        check_shape(&r.out[0], 2, DIMS(2, 1));
        double id = o == 0 ? 0 : 1;
        check_f32(&r.out[0], (const double[]){id, id}, 2);
        op_end(&r);
    }
}

EML_TEST(reduce_refusals)
{
    float x[] = {1, 2, 3, 4};
    eml_tensor in = tens(EML_DTYPE_F32, x, 2, DIMS(2, 2));
    op_case r;
    /* ReduceSum 13 has no axes attribute */
    op_begin(&r, "ReduceSum", 13, 1, 1);
    attr_ints(&r, "axes", DIMS(0), 1);
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    CHECK(strstr(r.diag.message, "axes") != NULL);
    op_end(&r);
    /* unknown attribute */
    op_begin(&r, "ReduceMean", 11, 1, 1);
    attr_int(&r, "mode", 1);
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    op_end(&r);
    /* axes as an input before it became one */
    op_begin(&r, "ReduceMean", 11, 2, 1);
    CHECK_STATUS(op_prepare(&r), EML_EGRAPH);
    op_end(&r);
    /* axis out of range, axis repeated */
    const int64_t bad[2][2] = {{2, 0}, {1, -1}};
    for (int b = 0; b < 2; b++) {
        op_begin(&r, "ReduceMax", 11, 1, 1);
        attr_ints(&r, "axes", bad[b], 2);
        REQUIRE_OK(op_prepare(&r), &r.diag);
        CHECK_STATUS(op_exec(&r, &in, 1), EML_ESHAPE);
        op_end(&r);
    }
    /* int16 is not a ReduceSum type; int8 is only for max/min */
    int16_t s16[4] = {0};
    int8_t s8[4] = {0};
    op_begin(&r, "ReduceSum", 11, 1, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    in = tens(EML_DTYPE_I16, s16, 1, DIMS(4));
    CHECK_STATUS(op_exec(&r, &in, 1), EML_EUNSUPPORTED);
    in = tens(EML_DTYPE_I8, s8, 1, DIMS(4));
    CHECK_STATUS(op_exec(&r, &in, 1), EML_EUNSUPPORTED);
    op_end(&r);
}

/* ---- ArgMax / ArgMin ---- */

EML_TEST(argmax_argmin_ties_and_last_index)
{
    float x[] = {2, 5, 5, 1, 0, 0, 7, 7, -1, -1, 3, 2};
    eml_tensor in = tens(EML_DTYPE_F32, x, 2, DIMS(3, 4));
    static const struct {
        const char *op;
        int64_t axis, keep, last;
        int64_t want[4];
        int n;
    } cases[] = {
        {"ArgMax", 1, 1, 0, {1, 2, 2}, 3},    {"ArgMax", -1, 0, 1, {2, 3, 2}, 3},
        {"ArgMin", 1, 0, 0, {3, 0, 0}, 3},    {"ArgMin", 1, 0, 1, {3, 1, 1}, 3},
        {"ArgMax", 0, 1, 0, {0, 0, 1, 1}, 4}, {"ArgMin", 0, 0, 1, {2, 2, 2, 0}, 4},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        op_case r;
        op_begin(&r, cases[c].op, 12, 1, 1);
        attr_int(&r, "axis", cases[c].axis);
        attr_int(&r, "keepdims", cases[c].keep);
        attr_int(&r, "select_last_index", cases[c].last);
        REQUIRE_OK(op_prepare(&r), &r.diag);
        REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
        CHECK(r.out[0].rank == (cases[c].keep ? 2 : 1));
        check_i64(&r.out[0], cases[c].want, cases[c].n);
        op_end(&r);
    }
}

EML_TEST(argmax_integer_types_and_refusals)
{
    uint64_t u[] = {1, UINT64_MAX, UINT64_MAX - 1};
    op_case r;
    op_begin(&r, "ArgMax", 11, 1, 1);
    attr_int(&r, "keepdims", 0);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in = tens(EML_DTYPE_U64, u, 1, DIMS(3));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    CHECK(r.out[0].rank == 0);
    check_i64(&r.out[0], (const int64_t[]){1}, 1);
    op_end(&r);

    int16_t s[] = {-3, -9, 4};
    op_begin(&r, "ArgMin", 1, 1, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    in = tens(EML_DTYPE_I16, s, 1, DIMS(3));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_i64(&r.out[0], (const int64_t[]){1}, 1);
    /* axis out of range, empty axis, bool input */
    in = tens(EML_DTYPE_I16, s, 0, NULL);
    CHECK_STATUS(op_exec(&r, &in, 1), EML_ESHAPE);
    in = tens(EML_DTYPE_I16, s, 2, DIMS(0, 3));
    CHECK_STATUS(op_exec(&r, &in, 1), EML_ESHAPE);
    in = tens(EML_DTYPE_BOOL, s, 1, DIMS(3));
    CHECK_STATUS(op_exec(&r, &in, 1), EML_EUNSUPPORTED);
    op_end(&r);

    /* select_last_index arrived at opset 12 */
    op_begin(&r, "ArgMax", 11, 1, 1);
    attr_int(&r, "select_last_index", 1);
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    op_end(&r);
}

/* ---- Softmax / LogSoftmax / Hardmax ---- */

static const double sm_x[12] = {0.5, 1.0, 2.0, -1.0, 0.0, 3.0, 1.5, 1.5, -2.0, 0.25, 4.0, -0.5};

EML_TEST(softmax_axis_forms_by_opset)
{
    static const struct {
        const char *op;
        int32_t opset;
        double want[12];
    } cases[] = {
        /* opset 13: over axis 1 of [2,3,2] only */
        {"Softmax", 13, {0.16425163, 0.11731043, 0.73612472, 0.01587624, 0.09962365, 0.86681333,
                         0.07568481, 0.70331398, 0.00228548, 0.20150283, 0.92202971, 0.0951832}},
        /* opset 11: axis 1 coerces to [2,6]: each row of 6 is normalized */
        {"Softmax", 11, {0.04964611, 0.0818526, 0.22249843, 0.01107754, 0.03011189, 0.60481343,
                         0.06833154, 0.06833154, 0.00206343, 0.01957731, 0.83244852, 0.00924767}},
        {"LogSoftmax", 13, {-1.80635571, -2.14293163, -0.30635571, -4.14293163, -2.30635571,
                            -0.14293163, -2.58117783, -0.35195186, -6.08117783, -1.60195186,
                            -0.08117783, -2.35195186}},
        {"LogSoftmax", 1, {-3.00283524, -2.50283524, -1.50283524, -4.50283524, -3.50283524,
                           -0.50283524, -2.6833839, -2.6833839, -6.1833839, -3.9333839,
                           -0.1833839, -4.6833839}},
        {"Hardmax", 13, {0, 0, 1, 0, 0, 1, 0, 1, 0, 0, 1, 0}},
        {"Hardmax", 11, {0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0}},
    };
    float x[12];
    for (int i = 0; i < 12; i++)
        x[i] = (float)sm_x[i];
    eml_tensor in = tens(EML_DTYPE_F32, x, 3, DIMS(2, 3, 2));
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        op_case r;
        op_begin(&r, cases[c].op, cases[c].opset, 1, 1);
        attr_int(&r, "axis", 1);
        REQUIRE_OK(op_prepare(&r), &r.diag);
        REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
        check_shape(&r.out[0], 3, DIMS(2, 3, 2));
        check_f32(&r.out[0], cases[c].want, 12);
        op_end(&r);
    }
}

EML_TEST(softmax_stable_defaults_and_types)
{
    /* large values must not overflow exp(); default axis is the last at 13 */
    float big[] = {1000, 1001, 1002, 1003, -1000, -1000, -1000, -1000};
    op_case r;
    op_begin(&r, "Softmax", 13, 1, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor in = tens(EML_DTYPE_F32, big, 2, DIMS(2, 4));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_f32(&r.out[0], (const double[]){0.0320586, 0.08714432, 0.23688282, 0.64391426, 0.25,
                                          0.25, 0.25, 0.25}, 8);
    /* float16 in, float16 out */
    uint16_t h[4];
    for (int i = 0; i < 4; i++)
        h[i] = eml_f32_to_f16(big[i] - 1000.0f);
    in = tens(EML_DTYPE_F16, h, 1, DIMS(4));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    CHECK(r.out[0].dtype == EML_DTYPE_F16);
    CHECK(fabsf(eml_f16_to_f32(((uint16_t *)r.out[0].data)[3]) - 0.64391426f) < 1e-3f);
    /* integers are not softmax types; a scalar has no axis */
    int32_t i32[4] = {0};
    in = tens(EML_DTYPE_I32, i32, 1, DIMS(4));
    CHECK_STATUS(op_exec(&r, &in, 1), EML_EUNSUPPORTED);
    in = tens(EML_DTYPE_F32, big, 0, NULL);
    CHECK_STATUS(op_exec(&r, &in, 1), EML_ESHAPE);
    op_end(&r);

    /* opset < 13 default axis 1 on a 1-D input: the coerced matrix is [N, 1] */
    op_begin(&r, "Softmax", 11, 1, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    in = tens(EML_DTYPE_F32, big, 1, DIMS(4));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    check_f32(&r.out[0], (const double[]){1, 1, 1, 1}, 4);
    op_end(&r);

    op_begin(&r, "LogSoftmax", 13, 1, 1);
    attr_int(&r, "axis", 2);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    in = tens(EML_DTYPE_F32, big, 2, DIMS(2, 4));
    CHECK_STATUS(op_exec(&r, &in, 1), EML_ESHAPE);
    op_end(&r);
}

/* ---- CumSum ---- */

EML_TEST(cumsum_exclusive_reverse_axes)
{
    double x[] = {1, 2, 3, 4, 5, 6};
    static const struct {
        int64_t axis, exclusive, reverse;
        double want[6];
    } cases[] = {
        {1, 0, 0, {1, 3, 6, 4, 9, 15}},  {-1, 1, 0, {0, 1, 3, 0, 4, 9}},
        {1, 0, 1, {6, 5, 3, 15, 11, 6}}, {1, 1, 1, {5, 3, 0, 11, 6, 0}},
        {0, 0, 0, {1, 2, 3, 5, 7, 9}},   {-2, 1, 1, {4, 5, 6, 0, 0, 0}},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        op_case r;
        op_begin(&r, "CumSum", 14, 2, 1);
        attr_int(&r, "exclusive", cases[c].exclusive);
        attr_int(&r, "reverse", cases[c].reverse);
        REQUIRE_OK(op_prepare(&r), &r.diag);
        int32_t axis = (int32_t)cases[c].axis;
        eml_tensor ins[2] = {tens(EML_DTYPE_F64, x, 2, DIMS(2, 3)),
                             tens(EML_DTYPE_I32, &axis, 0, NULL)};
        REQUIRE_OK(op_exec(&r, ins, 2), &r.diag);
        CHECK(r.out[0].dtype == EML_DTYPE_F64);
        for (int i = 0; i < 6; i++)
            CHECK(((double *)r.out[0].data)[i] == cases[c].want[i]);
        op_end(&r);
    }
}

EML_TEST(cumsum_integers_and_bad_axis)
{
    int64_t x[] = {(int64_t)1 << 62, 1, -5};
    int64_t axis = 0;
    op_case r;
    op_begin(&r, "CumSum", 11, 2, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor ins[2] = {tens(EML_DTYPE_I64, x, 1, DIMS(3)),
                         tens(EML_DTYPE_I64, &axis, 1, DIMS(1))};
    REQUIRE_OK(op_exec(&r, ins, 2), &r.diag);
    check_i64(&r.out[0], (const int64_t[]){(int64_t)1 << 62, ((int64_t)1 << 62) + 1,
                                           ((int64_t)1 << 62) - 4}, 3);
    /* axis known at infer: a shape error; known only when the kernel runs: a range error */
    axis = 1;
    CHECK_STATUS(op_exec(&r, ins, 2), EML_ESHAPE);
    eml_kernel_ctx kc = {r.params, ins, 2, r.out, 1, NULL, 0, NULL, &r.diag};
    r.out[0] = tens(EML_DTYPE_I64, calloc(3, sizeof(int64_t)), 1, DIMS(3));
    CHECK_STATUS(eml__ref_cumsum(&kc), EML_ERANGE);
    /* the axis must be one int32/int64 value */
    float faxis = 0;
    ins[1] = tens(EML_DTYPE_F32, &faxis, 0, NULL);
    CHECK_STATUS(op_exec(&r, ins, 2), EML_EUNSUPPORTED);
    int64_t two[2] = {0, 0};
    ins[1] = tens(EML_DTYPE_I64, two, 1, DIMS(2));
    CHECK_STATUS(op_exec(&r, ins, 2), EML_ESHAPE);
    op_end(&r);
}

/* ---- TopK ---- */

static void check_topk(op_case *r, const double *values, const int64_t *indices, int64_t n)
{
    check_f32(&r->out[0], values, n);
    check_i64(&r->out[1], indices, n);
}

EML_TEST(topk_largest_smallest_ties)
{
    float x[] = {3, 1, 3, 2, 0, -1, 5, 5, 7, 7, 7, 7};
    int64_t k = 3;
    eml_tensor ins[2] = {tens(EML_DTYPE_F32, x, 2, DIMS(3, 4)),
                         tens(EML_DTYPE_I64, &k, 1, DIMS(1))};
    op_case r;
    op_begin(&r, "TopK", 11, 2, 2);
    attr_int(&r, "axis", 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    REQUIRE_OK(op_exec(&r, ins, 2), &r.diag);
    check_shape(&r.out[0], 2, DIMS(3, 3));
    /* equal values: the lower index first */
    check_topk(&r, (const double[]){3, 3, 2, 5, 5, 0, 7, 7, 7},
               (const int64_t[]){0, 2, 3, 2, 3, 0, 0, 1, 2}, 9);
    op_end(&r);

    op_begin(&r, "TopK", 11, 2, 2);
    attr_int(&r, "largest", 0);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    REQUIRE_OK(op_exec(&r, ins, 2), &r.diag);
    check_topk(&r, (const double[]){1, 2, 3, -1, 0, 5, 7, 7, 7},
               (const int64_t[]){1, 3, 0, 1, 0, 2, 0, 1, 2}, 9);
    op_end(&r);

    /* along axis 0, with inner elements */
    k = 2;
    op_begin(&r, "TopK", 10, 2, 2);
    attr_int(&r, "axis", 0);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    REQUIRE_OK(op_exec(&r, ins, 2), &r.diag);
    check_shape(&r.out[1], 2, DIMS(2, 4));
    check_topk(&r, (const double[]){7, 7, 7, 7, 3, 1, 5, 5},
               (const int64_t[]){2, 2, 2, 2, 0, 0, 1, 1}, 8);
    op_end(&r);
}

EML_TEST(topk_opset1_attribute_types_and_nan)
{
    op_case r;
    op_begin(&r, "TopK", 1, 1, 2);
    attr_int(&r, "k", 2);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    double x[] = {-0.0, NAN, 0.0, INFINITY, 1.0};
    eml_tensor in = tens(EML_DTYPE_F64, x, 1, DIMS(5));
    REQUIRE_OK(op_exec(&r, &in, 1), &r.diag);
    /* NaN sorts above +inf */
    CHECK(isnan(((double *)r.out[0].data)[0]));
    CHECK(((double *)r.out[0].data)[1] == INFINITY);
    check_i64(&r.out[1], (const int64_t[]){1, 3}, 2);
    op_end(&r);

    op_begin(&r, "TopK", 11, 2, 2);
    attr_int(&r, "largest", 0);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    int64_t k = 3;
    int32_t xi[] = {5, -7, 0, -7, 9};
    eml_tensor ins[2] = {tens(EML_DTYPE_I32, xi, 1, DIMS(5)), tens(EML_DTYPE_I64, &k, 1, DIMS(1))};
    REQUIRE_OK(op_exec(&r, ins, 2), &r.diag);
    CHECK(r.out[0].dtype == EML_DTYPE_I32);
    CHECK(((int32_t *)r.out[0].data)[0] == -7 && ((int32_t *)r.out[0].data)[2] == 0);
    check_i64(&r.out[1], (const int64_t[]){1, 3, 2}, 3);
    /* -0.0 and 0.0 are equal: index decides */
    op_end(&r);

    op_begin(&r, "TopK", 11, 2, 2);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    ins[0] = tens(EML_DTYPE_F64, x, 1, DIMS(5));
    k = 5;
    REQUIRE_OK(op_exec(&r, ins, 2), &r.diag);
    check_i64(&r.out[1], (const int64_t[]){1, 3, 4, 0, 2}, 5);
    op_end(&r);
}

EML_TEST(topk_refusals)
{
    float x[] = {1, 2, 3};
    op_case r;
    /* opset 1 requires k; later opsets require input K */
    op_begin(&r, "TopK", 1, 1, 2);
    CHECK_STATUS(op_prepare(&r), EML_EGRAPH);
    op_end(&r);
    op_begin(&r, "TopK", 10, 1, 2);
    CHECK_STATUS(op_prepare(&r), EML_EGRAPH);
    op_end(&r);
    op_begin(&r, "TopK", 10, 2, 2);
    attr_int(&r, "largest", 1); /* only from opset 11 */
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    op_end(&r);

    op_begin(&r, "TopK", 11, 2, 2);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    int64_t k = 4;
    eml_tensor ins[2] = {tens(EML_DTYPE_F32, x, 1, DIMS(3)), tens(EML_DTYPE_I64, &k, 1, DIMS(1))};
    CHECK_STATUS(op_exec(&r, ins, 2), EML_ERANGE);
    k = -1;
    CHECK_STATUS(op_exec(&r, ins, 2), EML_ERANGE);
    /* K unknown: output types are set, the shape waits */
    ins[1].data = NULL;
    CHECK_STATUS(op_exec(&r, ins, 2), EML_EDYNAMIC);
    CHECK(r.out[0].dtype == EML_DTYPE_F32 && r.out[1].dtype == EML_DTYPE_I64);
    k = 0;
    ins[1] = tens(EML_DTYPE_I64, &k, 1, DIMS(1));
    REQUIRE_OK(op_exec(&r, ins, 2), &r.diag);
    check_shape(&r.out[0], 1, DIMS(0));
    op_end(&r);
}
