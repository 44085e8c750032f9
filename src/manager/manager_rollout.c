/* Rollouts: one model version deployed to a group of nodes in growing waves, stopped and the
 * failed wave rolled back when the failure ratio passes its limit, every step recorded in the
 * site database first so that a restarted manager resumes it (docs/rollout.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core.h"
#include "manager/manager.h"

void eml_rollout_options_init(eml_rollout_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = sizeof(*opts);
    opts->first_wave = 1;
    opts->growth = 2.0;
    opts->max_failure_ratio = 0.25;
    opts->bake_s = 0;
    opts->rollback_failed_wave = 1;
}

/* Copies opts over the defaults and checks them. */
static eml_status read_options(const eml_rollout_options *opts, eml_rollout_options *o,
                               eml_diag *diag)
{
    eml_rollout_options_init(o);
    if (opts) {
        if (opts->struct_size == 0 || opts->struct_size > sizeof(*o))
            return eml__diag(diag, EML_EINVAL, "rollout options: struct_size not set");
        memcpy(o, opts, opts->struct_size);
    }
    if (o->first_wave == 0)
        return eml__diag(diag, EML_EINVAL, "rollout: the first wave needs at least 1 node");
    if (!(o->growth >= 1.0 && o->growth <= 1000.0))
        return eml__diag(diag, EML_EINVAL, "rollout: growth %g is not in [1, 1000]", o->growth);
    if (!(o->max_failure_ratio >= 0.0 && o->max_failure_ratio <= 1.0))
        return eml__diag(diag, EML_EINVAL, "rollout: max failure ratio %g is not in [0, 1]",
                         o->max_failure_ratio);
    if (!(o->bake_s >= 0.0 && o->bake_s <= 86400.0))
        return eml__diag(diag, EML_EINVAL, "rollout: bake time %g s is not in [0, 86400]",
                         o->bake_s);
    if (o->node_count && !o->nodes)
        return eml__diag(diag, EML_EINVAL, "rollout: node_count without nodes");
    return EML_OK;
}

/* Assigns each of n nodes its wave: first, then each wave `growth` times the last (rounded
 * up, never smaller), the last one what remains. Returns the number of waves. */
static uint32_t plan_waves(size_t n, uint32_t first, double growth, eml_rollout_node *nodes)
{
    uint32_t wave = 0;
    double exact = first;
    size_t size = first, i = 0;
    while (i < n) {
        wave++;
        for (size_t k = 0; k < size && i < n; k++)
            nodes[i++].wave = wave;
        exact *= growth;
        size_t next = exact >= (double)n ? n : (size_t)ceil(exact - 1e-9);
        size = next > size ? next : size;
    }
    return wave;
}

/* What the node serves of the model now: its serving version and that version's SHA-256.
 * EML_ENOTFOUND when it serves nothing of it; EML_EIO when it cannot be reached. */
static eml_status node_serving(eml_manager *m, const char *node_id, const char *model,
                               uint32_t *version, char sha256[65], eml_diag *diag)
{
    *version = 0;
    sha256[0] = 0;
    eml__node *node = NULL;
    eml_status st = eml__manager_node(m, node_id, &node, diag);
    if (st != EML_OK)
        return st;
    cJSON *cmd = cJSON_CreateObject(), *reply = NULL;
    cJSON_AddStringToObject(cmd, "op", "model.versions");
    cJSON_AddStringToObject(cmd, "model", model);
    st = eml__manager_command(m, node, cmd, &reply, NULL, diag);
    if (st == EML_ENOTFOUND) {
        cJSON_Delete(reply);
        return EML_ENOTFOUND;
    }
    const cJSON *x;
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(reply, "versions"))
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(x, "version");
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(x, "sha256");
        if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "serving")) && cJSON_IsNumber(v)) {
            *version = (uint32_t)v->valuedouble;
            snprintf(sha256, 65, "%s", cJSON_IsString(s) ? s->valuestring : "");
        }
    }
    cJSON_Delete(reply);
    if (st == EML_OK && !*version)
        st = EML_ENOTFOUND;
    return st;
}

typedef struct run_state {
    eml_manager *m;
    eml_rollout_info r;
    eml_rollout_node *nodes;
    size_t count;
    eml_model_descriptor desc; /* the site's artifact of the version */
    char file[3100];
    eml__db_model model;
    const eml_rollout_options *cb; /* on_event, user; may be NULL */
} run_state;

static void emit(run_state *rs, eml_rollout_event_kind kind, uint32_t wave,
                 const eml_rollout_node *node, uint32_t in_wave)
{
    if (!rs->cb || !rs->cb->on_event)
        return;
    eml_rollout_event e;
    memset(&e, 0, sizeof(e));
    e.kind = kind;
    e.id = rs->r.id;
    e.wave = wave;
    e.waves = rs->r.waves_total;
    e.node_count = in_wave;
    e.bake_s = rs->r.bake_s;
    e.node = node;
    for (size_t i = 0; i < rs->count; i++) {
        e.nodes_ok += strcmp(rs->nodes[i].state, "deployed") == 0;
        e.nodes_failed += strcmp(rs->nodes[i].state, "failed") == 0;
    }
    rs->cb->on_event(rs->cb->user, &e);
}

/* Sets a node row's state and message and commits it. */
static eml_status set_node(run_state *rs, eml_rollout_node *n, const char *state,
                           const char *message, eml_diag *diag)
{
    snprintf(n->state, sizeof(n->state), "%s", state);
    snprintf(n->message, sizeof(n->message), "%s", message ? message : "");
    n->updated_unix = (int64_t)time(NULL);
    return eml__site_db_rollout_node_put(rs->m->db, rs->r.id, n, diag);
}

/* Deploys the version to one node: "deploying" is committed before the deploy starts and
 * "deployed"/"failed" after it ends. A node that already serves the version (the deploy of a
 * killed manager went through) is not deployed again. */
static eml_status deploy_node(run_state *rs, eml_rollout_node *n, eml_diag *diag)
{
    eml_manager *m = rs->m;
    int resumed = strcmp(n->state, "deploying") == 0;
    uint32_t serving = 0;
    char sha[65], msg[512];
    eml_diag nd;
    eml_diag_init(&nd);
    eml_status q = node_serving(m, n->node, rs->r.model, &serving, sha, &nd);
    if (q != EML_OK && q != EML_ENOTFOUND) {
        n->node_version = 0;
        return set_node(rs, n, "failed", nd.message, diag);
    }
    if (q == EML_OK && strcmp(sha, rs->r.sha256) == 0) {
        /* The deploy record of a manager killed after the switch may be missing. */
        if (eml__site_db_site_version(m->db, n->node, rs->r.model, serving) != rs->r.version) {
            eml__db_deployment dep;
            memset(&dep, 0, sizeof(dep));
            snprintf(dep.node, sizeof(dep.node), "%s", n->node);
            snprintf(dep.model, sizeof(dep.model), "%s", rs->r.model);
            dep.version = rs->r.version;
            dep.node_version = serving;
            snprintf(dep.action, sizeof(dep.action), "deploy");
            dep.ok = 1;
            snprintf(dep.message, sizeof(dep.message), "found serving by rollout %lld",
                     (long long)rs->r.id);
            eml_status st = eml__site_db_deployment_add(m->db, &dep, diag);
            if (st != EML_OK)
                return st;
        }
        n->node_version = serving;
        snprintf(msg, sizeof(msg), "%s serving node version %u (not deployed again)",
                 resumed ? "found" : "already", serving);
        return set_node(rs, n, "deployed", msg, diag);
    }
    if (!resumed)
        n->previous_node_version = serving;
    eml_status st = set_node(rs, n, "deploying", "", diag);
    if (st != EML_OK)
        return st;
    eml_deploy_result res;
    eml_status ds = eml_manager_deploy(m, &rs->desc, n->node, &res, &nd);
    if (ds == EML_OK) {
        n->node_version = res.node_version;
        n->health_latency_ms = res.health_latency_ms;
        return set_node(rs, n, "deployed", "", diag);
    }
    n->node_version = 0;
    return set_node(rs, n, "failed", nd.message, diag);
}

/* Rolls the switched nodes of the failed wave back to what they served before, each with its
 * explicit node version so that doing it twice (a restart in the middle) changes nothing. */
static eml_status rollback_wave(run_state *rs, uint32_t wave, char *done, size_t cap,
                                eml_diag *diag)
{
    size_t len = 0;
    done[0] = 0;
    for (size_t i = 0; i < rs->count; i++) {
        eml_rollout_node *n = &rs->nodes[i];
        if (n->wave != wave || strcmp(n->state, "deployed") != 0)
            continue;
        char msg[512];
        if (!n->previous_node_version) {
            snprintf(msg, sizeof(msg),
                     "not rolled back: it served no earlier version (keeps node version %u)",
                     n->node_version);
            eml_status st = set_node(rs, n, "deployed", msg, diag);
            if (st != EML_OK)
                return st;
            len +=
                (size_t)snprintf(done + len, len < cap ? cap - len : 0,
                                 "%s%s kept (nothing to roll back to)", len ? ", " : "", n->node);
            continue;
        }
        snprintf(msg, sizeof(msg), "rolling back to node version %u", n->previous_node_version);
        eml_status st = set_node(rs, n, "deployed", msg, diag);
        if (st != EML_OK)
            return st;
        uint32_t now = 0;
        eml_diag nd;
        eml_diag_init(&nd);
        eml_status rb =
            eml_manager_rollback(rs->m, n->node, rs->r.model, n->previous_node_version, &now, &nd);
        if (rb == EML_OK) {
            snprintf(msg, sizeof(msg), "rolled back to node version %u (was %u)", now,
                     n->node_version);
            st = set_node(rs, n, "rolled_back", msg, diag);
            len += (size_t)snprintf(done + len, len < cap ? cap - len : 0,
                                    "%s%s to node version %u", len ? ", " : "", n->node, now);
        } else {
            snprintf(msg, sizeof(msg), "rollback failed: %.400s", nd.message);
            st = set_node(rs, n, "deployed", msg, diag);
            len += (size_t)snprintf(done + len, len < cap ? cap - len : 0, "%s%s failed (%s)",
                                    len ? ", " : "", n->node, nd.message);
        }
        if (st != EML_OK)
            return st;
        emit(rs, EML_ROLLOUT_ROLLED_BACK, wave, n, 0);
    }
    return EML_OK;
}

/* "n3 (node 'n3': latency_check: ...), ..." for the failed nodes. */
static void failed_list(const run_state *rs, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < rs->count && len < cap; i++)
        if (strcmp(rs->nodes[i].state, "failed") == 0)
            len += (size_t)snprintf(buf + len, cap - len, "%s%s (%s)", len ? "; " : "",
                                    rs->nodes[i].node, rs->nodes[i].message);
}

static void sleep_s(double s)
{
    struct timespec ts = {(time_t)s, (long)((s - floor(s)) * 1e9)};
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Runs the waves of a "running" rollout from where its record stands. */
static eml_status run_waves(run_state *rs, eml_diag *diag)
{
    eml_status st = EML_OK;
    eml_rollout_info *r = &rs->r;
    for (uint32_t w = r->waves_done + 1; w <= r->waves_total; w++) {
        uint32_t in_wave = 0;
        for (size_t i = 0; i < rs->count; i++)
            in_wave += rs->nodes[i].wave == w;
        emit(rs, EML_ROLLOUT_WAVE_START, w, NULL, in_wave);
        for (size_t i = 0; i < rs->count; i++) {
            eml_rollout_node *n = &rs->nodes[i];
            if (n->wave != w)
                continue;
            if (strcmp(n->state, "pending") == 0 || strcmp(n->state, "deploying") == 0) {
                st = deploy_node(rs, n, diag);
                if (st != EML_OK)
                    return st;
            }
            emit(rs, EML_ROLLOUT_NODE_DONE, w, n, in_wave);
        }
        uint32_t attempted = 0, failed = 0;
        for (size_t i = 0; i < rs->count; i++)
            if (rs->nodes[i].wave <= w) {
                attempted++;
                failed += strcmp(rs->nodes[i].state, "failed") == 0;
            }
        double ratio = attempted ? (double)failed / attempted : 0;
        if (ratio > r->max_failure_ratio) {
            char fl[400], rb[300] = "";
            failed_list(rs, fl, sizeof(fl));
            snprintf(r->message, sizeof(r->message),
                     "stopped after wave %u of %u: %u of %u nodes failed (ratio %.2f > %.2f), "
                     "rolling back the wave",
                     w, r->waves_total, failed, attempted, ratio, r->max_failure_ratio);
            st = eml__site_db_rollout_update(rs->m->db, r, diag);
            if (st == EML_OK && r->rollback_failed_wave)
                st = rollback_wave(rs, w, rb, sizeof(rb), diag);
            if (st != EML_OK)
                return st;
            snprintf(r->message, sizeof(r->message),
                     "stopped after wave %u of %u: %u of %u nodes failed (ratio %.2f > %.2f): "
                     "%s; rolled back: %s",
                     w, r->waves_total, failed, attempted, ratio, r->max_failure_ratio, fl,
                     !r->rollback_failed_wave ? "nothing (rollback disabled)"
                     : rb[0]                  ? rb
                                              : "nothing (no node of the wave switched)");
            snprintf(r->state, sizeof(r->state), "failed");
            r->waves_done = w;
            st = eml__site_db_rollout_update(rs->m->db, r, diag);
            if (st != EML_OK)
                return st;
            return eml__diag(diag, EML_ELIMIT, "rollout %lld of %s version %u %s", (long long)r->id,
                             r->model, r->version, r->message);
        }
        r->waves_done = w;
        snprintf(r->message, sizeof(r->message), "wave %u of %u done", w, r->waves_total);
        st = eml__site_db_rollout_update(rs->m->db, r, diag);
        if (st != EML_OK)
            return st;
        emit(rs, EML_ROLLOUT_WAVE_DONE, w, NULL, in_wave);
        if (w < r->waves_total && r->bake_s > 0)
            sleep_s(r->bake_s);
    }
    uint32_t ok = 0, failed = 0;
    for (size_t i = 0; i < rs->count; i++) {
        ok += strcmp(rs->nodes[i].state, "deployed") == 0;
        failed += strcmp(rs->nodes[i].state, "failed") == 0;
    }
    if (failed) {
        char fl[400];
        failed_list(rs, fl, sizeof(fl));
        snprintf(r->message, sizeof(r->message),
                 "%u of %zu nodes deployed in %u waves; failed within the ratio: %s", ok, rs->count,
                 r->waves_total, fl);
    } else {
        snprintf(r->message, sizeof(r->message), "%u of %zu nodes deployed in %u wave%s", ok,
                 rs->count, r->waves_total, r->waves_total == 1 ? "" : "s");
    }
    snprintf(r->state, sizeof(r->state), "succeeded");
    return eml__site_db_rollout_update(rs->m->db, r, diag);
}

/* Loads a rollout's record and runs it on; result gets the record as it ended. */
static eml_status run(eml_manager *m, int64_t id, const eml_rollout_options *cb,
                      eml_rollout_result *result, eml_diag *diag)
{
    run_state rs;
    memset(&rs, 0, sizeof(rs));
    rs.m = m;
    rs.cb = cb;
    eml_status st = eml__site_db_rollout_get(m->db, id, &rs.r, diag);
    if (st == EML_ENOTFOUND)
        return eml__diag(diag, st, "rollout %lld is not in site '%s' (see 'edgeml rollouts')",
                         (long long)id, m->site);
    if (st != EML_OK)
        return st;
    if (strcmp(rs.r.state, "running") != 0) {
        if (result)
            *result = rs.r;
        return eml__diag(diag, EML_EINVAL,
                         "rollout %lld already ended (%s): nothing to resume (%s)", (long long)id,
                         rs.r.state, rs.r.message);
    }
    eml__db_version v;
    EML_TRY(eml__site_db_version_get(m->db, rs.r.model, rs.r.version, &v, diag));
    EML_TRY(eml__site_db_model_get(m->db, rs.r.model, &rs.model, diag));
    snprintf(rs.file, sizeof(rs.file), "%s/%s", m->dir, v.file);
    eml_model_descriptor_init(&rs.desc);
    rs.desc.id = rs.model.id;
    rs.desc.name = rs.model.name;
    rs.desc.type = rs.model.type;
    rs.desc.file = rs.file;
    EML_TRY(eml__site_db_rollout_nodes(m->db, id, &rs.nodes, &rs.count, diag));
    /* Resumed between waves: the soak time left since the last wave ended is still waited. */
    double left = rs.r.bake_s - (double)((int64_t)time(NULL) - rs.r.updated_unix);
    if (rs.r.waves_done > 0 && rs.r.waves_done < rs.r.waves_total && left > 0) {
        double full = rs.r.bake_s;
        rs.r.bake_s = left;
        emit(&rs, EML_ROLLOUT_WAVE_DONE, rs.r.waves_done, NULL, 0);
        rs.r.bake_s = full;
        sleep_s(left);
    }
    st = run_waves(&rs, diag);
fail:
    free(rs.nodes);
    if (result) {
        eml_rollout_info end;
        if (eml__site_db_rollout_get(m->db, id, &end, NULL) == EML_OK)
            *result = end;
    }
    return st;
}

/* The rollout's nodes: those given (each known to the site, none twice) or every node. */
static eml_status pick_nodes(eml_manager *m, const eml_rollout_options *o, eml_rollout_node **out,
                             size_t *count, eml_diag *diag)
{
    *out = NULL;
    *count = 0;
    eml_status st = eml__manager_mqtt_sync(m, diag);
    if (st != EML_OK)
        return st;
    eml__db_node *all = NULL;
    size_t n = o->nodes ? o->node_count : 0;
    if (!o->nodes) {
        st = eml__site_db_node_list(m->db, &all, &n, diag);
        if (st != EML_OK)
            return st;
    }
    if (n == 0) {
        free(all);
        return eml__diag(diag, EML_EINVAL, "rollout: no nodes to roll out to");
    }
    eml_rollout_node *nodes = calloc(n, sizeof(*nodes));
    if (!nodes) {
        free(all);
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n && st == EML_OK; i++) {
        const char *id = all ? all[i].id : o->nodes[i];
        eml__db_node row;
        if (!eml__manager_name_ok(id)) {
            st = eml__diag(diag, EML_EINVAL, "rollout: bad node id '%.80s'", id ? id : "");
            break;
        }
        st = eml__site_db_node_get(m->db, id, &row, diag);
        if (st == EML_ENOTFOUND)
            st = eml__diag(diag, st, "node '%s' is not in site '%s' (see 'edgeml nodes')", id,
                           m->site);
        for (size_t k = 0; st == EML_OK && k < i; k++)
            if (strcmp(nodes[k].node, id) == 0)
                st = eml__diag(diag, EML_EINVAL, "rollout: node '%s' is named twice", id);
        snprintf(nodes[i].node, sizeof(nodes[i].node), "%s", id);
        snprintf(nodes[i].state, sizeof(nodes[i].state), "pending");
    }
    free(all);
    if (st != EML_OK) {
        free(nodes);
        return st;
    }
    *out = nodes;
    *count = n;
    return EML_OK;
}

eml_status eml_manager_rollout(eml_manager *m, const eml_model_descriptor *desc,
                               const eml_rollout_options *opts, eml_rollout_result *result,
                               eml_diag *diag)
{
    if (result)
        memset(result, 0, sizeof(*result));
    eml_rollout_options o;
    eml_rollout_node *nodes = NULL;
    size_t count = 0;
    eml__db_version v;
    eml_status st = read_options(opts, &o, diag);
    if (st == EML_OK)
        st = pick_nodes(m, &o, &nodes, &count, diag);
    if (st == EML_OK)
        st = eml__manager_register_version(m, desc, &v, diag);
    if (st != EML_OK) {
        free(nodes);
        return st;
    }
    eml_rollout_info r;
    memset(&r, 0, sizeof(r));
    snprintf(r.model, sizeof(r.model), "%s", v.model);
    r.version = v.version;
    snprintf(r.sha256, sizeof(r.sha256), "%s", v.sha256);
    snprintf(r.state, sizeof(r.state), "running");
    r.first_wave = o.first_wave;
    r.growth = o.growth;
    r.max_failure_ratio = o.max_failure_ratio;
    r.bake_s = o.bake_s;
    r.rollback_failed_wave = o.rollback_failed_wave != 0;
    r.waves_total = plan_waves(count, o.first_wave, o.growth, nodes);
    snprintf(r.message, sizeof(r.message), "planned: %zu nodes in %u waves", count, r.waves_total);
    int64_t id = 0;
    st = eml__site_db_rollout_add(m->db, &r, nodes, count, &id, diag);
    free(nodes);
    if (st != EML_OK)
        return st;
    return run(m, id, &o, result, diag);
}

eml_status eml_manager_rollout_resume(eml_manager *m, int64_t id, const eml_rollout_options *opts,
                                      eml_rollout_result *result, eml_diag *diag)
{
    if (result)
        memset(result, 0, sizeof(*result));
    if (opts && (opts->struct_size == 0 || opts->struct_size > sizeof(eml_rollout_options)))
        return eml__diag(diag, EML_EINVAL, "rollout options: struct_size not set");
    return run(m, id, opts, result, diag);
}

eml_status eml_manager_rollouts(eml_manager *m, eml_rollout_info **out, size_t *count,
                                eml_diag *diag)
{
    return eml__site_db_rollout_list(m->db, out, count, diag);
}

eml_status eml_manager_rollout_get(eml_manager *m, int64_t id, eml_rollout_info *info,
                                   eml_rollout_node **nodes, size_t *count, eml_diag *diag)
{
    eml_rollout_info r;
    if (nodes)
        *nodes = NULL;
    if (count)
        *count = 0;
    eml_status st = eml__site_db_rollout_get(m->db, id, &r, diag);
    if (st == EML_ENOTFOUND)
        return eml__diag(diag, st, "rollout %lld is not in site '%s' (see 'edgeml rollouts')",
                         (long long)id, m->site);
    if (st != EML_OK)
        return st;
    if (info)
        *info = r;
    if (nodes) {
        size_t n = 0;
        st = eml__site_db_rollout_nodes(m->db, id, nodes, &n, diag);
        if (count)
            *count = n;
    }
    return st;
}
