/* The model cache: loaded models within a memory budget, least recently used evicted first,
 * loaded again on demand; each loaded model has its own batcher. */
#ifndef EML_SERVE_CACHE_H
#define EML_SERVE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "edgeml/graph.h"
#include "edgeml/runtime.h"
#include "serve/batcher.h"
#include "serve/metrics.h"

/* Resolves version 0 ("the serving one") of a model to its number. Returns EML_OK or
 * EML_ENOTFOUND (with a diag). */
typedef eml_status (*eml__resolve_fn)(void *user, const char *name, int64_t *version,
                                      eml_diag *diag);
/* Loads and compiles a version. graph, plan: taken by the cache. batch: preset to the cache's
 * defaults; the loader may override them from the model's config. */
typedef eml_status (*eml__load_fn)(void *user, const char *name, int64_t version,
                                   eml_graph **graph, eml_plan **plan, eml__batch_options *batch,
                                   eml_diag *diag);

typedef struct eml__cache_options {
    uint64_t budget_bytes;      /* bytes all loaded models may hold; 0: unlimited */
    eml__batch_options batch;   /* defaults for every model */
    eml__metrics *metrics;      /* borrowed, may be NULL */
    eml__resolve_fn resolve;    /* required */
    eml__load_fn load;          /* required */
    void *user;                 /* passed to resolve, load and live_bytes */
    /* Live bytes of the allocator the loader uses, when known: a model's size is then measured
     * as the growth across its load (loads are serialized); NULL: estimated from the graph's
     * parameters and the plan's arena. */
    uint64_t (*live_bytes)(void *user);
} eml__cache_options;

typedef struct eml__cache eml__cache;
typedef struct eml__served eml__served;

/* opts: copied. Returns EML_OK, EML_EINVAL, EML_ENOMEM. */
eml_status eml__cache_create(const eml__cache_options *opts, eml__cache **out);
/* Every acquired model must have been released. NULL is a no-op. */
void eml__cache_destroy(eml__cache *c);

/* Finds the model in memory (a hit) or loads it (a miss), evicting unused models as the budget
 * requires, and holds it until eml__cache_release. Returns EML_OK, EML_ENOTFOUND, EML_ELIMIT
 * (the model does not fit in the budget beside the models in use), or the loader's status.
 * Thread-safe. */
eml_status eml__cache_acquire(eml__cache *c, const char *name, int64_t version, eml__served **out,
                              eml_diag *diag);
void eml__cache_release(eml__cache *c, eml__served *s);

/* Loads a model ahead of use (counted as a prefetch, not a miss). Same statuses as acquire. */
eml_status eml__cache_prefetch(eml__cache *c, const char *name, int64_t version, eml_diag *diag);

/* Keeps a model compiled elsewhere (a deploy's health check) as loaded and unused, when it fits
 * in the budget; otherwise destroys it. graph, plan: taken. Returns EML_OK or EML_ELIMIT. */
eml_status eml__cache_adopt(eml__cache *c, const char *name, int64_t version, eml_graph *graph,
                            eml_plan *plan, const eml__batch_options *batch, eml_diag *diag);

/* Unloads a model (version 0: every version of it); its memory is freed once the requests in
 * flight finish. Returns EML_OK or EML_ENOTFOUND when nothing of that name is loaded. */
eml_status eml__cache_unload(eml__cache *c, const char *name, int64_t version, eml_diag *diag);

/* 1 when that version (0: any version) is in memory. */
int eml__cache_is_loaded(eml__cache *c, const char *name, int64_t version);

/* Requests waiting in the batcher of that version (0: of every version of the model in memory);
 * 0 when it is not in memory. Neither a hit
 * nor a use: it leaves the statistics and the eviction order as they are. */
uint32_t eml__cache_queued(eml__cache *c, const char *name, int64_t version);

typedef struct eml__cache_stats {
    uint64_t hits, misses, evictions, prefetches, unloads;
    uint64_t bytes, budget_bytes;
    uint32_t n_loaded;
} eml__cache_stats;

void eml__cache_stats_get(eml__cache *c, eml__cache_stats *out);

/* Calls fn for each loaded model, most recently used first, under the cache's lock (fn must not
 * call back into the cache). */
void eml__cache_list(eml__cache *c,
                     void (*fn)(void *user, const char *name, int64_t version, uint64_t bytes,
                                uint32_t in_use),
                     void *user);

/* Views of an acquired model, valid until it is released. */
const char *eml__served_name(const eml__served *s);
int64_t eml__served_version(const eml__served *s);
const eml_graph *eml__served_graph(const eml__served *s);
eml__batcher *eml__served_batcher(eml__served *s);
/* The compiled plan the model's batcher runs (shareable: a bench opens its own session on it). */
const eml_plan *eml__served_plan(const eml__served *s);

#endif
