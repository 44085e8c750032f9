/* The site database on SQLite: schema creation and checks, transactions, and the rows of models,
 * versions, nodes, deployments and measurements. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "core/core.h"
#include "manager/site_db.h"

struct eml__site_db {
    sqlite3 *db;
    char path[1024];
    int depth; /* open explicit transactions (savepoints) */
};

static const char *const schema_sql =
    "CREATE TABLE models("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL DEFAULT '',"
    "  parent TEXT NOT NULL DEFAULT '', derivation TEXT NOT NULL DEFAULT '',"
    "  created_unix INTEGER NOT NULL);"
    "CREATE TABLE versions("
    "  model_id TEXT NOT NULL REFERENCES models(id), version INTEGER NOT NULL,"
    "  sha256 TEXT NOT NULL, bytes INTEGER NOT NULL, file TEXT NOT NULL,"
    "  inputs TEXT NOT NULL DEFAULT '[]', outputs TEXT NOT NULL DEFAULT '[]',"
    "  created_unix INTEGER NOT NULL, PRIMARY KEY(model_id, version));"
    "CREATE TABLE nodes("
    "  id TEXT PRIMARY KEY, transport TEXT NOT NULL, hostname TEXT NOT NULL DEFAULT '',"
    "  device_type TEXT NOT NULL DEFAULT '', cpu_model TEXT NOT NULL DEFAULT '',"
    "  cpu_count INTEGER NOT NULL DEFAULT 0, memory_total_bytes INTEGER NOT NULL DEFAULT 0,"
    "  memory_available_bytes INTEGER NOT NULL DEFAULT 0, created_unix INTEGER NOT NULL,"
    "  last_seen_unix INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE deployments("
    "  id INTEGER PRIMARY KEY, node_id TEXT NOT NULL REFERENCES nodes(id),"
    "  model_id TEXT NOT NULL REFERENCES models(id), version INTEGER NOT NULL,"
    "  node_version INTEGER NOT NULL, action TEXT NOT NULL, ok INTEGER NOT NULL,"
    "  message TEXT NOT NULL DEFAULT '', created_unix INTEGER NOT NULL);"
    "CREATE INDEX deployments_node_model ON deployments(node_id, model_id, id);"
    "CREATE TABLE measurements("
    "  id INTEGER PRIMARY KEY, model_id TEXT NOT NULL REFERENCES models(id),"
    "  version INTEGER NOT NULL, node_id TEXT NOT NULL, kind TEXT NOT NULL,"
    "  value REAL NOT NULL, detail TEXT NOT NULL DEFAULT '', measured_unix INTEGER NOT NULL);"
    "CREATE INDEX measurements_model_kind ON measurements(model_id, kind, id);";

/* The status of a SQLite result code: damaged files are ECORRUPT, the rest EIO. */
static eml_status db_error(eml__site_db *db, int rc, const char *what, eml_diag *diag)
{
    int code = rc & 0xff;
    eml_status st = code == SQLITE_NOTADB || code == SQLITE_CORRUPT ? EML_ECORRUPT
                    : code == SQLITE_NOMEM                          ? EML_ENOMEM
                                                                    : EML_EIO;
    const char *msg = db->db ? sqlite3_errmsg(db->db) : sqlite3_errstr(rc);
    if (st == EML_ECORRUPT)
        return eml__diag(diag, st, "%s: %s: not a site database or damaged (%s)", db->path, what,
                         msg);
    return eml__diag(diag, st, "%s: %s: %s", db->path, what, msg);
}

static eml_status exec(eml__site_db *db, const char *sql, eml_diag *diag)
{
    int rc = sqlite3_exec(db->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? EML_OK : db_error(db, rc, sql, diag);
}

static eml_status prepare(eml__site_db *db, const char *sql, sqlite3_stmt **stmt, eml_diag *diag)
{
    int rc = sqlite3_prepare_v2(db->db, sql, -1, stmt, NULL);
    return rc == SQLITE_OK ? EML_OK : db_error(db, rc, "prepare", diag);
}

/* One integer from a query ("PRAGMA user_version"). */
static eml_status query_int(eml__site_db *db, const char *sql, int64_t *out, eml_diag *diag)
{
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db, sql, &s, diag);
    if (st != EML_OK)
        return st;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    else if (rc == SQLITE_DONE)
        *out = 0;
    else
        st = db_error(db, rc, sql, diag);
    sqlite3_finalize(s);
    return st;
}

static void col_text(sqlite3_stmt *s, int col, char *buf, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(buf, cap, "%s", t ? (const char *)t : "");
}

static void bind_text(sqlite3_stmt *s, int i, const char *t)
{
    sqlite3_bind_text(s, i, t ? t : "", -1, SQLITE_TRANSIENT);
}

/* Runs a statement to its end (writes); finalizes it. */
static eml_status step_done(eml__site_db *db, sqlite3_stmt *s, const char *what, eml_diag *diag)
{
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? EML_OK : db_error(db, rc, what, diag);
}

eml_status eml__site_db_begin(eml__site_db *db, eml_diag *diag)
{
    eml_status st = exec(db, "SAVEPOINT tx", diag);
    if (st == EML_OK)
        db->depth++;
    return st;
}

eml_status eml__site_db_end(eml__site_db *db, int commit, eml_diag *diag)
{
    if (db->depth <= 0)
        return eml__diag(diag, EML_EINTERNAL, "site database: no transaction to end");
    db->depth--;
    if (commit)
        return exec(db, "RELEASE tx", diag);
    eml_status st = exec(db, "ROLLBACK TO tx", diag);
    eml_status st2 = exec(db, "RELEASE tx", diag);
    return st != EML_OK ? st : st2;
}

/* A single write statement inside its own savepoint: all of it or nothing. */
static eml_status write_one(eml__site_db *db, sqlite3_stmt *s, const char *what, eml_diag *diag)
{
    eml_status st = eml__site_db_begin(db, diag);
    if (st != EML_OK) {
        sqlite3_finalize(s);
        return st;
    }
    st = step_done(db, s, what, diag);
    eml_status st2 = eml__site_db_end(db, st == EML_OK, st == EML_OK ? diag : NULL);
    return st != EML_OK ? st : st2;
}

static eml_status create_schema(eml__site_db *db, eml_diag *diag)
{
    char sql[128];
    eml_status st = eml__site_db_begin(db, diag);
    if (st != EML_OK)
        return st;
    st = exec(db, schema_sql, diag);
    if (st == EML_OK)
        st = eml__site_db_rollout_schema(db, diag);
    if (st == EML_OK) {
        snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", EML__SITE_DB_APP_ID);
        st = exec(db, sql, diag);
    }
    if (st == EML_OK) {
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", EML__SITE_DB_SCHEMA);
        st = exec(db, sql, diag);
    }
    eml_status st2 = eml__site_db_end(db, st == EML_OK, st == EML_OK ? diag : NULL);
    return st != EML_OK ? st : st2;
}

/* Schema 1 -> 2 in place, all of it or nothing: the tables of rollouts, then the version. */
static eml_status migrate_schema(eml__site_db *db, int64_t from, eml_diag *diag)
{
    eml_status st = eml__site_db_begin(db, diag);
    if (st != EML_OK)
        return st;
    if (from < 2)
        st = eml__site_db_rollout_schema(db, diag);
    if (st == EML_OK) {
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", EML__SITE_DB_SCHEMA);
        st = exec(db, sql, diag);
    }
    eml_status st2 = eml__site_db_end(db, st == EML_OK, st == EML_OK ? diag : NULL);
    return st != EML_OK ? st : st2;
}

struct sqlite3 *eml__site_db_sqlite(eml__site_db *db)
{
    return db->db;
}

eml_status eml__site_db_error(eml__site_db *db, int rc, const char *what, eml_diag *diag)
{
    return db_error(db, rc, what, diag);
}

eml_status eml__site_db_open(const char *path, eml__site_db **out, eml_diag *diag)
{
    *out = NULL;
    eml__site_db *db = calloc(1, sizeof(*db));
    if (!db)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    snprintf(db->path, sizeof(db->path), "%s", path);
    eml_status st;
    int rc = sqlite3_open_v2(
        path, &db->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL);
    if (rc != SQLITE_OK) {
        st = db_error(db, rc, "open", diag);
        goto fail;
    }
    sqlite3_busy_timeout(db->db, 5000);
    int64_t app_id = 0, schema = 0, tables = 0;
    /* The first reads of the file: garbage fails here with SQLITE_NOTADB. */
    EML_TRY(query_int(db, "PRAGMA application_id", &app_id, diag));
    EML_TRY(query_int(db, "PRAGMA user_version", &schema, diag));
    EML_TRY(query_int(db, "SELECT count(*) FROM sqlite_master", &tables, diag));
    if (app_id != 0 && app_id != EML__SITE_DB_APP_ID) {
        st = eml__diag(diag, EML_ECORRUPT,
                       "%s: not a site database (a SQLite file of another program, application "
                       "id 0x%08llx)",
                       path, (unsigned long long)app_id);
        goto fail;
    }
    if (schema > EML__SITE_DB_SCHEMA) {
        st = eml__diag(diag, EML_EUNSUPPORTED,
                       "%s: site database schema %lld was written by a newer edgeml (this one "
                       "reads schema %d at most)",
                       path, (long long)schema, EML__SITE_DB_SCHEMA);
        goto fail;
    }
    if (schema == 0 && tables > 0) {
        st = eml__diag(diag, EML_ECORRUPT,
                       "%s: not a site database (a SQLite file with other tables)", path);
        goto fail;
    }
    if (schema == 0 && app_id != 0) {
        st = eml__diag(diag, EML_ECORRUPT, "%s: site database without a schema version", path);
        goto fail;
    }
    /* WAL: readers never block the writer; FULL: a committed write survives power loss. */
    EML_TRY(exec(db, "PRAGMA journal_mode = WAL", diag));
    EML_TRY(exec(db, "PRAGMA synchronous = FULL", diag));
    EML_TRY(exec(db, "PRAGMA foreign_keys = ON", diag));
    if (schema == 0)
        EML_TRY(create_schema(db, diag));
    else if (schema < EML__SITE_DB_SCHEMA)
        EML_TRY(migrate_schema(db, schema, diag));
    *out = db;
    return EML_OK;
fail:
    eml__site_db_close(db);
    return st;
}

void eml__site_db_close(eml__site_db *db)
{
    if (!db)
        return;
    sqlite3_close(db->db);
    free(db);
}

int eml__site_db_schema(eml__site_db *db)
{
    int64_t v = 0;
    return query_int(db, "PRAGMA user_version", &v, NULL) == EML_OK ? (int)v : -1;
}

/* ---- models ---- */

eml_status eml__site_db_model_put(eml__site_db *db, const eml__db_model *m, eml_diag *diag)
{
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db,
                            "INSERT OR IGNORE INTO models(id, name, type, parent, derivation, "
                            "created_unix) VALUES(?,?,?,?,?,?)",
                            &s, diag);
    if (st != EML_OK)
        return st;
    bind_text(s, 1, m->id);
    bind_text(s, 2, m->name);
    bind_text(s, 3, m->type);
    bind_text(s, 4, m->parent);
    bind_text(s, 5, m->derivation);
    sqlite3_bind_int64(s, 6, m->created_unix ? m->created_unix : (int64_t)time(NULL));
    return write_one(db, s, "insert model", diag);
}

eml_status eml__site_db_model_get(eml__site_db *db, const char *id, eml__db_model *out,
                                  eml_diag *diag)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db,
                            "SELECT id, name, type, parent, derivation, created_unix FROM models "
                            "WHERE id = ?",
                            &s, diag);
    if (st != EML_OK)
        return st;
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        col_text(s, 0, out->id, sizeof(out->id));
        col_text(s, 1, out->name, sizeof(out->name));
        col_text(s, 2, out->type, sizeof(out->type));
        col_text(s, 3, out->parent, sizeof(out->parent));
        col_text(s, 4, out->derivation, sizeof(out->derivation));
        out->created_unix = sqlite3_column_int64(s, 5);
    } else if (rc == SQLITE_DONE) {
        st = EML_ENOTFOUND;
    } else {
        st = db_error(db, rc, "read model", diag);
    }
    sqlite3_finalize(s);
    return st;
}

eml_status eml__site_db_model_ids(eml__site_db *db, char (**out)[EML_MANAGER_MAX_ID + 1],
                                  size_t *count, eml_diag *diag)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db, "SELECT id FROM models ORDER BY id", &s, diag);
    if (st != EML_OK)
        return st;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*count == cap) {
            cap = cap ? 2 * cap : 16;
            void *p = realloc(*out, cap * sizeof(**out));
            if (!p) {
                st = eml__diag(diag, EML_ENOMEM, "out of memory");
                break;
            }
            *out = p;
        }
        col_text(s, 0, (*out)[*count], sizeof((*out)[0]));
        (*count)++;
    }
    if (st == EML_OK && rc != SQLITE_DONE)
        st = db_error(db, rc, "list models", diag);
    sqlite3_finalize(s);
    if (st != EML_OK) {
        free(*out);
        *out = NULL;
        *count = 0;
    }
    return st;
}

/* ---- versions ---- */

static void read_version(sqlite3_stmt *s, eml__db_version *v)
{
    col_text(s, 0, v->model, sizeof(v->model));
    v->version = (uint32_t)sqlite3_column_int64(s, 1);
    col_text(s, 2, v->sha256, sizeof(v->sha256));
    v->bytes = (uint64_t)sqlite3_column_int64(s, 3);
    col_text(s, 4, v->file, sizeof(v->file));
    col_text(s, 5, v->inputs, sizeof(v->inputs));
    col_text(s, 6, v->outputs, sizeof(v->outputs));
    v->created_unix = sqlite3_column_int64(s, 7);
}

#define VERSION_COLUMNS "model_id, version, sha256, bytes, file, inputs, outputs, created_unix"

eml_status eml__site_db_version_add(eml__site_db *db, const eml__db_version *v, uint32_t *version,
                                    eml_diag *diag)
{
    *version = 0;
    sqlite3_stmt *s = NULL;
    eml_status st = eml__site_db_begin(db, diag);
    if (st != EML_OK)
        return st;
    EML_TRY(
        prepare(db, "SELECT version FROM versions WHERE model_id = ? AND sha256 = ?", &s, diag));
    bind_text(s, 1, v->model);
    bind_text(s, 2, v->sha256);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *version = (uint32_t)sqlite3_column_int64(s, 0);
    else if (rc != SQLITE_DONE)
        st = db_error(db, rc, "find version", diag);
    sqlite3_finalize(s);
    s = NULL;
    if (st != EML_OK || *version)
        goto done;
    int64_t max = 0;
    sqlite3_stmt *q = NULL;
    EML_TRY(
        prepare(db, "SELECT coalesce(max(version), 0) FROM versions WHERE model_id = ?", &q, diag));
    bind_text(q, 1, v->model);
    rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        max = sqlite3_column_int64(q, 0);
    else
        st = db_error(db, rc, "next version", diag);
    sqlite3_finalize(q);
    if (st != EML_OK)
        goto done;
    EML_TRY(
        prepare(db, "INSERT INTO versions(" VERSION_COLUMNS ") VALUES(?,?,?,?,?,?,?,?)", &s, diag));
    bind_text(s, 1, v->model);
    sqlite3_bind_int64(s, 2, max + 1);
    bind_text(s, 3, v->sha256);
    sqlite3_bind_int64(s, 4, (int64_t)v->bytes);
    bind_text(s, 5, v->file);
    bind_text(s, 6, v->inputs[0] ? v->inputs : "[]");
    bind_text(s, 7, v->outputs[0] ? v->outputs : "[]");
    sqlite3_bind_int64(s, 8, v->created_unix ? v->created_unix : (int64_t)time(NULL));
    st = step_done(db, s, "insert version", diag);
    s = NULL;
    if (st == EML_OK)
        *version = (uint32_t)(max + 1);
done : {
    eml_status st2 = eml__site_db_end(db, st == EML_OK, st == EML_OK ? diag : NULL);
    return st != EML_OK ? st : st2;
}
fail:
    sqlite3_finalize(s);
    eml__site_db_end(db, 0, NULL);
    return st;
}

eml_status eml__site_db_version_get(eml__site_db *db, const char *model, uint32_t version,
                                    eml__db_version *out, eml_diag *diag)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db,
                            version ? "SELECT " VERSION_COLUMNS " FROM versions WHERE model_id = "
                                      "? AND version = ?"
                                    : "SELECT " VERSION_COLUMNS " FROM versions WHERE model_id = "
                                      "? ORDER BY version DESC LIMIT 1",
                            &s, diag);
    if (st != EML_OK)
        return st;
    bind_text(s, 1, model);
    if (version)
        sqlite3_bind_int64(s, 2, version);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_version(s, out);
    else if (rc == SQLITE_DONE)
        st = EML_ENOTFOUND;
    else
        st = db_error(db, rc, "read version", diag);
    sqlite3_finalize(s);
    return st;
}

/* ---- nodes ---- */

#define NODE_COLUMNS                                                                               \
    "id, transport, hostname, device_type, cpu_model, cpu_count, memory_total_bytes, "             \
    "memory_available_bytes, created_unix, last_seen_unix"

static void read_node(sqlite3_stmt *s, eml__db_node *n)
{
    memset(n, 0, sizeof(*n));
    col_text(s, 0, n->id, sizeof(n->id));
    col_text(s, 1, n->transport, sizeof(n->transport));
    col_text(s, 2, n->hostname, sizeof(n->hostname));
    col_text(s, 3, n->device_type, sizeof(n->device_type));
    col_text(s, 4, n->cpu_model, sizeof(n->cpu_model));
    n->cpu_count = (uint32_t)sqlite3_column_int64(s, 5);
    n->memory_total_bytes = (uint64_t)sqlite3_column_int64(s, 6);
    n->memory_available_bytes = (uint64_t)sqlite3_column_int64(s, 7);
    n->created_unix = sqlite3_column_int64(s, 8);
    n->last_seen_unix = sqlite3_column_int64(s, 9);
}

eml_status eml__site_db_node_put(eml__site_db *db, const eml__db_node *n, eml_diag *diag)
{
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(
        db, "INSERT OR REPLACE INTO nodes(" NODE_COLUMNS ") VALUES(?,?,?,?,?,?,?,?,?,?)", &s, diag);
    if (st != EML_OK)
        return st;
    bind_text(s, 1, n->id);
    bind_text(s, 2, n->transport);
    bind_text(s, 3, n->hostname);
    bind_text(s, 4, n->device_type);
    bind_text(s, 5, n->cpu_model);
    sqlite3_bind_int64(s, 6, n->cpu_count);
    sqlite3_bind_int64(s, 7, (int64_t)n->memory_total_bytes);
    sqlite3_bind_int64(s, 8, (int64_t)n->memory_available_bytes);
    sqlite3_bind_int64(s, 9, n->created_unix ? n->created_unix : (int64_t)time(NULL));
    sqlite3_bind_int64(s, 10, n->last_seen_unix);
    return write_one(db, s, "write node", diag);
}

eml_status eml__site_db_node_get(eml__site_db *db, const char *id, eml__db_node *out,
                                 eml_diag *diag)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db, "SELECT " NODE_COLUMNS " FROM nodes WHERE id = ?", &s, diag);
    if (st != EML_OK)
        return st;
    bind_text(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_node(s, out);
    else if (rc == SQLITE_DONE)
        st = EML_ENOTFOUND;
    else
        st = db_error(db, rc, "read node", diag);
    sqlite3_finalize(s);
    return st;
}

eml_status eml__site_db_node_list(eml__site_db *db, eml__db_node **out, size_t *count,
                                  eml_diag *diag)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db, "SELECT " NODE_COLUMNS " FROM nodes ORDER BY id", &s, diag);
    if (st != EML_OK)
        return st;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*count == cap) {
            cap = cap ? 2 * cap : 8;
            void *p = realloc(*out, cap * sizeof(**out));
            if (!p) {
                st = eml__diag(diag, EML_ENOMEM, "out of memory");
                break;
            }
            *out = p;
        }
        read_node(s, &(*out)[(*count)++]);
    }
    if (st == EML_OK && rc != SQLITE_DONE)
        st = db_error(db, rc, "list nodes", diag);
    sqlite3_finalize(s);
    if (st != EML_OK) {
        free(*out);
        *out = NULL;
        *count = 0;
    }
    return st;
}

/* ---- deployments ---- */

eml_status eml__site_db_deployment_add(eml__site_db *db, const eml__db_deployment *d,
                                       eml_diag *diag)
{
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db,
                            "INSERT INTO deployments(node_id, model_id, version, node_version, "
                            "action, ok, message, created_unix) VALUES(?,?,?,?,?,?,?,?)",
                            &s, diag);
    if (st != EML_OK)
        return st;
    bind_text(s, 1, d->node);
    bind_text(s, 2, d->model);
    sqlite3_bind_int64(s, 3, d->version);
    sqlite3_bind_int64(s, 4, d->node_version);
    bind_text(s, 5, d->action);
    sqlite3_bind_int(s, 6, d->ok ? 1 : 0);
    bind_text(s, 7, d->message);
    sqlite3_bind_int64(s, 8, d->created_unix ? d->created_unix : (int64_t)time(NULL));
    return write_one(db, s, "record deployment", diag);
}

eml_status eml__site_db_serving(eml__site_db *db, const char *node, const char *model,
                                eml__db_deployment *out, eml_diag *diag)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db,
                            "SELECT version, node_version, action, message, created_unix FROM "
                            "deployments WHERE node_id = ? AND model_id = ? AND ok = 1 ORDER BY "
                            "id DESC LIMIT 1",
                            &s, diag);
    if (st != EML_OK)
        return st;
    bind_text(s, 1, node);
    bind_text(s, 2, model);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        snprintf(out->node, sizeof(out->node), "%s", node);
        snprintf(out->model, sizeof(out->model), "%s", model);
        out->version = (uint32_t)sqlite3_column_int64(s, 0);
        out->node_version = (uint32_t)sqlite3_column_int64(s, 1);
        col_text(s, 2, out->action, sizeof(out->action));
        col_text(s, 3, out->message, sizeof(out->message));
        out->created_unix = sqlite3_column_int64(s, 4);
        out->ok = 1;
    } else if (rc == SQLITE_DONE) {
        st = EML_ENOTFOUND;
    } else {
        st = db_error(db, rc, "read deployment", diag);
    }
    sqlite3_finalize(s);
    return st;
}

uint32_t eml__site_db_site_version(eml__site_db *db, const char *node, const char *model,
                                   uint32_t node_version)
{
    sqlite3_stmt *s = NULL;
    if (prepare(db,
                "SELECT version FROM deployments WHERE node_id = ? AND model_id = ? AND "
                "node_version = ? AND ok = 1 AND action = 'deploy' ORDER BY id DESC LIMIT 1",
                &s, NULL) != EML_OK)
        return 0;
    bind_text(s, 1, node);
    bind_text(s, 2, model);
    sqlite3_bind_int64(s, 3, node_version);
    uint32_t v = 0;
    if (sqlite3_step(s) == SQLITE_ROW)
        v = (uint32_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return v;
}

/* The last successful row of each (node, model). */
#define SERVING_PAIRS                                                                              \
    "SELECT node_id, model_id FROM deployments WHERE ok = 1 GROUP BY node_id, model_id"

uint32_t eml__site_db_serving_count(eml__site_db *db, const char *model)
{
    sqlite3_stmt *s = NULL;
    if (prepare(db, "SELECT count(*) FROM (" SERVING_PAIRS ") WHERE model_id = ?", &s, NULL) !=
        EML_OK)
        return 0;
    bind_text(s, 1, model);
    uint32_t n = 0;
    if (sqlite3_step(s) == SQLITE_ROW)
        n = (uint32_t)sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return n;
}

eml_status eml__site_db_deployment_counts(eml__site_db *db, uint32_t *pairs, uint32_t *models,
                                          eml_diag *diag)
{
    int64_t p = 0, m = 0;
    eml_status st = query_int(db, "SELECT count(*) FROM (" SERVING_PAIRS ")", &p, diag);
    if (st == EML_OK)
        st = query_int(db, "SELECT count(DISTINCT model_id) FROM (" SERVING_PAIRS ")", &m, diag);
    *pairs = (uint32_t)p;
    *models = (uint32_t)m;
    return st;
}

/* ---- measurements ---- */

eml_status eml__site_db_measurement_add(eml__site_db *db, const eml__db_measurement *m,
                                        eml_diag *diag)
{
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db,
                            "INSERT INTO measurements(model_id, version, node_id, kind, value, "
                            "detail, measured_unix) VALUES(?,?,?,?,?,?,?)",
                            &s, diag);
    if (st != EML_OK)
        return st;
    bind_text(s, 1, m->model);
    sqlite3_bind_int64(s, 2, m->version);
    bind_text(s, 3, m->node);
    bind_text(s, 4, m->kind);
    sqlite3_bind_double(s, 5, m->value);
    bind_text(s, 6, m->detail);
    sqlite3_bind_int64(s, 7, m->measured_unix ? m->measured_unix : (int64_t)time(NULL));
    return write_one(db, s, "record measurement", diag);
}

eml_status eml__site_db_measurement_last(eml__site_db *db, const char *model, const char *kind,
                                         eml__db_measurement *out, eml_diag *diag)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db,
                            "SELECT version, node_id, value, detail, measured_unix FROM "
                            "measurements WHERE model_id = ? AND kind = ? ORDER BY id DESC "
                            "LIMIT 1",
                            &s, diag);
    if (st != EML_OK)
        return st;
    bind_text(s, 1, model);
    bind_text(s, 2, kind);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        snprintf(out->model, sizeof(out->model), "%s", model);
        snprintf(out->kind, sizeof(out->kind), "%s", kind);
        out->version = (uint32_t)sqlite3_column_int64(s, 0);
        col_text(s, 1, out->node, sizeof(out->node));
        out->value = sqlite3_column_double(s, 2);
        col_text(s, 3, out->detail, sizeof(out->detail));
        out->measured_unix = sqlite3_column_int64(s, 4);
    } else if (rc == SQLITE_DONE) {
        st = EML_ENOTFOUND;
    } else {
        st = db_error(db, rc, "read measurement", diag);
    }
    sqlite3_finalize(s);
    return st;
}
