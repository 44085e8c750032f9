/* The agent's input drift: one monitor per model version, made from the "drift" profile of the
 * version's config.json when the version first serves, fed by every inference request, and the
 * ops model.drift / model.drift.reset that report it (also as metrics and in node status). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "core/core.h"
#include "serve/drift.h"

/* Versions monitored at once; beyond, the least recently used unused one is dropped (and made
 * again from its config when it serves again, with an empty window). */
#define MAX_ENTRIES 256
/* Largest config.json read (a profile of many feature channels is big, but not this big). */
#define MAX_CONFIG_BYTES (64u << 20)

typedef struct entry {
    char model[EML_REPO_MAX_NAME + 1];
    int64_t version;
    eml__drift *d;   /* NULL: no profile, or one that does not parse */
    char error[512]; /* why the profile is unusable ("" when usable or absent); under the lock */
    int refs;        /* holders outside the set's lock */
    int detached;    /* dropped from the set while held: freed by the last holder */
    uint64_t last_use;
} entry;

struct eml__drift_set {
    pthread_mutex_t lock;
    entry *e[MAX_ENTRIES];
    size_t n;
    uint64_t tick;
};

eml_status eml__drift_init(eml_agent *a)
{
    a->drift = calloc(1, sizeof(*a->drift));
    if (!a->drift)
        return EML_ENOMEM;
    pthread_mutex_init(&a->drift->lock, NULL);
    return EML_OK;
}

static void entry_free(entry *e)
{
    eml__drift_destroy(e->d);
    free(e);
}

void eml__drift_deinit(eml_agent *a)
{
    if (!a->drift)
        return;
    for (size_t i = 0; i < a->drift->n; i++)
        entry_free(a->drift->e[i]);
    pthread_mutex_destroy(&a->drift->lock);
    free(a->drift);
    a->drift = NULL;
}

/* The version's config.json as parsed JSON; NULL with *st set when it cannot be read. */
static cJSON *read_config(eml_agent *a, const char *model, int64_t version, eml_status *st,
                          eml_diag *diag)
{
    char path[4096];
    *st = eml_repo_path(a->repo, model, (uint32_t)version, EML_REPO_FILE_CONFIG, path, sizeof(path),
                        NULL);
    if (*st != EML_OK) {
        eml__diag(diag, *st, "model '%s' has no version %lld in the repository", model,
                  (long long)version);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n = -1;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n <= (long)MAX_CONFIG_BYTES &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) == (size_t)n) {
        buf[n] = 0;
    } else {
        free(buf);
        buf = NULL;
    }
    if (f)
        fclose(f);
    if (!buf) {
        *st = eml__diag(diag, EML_EIO, "cannot read the config of '%s' version %lld", model,
                        (long long)version);
        return NULL;
    }
    cJSON *cfg = cJSON_Parse(buf);
    free(buf);
    *st = cfg ? EML_OK
              : eml__diag(diag, EML_ECORRUPT, "the config of '%s' version %lld is not JSON", model,
                          (long long)version);
    return cfg;
}

/* A new entry for the version from its config; NULL with *st on a missing version or ENOMEM. */
static entry *entry_make(eml_agent *a, const char *model, int64_t version, eml_status *st,
                         eml_diag *diag)
{
    cJSON *cfg = read_config(a, model, version, st, diag);
    if (!cfg)
        return NULL;
    entry *e = calloc(1, sizeof(*e));
    if (!e) {
        cJSON_Delete(cfg);
        *st = eml__diag(diag, EML_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(e->model, sizeof(e->model), "%s", model);
    e->version = version;
    const cJSON *profile = cJSON_GetObjectItemCaseSensitive(cfg, "drift");
    if (profile) {
        eml_diag d;
        eml_diag_init(&d);
        if (eml__drift_create(profile, NULL, &e->d, &d) != EML_OK)
            snprintf(e->error, sizeof(e->error), "%s", d.message);
    }
    cJSON_Delete(cfg);
    return e;
}

/* Called with the lock held. */
static entry *find(eml__drift_set *s, const char *model, int64_t version)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->e[i]->version == version && strcmp(s->e[i]->model, model) == 0)
            return s->e[i];
    return NULL;
}

/* Called with the lock held: room for one more entry, dropping the least recently used. */
static void make_room(eml__drift_set *s)
{
    if (s->n < MAX_ENTRIES)
        return;
    size_t victim = 0;
    for (size_t i = 1; i < s->n; i++)
        if (s->e[i]->last_use < s->e[victim]->last_use)
            victim = i;
    entry *v = s->e[victim];
    if (v->refs)
        v->detached = 1;
    else
        entry_free(v);
    s->e[victim] = s->e[--s->n];
}

/* The entry of a version, held until put(); made from its config on first use. graph (may be
 * NULL): binds the profile to the served model on first use. NULL with *st when the version is
 * not in the repository or memory ran out. */
static entry *get(eml_agent *a, const char *model, int64_t version, const eml_graph *graph,
                  eml_status *st, eml_diag *diag)
{
    eml__drift_set *s = a->drift;
    *st = EML_OK;
    entry *e, *made = NULL;
    pthread_mutex_lock(&s->lock);
    while (!(e = find(s, model, version)) && !made) {
        /* Read outside the lock: requests for other models do not wait on the disk. */
        pthread_mutex_unlock(&s->lock);
        made = entry_make(a, model, version, st, diag);
        if (!made)
            return NULL;
        pthread_mutex_lock(&s->lock);
    }
    if (!e) {
        make_room(s);
        s->e[s->n++] = made;
        e = made;
        made = NULL;
    }
    e->refs++;
    e->last_use = ++s->tick;
    /* A profile that does not fit the model stays unbound (counting nothing) with the reason;
     * the monitor is freed only with its entry, as other holders may be reading it. */
    if (graph && e->d && !e->error[0] && !eml__drift_is_bound(e->d)) {
        eml_diag d;
        eml_diag_init(&d);
        if (eml__drift_bind(e->d, graph, &d) != EML_OK)
            snprintf(e->error, sizeof(e->error), "%s", d.message);
    }
    pthread_mutex_unlock(&s->lock);
    if (made)
        entry_free(made); /* another thread made it first */
    return e;
}

static void put(eml_agent *a, entry *e)
{
    pthread_mutex_lock(&a->drift->lock);
    int gone = --e->refs == 0 && e->detached;
    pthread_mutex_unlock(&a->drift->lock);
    if (gone)
        entry_free(e);
}

static void refresh_gauge(eml_agent *a, const char *model, eml__drift *d, eml__drift_summary *sum)
{
    eml__drift_summarize(d, sum);
    eml__metrics_set(a->metrics, EML_METRIC_DRIFT_PSI, model, sum->max_psi);
}

void eml__drift_on_infer(eml_agent *a, const char *model, int64_t version, const eml_graph *g,
                         const eml_tensor *inputs, size_t n_inputs)
{
    if (!a->drift)
        return;
    eml_status st;
    entry *e = get(a, model, version, g, &st, NULL);
    if (!e)
        return;
    if (e->d) {
        int refresh = 0;
        uint64_t rows = eml__drift_observe(e->d, inputs, n_inputs, &refresh);
        if (rows)
            eml__metrics_add(a->metrics, EML_METRIC_DRIFT_SAMPLES, model, (double)rows);
        if (refresh) {
            eml__drift_summary sum;
            refresh_gauge(a, model, e->d, &sum);
        }
    }
    put(a, e);
}

void eml__op_drift(eml_agent *a, const char *op, const eml__request *req, eml__reply *r)
{
    eml_diag d;
    eml_diag_init(&d);
    const char *model;
    int64_t version;
    eml_status st = eml__cmd_model(req->cmd, &model, &version, &d);
    if (st == EML_OK && version == 0) {
        uint32_t v = 0;
        st = eml_repo_current(a->repo, model, &v);
        if (st != EML_OK)
            eml__diag(&d, st, "model '%s' is not in the repository", model);
        version = v;
    }
    entry *e = st == EML_OK ? get(a, model, version, NULL, &st, &d) : NULL;
    if (!e) {
        eml__reply_error(r, st, &d);
        return;
    }
    char error[sizeof(e->error)];
    pthread_mutex_lock(&a->drift->lock);
    memcpy(error, e->error, sizeof(error));
    pthread_mutex_unlock(&a->drift->lock);
    int reset = strcmp(op, "model.drift.reset") == 0;
    const cJSON *bins = cJSON_GetObjectItemCaseSensitive(req->cmd, "bins");
    cJSON *o = NULL;
    if (e->d && !error[0]) {
        eml__drift_summary sum;
        if (reset)
            eml__drift_reset(e->d);
        refresh_gauge(a, model, e->d, &sum);
        o = eml__drift_report(e->d, cJSON_IsTrue(bins));
        if (o && !eml__drift_is_bound(e->d))
            cJSON_AddStringToObject(o, "note", "no request served yet by this agent");
    } else if ((o = cJSON_CreateObject())) {
        cJSON_AddStringToObject(o, "status", error[0] ? "invalid profile" : "no reference profile");
        if (error[0])
            cJSON_AddStringToObject(o, "error", error);
    }
    put(a, e);
    if (!o) {
        eml__reply_error(r, EML_ENOMEM, NULL);
        return;
    }
    char vs[24];
    snprintf(vs, sizeof(vs), "%lld", (long long)version);
    /* model and version first: replace the report's order by re-adding its items after them */
    cJSON *out = cJSON_CreateObject();
    if (!out) {
        cJSON_Delete(o);
        eml__reply_error(r, EML_ENOMEM, NULL);
        return;
    }
    cJSON_AddStringToObject(out, "model", model);
    cJSON_AddStringToObject(out, "version", vs);
    if (reset)
        cJSON_AddBoolToObject(out, "reset", 1);
    while (o->child) {
        cJSON *item = cJSON_DetachItemViaPointer(o, o->child);
        cJSON_AddItemToObject(out, item->string, item);
    }
    cJSON_Delete(o);
    r->http_status = 200;
    r->json = out;
}

void eml__drift_list_alerts(eml_agent *a, cJSON *arr)
{
    if (!a->drift || !arr)
        return;
    eml__drift_set *s = a->drift;
    pthread_mutex_lock(&s->lock);
    for (size_t i = 0; i < s->n; i++) {
        entry *e = s->e[i];
        if (!e->d || e->error[0])
            continue;
        eml__drift_summary sum;
        eml__drift_summarize(e->d, &sum);
        if (strcmp(sum.status, "warn") != 0 && strcmp(sum.status, "drift") != 0)
            continue;
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            break;
        }
        char vs[24];
        snprintf(vs, sizeof(vs), "%lld", (long long)e->version);
        cJSON_AddStringToObject(o, "model", e->model);
        cJSON_AddStringToObject(o, "version", vs);
        cJSON_AddStringToObject(o, "status", sum.status);
        cJSON_AddNumberToObject(o, "max_psi", round(sum.max_psi * 1e6) / 1e6);
        cJSON_AddNumberToObject(o, "samples", (double)sum.samples);
    }
    pthread_mutex_unlock(&s->lock);
}
