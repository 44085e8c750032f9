/* The site database's rollouts (schema 2): a rollout row per group deploy and a row per node,
 * each state change written in its own transaction so that a killed manager leaves a record
 * it can resume from. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "core/core.h"
#include "manager/site_db.h"

static const char *const rollout_sql =
    "CREATE TABLE rollouts("
    "  id INTEGER PRIMARY KEY, model_id TEXT NOT NULL REFERENCES models(id),"
    "  version INTEGER NOT NULL, sha256 TEXT NOT NULL, state TEXT NOT NULL,"
    "  waves_total INTEGER NOT NULL, waves_done INTEGER NOT NULL DEFAULT 0,"
    "  first_wave INTEGER NOT NULL, growth REAL NOT NULL, max_failure_ratio REAL NOT NULL,"
    "  bake_s REAL NOT NULL, rollback_failed_wave INTEGER NOT NULL,"
    "  message TEXT NOT NULL DEFAULT '', created_unix INTEGER NOT NULL,"
    "  updated_unix INTEGER NOT NULL);"
    "CREATE TABLE rollout_nodes("
    "  rollout_id INTEGER NOT NULL REFERENCES rollouts(id),"
    "  node_id TEXT NOT NULL REFERENCES nodes(id), position INTEGER NOT NULL,"
    "  wave INTEGER NOT NULL, state TEXT NOT NULL,"
    "  previous_node_version INTEGER NOT NULL DEFAULT 0,"
    "  node_version INTEGER NOT NULL DEFAULT 0, health_latency_ms REAL NOT NULL DEFAULT 0,"
    "  message TEXT NOT NULL DEFAULT '', updated_unix INTEGER NOT NULL,"
    "  PRIMARY KEY(rollout_id, node_id));";

eml_status eml__site_db_rollout_schema(eml__site_db *db, eml_diag *diag)
{
    int rc = sqlite3_exec(eml__site_db_sqlite(db), rollout_sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? EML_OK : eml__site_db_error(db, rc, "create rollout tables", diag);
}

static eml_status prepare(eml__site_db *db, const char *sql, sqlite3_stmt **s, eml_diag *diag)
{
    int rc = sqlite3_prepare_v2(eml__site_db_sqlite(db), sql, -1, s, NULL);
    return rc == SQLITE_OK ? EML_OK : eml__site_db_error(db, rc, "prepare", diag);
}

static void bind_text(sqlite3_stmt *s, int i, const char *t)
{
    sqlite3_bind_text(s, i, t ? t : "", -1, SQLITE_TRANSIENT);
}

static void col_text(sqlite3_stmt *s, int col, char *buf, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(s, col);
    snprintf(buf, cap, "%s", t ? (const char *)t : "");
}

/* Runs a write to its end inside its own savepoint and finalizes it: committed when it
 * returns EML_OK (outside a caller's transaction). */
static eml_status write_one(eml__site_db *db, sqlite3_stmt *s, const char *what, eml_diag *diag)
{
    eml_status st = eml__site_db_begin(db, diag);
    if (st != EML_OK) {
        sqlite3_finalize(s);
        return st;
    }
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE)
        st = eml__site_db_error(db, rc, what, diag);
    eml_status st2 = eml__site_db_end(db, st == EML_OK, st == EML_OK ? diag : NULL);
    return st != EML_OK ? st : st2;
}

eml_status eml__site_db_rollout_add(eml__site_db *db, const eml_rollout_info *r,
                                    const eml_rollout_node *nodes, size_t count, int64_t *id,
                                    eml_diag *diag)
{
    *id = 0;
    int64_t now = (int64_t)time(NULL);
    sqlite3_stmt *s = NULL;
    eml_status st = eml__site_db_begin(db, diag);
    if (st != EML_OK)
        return st;
    EML_TRY(prepare(db,
                    "INSERT INTO rollouts(model_id, version, sha256, state, waves_total, "
                    "waves_done, first_wave, growth, max_failure_ratio, bake_s, "
                    "rollback_failed_wave, message, created_unix, updated_unix) "
                    "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    &s, diag));
    bind_text(s, 1, r->model);
    sqlite3_bind_int64(s, 2, r->version);
    bind_text(s, 3, r->sha256);
    bind_text(s, 4, r->state);
    sqlite3_bind_int64(s, 5, r->waves_total);
    sqlite3_bind_int64(s, 6, r->waves_done);
    sqlite3_bind_int64(s, 7, r->first_wave);
    sqlite3_bind_double(s, 8, r->growth);
    sqlite3_bind_double(s, 9, r->max_failure_ratio);
    sqlite3_bind_double(s, 10, r->bake_s);
    sqlite3_bind_int(s, 11, r->rollback_failed_wave ? 1 : 0);
    bind_text(s, 12, r->message);
    sqlite3_bind_int64(s, 13, now);
    sqlite3_bind_int64(s, 14, now);
    int rc = sqlite3_step(s);
    sqlite3_finalize(s);
    s = NULL;
    if (rc != SQLITE_DONE) {
        st = eml__site_db_error(db, rc, "insert rollout", diag);
        goto fail;
    }
    *id = sqlite3_last_insert_rowid(eml__site_db_sqlite(db));
    for (size_t i = 0; i < count; i++) {
        EML_TRY(prepare(db,
                        "INSERT INTO rollout_nodes(rollout_id, node_id, position, wave, state, "
                        "previous_node_version, node_version, health_latency_ms, message, "
                        "updated_unix) VALUES(?,?,?,?,?,?,?,?,?,?)",
                        &s, diag));
        const eml_rollout_node *n = &nodes[i];
        sqlite3_bind_int64(s, 1, *id);
        bind_text(s, 2, n->node);
        sqlite3_bind_int64(s, 3, (int64_t)i);
        sqlite3_bind_int64(s, 4, n->wave);
        bind_text(s, 5, n->state);
        sqlite3_bind_int64(s, 6, n->previous_node_version);
        sqlite3_bind_int64(s, 7, n->node_version);
        sqlite3_bind_double(s, 8, n->health_latency_ms);
        bind_text(s, 9, n->message);
        sqlite3_bind_int64(s, 10, now);
        rc = sqlite3_step(s);
        sqlite3_finalize(s);
        s = NULL;
        if (rc != SQLITE_DONE) {
            st = eml__site_db_error(db, rc, "insert rollout node", diag);
            goto fail;
        }
    }
    return eml__site_db_end(db, 1, diag);
fail:
    sqlite3_finalize(s);
    eml__site_db_end(db, 0, NULL);
    *id = 0;
    return st;
}

eml_status eml__site_db_rollout_update(eml__site_db *db, const eml_rollout_info *r, eml_diag *diag)
{
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db,
                            "UPDATE rollouts SET state = ?, waves_done = ?, message = ?, "
                            "updated_unix = ? WHERE id = ?",
                            &s, diag);
    if (st != EML_OK)
        return st;
    bind_text(s, 1, r->state);
    sqlite3_bind_int64(s, 2, r->waves_done);
    bind_text(s, 3, r->message);
    sqlite3_bind_int64(s, 4, (int64_t)time(NULL));
    sqlite3_bind_int64(s, 5, r->id);
    return write_one(db, s, "update rollout", diag);
}

eml_status eml__site_db_rollout_node_put(eml__site_db *db, int64_t id, const eml_rollout_node *n,
                                         eml_diag *diag)
{
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db,
                            "UPDATE rollout_nodes SET state = ?, previous_node_version = ?, "
                            "node_version = ?, health_latency_ms = ?, message = ?, "
                            "updated_unix = ? WHERE rollout_id = ? AND node_id = ?",
                            &s, diag);
    if (st != EML_OK)
        return st;
    bind_text(s, 1, n->state);
    sqlite3_bind_int64(s, 2, n->previous_node_version);
    sqlite3_bind_int64(s, 3, n->node_version);
    sqlite3_bind_double(s, 4, n->health_latency_ms);
    bind_text(s, 5, n->message);
    sqlite3_bind_int64(s, 6, (int64_t)time(NULL));
    sqlite3_bind_int64(s, 7, id);
    bind_text(s, 8, n->node);
    return write_one(db, s, "update rollout node", diag);
}

/* The node counts come from the node rows: one source of truth. */
#define ROLLOUT_SELECT                                                                             \
    "SELECT r.id, r.model_id, r.version, r.sha256, r.state, r.waves_done, r.waves_total, "         \
    "r.first_wave, r.growth, r.max_failure_ratio, r.bake_s, r.rollback_failed_wave, r.message, "   \
    "r.created_unix, r.updated_unix, "                                                             \
    "(SELECT count(*) FROM rollout_nodes n WHERE n.rollout_id = r.id), "                           \
    "(SELECT count(*) FROM rollout_nodes n WHERE n.rollout_id = r.id AND n.state = 'deployed'), "  \
    "(SELECT count(*) FROM rollout_nodes n WHERE n.rollout_id = r.id AND n.state = 'failed'), "    \
    "(SELECT count(*) FROM rollout_nodes n WHERE n.rollout_id = r.id AND "                         \
    "n.state = 'rolled_back') FROM rollouts r"

static void read_rollout(sqlite3_stmt *s, eml_rollout_info *r)
{
    memset(r, 0, sizeof(*r));
    r->id = sqlite3_column_int64(s, 0);
    col_text(s, 1, r->model, sizeof(r->model));
    r->version = (uint32_t)sqlite3_column_int64(s, 2);
    col_text(s, 3, r->sha256, sizeof(r->sha256));
    col_text(s, 4, r->state, sizeof(r->state));
    r->waves_done = (uint32_t)sqlite3_column_int64(s, 5);
    r->waves_total = (uint32_t)sqlite3_column_int64(s, 6);
    r->first_wave = (uint32_t)sqlite3_column_int64(s, 7);
    r->growth = sqlite3_column_double(s, 8);
    r->max_failure_ratio = sqlite3_column_double(s, 9);
    r->bake_s = sqlite3_column_double(s, 10);
    r->rollback_failed_wave = sqlite3_column_int(s, 11);
    col_text(s, 12, r->message, sizeof(r->message));
    r->created_unix = sqlite3_column_int64(s, 13);
    r->updated_unix = sqlite3_column_int64(s, 14);
    r->nodes_total = (uint32_t)sqlite3_column_int64(s, 15);
    r->nodes_ok = (uint32_t)sqlite3_column_int64(s, 16);
    r->nodes_failed = (uint32_t)sqlite3_column_int64(s, 17);
    r->nodes_rolled_back = (uint32_t)sqlite3_column_int64(s, 18);
}

eml_status eml__site_db_rollout_get(eml__site_db *db, int64_t id, eml_rollout_info *out,
                                    eml_diag *diag)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db, ROLLOUT_SELECT " WHERE r.id = ?", &s, diag);
    if (st != EML_OK)
        return st;
    sqlite3_bind_int64(s, 1, id);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        read_rollout(s, out);
    else if (rc == SQLITE_DONE)
        st = EML_ENOTFOUND;
    else
        st = eml__site_db_error(db, rc, "read rollout", diag);
    sqlite3_finalize(s);
    return st;
}

/* Reads every row of a query into a growing array of `size`-byte elements. */
static eml_status read_all(eml__site_db *db, sqlite3_stmt *s, size_t size,
                           void (*read)(sqlite3_stmt *, void *), void **out, size_t *count,
                           eml_diag *diag)
{
    *out = NULL;
    *count = 0;
    size_t cap = 0;
    eml_status st = EML_OK;
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (*count == cap) {
            cap = cap ? 2 * cap : 8;
            void *p = realloc(*out, cap * size);
            if (!p) {
                st = eml__diag(diag, EML_ENOMEM, "out of memory");
                break;
            }
            *out = p;
        }
        read(s, (char *)*out + (*count)++ * size);
    }
    if (st == EML_OK && rc != SQLITE_DONE)
        st = eml__site_db_error(db, rc, "read rollouts", diag);
    sqlite3_finalize(s);
    if (st != EML_OK) {
        free(*out);
        *out = NULL;
        *count = 0;
    }
    return st;
}

static void read_rollout_any(sqlite3_stmt *s, void *r)
{
    read_rollout(s, r);
}

eml_status eml__site_db_rollout_list(eml__site_db *db, eml_rollout_info **out, size_t *count,
                                     eml_diag *diag)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db, ROLLOUT_SELECT " ORDER BY r.id DESC", &s, diag);
    if (st != EML_OK)
        return st;
    void *p = NULL;
    st = read_all(db, s, sizeof(**out), read_rollout_any, &p, count, diag);
    *out = p;
    return st;
}

static void read_node_any(sqlite3_stmt *s, void *p)
{
    eml_rollout_node *n = p;
    memset(n, 0, sizeof(*n));
    col_text(s, 0, n->node, sizeof(n->node));
    n->wave = (uint32_t)sqlite3_column_int64(s, 1);
    col_text(s, 2, n->state, sizeof(n->state));
    n->previous_node_version = (uint32_t)sqlite3_column_int64(s, 3);
    n->node_version = (uint32_t)sqlite3_column_int64(s, 4);
    n->health_latency_ms = sqlite3_column_double(s, 5);
    col_text(s, 6, n->message, sizeof(n->message));
    n->updated_unix = sqlite3_column_int64(s, 7);
}

eml_status eml__site_db_rollout_nodes(eml__site_db *db, int64_t id, eml_rollout_node **out,
                                      size_t *count, eml_diag *diag)
{
    *out = NULL;
    *count = 0;
    sqlite3_stmt *s = NULL;
    eml_status st = prepare(db,
                            "SELECT node_id, wave, state, previous_node_version, node_version, "
                            "health_latency_ms, message, updated_unix FROM rollout_nodes WHERE "
                            "rollout_id = ? ORDER BY position",
                            &s, diag);
    if (st != EML_OK)
        return st;
    sqlite3_bind_int64(s, 1, id);
    void *p = NULL;
    st = read_all(db, s, sizeof(**out), read_node_any, &p, count, diag);
    *out = p;
    return st;
}
