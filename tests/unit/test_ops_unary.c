/* Unit tests of the elementwise unary ops and Clip: prepare/infer/kernel on small hand-made
 * tensors whose expected values come from numpy, and the refusals. */
#include <math.h>
#include <string.h>

#include "graph/graph.h"
#include "harness.h"
#include "kernels/ref/unary.h"

/* ---- a one-node fixture ---- */

typedef struct fixture {
    eml_env *env;
    eml_graph *g;
    eml_node *node;
    eml_op_id op;
    int32_t opset;
    _Alignas(64) unsigned char params[EML_PARAMS_MAX];
    eml_diag diag;
    eml_tensor out;
    _Alignas(64) unsigned char out_data[4096];
} fixture;

static void fx_init_env(fixture *f, const char *op, int32_t opset, int32_t n_inputs, eml_env *env)
{
    memset(f, 0, sizeof(*f));
    f->env = env;
    REQUIRE_OK(eml__graph_create(f->env, NULL, &f->g), NULL);
    REQUIRE_OK(eml__graph_add_node(f->g, "node0", op, "", n_inputs, 1, 8, &f->node), NULL);
    f->node->n_attrs = 0; /* attributes are appended by fx_attr_* */
    f->op = eml__op_find("", op);
    REQUIRE(f->op != EML_OP_UNKNOWN);
    f->opset = opset;
    eml_diag_init(&f->diag);
}

static void fx_init(fixture *f, const char *op, int32_t opset, int32_t n_inputs)
{
    eml_env *env;
    REQUIRE_OK(eml_env_create(NULL, &env), NULL);
    fx_init_env(f, op, opset, n_inputs, env);
}

static void fx_deinit(fixture *f)
{
    eml_graph_destroy(f->g);
    eml_env_destroy(f->env);
}

static eml_attr *fx_attr(fixture *f, const char *name, eml_attr_type type)
{
    eml_attr *a = &f->node->attrs[f->node->n_attrs++];
    a->name = eml__strdup(f->env, name);
    a->type = type;
    REQUIRE(a->name != NULL);
    return a;
}

static void fx_attr_f(fixture *f, const char *name, float v)
{
    fx_attr(f, name, EML_ATTR_FLOAT)->f = v;
}

static void fx_attr_i(fixture *f, const char *name, int64_t v)
{
    fx_attr(f, name, EML_ATTR_INT)->i = v;
}

static void fx_attr_ints(fixture *f, const char *name, int64_t v)
{
    eml_attr *a = fx_attr(f, name, EML_ATTR_INTS);
    a->ints = eml__alloc(f->env, sizeof(int64_t));
    REQUIRE(a->ints != NULL);
    a->ints[0] = v;
    a->count = 1;
}

/* The family's functions, named directly so that a wrong ops.def line shows up here too. */
static eml_op_info fx_info(const fixture *f)
{
    eml_op_info info = *eml__op_info(f->op);
    bool clip = f->op == EML_OP_Clip;
    REQUIRE(info.prepare == (clip ? eml__clip_prepare : eml__unary_prepare));
    REQUIRE(info.infer == (clip ? eml__clip_infer : eml__unary_infer));
    REQUIRE(info.kernel == (clip ? eml__ref_clip : eml__ref_unary));
    return info;
}

static eml_status fx_prepare(fixture *f)
{
    eml_prepare_ctx ctx = {f->node, f->op, f->opset, f->params, &f->diag};
    return fx_info(f).prepare(&ctx);
}

/* Infers, then runs the kernel into f->out (data in f->out_data) when infer succeeds. */
static eml_status fx_run_pool(fixture *f, const eml_tensor *inputs, int32_t n_inputs, void *out,
                              eml_pool *pool)
{
    eml_op_info fns = fx_info(f);
    const eml_op_info *info = &fns;
    memset(&f->out, 0, sizeof(f->out));
    eml_infer_ctx ictx = {.params = f->params,
                          .op = f->op,
                          .opset = f->opset,
                          .node_name = "node0",
                          .inputs = inputs,
                          .n_inputs = n_inputs,
                          .outputs = &f->out,
                          .n_outputs = 1,
                          .diag = &f->diag};
    eml_status st = info->infer(&ictx);
    if (st != EML_OK)
        return st;
    REQUIRE(ictx.scratch_bytes == 0);
    f->out.data = out ? out : f->out_data;
    REQUIRE(out || eml_tensor_bytes(&f->out) <= sizeof(f->out_data));
    eml_kernel_ctx kctx = {.params = f->params,
                           .inputs = inputs,
                           .n_inputs = n_inputs,
                           .outputs = &f->out,
                           .n_outputs = 1,
                           .pool = pool,
                           .diag = &f->diag};
    return info->kernel(&kctx);
}

static eml_status fx_run(fixture *f, const eml_tensor *inputs, int32_t n_inputs)
{
    return fx_run_pool(f, inputs, n_inputs, NULL, NULL);
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
    fixture f;
    fx_init(&f, op, 17, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    _Alignas(64) unsigned char in[64];
    eml_tensor x = tensor1(dt, 7, in);
    for (int i = 0; i < 7; i++)
        eml__tensor_set_f64(&x, i, inputs7[i]);
    REQUIRE_OK(fx_run(&f, &x, 1), &f.diag);
    CHECK(f.out.dtype == dt && f.out.rank == 1 && f.out.dims[0] == 7);
    double tol = dt == EML_DTYPE_BF16 ? 1e-2 : dt == EML_DTYPE_F16 ? 2e-3 : 1e-6;
    for (int i = 0; i < 7; i++) {
        double got = eml__tensor_get_f64(&f.out, i), w = want[i];
        /* the input itself was rounded to the dtype; the band is wide enough for that */
        bool ok = isnan(w)   ? isnan(got)
                  : isinf(w) ? got == w
                             : fabs(got - w) <= tol * (1 + fabs(w));
        if (!ok)
            fprintf(stderr, "%s %s [%d]: got %.9g want %.9g\n", op, eml_dtype_name(dt), i, got, w);
        CHECK(ok);
    }
    fx_deinit(&f);
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
    fixture f;
    fx_init(&f, "Round", 11, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const float x[9] = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 2.4f, 2.6f, -0.2f};
    const float want[9] = {-2.0f, -2.0f, -0.0f, 0.0f, 2.0f, 2.0f, 2.0f, 3.0f, -0.0f};
    eml_tensor t = tensor1(EML_DTYPE_F32, 9, x);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    const float *y = f.out.data;
    for (int i = 0; i < 9; i++)
        CHECK(y[i] == want[i] && signbit(y[i]) == signbit(want[i]));
    fx_deinit(&f);
}

EML_TEST(nan_propagates_through_activations)
{
    const char *ops[] = {"Relu", "LeakyRelu", "Elu", "Selu", "Celu", "HardSigmoid", "Sign",
                         "Sigmoid", "Softplus", "Shrink", "ThresholdedRelu", "HardSwish"};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        fixture f;
        fx_init(&f, ops[i], 17, 1);
        REQUIRE_OK(fx_prepare(&f), &f.diag);
        float x = NAN;
        eml_tensor t = scalar(EML_DTYPE_F32, &x);
        REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
        CHECK(f.out.rank == 0);
        if (!isnan(((float *)f.out.data)[0]))
            fprintf(stderr, "%s lost NaN\n", ops[i]);
        CHECK(isnan(((float *)f.out.data)[0]));
        fx_deinit(&f);
    }
}

EML_TEST(activations_stay_finite_at_extremes)
{
    const char *ops[] = {"Sigmoid", "Softplus"};
    const float x[4] = {-1000.0f, -100.0f, 100.0f, 1000.0f};
    const float sigmoid[4] = {0.0f, 3.7200760e-44f, 1.0f, 1.0f};
    const float softplus[4] = {0.0f, 3.7200760e-44f, 100.0f, 1000.0f};
    for (int k = 0; k < 2; k++) {
        fixture f;
        fx_init(&f, ops[k], 13, 1);
        REQUIRE_OK(fx_prepare(&f), &f.diag);
        eml_tensor t = tensor1(EML_DTYPE_F32, 4, x);
        REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
        const float *y = f.out.data;
        for (int i = 0; i < 4; i++)
            CHECK(close_to(y[i], k == 0 ? sigmoid[i] : softplus[i]));
        fx_deinit(&f);
    }
}

/* ---- attributes ---- */

static float run_one_f32(fixture *f, float x)
{
    eml_tensor t = scalar(EML_DTYPE_F32, &x);
    REQUIRE_OK(fx_run(f, &t, 1), &f->diag);
    return ((float *)f->out.data)[0];
}

EML_TEST(activation_attributes)
{
    fixture f;
    fx_init(&f, "Elu", 6, 1);
    fx_attr_f(&f, "alpha", 2.0f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(close_to(run_one_f32(&f, -1.0f), 2.0 * (exp(-1.0) - 1)));
    fx_deinit(&f);

    fx_init(&f, "Celu", 12, 1);
    fx_attr_f(&f, "alpha", 2.0f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(close_to(run_one_f32(&f, -1.0f), 2.0 * (exp(-0.5) - 1)));
    fx_deinit(&f);

    fx_init(&f, "LeakyRelu", 16, 1);
    fx_attr_f(&f, "alpha", 0.1f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(close_to(run_one_f32(&f, -3.0f), -0.3));
    fx_deinit(&f);

    fx_init(&f, "HardSigmoid", 6, 1);
    fx_attr_f(&f, "alpha", 0.5f);
    fx_attr_f(&f, "beta", 0.6f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(close_to(run_one_f32(&f, 0.5f), 0.85));
    CHECK(close_to(run_one_f32(&f, 1.0f), 1.0));
    fx_deinit(&f);

    fx_init(&f, "Selu", 6, 1);
    fx_attr_f(&f, "alpha", 2.0f);
    fx_attr_f(&f, "gamma", 3.0f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(close_to(run_one_f32(&f, -1.0f), 3.0 * (2.0 * exp(-1.0) - 2.0)));
    CHECK(close_to(run_one_f32(&f, 1.0f), 3.0));
    fx_deinit(&f);

    fx_init(&f, "ThresholdedRelu", 10, 1);
    fx_attr_f(&f, "alpha", 2.0f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(run_one_f32(&f, 2.0f) == 0.0f);
    CHECK(run_one_f32(&f, 2.5f) == 2.5f);
    fx_deinit(&f);

    /* test_shrink_soft: lambd 1.5, bias 1.5 */
    fx_init(&f, "Shrink", 9, 1);
    fx_attr_f(&f, "lambd", 1.5f);
    fx_attr_f(&f, "bias", 1.5f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(run_one_f32(&f, -2.0f) == -0.5f);
    CHECK(run_one_f32(&f, -1.0f) == 0.0f);
    CHECK(run_one_f32(&f, 2.0f) == 0.5f);
    fx_deinit(&f);
}

EML_TEST(selu_defaults_by_opset)
{
    fixture f;
    fx_init(&f, "Selu", 1, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    CHECK(close_to(run_one_f32(&f, -1.0f), 1.0507 * (1.6732 * exp(-1.0) - 1.6732)));
    fx_deinit(&f);
}

EML_TEST(isinf_isnan_not)
{
    const float x[5] = {-INFINITY, -1.0f, 0.0f, INFINITY, NAN};
    const struct {
        int pos, neg;
        bool want[5];
    } cases[] = {{1, 1, {1, 0, 0, 1, 0}}, {1, 0, {0, 0, 0, 1, 0}}, {0, 1, {1, 0, 0, 0, 0}}};
    for (int c = 0; c < 3; c++) {
        fixture f;
        fx_init(&f, "IsInf", 10, 1);
        fx_attr_i(&f, "detect_positive", cases[c].pos);
        fx_attr_i(&f, "detect_negative", cases[c].neg);
        REQUIRE_OK(fx_prepare(&f), &f.diag);
        eml_tensor t = tensor1(EML_DTYPE_F32, 5, x);
        REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
        CHECK(f.out.dtype == EML_DTYPE_BOOL);
        CHECK(memcmp(f.out.data, cases[c].want, 5) == 0);
        fx_deinit(&f);
    }

    fixture f;
    fx_init(&f, "IsNaN", 13, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const double xd[3] = {NAN, 1.0, INFINITY};
    eml_tensor t = tensor1(EML_DTYPE_F64, 3, xd);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    const bool nan_want[3] = {1, 0, 0};
    CHECK(f.out.dtype == EML_DTYPE_BOOL && memcmp(f.out.data, nan_want, 3) == 0);
    fx_deinit(&f);

    fx_init(&f, "Not", 1, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const bool b[4] = {1, 0, 0, 1}, not_want[4] = {0, 1, 1, 0};
    t = tensor1(EML_DTYPE_BOOL, 4, b);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    CHECK(f.out.dtype == EML_DTYPE_BOOL && memcmp(f.out.data, not_want, 4) == 0);
    fx_deinit(&f);
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
        fixture f;
        fx_init(&f, cases[c].op, 14, 1);
        REQUIRE_OK(fx_prepare(&f), &f.diag);
        eml_tensor t = tensor1(EML_DTYPE_I8, 5, x);
        REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
        CHECK(f.out.dtype == EML_DTYPE_I8);
        CHECK(memcmp(f.out.data, cases[c].want, 5) == 0);
        fx_deinit(&f);
    }

    fixture f;
    fx_init(&f, "Abs", 13, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const int64_t x64[3] = {INT64_MIN + 1, -3, 4};
    eml_tensor t = tensor1(EML_DTYPE_I64, 3, x64);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    const int64_t *y64 = f.out.data;
    CHECK(y64[0] == INT64_MAX && y64[1] == 3 && y64[2] == 4);
    fx_deinit(&f);

    fx_init(&f, "Sign", 13, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const uint8_t xu[3] = {0, 1, 255};
    t = tensor1(EML_DTYPE_U8, 3, xu);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    const uint8_t *yu = f.out.data;
    CHECK(yu[0] == 0 && yu[1] == 1 && yu[2] == 1);
    fx_deinit(&f);

    /* Shrink on int32: x ± bias, truncated toward zero */
    fx_init(&f, "Shrink", 9, 1);
    fx_attr_f(&f, "lambd", 1.0f);
    fx_attr_f(&f, "bias", 0.5f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const int32_t xi[4] = {-3, -1, 1, 3};
    t = tensor1(EML_DTYPE_I32, 4, xi);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    const int32_t *yi = f.out.data;
    CHECK(yi[0] == -2 && yi[1] == 0 && yi[2] == 0 && yi[3] == 2);
    fx_deinit(&f);
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
        fixture f;
        fx_init(&f, cases[c].op, 13, 1);
        REQUIRE_OK(fx_prepare(&f), &f.diag);
        int64_t buf = 0;
        eml_tensor t = scalar(cases[c].dt, &buf);
        CHECK_STATUS(fx_run(&f, &t, 1), EML_EUNSUPPORTED);
        CHECK(strstr(f.diag.message, "unsupported: ") != NULL);
        fx_deinit(&f);
    }
}

EML_TEST(attributes_refused)
{
    fixture f;
    fx_init(&f, "Relu", 14, 1);
    fx_attr_f(&f, "alpha", 1.0f);
    CHECK_STATUS(fx_prepare(&f), EML_EUNSUPPORTED);
    CHECK(strstr(f.diag.message, "attribute 'alpha'") != NULL);
    fx_deinit(&f);

    /* consumed_inputs belongs to the opset-1 forms only */
    fx_init(&f, "Relu", 1, 1);
    fx_attr_ints(&f, "consumed_inputs", 0);
    CHECK_STATUS(fx_prepare(&f), EML_OK);
    fx_deinit(&f);
    fx_init(&f, "Relu", 6, 1);
    fx_attr_ints(&f, "consumed_inputs", 0);
    CHECK_STATUS(fx_prepare(&f), EML_EUNSUPPORTED);
    fx_deinit(&f);

    fx_init(&f, "Celu", 12, 1);
    fx_attr_f(&f, "alpha", 0.0f);
    CHECK_STATUS(fx_prepare(&f), EML_EGRAPH);
    fx_deinit(&f);

    /* an attribute of the wrong type */
    fx_init(&f, "Elu", 6, 1);
    fx_attr_i(&f, "alpha", 1);
    CHECK_STATUS(fx_prepare(&f), EML_EGRAPH);
    fx_deinit(&f);
}

/* ---- many elements, split over a pool ---- */

EML_TEST(large_tensor_on_pool)
{
    eml_env_options o;
    eml_env_options_init(&o);
    o.n_threads = 4;
    eml_env *env;
    REQUIRE_OK(eml_env_create(&o, &env), NULL);
    fixture f;
    fx_init_env(&f, "Neg", 13, 1, env);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const int64_t n = 100003;
    float *x = malloc(sizeof(float) * (size_t)n), *y = malloc(sizeof(float) * (size_t)n);
    REQUIRE(x && y);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)i;
    eml_tensor t = tensor1(EML_DTYPE_F32, n, x);
    REQUIRE_OK(fx_run_pool(&f, &t, 1, y, env->pool), &f.diag);
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++)
        bad += y[i] != -(float)i;
    CHECK(bad == 0);
    free(x);
    free(y);
    fx_deinit(&f);
}

/* ---- Clip ---- */

EML_TEST(clip_attributes)
{
    const float x[5] = {-3.0f, -1.0f, 0.0f, 1.0f, 3.0f};
    fixture f;
    fx_init(&f, "Clip", 6, 1);
    fx_attr_f(&f, "min", -1.5f);
    fx_attr_f(&f, "max", 2.0f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    eml_tensor t = tensor1(EML_DTYPE_F32, 5, x);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    const float want[5] = {-1.5f, -1.0f, 0.0f, 1.0f, 2.0f};
    CHECK(memcmp(f.out.data, want, sizeof(want)) == 0);
    fx_deinit(&f);

    /* opset 6: an absent max defaults to float's largest value, which clips a double */
    fx_init(&f, "Clip", 6, 1);
    fx_attr_f(&f, "min", 0.0f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const double xd[2] = {-1.0, 1e300};
    t = tensor1(EML_DTYPE_F64, 2, xd);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    const double *yd = f.out.data;
    CHECK(yd[0] == 0.0 && yd[1] == (double)3.40282347e+38f);
    fx_deinit(&f);

    /* opset 1: no defaults, so an absent bound does not clip */
    fx_init(&f, "Clip", 1, 1);
    fx_attr_f(&f, "max", 0.5f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    t = tensor1(EML_DTYPE_F64, 2, xd);
    REQUIRE_OK(fx_run(&f, &t, 1), &f.diag);
    yd = f.out.data;
    CHECK(yd[0] == -1.0 && yd[1] == 0.5);
    fx_deinit(&f);
}

EML_TEST(clip_inputs)
{
    const float x[5] = {-3.0f, -1.0f, NAN, 1.0f, 3.0f};
    const float lo = -2.0f, hi = 0.5f;
    eml_tensor in[3] = {tensor1(EML_DTYPE_F32, 5, x), scalar(EML_DTYPE_F32, &lo),
                        scalar(EML_DTYPE_F32, &hi)};
    fixture f;
    fx_init(&f, "Clip", 13, 3);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    const float *y = f.out.data;
    CHECK(y[0] == -2.0f && y[1] == -1.0f && isnan(y[2]) && y[3] == 0.5f && y[4] == 0.5f);

    /* min only: max omitted (dtype UNDEFINED) */
    in[2].dtype = EML_DTYPE_UNDEFINED;
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    CHECK(y[0] == -2.0f && y[4] == 3.0f);

    /* max only, min given as an empty name */
    in[1].dtype = EML_DTYPE_UNDEFINED;
    in[2].dtype = EML_DTYPE_F32;
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    CHECK(y[0] == -3.0f && y[4] == 0.5f);

    /* min > max: everything becomes max */
    const float big = 5.0f;
    in[1] = scalar(EML_DTYPE_F32, &big);
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    CHECK(y[0] == 0.5f && y[3] == 0.5f && y[4] == 0.5f);

    /* no bounds at all: a copy */
    REQUIRE_OK(fx_run(&f, in, 1), &f.diag);
    CHECK(y[0] == -3.0f && y[4] == 3.0f);
    fx_deinit(&f);
}

EML_TEST(clip_integer_and_half)
{
    /* test_clip_default_int8_min: min 0 */
    const int8_t x[4] = {-128, -1, 0, 127};
    const int8_t lo = 0, hi = 100;
    eml_tensor in[3] = {tensor1(EML_DTYPE_I8, 4, x), scalar(EML_DTYPE_I8, &lo),
                        scalar(EML_DTYPE_I8, &hi)};
    fixture f;
    fx_init(&f, "Clip", 13, 3);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    const int8_t want[4] = {0, 0, 0, 100};
    CHECK(memcmp(f.out.data, want, 4) == 0);

    const uint64_t xu[2] = {1, UINT64_MAX}, hu = UINT64_MAX - 1;
    eml_tensor inu[3] = {tensor1(EML_DTYPE_U64, 2, xu), {0}, scalar(EML_DTYPE_U64, &hu)};
    REQUIRE_OK(fx_run(&f, inu, 3), &f.diag);
    const uint64_t *yu = f.out.data;
    CHECK(yu[0] == 1 && yu[1] == UINT64_MAX - 1);

    uint16_t xh[3], lh = eml_f32_to_f16(-1.0f), hh = eml_f32_to_f16(0.25f);
    xh[0] = eml_f32_to_f16(-4.0f);
    xh[1] = eml_f32_to_f16(0.125f);
    xh[2] = eml_f32_to_f16(4.0f);
    eml_tensor inh[3] = {tensor1(EML_DTYPE_F16, 3, xh), scalar(EML_DTYPE_F16, &lh),
                         scalar(EML_DTYPE_F16, &hh)};
    REQUIRE_OK(fx_run(&f, inh, 3), &f.diag);
    const uint16_t *yh = f.out.data;
    CHECK(eml_f16_to_f32(yh[0]) == -1.0f && eml_f16_to_f32(yh[1]) == 0.125f &&
          eml_f16_to_f32(yh[2]) == 0.25f);
    fx_deinit(&f);
}

EML_TEST(clip_refusals)
{
    const float x[2] = {0, 1};
    const double lo_d = 0;
    const float lo2[2] = {0, 1};
    fixture f;
    fx_init(&f, "Clip", 13, 2);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    eml_tensor in[2] = {tensor1(EML_DTYPE_F32, 2, x), scalar(EML_DTYPE_F64, &lo_d)};
    CHECK_STATUS(fx_run(&f, in, 2), EML_ETYPE);
    in[1] = tensor1(EML_DTYPE_F32, 2, lo2);
    CHECK_STATUS(fx_run(&f, in, 2), EML_ESHAPE);
    fx_deinit(&f);

    /* attributes after opset 11 are unknown */
    fx_init(&f, "Clip", 11, 1);
    fx_attr_f(&f, "min", 0.0f);
    CHECK_STATUS(fx_prepare(&f), EML_EUNSUPPORTED);
    fx_deinit(&f);

    /* integers need opset 12's typed bounds: float attributes cannot clip them */
    fx_init(&f, "Clip", 6, 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    const int32_t xi = 1;
    eml_tensor ti = scalar(EML_DTYPE_I32, &xi);
    CHECK_STATUS(fx_run(&f, &ti, 1), EML_EUNSUPPORTED);
    fx_deinit(&f);

    /* inputs before opset 11 are not min/max */
    fx_init(&f, "Clip", 6, 2);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    in[1] = scalar(EML_DTYPE_F32, &x[0]);
    CHECK_STATUS(fx_run(&f, in, 2), EML_EGRAPH);
    fx_deinit(&f);
}
