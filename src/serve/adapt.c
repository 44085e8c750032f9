/* The variant policy: per model a level (0 = the preferred variant) that moves one step cheaper
 * when a full window of the level's latencies has its p95 over the objective, and one step back
 * when it is under up_ratio times the objective; queue depth and low power act per request. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "serve/adapt.h"

typedef struct adapt_set {
    int used;
    uint64_t id;
    eml__adapt_config cfg;
    uint32_t level;
    double window[EML__ADAPT_MAX_WINDOW]; /* ring of the level's latencies, seconds */
    uint32_t n, head;
    uint64_t step_downs, step_ups;
    uint64_t choices[EML__ADAPT_MAX_VARIANTS][EML__ADAPT_REASON_COUNT];
} adapt_set;

struct eml__adapt {
    pthread_mutex_t mu;
    uint64_t next_id;
    adapt_set sets[EML__ADAPT_MAX_SETS];
};

static const char *const reason_names[EML__ADAPT_REASON_COUNT] = {"preferred", "slo", "queue",
                                                                  "power"};

const char *eml__adapt_reason_name(eml__adapt_reason r)
{
    return (unsigned)r < EML__ADAPT_REASON_COUNT ? reason_names[r] : "unknown";
}

void eml__adapt_policy_init(eml__adapt_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->window = 20;
    p->low_power = -1;
    p->up_ratio = 0.5;
}

eml_status eml__adapt_create(eml__adapt **out)
{
    eml__adapt *ad = calloc(1, sizeof(*ad));
    *out = ad;
    if (!ad)
        return EML_ENOMEM;
    pthread_mutex_init(&ad->mu, NULL);
    ad->next_id = 1;
    return EML_OK;
}

void eml__adapt_destroy(eml__adapt *ad)
{
    if (!ad)
        return;
    pthread_mutex_destroy(&ad->mu);
    free(ad);
}

/* Called with the lock held. */
static adapt_set *find(eml__adapt *ad, const char *model)
{
    for (int i = 0; i < EML__ADAPT_MAX_SETS; i++)
        if (ad->sets[i].used && strcmp(ad->sets[i].cfg.model, model) == 0)
            return &ad->sets[i];
    return NULL;
}

eml_status eml__adapt_set(eml__adapt *ad, const eml__adapt_config *cfg, eml_diag *diag)
{
    const eml__adapt_policy *p = &cfg->policy;
    if (!cfg->model[0])
        return eml__diag(diag, EML_EINVAL, "a variant set needs a model");
    if (cfg->n_variants < 1 || cfg->n_variants > EML__ADAPT_MAX_VARIANTS)
        return eml__diag(diag, EML_EINVAL, "a variant set needs 1 to %d variants, not %u",
                         EML__ADAPT_MAX_VARIANTS, (unsigned)cfg->n_variants);
    for (uint32_t i = 0; i < cfg->n_variants; i++) {
        if (!cfg->variants[i].name[0] || !cfg->variants[i].model[0])
            return eml__diag(diag, EML_EINVAL, "variant %u has no name or model", (unsigned)i);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(cfg->variants[i].name, cfg->variants[j].name) == 0)
                return eml__diag(diag, EML_EINVAL, "two variants are named '%s'",
                                 cfg->variants[i].name);
    }
    if (!(p->slo_p95_ms >= 0) || !isfinite(p->slo_p95_ms))
        return eml__diag(diag, EML_EINVAL, "slo_p95_ms must be a number >= 0");
    if (p->window < 1 || p->window > EML__ADAPT_MAX_WINDOW)
        return eml__diag(diag, EML_EINVAL, "window must be 1 to %d requests",
                         EML__ADAPT_MAX_WINDOW);
    if (p->low_power < -1 || p->low_power >= (int32_t)cfg->n_variants)
        return eml__diag(diag, EML_EINVAL, "low_power_variant is not one of the variants");
    if (!(p->up_ratio > 0 && p->up_ratio <= 1))
        return eml__diag(diag, EML_EINVAL, "up_ratio must be within (0, 1]");
    eml_status st = EML_OK;
    pthread_mutex_lock(&ad->mu);
    adapt_set *s = find(ad, cfg->model);
    for (int i = 0; i < EML__ADAPT_MAX_SETS && !s; i++)
        if (!ad->sets[i].used)
            s = &ad->sets[i];
    if (s) {
        memset(s, 0, sizeof(*s));
        s->used = 1;
        s->id = ad->next_id++;
        s->cfg = *cfg;
    } else {
        st = eml__diag(diag, EML_ELIMIT, "%d models have variants already", EML__ADAPT_MAX_SETS);
    }
    pthread_mutex_unlock(&ad->mu);
    return st;
}

eml_status eml__adapt_clear(eml__adapt *ad, const char *model)
{
    pthread_mutex_lock(&ad->mu);
    adapt_set *s = find(ad, model);
    if (s)
        s->used = 0;
    pthread_mutex_unlock(&ad->mu);
    return s ? EML_OK : EML_ENOTFOUND;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Called with the lock held: the nearest-rank p95 of the window, seconds; NAN when empty. */
static double window_p95(const adapt_set *s)
{
    if (!s->n)
        return NAN;
    double v[EML__ADAPT_MAX_WINDOW];
    memcpy(v, s->window, s->n * sizeof(double));
    qsort(v, s->n, sizeof(double), cmp_double);
    size_t rank = (size_t)ceil(0.95 * s->n);
    return v[rank ? rank - 1 : 0];
}

eml_status eml__adapt_get(eml__adapt *ad, const char *model, eml__adapt_config *cfg,
                          eml__adapt_status *status)
{
    pthread_mutex_lock(&ad->mu);
    adapt_set *s = find(ad, model);
    if (s && cfg)
        *cfg = s->cfg;
    if (s && status) {
        memset(status, 0, sizeof(*status));
        status->level = s->level;
        status->window_count = s->n;
        status->window_p95_ms = window_p95(s) * 1e3;
        status->step_downs = s->step_downs;
        status->step_ups = s->step_ups;
        memcpy(status->choices, s->choices, sizeof(s->choices));
    }
    pthread_mutex_unlock(&ad->mu);
    return s ? EML_OK : EML_ENOTFOUND;
}

size_t eml__adapt_list(eml__adapt *ad, eml__adapt_config *cfgs, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&ad->mu);
    for (int i = 0; i < EML__ADAPT_MAX_SETS; i++) {
        if (!ad->sets[i].used)
            continue;
        if (n < cap)
            cfgs[n] = ad->sets[i].cfg;
        n++;
    }
    pthread_mutex_unlock(&ad->mu);
    return n;
}

eml_status eml__adapt_prefer(eml__adapt *ad, const char *model, const char *variant)
{
    eml_status st = EML_ENOTFOUND;
    pthread_mutex_lock(&ad->mu);
    adapt_set *s = find(ad, model);
    for (uint32_t i = 0; s && i < s->cfg.n_variants; i++) {
        if (strcmp(s->cfg.variants[i].name, variant) != 0)
            continue;
        eml__variant v = s->cfg.variants[i];
        int32_t lp = s->cfg.policy.low_power;
        memmove(&s->cfg.variants[1], &s->cfg.variants[0], i * sizeof(v));
        s->cfg.variants[0] = v;
        /* the low-power variant keeps its identity through the reordering */
        if (lp == (int32_t)i)
            s->cfg.policy.low_power = 0;
        else if (lp >= 0 && lp < (int32_t)i)
            s->cfg.policy.low_power = lp + 1;
        s->level = 0;
        s->n = s->head = 0;
        memset(s->choices, 0, sizeof(s->choices));
        s->id = ad->next_id++;
        st = EML_OK;
        break;
    }
    pthread_mutex_unlock(&ad->mu);
    return st;
}

/* Called with the lock held: the variant of the level or of low power mode. */
static uint32_t base_choice(const adapt_set *s, int low_power, eml__adapt_reason *reason)
{
    if (low_power) {
        *reason = EML__ADAPT_POWER;
        int32_t lp = s->cfg.policy.low_power;
        return lp >= 0 ? (uint32_t)lp : s->cfg.n_variants - 1;
    }
    *reason = s->level ? EML__ADAPT_SLO : EML__ADAPT_PREFERRED;
    return s->level;
}

int eml__adapt_peek(eml__adapt *ad, const char *model, int low_power, eml__variant *out)
{
    pthread_mutex_lock(&ad->mu);
    adapt_set *s = find(ad, model);
    if (s) {
        eml__adapt_reason r;
        *out = s->cfg.variants[base_choice(s, low_power, &r)];
    }
    pthread_mutex_unlock(&ad->mu);
    return s != NULL;
}

int eml__adapt_choose(eml__adapt *ad, const char *model, uint32_t queued, int low_power,
                      eml__adapt_choice *out)
{
    pthread_mutex_lock(&ad->mu);
    adapt_set *s = find(ad, model);
    if (s) {
        eml__adapt_reason reason;
        uint32_t i = base_choice(s, low_power, &reason);
        uint32_t qh = s->cfg.policy.queue_high;
        if (qh && queued >= qh && i + 1 < s->cfg.n_variants) {
            i++; /* this request overflows to the next cheaper variant; the level stays */
            reason = EML__ADAPT_QUEUE;
        }
        s->choices[i][reason]++;
        out->set_id = s->id;
        out->index = i;
        out->variant = s->cfg.variants[i];
        out->reason = reason;
    }
    pthread_mutex_unlock(&ad->mu);
    return s != NULL;
}

void eml__adapt_record(eml__adapt *ad, const char *model, const eml__adapt_choice *choice,
                       double latency_s)
{
    pthread_mutex_lock(&ad->mu);
    adapt_set *s = find(ad, model);
    /* only the level's own requests judge the level: queue overflow and low power runs of other
     * variants would blur its p95 */
    if (!s || s->id != choice->set_id || choice->index != s->level ||
        choice->reason == EML__ADAPT_POWER || choice->reason == EML__ADAPT_QUEUE)
        goto done;
    const eml__adapt_policy *p = &s->cfg.policy;
    s->window[s->head] = latency_s;
    s->head = (s->head + 1) % p->window;
    if (s->n < p->window)
        s->n++;
    if (p->slo_p95_ms <= 0 || s->n < p->window)
        goto done;
    double p95_ms = window_p95(s) * 1e3;
    if (p95_ms > p->slo_p95_ms && s->level + 1 < s->cfg.n_variants) {
        s->level++;
        s->step_downs++;
        s->n = s->head = 0;
    } else if (p95_ms < p->up_ratio * p->slo_p95_ms && s->level > 0) {
        s->level--;
        s->step_ups++;
        s->n = s->head = 0;
    }
done:
    pthread_mutex_unlock(&ad->mu);
}
