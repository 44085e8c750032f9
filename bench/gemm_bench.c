/* Benchmark of the f32 GEMM engine: measures the FMA peak of one core, then GFLOP/s of every
 * micro-kernel this CPU runs on square and conv-shaped products at 1 and 2 threads (medians).
 * Usage: bench_gemm [seconds per run, default 0.3] [kernel name substring] [MxNxK substring]
 * EML_BENCH_VERBOSE=1 prints every round; EML_BENCH_1T=1 skips the two-thread runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "kernels/gemm.h"

#define REPEATS 5

/* The machine is shared: one thread is timed by its own CPU time, which time slices given to
 * other processes do not inflate; two threads by the wall clock (their sum of CPU time would hide
 * a poor split). */
static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(double), cmp_double);
    return v[n / 2];
}

/* ---- FMA peak: independent chains of register FMAs (latency 4-5 cycles, 2 pipes: 16 chains
 * keep both pipes busy on every current core) ---- */

#if defined(__x86_64__)
#include <immintrin.h>

/* Chains per loop: as many as the registers hold beside the two operands (16 ymm, 32 zmm). */
#define PEAK_CHAINS_AVX2 12
#define PEAK_CHAINS_AVX512 24
#define PEAK_BODY(VEC, SET1, FMA, ADD, STORE, LANES, CHAINS)                                       \
    VEC acc[CHAINS];                                                                               \
    for (int i = 0; i < CHAINS; i++)                                                               \
        acc[i] = SET1(1.0f + (float)i * 1e-3f);                                                    \
    const VEC x = SET1(0.999999f), y = SET1(1e-7f);                                                \
    for (long it = 0; it < iters; it++) {                                                          \
        _Pragma("GCC unroll 24") for (int i = 0; i < CHAINS; i++) acc[i] = FMA(acc[i], x, y);      \
    }                                                                                              \
    VEC s = acc[0];                                                                                \
    for (int i = 1; i < CHAINS; i++)                                                               \
        s = ADD(s, acc[i]);                                                                        \
    float out[LANES];                                                                              \
    STORE(out, s);                                                                                 \
    return out[0];

__attribute__((target("avx512f"))) static float peak_avx512(long iters)
{
    PEAK_BODY(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_storeu_ps, 16,
              PEAK_CHAINS_AVX512)
}

__attribute__((target("avx2,fma"))) static float peak_avx2(long iters)
{
    PEAK_BODY(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_storeu_ps, 8,
              PEAK_CHAINS_AVX2)
}
#endif

static volatile float sink;
static int verbose;

typedef float (*peak_fn)(long iters);

/* The peak loop of an ISA and the floats it computes per iteration (NULL: none). */
static peak_fn peak_for(uint32_t isa, int *flops_per_iter)
{
#if defined(__x86_64__)
    if (isa == EML_ISA_X86_AVX512) {
        *flops_per_iter = 2 * 16 * PEAK_CHAINS_AVX512;
        return peak_avx512;
    }
    if (isa == EML_ISA_X86_AVX2) {
        *flops_per_iter = 2 * 8 * PEAK_CHAINS_AVX2;
        return peak_avx2;
    }
#endif
    (void)isa;
    *flops_per_iter = 0;
    return NULL;
}

/* GFLOP/s of one core's FMA chains over about `seconds` of this thread's CPU time. */
static double peak_once(uint32_t isa, double seconds)
{
    int flops;
    peak_fn fn = peak_for(isa, &flops);
    if (!fn)
        return 0;
    static long iters = 1 << 14;
    for (;;) {
        double t0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
        sink = fn(iters);
        double t = clock_s(CLOCK_THREAD_CPUTIME_ID) - t0;
        if (t >= seconds * 0.7)
            return (double)iters * flops / t * 1e-9;
        iters = (long)((double)iters * (t > 0 ? 1.2 * seconds / t : 4.0)) + 1;
    }
}

/* ---- GEMM timing ---- */

typedef struct shape {
    const char *what;
    size_t m, n, k;
} shape;

static const shape shapes[] = {
    {"square", 256, 256, 256},
    {"square", 512, 512, 512},
    {"square", 1024, 1024, 1024},
    {"square", 2048, 2048, 2048},
    {"resnet 3x3 56x56x64", 3136, 64, 576},
    {"mbv2 conv1 3x3s2 112x112", 12544, 32, 27},
    {"resnet 3x3 14x14x256", 196, 256, 2304},
    {"mbv2 1x1 56x56 24->144", 3136, 144, 24},
    {"mbv2 1x1 112x112 32->16", 12544, 16, 32},
    {"mbv2 1x1 7x7 320->1280", 49, 1280, 320},
    {"fc 1x512 -> 1000", 1, 1000, 512},
};

static void fill(float *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (float)(seed >> 8) / 16777216.0f - 0.5f;
    }
}

/* One run of at least `seconds`: GFLOP/s by the clock of the measurement, and per second of CPU
 * time of the process (per busy core: with two threads on a shared machine, this shows whether
 * the threads slow each other down, even when other processes leave them less than two cores). */
typedef struct rate {
    double gflops;
    double per_core;
} rate;

static rate gemm_once(const eml_f32_gemm_kernel *k, const shape *s, const float *a,
                      const float *w, float *c, eml_pool *pool, double seconds, long *reps)
{
    const clockid_t id = eml__pool_threads(pool) == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
    const double flop = 2.0 * (double)s->m * (double)s->n * (double)s->k;
    for (;;) {
        double t0 = clock_s(id), cpu0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        for (long i = 0; i < *reps; i++)
            eml__f32_gemm_run(k, s->m, s->n, s->k, a, s->k, w, c, s->n, -INFINITY, INFINITY, pool);
        double t = clock_s(id) - t0, cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - cpu0;
        if (t >= seconds * 0.7) {
            rate r = {flop * (double)*reps / t * 1e-9, flop * (double)*reps / cpu * 1e-9};
            return r;
        }
        *reps = (long)((double)*reps * (t > 0 ? 1.2 * seconds / t : 4.0)) + 1;
    }
}

typedef struct result {
    double gflops, ratio;   /* median GFLOP/s; median of its ratio to the peak of `threads` cores */
    double per_core, ratio_core; /* the same per busy core */
} result;

/* A warm-up run, then peak and GEMM runs in turn (P G P G ...): medians of the GEMM's GFLOP/s
 * and of the per-round ratios to the peak, so that a clock change between rounds cancels out. */
static result measure(const eml_f32_gemm_kernel *k, const shape *s, const float *a,
                      const float *w, float *c, eml_pool *pool, double seconds)
{
    double g[REPEATS], r[REPEATS], gc[REPEATS], rc[REPEATS];
    long reps = 1;
    const double threads = (double)eml__pool_threads(pool);
    gemm_once(k, s, a, w, c, pool, seconds / 2, &reps);
    for (int i = 0; i < REPEATS; i++) {
        double peak = peak_once(k->isa, seconds / 4);
        rate x = gemm_once(k, s, a, w, c, pool, seconds, &reps);
        g[i] = x.gflops;
        gc[i] = x.per_core;
        r[i] = peak > 0 ? g[i] / (peak * threads) : 0;
        rc[i] = peak > 0 ? gc[i] / peak : 0;
        if (verbose)
            printf("    round %d: peak %.1f GFLOP/s, gemm %.1f GFLOP/s, %.1f per busy core\n", i,
                   peak, g[i], gc[i]);
    }
    result out = {median(g, REPEATS), median(r, REPEATS), median(gc, REPEATS),
                  median(rc, REPEATS)};
    return out;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.3;
    const char *filter = argc > 2 ? argv[2] : NULL;
    const char *shape_filter = argc > 3 ? argv[3] : NULL;
    verbose = getenv("EML_BENCH_VERBOSE") != NULL;
    const bool two_threads = getenv("EML_BENCH_1T") == NULL;
    if (seconds <= 0)
        seconds = 0.3;
    eml_env *env = NULL;
    eml_env_options eo;
    eml_env_options_init(&eo);
    eo.n_threads = 1;
    if (eml_env_create(&eo, &env) != EML_OK)
        return 1;
    eml_pool *pools[2] = {NULL, NULL};
    if (eml__pool_create(env, 1, &pools[0]) != EML_OK || eml__pool_create(env, 2, &pools[1]))
        return 1;

    uint32_t feats = eml__cpu_features_detected();
    printf("CPU features:%s%s%s\n", (feats & EML_ISA_X86_AVX2) == EML_ISA_X86_AVX2 ? " avx2+fma" : "",
           (feats & EML_ISA_X86_AVX512) == EML_ISA_X86_AVX512 ? " avx512(f,bw,vl,dq)" : "",
           (feats & EML_CPU_X86_AVX512VNNI) ? " avx512vnni" : "");
    double peak_by_isa[3] = {0, 0, 0};
    const uint32_t peak_isas[3] = {EML_ISA_NONE, EML_ISA_X86_AVX2, EML_ISA_X86_AVX512};
    for (int i = 1; i < 3; i++)
        if ((feats & peak_isas[i]) == peak_isas[i]) {
            double v[REPEATS];
            for (int r = 0; r < REPEATS; r++)
                v[r] = peak_once(peak_isas[i], seconds);
            peak_by_isa[i] = median(v, REPEATS);
            printf("FMA peak, 1 core, %s: %.1f GFLOP/s (median of %d)\n",
                   eml__cpu_isa_name(peak_isas[i]), peak_by_isa[i], REPEATS);
        }

    size_t nk;
    const eml_f32_gemm_kernel *ks = eml__f32_gemm_kernels(&nk);
    size_t max_a = 0, max_c = 0, max_w = 0;
    for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
        max_a = EML_MAX(max_a, shapes[si].m * shapes[si].k);
        max_c = EML_MAX(max_c, shapes[si].m * shapes[si].n);
        max_w = EML_MAX(max_w, shapes[si].k * shapes[si].n);
    }
    float *a = aligned_alloc(64, (max_a * 4 + 63) / 64 * 64);
    float *c = aligned_alloc(64, (max_c * 4 + 63) / 64 * 64);
    float *b = malloc(max_w * 4);
    float *bias = malloc(4096 * 4);
    if (!a || !b || !c || !bias)
        return 1;
    fill(a, max_a, 1);
    fill(b, max_w, 2);
    fill(bias, 4096, 3);

    printf("\n1T: one thread, by its CPU time; %%pk: of the FMA peak of one core, measured in turn.\n"
           "2T: two threads, by the wall clock (%%pk of two cores' peak), and per busy core (by the\n"
           "process's CPU time: what the split costs, even when other processes hold a core).\n");
    printf("\n%-14s %-28s %5s %5s %5s %7s %4s %7s %4s %7s %4s\n", "kernel", "shape", "M", "N", "K",
           "1T GF/s", "%pk", "2T GF/s", "%pk", "2T/core", "%pk");
    for (size_t ki = 0; ki < nk; ki++) {
        const eml_f32_gemm_kernel *k = &ks[ki];
        if ((feats & k->isa) != k->isa || (filter && !strstr(k->name, filter)))
            continue;
        for (size_t si = 0; si < sizeof(shapes) / sizeof(shapes[0]); si++) {
            const shape *s = &shapes[si];
            char dims[64];
            snprintf(dims, sizeof(dims), "%zux%zux%zu", s->m, s->n, s->k);
            if (shape_filter && !strstr(dims, shape_filter))
                continue;
            if (k->isa == EML_ISA_NONE && s->m * s->n * s->k > (size_t)600 * 600 * 600)
                continue; /* the reference is slow: skip the biggest */
            float *w = aligned_alloc(64, (eml__f32_gemm_packed_bytes(k, s->n, s->k) + 63) / 64 * 64);
            if (!w)
                return 1;
            eml__f32_gemm_pack(k, s->n, s->k, b, false, bias, w);
            result one = measure(k, s, a, w, c, pools[0], seconds), two = {0, 0, 0, 0};
            if (two_threads)
                two = measure(k, s, a, w, c, pools[1], seconds);
            printf("%-14s %-28s %5zu %5zu %5zu %7.1f %3.0f%% %7.1f %3.0f%% %7.1f %3.0f%%\n",
                   k->name + strlen("eml_f32_gemm_"), s->what, s->m, s->n, s->k, one.gflops,
                   100 * one.ratio, two.gflops, 100 * two.ratio, two.per_core,
                   100 * two.ratio_core);
            fflush(stdout);
            free(w);
        }
    }
    free(a);
    free(b);
    free(c);
    free(bias);
    eml__pool_destroy(pools[0]);
    eml__pool_destroy(pools[1]);
    eml_env_destroy(env);
    return 0;
}
