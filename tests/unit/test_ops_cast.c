/* Unit tests of Cast: attribute forms, refusals, and the conversion rules between dtypes. */
#include <math.h>
#include <string.h>

#include "graph/graph.h"
#include "harness.h"
#include "kernels/ref/cast.h"

typedef struct fixture {
    eml_env *env;
    eml_graph *g;
    eml_node *node;
    _Alignas(64) unsigned char params[EML_PARAMS_MAX];
    eml_diag diag;
    int32_t opset;
} fixture;

static void fx_init(fixture *f, int32_t opset)
{
    memset(f, 0, sizeof(*f));
    REQUIRE(eml_env_create(NULL, &f->env) == EML_OK);
    REQUIRE(eml__graph_create(f->env, NULL, &f->g) == EML_OK);
    REQUIRE(eml__graph_add_node(f->g, "c0", "Cast", "", 1, 1, 1, &f->node) == EML_OK);
    f->node->attrs[0].name = eml__strdup(f->env, "to");
    f->opset = opset;
    eml_diag_init(&f->diag);
}

static void fx_deinit(fixture *f)
{
    eml_graph_destroy(f->g);
    eml_env_destroy(f->env);
}

static eml_status fx_prepare_to(fixture *f, int64_t to)
{
    f->node->attrs[0].type = EML_ATTR_INT;
    f->node->attrs[0].i = to;
    memset(f->params, 0, sizeof(f->params));
    eml_prepare_ctx pc = {f->node, EML_OP_Cast, f->opset, f->params, &f->diag};
    return eml__cast_prepare(&pc);
}

/* Casts n elements of `from` to `to` through prepare, infer and the kernel. */
static void cast(const void *src, eml_dtype from, void *dst, eml_dtype to, int64_t n)
{
    fixture f;
    fx_init(&f, 13);
    REQUIRE_OK(fx_prepare_to(&f, to), &f.diag);
    eml_tensor in = {.dtype = from, .rank = 1, .dims = {n}, .data = (void *)src}, out;
    memset(&out, 0, sizeof(out));
    eml_infer_ctx ic = {.params = f.params, .op = EML_OP_Cast, .opset = 13, .node_name = "c0",
                        .inputs = &in, .n_inputs = 1, .outputs = &out, .n_outputs = 1,
                        .diag = &f.diag};
    REQUIRE_OK(eml__cast_infer(&ic), &f.diag);
    REQUIRE(out.dtype == to && out.rank == 1 && out.dims[0] == n);
    out.data = dst;
    eml_kernel_ctx kc = {.params = f.params, .inputs = &in, .n_inputs = 1, .outputs = &out,
                         .n_outputs = 1, .diag = &f.diag};
    REQUIRE_OK(eml__ref_cast(&kc), &f.diag);
    fx_deinit(&f);
}

EML_TEST(float_to_int_truncates_and_saturates)
{
    float x[8] = {1.9f, -1.9f, 300.0f, -300.0f, NAN, INFINITY, -INFINITY, 127.5f};
    int8_t y[8];
    cast(x, EML_DTYPE_F32, y, EML_DTYPE_I8, 8);
    const int8_t want[8] = {1, -1, 127, -128, 0, 127, -128, 127};
    CHECK(memcmp(y, want, sizeof(want)) == 0);
    double d[4] = {-0.5, -3.0, 1e30, 4294967295.9};
    uint32_t u[4];
    cast(d, EML_DTYPE_F64, u, EML_DTYPE_U32, 4);
    CHECK(u[0] == 0 && u[1] == 0 && u[2] == UINT32_MAX && u[3] == UINT32_MAX);
    double e[3] = {9.3e18, -9.3e18, -9.2e18};
    int64_t v[3];
    cast(e, EML_DTYPE_F64, v, EML_DTYPE_I64, 3);
    CHECK(v[0] == INT64_MAX && v[1] == INT64_MIN && v[2] == -9200000000000000000LL);
}

EML_TEST(int_to_int_wraps_and_to_float_is_exact)
{
    int32_t x[4] = {300, -1, 65535, INT32_MIN};
    uint8_t y[4];
    cast(x, EML_DTYPE_I32, y, EML_DTYPE_U8, 4);
    CHECK(y[0] == 44 && y[1] == 255 && y[2] == 255 && y[3] == 0);
    int64_t big[2] = {(int64_t)1 << 53, -((int64_t)1 << 53) - 1};
    double d[2];
    cast(big, EML_DTYPE_I64, d, EML_DTYPE_F64, 2);
    CHECK(d[0] == 9007199254740992.0 && d[1] == -9007199254740992.0);
    uint64_t u[1] = {UINT64_MAX};
    float f[1];
    cast(u, EML_DTYPE_U64, f, EML_DTYPE_F32, 1);
    CHECK(f[0] == 18446744073709551616.0f);
    int64_t same[2] = {INT64_MIN, 5}, out[2];
    cast(same, EML_DTYPE_I64, out, EML_DTYPE_I64, 2);
    CHECK(memcmp(same, out, sizeof(out)) == 0);
}

EML_TEST(bool_in_and_out)
{
    float x[4] = {0.0f, -0.0f, 0.25f, NAN};
    uint8_t b[4];
    cast(x, EML_DTYPE_F32, b, EML_DTYPE_BOOL, 4);
    CHECK(b[0] == 0 && b[1] == 0 && b[2] == 1 && b[3] == 1);
    /* a bool byte of 7 from a file is true */
    uint8_t in[3] = {0, 1, 7}, norm[3];
    int32_t i[3];
    cast(in, EML_DTYPE_BOOL, i, EML_DTYPE_I32, 3);
    CHECK(i[0] == 0 && i[1] == 1 && i[2] == 1);
    cast(in, EML_DTYPE_BOOL, norm, EML_DTYPE_BOOL, 3);
    CHECK(norm[0] == 0 && norm[1] == 1 && norm[2] == 1);
}

/* test_cast_FLOAT_to_BFLOAT16's expected values are the upper halves of the float bits */
EML_TEST(bfloat16_truncates_float16_rounds)
{
    float x[4] = {0.47892547f, 0.81910545f, NAN, -INFINITY};
    uint16_t b[4];
    cast(x, EML_DTYPE_F32, b, EML_DTYPE_BF16, 4);
    CHECK(b[0] == 16117 && b[1] == 16209 && b[2] == 32704 && b[3] == 65408);
    float back[4];
    cast(b, EML_DTYPE_BF16, back, EML_DTYPE_F32, 4);
    CHECK(back[0] == 0.478515625f && isnan(back[2]) && back[3] == -INFINITY);

    float h[3] = {0.5488135f, 65519.0f, 65520.0f};
    uint16_t y[3];
    cast(h, EML_DTYPE_F32, y, EML_DTYPE_F16, 3);
    CHECK(eml_f16_to_f32(y[0]) == 0.548828125f && eml_f16_to_f32(y[1]) == 65504.0f &&
          isinf(eml_f16_to_f32(y[2])));
    /* 1 + 2^-11 + 2^-40 is just above the tie between two halves: double -> float -> half would
     * round it to the tie and then to even (1.0); direct rounding gives 1 + 2^-10 */
    double d[1] = {1.0 + ldexp(1.0, -11) + ldexp(1.0, -40)};
    cast(d, EML_DTYPE_F64, y, EML_DTYPE_F16, 1);
    CHECK(eml_f16_to_f32(y[0]) == 1.0f + 1.0f / 1024);
    int32_t i[2] = {70000, -3};
    cast(i, EML_DTYPE_I32, y, EML_DTYPE_F16, 2);
    CHECK(isinf(eml_f16_to_f32(y[0])) && eml_f16_to_f32(y[1]) == -3.0f);
}

EML_TEST(large_tensor_on_pool)
{
    int64_t n = 300001;
    float *x = malloc(sizeof(float) * (size_t)n);
    int16_t *y = malloc(sizeof(int16_t) * (size_t)n);
    REQUIRE(x && y);
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)(i % 1000) - 500.5f;
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    fixture f;
    fx_init(&f, 13);
    REQUIRE_OK(fx_prepare_to(&f, EML_DTYPE_I16), &f.diag);
    eml_tensor in = {.dtype = EML_DTYPE_F32, .rank = 1, .dims = {n}, .data = x};
    eml_tensor out = {.dtype = EML_DTYPE_I16, .rank = 1, .dims = {n}, .data = y};
    eml_kernel_ctx kc = {.params = f.params, .inputs = &in, .n_inputs = 1, .outputs = &out,
                         .n_outputs = 1, .pool = env->pool, .diag = &f.diag};
    REQUIRE_OK(eml__ref_cast(&kc), &f.diag);
    int bad = 0;
    for (int64_t i = 0; i < n; i++)
        bad += y[i] != (int16_t)x[i];
    CHECK(bad == 0);
    fx_deinit(&f);
    eml_env_destroy(env);
    free(x);
    free(y);
}

EML_TEST(to_attribute_checked)
{
    fixture f;
    fx_init(&f, 13);
    CHECK_STATUS(fx_prepare_to(&f, 8), EML_EUNSUPPORTED); /* STRING */
    CHECK(strstr(f.diag.message, "unsupported: Cast (opset 13) at node 'c0'") != NULL);
    CHECK_STATUS(fx_prepare_to(&f, 14), EML_EUNSUPPORTED); /* COMPLEX64 */
    CHECK_STATUS(fx_prepare_to(&f, 0), EML_EGRAPH);
    CHECK_STATUS(fx_prepare_to(&f, 99), EML_EGRAPH);
    REQUIRE_OK(fx_prepare_to(&f, 7), &f.diag);
    /* a string input is refused by infer */
    eml_tensor in = {.dtype = EML_DTYPE_STRING, .rank = 1, .dims = {2}}, out;
    memset(&out, 0, sizeof(out));
    eml_infer_ctx ic = {.params = f.params, .op = EML_OP_Cast, .opset = 13, .node_name = "c0",
                        .inputs = &in, .n_inputs = 1, .outputs = &out, .n_outputs = 1,
                        .diag = &f.diag};
    CHECK_STATUS(eml__cast_infer(&ic), EML_EUNSUPPORTED);
    fx_deinit(&f);
}

EML_TEST(cast_v1_names_the_type)
{
    fixture f;
    fx_init(&f, 1);
    eml_attr *a = &f.node->attrs[0];
    a->type = EML_ATTR_STRING;
    a->s = eml__strdup(f.env, "FLOAT16");
    a->s_len = 7;
    eml_prepare_ctx pc = {f.node, EML_OP_Cast, 1, f.params, &f.diag};
    REQUIRE_OK(eml__cast_prepare(&pc), &f.diag);
    CHECK(((eml_cast_params *)(void *)f.params)->to == EML_DTYPE_F16);
    eml__free(f.env, a->s);
    a->s = eml__strdup(f.env, "STRING");
    CHECK_STATUS(eml__cast_prepare(&pc), EML_EUNSUPPORTED);
    eml__free(f.env, a->s);
    a->s = eml__strdup(f.env, "NOPE");
    CHECK_STATUS(eml__cast_prepare(&pc), EML_EGRAPH);
    fx_deinit(&f);
}
