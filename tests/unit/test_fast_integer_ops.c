/* Tests of the fast MatMulInteger and ConvInteger kernels (fast_qmatmul_integer.h): each
 * int32-output GEMM micro-kernel this CPU runs equals the reference kernels bit for bit on random
 * shapes (K tails, column tails, several row blocks), zero points (A: none, 0/128/255, per row;
 * B: none, scalar, per column with -128 and 127) and 1 to 3 threads; what they do not take is
 * declined; and in a graph (DynamicQuantizeLinear -> MatMulInteger) the plan runs them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fast_test_util.h"
#include "graph/passes/passes.h"
#include "harness.h"
#include "kernels/fast_qmatmul_integer.h"
#include "kernels/ref/conv.h"
#include "kernels/ref/matmul.h"
#include "passes_util.h"

static eml_env *env_as_configured(void)
{
    eml_env *env = NULL;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    return env;
}

static void optimize(eml_graph *g)
{
    eml_optimize_options o;
    eml_optimize_options_init(&o);
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_graph_optimize(g, &o, NULL, &diag), &diag);
}

/* ---- MatMulInteger ---- */

#define MAX_I32_KERNELS 8

static size_t usable_i32(const eml_qs8_gemm_i32_kernel **out)
{
    size_t count, k = 0;
    const eml_qs8_gemm_i32_kernel *all = eml__qs8_gemm_i32_kernels(&count);
    for (size_t i = 0; i < count && k < MAX_I32_KERNELS; i++)
        if ((eml__cpu_features_detected() & all[i].isa) == all[i].isa)
            out[k++] = &all[i];
    return k;
}

/* A zero-point mode: 0 none, 1 scalar (A: 0, 128, 255; B: -128, 127, ...), 2 per row of A (the
 * reference kernel's job) or per column of B. */
static bool mmi_case(const eml_qs8_gemm_i32_kernel *const *ks, size_t nk, eml_pool *const *pools,
                     int a_rank, int64_t batch, int64_t m, int64_t k, int64_t n, int a_zp_mode,
                     int b_zp_mode)
{
    static const uint8_t u8_zps[3] = {0, 128, 255};
    static const int8_t i8_zps[4] = {-128, 127, 0, -3};
    const int64_t rows = batch * m;
    uint8_t *a = malloc((size_t)(rows * k)), azp[64];
    int8_t *b = malloc((size_t)(k * n)), *bzp = malloc((size_t)n);
    int32_t *y0 = malloc((size_t)(rows * n) * 4), *y1 = malloc((size_t)(rows * n) * 4);
    REQUIRE(a && b && bzp && y0 && y1 && m <= 64);
    for (int64_t i = 0; i < rows * k; i++)
        a[i] = (uint8_t)eml_test_rand();
    for (int64_t i = 0; i < k * n; i++)
        b[i] = (int8_t)(eml_test_rand() % 256 - 128);
    for (int64_t i = 0; i < 64; i++)
        azp[i] = u8_zps[eml_test_rand() % 3];
    for (int64_t j = 0; j < n; j++)
        bzp[j] = i8_zps[eml_test_rand() % 4];
    int64_t ad[3], yd[3];
    if (a_rank == 3) {
        ad[0] = yd[0] = batch;
        ad[1] = yd[1] = m;
    } else {
        ad[0] = yd[0] = rows;
    }
    ad[a_rank - 1] = k;
    yd[a_rank - 1] = n;
    const int64_t bd[2] = {k, n}, one[1] = {1}, nd[1] = {n}, md[1] = {m};
    eml_tensor in[4] = {tensor(EML_DTYPE_U8, a_rank, ad, a), tensor(EML_DTYPE_I8, 2, bd, b),
                        tensor(EML_DTYPE_UNDEFINED, 0, one, NULL),
                        tensor(EML_DTYPE_UNDEFINED, 0, one, NULL)};
    if (a_zp_mode == 1)
        in[2] = tensor(EML_DTYPE_U8, 0, one, azp);
    else if (a_zp_mode == 2)
        in[2] = tensor(EML_DTYPE_U8, 1, md, azp);
    if (b_zp_mode == 1)
        in[3] = tensor(EML_DTYPE_I8, 0, one, bzp);
    else if (b_zp_mode == 2)
        in[3] = tensor(EML_DTYPE_I8, 1, nd, bzp);
    eml_tensor out = tensor(EML_DTYPE_I32, a_rank, yd, y0);
    const size_t rsb = eml__ref_matmul_integer_scratch_bytes(m, n, k, false);
    void *rscratch = aligned_alloc(64, (rsb + 63) / 64 * 64 + 64);
    REQUIRE(rscratch);
    eml_kernel_ctx kc = {NULL, in, 4, &out, 1, rscratch, rsb, NULL, NULL};
    REQUIRE(eml__ref_matmul_integer(&kc) == EML_OK);
    free(rscratch);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    bool ok = true;
    for (size_t ki = 0; ki < nk; ki++) {
        eml_tensor at_plan[4];
        memcpy(at_plan, in, sizeof(in));
        at_plan[0].data = NULL;
        at_plan[2].data = NULL; /* a's zero point comes at run time, as DynamicQuantizeLinear's */
        if (a_zp_mode == 2)     /* per row, its shape unknown at plan time: the fast kernel
                                 * hands the run to the reference kernel */
            at_plan[2].rank = -1;
        eml_fast_select_ctx sc = {EML_OP_MatMulInteger, NULL, 10, at_plan, 4, 1, env};
        eml_fast_kernel fk;
        memset(&fk, 0, sizeof(fk));
        REQUIRE(eml__fast_matmul_integer_select_with(&sc, ks[ki], &fk) == EML_OK);
        REQUIRE(fk.run != NULL);
        const size_t sb = fk.scratch_bytes ? fk.scratch_bytes(fk.state, in, 4, &out, 1) : 0;
        void *scratch = sb ? aligned_alloc(64, (sb + 63) / 64 * 64) : NULL;
        for (int t = 1; t <= 3; t++) {
            memset(y1, 0xA5, (size_t)(rows * n) * 4);
            eml_tensor o1 = out;
            o1.data = y1;
            eml_kernel_ctx fc = {fk.state, in, 4, &o1, 1, scratch, sb, pools[t], NULL};
            REQUIRE(fk.run(&fc) == EML_OK);
            if (memcmp(y0, y1, (size_t)(rows * n) * 4) != 0) {
                size_t i = 0;
                while (y0[i] == y1[i])
                    i++;
                fprintf(stderr,
                        "%s, %d threads: rank %d rows %lld k %lld n %lld zp modes %d/%d: "
                        "at %zu got %d want %d\n",
                        ks[ki]->name, t, a_rank, (long long)rows, (long long)k, (long long)n,
                        a_zp_mode, b_zp_mode, i, y1[i], y0[i]);
                ok = false;
                break;
            }
        }
        free(scratch);
        fk.destroy(env, fk.state);
    }
    eml_env_destroy(env);
    free(a);
    free(b);
    free(bzp);
    free(y0);
    free(y1);
    return ok;
}

static int64_t pick(const int64_t *v, size_t n)
{
    return v[eml_test_rand() % n];
}

EML_TEST(matmul_integer_fast_kernels_bit_exact)
{
    const eml_qs8_gemm_i32_kernel *ks[MAX_I32_KERNELS];
    const size_t nk = usable_i32(ks);
    if (nk == 0) {
        fprintf(stderr, "no int32-output GEMM kernel runs on this CPU\n");
        exit(77);
    }
    for (size_t i = 0; i < nk; i++)
        fprintf(stderr, "checking %s\n", ks[i]->name);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_pool *pools[4] = {NULL, NULL, NULL, NULL};
    for (uint32_t t = 2; t <= 3; t++)
        REQUIRE(eml__pool_create(env, t, &pools[t]) == EML_OK);
    static const int64_t ks_[9] = {1, 2, 3, 4, 5, 17, 64, 131, 300};
    static const int64_t ns[8] = {1, 7, 8, 16, 17, 31, 33, 65};
    static const int64_t ms[7] = {1, 3, 4, 8, 9, 33, 64};
    bool ok = true;
    for (int trial = 0; trial < 60 && ok; trial++) {
        const int rank = 2 + trial % 2;
        ok = mmi_case(ks, nk, pools, rank, rank == 3 ? 1 + (int64_t)(eml_test_rand() % 3) : 1,
                      pick(ms, 7), pick(ks_, 9), pick(ns, 8), trial % 3, (trial / 3) % 3);
    }
    CHECK(ok);
    /* many rows (several row blocks per task) */
    CHECK(mmi_case(ks, nk, pools, 2, 1, 64, 40, 20, 1, 2));
    CHECK(mmi_case(ks, nk, pools, 3, 7, 45, 19, 33, 1, 0));
    for (int t = 2; t <= 3; t++)
        eml__pool_destroy(pools[t]);
    eml_env_destroy(env);
}

/* int8 A, uint8 B, a B given at run time, and per-row zero points of A stay on the reference
 * kernel. */
EML_TEST(matmul_integer_declines_what_it_does_not_take)
{
    const eml_qs8_gemm_i32_kernel *all;
    size_t count;
    all = eml__qs8_gemm_i32_kernels(&count);
    if (count == 0)
        exit(77);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    int8_t b[12] = {0};
    const int64_t ad[2] = {2, 3}, bd[2] = {3, 4}, one[1] = {1};
    const int64_t rd[1] = {2};
    for (int variant = 0; variant < 4; variant++) {
        eml_tensor in[4] = {
            tensor(variant == 0 ? EML_DTYPE_I8 : EML_DTYPE_U8, 2, ad, NULL),
            tensor(variant == 1 ? EML_DTYPE_U8 : EML_DTYPE_I8, 2, bd, variant == 2 ? NULL : b),
            tensor(EML_DTYPE_UNDEFINED, 0, one, NULL), tensor(EML_DTYPE_UNDEFINED, 0, one, NULL)};
        if (variant == 3) /* A's zero point per row */
            in[2] = tensor(EML_DTYPE_U8, 1, rd, NULL);
        eml_fast_select_ctx sc = {EML_OP_MatMulInteger, NULL, 10, in, 4, 1, env};
        eml_fast_kernel fk;
        memset(&fk, 0, sizeof(fk));
        CHECK(eml__fast_matmul_integer_select_with(&sc, &all[0], &fk) == EML_OK);
        CHECK(fk.run == NULL);
    }
    eml_env_destroy(env);
}

/* ONNX Runtime's dynamic form in a graph: x -> DynamicQuantizeLinear -> MatMulInteger(x_q, B,
 * x_zp, B_zp) with B constant: A's dtype and zero point are only known at run time. The int32
 * result equals the sums computed here from the x_q and x_zp the graph also returns. */
EML_TEST(matmul_integer_in_a_graph_bit_exact)
{
    eml_env *env = env_as_configured();
    enum { B = 2, M = 7, K = 37, N = 19 };
    for (int trial = 0; trial < 4; trial++) {
        eml_graph *g = pt_graph(env, 13);
        const int64_t xd[3] = {B, M, K}, wd[2] = {K, N}, nd[1] = {N};
        pt_input(g, "x", EML_DTYPE_F32, 3, xd, NULL);
        int8_t w[K * N], wz[N];
        for (int i = 0; i < K * N; i++)
            w[i] = (int8_t)(eml_test_rand() % 256 - 128);
        for (int j = 0; j < N; j++)
            wz[j] = trial % 2 ? (int8_t)(eml_test_rand() % 256 - 128) : 0;
        pt_const(g, "w", EML_DTYPE_I8, 2, wd, w);
        pt_const(g, "wz", EML_DTYPE_I8, 1, nd, wz);
        const char *di[1] = {"x"}, *dout[3] = {"xq", "xs", "xz"};
        pt_node(g, "DynamicQuantizeLinear", NULL, "dql", di, 1, dout, 3);
        const char *mi[4] = {"xq", "w", "xz", "wz"}, *mo[1] = {"y"};
        pt_node(g, "MatMulInteger", NULL, "mmi", mi, 4, mo, 1);
        pt_output(g, "y");
        pt_output(g, "xq");
        pt_output(g, "xz");
        eml_tensor in = pt_random(3, xd);
        float *xv = in.data;
        for (int64_t i = 0; i < B * M * K; i++)
            xv[i] = xv[i] * 3.0f + (trial >= 2 ? 2.0f : 0.0f); /* zero point 0 when all >= 0 */
        optimize(g);
        pt_outputs out;
        pt_run(g, &in, &out);
        REQUIRE(out.count == 3 && out.t[0].dtype == EML_DTYPE_I32 && out.t[0].rank == 3);
        const uint8_t *xq = out.t[1].data, xz = *(const uint8_t *)out.t[2].data;
        const int32_t *y = out.t[0].data;
        int64_t wrong = 0;
        for (int64_t i = 0; i < B * M; i++)
            for (int64_t j = 0; j < N; j++) {
                int32_t acc = 0;
                for (int64_t kk = 0; kk < K; kk++)
                    acc += (xq[i * K + kk] - xz) * (w[kk * N + j] - wz[j]);
                wrong += y[i * N + j] != acc;
            }
        CHECK(wrong == 0);
        pt_outputs_free(&out);
        free(in.data);
        eml_graph_destroy(g);
    }
    eml_env_destroy(env);
}

/* ---- ConvInteger ---- */

typedef struct ci_case {
    int64_t n, c, h, w, m, kh, kw, sh, sw, dh, dw, pads[4];
    int x_zp_mode, w_zp_mode; /* 0 none, 1 scalar, 2 (w only) per output channel */
} ci_case;

/* Prepares ConvInteger's params for case cc from a node with its attributes. */
static void ci_params(eml_env *env, const ci_case *cc, eml_conv_params *p)
{
    eml_graph *g = pt_graph(env, 13);
    const char *ins[2] = {"x", "w"}, *outs[1] = {"y"};
    eml_node *n = pt_node(g, "ConvInteger", NULL, "ci", ins, 2, outs, 1);
    const int64_t k[2] = {cc->kh, cc->kw}, s[2] = {cc->sh, cc->sw}, d[2] = {cc->dh, cc->dw};
    pt_attr_ints(g, n, "kernel_shape", k, 2);
    pt_attr_ints(g, n, "strides", s, 2);
    pt_attr_ints(g, n, "dilations", d, 2);
    pt_attr_ints(g, n, "pads", cc->pads, 4);
    char params[EML_PARAMS_MAX];
    memset(params, 0, sizeof(params));
    eml_prepare_ctx pc = {&g->nodes[0], EML_OP_ConvInteger, 10, params, NULL};
    REQUIRE(eml__conv_prepare(&pc) == EML_OK);
    memcpy(p, params, sizeof(*p));
    eml_graph_destroy(g);
}

static bool ci_run(const eml_qs8_gemm_i32_kernel *const *ks, size_t nk, eml_pool *const *pools,
                   const ci_case *cc)
{
    static const int8_t i8_zps[4] = {-128, 127, 0, -3};
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_conv_params p;
    ci_params(env, cc, &p);
    const int64_t xn = cc->n * cc->c * cc->h * cc->w, wn = cc->m * cc->c * cc->kh * cc->kw;
    uint8_t *x = malloc((size_t)xn), xz = (uint8_t)eml_test_rand();
    int8_t *w = malloc((size_t)wn), *wz = malloc((size_t)cc->m);
    REQUIRE(x && w && wz);
    for (int64_t i = 0; i < xn; i++)
        x[i] = (uint8_t)eml_test_rand();
    for (int64_t i = 0; i < wn; i++)
        w[i] = (int8_t)(eml_test_rand() % 256 - 128);
    for (int64_t i = 0; i < cc->m; i++)
        wz[i] = i8_zps[eml_test_rand() % 4];
    const int64_t xd[4] = {cc->n, cc->c, cc->h, cc->w}, wd[4] = {cc->m, cc->c, cc->kh, cc->kw};
    const int64_t one[1] = {1}, md[1] = {cc->m};
    eml_tensor in[4] = {tensor(EML_DTYPE_U8, 4, xd, x), tensor(EML_DTYPE_I8, 4, wd, w),
                        tensor(EML_DTYPE_UNDEFINED, 0, one, NULL),
                        tensor(EML_DTYPE_UNDEFINED, 0, one, NULL)};
    if (cc->x_zp_mode)
        in[2] = tensor(EML_DTYPE_U8, 0, one, &xz);
    if (cc->w_zp_mode == 1)
        in[3] = tensor(EML_DTYPE_I8, 0, one, wz);
    else if (cc->w_zp_mode == 2)
        in[3] = tensor(EML_DTYPE_I8, 1, md, wz);
    eml_conv_geom g;
    char why[128];
    if (eml__conv_geom(&p, &in[0], &in[1], false, &g, why, sizeof(why)) != EML_OK) {
        free(x), free(w), free(wz);
        eml_env_destroy(env);
        return true; /* an empty output: not a case */
    }
    const int64_t yd[4] = {cc->n, cc->m, g.out[0], g.out[1]}, yn = cc->n * cc->m * g.out_size;
    int32_t *y0 = malloc((size_t)yn * 4), *y1 = malloc((size_t)yn * 4);
    size_t rsb;
    REQUIRE(y0 && y1 && eml__conv_integer_scratch(&g, false, &rsb));
    void *rscratch = aligned_alloc(64, (rsb + 63) / 64 * 64 + 64);
    REQUIRE(rscratch);
    eml_tensor out = tensor(EML_DTYPE_I32, 4, yd, y0);
    eml_kernel_ctx kc = {&p, in, 4, &out, 1, rscratch, rsb, NULL, NULL};
    REQUIRE(eml__ref_conv_integer(&kc) == EML_OK);
    free(rscratch);
    bool ok = true;
    for (size_t ki = 0; ki < nk && ok; ki++) {
        eml_tensor at_plan[4];
        memcpy(at_plan, in, sizeof(in));
        at_plan[0].data = NULL;
        at_plan[2].data = NULL;
        eml_fast_select_ctx sc = {EML_OP_ConvInteger, &p, 10, at_plan, 4, 1, env};
        eml_fast_kernel fk;
        memset(&fk, 0, sizeof(fk));
        REQUIRE(eml__fast_conv_integer_select_with(&sc, ks[ki], &fk) == EML_OK);
        REQUIRE(fk.run != NULL);
        const size_t sb = fk.scratch_bytes(fk.state, in, 4, &out, 1);
        void *scratch = aligned_alloc(64, (sb + 63) / 64 * 64);
        REQUIRE(scratch);
        for (int t = 1; t <= 3 && ok; t++) {
            memset(y1, 0xA5, (size_t)yn * 4);
            eml_tensor o1 = out;
            o1.data = y1;
            eml_kernel_ctx fc = {fk.state, in, 4, &o1, 1, scratch, sb, pools[t], NULL};
            REQUIRE(fk.run(&fc) == EML_OK);
            if (memcmp(y0, y1, (size_t)yn * 4) != 0) {
                size_t i = 0;
                while (y0[i] == y1[i])
                    i++;
                fprintf(stderr,
                        "%s, %d threads: n%lld c%lld %lldx%lld m%lld k%lldx%lld s%lld,%lld "
                        "d%lld,%lld zp modes %d/%d: at %zu got %d want %d\n",
                        ks[ki]->name, t, (long long)cc->n, (long long)cc->c, (long long)cc->h,
                        (long long)cc->w, (long long)cc->m, (long long)cc->kh, (long long)cc->kw,
                        (long long)cc->sh, (long long)cc->sw, (long long)cc->dh, (long long)cc->dw,
                        cc->x_zp_mode, cc->w_zp_mode, i, y1[i], y0[i]);
                ok = false;
            }
        }
        free(scratch);
        fk.destroy(env, fk.state);
    }
    eml_env_destroy(env);
    free(x);
    free(w);
    free(wz);
    free(y0);
    free(y1);
    return ok;
}

static int64_t rnd(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(eml_test_rand() % (uint32_t)(hi - lo + 1));
}

EML_TEST(conv_integer_fast_kernels_bit_exact)
{
    const eml_qs8_gemm_i32_kernel *ks[MAX_I32_KERNELS];
    const size_t nk = usable_i32(ks);
    if (nk == 0)
        exit(77);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_pool *pools[4] = {NULL, NULL, NULL, NULL};
    for (uint32_t t = 2; t <= 3; t++)
        REQUIRE(eml__pool_create(env, t, &pools[t]) == EML_OK);
    bool ok = true;
    for (int trial = 0; trial < 40 && ok; trial++) {
        ci_case cc = {rnd(1, 2), rnd(1, 6),  rnd(1, 9),
                      rnd(1, 9), rnd(1, 40), rnd(1, 3),
                      rnd(1, 3), rnd(1, 2),  rnd(1, 2),
                      rnd(1, 2), rnd(1, 2),  {rnd(0, 2), rnd(0, 2), rnd(0, 2), rnd(0, 2)},
                      trial % 2, trial % 3};
        ok = ci_run(ks, nk, pools, &cc);
    }
    CHECK(ok);
    /* many output positions (several row blocks), channels past one panel */
    const ci_case big = {2, 8, 17, 19, 37, 3, 3, 1, 1, 1, 1, {1, 1, 1, 1}, 1, 2};
    CHECK(ci_run(ks, nk, pools, &big));
    for (int t = 2; t <= 3; t++)
        eml__pool_destroy(pools[t]);
    eml_env_destroy(env);
}

/* Grouped convolutions, int8 inputs and weights given at run time stay on the reference kernel. */
EML_TEST(conv_integer_declines_what_it_does_not_take)
{
    size_t count;
    const eml_qs8_gemm_i32_kernel *all = eml__qs8_gemm_i32_kernels(&count);
    if (count == 0)
        exit(77);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    const ci_case cc = {1, 4, 5, 5, 4, 3, 3, 1, 1, 1, 1, {0, 0, 0, 0}, 0, 0};
    eml_conv_params p;
    ci_params(env, &cc, &p);
    int8_t w[4 * 4 * 9] = {0};
    const int64_t xd[4] = {1, 4, 5, 5}, wd[4] = {4, 4, 3, 3}, one[1] = {1};
    for (int variant = 0; variant < 3; variant++) {
        eml_conv_params q = p;
        if (variant == 0)
            q.group = 2;
        eml_tensor in[4] = {tensor(variant == 1 ? EML_DTYPE_I8 : EML_DTYPE_U8, 4, xd, NULL),
                            tensor(EML_DTYPE_I8, 4, wd, variant == 2 ? NULL : w),
                            tensor(EML_DTYPE_UNDEFINED, 0, one, NULL),
                            tensor(EML_DTYPE_UNDEFINED, 0, one, NULL)};
        eml_fast_select_ctx sc = {EML_OP_ConvInteger, &q, 10, in, 4, 1, env};
        eml_fast_kernel fk;
        memset(&fk, 0, sizeof(fk));
        CHECK(eml__fast_conv_integer_select_with(&sc, &all[0], &fk) == EML_OK);
        CHECK(fk.run == NULL);
    }
    eml_env_destroy(env);
}

/* An input whose dtype is only known at run time (made by another node) and turns out int8: the
 * fast kernel, chosen at plan time, hands the run to the reference kernel, with Conv's params. */
EML_TEST(conv_integer_hands_int8_input_to_reference)
{
    size_t count;
    const eml_qs8_gemm_i32_kernel *all = eml__qs8_gemm_i32_kernels(&count);
    if (count == 0)
        exit(77);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    const ci_case cc = {1, 3, 6, 5, 4, 3, 3, 2, 1, 1, 1, {1, 0, 1, 2}, 1, 0};
    eml_conv_params p;
    ci_params(env, &cc, &p);
    int8_t x[3 * 6 * 5], w[4 * 3 * 9], xz = -7;
    for (size_t i = 0; i < sizeof(x); i++)
        x[i] = (int8_t)(eml_test_rand() % 256 - 128);
    for (size_t i = 0; i < sizeof(w); i++)
        w[i] = (int8_t)(eml_test_rand() % 256 - 128);
    const int64_t xd[4] = {1, 3, 6, 5}, wd[4] = {4, 3, 3, 3}, one[1] = {1};
    eml_tensor in[4] = {tensor(EML_DTYPE_I8, 4, xd, x), tensor(EML_DTYPE_I8, 4, wd, w),
                        tensor(EML_DTYPE_I8, 0, one, &xz),
                        tensor(EML_DTYPE_UNDEFINED, 0, one, NULL)};
    eml_conv_geom g;
    char why[128];
    REQUIRE(eml__conv_geom(&p, &in[0], &in[1], false, &g, why, sizeof(why)) == EML_OK);
    const int64_t yd[4] = {1, 4, g.out[0], g.out[1]}, yn = 4 * g.out_size;
    int32_t *y0 = malloc((size_t)yn * 4), *y1 = malloc((size_t)yn * 4);
    size_t rsb;
    REQUIRE(y0 && y1 && eml__conv_integer_scratch(&g, false, &rsb));
    void *scratch = aligned_alloc(64, (rsb + 63) / 64 * 64 + 64);
    REQUIRE(scratch);
    eml_tensor out = tensor(EML_DTYPE_I32, 4, yd, y0);
    eml_kernel_ctx kc = {&p, in, 4, &out, 1, scratch, rsb, NULL, NULL};
    REQUIRE(eml__ref_conv_integer(&kc) == EML_OK);
    eml_tensor at_plan[4];
    memcpy(at_plan, in, sizeof(in));
    at_plan[0] = tensor(EML_DTYPE_UNDEFINED, -1, one, NULL);
    at_plan[2] = tensor(EML_DTYPE_UNDEFINED, -1, one, NULL);
    eml_fast_select_ctx sc = {EML_OP_ConvInteger, &p, 10, at_plan, 4, 1, env};
    eml_fast_kernel fk;
    memset(&fk, 0, sizeof(fk));
    REQUIRE(eml__fast_conv_integer_select_with(&sc, &all[0], &fk) == EML_OK && fk.run);
    const size_t sb = fk.scratch_bytes(fk.state, in, 4, &out, 1);
    CHECK(sb >= rsb);
    void *fscratch = aligned_alloc(64, (sb + 63) / 64 * 64);
    REQUIRE(fscratch);
    eml_tensor o1 = out;
    o1.data = y1;
    eml_kernel_ctx fc = {fk.state, in, 4, &o1, 1, fscratch, sb, NULL, NULL};
    CHECK(fk.run(&fc) == EML_OK);
    CHECK(memcmp(y0, y1, (size_t)yn * 4) == 0);
    fk.destroy(env, fk.state);
    free(fscratch);
    free(scratch);
    free(y0);
    free(y1);
    eml_env_destroy(env);
}
