/* Unit tests of the elementwise unary ops and Clip: prepare/infer/kernel on small hand-made
 * tensors whose expected values come from numpy, and the refusals. */
#include "kernels/ref/unary.h"
#include "op_test_util.h"

/* op_prepare, after checking that the op table names the family's functions (so that a wrong
 * ops.def line shows up here too). */
static eml_status fx_prepare(op_case *f)
{
    bool clip = f->op == EML_OP_Clip;
    REQUIRE(f->fns.prepare == (clip ? eml__clip_prepare : eml__unary_prepare));
    REQUIRE(f->fns.infer == (clip ? eml__clip_infer : eml__unary_infer));
    REQUIRE(f->fns.kernel == (clip ? eml__ref_clip : eml__ref_unary));
    return op_prepare(f);
}

/* infer + kernel on `pool` (may be NULL); these ops ask for no scratch. */
static eml_status fx_run_pool(op_case *f, const eml_tensor *inputs, int32_t n_inputs,
                              eml_pool *pool)
{
    eml_status st = op_infer(f, inputs, n_inputs);
    if (st != EML_OK)
        return st;
    REQUIRE(f->scratch_bytes == 0);
    return op_kernel(f, inputs, n_inputs, pool);
}

static eml_status fx_run(op_case *f, const eml_tensor *inputs, int32_t n_inputs)
{
    return fx_run_pool(f, inputs, n_inputs, NULL);
}

static eml_tensor tensor1(eml_dtype dt, int64_t n, const void *data)
{
    eml_tensor t = {.dtype = dt, .rank = 1, .dims = {n}, .data = (void *)data};
    return t;
}

static eml_tensor scalar(eml_dtype dt, const void *data)
{
    eml_tensor t = {.dtype = dt, .rank = 0, .data = (void *)data};
    return t;
}

static bool close_to(double got, double want)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    return fabs(got - want) <= 1e-6 + 1e-5 * fabs(want);
}

/* ---- float ops on one vector, expected values from numpy (float32) ---- */

static const float inputs7[7] = {-2.5f, -1.0f, -0.5f, 0.0f, 0.3f, 1.0f, 2.5f};

static const struct {
    const char *op;
    float want[7];
} float_cases[] = {
    {"Abs", {2.5f, 1.0f, 0.5f, 0.0f, 0.300000012f, 1.0f, 2.5f}},
    {"Acos", {NAN, 3.14159274f, 2.09439516f, 1.57079637f, 1.26610374f, 0.0f, NAN}},
    {"Acosh", {NAN, NAN, NAN, NAN, NAN, 0.0f, 1.56679928f}},
    {"Asin", {NAN, -1.57079637f, -0.52359879f, 0.0f, 0.304692656f, 1.57079637f, NAN}},
    {"Asinh", {-1.6472311f, -0.881373584f, -0.481211811f, 0.0f, 0.295673072f, 0.881373584f,
               1.6472311f}},
    {"Atan", {-1.19028997f, -0.785398185f, -0.463647604f, 0.0f, 0.291456819f, 0.785398185f,
              1.19028997f}},
    {"Atanh", {NAN, -INFINITY, -0.549306154f, 0.0f, 0.309519619f, INFINITY, NAN}},
    {"Ceil", {-2.0f, -1.0f, -0.0f, 0.0f, 1.0f, 1.0f, 3.0f}},
    {"Cos", {-0.801143587f, 0.540302277f, 0.87758255f, 1.0f, 0.955336511f, 0.540302277f,
             -0.801143587f}},
    {"Cosh", {6.13228989f, 1.54308069f, 1.12762606f, 1.0f, 1.04533839f, 1.54308069f,
              6.13228989f}},
    {"Erf", {-0.999593019f, -0.842700779f, -0.520499885f, 0.0f, 0.328626782f, 0.842700779f,
             0.999593019f}},
    {"Exp", {0.0820850059f, 0.367879421f, 0.606530666f, 1.0f, 1.34985876f, 2.71828198f,
             12.1824932f}},
    {"Floor", {-3.0f, -1.0f, -1.0f, 0.0f, 0.0f, 1.0f, 2.0f}},
    {"Log", {NAN, NAN, NAN, -INFINITY, -1.20397282f, 0.0f, 0.91629076f}},
    {"Neg", {2.5f, 1.0f, 0.5f, -0.0f, -0.300000012f, -1.0f, -2.5f}},
    {"Reciprocal", {-0.400000006f, -1.0f, -2.0f, INFINITY, 3.33333325f, 1.0f, 0.400000006f}},
    {"Sigmoid", {0.0758581832f, 0.268941402f, 0.377540678f, 0.5f, 0.574442506f, 0.731058598f,
                 0.924141824f}},
    {"Sign", {-1.0f, -1.0f, -1.0f, 0.0f, 1.0f, 1.0f, 1.0f}},
    {"Sin", {-0.598472178f, -0.841471016f, -0.47942555f, 0.0f, 0.295520216f, 0.841471016f,
             0.598472178f}},
    {"Sinh", {-6.05020428f, -1.17520118f, -0.521095276f, 0.0f, 0.304520309f, 1.17520118f,
              6.05020428f}},
    {"Sqrt", {NAN, NAN, NAN, 0.0f, 0.547722578f, 1.0f, 1.58113885f}},
    {"Tan", {0.747022271f, -1.55740774f, -0.546302497f, 0.0f, 0.309336275f, 1.55740774f,
             -0.747022271f}},
    {"Tanh", {-0.986614287f, -0.761594176f, -0.462117195f, 0.0f, 0.291312635f, 0.761594176f,
              0.986614287f}},
    {"Softplus", {0.0788897499f, 0.313261658f, 0.474076986f, 0.693147182f, 0.854355216f,
                  1.31326175f, 2.57888961f}},
    {"Softsign", {-0.714285731f, -0.5f, -0.333333343f, 0.0f, 0.230769247f, 0.5f, 0.714285731f}},
    {"Relu", {0.0f, 0.0f, 0.0f, 0.0f, 0.300000012f, 1.0f, 2.5f}},
    {"Elu", {-0.917914987f, -0.632120609f, -0.393469334f, 0.0f, 0.300000012f, 1.0f, 2.5f}},
    {"Celu", {-0.917914987f, -0.632120609f, -0.393469334f, 0.0f, 0.300000012f, 1.0f, 2.5f}},
    {"Selu", {-1.61378574f, -1.11133075f, -0.691758215f, 0.0f, 0.315210313f, 1.05070102f,
              2.62675261f}},
    {"LeakyRelu", {-0.0249999985f, -0.00999999978f, -0.00499999989f, 0.0f, 0.300000012f, 1.0f,
                   2.5f}},
    {"HardSigmoid", {0.0f, 0.300000012f, 0.400000006f, 0.5f, 0.560000002f, 0.699999988f, 1.0f}},
    {"HardSwish", {-0.208333358f, -0.333333313f, -0.208333328f, 0.0f, 0.165000007f, 0.666666687f,
                   2.29166651f}},
    {"ThresholdedRelu", {0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 0.0f, 2.5f}},
    {"Shrink", {-2.5f, -1.0f, 0.0f, 0.0f, 0.0f, 1.0f, 2.5f}},
};

/* Runs one op with default attributes on `inputs7` converted to dtype; checks against the
 * float32 expectations with a tolerance fit for the dtype. */
static void check_float_op(const char *op, const float *want, eml_dtype dt)
{
    op_case f;
    op_begin(&f, op, 17, 1, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    _Alignas(64) unsigned char in[64];
    eml_tensor x = tensor1(dt, 7, in);
    for (int i = 0; i < 7; i++)
        eml__tensor_set_f64(&x, i, inputs7[i]);
    REQUIRE_OK(fx_run(&f, &x, 1), &f.diag);
    CHECK(f.out[0].dtype == dt && f.out[0].rank == 1 && f.out[0].dims[0] == 7);
    double tol = dt == EML_DTYPE_BF16 ? 1e-2 : dt == EML_DTYPE_F16 ? 2e-3 : 1e-6;
    for (int i = 0; i < 7; i++) {
        double got = eml__tensor_get_f64(&f.out[0], i), w = want[i];
        /* the input itself was rounded to the dtype; the band is wide enough for that */
        bool ok = isnan(w)   ? isnan(got)
                  : isinf(w) ? got == w
                             : fabs(got - w) <= tol * (1 + fabs(w));
        if (!ok)
            fprintf(stderr, "%s %s [%d]: got %.9g want %.9g\n", op, eml_dtype_name(dt), i, got, w);
        CHECK(ok);
    }
    op_end(&f);
}

EML_TEST(float_ops_f32)
{
    for (size_t c = 0; c < sizeof(float_cases) / sizeof(float_cases[0]); c++)
        check_float_op(float_cases[c].op, float_cases[c].want, EML_DTYPE_F32);
}

EML_TEST(float_ops_f64)
{
    for (size_t c = 0; c < sizeof(float_cases) / sizeof(float_cases[0]); c++)
        check_float_op(float_cases[c].op, float_cases[c].want, EML_DTYPE_F64);
}

/* 0.3 is not exact in half precision; the tolerance of check_float_op covers that. */
EML_TEST(float_ops_f16_bf16)
{
    for (size_t c = 0; c < sizeof(float_cases) / sizeof(float_cases[0]); c++) {
        check_float_op(float_cases[c].op, float_cases[c].want, EML_DTYPE_F16);
        check_float_op(float_cases[c].op, float_cases[c].want, EML_DTYPE_BF16);
    }
}

EML_TEST(round_half_to_even)
{
    op_case f;
    op_begin(&f, "Round", 11, 1, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const float x[9] = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 2.4f, 2.6f, -0.2f};
    const float want[9] = {-2.0f, -2.0f, -0.0f, 0.0f, 2.0f, 2.0f, 2.0f, 3.0f, -0.0f};
    eml_tensor t = tensor1(EML_DTYPE_F32, 9, x);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    const float *y = f.out[0].data;
    for (int i = 0; i < 9; i++)
        CHECK(y[i] == want[i] && signbit(y[i]) == signbit(want[i]));
    op_end(&f);
}

EML_TEST(nan_propagates_through_activations)
{
    const char *ops[] = {"Relu", "LeakyRelu", "Elu", "Selu", "Celu", "HardSigmoid", "Sign",
                         "Sigmoid", "Softplus", "Shrink", "ThresholdedRelu", "HardSwish"};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        op_case f;
        op_begin(&f, ops[i], 17, 1, 1);
        REQUIRE_OK(fx_prepare(&f), &f.diag);
        float x = NAN;
        eml_tensor t = scalar(EML_DTYPE_F32, &x);
        REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
        CHECK(f.out[0].rank == 0);
        if (!isnan(((float *)f.out[0].data)[0]))
            fprintf(stderr, "%s lost NaN\n", ops[i]);
        CHECK(isnan(((float *)f.out[0].data)[0]));
        op_end(&f);
    }
}

EML_TEST(activations_stay_finite_at_extremes)
{
    const char *ops[] = {"Sigmoid", "Softplus"};
    const float x[4] = {-1000.0f, -100.0f, 100.0f, 1000.0f};
    const float sigmoid[4] = {0.0f, 3.7200760e-44f, 1.0f, 1.0f};
    const float softplus[4] = {0.0f, 3.7200760e-44f, 100.0f, 1000.0f};
    for (int k = 0; k < 2; k++) {
        op_case f;
        op_begin(&f, ops[k], 13, 1, 1);
        REQUIRE_OK(fx_prepare(&f), &f.diag);
        eml_tensor t = tensor1(EML_DTYPE_F32, 4, x);
        REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
        const float *y = f.out[0].data;
        for (int i = 0; i < 4; i++)
            CHECK(close_to(y[i], k == 0 ? sigmoid[i] : softplus[i]));
        op_end(&f);
    }
}

/* ---- attributes ---- */

static float run_one_f32(op_case *f, float x)
{
    eml_tensor t = scalar(EML_DTYPE_F32, &x);
    REQUIRE_OK(fx_run(f, &t, 1), &f->diag);
    return ((float *)f->out[0].data)[0];
}

EML_TEST(activation_attributes)
{
    op_case f;
    op_begin(&f, "Elu", 6, 1, 1);
    attr_float(&f, "alpha", 2.0f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(close_to(run_one_f32(&f, -1.0f), 2.0 * (exp(-1.0) - 1)));
    op_end(&f);

    op_begin(&f, "Celu", 12, 1, 1);
    attr_float(&f, "alpha", 2.0f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(close_to(run_one_f32(&f, -1.0f), 2.0 * (exp(-0.5) - 1)));
    op_end(&f);

    op_begin(&f, "LeakyRelu", 16, 1, 1);
    attr_float(&f, "alpha", 0.1f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(close_to(run_one_f32(&f, -3.0f), -0.3));
    op_end(&f);

    op_begin(&f, "HardSigmoid", 6, 1, 1);
    attr_float(&f, "alpha", 0.5f);
    attr_float(&f, "beta", 0.6f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(close_to(run_one_f32(&f, 0.5f), 0.85));
    CHECK(close_to(run_one_f32(&f, 1.0f), 1.0));
    op_end(&f);

    op_begin(&f, "Selu", 6, 1, 1);
    attr_float(&f, "alpha", 2.0f);
    attr_float(&f, "gamma", 3.0f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(close_to(run_one_f32(&f, -1.0f), 3.0 * (2.0 * exp(-1.0) - 2.0)));
    CHECK(close_to(run_one_f32(&f, 1.0f), 3.0));
    op_end(&f);

    op_begin(&f, "ThresholdedRelu", 10, 1, 1);
    attr_float(&f, "alpha", 2.0f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(run_one_f32(&f, 2.0f) == 0.0f);
    CHECK(run_one_f32(&f, 2.5f) == 2.5f);
    op_end(&f);

    /* test_shrink_soft: lambd 1.5, bias 1.5 */
    op_begin(&f, "Shrink", 9, 1, 1);
    attr_float(&f, "lambd", 1.5f);
    attr_float(&f, "bias", 1.5f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(run_one_f32(&f, -2.0f) == -0.5f);
    CHECK(run_one_f32(&f, -1.0f) == 0.0f);
    CHECK(run_one_f32(&f, 2.0f) == 0.5f);
    op_end(&f);
}

EML_TEST(selu_defaults_by_opset)
{
    op_case f;
    op_begin(&f, "Selu", 1, 1, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(close_to(run_one_f32(&f, -1.0f), 1.0507 * (1.6732 * exp(-1.0) - 1.6732)));
    op_end(&f);
}

EML_TEST(isinf_isnan_not)
{
    const float x[5] = {-INFINITY, -1.0f, 0.0f, INFINITY, NAN};
    const struct {
        int pos, neg;
        bool want[5];
    } cases[] = {{1, 1, {1, 0, 0, 1, 0}}, {1, 0, {0, 0, 0, 1, 0}}, {0, 1, {1, 0, 0, 0, 0}}};
    for (int c = 0; c < 3; c++) {
        op_case f;
        op_begin(&f, "IsInf", 10, 1, 1);
        attr_int(&f, "detect_positive", cases[c].pos);
        attr_int(&f, "detect_negative", cases[c].neg);
        REQUIRE_OK(fx_prepare(&f), &f.diag);
        eml_tensor t = tensor1(EML_DTYPE_F32, 5, x);
        REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
        CHECK(f.out[0].dtype == EML_DTYPE_BOOL);
        CHECK(memcmp(f.out[0].data, cases[c].want, 5) == 0);
        op_end(&f);
    }

    op_case f;
    op_begin(&f, "IsNaN", 13, 1, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const double xd[3] = {NAN, 1.0, INFINITY};
    eml_tensor t = tensor1(EML_DTYPE_F64, 3, xd);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    const bool nan_want[3] = {1, 0, 0};
    CHECK(f.out[0].dtype == EML_DTYPE_BOOL && memcmp(f.out[0].data, nan_want, 3) == 0);
    op_end(&f);

    op_begin(&f, "Not", 1, 1, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const bool b[4] = {1, 0, 0, 1}, not_want[4] = {0, 1, 1, 0};
    t = tensor1(EML_DTYPE_BOOL, 4, b);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    CHECK(f.out[0].dtype == EML_DTYPE_BOOL && memcmp(f.out[0].data, not_want, 4) == 0);
    op_end(&f);
}

/* ---- integers ---- */

EML_TEST(integer_ops)
{
    const int8_t x[5] = {-128, -5, 0, 7, 127};
    const struct {
        const char *op;
        int8_t want[5];
    } cases[] = {
        {"Abs", {-128, 5, 0, 7, 127}},  /* -128 wraps, as in two's complement numpy */
        {"Neg", {-128, 5, 0, -7, -127}},
        {"Sign", {-1, -1, 0, 1, 1}},
        {"Relu", {0, 0, 0, 7, 127}},
        {"Erf", {-1, -1, 0, 1, 1}},
    };
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        op_case f;
        op_begin(&f, cases[c].op, 14, 1, 1);
        REQUIRE_OK(fx_prepare(&f), &f.diag);
        eml_tensor t = tensor1(EML_DTYPE_I8, 5, x);
        REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
        CHECK(f.out[0].dtype == EML_DTYPE_I8);
        CHECK(memcmp(f.out[0].data, cases[c].want, 5) == 0);
        op_end(&f);
    }

    op_case f;
    op_begin(&f, "Abs", 13, 1, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const int64_t x64[3] = {INT64_MIN + 1, -3, 4};
    eml_tensor t = tensor1(EML_DTYPE_I64, 3, x64);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    const int64_t *y64 = f.out[0].data;
    CHECK(y64[0] == INT64_MAX && y64[1] == 3 && y64[2] == 4);
    op_end(&f);

    op_begin(&f, "Sign", 13, 1, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const uint8_t xu[3] = {0, 1, 255};
    t = tensor1(EML_DTYPE_U8, 3, xu);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    const uint8_t *yu = f.out[0].data;
    CHECK(yu[0] == 0 && yu[1] == 1 && yu[2] == 1);
    op_end(&f);

    /* Shrink on int32: x ± bias, truncated toward zero */
    op_begin(&f, "Shrink", 9, 1, 1);
    attr_float(&f, "lambd", 1.0f);
    attr_float(&f, "bias", 0.5f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const int32_t xi[4] = {-3, -1, 1, 3};
    t = tensor1(EML_DTYPE_I32, 4, xi);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    const int32_t *yi = f.out[0].data;
    CHECK(yi[0] == -2 && yi[1] == 0 && yi[2] == 0 && yi[3] == 2);
    op_end(&f);
}

/* ---- refusals ---- */

EML_TEST(dtype_refused)
{
    const struct {
        const char *op;
        eml_dtype dt;
    } cases[] = {{"Acos", EML_DTYPE_I32}, {"Not", EML_DTYPE_F32},   {"Relu", EML_DTYPE_U8},
                 {"Neg", EML_DTYPE_U32},  {"Exp", EML_DTYPE_BOOL},  {"IsNaN", EML_DTYPE_I64},
                 {"Clip", EML_DTYPE_BOOL}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        op_case f;
        op_begin(&f, cases[c].op, 13, 1, 1);
        REQUIRE_OK(fx_prepare(&f), &f.diag);
        int64_t buf = 0;
        eml_tensor t = scalar(cases[c].dt, &buf);
        CHECK_STATUS(fx_run(&f, &t, 1), EML_EUNSUPPORTED);
        CHECK(strstr(f.diag.message, "unsupported: ") != NULL);
        op_end(&f);
    }
}

EML_TEST(attributes_refused)
{
    op_case f;
    op_begin(&f, "Relu", 14, 1, 1);
    attr_float(&f, "alpha", 1.0f);
    CHECK_STATUS(fx_prepare(&f), EML_EUNSUPPORTED);
    CHECK(strstr(f.diag.message, "attribute 'alpha'") != NULL);
    op_end(&f);

    /* consumed_inputs belongs to the opset-1 forms only */
    op_begin(&f, "Relu", 1, 1, 1);
    attr_ints(&f, "consumed_inputs", I64(0), 1);
    CHECK_STATUS(fx_prepare(&f), EML_OK);
    op_end(&f);
    op_begin(&f, "Relu", 6, 1, 1);
    attr_ints(&f, "consumed_inputs", I64(0), 1);
    CHECK_STATUS(fx_prepare(&f), EML_EUNSUPPORTED);
    op_end(&f);

    op_begin(&f, "Celu", 12, 1, 1);
    attr_float(&f, "alpha", 0.0f);
    CHECK_STATUS(fx_prepare(&f), EML_EGRAPH);
    op_end(&f);

    /* an attribute of the wrong type */
    op_begin(&f, "Elu", 6, 1, 1);
    attr_int(&f, "alpha", 1);
    CHECK_STATUS(fx_prepare(&f), EML_EGRAPH);
    op_end(&f);
}

/* ---- many elements, split over a pool ---- */

EML_TEST(large_tensor_on_pool)
{
    eml_env_options o;
    eml_env_options_init(&o);
    o.n_threads = 4;
    eml_env *env;
    REQUIRE_OK(eml_env_create(&o, &env), NULL);
    op_case f;
    op_begin(&f, "Neg", 13, 1, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const int64_t n = 100003;
    float *x = malloc(sizeof(float) * (size_t)n);
    REQUIRE(x);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)i;
    eml_tensor t = tensor1(EML_DTYPE_F32, n, x);
    REQUIRE_OK(fx_run_pool(&f, &t, 1, env->pool), &f.diag);
    const float *y = f.out[0].data;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        bad += y[i] != -(float)i;
    CHECK(bad == 0);
    free(x);
    op_end(&f);
    eml_env_destroy(env);
}

/* ---- Clip ---- */

EML_TEST(clip_attributes)
{
    const float x[5] = {-3.0f, -1.0f, 0.0f, 1.0f, 3.0f};
    op_case f;
    op_begin(&f, "Clip", 6, 1, 1);
    attr_float(&f, "min", -1.5f);
    attr_float(&f, "max", 2.0f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    eml_tensor t = tensor1(EML_DTYPE_F32, 5, x);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    const float want[5] = {-1.5f, -1.0f, 0.0f, 1.0f, 2.0f};
    CHECK(memcmp(f.out[0].data, want, sizeof(want)) == 0);
    op_end(&f);

    /* opset 6: an absent max defaults to float's largest value, which clips a double */
    op_begin(&f, "Clip", 6, 1, 1);
    attr_float(&f, "min", 0.0f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const double xd[2] = {-1.0, 1e300};
    t = tensor1(EML_DTYPE_F64, 2, xd);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    const double *yd = f.out[0].data;
    CHECK(yd[0] == 0.0 && yd[1] == (double)3.40282347e+38f);
    op_end(&f);

    /* opset 1: no defaults, so an absent bound does not clip */
    op_begin(&f, "Clip", 1, 1, 1);
    attr_float(&f, "max", 0.5f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    t = tensor1(EML_DTYPE_F64, 2, xd);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    yd = f.out[0].data;
    CHECK(yd[0] == -1.0 && yd[1] == 0.5);
    op_end(&f);
}

EML_TEST(clip_inputs)
{
    const float x[5] = {-3.0f, -1.0f, NAN, 1.0f, 3.0f};
    const float lo = -2.0f, hi = 0.5f;
    eml_tensor in[3] = {tensor1(EML_DTYPE_F32, 5, x), scalar(EML_DTYPE_F32, &lo),
                        scalar(EML_DTYPE_F32, &hi)};
    op_case f;
    op_begin(&f, "Clip", 13, 3, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    const float *y = f.out[0].data;
    CHECK(y[0] == -2.0f && y[1] == -1.0f && isnan(y[2]) && y[3] == 0.5f && y[4] == 0.5f);

    /* min only: max omitted (dtype UNDEFINED) */
    in[2].dtype = EML_DTYPE_UNDEFINED;
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    y = f.out[0].data;
    CHECK(y[0] == -2.0f && y[4] == 3.0f);

    /* max only, min given as an empty name */
    in[1].dtype = EML_DTYPE_UNDEFINED;
    in[2].dtype = EML_DTYPE_F32;
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    y = f.out[0].data;
    CHECK(y[0] == -3.0f && y[4] == 0.5f);

    /* min > max: everything becomes max */
    const float big = 5.0f;
    in[1] = scalar(EML_DTYPE_F32, &big);
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    y = f.out[0].data;
    CHECK(y[0] == 0.5f && y[3] == 0.5f && y[4] == 0.5f);

    /* no bounds at all: a copy */
    REQUIRE_OK(fx_run(&f, in, 1), &f.diag);
    y = f.out[0].data;
    CHECK(y[0] == -3.0f && y[4] == 3.0f);
    op_end(&f);
}

EML_TEST(clip_integer_and_half)
{
    /* test_clip_default_int8_min: min 0 */
    const int8_t x[4] = {-128, -1, 0, 127};
    const int8_t lo = 0, hi = 100;
    eml_tensor in[3] = {tensor1(EML_DTYPE_I8, 4, x), scalar(EML_DTYPE_I8, &lo),
                        scalar(EML_DTYPE_I8, &hi)};
    op_case f;
    op_begin(&f, "Clip", 13, 3, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    const int8_t want[4] = {0, 0, 0, 100};
    CHECK(memcmp(f.out[0].data, want, 4) == 0);

    const uint64_t xu[2] = {1, UINT64_MAX}, hu = UINT64_MAX - 1;
    eml_tensor inu[3] = {tensor1(EML_DTYPE_U64, 2, xu), {0}, scalar(EML_DTYPE_U64, &hu)};
    REQUIRE_OK(fx_run(&f, inu, 3), &f.diag);
    const uint64_t *yu = f.out[0].data;
    CHECK(yu[0] == 1 && yu[1] == UINT64_MAX - 1);

    uint16_t xh[3], lh = eml_f32_to_f16(-1.0f), hh = eml_f32_to_f16(0.25f);
    xh[0] = eml_f32_to_f16(-4.0f);
    xh[1] = eml_f32_to_f16(0.125f);
    xh[2] = eml_f32_to_f16(4.0f);
    eml_tensor inh[3] = {tensor1(EML_DTYPE_F16, 3, xh), scalar(EML_DTYPE_F16, &lh),
                         scalar(EML_DTYPE_F16, &hh)};
    REQUIRE_OK(fx_run(&f, inh, 3), &f.diag);
    const uint16_t *yh = f.out[0].data;
    CHECK(eml_f16_to_f32(yh[0]) == -1.0f && eml_f16_to_f32(yh[1]) == 0.125f &&
          eml_f16_to_f32(yh[2]) == 0.25f);
    op_end(&f);
}

EML_TEST(clip_refusals)
{
    const float x[2] = {0, 1};
    const double lo_d = 0;
    const float lo2[2] = {0, 1};
    op_case f;
    op_begin(&f, "Clip", 13, 2, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    eml_tensor in[2] = {tensor1(EML_DTYPE_F32, 2, x), scalar(EML_DTYPE_F64, &lo_d)};
    CHECK_STATUS(fx_run(&f, in, 2), EML_ETYPE);
    in[1] = tensor1(EML_DTYPE_F32, 2, lo2);
    CHECK_STATUS(fx_run(&f, in, 2), EML_ESHAPE);
    op_end(&f);

    /* attributes after opset 11 are unknown */
    op_begin(&f, "Clip", 11, 1, 1);
    attr_float(&f, "min", 0.0f);
    CHECK_STATUS(fx_prepare(&f), EML_EUNSUPPORTED);
    op_end(&f);

    /* integers need opset 12's typed bounds: float attributes cannot clip them */
    op_begin(&f, "Clip", 6, 1, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const int32_t xi = 1;
    eml_tensor ti = scalar(EML_DTYPE_I32, &xi);
    CHECK_STATUS(fx_run(&f, &ti, 1), EML_EUNSUPPORTED);
    op_end(&f);

    /* inputs before opset 11 are not min/max */
    op_begin(&f, "Clip", 6, 2, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    in[1] = scalar(EML_DTYPE_F32, &x[0]);
    CHECK_STATUS(fx_run(&f, in, 2), EML_EGRAPH);
    op_end(&f);
}
