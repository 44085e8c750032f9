/* The model cache: an LRU list of loaded models under one lock, loads serialized by a second
 * lock, eviction of unused models to fit the memory budget, memory returned to the system. */
#include <malloc.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "serve/cache.h"

struct eml__served {
    char name[128];
    int64_t version;
    eml_graph *graph;
    eml_plan *plan;
    eml__batcher *batcher;
    uint64_t bytes;
    uint32_t refs;
    int retired; /* out of the list; destroyed by the last release */
    struct eml__served *prev, *next;
};

struct eml__cache {
    eml__cache_options o;
    pthread_mutex_t lock;      /* the list, counters */
    pthread_mutex_t load_lock; /* one load at a time: memory is measured across it */
    eml__served *head, *tail;  /* most recently used first */
    eml__cache_stats stats;
};

static void publish(eml__cache *c)
{
    eml__metrics_set(c->o.metrics, EML_METRIC_CACHE_BYTES, NULL, (double)c->stats.bytes);
    eml__metrics_set(c->o.metrics, EML_METRIC_CACHE_BUDGET, NULL, (double)c->o.budget_bytes);
    eml__metrics_set(c->o.metrics, EML_METRIC_MODELS_LOADED, NULL, (double)c->stats.n_loaded);
}

eml_status eml__cache_create(const eml__cache_options *opts, eml__cache **out)
{
    *out = NULL;
    if (!opts || !opts->resolve || !opts->load)
        return EML_EINVAL;
    eml__cache *c = calloc(1, sizeof(*c));
    if (!c)
        return EML_ENOMEM;
    c->o = *opts;
    c->stats.budget_bytes = opts->budget_bytes;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->load_lock, NULL);
    publish(c);
    *out = c;
    return EML_OK;
}

/* Frees a model and gives the freed pages back to the system: glibc keeps freed heap memory in
 * its arenas, so without the trim an unloaded model would still count in the process's RSS. */
static void served_destroy(eml__served *s, int trim)
{
    if (!s)
        return;
    eml__batcher_destroy(s->batcher);
    eml_plan_destroy(s->plan);
    eml_graph_destroy(s->graph);
    free(s);
    if (trim)
        malloc_trim(0);
}

void eml__cache_destroy(eml__cache *c)
{
    if (!c)
        return;
    for (eml__served *s = c->head, *next; s; s = next) {
        next = s->next;
        served_destroy(s, 0);
    }
    malloc_trim(0);
    pthread_mutex_destroy(&c->lock);
    pthread_mutex_destroy(&c->load_lock);
    free(c);
}

/* ---- the list (lock held) ---- */

static void unlink_served(eml__cache *c, eml__served *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        c->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        c->tail = s->prev;
    s->prev = s->next = NULL;
    c->stats.bytes -= s->bytes;
    c->stats.n_loaded--;
}

static void push_front(eml__cache *c, eml__served *s)
{
    s->prev = NULL;
    s->next = c->head;
    if (c->head)
        c->head->prev = s;
    c->head = s;
    if (!c->tail)
        c->tail = s;
    c->stats.bytes += s->bytes;
    c->stats.n_loaded++;
}

static eml__served *find(eml__cache *c, const char *name, int64_t version)
{
    for (eml__served *s = c->head; s; s = s->next)
        if (s->version == version && strcmp(s->name, name) == 0)
            return s;
    return NULL;
}

static void touch(eml__cache *c, eml__served *s)
{
    uint64_t bytes = s->bytes;
    unlink_served(c, s);
    s->bytes = bytes;
    push_front(c, s);
}

/* Takes unused models off the tail until `need` more bytes fit; they go to *victims for the
 * caller to destroy after unlocking. Returns 1 when it fits. */
static int evict_for(eml__cache *c, uint64_t need, eml__served **victims)
{
    if (!c->o.budget_bytes)
        return 1;
    for (eml__served *s = c->tail, *prev; s && c->stats.bytes + need > c->o.budget_bytes;
         s = prev) {
        prev = s->prev;
        if (s->refs)
            continue;
        unlink_served(c, s);
        s->next = *victims;
        *victims = s;
        c->stats.evictions++;
        eml__metrics_add(c->o.metrics, EML_METRIC_CACHE_EVICTIONS, s->name, 1);
    }
    return c->stats.bytes + need <= c->o.budget_bytes;
}

static void destroy_list(eml__served *victims)
{
    int any = victims != NULL;
    for (eml__served *s = victims, *next; s; s = next) {
        next = s->next;
        served_destroy(s, 0);
    }
    if (any)
        malloc_trim(0);
}

/* ---- loading ---- */

/* Without a measure: the weights twice (the graph's and the plan's packed copy of the Conv/Gemm
 * weights, which dominate) and one arena per worker. */
static uint64_t estimate_bytes(const eml_graph *g, const eml_plan *p, uint32_t workers)
{
    eml_graph_stats gs;
    eml_plan_memory pm;
    eml_graph_stats_get(g, &gs);
    eml_plan_memory_get(p, &pm);
    return 2 * gs.parameter_bytes + pm.arena_bytes * (workers ? workers : 1);
}

/* Wraps a compiled model with its batcher. Measures bytes when the loader's allocator is known:
 * `before` is its live bytes before the load. */
static eml_status make_served(eml__cache *c, const char *name, int64_t version, eml_graph *g,
                              eml_plan *p, const eml__batch_options *batch, uint64_t before,
                              eml__served **out, eml_diag *diag)
{
    *out = NULL;
    eml__served *s = calloc(1, sizeof(*s));
    if (!s) {
        eml_plan_destroy(p);
        eml_graph_destroy(g);
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    }
    snprintf(s->name, sizeof(s->name), "%s", name);
    s->version = version;
    s->graph = g;
    s->plan = p;
    eml_status st = eml__batcher_create(g, p, batch, c->o.metrics, name, &s->batcher, diag);
    if (st != EML_OK) {
        served_destroy(s, 1);
        return st;
    }
    uint64_t estimate = estimate_bytes(g, p, batch->n_workers);
    s->bytes = estimate;
    if (c->o.live_bytes && before) {
        uint64_t now = c->o.live_bytes(c->o.user);
        if (now > before)
            s->bytes = EML_MAX(now - before, estimate);
    }
    *out = s;
    return EML_OK;
}

/* Puts a new model at the front after evicting for it; on failure destroys it. Lock not held. */
static eml_status insert(eml__cache *c, eml__served *s, uint32_t refs, eml__served **out,
                         eml_diag *diag)
{
    eml__served *victims = NULL;
    pthread_mutex_lock(&c->lock);
    int fits = evict_for(c, s->bytes, &victims);
    if (fits) {
        s->refs = refs;
        push_front(c, s);
    }
    uint64_t used = c->stats.bytes;
    publish(c);
    pthread_mutex_unlock(&c->lock);
    destroy_list(victims);
    if (!fits) {
        eml_status st = eml__diag(diag, EML_ELIMIT,
                                  "model '%s' needs %llu bytes: over the memory budget of %llu "
                                  "bytes with %llu bytes held by models in use",
                                  s->name, (unsigned long long)s->bytes,
                                  (unsigned long long)c->o.budget_bytes,
                                  (unsigned long long)used);
        served_destroy(s, 1);
        return st;
    }
    if (out)
        *out = s;
    return EML_OK;
}

static eml_status get(eml__cache *c, const char *name, int64_t version, int prefetch,
                      eml__served **out, eml_diag *diag)
{
    if (out)
        *out = NULL;
    eml_status st = EML_OK;
    if (version <= 0) {
        st = c->o.resolve(c->o.user, name, &version, diag);
        if (st != EML_OK)
            return st;
    }
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            pthread_mutex_lock(&c->load_lock);
        pthread_mutex_lock(&c->lock);
        eml__served *s = find(c, name, version);
        if (s) {
            touch(c, s);
            if (!prefetch) {
                s->refs++;
                c->stats.hits++;
                eml__metrics_add(c->o.metrics, EML_METRIC_CACHE_HITS, name, 1);
            }
            if (out)
                *out = s;
        }
        pthread_mutex_unlock(&c->lock);
        if (s) {
            if (pass == 1)
                pthread_mutex_unlock(&c->load_lock);
            return EML_OK;
        }
    }
    /* Loading, with load_lock held. */
    pthread_mutex_lock(&c->lock);
    if (prefetch) {
        c->stats.prefetches++;
        eml__metrics_add(c->o.metrics, EML_METRIC_CACHE_PREFETCHES, name, 1);
    } else {
        c->stats.misses++;
        eml__metrics_add(c->o.metrics, EML_METRIC_CACHE_MISSES, name, 1);
    }
    pthread_mutex_unlock(&c->lock);
    uint64_t before = c->o.live_bytes ? c->o.live_bytes(c->o.user) : 0;
    eml_graph *g = NULL;
    eml_plan *p = NULL;
    eml__batch_options batch = c->o.batch;
    eml__served *s = NULL;
    st = c->o.load(c->o.user, name, version, &g, &p, &batch, diag);
    if (st == EML_OK)
        st = make_served(c, name, version, g, p, &batch, before, &s, diag);
    if (st == EML_OK)
        st = insert(c, s, prefetch ? 0 : 1, out, diag);
    pthread_mutex_unlock(&c->load_lock);
    return st;
}

eml_status eml__cache_acquire(eml__cache *c, const char *name, int64_t version, eml__served **out,
                              eml_diag *diag)
{
    return get(c, name, version, 0, out, diag);
}

eml_status eml__cache_prefetch(eml__cache *c, const char *name, int64_t version, eml_diag *diag)
{
    return get(c, name, version, 1, NULL, diag);
}

void eml__cache_release(eml__cache *c, eml__served *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&c->lock);
    EML_ASSERT(s->refs > 0);
    s->refs--;
    int gone = s->retired && s->refs == 0;
    pthread_mutex_unlock(&c->lock);
    if (gone)
        served_destroy(s, 1);
}

eml_status eml__cache_adopt(eml__cache *c, const char *name, int64_t version, eml_graph *graph,
                            eml_plan *plan, const eml__batch_options *batch, eml_diag *diag)
{
    pthread_mutex_lock(&c->load_lock);
    pthread_mutex_lock(&c->lock);
    int present = find(c, name, version) != NULL;
    pthread_mutex_unlock(&c->lock);
    eml_status st = EML_OK;
    if (present) {
        eml_plan_destroy(plan);
        eml_graph_destroy(graph);
    } else {
        eml__served *s = NULL;
        st = make_served(c, name, version, graph, plan, batch ? batch : &c->o.batch, 0, &s, diag);
        if (st == EML_OK)
            st = insert(c, s, 0, NULL, diag);
    }
    pthread_mutex_unlock(&c->load_lock);
    return st;
}

eml_status eml__cache_unload(eml__cache *c, const char *name, int64_t version, eml_diag *diag)
{
    eml__served *victims = NULL;
    int found = 0;
    pthread_mutex_lock(&c->lock);
    for (eml__served *s = c->head, *next; s; s = next) {
        next = s->next;
        if (strcmp(s->name, name) != 0 || (version > 0 && s->version != version))
            continue;
        found = 1;
        unlink_served(c, s);
        c->stats.unloads++;
        eml__metrics_add(c->o.metrics, EML_METRIC_CACHE_UNLOADS, name, 1);
        if (s->refs) {
            s->retired = 1;
        } else {
            s->next = victims;
            victims = s;
        }
    }
    publish(c);
    pthread_mutex_unlock(&c->lock);
    destroy_list(victims);
    if (!found)
        return eml__diag(diag, EML_ENOTFOUND, "model '%s' is not loaded", name);
    return EML_OK;
}

int eml__cache_is_loaded(eml__cache *c, const char *name, int64_t version)
{
    int yes = 0;
    pthread_mutex_lock(&c->lock);
    for (eml__served *s = c->head; s && !yes; s = s->next)
        yes = strcmp(s->name, name) == 0 && (version <= 0 || s->version == version);
    pthread_mutex_unlock(&c->lock);
    return yes;
}

uint32_t eml__cache_queued(eml__cache *c, const char *name, int64_t version)
{
    uint32_t n = 0;
    pthread_mutex_lock(&c->lock);
    for (eml__served *s = c->head; s; s = s->next)
        if (strcmp(s->name, name) == 0 && (version <= 0 || s->version == version) && s->batcher)
            n += eml__batcher_queued(s->batcher);
    pthread_mutex_unlock(&c->lock);
    return n;
}

void eml__cache_stats_get(eml__cache *c, eml__cache_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->stats;
    pthread_mutex_unlock(&c->lock);
}

void eml__cache_list(eml__cache *c,
                     void (*fn)(void *user, const char *name, int64_t version, uint64_t bytes,
                                uint32_t in_use),
                     void *user)
{
    pthread_mutex_lock(&c->lock);
    for (eml__served *s = c->head; s; s = s->next)
        fn(user, s->name, s->version, s->bytes, s->refs);
    pthread_mutex_unlock(&c->lock);
}

const char *eml__served_name(const eml__served *s)
{
    return s->name;
}

int64_t eml__served_version(const eml__served *s)
{
    return s->version;
}

const eml_graph *eml__served_graph(const eml__served *s)
{
    return s->graph;
}

eml__batcher *eml__served_batcher(eml__served *s)
{
    return s->batcher;
}

const eml_plan *eml__served_plan(const eml__served *s)
{
    return s->plan;
}
