/* Core: the thread pool, the allocators and limits, half-precision conversions, seeded random numbers. */
#include <stdatomic.h>

#include "core/core.h"
#include "harness.h"

typedef struct {
    atomic_int hits[1000];
} hits_ctx;

static void hit(void *ctx, size_t i)
{
    atomic_fetch_add(&((hits_ctx *)ctx)->hits[i], 1);
}

EML_TEST(every_index_once)
{
    for (uint32_t threads = 1; threads <= 4; threads++) {
        eml_env_options o;
        eml_env_options_init(&o);
        o.n_threads = threads;
        eml_env *env;
        REQUIRE(eml_env_create(&o, &env) == EML_OK);
        CHECK(eml_env_threads(env) == threads);
        for (size_t n = 0; n <= 1000; n += 37) {
            static hits_ctx ctx;
            memset(&ctx, 0, sizeof(ctx));
            eml__pool_run(env->pool, n, hit, &ctx);
            for (size_t i = 0; i < 1000; i++)
                CHECK(atomic_load(&ctx.hits[i]) == (i < n ? 1 : 0));
        }
        eml_env_destroy(env);
    }
}

/* A loop's tasks see only that loop's context, each index once, even when workers wake late:
 * 6 threads on this machine's cores, thousands of loops back to back, each with its own context
 * on the stack (a worker running a task of a finished loop would write into a dead frame). */
typedef struct {
    uint32_t loop;
    atomic_uint seen[8];
    atomic_uint wrong;
} loop_ctx;

static void mark(void *arg, size_t i)
{
    loop_ctx *c = arg;
    atomic_fetch_add(&c->seen[i], 1);
    if (i >= 8)
        atomic_fetch_add(&c->wrong, 1);
}

static void run_one_loop(eml_pool *pool, uint32_t loop, size_t n, unsigned *bad)
{
    loop_ctx c = {.loop = loop};
    for (int i = 0; i < 8; i++)
        atomic_init(&c.seen[i], 0);
    atomic_init(&c.wrong, 0);
    eml__pool_run(pool, n, mark, &c);
    for (size_t i = 0; i < 8; i++)
        *bad += atomic_load(&c.seen[i]) != (i < n ? 1u : 0u);
    *bad += atomic_load(&c.wrong);
    memset(&c, 0xff, sizeof(c)); /* a late writer would now trip the counts of the next frame */
}

EML_TEST(late_workers_never_touch_a_finished_loop)
{
    eml_env_options o;
    eml_env_options_init(&o);
    o.n_threads = 6;
    eml_env *env;
    REQUIRE(eml_env_create(&o, &env) == EML_OK);
    unsigned bad = 0;
    for (uint32_t loop = 0; loop < 20000; loop++)
        run_one_loop(env->pool, loop, 2 + loop % 7, &bad);
    CHECK(bad == 0);
    eml_env_destroy(env);
}

EML_TEST(counting_allocator_fails_kth)
{
    eml_counting_allocator c;
    eml_counting_allocator_init(&c);
    eml_env_options o;
    eml_env_options_init(&o);
    o.allocator = &c.base;
    o.n_threads = 1;
    eml_env *env;
    REQUIRE(eml_env_create(&o, &env) == EML_OK);
    c.fail_at = c.alloc_count + 2;
    void *a = eml__alloc(env, 10);
    void *b = eml__alloc(env, 10);
    CHECK(a != NULL);
    CHECK(b == NULL);
    eml__free(env, a);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
    CHECK(c.live_bytes == 0);
}

EML_TEST(allocation_limit_refused)
{
    eml_env_options o;
    eml_env_options_init(&o);
    o.max_alloc_bytes = 1 << 20;
    o.n_threads = 1;
    eml_env *env;
    REQUIRE(eml_env_create(&o, &env) == EML_OK);
    CHECK(eml__alloc(env, (1 << 20) + 1) == NULL);
    CHECK(eml__calloc(env, SIZE_MAX / 2, 4) == NULL);
    void *p = eml__alloc(env, 1 << 20);
    CHECK(p != NULL);
    eml__free(env, p);
    eml_env_destroy(env);
}

EML_TEST(half_conversions)
{
    CHECK(eml_f16_to_f32(0x3c00) == 1.0f);
    CHECK(eml_f32_to_f16(1.0f) == 0x3c00);
    CHECK(eml_f32_to_f16(65504.0f) == 0x7bff);
    CHECK(eml_f32_to_f16(1e6f) == 0x7c00);
    CHECK(eml_f16_to_f32(0x0001) == 5.9604644775390625e-8f);
    CHECK(eml_f32_to_f16(5.9604644775390625e-8f) == 0x0001);
    for (uint32_t h = 0; h < 0x7c00; h++)
        CHECK(eml_f32_to_f16(eml_f16_to_f32((uint16_t)h)) == h);
    CHECK(eml_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(eml_f32_to_bf16(1.0f) == 0x3f80);
}

EML_TEST(mt19937_matches_numpy)
{
    /* numpy.random.RandomState(0).random_sample(3) */
    eml_mt19937 mt;
    eml__mt_seed(&mt, 0);
    CHECK(eml__mt_next_double(&mt) == 0.5488135039273248);
    CHECK(eml__mt_next_double(&mt) == 0.7151893663724195);
    CHECK(eml__mt_next_double(&mt) == 0.6027633760716439);
}
