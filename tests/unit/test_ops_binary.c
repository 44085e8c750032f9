/* Unit tests of the elementwise family: binary ops, PRelu, Max/Min/Mean/Sum, Where and Expand,
 * run through their prepare, infer and reference kernel on small hand-made tensors. */
#include "kernels/ref/binary.h"
#include "op_test_util.h"

/* ---- one node, its params, and a prepare → infer → kernel run (op_test_util.h) ---- */

static void fx_init(op_case *f, const char *op, int32_t opset, int32_t n_inputs)
{
    op_begin(f, op, opset, n_inputs, 1);
    /* called directly, not through the op table, so that the linker keeps them */
    if (strcmp(op, "Max") == 0 || strcmp(op, "Min") == 0 || strcmp(op, "Sum") == 0 ||
        strcmp(op, "Mean") == 0) {
        f->fns.prepare = eml__variadic_prepare;
        f->fns.infer = eml__variadic_infer;
        f->fns.kernel = eml__ref_variadic;
    } else if (strcmp(op, "Where") == 0) {
        f->fns.prepare = eml__where_prepare;
        f->fns.infer = eml__where_infer;
        f->fns.kernel = eml__ref_where;
    } else if (strcmp(op, "Expand") == 0) {
        f->fns.prepare = eml__expand_prepare;
        f->fns.infer = eml__expand_infer;
        f->fns.kernel = eml__ref_expand;
    } else {
        f->fns.prepare = eml__binary_prepare;
        f->fns.infer = eml__binary_infer;
        f->fns.kernel = eml__ref_binary;
    }
}

/* op_infer; *out is a copy of the inferred output. */
static eml_status fx_infer(op_case *f, const eml_tensor *in, int32_t n_in, eml_tensor *out)
{
    eml_status st = op_infer(f, in, n_in);
    *out = f->out[0];
    return st;
}

/* op_run; on success out->data is the caller's to free. */
static eml_status fx_run(op_case *f, const eml_tensor *in, int32_t n_in, eml_tensor *out,
                         eml_pool *pool)
{
    eml_status st = op_run(f, in, n_in, pool);
    *out = f->out[0];
    if (st == EML_OK)
        f->out[0].data = NULL; /* taken by the caller */
    return st;
}

static bool same_shape(const eml_tensor *t, int rank, const int64_t *dims)
{
    if (t->rank != rank)
        return false;
    for (int d = 0; d < rank; d++) {
        if (t->dims[d] != dims[d])
            return false;
    }
    return true;
}

/* Runs a two-input op and returns its output (data malloc'd); fails the case on error. */
static eml_tensor run2(const char *op, int32_t opset, eml_tensor a, eml_tensor b)
{
    op_case f;
    fx_init(&f, op, opset, 2);
    eml_tensor in[2] = {a, b}, out;
    REQUIRE_OK(fx_run(&f, in, 2, &out, NULL), &f.diag);
    op_end(&f);
    return out;
}

/* ---- arithmetic ---- */

EML_TEST(add_f32_broadcast_last_dim)
{
    float a[2 * 3], b[3] = {10, 20, 30};
    for (int i = 0; i < 6; i++)
        a[i] = (float)i;
    eml_tensor out = run2("Add", 14, tens(EML_DTYPE_F32, a, 2, (int64_t[]){2, 3}),
                          tens(EML_DTYPE_F32, b, 1, (int64_t[]){3}));
    CHECK(out.dtype == EML_DTYPE_F32 && same_shape(&out, 2, (int64_t[]){2, 3}));
    const float *y = out.data;
    for (int i = 0; i < 6; i++)
        CHECK(y[i] == (float)i + b[i % 3]);
    free(out.data);
}

/* Random shapes with random size-1 dims against a naive index computation, large enough that
 * the pool splits the work (and partial rows start mid-row). */
EML_TEST(broadcast_random_shapes_match_naive)
{
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    for (int iter = 0; iter < 60; iter++) {
        int rank = 1 + (int)(eml_test_rand() % 5);
        int64_t od[EML_MAX_RANK], ad[EML_MAX_RANK], bd[EML_MAX_RANK];
        int ra = 1 + (int)(eml_test_rand() % (unsigned)rank), rb = rank;
        bool big = iter % 10 == 0;
        for (int d = 0; d < rank; d++)
            od[d] = big ? (d == rank - 1 ? 70001 : 1 + (int64_t)(eml_test_rand() % 2))
                        : 1 + (int64_t)(eml_test_rand() % 5);
        for (int d = 0; d < rank; d++) {
            bd[d] = eml_test_rand() % 3 == 0 ? 1 : od[d];
            if (d >= rank - ra)
                ad[d - (rank - ra)] = eml_test_rand() % 3 == 0 ? 1 : od[d];
        }
        /* where a broadcasts a dim that b also broadcasts, the output dim is 1 */
        for (int d = 0; d < rank; d++) {
            int64_t av = d >= rank - ra ? ad[d - (rank - ra)] : 1;
            od[d] = EML_MAX(av, bd[d]);
        }
        int64_t na = eml__shape_count(ad, ra), nb = eml__shape_count(bd, rb);
        int32_t *a = malloc(sizeof(int32_t) * (size_t)na);
        int32_t *b = malloc(sizeof(int32_t) * (size_t)nb);
        for (int64_t i = 0; i < na; i++)
            a[i] = (int32_t)(eml_test_rand() % 1000);
        for (int64_t i = 0; i < nb; i++)
            b[i] = (int32_t)(eml_test_rand() % 1000);
        op_case f;
        fx_init(&f, "Sub", 14, 2);
        eml_tensor in[2] = {tens(EML_DTYPE_I32, a, ra, ad), tens(EML_DTYPE_I32, b, rb, bd)};
        eml_tensor out;
        REQUIRE_OK(fx_run(&f, in, 2, &out, env->pool), &f.diag);
        REQUIRE(same_shape(&out, rank, od));
        int64_t n = eml__shape_count(od, rank), idx[EML_MAX_RANK];
        int bad = 0;
        for (int64_t i = 0; i < n && bad < 3; i++) {
            int64_t rem = i;
            for (int d = rank - 1; d >= 0; d--) {
                idx[d] = rem % od[d];
                rem /= od[d];
            }
            int64_t ia = 0, ib = 0;
            for (int d = 0; d < rank; d++) {
                ib = ib * bd[d] + (bd[d] == 1 ? 0 : idx[d]);
                if (d >= rank - ra) {
                    int64_t dim = ad[d - (rank - ra)];
                    ia = ia * dim + (dim == 1 ? 0 : idx[d]);
                }
            }
            if (((int32_t *)out.data)[i] != a[ia] - b[ib]) {
                fprintf(stderr, "iter %d element %lld: %d, expected %d\n", iter, (long long)i,
                        ((int32_t *)out.data)[i], a[ia] - b[ib]);
                bad++;
            }
        }
        CHECK(bad == 0);
        free(out.data);
        free(a);
        free(b);
        op_end(&f);
    }
    eml_env_destroy(env);
}

EML_TEST(integer_division_truncates_and_by_zero_is_zero)
{
    int32_t a[5] = {7, -7, 7, INT32_MIN, 5}, b[5] = {2, 2, 0, -1, -3};
    eml_tensor out = run2("Div", 14, tens(EML_DTYPE_I32, a, 1, (int64_t[]){5}),
                          tens(EML_DTYPE_I32, b, 1, (int64_t[]){5}));
    const int32_t *y = out.data;
    CHECK(y[0] == 3 && y[1] == -3 && y[2] == 0 && y[3] == INT32_MIN && y[4] == -1);
    free(out.data);
    int64_t c[2] = {INT64_MIN, 9}, d[2] = {-1, 0};
    out = run2("Div", 14, tens(EML_DTYPE_I64, c, 1, (int64_t[]){2}),
               tens(EML_DTYPE_I64, d, 1, (int64_t[]){2}));
    CHECK(((int64_t *)out.data)[0] == INT64_MIN && ((int64_t *)out.data)[1] == 0);
    free(out.data);
}

EML_TEST(integer_add_mul_wrap)
{
    int64_t a[2] = {INT64_MAX, INT64_MIN}, b[2] = {1, -1};
    eml_tensor out = run2("Add", 14, tens(EML_DTYPE_I64, a, 1, (int64_t[]){2}),
                          tens(EML_DTYPE_I64, b, 1, (int64_t[]){2}));
    CHECK(((int64_t *)out.data)[0] == INT64_MIN && ((int64_t *)out.data)[1] == INT64_MAX);
    free(out.data);
    uint8_t c[2] = {200, 3}, d[2] = {2, 5};
    out = run2("Mul", 14, tens(EML_DTYPE_U8, c, 1, (int64_t[]){2}),
               tens(EML_DTYPE_U8, d, 1, (int64_t[]){2}));
    CHECK(((uint8_t *)out.data)[0] == 144 && ((uint8_t *)out.data)[1] == 15);
    free(out.data);
}

EML_TEST(float16_add_rounds_through_float)
{
    uint16_t a[2] = {eml_f32_to_f16(1.5f), eml_f32_to_f16(-2.0f)};
    uint16_t b[2] = {eml_f32_to_f16(0.25f), eml_f32_to_f16(0.5f)};
    eml_tensor out = run2("Add", 14, tens(EML_DTYPE_F16, a, 1, (int64_t[]){2}),
                          tens(EML_DTYPE_F16, b, 1, (int64_t[]){2}));
    CHECK(eml_f16_to_f32(((uint16_t *)out.data)[0]) == 1.75f);
    CHECK(eml_f16_to_f32(((uint16_t *)out.data)[1]) == -1.5f);
    free(out.data);
}

/* test_mod_mixed_sign_* data of the ONNX backend tests */
EML_TEST(mod_sign_of_divisor_and_fmod)
{
    int32_t a[6] = {-4, 7, 5, 4, -7, 8}, b[6] = {2, -3, 8, -2, 3, 5};
    eml_tensor out = run2("Mod", 13, tens(EML_DTYPE_I32, a, 1, (int64_t[]){6}),
                          tens(EML_DTYPE_I32, b, 1, (int64_t[]){6}));
    const int32_t want[6] = {0, -2, 5, 0, 2, 3};
    CHECK(memcmp(out.data, want, sizeof(want)) == 0);
    free(out.data);

    op_case f;
    fx_init(&f, "Mod", 13, 2);
    attr_int(&f, "fmod", 1);
    int64_t c[7] = {-4, 7, 5, 4, -7, 8, INT64_MIN}, d[7] = {2, -3, 8, -2, 3, 5, -1};
    eml_tensor in[2] = {tens(EML_DTYPE_I64, c, 1, (int64_t[]){7}),
                        tens(EML_DTYPE_I64, d, 1, (int64_t[]){7})};
    REQUIRE_OK(fx_run(&f, in, 2, &out, NULL), &f.diag);
    const int64_t want_f[7] = {0, 1, 5, 0, -1, 3, 0};
    CHECK(memcmp(out.data, want_f, sizeof(want_f)) == 0);
    free(out.data);
    float x[3] = {-4.3f, 7.2f, 1.0f}, y[3] = {2.1f, -3.4f, 0.0f};
    in[0] = tens(EML_DTYPE_F32, x, 1, (int64_t[]){3});
    in[1] = tens(EML_DTYPE_F32, y, 1, (int64_t[]){3});
    REQUIRE_OK(fx_run(&f, in, 2, &out, NULL), &f.diag);
    const float *z = out.data;
    CHECK(fabsf(z[0] - -0.1f) < 1e-5f && fabsf(z[1] - 0.4f) < 1e-5f && isnan(z[2]));
    free(out.data);
    op_end(&f);

    uint8_t e[2] = {7, 7}, g[2] = {0, 3};
    out = run2("Mod", 13, tens(EML_DTYPE_U8, e, 1, (int64_t[]){2}),
               tens(EML_DTYPE_U8, g, 1, (int64_t[]){2}));
    CHECK(((uint8_t *)out.data)[0] == 0 && ((uint8_t *)out.data)[1] == 1);
    free(out.data);
}

EML_TEST(mod_bad_fmod_refused)
{
    op_case f;
    fx_init(&f, "Mod", 13, 2);
    attr_int(&f, "fmod", 2);
    CHECK_STATUS(op_prepare(&f), EML_EGRAPH);
    op_end(&f);
}

EML_TEST(pow_mixed_types)
{
    int32_t base[3] = {1, 2, 3};
    float ef[3] = {4.0f, 5.0f, 6.0f};
    eml_tensor out = run2("Pow", 15, tens(EML_DTYPE_I32, base, 1, (int64_t[]){3}),
                          tens(EML_DTYPE_F32, ef, 1, (int64_t[]){3}));
    CHECK(out.dtype == EML_DTYPE_I32);
    CHECK(((int32_t *)out.data)[0] == 1 && ((int32_t *)out.data)[1] == 32 &&
          ((int32_t *)out.data)[2] == 729);
    free(out.data);

    float fb[3] = {2.0f, -2.0f, 4.0f};
    int64_t ei[3] = {10, 3, -1};
    out = run2("Pow", 15, tens(EML_DTYPE_F32, fb, 1, (int64_t[]){3}),
               tens(EML_DTYPE_I64, ei, 1, (int64_t[]){3}));
    CHECK(out.dtype == EML_DTYPE_F32);
    CHECK(((float *)out.data)[0] == 1024.0f && ((float *)out.data)[1] == -8.0f &&
          ((float *)out.data)[2] == 0.25f);
    free(out.data);

    int64_t ib[4] = {3, -1, 2, 2}, ie[4] = {40, -3, -2, 64};
    out = run2("Pow", 15, tens(EML_DTYPE_I64, ib, 1, (int64_t[]){4}),
               tens(EML_DTYPE_I64, ie, 1, (int64_t[]){4}));
    const int64_t *y = out.data;
    CHECK(y[0] == (int64_t)12157665459056928801ULL && y[1] == -1 && y[2] == 0 && y[3] == 0);
    free(out.data);

    /* a float exponent whose result leaves int32's range saturates instead of being undefined */
    int32_t big[1] = {10};
    float e20[1] = {20.0f};
    out = run2("Pow", 15, tens(EML_DTYPE_I32, big, 1, (int64_t[]){1}),
               tens(EML_DTYPE_F32, e20, 1, (int64_t[]){1}));
    CHECK(((int32_t *)out.data)[0] == INT32_MAX);
    free(out.data);
}

EML_TEST(pow_bool_or_uint8_base_refused)
{
    op_case f;
    fx_init(&f, "Pow", 15, 2);
    REQUIRE_OK(op_prepare(&f), &f.diag);
    eml_tensor in[2] = {tens(EML_DTYPE_U8, NULL, 1, (int64_t[]){3}),
                        tens(EML_DTYPE_F32, NULL, 1, (int64_t[]){3})}, out;
    CHECK_STATUS(fx_infer(&f, in, 2, &out), EML_EUNSUPPORTED);
    in[0].dtype = EML_DTYPE_F32;
    in[1].dtype = EML_DTYPE_BOOL;
    CHECK_STATUS(fx_infer(&f, in, 2, &out), EML_EUNSUPPORTED);
    op_end(&f);
}

/* ---- comparison and logic ---- */

EML_TEST(comparisons_give_bool)
{
    float a[4] = {1, 2, 3, NAN}, b[1] = {2};
    const char *ops[5] = {"Greater", "GreaterOrEqual", "Less", "LessOrEqual", "Equal"};
    const uint8_t want[5][4] = {{0, 0, 1, 0}, {0, 1, 1, 0}, {1, 0, 0, 0}, {1, 1, 0, 0},
                                {0, 1, 0, 0}};
    for (int k = 0; k < 5; k++) {
        eml_tensor out = run2(ops[k], 16, tens(EML_DTYPE_F32, a, 1, (int64_t[]){4}),
                              tens(EML_DTYPE_F32, b, 0, NULL));
        CHECK(out.dtype == EML_DTYPE_BOOL && same_shape(&out, 1, (int64_t[]){4}));
        CHECK(memcmp(out.data, want[k], 4) == 0);
        free(out.data);
    }
    uint8_t p[2] = {1, 0}, q[2] = {1, 0};
    eml_tensor out = run2("Equal", 13, tens(EML_DTYPE_BOOL, p, 1, (int64_t[]){2}),
                          tens(EML_DTYPE_BOOL, q, 1, (int64_t[]){2}));
    CHECK(((uint8_t *)out.data)[0] == 1 && ((uint8_t *)out.data)[1] == 1);
    free(out.data);
}

EML_TEST(logic_ops_and_bool_bytes_other_than_one)
{
    /* a bool byte of 2 from a file counts as true and the result is 0 or 1 */
    uint8_t a[4] = {0, 0, 2, 1}, b[4] = {0, 1, 0, 2};
    const char *ops[3] = {"And", "Or", "Xor"};
    const uint8_t want[3][4] = {{0, 0, 0, 1}, {0, 1, 1, 1}, {0, 1, 1, 0}};
    for (int k = 0; k < 3; k++) {
        eml_tensor out = run2(ops[k], 7, tens(EML_DTYPE_BOOL, a, 1, (int64_t[]){4}),
                              tens(EML_DTYPE_BOOL, b, 1, (int64_t[]){4}));
        CHECK(memcmp(out.data, want[k], 4) == 0);
        free(out.data);
    }
}

EML_TEST(wrong_types_refused)
{
    op_case f;
    fx_init(&f, "And", 7, 2);
    REQUIRE_OK(op_prepare(&f), &f.diag);
    eml_tensor in[2] = {tens(EML_DTYPE_F32, NULL, 1, (int64_t[]){3}),
                        tens(EML_DTYPE_F32, NULL, 1, (int64_t[]){3})}, out;
    CHECK_STATUS(fx_infer(&f, in, 2, &out), EML_EUNSUPPORTED);
    CHECK(strstr(f.diag.message, "unsupported: And") != NULL);
    op_end(&f);

    fx_init(&f, "Add", 14, 2);
    REQUIRE_OK(op_prepare(&f), &f.diag);
    in[1].dtype = EML_DTYPE_F64;
    CHECK_STATUS(fx_infer(&f, in, 2, &out), EML_ETYPE);
    in[1].dtype = EML_DTYPE_F32;
    in[1].dims[0] = 4;
    CHECK_STATUS(fx_infer(&f, in, 2, &out), EML_ESHAPE);
    op_end(&f);
}

/* ---- opset < 7 broadcasting ---- */

EML_TEST(legacy_broadcast_with_axis)
{
    double a[6] = {1, 2, 3, 4, 5, 6}, b[2] = {10, 20};
    op_case f;
    fx_init(&f, "Add", 6, 2);
    attr_int(&f, "broadcast", 1);
    attr_int(&f, "axis", 0);
    eml_tensor in[2] = {tens(EML_DTYPE_F64, a, 2, (int64_t[]){2, 3}),
                        tens(EML_DTYPE_F64, b, 1, (int64_t[]){2})}, out;
    REQUIRE_OK(fx_run(&f, in, 2, &out, NULL), &f.diag);
    CHECK(same_shape(&out, 2, (int64_t[]){2, 3}));
    const double want[6] = {11, 12, 13, 24, 25, 26};
    CHECK(memcmp(out.data, want, sizeof(want)) == 0);
    free(out.data);
    /* B may not be larger than A once broadcast=1 */
    in[0] = tens(EML_DTYPE_F64, b, 1, (int64_t[]){2});
    in[1] = tens(EML_DTYPE_F64, a, 2, (int64_t[]){2, 3});
    CHECK_STATUS(fx_infer(&f, in, 2, &out), EML_ESHAPE);
    op_end(&f);
}

EML_TEST(legacy_attributes_checked)
{
    op_case f;
    fx_init(&f, "Mul", 6, 2);
    attr_int(&f, "broadcast", 3);
    CHECK_STATUS(op_prepare(&f), EML_EGRAPH);
    op_end(&f);
    fx_init(&f, "Mul", 7, 2);
    attr_int(&f, "broadcast", 1);
    CHECK_STATUS(op_prepare(&f), EML_EUNSUPPORTED);
    op_end(&f);
}

EML_TEST(prelu_channel_legacy_and_numpy)
{
    /* x [1,2,2], slope [2]: per channel (dim 1) before opset 7, per last dim since */
    float x[4] = {-1, -2, -3, 4}, s[2] = {0.5f, 0.25f};
    eml_tensor out = run2("PRelu", 6, tens(EML_DTYPE_F32, x, 3, (int64_t[]){1, 2, 2}),
                          tens(EML_DTYPE_F32, s, 1, (int64_t[]){2}));
    const float want6[4] = {-0.5f, -1.0f, -0.75f, 4};
    CHECK(memcmp(out.data, want6, sizeof(want6)) == 0);
    free(out.data);
    out = run2("PRelu", 16, tens(EML_DTYPE_F32, x, 3, (int64_t[]){1, 2, 2}),
               tens(EML_DTYPE_F32, s, 1, (int64_t[]){2}));
    const float want16[4] = {-0.5f, -0.5f, -1.5f, 4};
    CHECK(memcmp(out.data, want16, sizeof(want16)) == 0);
    free(out.data);

    op_case f;
    fx_init(&f, "PRelu", 16, 2);
    REQUIRE_OK(op_prepare(&f), &f.diag);
    eml_tensor in[2] = {tens(EML_DTYPE_F32, x, 1, (int64_t[]){1}),
                        tens(EML_DTYPE_F32, s, 1, (int64_t[]){2})};
    CHECK_STATUS(fx_infer(&f, in, 2, &out), EML_ESHAPE); /* slope may not grow X */
    op_end(&f);
}

/* ---- Max, Min, Sum, Mean ---- */

static eml_tensor run_n(const char *op, int32_t opset, eml_tensor *in, int32_t n)
{
    op_case f;
    fx_init(&f, op, opset, n);
    eml_tensor out;
    REQUIRE_OK(fx_run(&f, in, n, &out, NULL), &f.diag);
    op_end(&f);
    return out;
}

EML_TEST(variadic_fold_with_broadcast)
{
    float a[3] = {3, 2, 1}, b[1] = {1.5f}, c[6] = {0, 5, 0, NAN, 0, 0};
    eml_tensor in[3] = {tens(EML_DTYPE_F32, a, 1, (int64_t[]){3}),
                        tens(EML_DTYPE_F32, b, 0, NULL),
                        tens(EML_DTYPE_F32, c, 2, (int64_t[]){2, 3})};
    eml_tensor out = run_n("Max", 13, in, 3);
    CHECK(same_shape(&out, 2, (int64_t[]){2, 3}));
    const float *y = out.data;
    CHECK(y[0] == 3 && y[1] == 5 && y[2] == 1.5f && isnan(y[3]) && y[4] == 2 && y[5] == 1.5f);
    free(out.data);
    out = run_n("Min", 13, in, 3);
    y = out.data;
    CHECK(y[0] == 0 && y[1] == 1.5f && y[2] == 0 && isnan(y[3]) && y[4] == 0 && y[5] == 0);
    free(out.data);
    out = run_n("Sum", 13, in, 2);
    y = out.data;
    CHECK(y[0] == 4.5f && y[1] == 3.5f && y[2] == 2.5f);
    free(out.data);
    out = run_n("Mean", 13, in, 3);
    y = out.data;
    CHECK(fabsf(y[0] - 1.5f) < 1e-6f && fabsf(y[1] - 17.0f / 6) < 1e-6f && isnan(y[3]));
    free(out.data);
    out = run_n("Sum", 13, in, 1);
    CHECK(same_shape(&out, 1, (int64_t[]){3}) && memcmp(out.data, a, sizeof(a)) == 0);
    free(out.data);
    int16_t i1[2] = {-5, 7}, i2[2] = {3, -9};
    eml_tensor ii[2] = {tens(EML_DTYPE_I16, i1, 1, (int64_t[]){2}),
                        tens(EML_DTYPE_I16, i2, 1, (int64_t[]){2})};
    out = run_n("Max", 13, ii, 2);
    CHECK(((int16_t *)out.data)[0] == 3 && ((int16_t *)out.data)[1] == 7);
    free(out.data);
}

EML_TEST(variadic_types_checked)
{
    op_case f;
    fx_init(&f, "Mean", 13, 2);
    REQUIRE_OK(op_prepare(&f), &f.diag);
    eml_tensor in[2] = {tens(EML_DTYPE_I32, NULL, 1, (int64_t[]){3}),
                        tens(EML_DTYPE_I32, NULL, 1, (int64_t[]){3})}, out;
    CHECK_STATUS(fx_infer(&f, in, 2, &out), EML_EUNSUPPORTED);
    in[0].dtype = in[1].dtype = EML_DTYPE_F32;
    in[1].dims[0] = 2;
    CHECK_STATUS(fx_infer(&f, in, 2, &out), EML_ESHAPE);
    in[1].dims[0] = 3;
    in[1].dtype = EML_DTYPE_F16;
    CHECK_STATUS(fx_infer(&f, in, 2, &out), EML_ETYPE);
    op_end(&f);
}

/* ---- Where and Expand ---- */

EML_TEST(where_three_way_broadcast)
{
    uint8_t c[2] = {1, 0};
    int64_t x[2] = {1, 2}, y[1] = {-7};
    op_case f;
    fx_init(&f, "Where", 16, 3);
    eml_tensor in[3] = {tens(EML_DTYPE_BOOL, c, 2, (int64_t[]){1, 2}),
                        tens(EML_DTYPE_I64, x, 2, (int64_t[]){2, 1}),
                        tens(EML_DTYPE_I64, y, 0, NULL)}, out;
    REQUIRE_OK(fx_run(&f, in, 3, &out, NULL), &f.diag);
    CHECK(out.dtype == EML_DTYPE_I64 && same_shape(&out, 2, (int64_t[]){2, 2}));
    const int64_t want[4] = {1, -7, 2, -7};
    CHECK(memcmp(out.data, want, sizeof(want)) == 0);
    free(out.data);
    in[0].dtype = EML_DTYPE_I32;
    CHECK_STATUS(fx_infer(&f, in, 3, &out), EML_EUNSUPPORTED);
    op_end(&f);
}

EML_TEST(expand_needs_shape_data)
{
    float x[3] = {1, 2, 3};
    int64_t shape[3] = {2, 1, 6};
    op_case f;
    fx_init(&f, "Expand", 13, 2);
    eml_tensor in[2] = {tens(EML_DTYPE_F32, x, 2, (int64_t[]){3, 1}),
                        tens(EML_DTYPE_I64, NULL, 1, (int64_t[]){3})}, out;
    REQUIRE_OK(op_prepare(&f), &f.diag);
    CHECK_STATUS(fx_infer(&f, in, 2, &out), EML_EDYNAMIC);
    CHECK(out.dtype == EML_DTYPE_F32);
    in[1].data = shape;
    REQUIRE_OK(fx_run(&f, in, 2, &out, NULL), &f.diag);
    CHECK(same_shape(&out, 3, (int64_t[]){2, 3, 6}));
    const float *y = out.data;
    for (int i = 0; i < 36; i++)
        CHECK(y[i] == x[(i / 6) % 3]);
    free(out.data);
    /* a shape smaller than the input keeps the input's dims (unlike numpy.broadcast_to) */
    int64_t small[1] = {1};
    in[1] = tens(EML_DTYPE_I64, small, 1, (int64_t[]){1});
    REQUIRE_OK(fx_infer(&f, in, 2, &out), &f.diag);
    CHECK(same_shape(&out, 2, (int64_t[]){3, 1}));
    int64_t neg[2] = {-1, 2};
    in[1] = tens(EML_DTYPE_I64, neg, 1, (int64_t[]){2});
    CHECK_STATUS(fx_infer(&f, in, 2, &out), EML_ESHAPE);
    int64_t bad[2] = {4, 2};
    in[1].data = bad;
    CHECK_STATUS(fx_infer(&f, in, 2, &out), EML_ESHAPE);
    op_end(&f);
}
