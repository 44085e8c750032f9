/* The drift monitor: parses and checks a reference profile, counts served inputs into its bins
 * over two alternating half-windows (so old data ages out), and computes PSI against it. */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "serve/drift.h"
#include "serve/drift_values.h"

/* A profile may not hold more bins in all than this (memory: 3 counts and 2 doubles each). */
#define MAX_TOTAL_BINS (1u << 22)
#define MAX_INPUTS 64
#define FRACTION_TOLERANCE 1e-3

typedef struct dchan {
    uint32_t n_bins;
    const double *edges;    /* n_bins - 1, strictly increasing */
    const double *expected; /* n_bins reference fractions */
    uint64_t *cur, *prev;   /* counts of the current and the previous half-window */
} dchan;

typedef struct dinput {
    char *name;
    int32_t axis; /* -1: one channel for the whole input */
    uint32_t n_channels;
    uint32_t n_bins_total; /* sum over channels: the size of an observe's local counts */
    dchan *ch;
    int32_t graph_index; /* -1 until bound */
    int32_t rank;
} dinput;

struct eml__drift {
    pthread_mutex_t lock;
    atomic_int bound;
    uint64_t window, min_samples;
    double warn, alert;
    size_t n_inputs;
    dinput *inputs;
    double *numbers;  /* every channel's edges and expected fractions */
    uint64_t *counts; /* every channel's cur and prev */
    uint64_t cur_samples, prev_samples, total_samples, since_refresh;
};

static eml_status number_of(const cJSON *obj, const char *key, double lo, double hi, int integer,
                            double *out, eml_diag *diag)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!v)
        return EML_OK;
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi) ||
        (integer && v->valuedouble != floor(v->valuedouble)))
        return eml__diag(diag, EML_EINVAL, "drift profile: \"%s\" must be %s from %g to %g", key,
                         integer ? "an integer" : "a number", lo, hi);
    *out = v->valuedouble;
    return EML_OK;
}

/* Counts channels and bins of every input first, so that one allocation holds them all. */
static eml_status check_shape(const cJSON *inputs, size_t *n_channels, size_t *n_bins,
                              eml_diag *diag)
{
    *n_channels = *n_bins = 0;
    if (!cJSON_IsArray(inputs) || cJSON_GetArraySize(inputs) < 1 ||
        cJSON_GetArraySize(inputs) > MAX_INPUTS)
        return eml__diag(diag, EML_EINVAL,
                         "drift profile: \"inputs\" must be an array of 1 to %d inputs",
                         MAX_INPUTS);
    const cJSON *in;
    int k = 0;
    cJSON_ArrayForEach(in, inputs)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(in, "name");
        const cJSON *chs = cJSON_GetObjectItemCaseSensitive(in, "channels");
        if (!cJSON_IsString(name) || !name->valuestring[0])
            return eml__diag(diag, EML_EINVAL, "drift profile: input %d has no \"name\"", k);
        int nc = cJSON_GetArraySize(chs);
        if (!cJSON_IsArray(chs) || nc < 1 || nc > EML_DRIFT_MAX_CHANNELS)
            return eml__diag(diag, EML_EINVAL,
                             "drift profile: input '%.64s': \"channels\" must be an array of 1 "
                             "to %d channels",
                             name->valuestring, EML_DRIFT_MAX_CHANNELS);
        const cJSON *ch;
        int c = 0;
        cJSON_ArrayForEach(ch, chs)
        {
            const cJSON *edges = cJSON_GetObjectItemCaseSensitive(ch, "edges");
            const cJSON *fr = cJSON_GetObjectItemCaseSensitive(ch, "fractions");
            if (!cJSON_IsArray(edges) || !cJSON_IsArray(fr))
                return eml__diag(diag, EML_EINVAL,
                                 "drift profile: input '%.64s' channel %d needs \"edges\" and "
                                 "\"fractions\" arrays",
                                 name->valuestring, c);
            int ne = cJSON_GetArraySize(edges), nf = cJSON_GetArraySize(fr);
            if (ne >= EML_DRIFT_MAX_BINS)
                return eml__diag(diag, EML_EINVAL,
                                 "drift profile: input '%.64s' channel %d: %d edges, at most %d",
                                 name->valuestring, c, ne, EML_DRIFT_MAX_BINS - 1);
            if (nf != ne + 1)
                return eml__diag(diag, EML_EINVAL,
                                 "drift profile: input '%.64s' channel %d: %d edges need %d "
                                 "fractions, not %d",
                                 name->valuestring, c, ne, ne + 1, nf);
            *n_bins += (size_t)nf;
            c++;
        }
        *n_channels += (size_t)nc;
        if (*n_bins > MAX_TOTAL_BINS)
            return eml__diag(diag, EML_EINVAL, "drift profile: more than %u bins in all",
                             MAX_TOTAL_BINS);
        k++;
    }
    return EML_OK;
}

/* Reads one channel's edges and fractions into e and f, checking them. */
static eml_status read_channel(const cJSON *ch, const char *name, int c, double *e, double *f,
                               eml_diag *diag)
{
    const cJSON *v;
    int i = 0;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(ch, "edges"))
    {
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            return eml__diag(diag, EML_EINVAL,
                             "drift profile: input '%.64s' channel %d: edge %d is not a finite "
                             "number",
                             name, c, i);
        e[i] = v->valuedouble;
        if (i > 0 && !(e[i] > e[i - 1]))
            return eml__diag(diag, EML_EINVAL,
                             "drift profile: input '%.64s' channel %d: edges must increase "
                             "(edge %d = %g after %g)",
                             name, c, i, e[i], e[i - 1]);
        i++;
    }
    double sum = 0;
    i = 0;
    cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(ch, "fractions"))
    {
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble <= 1))
            return eml__diag(diag, EML_EINVAL,
                             "drift profile: input '%.64s' channel %d: fraction %d must be a "
                             "number from 0 to 1",
                             name, c, i);
        f[i++] = v->valuedouble;
        sum += v->valuedouble;
    }
    if (fabs(sum - 1.0) > FRACTION_TOLERANCE)
        return eml__diag(diag, EML_EINVAL,
                         "drift profile: input '%.64s' channel %d: fractions sum to %.6g, not 1",
                         name, c, sum);
    return EML_OK;
}

static eml_status read_inputs(eml__drift *d, const cJSON *inputs, eml_diag *diag)
{
    eml_status st;
    const cJSON *in;
    size_t k = 0, off = 0, coff = 0;
    cJSON_ArrayForEach(in, inputs)
    {
        dinput *di = &d->inputs[k];
        const char *name = cJSON_GetObjectItemCaseSensitive(in, "name")->valuestring;
        for (size_t j = 0; j < k; j++)
            if (strcmp(d->inputs[j].name, name) == 0)
                return eml__diag(diag, EML_EINVAL, "drift profile: input '%.64s' listed twice",
                                 name);
        di->name = strdup(name);
        if (!di->name)
            return eml__diag(diag, EML_ENOMEM, "out of memory");
        double axis = 1;
        if ((st = number_of(in, "axis", -1, EML_MAX_RANK - 1, 1, &axis, diag)) != EML_OK)
            return st;
        di->axis = (int32_t)axis;
        di->graph_index = -1;
        const cJSON *chs = cJSON_GetObjectItemCaseSensitive(in, "channels");
        di->n_channels = (uint32_t)cJSON_GetArraySize(chs);
        if (di->axis < 0 && di->n_channels != 1)
            return eml__diag(diag, EML_EINVAL,
                             "drift profile: input '%.64s': axis -1 (the whole input) takes one "
                             "channel, not %u",
                             name, di->n_channels);
        di->ch = calloc(di->n_channels, sizeof(dchan));
        if (!di->ch)
            return eml__diag(diag, EML_ENOMEM, "out of memory");
        const cJSON *ch;
        int c = 0;
        cJSON_ArrayForEach(ch, chs)
        {
            dchan *dc = &di->ch[c];
            dc->n_bins =
                (uint32_t)cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(ch, "fractions"));
            double *e = d->numbers + off, *f = e + dc->n_bins - 1;
            if ((st = read_channel(ch, name, c, e, f, diag)) != EML_OK)
                return st;
            dc->edges = e;
            dc->expected = f;
            dc->cur = d->counts + coff;
            dc->prev = dc->cur + dc->n_bins;
            off += 2 * (size_t)dc->n_bins - 1;
            coff += 2 * (size_t)dc->n_bins;
            di->n_bins_total += dc->n_bins;
            c++;
        }
        k++;
    }
    return EML_OK;
}

eml_status eml__drift_create(const cJSON *profile, const eml_graph *graph, eml__drift **out,
                             eml_diag *diag)
{
    *out = NULL;
    if (!cJSON_IsObject(profile))
        return eml__diag(diag, EML_EINVAL, "drift profile: not a JSON object");
    double window = 10000, min_samples = 100, warn = 0.1, alert = 0.25;
    eml_status st;
    if ((st = number_of(profile, "window", 2, 1e12, 1, &window, diag)) != EML_OK ||
        (st = number_of(profile, "min_samples", 0, 1e12, 1, &min_samples, diag)) != EML_OK ||
        (st = number_of(profile, "warn", 1e-9, 1e6, 0, &warn, diag)) != EML_OK ||
        (st = number_of(profile, "alert", 1e-9, 1e6, 0, &alert, diag)) != EML_OK)
        return st;
    if (warn > alert)
        return eml__diag(diag, EML_EINVAL, "drift profile: \"warn\" (%g) above \"alert\" (%g)",
                         warn, alert);
    const cJSON *inputs = cJSON_GetObjectItemCaseSensitive(profile, "inputs");
    size_t n_channels, n_bins;
    if ((st = check_shape(inputs, &n_channels, &n_bins, diag)) != EML_OK)
        return st;
    eml__drift *d = calloc(1, sizeof(*d));
    if (!d)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    pthread_mutex_init(&d->lock, NULL);
    d->window = (uint64_t)window;
    d->min_samples = (uint64_t)min_samples;
    d->warn = warn;
    d->alert = alert;
    d->n_inputs = (size_t)cJSON_GetArraySize(inputs);
    d->inputs = calloc(d->n_inputs, sizeof(dinput));
    d->numbers = malloc(2 * n_bins * sizeof(double));
    d->counts = calloc(2 * n_bins, sizeof(uint64_t));
    st = EML_ENOMEM;
    if (!d->inputs || !d->numbers || !d->counts) {
        eml__diag(diag, st, "out of memory");
        goto fail;
    }
    EML_TRY(read_inputs(d, inputs, diag));
    if (graph)
        EML_TRY(eml__drift_bind(d, graph, diag));
    *out = d;
    return EML_OK;
fail:
    eml__drift_destroy(d);
    return st;
}

void eml__drift_destroy(eml__drift *d)
{
    if (!d)
        return;
    for (size_t i = 0; d->inputs && i < d->n_inputs; i++) {
        free(d->inputs[i].name);
        free(d->inputs[i].ch);
    }
    free(d->inputs);
    free(d->numbers);
    free(d->counts);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

eml_status eml__drift_bind(eml__drift *d, const eml_graph *graph, eml_diag *diag)
{
    if (atomic_load(&d->bound))
        return EML_OK;
    int32_t index[MAX_INPUTS], rank[MAX_INPUTS];
    for (size_t k = 0; k < d->n_inputs; k++) {
        const dinput *di = &d->inputs[k];
        eml_value_info vi;
        index[k] = -1;
        for (size_t g = 0; g < eml_graph_input_count(graph); g++)
            if (eml_graph_input(graph, g, &vi) == EML_OK && strcmp(vi.name, di->name) == 0) {
                index[k] = (int32_t)g;
                break;
            }
        if (index[k] < 0)
            return eml__diag(diag, EML_EINVAL, "drift profile: the model has no input '%.64s'",
                             di->name);
        rank[k] = vi.rank;
        if (di->axis >= 0 && di->axis >= vi.rank)
            return eml__diag(diag, EML_EINVAL,
                             "drift profile: input '%.64s': axis %d, but the input has rank %d",
                             di->name, di->axis, vi.rank);
        if (di->axis >= 0 && vi.dims[di->axis] > 0 && vi.dims[di->axis] != (int64_t)di->n_channels)
            return eml__diag(diag, EML_EINVAL,
                             "drift profile: input '%.64s' has %lld channels on axis %d, the "
                             "profile %u",
                             di->name, (long long)vi.dims[di->axis], di->axis, di->n_channels);
    }
    pthread_mutex_lock(&d->lock);
    if (!atomic_load(&d->bound)) {
        for (size_t k = 0; k < d->n_inputs; k++) {
            d->inputs[k].graph_index = index[k];
            d->inputs[k].rank = rank[k];
        }
        atomic_store(&d->bound, 1);
    }
    pthread_mutex_unlock(&d->lock);
    return EML_OK;
}

int eml__drift_is_bound(eml__drift *d)
{
    return atomic_load(&d->bound);
}

/* Counts one input into local[] (its channels' bins, in order). 0 when the tensor does not fit
 * the profile (then nothing is counted). */
static int count_input(const dinput *di, const eml_tensor *t, uint64_t *local)
{
    /* a rank the graph leaves unknown is only possible with axis -1 (bind refuses the rest) */
    if (!t->data || (di->rank >= 0 && t->rank != di->rank) || !eml__drift_value_dtype_ok(t->dtype))
        return 0;
    int64_t outer = 1, inner = 1, n_ch = 1;
    if (di->axis >= 0) {
        n_ch = t->dims[di->axis];
        for (int32_t a = 0; a < di->axis; a++)
            outer *= t->dims[a];
        for (int32_t a = di->axis + 1; a < t->rank; a++)
            inner *= t->dims[a];
    } else {
        inner = eml_tensor_count(t);
    }
    if (n_ch != (int64_t)di->n_channels)
        return 0;
    size_t base = 0;
    size_t *offsets = NULL;
    size_t offsets_local[64];
    offsets = di->n_channels <= 64 ? offsets_local : malloc(di->n_channels * sizeof(size_t));
    if (!offsets)
        return 0;
    for (uint32_t c = 0; c < di->n_channels; c++) {
        offsets[c] = base;
        base += di->ch[c].n_bins;
    }
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < n_ch; c++) {
            const dchan *dc = &di->ch[c];
            uint64_t *cnt = local + offsets[c];
            size_t start = (size_t)((o * n_ch + c) * inner);
            if (t->dtype == EML_DTYPE_F32) { /* the common case, without a switch per value */
                const float *x = (const float *)t->data + start;
                for (int64_t i = 0; i < inner; i++)
                    if (!isnan(x[i]))
                        cnt[eml__drift_bin(dc->edges, dc->n_bins - 1, x[i])]++;
                continue;
            }
            for (int64_t i = 0; i < inner; i++) {
                double x = eml__drift_value(t->data, t->dtype, start + (size_t)i);
                if (!isnan(x))
                    cnt[eml__drift_bin(dc->edges, dc->n_bins - 1, x)]++;
            }
        }
    if (offsets != offsets_local)
        free(offsets);
    return 1;
}

/* Called with the lock held: the current half-window becomes the previous one. */
static void rotate(eml__drift *d)
{
    for (size_t k = 0; k < d->n_inputs; k++)
        for (uint32_t c = 0; c < d->inputs[k].n_channels; c++) {
            dchan *dc = &d->inputs[k].ch[c];
            memcpy(dc->prev, dc->cur, dc->n_bins * sizeof(uint64_t));
            memset(dc->cur, 0, dc->n_bins * sizeof(uint64_t));
        }
    d->prev_samples = d->cur_samples;
    d->cur_samples = 0;
}

uint64_t eml__drift_observe(eml__drift *d, const eml_tensor *in, size_t n_in, int *refresh)
{
    if (refresh)
        *refresh = 0;
    if (!d || !atomic_load(&d->bound) || n_in == 0)
        return 0;
    uint64_t rows = in[0].rank >= 1 && in[0].dims[0] > 0 ? (uint64_t)in[0].dims[0] : 1;
    uint64_t counted = 0;
    for (size_t k = 0; k < d->n_inputs; k++) {
        const dinput *di = &d->inputs[k];
        if (di->graph_index < 0 || (size_t)di->graph_index >= n_in)
            continue;
        /* Counted outside the lock (the edges never change), merged under it: request threads
         * only wait for the additions. */
        uint64_t local_small[256];
        uint64_t *local =
            di->n_bins_total <= 256 ? local_small : calloc(di->n_bins_total, sizeof(uint64_t));
        if (!local)
            continue;
        if (local == local_small)
            memset(local_small, 0, sizeof(local_small));
        if (count_input(di, &in[di->graph_index], local)) {
            pthread_mutex_lock(&d->lock);
            if (!counted && d->cur_samples >= (d->window + 1) / 2)
                rotate(d);
            size_t off = 0;
            for (uint32_t c = 0; c < di->n_channels; c++) {
                dchan *dc = &di->ch[c];
                for (uint32_t b = 0; b < dc->n_bins; b++)
                    dc->cur[b] += local[off + b];
                off += dc->n_bins;
            }
            if (!counted) {
                d->cur_samples += rows;
                d->total_samples += rows;
                d->since_refresh += rows;
                if (refresh && d->since_refresh >= (d->window >= 100 ? d->window / 100 : 1))
                    *refresh = 1;
            }
            pthread_mutex_unlock(&d->lock);
            counted = rows;
        }
        if (local != local_small)
            free(local);
    }
    return counted;
}

void eml__drift_reset(eml__drift *d)
{
    pthread_mutex_lock(&d->lock);
    rotate(d); /* twice: both halves empty */
    rotate(d);
    d->total_samples = 0;
    d->since_refresh = 0;
    pthread_mutex_unlock(&d->lock);
}

double eml_drift_psi(const double *expected, const double *actual, size_t n_bins)
{
    double psi = 0;
    for (size_t i = 0; i < n_bins; i++) {
        double e = expected[i] > EML_DRIFT_EPSILON ? expected[i] : EML_DRIFT_EPSILON;
        double a = actual[i] > EML_DRIFT_EPSILON ? actual[i] : EML_DRIFT_EPSILON;
        psi += (a - e) * log(a / e);
    }
    return psi;
}

/* Called with the lock held: a channel's window fractions into actual[]; returns the values
 * counted (0: none, then actual[] is untouched). */
static uint64_t window_fractions(const dchan *dc, double *actual)
{
    uint64_t total = 0;
    for (uint32_t b = 0; b < dc->n_bins; b++)
        total += dc->cur[b] + dc->prev[b];
    for (uint32_t b = 0; total && b < dc->n_bins; b++)
        actual[b] = (double)(dc->cur[b] + dc->prev[b]) / (double)total;
    return total;
}

static const char *status_of(const eml__drift *d, uint64_t samples, double max_psi)
{
    if (samples == 0 || samples < d->min_samples)
        return "collecting";
    return max_psi >= d->alert ? "drift" : max_psi >= d->warn ? "warn" : "ok";
}

void eml__drift_summarize(eml__drift *d, eml__drift_summary *out)
{
    double actual[EML_DRIFT_MAX_BINS];
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&d->lock);
    for (size_t k = 0; k < d->n_inputs; k++)
        for (uint32_t c = 0; c < d->inputs[k].n_channels; c++) {
            const dchan *dc = &d->inputs[k].ch[c];
            if (!window_fractions(dc, actual))
                continue;
            double psi = eml_drift_psi(dc->expected, actual, dc->n_bins);
            if (psi > out->max_psi)
                out->max_psi = psi;
        }
    out->samples = d->cur_samples + d->prev_samples;
    out->total_samples = d->total_samples;
    d->since_refresh = 0;
    pthread_mutex_unlock(&d->lock);
    out->status = status_of(d, out->samples, out->max_psi);
}

static cJSON *fractions_json(const double *f, uint32_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (uint32_t b = 0; arr && b < n; b++)
        cJSON_AddItemToArray(arr, cJSON_CreateNumber(round(f[b] * 1e6) / 1e6));
    return arr;
}

cJSON *eml__drift_report(eml__drift *d, int bins)
{
    double actual[EML_DRIFT_MAX_BINS];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    double max_psi = 0;
    cJSON *ins = cJSON_CreateArray();
    pthread_mutex_lock(&d->lock);
    uint64_t samples = d->cur_samples + d->prev_samples;
    for (size_t k = 0; ins && k < d->n_inputs; k++) {
        const dinput *di = &d->inputs[k];
        cJSON *io = cJSON_CreateObject();
        if (!io || !cJSON_AddItemToArray(ins, io))
            break;
        cJSON_AddStringToObject(io, "name", di->name);
        cJSON_AddNumberToObject(io, "axis", di->axis);
        cJSON *chs = cJSON_AddArrayToObject(io, "channels");
        double in_max = 0;
        for (uint32_t c = 0; chs && c < di->n_channels; c++) {
            const dchan *dc = &di->ch[c];
            cJSON *co = cJSON_CreateObject();
            if (!co || !cJSON_AddItemToArray(chs, co))
                break;
            uint64_t values = window_fractions(dc, actual);
            double psi = values ? eml_drift_psi(dc->expected, actual, dc->n_bins) : 0;
            in_max = psi > in_max ? psi : in_max;
            if (values)
                cJSON_AddNumberToObject(co, "psi", round(psi * 1e6) / 1e6);
            else
                cJSON_AddNullToObject(co, "psi");
            cJSON_AddNumberToObject(co, "values", (double)values);
            if (bins) {
                cJSON_AddItemToObject(co, "expected", fractions_json(dc->expected, dc->n_bins));
                if (values)
                    cJSON_AddItemToObject(co, "actual", fractions_json(actual, dc->n_bins));
            }
        }
        cJSON_AddNumberToObject(io, "max_psi", round(in_max * 1e6) / 1e6);
        max_psi = in_max > max_psi ? in_max : max_psi;
    }
    cJSON_AddStringToObject(o, "status", status_of(d, samples, max_psi));
    cJSON_AddNumberToObject(o, "samples", (double)samples);
    cJSON_AddNumberToObject(o, "total_samples", (double)d->total_samples);
    pthread_mutex_unlock(&d->lock);
    cJSON_AddNumberToObject(o, "max_psi", round(max_psi * 1e6) / 1e6);
    cJSON_AddNumberToObject(o, "window", (double)d->window);
    cJSON_AddNumberToObject(o, "min_samples", (double)d->min_samples);
    cJSON_AddNumberToObject(o, "warn", d->warn);
    cJSON_AddNumberToObject(o, "alert", d->alert);
    if (!ins || !cJSON_AddItemToObject(o, "inputs", ins)) {
        cJSON_Delete(ins);
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}
