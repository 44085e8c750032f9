/* The fleet manager: opening a site (folder, database, local node), its nodes and their status,
 * the site status and the model list with the figures last measured. Deploys, inference and
 * measurements are in manager_ops.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/core.h"
#include "manager/manager.h"
#include "manager/mqtt_bus.h"
#include "serve/repository.h"

void eml_manager_options_init(eml_manager_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = sizeof(*opts);
    opts->create = 1;
    opts->push_max_bytes = 256 * 1024;
}

int eml__manager_name_ok(const char *name)
{
    return name && eml__repo_name_ok(name);
}

void eml_manager_free(void *array)
{
    free(array);
}

/* mkdir -p for the folders above a site; errors say which folder. */
static eml_status make_dirs(const char *path, eml_diag *diag)
{
    char buf[2048];
    if ((size_t)snprintf(buf, sizeof(buf), "%s", path) >= sizeof(buf))
        return eml__diag(diag, EML_ELIMIT, "path too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p)
            continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return eml__diag(diag, EML_EIO, "cannot create %s: %s", buf, strerror(errno));
        *p = c;
        if (!c)
            return EML_OK;
    }
}

/* The home folder as documented in manager.h. */
static eml_status resolve_home(const char *given, char *out, size_t cap, eml_diag *diag)
{
    const char *env = getenv("EDGEML_HOME"), *xdg = getenv("XDG_DATA_HOME");
    const char *home = getenv("HOME");
    int n;
    if (given && *given)
        n = snprintf(out, cap, "%s", given);
    else if (env && *env)
        n = snprintf(out, cap, "%s", env);
    else if (xdg && *xdg)
        n = snprintf(out, cap, "%s/edgeml", xdg);
    else if (home && *home)
        n = snprintf(out, cap, "%s/.local/share/edgeml", home);
    else
        return eml__diag(diag, EML_EINVAL,
                         "no folder for sites: set EDGEML_HOME (or HOME, XDG_DATA_HOME)");
    if (n < 0 || (size_t)n >= cap)
        return eml__diag(diag, EML_ELIMIT, "site home path too long");
    return EML_OK;
}

/* The local node's row, refreshed from what it says about itself. */
static eml_status register_local(eml_manager *m, eml_diag *diag)
{
    eml__db_node n;
    if (eml__site_db_node_get(m->db, EML__LOCAL_NODE, &n, NULL) != EML_OK) {
        memset(&n, 0, sizeof(n));
        snprintf(n.id, sizeof(n.id), "%s", EML__LOCAL_NODE);
        snprintf(n.transport, sizeof(n.transport), "local");
        eml_status st = eml__site_db_node_put(m->db, &n, diag);
        if (st != EML_OK)
            return st;
    }
    eml_node_info info;
    eml_status st = eml_manager_node_status(m, EML__LOCAL_NODE, &info, diag);
    eml_node_info_deinit(&info);
    return st;
}

eml_status eml_manager_open(const char *site, const eml_manager_options *opts, eml_manager **out,
                            eml_diag *diag)
{
    *out = NULL;
    eml_manager_options o;
    eml_manager_options_init(&o);
    if (opts) {
        if (opts->struct_size == 0 || opts->struct_size > sizeof(o))
            return eml__diag(diag, EML_EINVAL, "manager options: struct_size not set");
        memcpy(&o, opts, opts->struct_size);
    }
    if (!eml__manager_name_ok(site))
        return eml__diag(diag, EML_EINVAL,
                         "bad site name '%.80s': 1-64 characters of A-Z a-z 0-9 . _ -, "
                         "starting with a letter or digit",
                         site ? site : "");
    char home[1024];
    eml_status st = resolve_home(o.home, home, sizeof(home), diag);
    if (st != EML_OK)
        return st;
    eml_manager *m = calloc(1, sizeof(*m));
    if (!m)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    snprintf(m->site, sizeof(m->site), "%s", site);
    m->n_threads = o.n_threads;
    if ((size_t)snprintf(m->dir, sizeof(m->dir), "%s/%s", home, site) >= sizeof(m->dir)) {
        st = eml__diag(diag, EML_ELIMIT, "site folder path too long");
        goto fail;
    }
    struct stat sb;
    if (stat(m->dir, &sb) != 0 && !o.create) {
        st =
            eml__diag(diag, EML_ENOTFOUND, "site '%s' does not exist (no folder %s)", site, m->dir);
        goto fail;
    }
    EML_TRY(make_dirs(m->dir, diag));
    char path[2100];
    snprintf(path, sizeof(path), "%s/artifacts", m->dir);
    EML_TRY(make_dirs(path, diag));
    snprintf(path, sizeof(path), "%s/site.db", m->dir);
    EML_TRY(eml__site_db_open(path, &m->db, diag));
    /* The site's key before its local node: that node accepts only what the site signed. */
    m->push_max_bytes = o.push_max_bytes;
    EML_TRY(eml__site_key_load(m, diag));
    char site_pub[65];
    eml__site_key_public_hex(m, site_pub);
    EML_TRY(eml__node_local_open_trusted(m->dir, EML__LOCAL_NODE, o.n_threads, site_pub,
                                         &m->local, diag));
    EML_TRY(register_local(m, diag));
    if (o.broker && *o.broker) {
        EML_TRY(eml__mqtt_bus_open_tls(o.broker, o.tls_ca, o.tls_cert, o.tls_key, site, m->dir,
                                       &m->bus, diag));
        EML_TRY(eml__manager_mqtt_sync(m, diag));
    }
    *out = m;
    return EML_OK;
fail:
    eml_manager_close(m);
    return st;
}

void eml_manager_close(eml_manager *m)
{
    if (!m)
        return;
    eml__mqtt_bus_close(m->bus);
    if (m->local)
        m->local->transport->close(m->local);
    eml__site_db_close(m->db);
    eml__site_key_forget(m);
    free(m);
}

const char *eml_manager_site_dir(const eml_manager *m)
{
    return m->dir;
}

/* ---- nodes ---- */

eml_status eml__manager_node(eml_manager *m, const char *id, eml__node **out, eml_diag *diag)
{
    *out = NULL;
    if (!eml__manager_name_ok(id))
        return eml__diag(diag, EML_EINVAL, "bad node id '%.80s'", id ? id : "");
    eml__db_node n;
    eml_status st = eml__manager_mqtt_sync(m, diag);
    if (st == EML_OK)
        st = eml__site_db_node_get(m->db, id, &n, diag);
    if (st == EML_ENOTFOUND)
        return eml__diag(diag, st, "node '%s' is not in site '%s' (see 'edgeml nodes')", id,
                         m->site);
    if (st != EML_OK)
        return st;
    if (strcmp(n.transport, "local") == 0 && m->local && strcmp(id, m->local->id) == 0) {
        *out = m->local;
        return EML_OK;
    }
    if (strcmp(n.transport, "mqtt") == 0)
        return eml__manager_mqtt_node(m, id, out, diag);
    return eml__diag(diag, EML_EIO,
                     "node '%s' is offline: its transport '%s' is not configured (no broker)", id,
                     n.transport);
}

eml_status eml__manager_command(eml_manager *m, eml__node *node, cJSON *cmd, cJSON **reply,
                                double *node_ms, eml_diag *diag)
{
    *reply = NULL;
    char *text = cmd ? cJSON_PrintUnformatted(cmd) : NULL;
    cJSON_Delete(cmd);
    if (!text)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    char *rtext = NULL;
    int code = 0;
    eml_status st = node->transport->command(node, text, 30000, &rtext, &code, node_ms, diag);
    free(text);
    if (st != EML_OK)
        return st;
    /* The node answered: it is online now. Recorded at most every few seconds, so that a run of
     * commands does not make a durable write each. */
    eml__db_node n;
    int64_t now = (int64_t)time(NULL);
    if (eml__site_db_node_get(m->db, node->id, &n, NULL) == EML_OK &&
        now - n.last_seen_unix >= EML__SEEN_EVERY_S) {
        n.last_seen_unix = now;
        eml__site_db_node_put(m->db, &n, NULL);
    }
    char what[EML_MANAGER_MAX_ID + 16];
    snprintf(what, sizeof(what), "node '%s': ", node->id);
    st = eml__node_reply_status(rtext, code, what, diag);
    if (st == EML_OK) {
        *reply = cJSON_Parse(rtext);
        if (!*reply)
            st = eml__diag(diag, EML_ENOMEM, "out of memory");
    }
    free(rtext);
    return st;
}

eml_status eml__manager_model_known(eml_manager *m, const char *model, eml_diag *diag)
{
    if (!eml__manager_name_ok(model))
        return eml__diag(diag, EML_EINVAL, "bad model id '%.80s'", model ? model : "");
    eml__db_model row;
    eml_status st = eml__site_db_model_get(m->db, model, &row, diag);
    if (st == EML_ENOTFOUND)
        return eml__diag(diag, st, "model '%s' is not in site '%s' (see 'edgeml models')", model,
                         m->site);
    return st;
}

void eml_node_info_deinit(eml_node_info *info)
{
    if (!info)
        return;
    free(info->models);
    info->models = NULL;
    info->model_count = 0;
}

static double num(const cJSON *o, const char *key, int *has)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (has)
        *has = cJSON_IsNumber(v);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void str(const cJSON *o, const char *key, char *buf, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (cJSON_IsString(v) && strcmp(v->valuestring, "unavailable") != 0)
        snprintf(buf, cap, "%s", v->valuestring);
}

/* Fills info from the node's node.status and model.versions replies. */
static eml_status read_live(eml_manager *m, eml__node *node, eml_node_info *info, eml_diag *diag)
{
    cJSON *cmd = cJSON_CreateObject(), *st_reply = NULL, *vs_reply = NULL;
    cJSON_AddStringToObject(cmd, "op", "node.status");
    eml_status st = eml__manager_command(m, node, cmd, &st_reply, NULL, diag);
    if (st != EML_OK)
        return st;
    str(st_reply, "hostname", info->hostname, sizeof(info->hostname));
    str(st_reply, "device_type", info->device_type, sizeof(info->device_type));
    str(st_reply, "cpu_model", info->cpu_model, sizeof(info->cpu_model));
    info->cpu_count = (uint32_t)num(st_reply, "cpu_count", NULL);
    info->memory_total_bytes = (uint64_t)num(st_reply, "memory_total_bytes", &info->has_memory);
    info->memory_available_bytes = (uint64_t)num(st_reply, "memory_available_bytes", NULL);
    info->temperature_c = num(st_reply, "temperature_c", &info->has_temperature);
    info->power_w = num(st_reply, "power_w", &info->has_power);
    cJSON_Delete(st_reply);

    cmd = cJSON_CreateObject();
    cJSON_AddStringToObject(cmd, "op", "model.versions");
    st = eml__manager_command(m, node, cmd, &vs_reply, NULL, diag);
    if (st != EML_OK)
        return st;
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(vs_reply, "versions"), *v;
    size_t n = (size_t)cJSON_GetArraySize(arr);
    info->models = calloc(n ? n : 1, sizeof(eml_node_model));
    if (!info->models) {
        cJSON_Delete(vs_reply);
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    }
    cJSON_ArrayForEach(v, arr)
    {
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "serving")))
            continue;
        eml_node_model *nm = &info->models[info->model_count++];
        str(v, "model", nm->model, sizeof(nm->model));
        nm->version = (uint32_t)num(v, "version", NULL);
        nm->loaded = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "loaded"));
        nm->site_version = eml__site_db_site_version(m->db, node->id, nm->model, nm->version);
    }
    cJSON_Delete(vs_reply);
    return EML_OK;
}

eml_status eml_manager_node_status(eml_manager *m, const char *id, eml_node_info *info,
                                   eml_diag *diag)
{
    memset(info, 0, sizeof(*info));
    if (!eml__manager_name_ok(id))
        return eml__diag(diag, EML_EINVAL, "bad node id '%.80s'", id ? id : "");
    eml__db_node row;
    eml_status st = eml__manager_mqtt_sync(m, diag);
    if (st == EML_OK)
        st = eml__site_db_node_get(m->db, id, &row, diag);
    if (st == EML_ENOTFOUND)
        return eml__diag(diag, st, "node '%s' is not in site '%s' (see 'edgeml nodes')", id,
                         m->site);
    if (st != EML_OK)
        return st;
    snprintf(info->id, sizeof(info->id), "%s", row.id);
    snprintf(info->transport, sizeof(info->transport), "%s", row.transport);
    eml__node *node = NULL;
    if (eml__manager_node(m, id, &node, NULL) == EML_OK && node->transport->online(node)) {
        st = read_live(m, node, info, diag);
        /* A remote node that stops answering between two heartbeats is shown as last seen. */
        if (st == EML_EIO && strcmp(row.transport, "mqtt") == 0) {
            eml_node_info_deinit(info);
            goto offline;
        }
        if (st != EML_OK)
            return st;
        info->online = 1;
        /* Keep what was seen, for when the node is offline. */
        eml__site_db_node_get(m->db, id, &row, NULL);
        snprintf(row.hostname, sizeof(row.hostname), "%s", info->hostname);
        snprintf(row.device_type, sizeof(row.device_type), "%s", info->device_type);
        snprintf(row.cpu_model, sizeof(row.cpu_model), "%s", info->cpu_model);
        row.cpu_count = info->cpu_count;
        row.memory_total_bytes = info->memory_total_bytes;
        row.memory_available_bytes = info->memory_available_bytes;
        row.last_seen_unix = (int64_t)time(NULL);
        st = eml__site_db_node_put(m->db, &row, diag);
        if (st != EML_OK)
            return st;
        info->last_seen_unix = row.last_seen_unix;
        return EML_OK;
    }
offline:
    /* Offline: the last figures recorded. */
    snprintf(info->hostname, sizeof(info->hostname), "%s", row.hostname);
    snprintf(info->device_type, sizeof(info->device_type), "%s", row.device_type);
    snprintf(info->cpu_model, sizeof(info->cpu_model), "%s", row.cpu_model);
    info->cpu_count = row.cpu_count;
    info->has_memory = row.memory_total_bytes > 0;
    info->memory_total_bytes = row.memory_total_bytes;
    info->memory_available_bytes = row.memory_available_bytes;
    info->last_seen_unix = row.last_seen_unix;
    return EML_OK;
}

eml_status eml_manager_nodes(eml_manager *m, eml_node_info **out, size_t *count, eml_diag *diag)
{
    *out = NULL;
    *count = 0;
    eml__db_node *rows = NULL;
    size_t n = 0;
    eml_status st = eml__manager_mqtt_sync(m, diag);
    if (st == EML_OK)
        st = eml__site_db_node_list(m->db, &rows, &n, diag);
    if (st != EML_OK)
        return st;
    eml_node_info *infos = calloc(n ? n : 1, sizeof(*infos));
    if (!infos) {
        free(rows);
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n && st == EML_OK; i++)
        st = eml_manager_node_status(m, rows[i].id, &infos[i], diag);
    free(rows);
    if (st != EML_OK) {
        for (size_t i = 0; i < n; i++)
            eml_node_info_deinit(&infos[i]);
        free(infos);
        return st;
    }
    *out = infos;
    *count = n;
    return EML_OK;
}

eml_status eml_manager_node_add(eml_manager *m, const char *id, const char *transport,
                                eml_diag *diag)
{
    if (!eml__manager_name_ok(id))
        return eml__diag(diag, EML_EINVAL, "bad node id '%.80s'", id ? id : "");
    if (!transport || strcmp(transport, "mqtt") != 0)
        return eml__diag(diag, EML_EINVAL,
                         "transport '%.32s': nodes are added with transport \"mqtt\" (the local "
                         "node exists already)",
                         transport ? transport : "");
    eml__db_node row;
    if (eml__site_db_node_get(m->db, id, &row, NULL) == EML_OK)
        return eml__diag(diag, EML_EINVAL, "node '%s' is already in site '%s'", id, m->site);
    memset(&row, 0, sizeof(row));
    snprintf(row.id, sizeof(row.id), "%s", id);
    snprintf(row.transport, sizeof(row.transport), "%s", transport);
    return eml__site_db_node_put(m->db, &row, diag);
}

/* ---- site status and models ---- */

eml_status eml_manager_status(eml_manager *m, eml_site_status *out, eml_diag *diag)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->site, sizeof(out->site), "%s", m->site);
    snprintf(out->transport, sizeof(out->transport), "%s", m->bus ? "mqtt" : "local");
    char(*ids)[EML_MANAGER_MAX_ID + 1] = NULL;
    size_t n_models = 0, n_nodes = 0;
    eml_status st = eml__site_db_model_ids(m->db, &ids, &n_models, diag);
    free(ids);
    if (st != EML_OK)
        return st;
    out->models_total = (uint32_t)n_models;
    EML_TRY(eml__manager_mqtt_sync(m, diag));
    EML_TRY(eml__site_db_deployment_counts(m->db, &out->deployments, &out->models_deployed, diag));
    eml__db_node *rows = NULL;
    EML_TRY(eml__site_db_node_list(m->db, &rows, &n_nodes, diag));
    out->nodes_total = (uint32_t)n_nodes;
    for (size_t i = 0; i < n_nodes; i++) {
        eml__node *node;
        if (eml__manager_node(m, rows[i].id, &node, NULL) == EML_OK &&
            node->transport->online(node))
            out->nodes_online++;
    }
    free(rows);
fail:
    return st;
}

static void fill_measured(eml_manager *m, const char *model, const char *kind, eml_measured *out,
                          char *detail, size_t detail_cap)
{
    eml__db_measurement r;
    memset(out, 0, sizeof(*out));
    if (eml__site_db_measurement_last(m->db, model, kind, &r, NULL) != EML_OK)
        return;
    out->has = 1;
    out->value = r.value;
    out->version = r.version;
    snprintf(out->node, sizeof(out->node), "%s", r.node);
    out->measured_unix = r.measured_unix;
    if (detail)
        snprintf(detail, detail_cap, "%.*s", (int)detail_cap - 1, r.detail);
}

eml_status eml_manager_model(eml_manager *m, const char *model, eml_model_info *out, eml_diag *diag)
{
    memset(out, 0, sizeof(*out));
    eml__db_model row;
    eml_status st = eml__manager_model_known(m, model, diag);
    if (st != EML_OK)
        return st;
    EML_TRY(eml__site_db_model_get(m->db, model, &row, diag));
    snprintf(out->id, sizeof(out->id), "%s", row.id);
    snprintf(out->name, sizeof(out->name), "%s", row.name);
    snprintf(out->type, sizeof(out->type), "%s", row.type);
    snprintf(out->parent, sizeof(out->parent), "%s", row.parent);
    snprintf(out->derivation, sizeof(out->derivation), "%s", row.derivation);
    eml__db_version v;
    st = eml__site_db_version_get(m->db, model, 0, &v, diag);
    if (st == EML_OK) {
        out->latest_version = v.version;
        out->model_bytes = v.bytes;
        snprintf(out->sha256, sizeof(out->sha256), "%s", v.sha256);
    } else if (st != EML_ENOTFOUND) {
        goto fail;
    }
    st = EML_OK;
    out->nodes_serving = eml__site_db_serving_count(m->db, model);
    fill_measured(m, model, "latency_ms_p50", &out->latency_ms, NULL, 0);
    fill_measured(m, model, "accuracy_top1_pct", &out->accuracy_pct, out->accuracy_dataset,
                  sizeof(out->accuracy_dataset));
fail:
    return st;
}

eml_status eml_manager_models(eml_manager *m, eml_model_info **out, size_t *count, eml_diag *diag)
{
    *out = NULL;
    *count = 0;
    char(*ids)[EML_MANAGER_MAX_ID + 1] = NULL;
    size_t n = 0;
    eml_status st = eml__site_db_model_ids(m->db, &ids, &n, diag);
    if (st != EML_OK || n == 0) {
        free(ids);
        return st;
    }
    eml_model_info *infos = calloc(n, sizeof(*infos));
    if (!infos) {
        free(ids);
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n && st == EML_OK; i++)
        st = eml_manager_model(m, ids[i], &infos[i], diag);
    free(ids);
    if (st != EML_OK) {
        free(infos);
        return st;
    }
    *out = infos;
    *count = n;
    return EML_OK;
}

/* ---- artifacts and measurements ---- */

eml_status eml__manager_store_file(eml_manager *m, const char *path, char sha256[65],
                                   uint64_t *bytes, char *rel, size_t rel_cap, eml_diag *diag)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return eml__diag(diag, errno == ENOENT ? EML_ENOTFOUND : EML_EIO, "cannot read %s: %s",
                         path, strerror(errno));
    uint8_t *data = NULL;
    size_t n = 0, cap = 0;
    eml_status st = EML_OK;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 20;
            if (cap > (1ull << 31)) {
                st = eml__diag(diag, EML_ELIMIT, "%s: larger than 2 GiB", path);
                break;
            }
            uint8_t *p = realloc(data, cap);
            if (!p) {
                st = eml__diag(diag, EML_ENOMEM, "out of memory reading %s", path);
                break;
            }
            data = p;
        }
        size_t got = fread(data + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (st == EML_OK && ferror(f))
        st = eml__diag(diag, EML_EIO, "cannot read %s", path);
    fclose(f);
    if (st != EML_OK) {
        free(data);
        return st;
    }
    eml__sha256_hex(data, n, sha256);
    *bytes = n;
    snprintf(rel, rel_cap, "artifacts/%s.onnx", sha256);
    char final_path[2200], tmp[2300];
    snprintf(final_path, sizeof(final_path), "%s/%s", m->dir, rel);
    struct stat sb;
    if (stat(final_path, &sb) != 0 || (uint64_t)sb.st_size != n) {
        /* Written aside and renamed: a crash never leaves a half artifact under its hash. */
        snprintf(tmp, sizeof(tmp), "%s.tmp", final_path);
        st = eml__fs_write_file(tmp, data, n, diag);
        if (st == EML_OK)
            st = eml__fs_rename(tmp, final_path, diag);
        if (st != EML_OK)
            remove(tmp);
    }
    free(data);
    return st;
}

eml_status eml__manager_measure(eml_manager *m, const char *model, uint32_t version,
                                const char *node, const char *kind, double value,
                                const char *detail, eml_diag *diag)
{
    eml__db_measurement r;
    memset(&r, 0, sizeof(r));
    snprintf(r.model, sizeof(r.model), "%s", model);
    r.version = version;
    snprintf(r.node, sizeof(r.node), "%s", node);
    snprintf(r.kind, sizeof(r.kind), "%s", kind);
    r.value = value;
    snprintf(r.detail, sizeof(r.detail), "%s", detail ? detail : "");
    r.measured_unix = (int64_t)time(NULL);
    return eml__site_db_measurement_add(m->db, &r, diag);
}
