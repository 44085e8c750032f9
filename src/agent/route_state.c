/* The state behind the A/B, variant and power-mode ops: configs read from and written to JSON,
 * the file that keeps them across restarts, and the node's power mode as last read. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/route.h"
#include "core/core.h"
#include "serve/power_mode.h"
#include "serve/repository.h"

/* In the repository folder; its leading dot keeps it out of the model names, so the
 * repository's recovery never touches it. */
#define ROUTING_FILE ".edgeml-routing.json"
#define POWER_READ_NS 2000000000ull /* sysfs is read at most every 2 s */

/* ---- small JSON helpers ---- */

void eml__route_add_num(cJSON *o, const char *key, double v)
{
    if (isfinite(v))
        cJSON_AddNumberToObject(o, key, v);
    else
        cJSON_AddNullToObject(o, key);
}

static int get_num(const cJSON *o, const char *key, double *v)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsNumber(x)) {
        *v = x->valuedouble;
        return 1;
    }
    if (cJSON_IsString(x) && x->valuestring[0]) {
        char *end;
        double d = strtod(x->valuestring, &end);
        if (!*end) {
            *v = d;
            return 1;
        }
    }
    return 0;
}

static const char *get_str(const cJSON *o, const char *key)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static eml_status copy_name(char *dst, size_t cap, const char *src, const char *what, eml_diag *d)
{
    if (!src || !src[0] || strlen(src) >= cap)
        return eml__diag(d, EML_EINVAL, "%s must be a string of 1-%zu characters", what, cap - 1);
    memcpy(dst, src, strlen(src) + 1);
    return EML_OK;
}

static eml_status get_version(const cJSON *o, uint32_t *version, eml_diag *d)
{
    double v = 0;
    *version = 0;
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, "version");
    if (!x || cJSON_IsNull(x))
        return EML_OK;
    if (!get_num(o, "version", &v) || !(v >= 0 && v <= UINT32_MAX) || v != floor(v))
        return eml__diag(d, EML_EINVAL, "\"version\" must be a version number");
    *version = (uint32_t)v;
    return EML_OK;
}

/* The model and version must be in the repository (version 0: the model has a serving one). */
static eml_status check_exists(eml_agent *a, const char *model, uint32_t version, eml_diag *d)
{
    char path[4096];
    eml_status st =
        eml_repo_path(a->repo, model, version, EML_REPO_FILE_MODEL, path, sizeof(path), NULL);
    if (st == EML_OK)
        return EML_OK;
    if (version)
        return eml__diag(d, EML_ENOTFOUND, "model '%s' has no version %u in the repository", model,
                         (unsigned)version);
    return eml__diag(d, EML_ENOTFOUND, "model '%s' is not in the repository", model);
}

/* ---- configs from and to JSON ---- */

/* {model, arms: [{name?, version? | variant? | model?, weight?}], sticky_key?, shadow_fraction?,
 * seed?}. A variant arm without a model takes the variant's model and version from the model's
 * variant set. */
eml_status eml__route_parse_ab(eml_agent *a, const cJSON *cmd, eml__ab_config *c, eml_diag *d)
{
    memset(c, 0, sizeof(*c));
    eml_status st = copy_name(c->model, sizeof(c->model), get_str(cmd, "model"), "\"model\"", d);
    if (st != EML_OK)
        return st;
    const cJSON *arms = cJSON_GetObjectItemCaseSensitive(cmd, "arms");
    int n = cJSON_GetArraySize(arms);
    if (!cJSON_IsArray(arms) || n < 2 || n > EML__AB_MAX_ARMS)
        return eml__diag(d, EML_EINVAL, "\"arms\" must be an array of 2 to %d arms",
                         EML__AB_MAX_ARMS);
    c->n_arms = (uint32_t)n;
    for (int i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(arms, i);
        eml__ab_arm *arm = &c->arms[i];
        if (!cJSON_IsObject(x))
            return eml__diag(d, EML_EINVAL, "arm %d is not an object", i);
        const char *name = get_str(x, "name");
        if (name)
            st = copy_name(arm->name, sizeof(arm->name), name, "an arm's \"name\"", d);
        else
            snprintf(arm->name, sizeof(arm->name), "%c", 'A' + i);
        if (st != EML_OK)
            return st;
        arm->weight = 1;
        if (cJSON_GetObjectItemCaseSensitive(x, "weight") && !get_num(x, "weight", &arm->weight))
            return eml__diag(d, EML_EINVAL, "arm '%s': \"weight\" must be a number", arm->name);
        const char *variant = get_str(x, "variant"), *model = get_str(x, "model");
        if (variant && copy_name(arm->variant, sizeof(arm->variant), variant,
                                 "an arm's \"variant\"", d) != EML_OK)
            return EML_EINVAL;
        if ((st = get_version(x, &arm->version, d)) != EML_OK)
            return st;
        if (model) {
            if ((st = copy_name(arm->model, sizeof(arm->model), model, "an arm's \"model\"", d)))
                return st;
        } else if (variant) {
            eml__adapt_config vc;
            if (eml__adapt_get(a->route->adapt, c->model, &vc, NULL) != EML_OK)
                return eml__diag(d, EML_ENOTFOUND, "arm '%s': model '%s' has no variants",
                                 arm->name, c->model);
            uint32_t k = 0;
            while (k < vc.n_variants && strcmp(vc.variants[k].name, variant) != 0)
                k++;
            if (k == vc.n_variants)
                return eml__diag(d, EML_ENOTFOUND, "arm '%s': no variant '%s'", arm->name, variant);
            snprintf(arm->model, sizeof(arm->model), "%s", vc.variants[k].model);
            arm->version = vc.variants[k].version;
        } else {
            snprintf(arm->model, sizeof(arm->model), "%s", c->model);
            if (!arm->version)
                return eml__diag(d, EML_EINVAL, "arm '%s' needs a \"version\" or a \"variant\"",
                                 arm->name);
        }
        if ((st = check_exists(a, arm->model, arm->version, d)) != EML_OK)
            return st;
    }
    const char *sticky = get_str(cmd, "sticky_key");
    if (sticky && sticky[0] &&
        copy_name(c->sticky_key, sizeof(c->sticky_key), sticky, "\"sticky_key\"", d) != EML_OK)
        return EML_EINVAL;
    if (cJSON_GetObjectItemCaseSensitive(cmd, "shadow_fraction") &&
        !get_num(cmd, "shadow_fraction", &c->shadow_fraction))
        return eml__diag(d, EML_EINVAL, "\"shadow_fraction\" must be a number");
    double seed;
    c->seed =
        get_num(cmd, "seed", &seed) && seed >= 0 && seed < 9e15 ? (uint64_t)seed : eml__now_ns();
    return EML_OK;
}

cJSON *eml__route_ab_json(const eml__ab_config *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", c->model);
    cJSON *arms = cJSON_AddArrayToObject(o, "arms");
    for (uint32_t i = 0; arms && i < c->n_arms; i++) {
        cJSON *x = cJSON_CreateObject();
        if (!x || !cJSON_AddItemToArray(arms, x))
            break;
        cJSON_AddStringToObject(x, "name", c->arms[i].name);
        cJSON_AddStringToObject(x, "model", c->arms[i].model);
        cJSON_AddNumberToObject(x, "version", c->arms[i].version);
        if (c->arms[i].variant[0])
            cJSON_AddStringToObject(x, "variant", c->arms[i].variant);
        cJSON_AddNumberToObject(x, "weight", c->arms[i].weight);
    }
    if (c->sticky_key[0])
        cJSON_AddStringToObject(o, "sticky_key", c->sticky_key);
    cJSON_AddNumberToObject(o, "shadow_fraction", c->shadow_fraction);
    cJSON_AddNumberToObject(o, "seed", (double)c->seed);
    return o;
}

/* {model, variants: [{name, model?, version?}], policy: {slo_p95_ms, window, queue_high,
 * low_power_variant, up_ratio}}. A variant without a model is a version of the model itself. */
eml_status eml__route_parse_variants(eml_agent *a, const cJSON *cmd, eml__adapt_config *c,
                                     eml_diag *d)
{
    memset(c, 0, sizeof(*c));
    eml__adapt_policy_init(&c->policy);
    eml_status st = copy_name(c->model, sizeof(c->model), get_str(cmd, "model"), "\"model\"", d);
    if (st != EML_OK)
        return st;
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(cmd, "variants");
    int n = cJSON_GetArraySize(vs);
    if (!cJSON_IsArray(vs) || n < 1 || n > EML__ADAPT_MAX_VARIANTS)
        return eml__diag(d, EML_EINVAL, "\"variants\" must be an array of 1 to %d variants",
                         EML__ADAPT_MAX_VARIANTS);
    c->n_variants = (uint32_t)n;
    for (int i = 0; i < n; i++) {
        const cJSON *x = cJSON_GetArrayItem(vs, i);
        eml__variant *v = &c->variants[i];
        if (!cJSON_IsObject(x))
            return eml__diag(d, EML_EINVAL, "variant %d is not an object", i);
        if ((st = copy_name(v->name, sizeof(v->name), get_str(x, "name"), "a variant's \"name\"",
                            d)) != EML_OK)
            return st;
        const char *model = get_str(x, "model");
        if ((st = copy_name(v->model, sizeof(v->model), model ? model : c->model,
                            "a variant's \"model\"", d)) != EML_OK)
            return st;
        if ((st = get_version(x, &v->version, d)) != EML_OK)
            return st;
        if ((st = check_exists(a, v->model, v->version, d)) != EML_OK)
            return st;
    }
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(cmd, "policy");
    double x;
    if (p && !cJSON_IsObject(p))
        return eml__diag(d, EML_EINVAL, "\"policy\" must be an object");
    if (get_num(p, "slo_p95_ms", &x))
        c->policy.slo_p95_ms = x;
    if (get_num(p, "window", &x)) {
        if (!(x >= 1 && x <= EML__ADAPT_MAX_WINDOW) || x != floor(x))
            return eml__diag(d, EML_EINVAL, "\"window\" must be 1 to %d requests",
                             EML__ADAPT_MAX_WINDOW);
        c->policy.window = (uint32_t)x;
    }
    if (get_num(p, "queue_high", &x)) {
        if (!(x >= 0 && x <= 1e6) || x != floor(x))
            return eml__diag(d, EML_EINVAL, "\"queue_high\" must be a count (0: off)");
        c->policy.queue_high = (uint32_t)x;
    }
    if (get_num(p, "up_ratio", &x))
        c->policy.up_ratio = x;
    const char *lp = get_str(p, "low_power_variant");
    if (lp) {
        int32_t k = -2;
        for (uint32_t i = 0; i < c->n_variants && k == -2; i++)
            if (strcmp(c->variants[i].name, lp) == 0)
                k = (int32_t)i;
        if (k == -2)
            return eml__diag(d, EML_EINVAL, "low_power_variant '%.64s' is not one of the variants",
                             lp);
        c->policy.low_power = k;
    }
    return EML_OK;
}

cJSON *eml__route_variants_json(const eml__adapt_config *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", c->model);
    cJSON *vs = cJSON_AddArrayToObject(o, "variants");
    for (uint32_t i = 0; vs && i < c->n_variants; i++) {
        cJSON *x = cJSON_CreateObject();
        if (!x || !cJSON_AddItemToArray(vs, x))
            break;
        cJSON_AddStringToObject(x, "name", c->variants[i].name);
        cJSON_AddStringToObject(x, "model", c->variants[i].model);
        cJSON_AddNumberToObject(x, "version", c->variants[i].version);
    }
    cJSON *p = cJSON_AddObjectToObject(o, "policy");
    if (p) {
        cJSON_AddNumberToObject(p, "slo_p95_ms", c->policy.slo_p95_ms);
        cJSON_AddNumberToObject(p, "window", c->policy.window);
        cJSON_AddNumberToObject(p, "queue_high", c->policy.queue_high);
        uint32_t lp = c->policy.low_power >= 0 ? (uint32_t)c->policy.low_power : c->n_variants - 1;
        cJSON_AddStringToObject(p, "low_power_variant", c->variants[lp].name);
        cJSON_AddNumberToObject(p, "up_ratio", c->policy.up_ratio);
    }
    return o;
}

/* ---- the file that keeps tests, sets and the mode across restarts ---- */

/* Rewrites the file from the live state: temp file, fsync, rename, fsync of the folder. Called
 * with st->mu held. */
eml_status eml__route_persist(eml_agent *a, eml_diag *d)
{
    eml__route_state *rs = a->route;
    cJSON *doc = cJSON_CreateObject();
    cJSON *ab = cJSON_AddArrayToObject(doc, "ab_tests");
    cJSON *vs = cJSON_AddArrayToObject(doc, "variants");
    eml__ab_config *abs = malloc(sizeof(*abs) * EML__AB_MAX_TESTS);
    eml__adapt_config *vcs = malloc(sizeof(*vcs) * EML__ADAPT_MAX_SETS);
    eml_status st = EML_ENOMEM;
    char *text = NULL;
    if (!doc || !ab || !vs || !abs || !vcs)
        goto done;
    size_t n = eml__router_list(rs->router, abs, EML__AB_MAX_TESTS);
    for (size_t i = 0; i < n && i < EML__AB_MAX_TESTS; i++)
        cJSON_AddItemToArray(ab, eml__route_ab_json(&abs[i]));
    n = eml__adapt_list(rs->adapt, vcs, EML__ADAPT_MAX_SETS);
    for (size_t i = 0; i < n && i < EML__ADAPT_MAX_SETS; i++)
        cJSON_AddItemToArray(vs, eml__route_variants_json(&vcs[i]));
    if (rs->setting_persisted)
        cJSON_AddStringToObject(doc, "power_mode",
                                eml__power_setting_name((eml__power_setting)rs->setting));
    text = cJSON_Print(doc);
    if (!text)
        goto done;
    char path[4200], tmp[4220];
    snprintf(path, sizeof(path), "%s/%s", a->repo_dir, ROUTING_FILE);
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    unlink(tmp);
    st = eml__fs_write_file(tmp, text, strlen(text), d);
    if (st == EML_OK)
        st = eml__fs_rename(tmp, path, d);
    if (st != EML_OK)
        unlink(tmp);
done:
    if (st == EML_ENOMEM)
        eml__diag(d, st, "out of memory");
    free(text);
    free(abs);
    free(vcs);
    cJSON_Delete(doc);
    return st;
}

/* Brings back what the file keeps; entries whose models left the repository are dropped. */
static void restore(eml_agent *a)
{
    eml__route_state *rs = a->route;
    char path[4200];
    snprintf(path, sizeof(path), "%s/%s", a->repo_dir, ROUTING_FILE);
    void *data = NULL;
    size_t n = 0;
    if (eml__fs_read_file(a->env, path, 16u << 20, &data, &n, NULL) != EML_OK)
        return;
    cJSON *doc = cJSON_ParseWithLength(data, n);
    eml__free(a->env, data);
    const cJSON *x;
    eml_diag d;
    eml_diag_init(&d);
    /* variant sets first: variant arms of tests refer to them */
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(doc, "variants"))
    {
        eml__adapt_config c;
        if (eml__route_parse_variants(a, x, &c, &d) == EML_OK &&
            eml__adapt_set(rs->adapt, &c, &d) == EML_OK)
            rs->restored++;
        else
            rs->dropped++;
    }
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(doc, "ab_tests"))
    {
        eml__ab_config c;
        if (eml__route_parse_ab(a, x, &c, &d) == EML_OK &&
            eml__router_start(rs->router, &c, &d) == EML_OK)
            rs->restored++;
        else
            rs->dropped++;
    }
    eml__power_setting s;
    if (eml__power_setting_parse(get_str(doc, "power_mode"), &s)) {
        rs->setting = (int)s;
        rs->setting_persisted = 1;
    }
    cJSON_Delete(doc);
}

eml_status eml__route_init(eml_agent *a, const char *power_mode, eml_diag *diag)
{
    eml__route_state *rs = calloc(1, sizeof(*rs));
    if (!rs)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    a->route = rs;
    pthread_mutex_init(&rs->mu, NULL);
    pthread_mutex_init(&rs->power_mu, NULL);
    const char *dir = getenv("EML_POWER_SUPPLY_DIR");
    snprintf(rs->power_dir, sizeof(rs->power_dir), "%s",
             dir && dir[0] ? dir : "/sys/class/power_supply");
    if (eml__router_create(&rs->router) != EML_OK || eml__adapt_create(&rs->adapt) != EML_OK)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    restore(a);
    if (power_mode) {
        eml__power_setting s;
        if (!eml__power_setting_parse(power_mode, &s))
            return eml__diag(diag, EML_EINVAL, "power mode '%.32s': expected normal, low or auto",
                             power_mode);
        rs->setting = (int)s; /* the command line wins over the file, without changing it */
    }
    return EML_OK;
}

void eml__route_deinit(eml_agent *a)
{
    eml__route_state *rs = a->route;
    if (!rs)
        return;
    eml__router_destroy(rs->router);
    eml__adapt_destroy(rs->adapt);
    pthread_mutex_destroy(&rs->mu);
    pthread_mutex_destroy(&rs->power_mu);
    free(rs);
    a->route = NULL;
}

/* The power supplies as last read (at most every POWER_READ_NS). */
void eml__route_power_reading(eml__route_state *rs, eml__power_reading *out)
{
    pthread_mutex_lock(&rs->power_mu);
    uint64_t now = eml__now_ns();
    if (!rs->power_read_ns || now - rs->power_read_ns > POWER_READ_NS) {
        eml__power_read(rs->power_dir, &rs->power);
        rs->power_read_ns = now;
    }
    *out = rs->power;
    pthread_mutex_unlock(&rs->power_mu);
}

int eml__route_low_power(eml__route_state *rs)
{
    eml__power_setting s = (eml__power_setting)rs->setting;
    if (s != EML__POWER_AUTO)
        return s == EML__POWER_LOW;
    eml__power_reading r;
    eml__route_power_reading(rs, &r);
    return eml__power_is_low(s, &r);
}
