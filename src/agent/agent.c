/* The agent's life: options, the env with a byte-counting allocator, the repository, the cache
 * wired to it, the HTTP front; and the JSON-text entry to the command handler. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "core/core.h"
#include "serve/repository.h"

void eml_agent_options_init(eml_agent_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = sizeof(*opts);
    opts->optimize_level = 2;
}

/* The env's allocator: aligned like the default one, and counting live bytes so that the cache
 * can measure what a model really holds. Thread-safe (requests load and run concurrently). */
static void *count_alloc(void *user, size_t bytes)
{
    eml_agent *a = user;
    void *p = NULL;
    size_t rounded = (bytes + EML_ALIGN - 1) / EML_ALIGN * EML_ALIGN;
    if (posix_memalign(&p, EML_ALIGN, rounded ? rounded : EML_ALIGN) != 0)
        return NULL;
    atomic_fetch_add(&a->live_bytes, malloc_usable_size(p));
    return p;
}

static void count_free(void *user, void *ptr)
{
    eml_agent *a = user;
    if (!ptr)
        return;
    atomic_fetch_sub(&a->live_bytes, malloc_usable_size(ptr));
    free(ptr);
}

static uint64_t live_bytes(void *user)
{
    eml_agent *a = user;
    return atomic_load(&a->live_bytes);
}

static eml_status resolve(void *user, const char *name, int64_t *version, eml_diag *diag)
{
    eml_agent *a = user;
    uint32_t v = 0;
    eml_status st = eml_repo_current(a->repo, name, &v);
    if (st == EML_ENOTFOUND)
        return eml__diag(diag, st, "model '%s' is not in the repository", name);
    if (st != EML_OK)
        return eml__diag(diag, st, "model '%s': invalid name or unreadable repository", name);
    *version = v;
    return EML_OK;
}

/* The "batching" object of a version's config.json overrides the agent's defaults:
 * {"max_batch_size": 8, "max_queue_delay_us": 2000, "preferred_batch_size": [4, 8],
 *  "max_queue": 64, "workers": 1}. An unreadable config keeps the defaults. */
static void read_batching(eml_agent *a, const char *name, uint32_t version, eml__batch_options *b)
{
    char path[4096];
    if (eml_repo_path(a->repo, name, version, EML_REPO_FILE_CONFIG, path, sizeof(path), NULL))
        return;
    /* the whole config: a drift profile of many channels makes it large */
    void *text = NULL;
    size_t n = 0;
    if (eml__fs_read_file(a->env, path, 64u << 20, &text, &n, NULL) != EML_OK)
        return;
    cJSON *cfg = cJSON_ParseWithLength(text, n);
    eml__free(a->env, text);
    const cJSON *bt = cJSON_GetObjectItemCaseSensitive(cfg, "batching");
    const cJSON *v;
    if ((v = cJSON_GetObjectItemCaseSensitive(bt, "max_batch_size")) && cJSON_IsNumber(v) &&
        v->valuedouble >= 0 && v->valuedouble <= 4096)
        b->max_batch_size = (uint32_t)v->valuedouble;
    if ((v = cJSON_GetObjectItemCaseSensitive(bt, "max_queue_delay_us")) && cJSON_IsNumber(v) &&
        v->valuedouble >= 0 && v->valuedouble <= 10e6)
        b->max_queue_delay_us = (uint64_t)v->valuedouble;
    if ((v = cJSON_GetObjectItemCaseSensitive(bt, "max_queue")) && cJSON_IsNumber(v) &&
        v->valuedouble >= 1 && v->valuedouble <= 1e6)
        b->max_queue = (uint32_t)v->valuedouble;
    if ((v = cJSON_GetObjectItemCaseSensitive(bt, "workers")) && cJSON_IsNumber(v) &&
        v->valuedouble >= 1 && v->valuedouble <= 64)
        b->n_workers = (uint32_t)v->valuedouble;
    const cJSON *pref = cJSON_GetObjectItemCaseSensitive(bt, "preferred_batch_size");
    if (cJSON_IsArray(pref)) {
        b->n_preferred = 0;
        cJSON_ArrayForEach(v, pref)
        {
            if (cJSON_IsNumber(v) && v->valuedouble >= 1 && v->valuedouble <= 4096 &&
                b->n_preferred < EML__MAX_PREFERRED)
                b->preferred[b->n_preferred++] = (uint32_t)v->valuedouble;
        }
    }
    cJSON_Delete(cfg);
}

static eml_status load(void *user, const char *name, int64_t version, eml_graph **graph,
                       eml_plan **plan, eml__batch_options *batch, eml_diag *diag)
{
    eml_agent *a = user;
    if (version <= 0 || version > UINT32_MAX)
        return eml__diag(diag, EML_ENOTFOUND, "model '%s' has no version %lld", name,
                         (long long)version);
    eml_status st = eml_repo_load(a->repo, name, (uint32_t)version, graph, plan, NULL, diag);
    if (st == EML_OK)
        read_batching(a, name, (uint32_t)version, batch);
    return st;
}

/* A deploy's health check compiled the new version: keep it loaded instead of loading again. */
static void on_compiled(void *user, const char *model, uint32_t version, eml_graph *graph,
                        eml_plan *plan)
{
    eml_agent *a = user;
    if (a->cache) {
        eml__batch_options b;
        eml__batch_options_init(&b);
        b.max_batch_size = a->o.max_batch_size;
        b.max_queue_delay_us = a->o.max_queue_delay_us;
        b.max_queue = a->o.max_queue;
        read_batching(a, model, version, &b);
        eml__cache_adopt(a->cache, model, version, graph, plan, &b, NULL);
    } else {
        eml_plan_destroy(plan);
        eml_graph_destroy(graph);
    }
}

/* The serving version changed (deploy or rollback): the one it replaced leaves memory, so that
 * versions do not pile up in the cache (requests holding it finish first). */
static void on_serving(void *user, const char *model, uint32_t version, uint32_t previous)
{
    eml_agent *a = user;
    (void)version;
    if (a->cache && previous)
        eml__cache_unload(a->cache, model, previous, NULL);
}

eml_status eml_agent_create(const eml_agent_options *opts, eml_agent **out, eml_diag *diag)
{
    *out = NULL;
    if (!opts || opts->struct_size == 0 || opts->struct_size > sizeof(eml_agent_options) ||
        !opts->repo_dir)
        return eml__diag(diag, EML_EINVAL, "agent options: a repository folder is required");
    eml_agent *a = calloc(1, sizeof(*a));
    if (!a)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    eml_agent_options_init(&a->o);
    memcpy(&a->o, opts, opts->struct_size);
    eml_agent_options *o = &a->o;
    if (!o->max_body_bytes)
        o->max_body_bytes = 64ull << 20;
    if (!o->max_model_bytes)
        o->max_model_bytes = 256ull << 20;
    if (!o->max_concurrent)
        o->max_concurrent = 64;
    if (!o->max_queue)
        o->max_queue = 64;
    if (!o->max_batch_size)
        o->max_batch_size = 8;
    if (!o->max_queue_delay_us)
        o->max_queue_delay_us = 2000;
    else if (o->max_queue_delay_us == EML_AGENT_NO_DELAY)
        o->max_queue_delay_us = 0; /* from here on 0 is a real zero: the batcher's meaning */
    if (!o->request_timeout_ms)
        o->request_timeout_ms = 30000;
    eml_status st = EML_ENOMEM;
    a->repo_dir = strdup(opts->repo_dir);
    a->listen = opts->listen ? strdup(opts->listen) : NULL;
    a->key = opts->trusted_key_hex ? strdup(opts->trusted_key_hex) : NULL;
    if (!a->repo_dir || (opts->listen && !a->listen) || (opts->trusted_key_hex && !a->key)) {
        eml__diag(diag, st, "out of memory");
        goto fail;
    }
    o->repo_dir = a->repo_dir;
    o->listen = a->listen;
    o->trusted_key_hex = a->key;

    a->allocator = (eml_allocator){count_alloc, count_free, a};
    eml_env_options eo;
    eml_env_options_init(&eo);
    eo.allocator = &a->allocator;
    eo.n_threads = o->n_threads;
    st = eml_env_create(&eo, &a->env);
    if (st != EML_OK) {
        eml__diag(diag, st, "cannot create the environment");
        goto fail;
    }
    EML_TRY(eml__metrics_create(&a->metrics));

    eml_repo_options ro;
    eml_repo_options_init(&ro);
    ro.keep_versions = o->keep_versions;
    ro.trusted_key_hex = o->trusted_key_hex;
    ro.optimize_level = o->optimize_level;
    ro.map_weights = !o->no_map_weights;
    ro.max_latency_ms = o->health_max_latency_ms;
    ro.n_threads = o->n_threads;
    ro.user = a;
    ro.on_compiled = on_compiled;
    ro.on_serving = on_serving;
    EML_TRY(eml_repo_create(a->env, o->repo_dir, &ro, &a->repo, diag));

    eml__cache_options co;
    memset(&co, 0, sizeof(co));
    co.budget_bytes = o->memory_budget_bytes;
    eml__batch_options_init(&co.batch);
    co.batch.max_batch_size = o->max_batch_size;
    co.batch.max_queue_delay_us = o->max_queue_delay_us;
    co.batch.max_queue = o->max_queue;
    co.metrics = a->metrics;
    co.resolve = resolve;
    co.load = load;
    co.user = a;
    co.live_bytes = live_bytes;
    EML_TRY(eml__cache_create(&co, &a->cache));
    EML_TRY(eml__route_init(a, o->power_mode, diag));
    EML_TRY(eml__drift_init(a));
    o->power_mode = NULL; /* parsed; the caller's string is not kept */

    if (o->listen)
        EML_TRY(eml__http_start(a, o->listen, &a->http, diag));
    if (o->broker)
        EML_TRY(eml__mqtt_start(a, &a->mqtt, diag));
    o->broker = o->site = o->node_id = NULL; /* copied by the MQTT front */
    o->tls_ca = o->tls_cert = o->tls_key = NULL; /* given to libmosquitto, which copies them */
    *out = a;
    return EML_OK;
fail:
    if (diag && diag->status == EML_OK)
        eml__diag(diag, st, "cannot start the agent");
    eml_agent_destroy(a);
    return st;
}

void eml_agent_destroy(eml_agent *a)
{
    if (!a)
        return;
    eml__mqtt_stop(a->mqtt); /* first: its workers run commands through the handler */
    eml__http_stop(a->http);
    eml__route_deinit(a);
    eml__drift_deinit(a);
    eml__cache_destroy(a->cache);
    eml_repo_destroy(a->repo);
    eml__metrics_destroy(a->metrics);
    eml_env_destroy(a->env);
    free(a->repo_dir);
    free(a->listen);
    free(a->key);
    free(a);
}

uint16_t eml_agent_port(const eml_agent *a)
{
    return a && a->http ? eml__http_port(a->http) : 0;
}

eml_status eml_agent_command(eml_agent *a, const char *json, size_t json_bytes, char **reply_text,
                             int *http_status)
{
    *reply_text = NULL;
    eml__reply reply;
    memset(&reply, 0, sizeof(reply));
    cJSON *cmd = cJSON_ParseWithLength(json, json_bytes);
    if (!cmd) {
        eml_diag d;
        eml_diag_init(&d);
        eml__diag(&d, EML_EINVAL, "the command is not valid JSON");
        eml__reply_error(&reply, EML_EINVAL, &d);
    } else {
        eml__request req = {cmd, NULL, 0};
        eml__agent_handle(a, &req, &reply);
        cJSON_Delete(cmd);
    }
    *http_status = reply.http_status;
    if (reply.json)
        *reply_text = cJSON_PrintUnformatted(reply.json);
    else if (reply.text) {
        cJSON *wrap = cJSON_CreateObject();
        if (wrap && cJSON_AddStringToObject(wrap, "text", reply.text))
            *reply_text = cJSON_PrintUnformatted(wrap);
        cJSON_Delete(wrap);
    }
    eml__reply_free(&reply);
    return *reply_text ? EML_OK : EML_ENOMEM;
}
