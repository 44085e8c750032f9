/* Runtime behaviour on the bundled model: no allocation while a static plan runs, clean failure at
 * every allocation, identical results across sessions and thread counts. */
#include <string.h>

#include "harness.h"

EML_TEST(static_run_allocates_nothing)
{
    eml_counting_allocator c;
    eml_counting_allocator_init(&c);
    eml_env_options o;
    eml_env_options_init(&o);
    o.allocator = &c.base;
    eml_env *env;
    REQUIRE(eml_env_create(&o, &env) == EML_OK);
    eml_diag diag;
    eml_graph *g;
    eml_plan *plan;
    eml_session *s;
    REQUIRE_OK(eml_graph_load_onnx(env, eml_test_fashion_cnn_path(), &g, &diag), &diag);
    REQUIRE_OK(eml_plan_create(g, &plan, &diag), &diag);
    REQUIRE_OK(eml_session_create(plan, NULL, &s, &diag), &diag);
    eml_tensor in;
    eml_test_fashion_cnn_input(env, &in);
    REQUIRE_OK(eml_session_run(s, &in, 1, &diag), &diag); /* first run specializes */
    uint64_t before = c.alloc_count;
    for (int i = 0; i < 3; i++)
        REQUIRE_OK(eml_session_run(s, &in, 1, &diag), &diag);
    CHECK(c.alloc_count == before);
    eml_tensor_free(env, &in);
    eml_session_destroy(s);
    eml_plan_destroy(plan);
    eml_graph_destroy(g);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
    CHECK(c.live_bytes == 0);
}

/* Fails the k-th allocation for every k of load + plan + session + run: each attempt returns
 * EML_ENOMEM (or succeeds when k is past the last allocation) and frees everything. */
EML_TEST(every_allocation_failure_is_clean)
{
    eml_env *plain;
    REQUIRE(eml_env_create(NULL, &plain) == EML_OK);
    eml_tensor in;
    eml_test_fashion_cnn_input(plain, &in);
    int succeeded = 0;
    for (uint64_t k = 1; k < 100000 && !succeeded; k++) {
        eml_counting_allocator c;
        eml_counting_allocator_init(&c);
        eml_env_options o;
        eml_env_options_init(&o);
        o.allocator = &c.base;
        o.n_threads = 1;
        eml_env *env;
        if (eml_env_create(&o, &env) != EML_OK)
            continue;
        c.fail_at = c.alloc_count + k;
        eml_diag diag;
        eml_graph *g = NULL;
        eml_plan *plan = NULL;
        eml_session *s = NULL;
        eml_status st = eml_graph_load_onnx(env, eml_test_fashion_cnn_path(), &g, &diag);
        if (st == EML_OK)
            st = eml_plan_create(g, &plan, &diag);
        if (st == EML_OK)
            st = eml_session_create(plan, NULL, &s, &diag);
        if (st == EML_OK)
            st = eml_session_run(s, &in, 1, &diag);
        if (st != EML_OK && st != EML_ENOMEM) {
            fprintf(stderr, "k=%llu: %s: %s\n", (unsigned long long)k, eml_status_name(st),
                    diag.message);
            CHECK(st == EML_ENOMEM);
        }
        succeeded = st == EML_OK;
        eml_session_destroy(s);
        eml_plan_destroy(plan);
        eml_graph_destroy(g);
        eml_env_destroy(env);
        if (c.live_count != 0) {
            fprintf(stderr, "k=%llu: %llu allocations leaked\n", (unsigned long long)k,
                    (unsigned long long)c.live_count);
            CHECK(c.live_count == 0);
        }
    }
    CHECK(succeeded);
    eml_tensor_free(plain, &in);
    eml_env_destroy(plain);
}

/* Two sessions on one plan, and 1 vs 2 threads, give bit-identical outputs. */
EML_TEST(sessions_and_threads_agree)
{
    float results[2][80];
    for (int threads = 1; threads <= 2; threads++) {
        eml_env_options o;
        eml_env_options_init(&o);
        o.n_threads = (uint32_t)threads;
        eml_env *env;
        REQUIRE(eml_env_create(&o, &env) == EML_OK);
        eml_diag diag;
        eml_graph *g;
        eml_plan *plan;
        eml_session *a, *b;
        REQUIRE_OK(eml_graph_load_onnx(env, eml_test_fashion_cnn_path(), &g, &diag), &diag);
        REQUIRE_OK(eml_plan_create(g, &plan, &diag), &diag);
        REQUIRE_OK(eml_session_create(plan, NULL, &a, &diag), &diag);
        REQUIRE_OK(eml_session_create(plan, NULL, &b, &diag), &diag);
        eml_tensor in, oa, ob;
        eml_test_fashion_cnn_input(env, &in);
        REQUIRE_OK(eml_session_run(a, &in, 1, &diag), &diag);
        REQUIRE_OK(eml_session_run(b, &in, 1, &diag), &diag);
        REQUIRE(eml_session_output(a, 0, &oa) == EML_OK);
        REQUIRE(eml_session_output(b, 0, &ob) == EML_OK);
        REQUIRE(eml_tensor_count(&oa) == 80);
        CHECK(memcmp(oa.data, ob.data, 80 * sizeof(float)) == 0);
        memcpy(results[threads - 1], oa.data, sizeof(results[0]));
        eml_tensor_free(env, &in);
        eml_session_destroy(a);
        eml_session_destroy(b);
        eml_plan_destroy(plan);
        eml_graph_destroy(g);
        eml_env_destroy(env);
    }
    CHECK(memcmp(results[0], results[1], sizeof(results[0])) == 0);
}
