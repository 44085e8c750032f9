/* A/B tests: arm choice (seeded draws or a sticky key's hash), per-arm figures under one lock,
 * and the statistics (Welch's t-test, two-proportion z-test) written out here with their own
 * incomplete beta function, so that the p-values need no outside library. */
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "serve/router.h"

/* ---- the maths ---- */

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t eml__ab_hash(const char *key, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)key[i];
        h *= 0x100000001b3ull;
    }
    /* FNV's low bits mix poorly for short keys; the finalizer spreads every input bit. */
    uint64_t s = h;
    return splitmix64(&s);
}

double eml__ab_unit(uint64_t x)
{
    return (double)(x >> 11) * (1.0 / 9007199254740992.0);
}

uint32_t eml__ab_choose(const double *weights, uint32_t n, double u)
{
    double total = 0;
    for (uint32_t i = 0; i < n; i++)
        total += weights[i];
    double acc = 0;
    for (uint32_t i = 0; i < n; i++) {
        acc += weights[i];
        if (u * total < acc)
            return i;
    }
    return n ? n - 1 : 0;
}

double eml__ab_top1(const float *scores, size_t rows, size_t cols, int32_t *argmax, size_t *counted)
{
    double sum = 0;
    size_t k = 0;
    for (size_t r = 0; r < rows; r++) {
        const float *x = scores + r * cols;
        int finite = cols > 0, in01 = 1;
        double total = 0, best = 0;
        int32_t arg = 0;
        for (size_t c = 0; c < cols; c++) {
            if (!isfinite(x[c])) {
                finite = 0;
                break;
            }
            if (x[c] < 0 || x[c] > 1)
                in01 = 0;
            total += x[c];
            if (c == 0 || x[c] > best) {
                best = x[c];
                arg = (int32_t)c;
            }
        }
        if (argmax)
            argmax[r] = finite ? arg : -1;
        if (!finite)
            continue;
        double p;
        if (in01 && fabs(total - 1.0) <= 1e-3) {
            p = best;
        } else {
            double z = 0; /* softmax's top probability is 1 / sum(exp(x - max)) */
            for (size_t c = 0; c < cols; c++)
                z += exp((double)x[c] - best);
            p = 1.0 / z;
        }
        sum += p;
        k++;
    }
    if (counted)
        *counted = k;
    return sum;
}

static double log_gamma(double x)
{
    int sign;
    return lgamma_r(x, &sign); /* lgamma writes the global signgam: not thread-safe */
}

/* The continued fraction of I_x(a, b), evaluated by the modified Lentz method. */
static double beta_cf(double a, double b, double x)
{
    const double tiny = 1e-300, eps = 1e-15;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 10000; m++) {
        double m2 = 2.0 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1) < eps)
            break;
    }
    return h;
}

double eml__betainc(double a, double b, double x)
{
    if (!(a > 0 && b > 0) || isnan(x))
        return NAN;
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double lbt = log_gamma(a + b) - log_gamma(a) - log_gamma(b) + a * log(x) + b * log1p(-x);
    double bt = exp(lbt);
    /* the fraction converges fast on this side of the mean; use the symmetry on the other */
    if (x < (a + 1) / (a + b + 2))
        return bt * beta_cf(a, b, x) / a;
    return 1 - bt * beta_cf(b, a, 1 - x) / b;
}

double eml__student_t_p2(double t, double df)
{
    if (isnan(t) || !(df > 0))
        return NAN;
    if (isinf(t))
        return 0;
    if (isinf(df))
        return erfc(fabs(t) / sqrt(2.0));
    /* P(|T| > |t|) = I_{df / (df + t^2)}(df / 2, 1 / 2) */
    return eml__betainc(df / 2, 0.5, df / (df + t * t));
}

void eml__welch(double n1, double mean1, double var1, double n2, double mean2, double var2,
                double *t, double *df, double *p)
{
    *t = *df = *p = NAN;
    if (n1 < 2 || n2 < 2)
        return;
    double s1 = var1 / n1, s2 = var2 / n2, se2 = s1 + s2;
    if (se2 <= 0) {
        /* both samples constant: equal means are no evidence, different ones are certain */
        *t = mean1 == mean2 ? 0 : (mean1 > mean2 ? INFINITY : -INFINITY);
        *df = n1 + n2 - 2;
        *p = mean1 == mean2 ? 1 : 0;
        return;
    }
    *t = (mean1 - mean2) / sqrt(se2);
    *df = se2 * se2 / (s1 * s1 / (n1 - 1) + s2 * s2 / (n2 - 1));
    *p = eml__student_t_p2(*t, *df);
}

void eml__two_proportion(double e1, double n1, double e2, double n2, double *z, double *p)
{
    *z = *p = NAN;
    if (n1 < 1 || n2 < 1)
        return;
    double p1 = e1 / n1, p2 = e2 / n2, pool = (e1 + e2) / (n1 + n2);
    double se = sqrt(pool * (1 - pool) * (1 / n1 + 1 / n2));
    if (se <= 0) {
        *z = 0; /* no errors anywhere, or errors everywhere: the rates agree */
        *p = 1;
        return;
    }
    *z = (p1 - p2) / se;
    *p = erfc(fabs(*z) / sqrt(2.0));
}

void eml__ab_compare_arms(const eml__ab_arm_stats *control, const eml__ab_arm_stats *arm,
                          eml__ab_compare *out)
{
    double n1 = (double)arm->latency_n, n2 = (double)control->latency_n;
    double v1 = n1 > 1 ? arm->latency_m2 / (n1 - 1) : NAN;
    double v2 = n2 > 1 ? control->latency_m2 / (n2 - 1) : NAN;
    eml__welch(n1, arm->latency_mean_s, v1, n2, control->latency_mean_s, v2, &out->t, &out->df,
               &out->p_latency);
    eml__two_proportion((double)arm->errors, (double)arm->requests, (double)control->errors,
                        (double)control->requests, &out->z, &out->p_errors);
    out->latency_significant = out->p_latency < 0.05;
    out->errors_significant = out->p_errors < 0.05;
}

/* ---- latency histogram ---- */

#define LAT_BASE 1e-5
#define LAT_RATIO 1.08

static double bucket_bound(int i)
{
    return LAT_BASE * pow(LAT_RATIO, i);
}

void eml__lat_hist_add(eml__lat_hist *h, double seconds)
{
    int i = 0;
    if (seconds > LAT_BASE)
        i = (int)ceil(log(seconds / LAT_BASE) / log(LAT_RATIO) - 1e-9);
    if (i < 0)
        i = 0;
    if (i >= EML__AB_LAT_BUCKETS)
        i = EML__AB_LAT_BUCKETS - 1;
    h->buckets[i]++;
    h->count++;
}

double eml__lat_hist_quantile(const eml__lat_hist *h, double q)
{
    if (!h->count || !(q > 0 && q <= 1))
        return NAN;
    /* the nearest-rank definition: the smallest value with at least q of the samples at or
     * below it */
    uint64_t rank = (uint64_t)ceil(q * (double)h->count);
    if (rank < 1)
        rank = 1;
    uint64_t acc = 0;
    for (int i = 0; i < EML__AB_LAT_BUCKETS; i++) {
        acc += h->buckets[i];
        if (acc >= rank)
            return bucket_bound(i);
    }
    return bucket_bound(EML__AB_LAT_BUCKETS - 1);
}

/* ---- the tests ---- */

typedef struct ab_test {
    int used;
    uint64_t id;
    eml__ab_config cfg;
    uint64_t rng;
    eml__ab_arm_stats stats[EML__AB_MAX_ARMS];
    eml__lat_hist hist[EML__AB_MAX_ARMS];
} ab_test;

struct eml__router {
    pthread_mutex_t mu;
    uint64_t next_id;
    ab_test tests[EML__AB_MAX_TESTS];
};

eml_status eml__router_create(eml__router **out)
{
    eml__router *r = calloc(1, sizeof(*r));
    *out = r;
    if (!r)
        return EML_ENOMEM;
    pthread_mutex_init(&r->mu, NULL);
    r->next_id = 1;
    return EML_OK;
}

void eml__router_destroy(eml__router *r)
{
    if (!r)
        return;
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* Called with the lock held. */
static ab_test *find(eml__router *r, const char *model)
{
    for (int i = 0; i < EML__AB_MAX_TESTS; i++)
        if (r->tests[i].used && strcmp(r->tests[i].cfg.model, model) == 0)
            return &r->tests[i];
    return NULL;
}

eml_status eml__router_start(eml__router *r, const eml__ab_config *cfg, eml_diag *diag)
{
    if (!cfg->model[0])
        return eml__diag(diag, EML_EINVAL, "an A/B test needs a model");
    if (cfg->n_arms < 2 || cfg->n_arms > EML__AB_MAX_ARMS)
        return eml__diag(diag, EML_EINVAL, "an A/B test needs 2 to %d arms, not %u",
                         EML__AB_MAX_ARMS, (unsigned)cfg->n_arms);
    for (uint32_t i = 0; i < cfg->n_arms; i++) {
        const eml__ab_arm *a = &cfg->arms[i];
        if (!(a->weight > 0) || !isfinite(a->weight))
            return eml__diag(diag, EML_EINVAL, "arm '%s': the weight must be a positive number",
                             a->name);
        if (!a->name[0] || !a->model[0])
            return eml__diag(diag, EML_EINVAL, "arm %u has no name or model", (unsigned)i);
        for (uint32_t j = 0; j < i; j++)
            if (strcmp(cfg->arms[j].name, a->name) == 0)
                return eml__diag(diag, EML_EINVAL, "two arms are named '%s'", a->name);
    }
    if (!(cfg->shadow_fraction >= 0 && cfg->shadow_fraction <= 1))
        return eml__diag(diag, EML_EINVAL, "shadow_fraction must be within [0, 1]");
    eml_status st = EML_OK;
    pthread_mutex_lock(&r->mu);
    ab_test *t = NULL;
    if (find(r, cfg->model)) {
        st = eml__diag(diag, EML_EINVAL, "model '%s' has an A/B test running: stop it first",
                       cfg->model);
        goto done;
    }
    for (int i = 0; i < EML__AB_MAX_TESTS && !t; i++)
        if (!r->tests[i].used)
            t = &r->tests[i];
    if (!t) {
        st = eml__diag(diag, EML_ELIMIT, "%d A/B tests run already", EML__AB_MAX_TESTS);
        goto done;
    }
    memset(t, 0, sizeof(*t));
    t->used = 1;
    t->id = r->next_id++;
    t->cfg = *cfg;
    t->rng = cfg->seed;
done:
    pthread_mutex_unlock(&r->mu);
    return st;
}

/* Called with the lock held: the figures with their percentiles. */
static void copy_stats(const ab_test *t, eml__ab_arm_stats *out)
{
    for (uint32_t i = 0; i < t->cfg.n_arms; i++) {
        out[i] = t->stats[i];
        out[i].p50_s = eml__lat_hist_quantile(&t->hist[i], 0.50);
        out[i].p95_s = eml__lat_hist_quantile(&t->hist[i], 0.95);
        out[i].p99_s = eml__lat_hist_quantile(&t->hist[i], 0.99);
    }
}

eml_status eml__router_stop(eml__router *r, const char *model, eml__ab_config *cfg,
                            eml__ab_arm_stats *stats)
{
    pthread_mutex_lock(&r->mu);
    ab_test *t = find(r, model);
    if (t) {
        if (cfg)
            *cfg = t->cfg;
        if (stats)
            copy_stats(t, stats);
        t->used = 0;
    }
    pthread_mutex_unlock(&r->mu);
    return t ? EML_OK : EML_ENOTFOUND;
}

eml_status eml__router_status(eml__router *r, const char *model, eml__ab_config *cfg,
                              eml__ab_arm_stats *stats)
{
    pthread_mutex_lock(&r->mu);
    ab_test *t = find(r, model);
    if (t) {
        if (cfg)
            *cfg = t->cfg;
        if (stats)
            copy_stats(t, stats);
    }
    pthread_mutex_unlock(&r->mu);
    return t ? EML_OK : EML_ENOTFOUND;
}

size_t eml__router_list(eml__router *r, eml__ab_config *cfgs, size_t cap)
{
    size_t n = 0;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < EML__AB_MAX_TESTS; i++) {
        if (!r->tests[i].used)
            continue;
        if (n < cap)
            cfgs[n] = r->tests[i].cfg;
        n++;
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

int eml__router_pick(eml__router *r, const char *model,
                     const char *(*key_of)(void *user, const char *name), void *user,
                     eml__ab_pick *out)
{
    pthread_mutex_lock(&r->mu);
    ab_test *t = find(r, model);
    if (!t) {
        pthread_mutex_unlock(&r->mu);
        return 0;
    }
    double w[EML__AB_MAX_ARMS];
    for (uint32_t i = 0; i < t->cfg.n_arms; i++)
        w[i] = t->cfg.arms[i].weight;
    const char *key = t->cfg.sticky_key[0] && key_of ? key_of(user, t->cfg.sticky_key) : NULL;
    /* a sticky key always lands in the same arm while the test's arms and weights stay */
    double u =
        key ? eml__ab_unit(eml__ab_hash(key, strlen(key))) : eml__ab_unit(splitmix64(&t->rng));
    uint32_t arm = eml__ab_choose(w, t->cfg.n_arms, u);
    out->test_id = t->id;
    out->arm = arm;
    out->run = t->cfg.arms[arm];
    out->control = t->cfg.arms[0];
    out->shadow = arm != 0 && t->cfg.shadow_fraction > 0 &&
                  eml__ab_unit(splitmix64(&t->rng)) < t->cfg.shadow_fraction;
    pthread_mutex_unlock(&r->mu);
    return 1;
}

void eml__router_record(eml__router *r, const char *model, const eml__ab_pick *pick, int ok,
                        double latency_s, const float *scores, size_t rows, size_t cols,
                        uint64_t compared_rows, uint64_t agree_rows)
{
    /* the softmax runs outside the lock */
    size_t counted = 0;
    double conf = ok && scores ? eml__ab_top1(scores, rows, cols, NULL, &counted) : 0;
    pthread_mutex_lock(&r->mu);
    ab_test *t = find(r, model);
    if (t && t->id == pick->test_id && pick->arm < t->cfg.n_arms) {
        eml__ab_arm_stats *s = &t->stats[pick->arm];
        s->requests++;
        if (!ok) {
            s->errors++;
        } else {
            s->latency_n++;
            double delta = latency_s - s->latency_mean_s;
            s->latency_mean_s += delta / (double)s->latency_n;
            s->latency_m2 += delta * (latency_s - s->latency_mean_s);
            eml__lat_hist_add(&t->hist[pick->arm], latency_s);
            s->confidence_sum += conf;
            s->confidence_rows += counted;
            s->compared_rows += compared_rows;
            s->agree_rows += agree_rows;
        }
    }
    pthread_mutex_unlock(&r->mu);
}
