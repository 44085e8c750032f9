/* Variant policy with injected figures: steps down a full window over the SLO, back up under
 * up_ratio * SLO (hysteresis), queue overflow per request, low power, counts per variant and
 * reason; and the power mode read from a fake sysfs tree. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "serve/adapt.h"
#include "serve/power_mode.h"

static eml__adapt_config three(double slo_ms, uint32_t window)
{
    eml__adapt_config c;
    memset(&c, 0, sizeof(c));
    snprintf(c.model, sizeof(c.model), "m");
    const char *names[3] = {"fp32", "int8", "small"};
    c.n_variants = 3;
    for (int i = 0; i < 3; i++) {
        snprintf(c.variants[i].name, sizeof(c.variants[i].name), "%s", names[i]);
        snprintf(c.variants[i].model, sizeof(c.variants[i].model), "m_%s", names[i]);
    }
    eml__adapt_policy_init(&c.policy);
    c.policy.slo_p95_ms = slo_ms;
    c.policy.window = window;
    return c;
}

/* One request at the given latency: chosen, then recorded. Returns the variant index. */
static uint32_t request(eml__adapt *ad, double latency_ms, uint32_t queued, int low)
{
    eml__adapt_choice ch;
    REQUIRE(eml__adapt_choose(ad, "m", queued, low, &ch) == 1);
    eml__adapt_record(ad, "m", &ch, latency_ms * 1e-3);
    return ch.index;
}

EML_TEST(adapt_steps_down_and_up_with_hysteresis)
{
    eml__adapt *ad;
    REQUIRE(eml__adapt_create(&ad) == EML_OK);
    eml__adapt_config c = three(10, 20);
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__adapt_set(ad, &c, &d), &d);
    eml__adapt_status s;
    /* 19 slow requests: the window is not full, no step */
    for (int i = 0; i < 19; i++)
        CHECK(request(ad, 50, 0, 0) == 0);
    REQUIRE(eml__adapt_get(ad, "m", NULL, &s) == EML_OK);
    CHECK(s.level == 0 && s.window_count == 19 && fabs(s.window_p95_ms - 50) < 1e-9);
    /* the 20th fills it: p95 50 ms > 10 ms, one step down, window emptied */
    CHECK(request(ad, 50, 0, 0) == 0);
    REQUIRE(eml__adapt_get(ad, "m", NULL, &s) == EML_OK);
    CHECK(s.level == 1 && s.step_downs == 1 && s.window_count == 0);
    /* 18 fast and 2 slow of 20: p95 (nearest rank: the 19th smallest) is slow, down again */
    for (int i = 0; i < 20; i++)
        CHECK(request(ad, i < 18 ? 1 : 30, 0, 0) == 1);
    REQUIRE(eml__adapt_get(ad, "m", NULL, &s) == EML_OK);
    CHECK(s.level == 2 && s.step_downs == 2);
    /* at the cheapest, still slow: stays */
    for (int i = 0; i < 40; i++)
        CHECK(request(ad, 50, 0, 0) == 2);
    REQUIRE(eml__adapt_get(ad, "m", NULL, &s) == EML_OK);
    CHECK(s.level == 2 && s.step_downs == 2 && s.step_ups == 0);
    /* 7 ms: under the SLO but over up_ratio (0.5) * SLO = 5 ms: hysteresis, no step up */
    for (int i = 0; i < 40; i++)
        CHECK(request(ad, 7, 0, 0) == 2);
    REQUIRE(eml__adapt_get(ad, "m", NULL, &s) == EML_OK);
    CHECK(s.level == 2 && s.step_ups == 0);
    /* 3 ms for a full window (the 7 ms ones leave it as the 3 ms ones come): one step up */
    int steps_at = -1;
    for (int i = 0; i < 20 && steps_at < 0; i++) {
        request(ad, 3, 0, 0);
        REQUIRE(eml__adapt_get(ad, "m", NULL, &s) == EML_OK);
        if (s.level == 1)
            steps_at = i;
    }
    /* the p95 drops under 5 ms once 19 of the 20 are 3 ms: after the 19th */
    CHECK(steps_at == 18);
    CHECK(s.step_ups == 1);
    for (int i = 0; i < 20; i++)
        CHECK(request(ad, 3, 0, 0) == 1);
    REQUIRE(eml__adapt_get(ad, "m", NULL, &s) == EML_OK);
    CHECK(s.level == 0 && s.step_ups == 2);
    /* counts: every choice by variant and reason */
    CHECK(s.choices[0][EML__ADAPT_PREFERRED] == 20);
    CHECK(s.choices[1][EML__ADAPT_SLO] == 20 + 20);
    CHECK(s.choices[2][EML__ADAPT_SLO] == 40 + 40 + 19);
    eml__adapt_destroy(ad);
}

EML_TEST(adapt_queue_and_power)
{
    eml__adapt *ad;
    REQUIRE(eml__adapt_create(&ad) == EML_OK);
    eml__adapt_config c = three(0, 5); /* no latency rule */
    c.policy.queue_high = 4;
    c.policy.low_power = 1;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__adapt_set(ad, &c, &d), &d);
    eml__variant v;
    REQUIRE(eml__adapt_peek(ad, "m", 0, &v) && strcmp(v.name, "fp32") == 0);
    REQUIRE(eml__adapt_peek(ad, "m", 1, &v) && strcmp(v.name, "int8") == 0);
    CHECK(eml__adapt_peek(ad, "none", 0, &v) == 0);
    CHECK(request(ad, 100, 3, 0) == 0); /* under queue_high */
    CHECK(request(ad, 100, 4, 0) == 1); /* at it: one cheaper, for this request only */
    CHECK(request(ad, 100, 0, 0) == 0); /* no SLO: slow requests never step */
    CHECK(request(ad, 100, 0, 1) == 1); /* low power: the low-power variant */
    CHECK(request(ad, 100, 9, 1) == 2); /* low power and a full queue: one cheaper still */
    eml__adapt_status s;
    REQUIRE(eml__adapt_get(ad, "m", NULL, &s) == EML_OK);
    CHECK(s.level == 0 && s.step_downs == 0);
    CHECK(s.choices[0][EML__ADAPT_PREFERRED] == 2);
    CHECK(s.choices[1][EML__ADAPT_QUEUE] == 1);
    CHECK(s.choices[1][EML__ADAPT_POWER] == 1);
    CHECK(s.choices[2][EML__ADAPT_QUEUE] == 1);
    /* overflow and low-power runs do not enter the level's window */
    CHECK(s.window_count == 2);
    /* promoting a variant puts it first and keeps the low-power one pointing at int8 */
    REQUIRE(eml__adapt_prefer(ad, "m", "small") == EML_OK);
    eml__adapt_config got;
    REQUIRE(eml__adapt_get(ad, "m", &got, &s) == EML_OK);
    CHECK(strcmp(got.variants[0].name, "small") == 0 && strcmp(got.variants[1].name, "fp32") == 0);
    CHECK(strcmp(got.variants[got.policy.low_power].name, "int8") == 0);
    CHECK(eml__adapt_prefer(ad, "m", "nope") == EML_ENOTFOUND);
    CHECK(eml__adapt_clear(ad, "m") == EML_OK && eml__adapt_clear(ad, "m") == EML_ENOTFOUND);
    eml__adapt_destroy(ad);
}

EML_TEST(adapt_refuses_bad_sets)
{
    eml__adapt *ad;
    REQUIRE(eml__adapt_create(&ad) == EML_OK);
    eml_diag d;
    eml_diag_init(&d);
    eml__adapt_config c = three(10, 0);
    CHECK_STATUS(eml__adapt_set(ad, &c, &d), EML_EINVAL); /* window 0 */
    c = three(-1, 5);
    CHECK_STATUS(eml__adapt_set(ad, &c, &d), EML_EINVAL);
    c = three(10, 5);
    snprintf(c.variants[2].name, sizeof(c.variants[2].name), "fp32");
    CHECK_STATUS(eml__adapt_set(ad, &c, &d), EML_EINVAL); /* duplicate */
    c = three(10, 5);
    c.policy.low_power = 3;
    CHECK_STATUS(eml__adapt_set(ad, &c, &d), EML_EINVAL);
    c = three(10, 5);
    c.policy.up_ratio = 0;
    CHECK_STATUS(eml__adapt_set(ad, &c, &d), EML_EINVAL);
    c.n_variants = 0;
    CHECK_STATUS(eml__adapt_set(ad, &c, &d), EML_EINVAL);
    /* a replaced set starts afresh; a late record of the old one counts nowhere */
    c = three(10, 1);
    REQUIRE_OK(eml__adapt_set(ad, &c, &d), &d);
    eml__adapt_choice old;
    REQUIRE(eml__adapt_choose(ad, "m", 0, 0, &old));
    REQUIRE_OK(eml__adapt_set(ad, &c, &d), &d);
    eml__adapt_record(ad, "m", &old, 1.0);
    eml__adapt_status s;
    REQUIRE(eml__adapt_get(ad, "m", NULL, &s) == EML_OK);
    CHECK(s.level == 0 && s.window_count == 0 && s.choices[0][0] == 0);
    eml__adapt_destroy(ad);
}

/* ---- power mode from a fake /sys/class/power_supply ---- */

static void put(const char *dir, const char *entry, const char *attr, const char *value)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, entry);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", dir, entry, attr);
    FILE *f = fopen(path, "w");
    REQUIRE(f);
    fprintf(f, "%s\n", value);
    fclose(f);
}

EML_TEST(power_mode_from_sysfs)
{
    eml__power_reading r;
    eml__power_read("/nonexistent/power_supply", &r);
    CHECK(!r.available && !r.on_battery && strstr(r.detail, "unavailable"));
    CHECK(eml__power_is_low(EML__POWER_AUTO, &r) == 0);
    CHECK(eml__power_is_low(EML__POWER_LOW, &r) == 1);
    CHECK(eml__power_is_low(EML__POWER_NORMAL, &r) == 0);

    char dir[256];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/eml_power_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(dir));
    eml__power_read(dir, &r); /* empty: nothing exposed */
    CHECK(!r.available && strstr(r.detail, "unavailable"));
    put(dir, "BAT0", "type", "Battery");
    put(dir, "BAT0", "status", "Discharging");
    put(dir, "BAT0", "capacity", "57");
    put(dir, "AC", "type", "Mains");
    put(dir, "AC", "online", "0");
    eml__power_read(dir, &r);
    CHECK(r.available && r.on_battery && r.battery_percent == 57);
    CHECK(eml__power_is_low(EML__POWER_AUTO, &r) == 1);
    put(dir, "AC", "online", "1"); /* plugged in: not low even while the battery reports */
    eml__power_read(dir, &r);
    CHECK(r.available && !r.on_battery && eml__power_is_low(EML__POWER_AUTO, &r) == 0);
    put(dir, "AC", "online", "0");
    put(dir, "BAT0", "status", "Charging");
    eml__power_read(dir, &r);
    CHECK(!r.on_battery);
    eml__power_setting s;
    CHECK(eml__power_setting_parse("auto", &s) && s == EML__POWER_AUTO);
    CHECK(!eml__power_setting_parse("turbo", &s));
    CHECK(strcmp(eml__power_setting_name(EML__POWER_LOW), "low") == 0);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}
