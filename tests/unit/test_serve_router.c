/* A/B router: arm shares within statistical bounds, sticky keys, top-1 confidence, the incomplete
 * beta / Student t / normal p-values against values computed independently (mpmath, and a
 * numerical integration of the t density), per-arm figures and late records. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "serve/router.h"

static int near(double got, double want, double rel)
{
    int ok = fabs(got - want) <= rel * fabs(want) + 1e-300;
    if (!ok)
        fprintf(stderr, "got %.17g, want %.17g\n", got, want);
    return ok;
}

static eml__ab_config config(uint32_t n, const double *weights)
{
    eml__ab_config c;
    memset(&c, 0, sizeof(c));
    snprintf(c.model, sizeof(c.model), "m");
    c.n_arms = n;
    for (uint32_t i = 0; i < n; i++) {
        snprintf(c.arms[i].name, sizeof(c.arms[i].name), "%c", 'A' + i);
        snprintf(c.arms[i].model, sizeof(c.arms[i].model), "m");
        c.arms[i].version = i + 1;
        c.arms[i].weight = weights[i];
    }
    c.seed = eml_test_seed();
    return c;
}

EML_TEST(router_weights_hold)
{
    eml__router *r;
    REQUIRE(eml__router_create(&r) == EML_OK);
    const double w[3] = {1, 2, 7};
    eml__ab_config c = config(3, w);
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__router_start(r, &c, &d), &d);
    enum { N = 100000 };
    uint64_t count[3] = {0};
    eml__ab_pick p;
    for (int i = 0; i < N; i++) {
        REQUIRE(eml__router_pick(r, "m", NULL, NULL, &p) == 1);
        REQUIRE(p.arm < 3);
        count[p.arm]++;
        CHECK(p.run.version == p.arm + 1 && p.control.version == 1 && !p.shadow);
    }
    for (int i = 0; i < 3; i++) {
        /* binomial: within 5 standard deviations (a false alarm once in ~3.5 million runs) */
        double share = w[i] / 10.0, mean = N * share, sd = sqrt(N * share * (1 - share));
        CHECK(fabs((double)count[i] - mean) < 5 * sd);
    }
    CHECK(eml__router_pick(r, "other", NULL, NULL, &p) == 0);
    eml__router_destroy(r);
}

EML_TEST(router_choose_bounds)
{
    const double w[2] = {1, 3};
    CHECK(eml__ab_choose(w, 2, 0.0) == 0);
    CHECK(eml__ab_choose(w, 2, 0.2499) == 0);
    CHECK(eml__ab_choose(w, 2, 0.25) == 1);
    CHECK(eml__ab_choose(w, 2, 0.999999) == 1);
    CHECK(eml__ab_unit(0) == 0.0 && eml__ab_unit(UINT64_MAX) < 1.0);
}

static const char *fixed_key(void *user, const char *name)
{
    CHECK(strcmp(name, "user") == 0);
    return user;
}

EML_TEST(router_sticky_keys_are_stable)
{
    eml__router *r;
    REQUIRE(eml__router_create(&r) == EML_OK);
    const double w[2] = {1, 1};
    eml__ab_config c = config(2, w);
    snprintf(c.sticky_key, sizeof(c.sticky_key), "user");
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__router_start(r, &c, &d), &d);
    enum { KEYS = 4000 };
    uint32_t first[KEYS];
    uint64_t in_b = 0;
    char key[32];
    eml__ab_pick p;
    for (int round = 0; round < 3; round++)
        for (int k = 0; k < KEYS; k++) {
            snprintf(key, sizeof(key), "user-%d", k);
            REQUIRE(eml__router_pick(r, "m", fixed_key, key, &p));
            if (round == 0) {
                first[k] = p.arm;
                in_b += p.arm;
            } else {
                CHECK(p.arm == first[k]);
            }
        }
    /* the hash spreads keys by weight too: 50/50 within 5 standard deviations */
    CHECK(fabs((double)in_b - KEYS / 2.0) < 5 * sqrt(KEYS * 0.25));
    /* the same key, through the hash alone, again */
    CHECK(eml__ab_hash("user-7", 6) == eml__ab_hash("user-7", 6));
    CHECK(eml__ab_hash("user-7", 6) != eml__ab_hash("user-8", 6));
    /* a request without the key falls back to the weighted draw */
    REQUIRE(eml__router_pick(r, "m", fixed_key, NULL, &p));
    CHECK(p.arm < 2);
    eml__router_destroy(r);
}

EML_TEST(router_top1_confidence)
{
    /* softmax of [0, ln 3] = [0.25, 0.75]; a probability row is taken as it is; a NaN row is
     * left out */
    const float x[3 * 2] = {0.0f, (float)log(3.0), 0.2f, 0.8f, NAN, 1.0f};
    int32_t arg[3];
    size_t counted = 0;
    double sum = eml__ab_top1(x, 3, 2, arg, &counted);
    CHECK(counted == 2);
    CHECK(near(sum, 0.75 + 0.8, 1e-6));
    CHECK(arg[0] == 1 && arg[1] == 1 && arg[2] == -1);
    /* ten equal logits: 0.1 */
    float flat[10] = {0};
    CHECK(near(eml__ab_top1(flat, 1, 10, NULL, NULL), 0.1, 1e-12));
    /* scores in [0, 1] that do not sum to 1 are logits */
    const float y[2] = {0.5f, 0.25f};
    CHECK(near(eml__ab_top1(y, 1, 2, NULL, NULL), 1.0 / (1.0 + exp(-0.25)), 1e-6));
}

EML_TEST(router_incomplete_beta_and_t)
{
    /* I_0.4(2, 3) = 0.5248 exactly; I_0.2(1/2, 1/2) = (2/pi) asin(sqrt(0.2)) */
    CHECK(near(eml__betainc(2, 3, 0.4), 0.5248, 1e-12));
    CHECK(near(eml__betainc(0.5, 0.5, 0.2), 0.29516723530086655, 1e-12));
    CHECK(near(eml__betainc(10, 0.5, 0.9), 0.15164090963470992, 1e-10));
    CHECK(eml__betainc(2, 3, 0) == 0 && eml__betainc(2, 3, 1) == 1);
    CHECK(isnan(eml__betainc(-1, 3, 0.5)));
    /* two-sided Student t p-values (mpmath.betainc, confirmed by integrating the density) */
    CHECK(near(eml__student_t_p2(2.0, 5), 0.10193947882985836, 1e-10));
    CHECK(near(eml__student_t_p2(-2.0, 5), 0.10193947882985836, 1e-10));
    CHECK(near(eml__student_t_p2(1.0, 1), 0.5, 1e-12));
    CHECK(near(eml__student_t_p2(3.5, 12.3), 0.004230535234034092, 1e-9));
    CHECK(near(eml__student_t_p2(0.1, 100), 0.9205445310958512, 1e-10));
    CHECK(near(eml__student_t_p2(2.5, 1000), 0.012578567801090797, 1e-9));
    CHECK(near(eml__student_t_p2(2.5, INFINITY), erfc(2.5 / sqrt(2.0)), 1e-12));
    CHECK(eml__student_t_p2(0, 7) == 1.0 || near(eml__student_t_p2(0, 7), 1.0, 1e-12));
}

EML_TEST(router_welch_and_z_tests)
{
    /* two samples of 8 and 10 latencies (numpy: mean, var(ddof=1)); p from mpmath */
    const double a[8] = {12.1, 11.8, 12.6, 13.0, 12.2, 11.9, 12.4, 12.8};
    const double b[10] = {13.1, 12.9, 13.6, 14.0, 13.2, 12.7, 13.5, 13.9, 13.3, 13.0};
    eml__ab_arm_stats sa, sb;
    memset(&sa, 0, sizeof(sa));
    memset(&sb, 0, sizeof(sb));
    /* the same figures as the router keeps them: Welford's running mean and m2 */
    for (int i = 0; i < 8; i++) {
        sa.latency_n++;
        double delta = a[i] - sa.latency_mean_s;
        sa.latency_mean_s += delta / (double)sa.latency_n;
        sa.latency_m2 += delta * (a[i] - sa.latency_mean_s);
    }
    for (int i = 0; i < 10; i++) {
        sb.latency_n++;
        double delta = b[i] - sb.latency_mean_s;
        sb.latency_mean_s += delta / (double)sb.latency_n;
        sb.latency_m2 += delta * (b[i] - sb.latency_mean_s);
    }
    CHECK(near(sa.latency_mean_s, 12.35, 1e-12) &&
          near(sa.latency_m2 / 7, 0.18285714285714283, 1e-9));
    sa.requests = 1000, sa.errors = 30;
    sb.requests = 1000, sb.errors = 18;
    eml__ab_compare k;
    eml__ab_compare_arms(&sb, &sa, &k); /* sb is the control */
    CHECK(near(k.t, -4.7884497618508988, 1e-9));
    CHECK(near(k.df, 15.122243546209408, 1e-9));
    CHECK(near(k.p_latency, 0.00023404010621074561, 1e-7));
    CHECK(k.latency_significant == 1);
    CHECK(near(k.z, 1.7532171832956915, 1e-12));
    CHECK(near(k.p_errors, 0.079564734593190453, 1e-10));
    CHECK(k.errors_significant == 0);
    double z, p;
    eml__two_proportion(50, 400, 20, 400, &z, &p);
    CHECK(near(z, 3.753667482539127, 1e-12) && near(p, 0.0001742660024824635, 1e-9));
    eml__two_proportion(0, 400, 0, 400, &z, &p);
    CHECK(z == 0 && p == 1);
    double t, df;
    eml__welch(1, 1, NAN, 5, 2, 1, &t, &df, &p);
    CHECK(isnan(p));
    eml__welch(3, 2, 0, 3, 2, 0, &t, &df, &p);
    CHECK(p == 1);
}

EML_TEST(router_latency_histogram)
{
    eml__lat_hist h;
    memset(&h, 0, sizeof(h));
    CHECK(isnan(eml__lat_hist_quantile(&h, 0.5)));
    for (int i = 1; i <= 100; i++)
        eml__lat_hist_add(&h, i * 1e-3);
    /* nearest rank: p50 = 50 ms, p95 = 95 ms, p99 = 99 ms, each within the 8% bucket width */
    double p50 = eml__lat_hist_quantile(&h, 0.5), p95 = eml__lat_hist_quantile(&h, 0.95);
    double p99 = eml__lat_hist_quantile(&h, 0.99);
    CHECK(p50 >= 0.050 && p50 < 0.050 * 1.08);
    CHECK(p95 >= 0.095 && p95 < 0.095 * 1.08);
    CHECK(p99 >= 0.099 && p99 < 0.099 * 1.08);
    eml__lat_hist_add(&h, 1e9); /* beyond the last bound: counted in the open bucket */
    CHECK(h.count == 101);
}

EML_TEST(router_records_per_arm)
{
    eml__router *r;
    REQUIRE(eml__router_create(&r) == EML_OK);
    const double w[2] = {1, 1};
    eml__ab_config c = config(2, w);
    c.shadow_fraction = 1;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__router_start(r, &c, &d), &d);
    CHECK_STATUS(eml__router_start(r, &c, &d), EML_EINVAL); /* one test per model */
    const float probs[2] = {0.9f, 0.1f};
    eml__ab_pick p;
    int shadowed = 0;
    uint64_t seen[2] = {0};
    for (int i = 0; i < 200; i++) {
        REQUIRE(eml__router_pick(r, "m", NULL, NULL, &p));
        seen[p.arm]++;
        shadowed += p.shadow;
        CHECK(p.shadow == (p.arm == 1)); /* every treatment request, never the control */
        eml__router_record(r, "m", &p, i % 10 != 0, 0.001 * (1 + p.arm), probs, 1, 2, p.shadow,
                           p.shadow);
    }
    eml__ab_arm_stats s[2];
    REQUIRE(eml__router_status(r, "m", NULL, s) == EML_OK);
    CHECK(s[0].requests + s[1].requests == 200);
    CHECK(s[0].requests == seen[0] && s[1].requests == seen[1]);
    CHECK(s[0].errors + s[1].errors == 20);
    CHECK(near(s[1].latency_mean_s, 0.002, 1e-9) && s[1].latency_m2 < 1e-15);
    CHECK(near(s[0].confidence_sum / (double)s[0].confidence_rows, 0.9, 1e-6));
    CHECK(s[1].compared_rows == s[1].agree_rows && s[1].compared_rows == s[1].latency_n);
    CHECK(s[0].compared_rows == 0 && shadowed == (int)seen[1]);
    CHECK(s[0].p95_s >= 0.001 && s[0].p95_s < 0.00108);
    /* a record from before a restart of the test counts nowhere */
    eml__ab_config got;
    REQUIRE(eml__router_stop(r, "m", &got, s) == EML_OK && got.n_arms == 2);
    REQUIRE_OK(eml__router_start(r, &c, &d), &d);
    eml__router_record(r, "m", &p, 1, 0.001, NULL, 0, 0, 0, 0);
    REQUIRE(eml__router_status(r, "m", NULL, s) == EML_OK);
    CHECK(s[0].requests == 0 && s[1].requests == 0);
    CHECK(eml__router_stop(r, "m", NULL, NULL) == EML_OK);
    CHECK(eml__router_stop(r, "m", NULL, NULL) == EML_ENOTFOUND);
    eml__router_destroy(r);
}

EML_TEST(router_refuses_bad_configs)
{
    eml__router *r;
    REQUIRE(eml__router_create(&r) == EML_OK);
    eml_diag d;
    eml_diag_init(&d);
    const double w[2] = {1, 0};
    eml__ab_config c = config(2, w);
    CHECK_STATUS(eml__router_start(r, &c, &d), EML_EINVAL); /* weight 0 */
    c.arms[1].weight = 1;
    c.n_arms = 1;
    CHECK_STATUS(eml__router_start(r, &c, &d), EML_EINVAL);
    c.n_arms = 2;
    snprintf(c.arms[1].name, sizeof(c.arms[1].name), "A");
    CHECK_STATUS(eml__router_start(r, &c, &d), EML_EINVAL); /* duplicate name */
    snprintf(c.arms[1].name, sizeof(c.arms[1].name), "B");
    c.shadow_fraction = 1.5;
    CHECK_STATUS(eml__router_start(r, &c, &d), EML_EINVAL);
    c.shadow_fraction = 0;
    CHECK_STATUS(eml__router_start(r, &c, &d), EML_OK);
    eml__router_destroy(r);
}
