/* Property tests of the fast f32 Gemm, MatMul, FusedGemm and FusedMatMul kernels: every GEMM
 * micro-kernel this CPU runs against the reference kernels on random shapes around its tile
 * sizes (transB, alpha, beta, the forms of C, batch dims, misaligned pointers), what the
 * selectors decline, clean allocation failure, bit-identical results for 1, 2 and 3 threads,
 * and models through the runtime. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "fast_test_util.h"
#include "graph/graph.h"
#include "harness.h"
#include "kernels/fast_ops.h"
#include "kernels/ref/fused.h"
#include "kernels/ref/matmul.h"
#include "runtime/plan.h"

#define MAX_KERNELS 16

/* The GEMM kernels this CPU can run (whatever EML_ISA says), the reference one included. */
static size_t usable_kernels(const eml_f32_gemm_kernel **out)
{
    size_t count, k = 0;
    const eml_f32_gemm_kernel *all = eml__f32_gemm_kernels(&count);
    for (size_t i = 0; i < count && k < MAX_KERNELS; i++) {
        if ((eml__cpu_features_detected() & all[i].isa) == all[i].isa)
            out[k++] = &all[i];
    }
    return k;
}

static size_t pick(const size_t *list, size_t n)
{
    return list[eml_test_rand() % n];
}

static float *new_floats(size_t n)
{
    float *p = aligned_alloc(64, (n + 32) * sizeof(float) / 64 * 64 + 128);
    REQUIRE(p != NULL);
    return p;
}

/* Selects with kernel k; the weights (and C) must carry data, A only its dtype and shape. */
static eml_status select_with(eml_env *env, eml_op_id op, const void *params, const eml_tensor *in,
                              int n_in, const eml_f32_gemm_kernel *k, eml_fast_kernel *fk)
{
    memset(fk, 0, sizeof(*fk));
    eml_tensor at_plan[3];
    memcpy(at_plan, in, (size_t)n_in * sizeof(eml_tensor));
    at_plan[0].data = NULL;                 /* not a constant */
    at_plan[0].dtype = EML_DTYPE_UNDEFINED; /* as between nodes, where types are seldom declared */
    eml_fast_select_ctx sc = {op, params, 1, at_plan, n_in, 1, env};
    return eml__fast_gemm_select_with(&sc, k, fk);
}

/* Small integers: every product and partial sum is exact in float, so any summation order
 * gives the exact result and a wrong index or a lost term shows at once. */
static void fill_int(float *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (float)((int)(eml_test_rand() % 7) - 3);
}

/* Counts elements off by more than atol + rtol·|ref| (printing the first few). */
static int compare(const float *got, const float *ref, size_t n, double atol, double rtol)
{
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)ref[i]);
        if (!(d <= atol + rtol * fabs((double)ref[i]))) {
            if (bad < 3)
                fprintf(stderr, "  [%zu] got %.9g, reference %.9g\n", i, (double)got[i],
                        (double)ref[i]);
            bad++;
        }
    }
    return bad;
}

/* Tolerances against the reference kernel. Exact data: only the activation functions round
 * differently (sigmoid, tanh: both sides within 2.5e-7 relative). Random data: twice the
 * worst-case rounding of a K-term sum whose terms are at most amax·bmax in size (so that neither
 * summation order can fail it), times an activation slope of at most 1.5. */
static int compare_gemm(const float *got, const float *ref, size_t n, bool exact, size_t kdim,
                        double amax, double bmax, double extra)
{
    if (exact)
        return compare(got, ref, n, 1e-30, 6e-7);
    const double gamma = (double)(kdim + 2) * FLT_EPSILON;
    return compare(got, ref, n, 3.0 * gamma * ((double)kdim * amax * bmax + extra), 6e-7);
}

static const eml_activation activations[] = {
    {EML_ACTIVATION_NONE, 0, 0},
    {EML_ACTIVATION_RELU, 0, 0},
    {EML_ACTIVATION_CLIP, -0.5f, 0.75f},
    {EML_ACTIVATION_LEAKY_RELU, 0.1f, 0},
    {EML_ACTIVATION_HARD_SIGMOID, 0.2f, 0.5f},
    {EML_ACTIVATION_HARD_SWISH, 0, 0},
    {EML_ACTIVATION_SIGMOID, 0, 0},
    {EML_ACTIVATION_TANH, 0, 0},
    {EML_ACTIVATION_SILU, 0, 0},
};
#define N_ACTIVATIONS (sizeof(activations) / sizeof(activations[0]))

/* ---- Gemm and FusedGemm ---- */

EML_TEST(gemm_matches_reference)
{
    const eml_f32_gemm_kernel *ks[MAX_KERNELS];
    size_t nk = usable_kernels(ks);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    for (size_t ki = 0; ki < nk; ki++) {
        const size_t mr = ks[ki]->mr, nr = ks[ki]->nr;
        const size_t ms[] = {1, 2, mr - 1 ? mr - 1 : 1, mr, mr + 1, 2 * mr + 3, 3 * mr + 1, 67};
        const size_t ns[] = {1, 2, nr - 1, nr, nr + 1, 2 * nr + 5, 3 * nr + 1, 100};
        const size_t kds[] = {1, 2, 3, 8, 17, 64, 129, 300, 1000};
        for (int trial = 0; trial < 60; trial++) {
            size_t m = pick(ms, 8), n = pick(ns, 8), kd = pick(kds, 9);
            int trans_b = trial & 1, c_form = (trial / 2) % 7, fused = trial % 3 == 0;
            const float alphas[3] = {1.0f, 0.5f, -1.25f}, betas[3] = {1.0f, 2.0f, 0.0f};
            eml_fused_gemm_params p = {{alphas[trial % 3], betas[(trial / 3) % 3], 0, trans_b},
                                       activations[fused ? (size_t)trial % N_ACTIVATIONS : 0]};
            size_t mis = (size_t)trial % 3;
            float *a = new_floats(m * kd + mis), *b = new_floats(kd * n), *c = new_floats(n);
            float *y = new_floats(m * n + mis), *ref = new_floats(m * n);
            bool exact = trial % 2 == 0;
            if (exact) {
                fill_int(a + mis, m * kd);
                fill_int(b, kd * n);
                fill_int(c, n);
                p.gemm.alpha = trial % 4 ? 1.0f : -2.0f; /* exact scalings */
            } else {
                fill(a + mis, m * kd, -1.0f, 1.0f);
                fill(b, kd * n, -1.0f, 1.0f);
                fill(c, n, -1.0f, 1.0f);
            }
            int64_t ad[2] = {(int64_t)m, (int64_t)kd};
            int64_t bd[2] = {trans_b ? (int64_t)n : (int64_t)kd,
                             trans_b ? (int64_t)kd : (int64_t)n};
            /* C: absent, [N], [1, N], [1], scalar, [1, 1], and [N] with beta 0 */
            int64_t cd[2] = {c_form == 2 ? 1 : (int64_t)n, (int64_t)n};
            if (c_form == 3 || c_form == 5)
                cd[0] = cd[1] = 1;
            int c_rank = c_form == 1 || c_form == 3 || c_form == 6 ? 1 : c_form == 4 ? 0 : 2;
            if (c_form == 6)
                p.gemm.beta = 0.0f;
            eml_tensor in[3] = {tensor_f32(a + mis, 2, ad), tensor_f32(b, 2, bd),
                                tensor_f32(c, c_rank, cd)};
            int n_in = c_form == 0 ? 2 : 3;
            int64_t yd[2] = {(int64_t)m, (int64_t)n};
            eml_tensor out = tensor_f32(ref, 2, yd);
            REQUIRE(run_kernel(fused ? eml__ref_fused_gemm : eml__ref_gemm, &p, in, n_in, &out,
                               NULL) == EML_OK);
            eml_fast_kernel fk;
            REQUIRE(select_with(env, fused ? EML_OP_FusedGemm : EML_OP_Gemm, &p, in, n_in, ks[ki],
                                &fk) == EML_OK);
            REQUIRE(fk.run != NULL);
            out.data = y + mis;
            REQUIRE(run_kernel(fk.run, fk.state, in, n_in, &out, NULL) == EML_OK);
            int bad = compare_gemm(y + mis, ref, m * n, exact, kd, fabsf(p.gemm.alpha), 1.0,
                                   fabsf(p.gemm.beta));
            if (bad)
                fprintf(stderr, "%s M %zu N %zu K %zu transB %d C form %d act %d: %d bad\n",
                        ks[ki]->name, m, n, kd, trans_b, c_form, (int)p.act.kind, bad);
            CHECK(bad == 0);
            release(env, &fk);
            free(a);
            free(b);
            free(c);
            free(y);
            free(ref);
        }
    }
    eml_env_destroy(env);
}

/* ---- MatMul and FusedMatMul: batch dims on A, 1-D operands ---- */

EML_TEST(matmul_matches_reference)
{
    static const struct {
        int ra;
        int64_t a[4]; /* with K last; -1 stands for M */
        int rb;       /* 2: [K, N]; 1: [K] */
    } cases[] = {{1, {0}, 2},     {2, {-1, 0}, 2},    {3, {2, -1, 0}, 2}, {4, {2, 1, -1, 0}, 2},
                 {2, {-1, 0}, 1}, {3, {3, -1, 0}, 1}, {1, {0}, 1}};
    const eml_f32_gemm_kernel *ks[MAX_KERNELS];
    size_t nk = usable_kernels(ks);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    for (size_t ki = 0; ki < nk; ki++) {
        for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
            for (int fused = 0; fused < 2; fused++) {
                size_t m = 1 + eml_test_rand() % (2 * ks[ki]->mr + 2);
                size_t n = 1 + eml_test_rand() % (2 * ks[ki]->nr + 2);
                size_t kd = 1 + eml_test_rand() % 200;
                int64_t ad[4], bd[2] = {(int64_t)kd, (int64_t)n};
                for (int d = 0; d < cases[ci].ra; d++) {
                    int64_t v = cases[ci].a[d];
                    ad[d] = d == cases[ci].ra - 1 ? (int64_t)kd : v < 0 ? (int64_t)m : v;
                }
                size_t na = (size_t)eml__shape_count(ad, cases[ci].ra);
                float *a = new_floats(na + 1), *b = new_floats(kd * n);
                bool exact = (ci + (size_t)fused) % 2 == 0;
                if (exact) {
                    fill_int(a + 1, na);
                    fill_int(b, kd * n);
                } else {
                    fill(a + 1, na, -2.0f, 2.0f);
                    fill(b, kd * n, -1.0f, 1.0f);
                }
                eml_tensor in[2] = {tensor_f32(a + 1, cases[ci].ra, ad),
                                    tensor_f32(b, cases[ci].rb, bd)};
                eml_matmul_shape s;
                REQUIRE(eml__matmul_shape(&in[0], &in[1], &s) == EML_OK);
                size_t ny = (size_t)eml__shape_count(s.out_dims, s.out_rank);
                float *y = new_floats(ny), *ref = new_floats(ny);
                eml_fused_matmul_params fp = {activations[(ci + ki) % N_ACTIVATIONS]};
                eml_tensor out = tensor_f32(ref, s.out_rank, s.out_dims);
                REQUIRE(run_kernel(fused ? eml__ref_fused_matmul : eml__ref_matmul, &fp, in, 2,
                                   &out, NULL) == EML_OK);
                eml_fast_kernel fk;
                REQUIRE(select_with(env, fused ? EML_OP_FusedMatMul : EML_OP_MatMul, &fp, in, 2,
                                    ks[ki], &fk) == EML_OK);
                REQUIRE(fk.run != NULL);
                out.data = y;
                REQUIRE(run_kernel(fk.run, fk.state, in, 2, &out, NULL) == EML_OK);
                int bad = compare_gemm(y, ref, ny, exact, kd, 2.0, 1.0, 0.0);
                if (bad)
                    fprintf(stderr, "%s case %zu fused %d M %zu N %zu K %zu: %d bad\n",
                            ks[ki]->name, ci, fused, m, n, kd, bad);
                CHECK(bad == 0);
                release(env, &fk);
                free(a);
                free(b);
                free(y);
                free(ref);
            }
        }
    }
    eml_env_destroy(env);
}

/* ---- what the selectors leave to the reference kernels ---- */

/* True when the selector keeps the reference kernel (and succeeds). */
static bool declines(const eml_fast_select_ctx *sc, const eml_f32_gemm_kernel *k)
{
    eml_fast_kernel fk;
    memset(&fk, 0, sizeof(fk));
    eml_status st = eml__fast_gemm_select_with(sc, k, &fk);
    bool declined = st == EML_OK && fk.run == NULL;
    if (fk.destroy)
        fk.destroy(sc->env, fk.state);
    return declined;
}

EML_TEST(selectors_decline_what_they_do_not_cover)
{
    const eml_f32_gemm_kernel *ks[MAX_KERNELS];
    REQUIRE(usable_kernels(ks) > 0);
    const eml_f32_gemm_kernel *k = ks[0];
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    static float w[6 * 4], c[6 * 4];
    int64_t ad[2] = {6, 4}, bd[2] = {4, 6}, bd3[3] = {1, 4, 6}, cmn[2] = {6, 6}, cm1[2] = {6, 1};
    eml_fast_kernel fk;
    eml_gemm_params g = {1.0f, 1.0f, 0, 0};
    eml_tensor in[3] = {tensor_f32(NULL, 2, ad), tensor_f32(w, 2, bd), tensor_f32(c, 2, cmn)};
    eml_fast_select_ctx sc = {EML_OP_Gemm, &g, 13, in, 3, 1, env};
    /* C of [M, N] and [M, 1] */
    CHECK(declines(&sc, k));
    in[2] = tensor_f32(c, 2, cm1);
    CHECK(declines(&sc, k));
    /* a C only known at run time */
    in[2] = tensor_f32(NULL, 1, bd + 1);
    CHECK(declines(&sc, k));
    /* transA */
    sc.n_inputs = 2;
    g.trans_a = 1;
    CHECK(declines(&sc, k));
    g.trans_a = 0;
    /* B not constant; float64 */
    in[1].data = NULL;
    CHECK(declines(&sc, k));
    in[1].data = w;
    in[0].dtype = in[1].dtype = EML_DTYPE_F64;
    CHECK(declines(&sc, k));
    in[0].dtype = in[1].dtype = EML_DTYPE_F32;
    /* MatMul with batch dims on B */
    sc.op = EML_OP_MatMul;
    in[1] = tensor_f32(w, 3, bd3);
    CHECK(declines(&sc, k));
    /* and the plain case is taken, named after its micro-kernel */
    in[1] = tensor_f32(w, 2, bd);
    memset(&fk, 0, sizeof(fk)); /* as the plan's: a selector that declines leaves it alone */
    REQUIRE(eml__fast_gemm_select_with(&sc, k, &fk) == EML_OK && fk.run != NULL);
    CHECK(strstr(k->name, fk.name) != NULL);
    release(env, &fk);
    eml_env_destroy(env);
}

/* Each allocation of a selection failing gives EML_ENOMEM, no kernel and no leak. */
EML_TEST(selection_allocation_failures_are_clean)
{
    const eml_f32_gemm_kernel *ks[MAX_KERNELS];
    REQUIRE(usable_kernels(ks) > 0);
    static float w[5 * 7], c[7];
    int64_t ad[2] = {3, 5}, bd[2] = {7, 5}, cd[1] = {7};
    eml_gemm_params g = {0.5f, 2.0f, 0, 1}; /* alpha != 1 and C: every allocation happens */
    eml_tensor in[3] = {tensor_f32(NULL, 2, ad), tensor_f32(w, 2, bd), tensor_f32(c, 1, cd)};
    bool succeeded = false;
    for (uint64_t fail = 1; fail < 20 && !succeeded; fail++) {
        eml_counting_allocator ca;
        eml_counting_allocator_init(&ca);
        eml_env_options o;
        eml_env_options_init(&o);
        o.allocator = &ca.base;
        eml_env *env;
        REQUIRE(eml_env_create(&o, &env) == EML_OK);
        uint64_t live = ca.live_count;
        ca.fail_at = ca.alloc_count + fail;
        eml_fast_kernel fk;
        memset(&fk, 0, sizeof(fk));
        eml_fast_select_ctx sc = {EML_OP_Gemm, &g, 13, in, 3, 1, env};
        eml_status st = eml__fast_gemm_select_with(&sc, ks[0], &fk);
        if (st == EML_OK) {
            CHECK(fk.run != NULL);
            succeeded = true;
            release(env, &fk);
        } else {
            CHECK(st == EML_ENOMEM);
            CHECK(fk.run == NULL && fk.state == NULL);
        }
        CHECK(ca.live_count == live);
        eml_env_destroy(env);
    }
    CHECK(succeeded);
}

/* ---- threads ---- */

EML_TEST(threads_give_identical_results)
{
    const eml_f32_gemm_kernel *ks[MAX_KERNELS];
    size_t nk = usable_kernels(ks);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_pool *pools[4] = {NULL, NULL, NULL, NULL};
    for (uint32_t t = 1; t <= 3; t++)
        REQUIRE(eml__pool_create(env, t, &pools[t]) == EML_OK);
    enum { M = 131, K = 257, N = 300 };
    float *a = new_floats(M * K), *b = new_floats(K * N), *c = new_floats(N);
    float *y0 = new_floats(M * N), *y = new_floats(M * N);
    fill(a, M * K, -1.0f, 1.0f);
    fill(b, K * N, -1.0f, 1.0f);
    fill(c, N, -1.0f, 1.0f);
    int64_t ad[2] = {M, K}, bd[2] = {N, K}, cd[1] = {N}, yd[2] = {M, N};
    eml_fused_gemm_params p = {{1.0f, 1.0f, 0, 1}, {EML_ACTIVATION_TANH, 0, 0}};
    for (size_t ki = 0; ki < nk; ki++) {
        eml_tensor in[3] = {tensor_f32(a, 2, ad), tensor_f32(b, 2, bd), tensor_f32(c, 1, cd)};
        eml_fast_kernel fk;
        REQUIRE(select_with(env, EML_OP_FusedGemm, &p, in, 3, ks[ki], &fk) == EML_OK);
        REQUIRE(fk.run != NULL);
        for (int t = 0; t <= 3; t++) {
            eml_tensor out = tensor_f32(t == 0 ? y0 : y, 2, yd);
            memset(out.data, 0, sizeof(float) * M * N);
            REQUIRE(run_kernel(fk.run, fk.state, in, 3, &out, pools[t]) == EML_OK);
            if (t > 0)
                CHECK(memcmp(y, y0, sizeof(float) * M * N) == 0);
        }
        release(env, &fk);
    }
    free(a);
    free(b);
    free(c);
    free(y0);
    free(y);
    for (int t = 1; t <= 3; t++)
        eml__pool_destroy(pools[t]);
    eml_env_destroy(env);
}

/* ---- through the runtime ---- */

static void *read_pb(eml_env *env, const char *path, eml_tensor *t)
{
    size_t n;
    void *bytes = eml_test_read_file(path, &n);
    if (!bytes)
        return NULL;
    eml_diag diag;
    char name[128];
    REQUIRE_OK(eml_tensor_read_pb(env, bytes, n, t, name, sizeof(name), &diag), &diag);
    free(bytes);
    return t->data;
}

/* fashion_mlp (three Gemm with transB and a bias, two Relu) on its reference input: the plan
 * takes the fast kernels and the output matches ONNX Runtime's for 1 and 2 threads. */
EML_TEST(fashion_mlp_runs_on_fast_kernels)
{
    const char *shared = eml_test_shared_dir();
    if (!shared)
        eml_test_skip("EML_SHARED_DIR is not set");
    char model[1024], input[1024], output[1024];
    snprintf(model, sizeof(model), "%s/models/fashion_mlp/model.onnx", shared);
    snprintf(input, sizeof(input), "%s/models/fashion_mlp/test_data_set_0/input_0.pb", shared);
    snprintf(output, sizeof(output), "%s/models/fashion_mlp/test_data_set_0/output_0.pb", shared);
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_tensor x, expected;
    if (!read_pb(env, input, &x) || !read_pb(env, output, &expected))
        eml_test_skip("fashion_mlp is not in the shared folder");
    eml_diag diag;
    eml_diag_init(&diag);
    eml_graph *g;
    eml_plan *plan;
    REQUIRE_OK(eml_graph_load_onnx(env, model, &g, &diag), &diag);
    REQUIRE_OK(eml_plan_create(g, &plan, &diag), &diag);
    bool simd = eml__f32_gemm_select()->isa != EML_ISA_NONE;
    for (size_t i = 0; i < plan->n_nodes; i++) /* unless EML_ISA caps the SIMD kernels away */
        CHECK(!simd || plan->nodes[i].fast.run != NULL);
    for (uint32_t threads = 1; threads <= 2; threads++) {
        eml_session_options so;
        eml_session_options_init(&so);
        so.n_threads = threads;
        eml_session *s;
        REQUIRE_OK(eml_session_create(plan, &so, &s, &diag), &diag);
        REQUIRE_OK(eml_session_run(s, &x, 1, &diag), &diag);
        eml_tensor y;
        REQUIRE(eml_session_output(s, 0, &y) == EML_OK);
        REQUIRE(eml_tensor_count(&y) == eml_tensor_count(&expected));
        const float *got = y.data, *want = expected.data;
        for (int64_t i = 0; i < eml_tensor_count(&y); i++)
            CHECK(fabsf(got[i] - want[i]) <= 1e-4f + 1e-4f * fabsf(want[i]));
        eml_session_destroy(s);
    }
    eml_plan_destroy(plan);
    eml_graph_destroy(g);
    eml_tensor_free(env, &x);
    eml_tensor_free(env, &expected);
    eml_env_destroy(env);
}
