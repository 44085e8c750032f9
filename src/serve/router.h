/* A/B tests of served models: the arm of each request (by weight, or sticky by a request key),
 * per-arm statistics, and the significance tests that compare each arm with the control. */
#ifndef EML_SERVE_ROUTER_H
#define EML_SERVE_ROUTER_H

#include <stddef.h>
#include <stdint.h>

#include "edgeml/serve.h"
#include "edgeml/status.h"

#define EML__AB_MAX_ARMS 4
#define EML__AB_MAX_TESTS 64
#define EML__AB_NAME 32
#define EML__AB_LAT_BUCKETS 200

/* One arm: what a request routed to it runs. Arm 0 is the control. */
typedef struct eml__ab_arm {
    char name[EML__AB_NAME];
    char model[EML_REPO_MAX_NAME + 1]; /* the test's model, or a variant's model */
    uint32_t version;                  /* 0: the model's serving version at request time */
    char variant[EML__AB_NAME];        /* the variant's name; "" for a version arm */
    double weight;                     /* > 0; arms share traffic in proportion */
} eml__ab_arm;

typedef struct eml__ab_config {
    char model[EML_REPO_MAX_NAME + 1]; /* the model whose requests are split */
    uint32_t n_arms;                   /* 2..EML__AB_MAX_ARMS */
    eml__ab_arm arms[EML__AB_MAX_ARMS];
    char sticky_key[64];    /* request parameter whose value picks the arm; "": by weight */
    double shadow_fraction; /* of treatment requests also run on the control, for agreement */
    uint64_t seed;          /* of the arm and shadow draws */
} eml__ab_config;

/* Latency histogram: bucket i holds (b(i-1), b(i)] with b(i) = 10 µs * 1.08^i, so a percentile
 * read from it is within 8% of the true value, from 10 µs to about 48 s; the last bucket is
 * open-ended. */
typedef struct eml__lat_hist {
    uint64_t buckets[EML__AB_LAT_BUCKETS];
    uint64_t count;
} eml__lat_hist;

void eml__lat_hist_add(eml__lat_hist *h, double seconds);
/* The q-quantile (0 < q <= 1) in seconds: the upper bound of the bucket holding it, clamped to
 * the largest observed value's bucket; NAN when empty. */
double eml__lat_hist_quantile(const eml__lat_hist *h, double q);

/* One arm's figures. Latency mean and variance (Welford) over successful requests. */
typedef struct eml__ab_arm_stats {
    uint64_t requests, errors;
    uint64_t latency_n;
    double latency_mean_s, latency_m2; /* m2: sum of squared deviations */
    double p50_s, p95_s, p99_s;        /* NAN when no request succeeded */
    double confidence_sum;             /* of the top-1 probability per output row */
    uint64_t confidence_rows;
    uint64_t compared_rows, agree_rows; /* shadowed rows, and those whose top-1 matched */
} eml__ab_arm_stats;

/* An arm against the control: Welch's t-test on latency, two-proportion z-test on errors.
 * p-values are NAN when there is not enough data (fewer than 2 latencies in an arm, or no
 * request in one). Significant: p < 0.05. */
typedef struct eml__ab_compare {
    double t, df, p_latency;
    double z, p_errors;
    int latency_significant, errors_significant;
} eml__ab_compare;

typedef struct eml__router eml__router;

/* Returns EML_OK or EML_ENOMEM. */
eml_status eml__router_create(eml__router **out);
void eml__router_destroy(eml__router *r); /* NULL is a no-op */

/* Starts a test (cfg: copied; weights must be > 0, arm names unique). Returns EML_OK, EML_EINVAL
 * (bad config, or a test of that model runs already), EML_ELIMIT (too many tests). */
eml_status eml__router_start(eml__router *r, const eml__ab_config *cfg, eml_diag *diag);
/* Ends a test; its last figures go to *stats and *cfg when non-NULL (arrays of n_arms).
 * Returns EML_OK or EML_ENOTFOUND. */
eml_status eml__router_stop(eml__router *r, const char *model, eml__ab_config *cfg,
                            eml__ab_arm_stats *stats);
/* A copy of a test's config and figures. Returns EML_OK or EML_ENOTFOUND. */
eml_status eml__router_status(eml__router *r, const char *model, eml__ab_config *cfg,
                              eml__ab_arm_stats *stats);
/* The tests' configs in *cfgs (up to cap); returns how many there are. */
size_t eml__router_list(eml__router *r, eml__ab_config *cfgs, size_t cap);

/* What a request of a model under test runs. */
typedef struct eml__ab_pick {
    uint64_t test_id; /* identifies the test, so a late record never counts in a newer one */
    uint32_t arm;
    eml__ab_arm run; /* the arm's model and version */
    eml__ab_arm control;
    int shadow; /* 1: also run the control on the same inputs and compare top-1 */
} eml__ab_pick;

/* Picks the arm of one request. With a sticky key, key_of(user, sticky_key) gives the request's
 * value of it (NULL when the request has none: then by weight); it is called under the router's
 * lock and must not call back. key_of may be NULL. Returns 1 when the model is under test, 0
 * otherwise. Thread-safe. */
int eml__router_pick(eml__router *r, const char *model,
                     const char *(*key_of)(void *user, const char *name), void *user,
                     eml__ab_pick *out);

/* Counts a request's outcome in its arm: ok, latency, and optionally the first output's scores
 * (rows x cols floats, may be NULL) and the shadow comparison (compared rows, agreeing rows).
 * Ignored when the test has ended since the pick. Thread-safe. */
void eml__router_record(eml__router *r, const char *model, const eml__ab_pick *pick, int ok,
                        double latency_s, const float *scores, size_t rows, size_t cols,
                        uint64_t compared_rows, uint64_t agree_rows);

/* ---- the maths, exposed for tests ---- */

/* Arm index for u in [0, 1): the first whose cumulative weight share exceeds u. */
uint32_t eml__ab_choose(const double *weights, uint32_t n, double u);
/* FNV-1a 64 of the bytes, then a splitmix64 finalizer so that every bit is well mixed. */
uint64_t eml__ab_hash(const char *key, size_t n);
/* A uniform double in [0, 1) from the top 53 bits. */
double eml__ab_unit(uint64_t x);
/* Per row of a [rows, cols] score matrix: the index of the largest (argmax, may be NULL; -1 for
 * a row with a non-finite value) and the top-1 probability (softmax of the row, unless the row
 * already is a probability distribution: all in [0, 1] summing to 1 within 1e-3). Returns the
 * sum of top-1 probabilities of the finite rows, their number in *counted. */
double eml__ab_top1(const float *scores, size_t rows, size_t cols, int32_t *argmax,
                    size_t *counted);
/* The regularized incomplete beta function I_x(a, b) (continued fraction, Lentz). */
double eml__betainc(double a, double b, double x);
/* Two-sided p-value of Student's t with df degrees of freedom. */
double eml__student_t_p2(double t, double df);
/* Welch's t-test of two samples given count, mean and sample variance. */
void eml__welch(double n1, double mean1, double var1, double n2, double mean2, double var2,
                double *t, double *df, double *p);
/* Two-proportion z-test (pooled) of e1/n1 against e2/n2. */
void eml__two_proportion(double e1, double n1, double e2, double n2, double *z, double *p);
/* An arm against the control from their figures. */
void eml__ab_compare_arms(const eml__ab_arm_stats *control, const eml__ab_arm_stats *arm,
                          eml__ab_compare *out);

#endif
