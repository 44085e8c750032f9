/* The drift profiler: collects a model's input values per channel from real data and writes the
 * reference profile (bin edges at the data's quantiles, reference fraction per bin) as JSON. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "edgeml/drift.h"
#include "serve/drift_values.h"

typedef struct pchan {
    double *v; /* the values kept: all of them up to max_values, then a reservoir sample */
    size_t n, cap;
    uint64_t seen;
} pchan;

typedef struct pinput {
    char *name;
    int32_t axis, rank;
    uint32_t n_channels; /* 0: the axis does not fit this input (refused if it gets data) */
    pchan *ch;
    uint64_t samples;
} pinput;

struct eml_drift_profiler {
    eml_drift_profile_options o;
    size_t n_inputs;
    pinput *in;
    uint64_t rng; /* xorshift64 state of the reservoir: fixed, so profiles are reproducible */
};

void eml_drift_profile_options_init(eml_drift_profile_options *o)
{
    memset(o, 0, sizeof(*o));
    o->struct_size = sizeof(*o);
    o->axis = 1;
    o->n_bins = 10;
    o->max_values = 1u << 22;
    o->window = 10000;
    o->min_samples = 100;
    o->warn = 0.1;
    o->alert = 0.25;
}

void eml_drift_profiler_destroy(eml_drift_profiler *p)
{
    if (!p)
        return;
    for (size_t i = 0; p->in && i < p->n_inputs; i++) {
        for (uint32_t c = 0; p->in[i].ch && c < p->in[i].n_channels; c++)
            free(p->in[i].ch[c].v);
        free(p->in[i].ch);
        free(p->in[i].name);
    }
    free(p->in);
    free(p);
}

eml_status eml_drift_profiler_create(const eml_graph *graph, const eml_drift_profile_options *opts,
                                     eml_drift_profiler **out, eml_diag *diag)
{
    *out = NULL;
    eml_drift_profile_options o;
    eml_drift_profile_options_init(&o);
    if (opts) {
        if (opts->struct_size == 0 || opts->struct_size > sizeof(o))
            return eml__diag(diag, EML_EINVAL, "drift profile options: bad struct_size");
        memcpy(&o, opts, opts->struct_size);
    }
    /* A point mass may add an edge beside each quantile edge: half the bin limit. */
    if (o.n_bins < 2 || o.n_bins > EML_DRIFT_MAX_BINS / 2)
        return eml__diag(diag, EML_EINVAL, "drift profile: bins must be 2 to %d, not %u",
                         EML_DRIFT_MAX_BINS / 2, o.n_bins);
    if (o.axis < -1 || o.axis >= EML_MAX_RANK)
        return eml__diag(diag, EML_EINVAL, "drift profile: axis %d (want -1 to %d)", o.axis,
                         EML_MAX_RANK - 1);
    if (o.max_values < 16 || o.window < 2 || !(o.warn > 0) || !(o.alert >= o.warn) ||
        !isfinite(o.alert))
        return eml__diag(diag, EML_EINVAL,
                         "drift profile: max_values >= 16, window >= 2 and 0 < warn <= alert "
                         "are required");
    eml_drift_profiler *p = calloc(1, sizeof(*p));
    if (!p)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    p->o = o;
    p->rng = 0x9e3779b97f4a7c15ull;
    p->n_inputs = eml_graph_input_count(graph);
    p->in = calloc(p->n_inputs ? p->n_inputs : 1, sizeof(pinput));
    if (!p->in)
        goto oom;
    for (size_t i = 0; i < p->n_inputs; i++) {
        eml_value_info vi;
        pinput *pi = &p->in[i];
        if (eml_graph_input(graph, i, &vi) != EML_OK || !(pi->name = strdup(vi.name)))
            goto oom;
        pi->axis = o.axis;
        pi->rank = vi.rank;
        int64_t nc = 1;
        if (o.axis >= 0)
            nc = o.axis < vi.rank ? vi.dims[o.axis] : 0;
        if (nc > EML_DRIFT_MAX_CHANNELS) {
            eml_drift_profiler_destroy(p);
            return eml__diag(diag, EML_EINVAL,
                             "drift profile: input '%.64s' has %lld channels, at most %d", vi.name,
                             (long long)nc, EML_DRIFT_MAX_CHANNELS);
        }
        /* Dynamic channel counts (-1) or a rank without the axis: unusable, said in add. */
        pi->n_channels = nc > 0 && vi.rank >= 0 ? (uint32_t)nc : 0;
        if (pi->n_channels && !(pi->ch = calloc(pi->n_channels, sizeof(pchan))))
            goto oom;
    }
    *out = p;
    return EML_OK;
oom:
    eml_drift_profiler_destroy(p);
    return eml__diag(diag, EML_ENOMEM, "out of memory");
}

static uint64_t next_random(eml_drift_profiler *p)
{
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 7;
    p->rng ^= p->rng << 17;
    return p->rng;
}

static int keep_value(eml_drift_profiler *p, pchan *c, double x)
{
    c->seen++;
    if (c->n < p->o.max_values) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 1024;
            if (cap > p->o.max_values)
                cap = (size_t)p->o.max_values;
            double *v = realloc(c->v, cap * sizeof(double));
            if (!v)
                return 0;
            c->v = v;
            c->cap = cap;
        }
        c->v[c->n++] = x;
        return 1;
    }
    uint64_t j = next_random(p) % c->seen;
    if (j < c->n)
        c->v[j] = x;
    return 1;
}

eml_status eml_drift_profiler_add(eml_drift_profiler *p, const eml_tensor *inputs, size_t n_inputs,
                                  eml_diag *diag)
{
    if (n_inputs != p->n_inputs)
        return eml__diag(diag, EML_EINVAL, "drift profile: %zu inputs given, the model has %zu",
                         n_inputs, p->n_inputs);
    for (size_t i = 0; i < n_inputs; i++) {
        const eml_tensor *t = &inputs[i];
        pinput *pi = &p->in[i];
        if (!t->data)
            continue;
        if (!eml__drift_value_dtype_ok(t->dtype))
            return eml__diag(diag, EML_ETYPE, "drift profile: input '%.64s' holds %s data",
                             pi->name, eml_dtype_name(t->dtype));
        if (!pi->n_channels && pi->axis >= pi->rank)
            return eml__diag(diag, EML_ESHAPE,
                             "drift profile: axis %d is outside input '%.64s' of rank %d (try "
                             "axis -1: the whole input as one channel)",
                             pi->axis, pi->name, pi->rank);
        if (!pi->n_channels)
            return eml__diag(diag, EML_ESHAPE,
                             "drift profile: input '%.64s' has a dynamic dim on axis %d (try "
                             "axis -1: the whole input as one channel)",
                             pi->name, pi->axis);
        int64_t outer = 1, inner = 1, nc = 1;
        if (pi->axis >= 0) {
            if (t->rank != pi->rank || t->dims[pi->axis] != (int64_t)pi->n_channels)
                return eml__diag(diag, EML_ESHAPE,
                                 "drift profile: input '%.64s': data of rank %d with %lld "
                                 "channels on axis %d; the model wants rank %d and %u",
                                 pi->name, t->rank,
                                 (long long)(pi->axis < t->rank ? t->dims[pi->axis] : 0), pi->axis,
                                 pi->rank, pi->n_channels);
            nc = t->dims[pi->axis];
            for (int32_t a = 0; a < pi->axis; a++)
                outer *= t->dims[a];
            for (int32_t a = pi->axis + 1; a < t->rank; a++)
                inner *= t->dims[a];
        } else {
            inner = eml_tensor_count(t);
        }
        for (int64_t o = 0; o < outer; o++)
            for (int64_t c = 0; c < nc; c++) {
                size_t start = (size_t)((o * nc + c) * inner);
                for (int64_t k = 0; k < inner; k++) {
                    double x = eml__drift_value(t->data, t->dtype, start + (size_t)k);
                    if (!isnan(x) && !keep_value(p, &pi->ch[c], x))
                        return eml__diag(diag, EML_ENOMEM, "out of memory");
                }
            }
        pi->samples += t->rank >= 1 ? (uint64_t)t->dims[0] : 1;
    }
    return EML_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* First index of v[0..n) (sorted) not below x, and first above x. */
static size_t lower_index(const double *v, size_t n, double x, int above)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (above ? v[mid] <= x : v[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The edges of one channel's sorted values into e (room for 2 * n_bins); returns how many.
 * An edge goes after each quantile k/n_bins, halfway to the next larger value of the data, so
 * that values a rounding away from a data value (pixel * (1/255) against pixel / 255) fall in
 * the same bin; equal quantiles (ties) make one edge. A value holding at least a bin's share
 * of the data (a point mass: the zeros of an image, a constant channel) also gets an edge
 * halfway to the next smaller value, so that it has a bin of its own and a shift to either
 * side of it shows. Beyond the data's ends, edges sit 1e-6 (relative) out. */
static uint32_t channel_edges(const double *v, size_t n, uint32_t n_bins, double *e)
{
    uint32_t ne = 0;
    for (uint32_t k = 1; n && k < n_bins; k++) {
        size_t idx = (size_t)(((uint64_t)k * n + n_bins - 1) / n_bins) - 1;
        double q = v[idx], step = 1e-6 * fmax(fabs(q), 1.0);
        size_t lo = lower_index(v, n, q, 0), hi = lower_index(v, n, q, 1);
        double above = hi < n ? q + (v[hi] - q) / 2 : q + step;
        if (ne && !(above > e[ne - 1]))
            continue;
        double below = lo > 0 ? v[lo - 1] + (q - v[lo - 1]) / 2 : q - step;
        if (hi - lo >= 2 && (uint64_t)(hi - lo) * n_bins >= n && below < q &&
            (!ne || below > e[ne - 1]))
            e[ne++] = below;
        if (above > q)
            e[ne++] = above;
    }
    return ne;
}

static cJSON *channel_json(pchan *c, uint32_t n_bins)
{
    double e[EML_DRIFT_MAX_BINS];
    uint64_t counts[EML_DRIFT_MAX_BINS];
    qsort(c->v, c->n, sizeof(double), cmp_double);
    uint32_t ne = channel_edges(c->v, c->n, n_bins, e);
    memset(counts, 0, (ne + 1) * sizeof(uint64_t));
    for (size_t i = 0; i < c->n; i++)
        counts[eml__drift_bin(e, ne, c->v[i])]++;
    cJSON *o = cJSON_CreateObject();
    cJSON *edges = cJSON_AddArrayToObject(o, "edges");
    cJSON *fr = cJSON_AddArrayToObject(o, "fractions");
    if (!edges || !fr) {
        cJSON_Delete(o);
        return NULL;
    }
    for (uint32_t i = 0; i < ne; i++)
        cJSON_AddItemToArray(edges, cJSON_CreateNumber(e[i]));
    /* Rounded to 1e-6: readable, and the sum stays within the monitor's tolerance. A channel
     * without values has one bin holding everything. */
    for (uint32_t b = 0; b <= ne; b++)
        cJSON_AddItemToArray(
            fr,
            cJSON_CreateNumber(c->n ? round((double)counts[b] / (double)c->n * 1e6) / 1e6 : 1.0));
    return o;
}

eml_status eml_drift_profiler_finish(eml_drift_profiler *p, char **json, eml_diag *diag)
{
    *json = NULL;
    cJSON *o = cJSON_CreateObject();
    cJSON *ins = cJSON_AddArrayToObject(o, "inputs");
    if (!ins)
        goto oom;
    for (size_t i = 0; i < p->n_inputs; i++) {
        pinput *pi = &p->in[i];
        if (!pi->samples)
            continue;
        cJSON *io = cJSON_CreateObject();
        if (!io || !cJSON_AddItemToArray(ins, io))
            goto oom;
        cJSON_AddStringToObject(io, "name", pi->name);
        cJSON_AddNumberToObject(io, "axis", pi->axis);
        cJSON_AddNumberToObject(io, "samples", (double)pi->samples);
        cJSON *chs = cJSON_AddArrayToObject(io, "channels");
        for (uint32_t c = 0; chs && c < pi->n_channels; c++) {
            cJSON *co = channel_json(&pi->ch[c], p->o.n_bins);
            if (!co || !cJSON_AddItemToArray(chs, co))
                goto oom;
        }
        if (!chs)
            goto oom;
    }
    if (cJSON_GetArraySize(ins) == 0) {
        cJSON_Delete(o);
        return eml__diag(diag, EML_EINVAL, "drift profile: no data was added");
    }
    cJSON_AddNumberToObject(o, "window", (double)p->o.window);
    cJSON_AddNumberToObject(o, "min_samples", (double)p->o.min_samples);
    cJSON_AddNumberToObject(o, "warn", p->o.warn);
    cJSON_AddNumberToObject(o, "alert", p->o.alert);
    *json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (!*json)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    return EML_OK;
oom:
    cJSON_Delete(o);
    return eml__diag(diag, EML_ENOMEM, "out of memory");
}
