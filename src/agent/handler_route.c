/* The handler's A/B, variant and power-mode ops (model.ab.*, model.variants.*,
 * node.power_mode) and their HTTP routes. Each op that changes something rewrites the routing
 * file before it replies, so what a reply confirms survives a restart. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/route.h"
#include "core/core.h"

static void reply_json(eml__reply *r, cJSON *o)
{
    if (!o) {
        eml__reply_error(r, EML_ENOMEM, NULL);
        return;
    }
    r->http_status = 200;
    r->json = o;
}

static const char *cmd_str(const cJSON *cmd, const char *key)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(cmd, key);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

/* The command's model name (required). */
static eml_status cmd_model(const cJSON *cmd, const char **model, eml_diag *d)
{
    *model = cmd_str(cmd, "model");
    if (!*model || !(*model)[0] || strlen(*model) > EML_REPO_MAX_NAME)
        return eml__diag(d, EML_EINVAL, "the command needs a \"model\" name (1-%d characters)",
                         EML_REPO_MAX_NAME);
    return EML_OK;
}

/* ---- A/B ---- */

/* A test's config with each arm's figures and each treatment arm's comparison with the
 * control. */
static cJSON *ab_json(const eml__ab_config *c, const eml__ab_arm_stats *s)
{
    cJSON *o = eml__route_ab_json(c);
    cJSON *arms = cJSON_GetObjectItemCaseSensitive(o, "arms");
    uint64_t total = 0;
    for (uint32_t i = 0; arms && i < c->n_arms; i++) {
        cJSON *x = cJSON_GetArrayItem(arms, (int)i);
        if (!x)
            break;
        const eml__ab_arm_stats *a = &s[i];
        total += a->requests;
        cJSON_AddStringToObject(x, "role", i == 0 ? "control" : "treatment");
        cJSON_AddNumberToObject(x, "requests", (double)a->requests);
        cJSON_AddNumberToObject(x, "errors", (double)a->errors);
        eml__route_add_num(x, "error_rate", a->requests ? (double)a->errors / a->requests : NAN);
        cJSON *l = cJSON_AddObjectToObject(x, "latency_ms");
        if (l) {
            eml__route_add_num(l, "mean", a->latency_n ? a->latency_mean_s * 1e3 : NAN);
            eml__route_add_num(l, "p50", a->p50_s * 1e3);
            eml__route_add_num(l, "p95", a->p95_s * 1e3);
            eml__route_add_num(l, "p99", a->p99_s * 1e3);
            eml__route_add_num(l, "stddev",
                               a->latency_n > 1 ? sqrt(a->latency_m2 / (a->latency_n - 1)) * 1e3
                                                : NAN);
        }
        eml__route_add_num(x, "mean_top1_confidence",
                           a->confidence_rows ? a->confidence_sum / a->confidence_rows : NAN);
        cJSON *g = cJSON_AddObjectToObject(x, "agreement_with_control");
        if (g) {
            cJSON_AddNumberToObject(g, "compared_rows", (double)a->compared_rows);
            cJSON_AddNumberToObject(g, "agreeing_rows", (double)a->agree_rows);
            eml__route_add_num(g, "rate",
                               a->compared_rows ? (double)a->agree_rows / a->compared_rows : NAN);
        }
    }
    cJSON_AddNumberToObject(o, "total_requests", (double)total);
    cJSON *cmp = cJSON_AddArrayToObject(o, "comparisons");
    for (uint32_t i = 1; cmp && i < c->n_arms; i++) {
        eml__ab_compare k;
        eml__ab_compare_arms(&s[0], &s[i], &k);
        cJSON *x = cJSON_CreateObject();
        if (!x || !cJSON_AddItemToArray(cmp, x))
            break;
        cJSON_AddStringToObject(x, "arm", c->arms[i].name);
        cJSON_AddStringToObject(x, "control", c->arms[0].name);
        cJSON *l = cJSON_AddObjectToObject(x, "latency_welch_t");
        if (l) {
            eml__route_add_num(l, "t", k.t);
            eml__route_add_num(l, "df", k.df);
            eml__route_add_num(l, "p_value", k.p_latency);
            cJSON_AddBoolToObject(l, "significant", k.latency_significant);
        }
        cJSON *e = cJSON_AddObjectToObject(x, "error_rate_z");
        if (e) {
            eml__route_add_num(e, "z", k.z);
            eml__route_add_num(e, "p_value", k.p_errors);
            cJSON_AddBoolToObject(e, "significant", k.errors_significant);
        }
    }
    cJSON_AddNumberToObject(o, "alpha", 0.05);
    return o;
}

static void op_ab_start(eml_agent *a, const cJSON *cmd, eml__reply *r, eml_diag *d)
{
    eml__route_state *rs = a->route;
    eml__ab_config c;
    eml__ab_arm_stats s[EML__AB_MAX_ARMS];
    pthread_mutex_lock(&rs->mu);
    eml_status st = eml__route_parse_ab(a, cmd, &c, d);
    if (st == EML_OK)
        st = eml__router_start(rs->router, &c, d);
    if (st == EML_OK && (st = eml__route_persist(a, d)) != EML_OK)
        eml__router_stop(rs->router, c.model, NULL, NULL); /* not kept: not started */
    if (st == EML_OK)
        st = eml__router_status(rs->router, c.model, &c, s);
    pthread_mutex_unlock(&rs->mu);
    if (st != EML_OK) {
        eml__reply_error(r, st, d);
        return;
    }
    reply_json(r, ab_json(&c, s));
}

static eml_status not_tested(const char *model, eml_diag *d)
{
    return eml__diag(d, EML_ENOTFOUND, "model '%s' has no A/B test running", model);
}

static void op_ab_status(eml_agent *a, const cJSON *cmd, eml__reply *r, eml_diag *d)
{
    const char *model;
    eml__ab_config c;
    eml__ab_arm_stats s[EML__AB_MAX_ARMS];
    eml_status st = cmd_model(cmd, &model, d);
    if (st == EML_OK && eml__router_status(a->route->router, model, &c, s) != EML_OK)
        st = not_tested(model, d);
    if (st != EML_OK) {
        eml__reply_error(r, st, d);
        return;
    }
    reply_json(r, ab_json(&c, s));
}

/* Promote: a version arm of the model becomes its serving version (eml_repo_rollback to it: an
 * immediate switch, the health check having passed at deploy); a variant arm becomes the first
 * (preferred) variant of the model's variant set. Either way the test ends. */
static void op_ab_promote(eml_agent *a, const cJSON *cmd, eml__reply *r, eml_diag *d, int stop)
{
    eml__route_state *rs = a->route;
    const char *model, *arm = cmd_str(cmd, "arm");
    eml__ab_config c;
    eml__ab_arm_stats s[EML__AB_MAX_ARMS];
    uint32_t serving = 0;
    int k = -1;
    eml_status st = cmd_model(cmd, &model, d);
    if (st == EML_OK && !stop && !arm)
        st = eml__diag(d, EML_EINVAL, "promote needs the \"arm\" to promote (its name)");
    pthread_mutex_lock(&rs->mu);
    if (st == EML_OK && eml__router_status(rs->router, model, &c, NULL) != EML_OK)
        st = not_tested(model, d);
    for (uint32_t i = 0; st == EML_OK && !stop && i < c.n_arms && k < 0; i++)
        if (strcmp(c.arms[i].name, arm) == 0)
            k = (int)i;
    if (st == EML_OK && !stop && k < 0)
        st = eml__diag(d, EML_ENOTFOUND, "the test of '%s' has no arm '%.32s'", model, arm);
    const eml__ab_arm *p = k >= 0 ? &c.arms[k] : NULL;
    if (st == EML_OK && p && p->variant[0]) {
        if (eml__adapt_prefer(rs->adapt, model, p->variant) != EML_OK)
            st = eml__diag(d, EML_ENOTFOUND,
                           "arm '%s': model '%s' no longer has a variant '%s' to prefer", p->name,
                           model, p->variant);
    } else if (st == EML_OK && p && strcmp(p->model, model) == 0 && !p->version) {
        st = eml_repo_current(a->repo, model, &serving); /* it runs the serving one already */
    } else if (st == EML_OK && p && strcmp(p->model, model) == 0) {
        st = eml_repo_rollback(a->repo, model, p->version, &serving, d);
    } else if (st == EML_OK && p) {
        st = eml__diag(d, EML_EINVAL,
                       "arm '%s' runs model '%s', neither a version nor a variant of '%s'", p->name,
                       p->model, model);
    }
    if (st == EML_OK)
        st = eml__router_stop(rs->router, model, &c, s);
    if (st == EML_OK)
        st = eml__route_persist(a, d);
    pthread_mutex_unlock(&rs->mu);
    if (st != EML_OK) {
        eml__reply_error(r, st, d);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "model", model);
        if (p) {
            cJSON_AddStringToObject(o, "promoted", p->name);
            if (p->variant[0])
                cJSON_AddStringToObject(o, "preferred_variant", p->variant);
            else
                cJSON_AddNumberToObject(o, "serving_version", serving);
        }
        cJSON_AddBoolToObject(o, "stopped", 1);
        cJSON_AddItemToObject(o, "final", ab_json(&c, s));
    }
    reply_json(r, o);
}

/* ---- variants ---- */

static cJSON *variants_json(const eml__adapt_config *c, const eml__adapt_status *s)
{
    cJSON *o = eml__route_variants_json(c);
    cJSON *st = cJSON_AddObjectToObject(o, "state");
    if (!st)
        return o;
    cJSON_AddNumberToObject(st, "level", s->level);
    cJSON_AddStringToObject(st, "current_variant", c->variants[s->level].name);
    cJSON_AddNumberToObject(st, "window_requests", s->window_count);
    eml__route_add_num(st, "window_p95_ms", s->window_p95_ms);
    cJSON_AddNumberToObject(st, "step_downs", (double)s->step_downs);
    cJSON_AddNumberToObject(st, "step_ups", (double)s->step_ups);
    cJSON *ch = cJSON_AddObjectToObject(st, "choices");
    cJSON *rs = cJSON_AddObjectToObject(st, "reasons");
    uint64_t by_reason[EML__ADAPT_REASON_COUNT] = {0};
    for (uint32_t i = 0; ch && i < c->n_variants; i++) {
        cJSON *v = cJSON_AddObjectToObject(ch, c->variants[i].name);
        uint64_t total = 0;
        for (int k = 0; v && k < EML__ADAPT_REASON_COUNT; k++) {
            total += s->choices[i][k];
            by_reason[k] += s->choices[i][k];
            if (s->choices[i][k])
                cJSON_AddNumberToObject(v, eml__adapt_reason_name((eml__adapt_reason)k),
                                        (double)s->choices[i][k]);
        }
        if (v)
            cJSON_AddNumberToObject(v, "total", (double)total);
    }
    for (int k = 0; rs && k < EML__ADAPT_REASON_COUNT; k++)
        cJSON_AddNumberToObject(rs, eml__adapt_reason_name((eml__adapt_reason)k),
                                (double)by_reason[k]);
    return o;
}

static void op_variants_set(eml_agent *a, const cJSON *cmd, eml__reply *r, eml_diag *d)
{
    eml__route_state *rs = a->route;
    eml__adapt_config c, old;
    eml__adapt_status s;
    pthread_mutex_lock(&rs->mu);
    int had = 0;
    eml_status st = eml__route_parse_variants(a, cmd, &c, d);
    if (st == EML_OK) {
        had = eml__adapt_get(rs->adapt, c.model, &old, NULL) == EML_OK;
        st = eml__adapt_set(rs->adapt, &c, d);
    }
    if (st == EML_OK && (st = eml__route_persist(a, d)) != EML_OK) {
        if (had) /* not kept: the set in force stays the one the file has */
            eml__adapt_set(rs->adapt, &old, NULL);
        else
            eml__adapt_clear(rs->adapt, c.model);
    }
    if (st == EML_OK)
        st = eml__adapt_get(rs->adapt, c.model, &c, &s);
    pthread_mutex_unlock(&rs->mu);
    if (st != EML_OK) {
        eml__reply_error(r, st, d);
        return;
    }
    reply_json(r, variants_json(&c, &s));
}

static void op_variants_get(eml_agent *a, const cJSON *cmd, eml__reply *r, eml_diag *d, int clear)
{
    eml__route_state *rs = a->route;
    const char *model;
    eml__adapt_config c;
    eml__adapt_status s;
    eml_status st = cmd_model(cmd, &model, d);
    pthread_mutex_lock(&rs->mu);
    if (st == EML_OK && eml__adapt_get(rs->adapt, model, &c, &s) != EML_OK)
        st = eml__diag(d, EML_ENOTFOUND, "model '%s' has no variants", model);
    if (st == EML_OK && clear) {
        eml__adapt_clear(rs->adapt, model);
        if ((st = eml__route_persist(a, d)) != EML_OK)
            eml__adapt_set(rs->adapt, &c, NULL);
    }
    pthread_mutex_unlock(&rs->mu);
    if (st != EML_OK) {
        eml__reply_error(r, st, d);
        return;
    }
    cJSON *o = variants_json(&c, &s);
    if (o && clear)
        cJSON_AddBoolToObject(o, "cleared", 1);
    reply_json(r, o);
}

/* ---- power mode ---- */

static void op_power_mode(eml_agent *a, const cJSON *cmd, eml__reply *r, eml_diag *d)
{
    eml__route_state *rs = a->route;
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cmd, "mode");
    eml_status st = EML_OK;
    if (m) {
        eml__power_setting s;
        if (!cJSON_IsString(m) || !eml__power_setting_parse(m->valuestring, &s)) {
            st = eml__diag(d, EML_EINVAL, "\"mode\" must be \"normal\", \"low\" or \"auto\"");
        } else {
            pthread_mutex_lock(&rs->mu);
            int old = rs->setting, old_kept = rs->setting_persisted;
            rs->setting = (int)s;
            rs->setting_persisted = 1;
            if ((st = eml__route_persist(a, d)) != EML_OK) {
                rs->setting = old;
                rs->setting_persisted = old_kept;
            }
            pthread_mutex_unlock(&rs->mu);
        }
    }
    if (st != EML_OK) {
        eml__reply_error(r, st, d);
        return;
    }
    eml__power_reading p;
    eml__route_power_reading(rs, &p);
    eml__power_setting s = (eml__power_setting)rs->setting;
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "mode", eml__power_setting_name(s));
        cJSON_AddStringToObject(o, "effective", eml__power_is_low(s, &p) ? "low" : "normal");
        cJSON *ps = cJSON_AddObjectToObject(o, "power_supply");
        if (ps && p.available) {
            cJSON_AddBoolToObject(ps, "on_battery", p.on_battery);
            if (p.battery_percent >= 0)
                cJSON_AddNumberToObject(ps, "battery_percent", p.battery_percent);
            else
                cJSON_AddStringToObject(ps, "battery_percent", "unavailable");
        } else if (ps) {
            cJSON_AddStringToObject(ps, "on_battery", "unavailable");
        }
        if (ps)
            cJSON_AddStringToObject(ps, "detail", p.detail);
    }
    reply_json(r, o);
}

void eml__op_route(eml_agent *a, const char *op, const eml__request *req, eml__reply *r)
{
    eml_diag d;
    eml_diag_init(&d);
    const cJSON *cmd = req->cmd;
    if (strcmp(op, "model.ab.start") == 0) {
        op_ab_start(a, cmd, r, &d);
    } else if (strcmp(op, "model.ab.status") == 0) {
        op_ab_status(a, cmd, r, &d);
    } else if (strcmp(op, "model.ab.promote") == 0) {
        op_ab_promote(a, cmd, r, &d, 0);
    } else if (strcmp(op, "model.ab.stop") == 0) {
        op_ab_promote(a, cmd, r, &d, 1);
    } else if (strcmp(op, "model.variants.set") == 0) {
        op_variants_set(a, cmd, r, &d);
    } else if (strcmp(op, "model.variants.get") == 0) {
        op_variants_get(a, cmd, r, &d, 0);
    } else if (strcmp(op, "model.variants.clear") == 0) {
        op_variants_get(a, cmd, r, &d, 1);
    } else if (strcmp(op, "node.power_mode") == 0) {
        op_power_mode(a, cmd, r, &d);
    } else {
        eml__diag(&d, EML_EINVAL, "unknown op '%.64s'", op);
        eml__reply_error(r, EML_EINVAL, &d);
    }
}

/* GET/POST /v2/edgeml/models/{m}/ab, POST .../ab/promote, .../ab/stop,
 * GET/POST/DELETE /v2/edgeml/models/{m}/variants, GET/POST /v2/edgeml/node/power_mode. */
const char *eml__route_http(const char *method, int n, char **seg, const char **model,
                            int *method_ok)
{
    int get = method && strcmp(method, "GET") == 0, post = method && strcmp(method, "POST") == 0;
    int del = method && strcmp(method, "DELETE") == 0;
    *method_ok = 1;
    if (n == 4 && strcmp(seg[2], "node") == 0 && strcmp(seg[3], "power_mode") == 0)
        return (*method_ok = get || post) ? "node.power_mode" : "";
    if (n < 5 || strcmp(seg[2], "models") != 0)
        return NULL;
    if (n == 5 && strcmp(seg[4], "ab") == 0) {
        *model = seg[3];
        return (*method_ok = get || post) ? (get ? "model.ab.status" : "model.ab.start") : "";
    }
    if (n == 6 && strcmp(seg[4], "ab") == 0 &&
        (strcmp(seg[5], "promote") == 0 || strcmp(seg[5], "stop") == 0)) {
        *model = seg[3];
        return (*method_ok = post) ? (seg[5][0] == 'p' ? "model.ab.promote" : "model.ab.stop") : "";
    }
    if (n == 5 && strcmp(seg[4], "variants") == 0) {
        *model = seg[3];
        *method_ok = get || post || del;
        return !*method_ok ? ""
               : get       ? "model.variants.get"
               : post      ? "model.variants.set"
                           : "model.variants.clear";
    }
    return NULL;
}
