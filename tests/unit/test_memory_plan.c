/* The memory planner: buffers alive at the same time never overlap; space is reused. */
#include "graph/memory_plan.h"
#include "harness.h"

static bool overlaps(const eml_buffer_req *a, const eml_buffer_req *b)
{
    bool in_time = a->first <= b->last && b->first <= a->last;
    bool in_space = a->offset < b->offset + b->bytes && b->offset < a->offset + a->bytes;
    return in_time && in_space && a->bytes && b->bytes;
}

EML_TEST(chain_reuses_space)
{
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    /* a chain a→b→c→d: each buffer lives for two steps; two buffers are enough */
    eml_buffer_req r[4];
    for (int i = 0; i < 4; i++)
        r[i] = (eml_buffer_req){1000, i, i + 1, 0};
    uint64_t arena, sum;
    REQUIRE(eml__memory_plan(env, r, 4, &arena, &sum) == EML_OK);
    CHECK(sum == 4 * 1024);
    CHECK(arena == 2 * 1024);
    for (int i = 0; i < 4; i++) {
        CHECK(r[i].offset % 64 == 0);
        for (int j = i + 1; j < 4; j++)
            CHECK(!overlaps(&r[i], &r[j]));
    }
    eml_env_destroy(env);
}

EML_TEST(random_lifetimes_never_overlap)
{
    eml_env *env;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + eml_test_rand() % 60;
        eml_buffer_req r[60];
        uint64_t peak_live = 0;
        for (size_t i = 0; i < n; i++) {
            int32_t first = (int32_t)(eml_test_rand() % 40);
            r[i] = (eml_buffer_req){1 + eml_test_rand() % 5000, first,
                                    first + (int32_t)(eml_test_rand() % 10), 0};
        }
        for (int32_t t = 0; t < 50; t++) {
            uint64_t live = 0;
            for (size_t i = 0; i < n; i++)
                live += r[i].first <= t && t <= r[i].last ? (r[i].bytes + 63) / 64 * 64 : 0;
            peak_live = live > peak_live ? live : peak_live;
        }
        uint64_t arena, sum;
        REQUIRE(eml__memory_plan(env, r, n, &arena, &sum) == EML_OK);
        CHECK(arena <= sum);
        CHECK(arena >= peak_live);
        for (size_t i = 0; i < n; i++) {
            CHECK(r[i].offset + r[i].bytes <= arena);
            for (size_t j = i + 1; j < n; j++)
                CHECK(!overlaps(&r[i], &r[j]));
        }
    }
    eml_env_destroy(env);
}
