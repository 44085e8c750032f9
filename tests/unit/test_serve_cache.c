/* The model cache: hits, misses, least-recently-used eviction within the budget, models in use
 * kept, prefetch, unload, and memory really returned after many load/unload cycles. */
#include <string.h>

#include "core/core.h"
#include "harness.h"
#include "serve/cache.h"
#include "serve/node_status.h"

static eml_counting_allocator counting;
static eml_env *env;
static char model_path[1024];
static int loads;

static eml_status resolve(void *user, const char *name, int64_t *version, eml_diag *diag)
{
    (void)user;
    if (strlen(name) != 1 || name[0] < 'a' || name[0] > 'e')
        return eml__diag(diag, EML_ENOTFOUND, "no model '%s'", name);
    *version = 1;
    return EML_OK;
}

/* Every name a..e is the Fashion-MNIST CNN. */
static eml_status load(void *user, const char *name, int64_t version, eml_graph **graph,
                       eml_plan **plan, eml__batch_options *batch, eml_diag *diag)
{
    (void)user;
    (void)batch;
    if (version != 1)
        return eml__diag(diag, EML_ENOTFOUND, "model '%s' has no version %lld", name,
                         (long long)version);
    loads++;
    eml_status st = eml_graph_load_onnx(env, model_path, graph, diag);
    if (st == EML_OK && (st = eml_plan_create(*graph, plan, diag)) != EML_OK)
        eml_graph_destroy(*graph);
    return st;
}

static uint64_t live(void *user)
{
    (void)user;
    return counting.live_bytes;
}

static eml__cache *make(uint64_t budget, eml__metrics *m)
{
    const char *src = eml_test_source_dir();
    if (!src)
        eml_test_skip("EML_SOURCE_DIR not set");
    snprintf(model_path, sizeof(model_path), "%s/models/fashion_cnn/model.onnx", src);
    if (!env) {
        eml_counting_allocator_init(&counting);
        eml_env_options o;
        eml_env_options_init(&o);
        o.allocator = &counting.base;
        o.n_threads = 1;
        REQUIRE(eml_env_create(&o, &env) == EML_OK);
    }
    eml__cache_options co;
    memset(&co, 0, sizeof(co));
    co.budget_bytes = budget;
    eml__batch_options_init(&co.batch);
    co.batch.n_workers = 1;
    co.metrics = m;
    co.resolve = resolve;
    co.load = load;
    co.live_bytes = live;
    eml__cache *c;
    REQUIRE(eml__cache_create(&co, &c) == EML_OK);
    return c;
}

/* Bytes one loaded model holds, as the cache measures it. */
static uint64_t model_bytes(void)
{
    eml__cache *c = make(0, NULL);
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__cache_prefetch(c, "a", 0, &d), &d);
    eml__cache_stats s;
    eml__cache_stats_get(c, &s);
    eml__cache_destroy(c);
    REQUIRE(s.bytes > 0);
    return s.bytes;
}

static void use(eml__cache *c, const char *name, eml_status want)
{
    eml__served *s = NULL;
    eml_diag d;
    eml_diag_init(&d);
    eml_status st = eml__cache_acquire(c, name, 0, &s, &d);
    if (st != want)
        fprintf(stderr, "acquire %s: %s (%s)\n", name, eml_status_name(st), d.message);
    CHECK(st == want);
    if (st == EML_OK) {
        CHECK(strcmp(eml__served_name(s), name) == 0 && eml__served_version(s) == 1);
        CHECK(eml__served_graph(s) != NULL && eml__served_batcher(s) != NULL);
        eml__cache_release(c, s);
    }
}

EML_TEST(hits_misses_and_lru_eviction)
{
    uint64_t one = model_bytes();
    eml__metrics *m;
    REQUIRE(eml__metrics_create(&m) == EML_OK);
    eml__cache *c = make(one * 5 / 2, m); /* room for two */
    loads = 0;
    use(c, "a", EML_OK);
    use(c, "b", EML_OK);
    use(c, "a", EML_OK); /* hit; b is now the least recently used */
    use(c, "c", EML_OK); /* evicts b */
    CHECK(eml__cache_is_loaded(c, "a", 0) && eml__cache_is_loaded(c, "c", 1));
    CHECK(!eml__cache_is_loaded(c, "b", 0));
    use(c, "b", EML_OK); /* reloaded on demand; evicts a */
    CHECK(!eml__cache_is_loaded(c, "a", 0));
    eml__cache_stats s;
    eml__cache_stats_get(c, &s);
    CHECK(s.hits == 1 && s.misses == 4 && s.evictions == 2 && s.n_loaded == 2);
    CHECK(s.bytes <= s.budget_bytes);
    CHECK(loads == 4);
    CHECK(eml__metrics_get(m, EML_METRIC_CACHE_HITS, "a") == 1);
    CHECK(eml__metrics_get(m, EML_METRIC_CACHE_EVICTIONS, "b") == 1);
    CHECK(eml__metrics_get(m, EML_METRIC_MODELS_LOADED, NULL) == 2);
    use(c, "zz", EML_ENOTFOUND);
    eml__cache_destroy(c);
    eml__metrics_destroy(m);
    CHECK(counting.live_bytes == 0 || counting.live_count <= 2); /* only the env itself */
}

/* The adaptive policy reads queue depths on every request: that read must neither count as a
 * hit nor make the model recently used. */
EML_TEST(queue_depth_is_neither_a_hit_nor_a_use)
{
    uint64_t one = model_bytes();
    eml__cache *c = make(one * 5 / 2, NULL); /* room for two */
    use(c, "a", EML_OK);
    use(c, "b", EML_OK);
    CHECK(eml__cache_queued(c, "a", 0) == 0 && eml__cache_queued(c, "a", 1) == 0);
    CHECK(eml__cache_queued(c, "a", 2) == 0 && eml__cache_queued(c, "zz", 0) == 0);
    use(c, "c", EML_OK); /* a is still the least recently used: evicted */
    CHECK(!eml__cache_is_loaded(c, "a", 0) && eml__cache_is_loaded(c, "b", 0));
    eml__cache_stats s;
    eml__cache_stats_get(c, &s);
    CHECK(s.hits == 0 && s.misses == 3);
    eml__cache_destroy(c);
}

EML_TEST(models_in_use_are_not_evicted)
{
    uint64_t one = model_bytes();
    eml__cache *c = make(one * 3 / 2, NULL); /* room for one */
    eml__served *a = NULL;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__cache_acquire(c, "a", 0, &a, &d), &d);
    use(c, "b", EML_ELIMIT); /* a is in use: b does not fit */
    CHECK(eml__cache_is_loaded(c, "a", 0) && !eml__cache_is_loaded(c, "b", 0));
    eml__cache_release(c, a);
    use(c, "b", EML_OK);
    CHECK(!eml__cache_is_loaded(c, "a", 0));
    /* a model larger than the whole budget is refused */
    eml__cache_destroy(c);
    c = make(one / 2, NULL);
    use(c, "a", EML_ELIMIT);
    eml__cache_destroy(c);
}

EML_TEST(prefetch_and_unload)
{
    eml__cache *c = make(0, NULL);
    eml_diag d;
    eml_diag_init(&d);
    loads = 0;
    REQUIRE_OK(eml__cache_prefetch(c, "d", 0, &d), &d);
    CHECK(eml__cache_is_loaded(c, "d", 1));
    use(c, "d", EML_OK);
    eml__cache_stats s;
    eml__cache_stats_get(c, &s);
    CHECK(s.prefetches == 1 && s.misses == 0 && s.hits == 1 && loads == 1);
    /* unloading a model in use frees it at its release */
    eml__served *h = NULL;
    REQUIRE_OK(eml__cache_acquire(c, "d", 0, &h, &d), &d);
    CHECK_STATUS(eml__cache_unload(c, "d", 0, &d), EML_OK);
    CHECK(!eml__cache_is_loaded(c, "d", 0));
    CHECK(strcmp(eml__served_name(h), "d") == 0);
    eml__cache_release(c, h);
    CHECK_STATUS(eml__cache_unload(c, "d", 0, &d), EML_ENOTFOUND);
    CHECK_STATUS(eml__cache_prefetch(c, "d", 7, &d), EML_ENOTFOUND);
    eml__cache_destroy(c);
}

EML_TEST(memory_is_returned_over_load_unload_cycles)
{
    eml__cache *c = make(0, NULL);
    eml_diag d;
    eml_diag_init(&d);
    uint64_t rss_warm = 0, live_warm = 0;
    for (int i = 0; i < 60; i++) {
        use(c, "e", EML_OK);
        REQUIRE(eml__cache_unload(c, "e", 0, &d) == EML_OK);
        if (i == 9) {
            rss_warm = eml__rss_bytes();
            live_warm = counting.live_bytes;
        }
    }
    uint64_t rss_end = eml__rss_bytes();
    printf("RSS after 10 cycles %.1f MB, after 60 %.1f MB; env live bytes %llu -> %llu\n",
           rss_warm / 1e6, rss_end / 1e6, (unsigned long long)live_warm,
           (unsigned long long)counting.live_bytes);
    CHECK(counting.live_bytes == live_warm);
    /* One model holds about 2 MB: 50 leaked cycles would add 100 MB. (AddressSanitizer keeps
     * freed memory in its quarantine by design: there only the live bytes are checked.) */
#ifndef __SANITIZE_ADDRESS__
    CHECK(rss_end < rss_warm + (4u << 20));
#endif
    eml__cache_destroy(c);
}
