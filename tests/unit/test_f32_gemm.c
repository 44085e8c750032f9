/* Property tests of the f32 GEMM engine: every micro-kernel this CPU runs, through the driver,
 * against the reference kernel (itself checked against sums in double) on random values and
 * shapes, strides, misaligned buffers that end at a guard page, both packing layouts, bias and
 * clamps; and bit-identical results for 1, 2 and 3 threads. */
#include <math.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/cpu.h"
#include "harness.h"
#include "kernels/gemm.h"

/* ---- buffers that end right before an inaccessible page ---- */

/* Any read or write past the end faults, SIMD ones included (masked-off lanes do not fault, so a
 * correct masked tail passes). `slack` floats after the end shift the start by that much, which
 * tests another alignment. */
typedef struct guarded {
    void *base;
    size_t len;
    float *p;
} guarded;

static float *guarded_alloc(guarded *g, size_t floats, size_t slack)
{
    const size_t page = (size_t)sysconf(_SC_PAGESIZE);
    const size_t bytes = (floats + slack) * sizeof(float);
    const size_t data_pages = (bytes + page - 1) / page + 1;
    g->len = (data_pages + 1) * page;
    g->base = mmap(NULL, g->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(g->base != MAP_FAILED);
    char *guard = (char *)g->base + data_pages * page;
    REQUIRE(mprotect(guard, page, PROT_NONE) == 0);
    g->p = (float *)(guard - bytes);
    return g->p;
}

static void guarded_free(guarded *g)
{
    munmap(g->base, g->len);
}

/* ---- problems ---- */

typedef struct problem {
    size_t m, n, k;
    size_t a_stride, c_stride;
    size_t slack; /* floats after the end of A and C (0 or 1: two alignments) */
    bool bias;
    bool b_is_nk;
    float min, max;
} problem;

typedef struct data {
    float *b_kn; /* [K, N] */
    float *b_nk; /* [N, K], the same matrix */
    float *bias; /* N floats or NULL */
    guarded ga;
    float *a;
} data;

/* Padding of A's rows is NaN: a kernel that reads past K poisons its row. */
static void make_data(const problem *p, data *d)
{
    d->b_kn = malloc((p->k * p->n + 1) * sizeof(float));
    d->b_nk = malloc((p->k * p->n + 1) * sizeof(float));
    d->bias = p->bias ? malloc((p->n + 1) * sizeof(float)) : NULL;
    REQUIRE(d->b_kn && d->b_nk && (!p->bias || d->bias));
    for (size_t kk = 0; kk < p->k; kk++)
        for (size_t j = 0; j < p->n; j++) {
            float v = eml_test_randf(-1, 1);
            d->b_kn[kk * p->n + j] = v;
            d->b_nk[j * p->k + kk] = v;
        }
    for (size_t j = 0; p->bias && j < p->n; j++)
        d->bias[j] = eml_test_randf(-1, 1);
    size_t a_floats = p->m ? (p->m - 1) * p->a_stride + p->k : 0;
    d->a = guarded_alloc(&d->ga, a_floats, p->slack);
    for (size_t i = 0; i < p->m; i++)
        for (size_t kk = 0; kk < p->a_stride && i * p->a_stride + kk < a_floats; kk++)
            d->a[i * p->a_stride + kk] = kk < p->k ? eml_test_randf(-1, 1) : NAN;
}

static void free_data(data *d)
{
    free(d->b_kn);
    free(d->b_nk);
    free(d->bias);
    guarded_free(&d->ga);
}

static float *pack_for(const eml_f32_gemm_kernel *k, const problem *p, const data *d)
{
    size_t bytes = eml__f32_gemm_packed_bytes(k, p->n, p->k);
    float *w = aligned_alloc(64, (bytes + 64) / 64 * 64);
    REQUIRE(w);
    eml__f32_gemm_pack(k, p->n, p->k, p->b_is_nk ? d->b_nk : d->b_kn, p->b_is_nk, d->bias, w);
    return w;
}

#define SENTINEL 12345.0f

/* Runs kernel k on the problem into a fresh guarded C (padding = SENTINEL); checks that the
 * padding is untouched. The caller frees *g. */
static float *run_kernel(const eml_f32_gemm_kernel *k, const problem *p, const data *d,
                         eml_pool *pool, guarded *g)
{
    size_t c_floats = p->m ? (p->m - 1) * p->c_stride + p->n : 0;
    float *c = guarded_alloc(g, c_floats, p->slack);
    for (size_t i = 0; i < c_floats; i++)
        c[i] = SENTINEL;
    float *w = pack_for(k, p, d);
    eml__f32_gemm_run(k, p->m, p->n, p->k, d->a, p->a_stride, w, c, p->c_stride, p->min, p->max,
                      pool);
    free(w);
    for (size_t i = 0; i + 1 < p->m; i++)
        for (size_t j = p->n; j < p->c_stride; j++)
            if (c[i * p->c_stride + j] != SENTINEL) {
                fprintf(stderr, "%s wrote padding at row %zu col %zu\n", k->name, i, j);
                eml_test_failures++;
                return c;
            }
    return c;
}

static const eml_f32_gemm_kernel *reference_kernel(void)
{
    return eml__f32_gemm_select_for(EML_ISA_NONE);
}

/* The element's exact value in double (before the clamp) and the scale of its rounding error. */
static double exact(const problem *p, const data *d, size_t i, size_t j, double *scale)
{
    double s = d->bias ? d->bias[j] : 0.0, mag = fabs(s);
    for (size_t kk = 0; kk < p->k; kk++) {
        double t = (double)d->a[i * p->a_stride + kk] * (double)d->b_kn[kk * p->n + j];
        s += t;
        mag += fabs(t);
    }
    *scale = mag;
    return s;
}

static bool close_enough(float got, double want, double scale)
{
    if (isnan(want))
        return isnan(got);
    return fabs((double)got - want) <= 1e-5 + 1e-5 * scale;
}

static void describe(const char *what, const eml_f32_gemm_kernel *k, const problem *p)
{
    fprintf(stderr,
            "%s: %s M=%zu N=%zu K=%zu a_stride=%zu c_stride=%zu slack=%zu bias=%d nk=%d "
            "clamp=[%g, %g]\n",
            what, k->name, p->m, p->n, p->k, p->a_stride, p->c_stride, p->slack, p->bias,
            p->b_is_nk, (double)p->min, (double)p->max);
}

/* Every usable kernel against the reference, and the reference against double sums. */
static void check_problem(const problem *p)
{
    data d;
    make_data(p, &d);
    const eml_f32_gemm_kernel *ref = reference_kernel();
    guarded gref;
    float *want = run_kernel(ref, p, &d, NULL, &gref);
    for (size_t i = 0; i < p->m; i++)
        for (size_t j = 0; j < p->n; j++) {
            double scale, v = exact(p, &d, i, j, &scale);
            v = v < p->min ? p->min : v > p->max ? p->max : v;
            if (!close_enough(want[i * p->c_stride + j], v, scale)) {
                describe("reference differs from double", ref, p);
                fprintf(stderr, "  at [%zu, %zu]: %.9g, want %.9g\n", i, j,
                        (double)want[i * p->c_stride + j], v);
                eml_test_failures++;
                goto done;
            }
        }
    size_t count;
    const eml_f32_gemm_kernel *ks = eml__f32_gemm_kernels(&count);
    for (size_t ki = 0; ki < count; ki++) {
        const eml_f32_gemm_kernel *k = &ks[ki];
        if (k == ref || !eml__cpu_has(k->isa))
            continue;
        guarded g;
        float *got = run_kernel(k, p, &d, NULL, &g);
        for (size_t i = 0; i < p->m; i++)
            for (size_t j = 0; j < p->n; j++) {
                double scale;
                exact(p, &d, i, j, &scale);
                float r = want[i * p->c_stride + j], x = got[i * p->c_stride + j];
                if (!close_enough(x, r, scale)) {
                    describe("differs from the reference", k, p);
                    fprintf(stderr, "  at [%zu, %zu]: %.9g, reference %.9g\n", i, j, (double)x,
                            (double)r);
                    eml_test_failures++;
                    i = p->m;
                    break;
                }
            }
        guarded_free(&g);
    }
done:
    guarded_free(&gref);
    free_data(&d);
}

static size_t rand_between(size_t lo, size_t hi)
{
    return lo + eml_test_rand() % (hi - lo + 1);
}

/* The largest MR and NR of the usable kernels: sizes run to 3 tiles + 1 of each. */
static void max_tile(size_t *mr, size_t *nr)
{
    size_t count;
    const eml_f32_gemm_kernel *ks = eml__f32_gemm_kernels(&count);
    *mr = *nr = 1;
    for (size_t i = 0; i < count; i++)
        if (eml__cpu_has(ks[i].isa)) {
            *mr = EML_MAX(*mr, (size_t)ks[i].mr);
            *nr = EML_MAX(*nr, (size_t)ks[i].nr);
        }
}

static problem plain(size_t m, size_t n, size_t k)
{
    problem p = {m, n, k, k, n, 0, true, false, -INFINITY, INFINITY};
    return p;
}

/* ---- cases ---- */

EML_TEST(every_m_and_n_to_three_tiles)
{
    eml_test_seed();
    size_t mr, nr;
    max_tile(&mr, &nr);
    for (size_t m = 1; m <= 3 * mr + 1; m++)
        for (size_t n = 1; n <= 3 * nr + 1; n++) {
            problem p = plain(m, n, rand_between(1, 24));
            p.b_is_nk = eml_test_rand() & 1;
            check_problem(&p);
        }
}

EML_TEST(k_sizes_across_blocks)
{
    eml_test_seed();
    size_t mr, nr;
    max_tile(&mr, &nr);
    /* around SIMD widths and the K blocks of every kernel (blocks of at most 24 KiB of A rows:
     * 768 for 8 rows, 1024 for 6, 1536 for 4) */
    static const size_t ks[] = {1,   2,   3,   4,   5,   7,    8,    9,    15,   16,   17,  31,
                                32,  33,  63,  64,  65,  127,  128,  129,  255,  256,  257, 511,
                                767, 768, 769, 1023, 1024, 1025, 1535, 1536, 1537, 2305, 3100};
    for (size_t i = 0; i < sizeof(ks) / sizeof(ks[0]); i++) {
        problem p = plain(rand_between(1, 3 * mr + 1), rand_between(1, 3 * nr + 1), ks[i]);
        p.bias = eml_test_rand() & 1;
        check_problem(&p);
    }
}

EML_TEST(strides_and_misaligned_pointers)
{
    eml_test_seed();
    size_t mr, nr;
    max_tile(&mr, &nr);
    for (int t = 0; t < 200; t++) {
        problem p = plain(rand_between(1, 3 * mr + 1), rand_between(1, 3 * nr + 1),
                          rand_between(1, 70));
        p.a_stride = p.k + rand_between(0, 9);
        p.c_stride = p.n + rand_between(0, 9);
        p.slack = t & 1;
        p.b_is_nk = (t >> 1) & 1;
        check_problem(&p);
    }
}

EML_TEST(large_and_odd_shapes)
{
    eml_test_seed();
    static const size_t shapes[][3] = {
        {127, 257, 1100}, {301, 45, 1600}, {1000, 70, 9}, {1, 1000, 512}, {49, 129, 320},
        {3, 2049, 5},     {513, 33, 27},   {97, 97, 97},  {2, 3, 4000},
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        problem p = plain(shapes[i][0], shapes[i][1], shapes[i][2]);
        p.a_stride += i % 3;
        p.c_stride += i % 2;
        p.slack = i & 1;
        p.b_is_nk = (i >> 1) & 1;
        check_problem(&p);
    }
}

EML_TEST(bias_and_clamps)
{
    eml_test_seed();
    static const float clamps[][2] = {
        {-INFINITY, INFINITY}, {0.0f, INFINITY}, {0.0f, 6.0f}, {-0.25f, 0.25f},
        {0.5f, 0.5f},          {-INFINITY, -1.0f},
    };
    size_t mr, nr;
    max_tile(&mr, &nr);
    for (size_t c = 0; c < sizeof(clamps) / sizeof(clamps[0]); c++)
        for (int bias = 0; bias < 2; bias++)
            for (int t = 0; t < 10; t++) {
                problem p = plain(rand_between(1, 3 * mr + 1), rand_between(1, 3 * nr + 1),
                                  t == 0 ? 1000 : rand_between(1, 40));
                p.bias = bias;
                p.min = clamps[c][0];
                p.max = clamps[c][1];
                check_problem(&p);
            }
}

/* NaN in A reaches every output of its row whatever the clamp, as max(min, x) keeps x. */
EML_TEST(nan_propagates)
{
    eml_test_seed();
    static const float clamps[][2] = {{-INFINITY, INFINITY}, {0.0f, 6.0f}};
    size_t count;
    const eml_f32_gemm_kernel *ks = eml__f32_gemm_kernels(&count);
    for (size_t c = 0; c < 2; c++) {
        problem p = plain(9, 37, 1000);
        p.min = clamps[c][0];
        p.max = clamps[c][1];
        data d;
        make_data(&p, &d);
        d.a[3 * p.a_stride + 900] = NAN; /* in the second K block of every kernel */
        for (size_t ki = 0; ki < count; ki++) {
            if (!eml__cpu_has(ks[ki].isa))
                continue;
            guarded g;
            float *out = run_kernel(&ks[ki], &p, &d, NULL, &g);
            for (size_t i = 0; i < p.m; i++)
                for (size_t j = 0; j < p.n; j++)
                    if ((i == 3) != (bool)isnan(out[i * p.c_stride + j])) {
                        describe("NaN not where expected", &ks[ki], &p);
                        eml_test_failures++;
                        i = p.m;
                        break;
                    }
            guarded_free(&g);
        }
        free_data(&d);
    }
}

/* Packing from [K, N] and from [N, K] gives the same bytes; bias NULL packs zeros; the columns
 * past N are zero. */
EML_TEST(packing_layouts_agree)
{
    eml_test_seed();
    size_t count;
    const eml_f32_gemm_kernel *ks = eml__f32_gemm_kernels(&count);
    for (size_t ki = 0; ki < count; ki++) {
        const eml_f32_gemm_kernel *k = &ks[ki];
        for (int t = 0; t < 40; t++) {
            problem p = plain(1, rand_between(1, 3 * k->nr + 1), rand_between(0, 50));
            p.bias = t & 1;
            data d;
            make_data(&p, &d);
            size_t bytes = eml__f32_gemm_packed_bytes(k, p.n, p.k);
            size_t panels = (p.n + k->nr - 1) / k->nr;
            CHECK(bytes == panels * k->nr * (p.k + 1) * sizeof(float));
            float *w1 = malloc(bytes + 4), *w2 = malloc(bytes + 4);
            REQUIRE(w1 && w2);
            memset(w1, 0xab, bytes);
            memset(w2, 0xcd, bytes);
            eml__f32_gemm_pack(k, p.n, p.k, d.b_kn, false, d.bias, w1);
            eml__f32_gemm_pack(k, p.n, p.k, d.b_nk, true, d.bias, w2);
            CHECK(memcmp(w1, w2, bytes) == 0);
            for (size_t pi = 0; pi < panels; pi++) {
                const float *panel = w1 + pi * k->nr * (p.k + 1);
                for (size_t j = 0; j < k->nr; j++) {
                    size_t col = pi * k->nr + j;
                    float want_bias = col < p.n && d.bias ? d.bias[col] : 0.0f;
                    CHECK(panel[j] == want_bias);
                    for (size_t kk = 0; kk < p.k; kk++) {
                        float want = col < p.n ? d.b_kn[kk * p.n + col] : 0.0f;
                        if (panel[k->nr + kk * k->nr + j] != want) {
                            describe("packed weight wrong", k, &p);
                            eml_test_failures++;
                            kk = p.k;
                            j = k->nr;
                        }
                    }
                }
            }
            free(w1);
            free(w2);
            free_data(&d);
        }
    }
}

EML_TEST(threads_bit_identical)
{
    eml_test_seed();
    eml_env *env = NULL;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_pool *pools[3] = {NULL, NULL, NULL};
    for (uint32_t t = 0; t < 3; t++)
        REQUIRE(eml__pool_create(env, t + 1, &pools[t]) == EML_OK);
    static const size_t shapes[][3] = {
        {200, 300, 1700}, {1000, 40, 27}, {20, 1000, 800}, {3, 5, 7}, {64, 96, 3100},
    };
    size_t count;
    const eml_f32_gemm_kernel *ks = eml__f32_gemm_kernels(&count);
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
        problem p = plain(shapes[s][0], shapes[s][1], shapes[s][2]);
        p.min = -3.0f;
        p.max = 3.0f;
        data d;
        make_data(&p, &d);
        for (size_t ki = 0; ki < count; ki++) {
            if (!eml__cpu_has(ks[ki].isa))
                continue;
            guarded g[3];
            float *out[3];
            for (int t = 0; t < 3; t++)
                out[t] = run_kernel(&ks[ki], &p, &d, pools[t], &g[t]);
            size_t c_bytes = ((p.m - 1) * p.c_stride + p.n) * sizeof(float);
            for (int t = 1; t < 3; t++)
                if (memcmp(out[0], out[t], c_bytes) != 0) {
                    describe("threads differ", &ks[ki], &p);
                    fprintf(stderr, "  1 thread vs %d threads\n", t + 1);
                    eml_test_failures++;
                }
            for (int t = 0; t < 3; t++)
                guarded_free(&g[t]);
        }
        free_data(&d);
    }
    for (int t = 0; t < 3; t++)
        eml__pool_destroy(pools[t]);
    eml_env_destroy(env);
}

/* K = 0 gives clamp(bias); M = 0 or N = 0 touch nothing. */
EML_TEST(empty_dimensions)
{
    eml_test_seed();
    size_t count;
    const eml_f32_gemm_kernel *ks = eml__f32_gemm_kernels(&count);
    for (size_t ki = 0; ki < count; ki++) {
        const eml_f32_gemm_kernel *k = &ks[ki];
        if (!eml__cpu_has(k->isa))
            continue;
        problem p = plain(5, 2 * k->nr + 3, 0);
        p.min = -0.5f;
        p.max = 0.5f;
        data d;
        make_data(&p, &d);
        guarded g;
        float *out = run_kernel(k, &p, &d, NULL, &g);
        for (size_t i = 0; i < p.m; i++)
            for (size_t j = 0; j < p.n; j++) {
                float want = EML_MIN(0.5f, EML_MAX(-0.5f, d.bias[j]));
                CHECK(out[i * p.c_stride + j] == want);
            }
        guarded_free(&g);
        float c[4] = {SENTINEL, SENTINEL, SENTINEL, SENTINEL};
        float w[64] = {0};
        eml__f32_gemm_run(k, 0, 4, 3, d.a, 3, w, c, 4, -INFINITY, INFINITY, NULL);
        eml__f32_gemm_run(k, 1, 0, 3, d.a, 3, w, c, 4, -INFINITY, INFINITY, NULL);
        for (int i = 0; i < 4; i++)
            CHECK(c[i] == SENTINEL);
        CHECK(eml__f32_gemm_packed_bytes(k, 0, 10) == 0);
        free_data(&d);
    }
}

EML_TEST(selection_and_isa_cap)
{
    size_t count;
    const eml_f32_gemm_kernel *ks = eml__f32_gemm_kernels(&count);
    REQUIRE(count >= 1);
    CHECK(ks[count - 1].isa == EML_ISA_NONE);
    CHECK(eml__f32_gemm_select_for(EML_ISA_NONE) == &ks[count - 1]);
    const eml_f32_gemm_kernel *best = eml__f32_gemm_select();
    CHECK(eml__cpu_has(best->isa));
    /* the first listed kernel the features allow, for every kernel's own feature set */
    for (size_t i = 0; i < count; i++) {
        const eml_f32_gemm_kernel *k = eml__f32_gemm_select_for(ks[i].isa);
        CHECK((ks[i].isa & k->isa) == k->isa);
        CHECK(k <= &ks[i]);
    }
    CHECK(eml__cpu_isa_cap("ref") == EML_ISA_NONE);
    CHECK(eml__cpu_isa_cap("no-such-isa") == EML_ISA_NONE);
    CHECK((eml__cpu_isa_cap("avx2") & EML_ISA_X86_AVX2) == EML_ISA_X86_AVX2);
    CHECK((eml__cpu_isa_cap("avx2") & EML_CPU_X86_AVX512F) == 0);
    CHECK((eml__cpu_isa_cap("avx512") & EML_ISA_X86_AVX512) == EML_ISA_X86_AVX512);
    CHECK((eml__cpu_isa_cap("avx512") & EML_CPU_X86_AVX512VNNI) == 0);
    CHECK((eml__cpu_isa_cap("neondot") & EML_ISA_ARM_NEONDOT) == EML_ISA_ARM_NEONDOT);
    CHECK((eml__cpu_isa_cap("neon") & EML_ISA_ARM_NEON) == EML_ISA_ARM_NEON);
    CHECK((eml__cpu_isa_cap("neon") & (EML_CPU_ARM_DOTPROD | EML_CPU_ARM_FP16)) == 0);
#if defined(__aarch64__)
    /* Advanced SIMD is part of every AArch64 CPU, and a NEON GEMM kernel is listed */
    CHECK((eml__cpu_features_detected() & EML_CPU_ARM_NEON) != 0);
    CHECK(eml__f32_gemm_select_for(EML_ISA_ARM_NEON)->isa == EML_ISA_ARM_NEON);
#endif
    CHECK((eml__cpu_isa_cap(NULL) & EML_ISA_X86_AVX512VNNI) == EML_ISA_X86_AVX512VNNI);
    CHECK((eml__cpu_features() & ~eml__cpu_features_detected()) == 0);
    /* an OS that saves AVX-512 state also saves AVX state: the levels nest */
    uint32_t f = eml__cpu_features_detected();
    if ((f & EML_CPU_X86_AVX512F) != 0)
        CHECK((f & EML_CPU_X86_AVX2) != 0);
    printf("features 0x%x, kernel %s\n", (unsigned)eml__cpu_features(), best->name);
}
