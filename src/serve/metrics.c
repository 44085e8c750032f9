/* The metrics registry: a bounded array of series under one lock, rendered as Prometheus text. */
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/metrics.h"

#define MAX_SERIES 512
#define MAX_BUCKETS 10

typedef struct metric_def {
    const char *name, *type, *help;
} metric_def;

static const metric_def defs[EML_METRIC_COUNT] = {
#define EML__METRIC_DEF(id, name, type, help) {name, type, help},
    EML_METRICS_MAP(EML__METRIC_DEF)
#undef EML__METRIC_DEF
};

static const double size_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128};
static const double seconds_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025,
                                        0.05,  0.1,    0.25,  1,    5};

typedef struct series {
    eml__metric_id id;
    char label[64];
    double value; /* counter/gauge value; histogram sum */
    uint64_t count;
    uint64_t buckets[MAX_BUCKETS];
} series;

struct eml__metrics {
    pthread_mutex_t lock;
    size_t n;
    series s[MAX_SERIES];
};

static void bounds_of(eml__metric_id id, const double **b, size_t *n)
{
    if (id == EML_METRIC_BATCH_SIZE) {
        *b = size_bounds;
        *n = sizeof(size_bounds) / sizeof(size_bounds[0]);
    } else {
        *b = seconds_bounds;
        *n = sizeof(seconds_bounds) / sizeof(seconds_bounds[0]);
    }
}

eml_status eml__metrics_create(eml__metrics **out)
{
    eml__metrics *m = calloc(1, sizeof(*m));
    *out = m;
    if (!m)
        return EML_ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    return EML_OK;
}

void eml__metrics_destroy(eml__metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

/* Called with the lock held; NULL when the table is full. */
static series *find(eml__metrics *m, eml__metric_id id, const char *label, int create)
{
    if (!label)
        label = "";
    for (size_t i = 0; i < m->n; i++)
        if (m->s[i].id == id && strncmp(m->s[i].label, label, sizeof(m->s[i].label) - 1) == 0)
            return &m->s[i];
    if (!create || m->n == MAX_SERIES)
        return NULL;
    series *s = &m->s[m->n++];
    memset(s, 0, sizeof(*s));
    s->id = id;
    snprintf(s->label, sizeof(s->label), "%s", label);
    return s;
}

void eml__metrics_add(eml__metrics *m, eml__metric_id id, const char *label, double delta)
{
    if (!m || id >= EML_METRIC_COUNT)
        return;
    pthread_mutex_lock(&m->lock);
    series *s = find(m, id, label, 1);
    if (s)
        s->value += delta;
    pthread_mutex_unlock(&m->lock);
}

void eml__metrics_set(eml__metrics *m, eml__metric_id id, const char *label, double value)
{
    if (!m || id >= EML_METRIC_COUNT)
        return;
    pthread_mutex_lock(&m->lock);
    series *s = find(m, id, label, 1);
    if (s)
        s->value = value;
    pthread_mutex_unlock(&m->lock);
}

void eml__metrics_observe(eml__metrics *m, eml__metric_id id, const char *label, double value)
{
    if (!m || id >= EML_METRIC_COUNT)
        return;
    const double *b;
    size_t nb;
    bounds_of(id, &b, &nb);
    pthread_mutex_lock(&m->lock);
    series *s = find(m, id, label, 1);
    if (s) {
        s->value += value;
        s->count++;
        for (size_t i = 0; i < nb; i++)
            if (value <= b[i])
                s->buckets[i]++;
    }
    pthread_mutex_unlock(&m->lock);
}

double eml__metrics_get(eml__metrics *m, eml__metric_id id, const char *label)
{
    if (!m || id >= EML_METRIC_COUNT)
        return 0;
    pthread_mutex_lock(&m->lock);
    series *s = find(m, id, label, 0);
    double v = 0;
    if (s)
        v = strcmp(defs[id].type, "histogram") == 0 ? (double)s->count : s->value;
    pthread_mutex_unlock(&m->lock);
    return v;
}

/* Appends to a growing buffer; returns 0 on ENOMEM. */
typedef struct text {
    char *p;
    size_t n, cap;
} text;

static int put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int put(text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(t->p + t->n, t->cap - t->n, fmt, ap);
        va_end(ap);
        if (k < 0)
            return 0;
        if ((size_t)k < t->cap - t->n) {
            t->n += (size_t)k;
            return 1;
        }
        size_t cap = t->cap * 2 + (size_t)k;
        char *p = realloc(t->p, cap);
        if (!p)
            return 0;
        t->p = p;
        t->cap = cap;
    }
}

/* Label values come from model names: escape what Prometheus' text format requires. */
static void escape(char *dst, size_t cap, const char *src)
{
    size_t j = 0;
    for (; *src && j + 3 < cap; src++) {
        if (*src == '\\' || *src == '"' || *src == '\n') {
            dst[j++] = '\\';
            dst[j++] = *src == '\n' ? 'n' : *src;
        } else {
            dst[j++] = *src;
        }
    }
    dst[j] = 0;
}

char *eml__metrics_text(eml__metrics *m)
{
    text t = {malloc(4096), 0, 4096};
    if (!t.p)
        return NULL;
    t.p[0] = 0;
    int ok = 1;
    pthread_mutex_lock(&m->lock);
    for (int id = 0; id < EML_METRIC_COUNT && ok; id++) {
        const metric_def *d = &defs[id];
        const char *key = id == EML_METRIC_HTTP_REQUESTS ? "code" : "model";
        int histogram = strcmp(d->type, "histogram") == 0;
        ok = put(&t, "# HELP %s %s\n# TYPE %s %s\n", d->name, d->help, d->name, d->type);
        for (size_t i = 0; i < m->n && ok; i++) {
            const series *s = &m->s[i];
            if ((int)s->id != id)
                continue;
            char lab[160], lab_sep[170];
            escape(lab, sizeof(lab), s->label);
            lab_sep[0] = 0;
            if (lab[0])
                snprintf(lab_sep, sizeof(lab_sep), "%s=\"%s\",", key, lab);
            if (!histogram) {
                if (lab[0])
                    ok = put(&t, "%s{%s=\"%s\"} %.17g\n", d->name, key, lab, s->value);
                else
                    ok = put(&t, "%s %.17g\n", d->name, s->value);
                continue;
            }
            const double *b;
            size_t nb;
            bounds_of((eml__metric_id)id, &b, &nb);
            for (size_t k = 0; k < nb && ok; k++)
                ok = put(&t, "%s_bucket{%sle=\"%g\"} %llu\n", d->name, lab_sep, b[k],
                         (unsigned long long)s->buckets[k]);
            if (ok)
                ok = put(&t, "%s_bucket{%sle=\"+Inf\"} %llu\n", d->name, lab_sep,
                         (unsigned long long)s->count);
            if (ok && lab[0])
                ok = put(&t, "%s_sum{%s=\"%s\"} %.17g\n%s_count{%s=\"%s\"} %llu\n", d->name, key,
                         lab, s->value, d->name, key, lab, (unsigned long long)s->count);
            else if (ok)
                ok = put(&t, "%s_sum %.17g\n%s_count %llu\n", d->name, s->value, d->name,
                         (unsigned long long)s->count);
        }
    }
    pthread_mutex_unlock(&m->lock);
    if (!ok) {
        free(t.p);
        return NULL;
    }
    return t.p;
}
