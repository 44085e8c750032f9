/* Calibration: the range of each activation over a data set, by min-max, percentile or entropy
 * (KL divergence, TensorRT's method), and its uint8 scale and zero point. */
#include <math.h>

#include "optimize/optimize.h"

#define PERCENTILE_BINS 8192
#define ENTROPY_BINS 2048

typedef struct calib_state {
    const eml_quantize_options *opts;
    size_t n;
    float *lo, *hi; /* pass 1: observed minimum and maximum */
    uint64_t *hist; /* pass 2: n × bins */
    size_t bins;
} calib_state;

static eml_status minmax_fn(void *user, const eml_tensor *values, size_t n_ids, uint64_t first)
{
    calib_state *c = user;
    (void)first;
    for (size_t i = 0; i < n_ids; i++) {
        const eml_tensor *t = &values[i];
        if (t->dtype != EML_DTYPE_F32)
            continue;
        const float *x = t->data;
        int64_t count = eml_tensor_count(t);
        float lo = c->lo[i], hi = c->hi[i];
        for (int64_t k = 0; k < count; k++) {
            float v = x[k];
            if (v < lo)
                lo = v;
            if (v > hi)
                hi = v;
        }
        c->lo[i] = lo;
        c->hi[i] = hi;
    }
    return EML_OK;
}

/* Percentile: a histogram over [lo, hi]; entropy: of |x| over [0, max(|lo|, |hi|)]. */
static eml_status hist_fn(void *user, const eml_tensor *values, size_t n_ids, uint64_t first)
{
    calib_state *c = user;
    (void)first;
    bool entropy = c->opts->method == EML_CALIB_ENTROPY;
    for (size_t i = 0; i < n_ids; i++) {
        const eml_tensor *t = &values[i];
        if (t->dtype != EML_DTYPE_F32)
            continue;
        uint64_t *h = c->hist + i * c->bins;
        float base = entropy ? 0.0f : c->lo[i];
        float top = entropy ? fmaxf(fabsf(c->lo[i]), fabsf(c->hi[i])) : c->hi[i];
        if (!(top > base))
            continue;
        double per_bin = (double)c->bins / ((double)top - base);
        const float *x = t->data;
        int64_t count = eml_tensor_count(t);
        for (int64_t k = 0; k < count; k++) {
            float v = entropy ? fabsf(x[k]) : x[k];
            double pos = ((double)v - base) * per_bin;
            size_t b = pos <= 0 ? 0 : pos >= (double)c->bins ? c->bins - 1 : (size_t)pos;
            h[b]++;
        }
    }
    return EML_OK;
}

/* The central `pct` % of the histogram. */
static void percentile_range(const uint64_t *h, size_t bins, float lo, float hi, float pct,
                             eml_qrange *r)
{
    uint64_t total = 0;
    for (size_t b = 0; b < bins; b++)
        total += h[b];
    double tail = total * (100.0 - pct) / 200.0;
    double width = ((double)hi - lo) / bins;
    uint64_t acc = 0;
    size_t left = 0, right = bins - 1;
    while (left < bins - 1 && (double)(acc + h[left]) <= tail)
        acc += h[left++];
    acc = 0;
    while (right > left && (double)(acc + h[right]) <= tail)
        acc += h[right--];
    r->lo = left == 0 ? lo : (float)(lo + width * left);
    r->hi = right == bins - 1 ? hi : (float)(lo + width * (right + 1));
}

/* TensorRT's threshold search: the clipping point i (in bins) whose histogram, merged into
 * `levels` bins and spread back, is nearest (KL divergence) to the clipped original. */
static size_t entropy_threshold(const uint64_t *h, size_t bins, size_t levels, double *p, double *q)
{
    size_t best = bins;
    double best_kl = INFINITY;
    for (size_t i = levels; i <= bins; i++) {
        double outliers = 0;
        for (size_t b = i; b < bins; b++)
            outliers += (double)h[b];
        for (size_t b = 0; b < i; b++)
            p[b] = (double)h[b];
        p[i - 1] += outliers;
        /* merge h[0..i) into `levels` groups, spread each evenly over its nonzero bins */
        for (size_t j = 0; j < levels; j++) {
            size_t start = j * i / levels, end = (j + 1) * i / levels;
            double sum = 0;
            size_t nonzero = 0;
            for (size_t b = start; b < end; b++) {
                sum += (double)h[b];
                nonzero += h[b] != 0;
            }
            for (size_t b = start; b < end; b++)
                q[b] = h[b] && nonzero ? sum / (double)nonzero : 0;
        }
        double psum = 0, qsum = 0;
        for (size_t b = 0; b < i; b++) {
            psum += p[b];
            qsum += q[b];
        }
        if (psum <= 0 || qsum <= 0)
            continue;
        double kl = 0;
        for (size_t b = 0; b < i; b++) {
            if (p[b] <= 0)
                continue;
            double pb = p[b] / psum, qb = q[b] / qsum;
            kl += pb * log(pb / (qb > 0 ? qb : 1e-12));
        }
        if (kl < best_kl) {
            best_kl = kl;
            best = i;
        }
    }
    return best;
}

void eml__qrange_finish(eml_qrange *r)
{
    float lo = fminf(r->lo, 0.0f), hi = fmaxf(r->hi, 0.0f);
    if (!isfinite(lo) || !isfinite(hi) || hi - lo <= 0.0f) {
        r->lo = 0;
        r->hi = 0;
        r->scale = 1.0f;
        r->zero_point = 0;
        return;
    }
    r->lo = lo;
    r->hi = hi;
    r->scale = (hi - lo) / 255.0f;
    float zp = roundf(-lo / r->scale);
    r->zero_point = (uint8_t)(zp < 0 ? 0 : zp > 255 ? 255 : zp);
}

eml_status eml__calibrate(eml_graph *g, const eml_quantize_options *opts, const int32_t *ids,
                          size_t n_ids, eml_qrange *ranges, eml_diag *diag)
{
    eml_env *env = g->env;
    calib_state c = {opts, n_ids, NULL, NULL, NULL, 0};
    double *p = NULL, *q = NULL;
    eml_status st = EML_OK;
    c.lo = eml__alloc(env, EML_MAX(n_ids, 1) * sizeof(float));
    c.hi = eml__alloc(env, EML_MAX(n_ids, 1) * sizeof(float));
    if (!c.lo || !c.hi) {
        st = EML_ENOMEM;
        goto fail;
    }
    for (size_t i = 0; i < n_ids; i++) {
        c.lo[i] = INFINITY;
        c.hi[i] = -INFINITY;
    }
    EML_TRY(eml__observe(g, opts->calib, opts->calib_batch, 0, ids, n_ids, minmax_fn, &c, diag));
    if (opts->method != EML_CALIB_MINMAX) {
        c.bins = opts->method == EML_CALIB_ENTROPY ? ENTROPY_BINS : PERCENTILE_BINS;
        c.hist = eml__calloc(env, EML_MAX(n_ids, 1) * c.bins, sizeof(uint64_t));
        p = eml__alloc(env, c.bins * sizeof(double));
        q = eml__alloc(env, c.bins * sizeof(double));
        if (!c.hist || !p || !q) {
            st = EML_ENOMEM;
            goto fail;
        }
        EML_TRY(eml__observe(g, opts->calib, opts->calib_batch, 0, ids, n_ids, hist_fn, &c, diag));
    }
    for (size_t i = 0; i < n_ids; i++) {
        eml_qrange *r = &ranges[i];
        r->lo = c.lo[i];
        r->hi = c.hi[i];
        const uint64_t *h = c.hist ? c.hist + i * c.bins : NULL;
        if (opts->method == EML_CALIB_PERCENTILE && c.hi[i] > c.lo[i]) {
            percentile_range(h, c.bins, c.lo[i], c.hi[i], opts->percentile, r);
        } else if (opts->method == EML_CALIB_ENTROPY && c.hi[i] > c.lo[i]) {
            float amax = fmaxf(fabsf(c.lo[i]), fabsf(c.hi[i]));
            size_t levels = c.lo[i] >= 0 ? 255 : 128;
            size_t th = entropy_threshold(h, c.bins, levels, p, q);
            float t = amax * (float)th / (float)c.bins;
            r->lo = fmaxf(c.lo[i], -t);
            r->hi = fminf(c.hi[i], t);
        }
        eml__qrange_finish(r);
    }
fail:
    eml__free(env, c.lo);
    eml__free(env, c.hi);
    eml__free(env, c.hist);
    eml__free(env, p);
    eml__free(env, q);
    return st;
}
