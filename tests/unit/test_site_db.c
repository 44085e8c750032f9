/* The site database: schema and its version, rows kept across reopening, transactions that
 * commit or leave nothing, and files that are not a site database (garbage, another program's
 * SQLite file, a newer schema) refused with a clear error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "harness.h"
#include "manager/site_db.h"

static char work[512], path[600];

static void setup(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(work, sizeof(work), "%s/eml_site_db_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    REQUIRE(mkdtemp(work) != NULL);
    snprintf(path, sizeof(path), "%s/site.db", work);
}

static void teardown(void)
{
    char cmd[700];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
}

static eml__site_db *open_ok(void)
{
    eml__site_db *db = NULL;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__site_db_open(path, &db, &d), &d);
    return db;
}

static void add_model(eml__site_db *db, const char *id)
{
    eml__db_model m;
    memset(&m, 0, sizeof(m));
    snprintf(m.id, sizeof(m.id), "%s", id);
    snprintf(m.name, sizeof(m.name), "Model %s", id);
    REQUIRE(eml__site_db_model_put(db, &m, NULL) == EML_OK);
}

static uint32_t add_version(eml__site_db *db, const char *model, const char *sha)
{
    eml__db_version v;
    memset(&v, 0, sizeof(v));
    snprintf(v.model, sizeof(v.model), "%s", model);
    snprintf(v.sha256, sizeof(v.sha256), "%s", sha);
    v.bytes = 1234;
    snprintf(v.file, sizeof(v.file), "artifacts/%s.onnx", sha);
    uint32_t version = 0;
    eml_diag d;
    eml_diag_init(&d);
    REQUIRE_OK(eml__site_db_version_add(db, &v, &version, &d), &d);
    return version;
}

/* Runs SQL on the file with plain SQLite (what another program or a newer edgeml would do). */
static void raw_sql(const char *sql)
{
    sqlite3 *db = NULL;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
}

EML_TEST(schema_created_and_versioned)
{
    setup();
    eml__site_db *db = open_ok();
    CHECK(eml__site_db_schema(db) == EML__SITE_DB_SCHEMA);
    eml__site_db_close(db);
    /* The tables the issue names, WAL, and the application id. */
    sqlite3 *raw = NULL;
    REQUIRE(sqlite3_open(path, &raw) == SQLITE_OK);
    const char *tables[] = {"models", "versions", "nodes", "deployments", "measurements"};
    for (size_t i = 0; i < 5; i++) {
        char sql[160];
        snprintf(sql, sizeof(sql),
                 "SELECT count(*) FROM sqlite_master WHERE type='table' AND "
                 "name='%s'",
                 tables[i]);
        sqlite3_stmt *s = NULL;
        REQUIRE(sqlite3_prepare_v2(raw, sql, -1, &s, NULL) == SQLITE_OK);
        CHECK(sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 1);
        sqlite3_finalize(s);
    }
    sqlite3_stmt *s = NULL;
    REQUIRE(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &s, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(s) == SQLITE_ROW &&
          strcmp((const char *)sqlite3_column_text(s, 0), "wal") == 0);
    sqlite3_finalize(s);
    REQUIRE(sqlite3_prepare_v2(raw, "PRAGMA application_id", -1, &s, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == EML__SITE_DB_APP_ID);
    sqlite3_finalize(s);
    sqlite3_close(raw);
    teardown();
}

EML_TEST(rows_survive_reopen)
{
    setup();
    eml__site_db *db = open_ok();
    add_model(db, "cnn");
    CHECK(add_version(db, "cnn", "aa") == 1);
    CHECK(add_version(db, "cnn", "bb") == 2);
    CHECK(add_version(db, "cnn", "aa") == 1); /* same content: same version */
    eml__db_node n;
    memset(&n, 0, sizeof(n));
    snprintf(n.id, sizeof(n.id), "local");
    snprintf(n.transport, sizeof(n.transport), "local");
    n.cpu_count = 4;
    n.last_seen_unix = 1700000000;
    REQUIRE(eml__site_db_node_put(db, &n, NULL) == EML_OK);
    eml__db_deployment dep;
    memset(&dep, 0, sizeof(dep));
    snprintf(dep.node, sizeof(dep.node), "local");
    snprintf(dep.model, sizeof(dep.model), "cnn");
    snprintf(dep.action, sizeof(dep.action), "deploy");
    dep.version = 2;
    dep.node_version = 7;
    dep.ok = 1;
    REQUIRE(eml__site_db_deployment_add(db, &dep, NULL) == EML_OK);
    dep.ok = 0; /* a failed one later does not change what serves */
    dep.version = 1;
    dep.node_version = 8;
    REQUIRE(eml__site_db_deployment_add(db, &dep, NULL) == EML_OK);
    eml__db_measurement me;
    memset(&me, 0, sizeof(me));
    snprintf(me.model, sizeof(me.model), "cnn");
    snprintf(me.node, sizeof(me.node), "local");
    snprintf(me.kind, sizeof(me.kind), "latency_ms_p50");
    me.value = 1.25;
    me.version = 2;
    REQUIRE(eml__site_db_measurement_add(db, &me, NULL) == EML_OK);
    eml__site_db_close(db);

    db = open_ok();
    eml__db_model m;
    REQUIRE(eml__site_db_model_get(db, "cnn", &m, NULL) == EML_OK);
    CHECK(strcmp(m.name, "Model cnn") == 0);
    CHECK(eml__site_db_model_get(db, "other", &m, NULL) == EML_ENOTFOUND);
    eml__db_version v;
    REQUIRE(eml__site_db_version_get(db, "cnn", 0, &v, NULL) == EML_OK);
    CHECK(v.version == 2 && strcmp(v.sha256, "bb") == 0 && v.bytes == 1234);
    REQUIRE(eml__site_db_version_get(db, "cnn", 1, &v, NULL) == EML_OK);
    CHECK(strcmp(v.file, "artifacts/aa.onnx") == 0);
    CHECK(eml__site_db_version_get(db, "cnn", 3, &v, NULL) == EML_ENOTFOUND);
    REQUIRE(eml__site_db_node_get(db, "local", &n, NULL) == EML_OK);
    CHECK(n.cpu_count == 4 && n.last_seen_unix == 1700000000);
    eml__db_deployment got;
    REQUIRE(eml__site_db_serving(db, "local", "cnn", &got, NULL) == EML_OK);
    CHECK(got.version == 2 && got.node_version == 7);
    CHECK(eml__site_db_site_version(db, "local", "cnn", 7) == 2);
    CHECK(eml__site_db_site_version(db, "local", "cnn", 8) == 0);
    CHECK(eml__site_db_serving_count(db, "cnn") == 1);
    uint32_t pairs = 0, models = 0;
    REQUIRE(eml__site_db_deployment_counts(db, &pairs, &models, NULL) == EML_OK);
    CHECK(pairs == 1 && models == 1);
    eml__db_measurement last;
    REQUIRE(eml__site_db_measurement_last(db, "cnn", "latency_ms_p50", &last, NULL) == EML_OK);
    CHECK(last.value == 1.25 && last.version == 2 && last.measured_unix > 0);
    CHECK(eml__site_db_measurement_last(db, "cnn", "accuracy_top1_pct", &last, NULL) ==
          EML_ENOTFOUND);
    eml__site_db_close(db);
    teardown();
}

EML_TEST(transactions_commit_or_leave_nothing)
{
    setup();
    eml__site_db *db = open_ok();
    /* Rolled back: neither the model nor its version. */
    REQUIRE(eml__site_db_begin(db, NULL) == EML_OK);
    add_model(db, "gone");
    add_version(db, "gone", "cc");
    REQUIRE(eml__site_db_end(db, 0, NULL) == EML_OK);
    eml__db_model m;
    CHECK(eml__site_db_model_get(db, "gone", &m, NULL) == EML_ENOTFOUND);
    eml__db_version v;
    CHECK(eml__site_db_version_get(db, "gone", 0, &v, NULL) == EML_ENOTFOUND);
    /* Committed: both. */
    REQUIRE(eml__site_db_begin(db, NULL) == EML_OK);
    add_model(db, "kept");
    add_version(db, "kept", "dd");
    REQUIRE(eml__site_db_end(db, 1, NULL) == EML_OK);
    eml__site_db_close(db);
    db = open_ok();
    CHECK(eml__site_db_model_get(db, "kept", &m, NULL) == EML_OK);
    CHECK(eml__site_db_version_get(db, "kept", 0, &v, NULL) == EML_OK);
    /* A write that breaks a constraint (a version of an unknown model) leaves nothing. */
    eml__db_version bad;
    memset(&bad, 0, sizeof(bad));
    snprintf(bad.model, sizeof(bad.model), "ghost");
    snprintf(bad.sha256, sizeof(bad.sha256), "ee");
    uint32_t ver = 99;
    eml_diag d;
    eml_diag_init(&d);
    CHECK(eml__site_db_version_add(db, &bad, &ver, &d) == EML_EIO);
    CHECK(strstr(d.message, "site.db") != NULL);
    CHECK(eml__site_db_version_get(db, "ghost", 0, &v, NULL) == EML_ENOTFOUND);
    /* Ending with no transaction open is refused, not ignored. */
    CHECK(eml__site_db_end(db, 1, NULL) == EML_EINTERNAL);
    eml__site_db_close(db);
    teardown();
}

EML_TEST(corrupt_file_refused)
{
    setup();
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    for (int i = 0; i < 4096; i++)
        fputc((i * 131 + 7) & 0xff, f);
    fclose(f);
    eml__site_db *db = NULL;
    eml_diag d;
    eml_diag_init(&d);
    CHECK_STATUS(eml__site_db_open(path, &db, &d), EML_ECORRUPT);
    CHECK(db == NULL);
    CHECK(strstr(d.message, path) != NULL && strstr(d.message, "not a site database") != NULL);
    /* The file was not touched. */
    size_t n = 0;
    void *bytes = eml_test_read_file(path, &n);
    CHECK(n == 4096);
    free(bytes);
    teardown();
}

EML_TEST(other_sqlite_file_refused)
{
    setup();
    raw_sql("CREATE TABLE invoices(id INTEGER PRIMARY KEY, total REAL)");
    eml__site_db *db = NULL;
    eml_diag d;
    eml_diag_init(&d);
    CHECK_STATUS(eml__site_db_open(path, &db, &d), EML_ECORRUPT);
    CHECK(strstr(d.message, "not a site database") != NULL);
    teardown();
    setup();
    raw_sql("PRAGMA application_id = 1234");
    CHECK_STATUS(eml__site_db_open(path, &db, &d), EML_ECORRUPT);
    CHECK(strstr(d.message, "another program") != NULL);
    teardown();
}

EML_TEST(future_schema_refused)
{
    setup();
    eml__site_db *db = open_ok();
    eml__site_db_close(db);
    raw_sql("PRAGMA user_version = 7");
    eml_diag d;
    eml_diag_init(&d);
    CHECK_STATUS(eml__site_db_open(path, &db, &d), EML_EUNSUPPORTED);
    CHECK(strstr(d.message, "schema 7") != NULL && strstr(d.message, "newer edgeml") != NULL);
    teardown();
}
