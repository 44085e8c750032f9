/* The site database (SQLite): models, their versions, nodes, deployments and measurements.
 * Every write runs in a transaction; a schema version (PRAGMA user_version) and an application
 * id tell a site database from any other file. */
#ifndef EML_MANAGER_SITE_DB_H
#define EML_MANAGER_SITE_DB_H

#include <stddef.h>
#include <stdint.h>

#include "edgeml/manager.h"
#include "edgeml/status.h"

/* The schema this code writes and reads; a database with a higher one is refused, a lower one
 * is migrated in place when opened (2: rollouts, rollout_nodes). */
#define EML__SITE_DB_SCHEMA 2
/* PRAGMA application_id of a site database: "EMLS". */
#define EML__SITE_DB_APP_ID 0x454d4c53

typedef struct eml__site_db eml__site_db;

/* Opens or creates the database file; a new file gets the schema, an existing one is checked.
 * Returns EML_OK, EML_ECORRUPT (not SQLite, or not a site database), EML_EUNSUPPORTED (a newer
 * schema), EML_EIO, EML_ENOMEM; diag names the file. */
eml_status eml__site_db_open(const char *path, eml__site_db **out, eml_diag *diag);
void eml__site_db_close(eml__site_db *db);
/* The schema version stored in the file. */
int eml__site_db_schema(eml__site_db *db);

/* An explicit transaction around several writes (they nest: inner ones are savepoints).
 * end with commit = 0 rolls back. Returns EML_OK or EML_EIO. */
eml_status eml__site_db_begin(eml__site_db *db, eml_diag *diag);
eml_status eml__site_db_end(eml__site_db *db, int commit, eml_diag *diag);

/* ---- rows ---- */

typedef struct eml__db_model {
    char id[EML_MANAGER_MAX_ID + 1];
    char name[128];
    char type[64];
    char parent[EML_MANAGER_MAX_ID + 1];
    char derivation[64];
    int64_t created_unix;
} eml__db_model;

typedef struct eml__db_version {
    char model[EML_MANAGER_MAX_ID + 1];
    uint32_t version;
    char sha256[65];
    uint64_t bytes;
    char file[1024];  /* the artifact, relative to the site folder */
    char inputs[512]; /* JSON: [[dims...], ...] of the model's inputs as declared */
    char outputs[512];
    int64_t created_unix;
} eml__db_version;

typedef struct eml__db_node {
    char id[EML_MANAGER_MAX_ID + 1];
    char transport[16];
    char hostname[128];
    char device_type[64];
    char cpu_model[128];
    uint32_t cpu_count;
    uint64_t memory_total_bytes, memory_available_bytes; /* 0: unknown */
    int64_t created_unix, last_seen_unix;
} eml__db_node;

typedef struct eml__db_deployment {
    char node[EML_MANAGER_MAX_ID + 1];
    char model[EML_MANAGER_MAX_ID + 1];
    uint32_t version;      /* site version; 0 when unknown */
    uint32_t node_version; /* serving on the node after it; 0 when it failed before */
    char action[16];       /* "deploy", "rollback" */
    int ok;
    char message[512];
    int64_t created_unix;
} eml__db_deployment;

typedef struct eml__db_measurement {
    char model[EML_MANAGER_MAX_ID + 1];
    uint32_t version; /* site version; 0 when unknown */
    char node[EML_MANAGER_MAX_ID + 1];
    char kind[32]; /* "latency_ms_p50", "throughput_ips", "accuracy_top1_pct", ... */
    double value;
    char detail[256]; /* dataset name, batch, ... */
    int64_t measured_unix;
} eml__db_measurement;

/* Inserts a model; an existing id is left as it is. Returns EML_OK, EML_EIO. */
eml_status eml__site_db_model_put(eml__site_db *db, const eml__db_model *m, eml_diag *diag);
/* Returns EML_OK, EML_ENOTFOUND, EML_EIO. */
eml_status eml__site_db_model_get(eml__site_db *db, const char *id, eml__db_model *out,
                                  eml_diag *diag);
/* Ids of every model in id order: *out malloc'd array of count ids. */
eml_status eml__site_db_model_ids(eml__site_db *db, char (**out)[EML_MANAGER_MAX_ID + 1],
                                  size_t *count, eml_diag *diag);

/* Adds a version of v->model with the next number (v->version is ignored), unless a version
 * with v->sha256 exists: then *version is that one's and nothing is written.
 * Returns EML_OK, EML_EIO. */
eml_status eml__site_db_version_add(eml__site_db *db, const eml__db_version *v, uint32_t *version,
                                    eml_diag *diag);
/* version 0: the latest. Returns EML_OK, EML_ENOTFOUND, EML_EIO. */
eml_status eml__site_db_version_get(eml__site_db *db, const char *model, uint32_t version,
                                    eml__db_version *out, eml_diag *diag);

/* Inserts or replaces a node's row. Returns EML_OK, EML_EIO. */
eml_status eml__site_db_node_put(eml__site_db *db, const eml__db_node *n, eml_diag *diag);
eml_status eml__site_db_node_get(eml__site_db *db, const char *id, eml__db_node *out,
                                 eml_diag *diag);
/* Every node in id order: *out malloc'd. */
eml_status eml__site_db_node_list(eml__site_db *db, eml__db_node **out, size_t *count,
                                  eml_diag *diag);

eml_status eml__site_db_deployment_add(eml__site_db *db, const eml__db_deployment *d,
                                       eml_diag *diag);
/* The last successful deployment row of (node, model): what it serves. EML_ENOTFOUND when
 * none. */
eml_status eml__site_db_serving(eml__site_db *db, const char *node, const char *model,
                                eml__db_deployment *out, eml_diag *diag);
/* The site version that a node's version of a model came from (its deploy row); 0 when
 * unknown. */
uint32_t eml__site_db_site_version(eml__site_db *db, const char *node, const char *model,
                                   uint32_t node_version);
/* Nodes serving the model (their last deploy/rollback of it succeeded). */
uint32_t eml__site_db_serving_count(eml__site_db *db, const char *model);
/* (node, model) pairs serving, and distinct models among them. */
eml_status eml__site_db_deployment_counts(eml__site_db *db, uint32_t *pairs, uint32_t *models,
                                          eml_diag *diag);

eml_status eml__site_db_measurement_add(eml__site_db *db, const eml__db_measurement *m,
                                        eml_diag *diag);
/* The latest measurement of that kind for any version of model. EML_ENOTFOUND when none. */
eml_status eml__site_db_measurement_last(eml__site_db *db, const char *model, const char *kind,
                                         eml__db_measurement *out, eml_diag *diag);

/* ---- rollouts (site_db_rollout.c) ---- */

/* The handle and error mapping of site_db.c, for the files of the database's other tables. */
struct sqlite3 *eml__site_db_sqlite(eml__site_db *db);
eml_status eml__site_db_error(eml__site_db *db, int rc, const char *what, eml_diag *diag);

/* Creates the tables of schema 2 (rollouts, rollout_nodes): at creation, and when a schema-1
 * database is migrated (inside the caller's transaction). */
eml_status eml__site_db_rollout_schema(eml__site_db *db, eml_diag *diag);

/* Inserts a rollout (r->id ignored; *id receives the new one) and its nodes in one transaction.
 * Returns EML_OK, EML_EIO. */
eml_status eml__site_db_rollout_add(eml__site_db *db, const eml_rollout_info *r,
                                    const eml_rollout_node *nodes, size_t count, int64_t *id,
                                    eml_diag *diag);
/* Writes r's state, waves_done and message (updated now). */
eml_status eml__site_db_rollout_update(eml__site_db *db, const eml_rollout_info *r,
                                       eml_diag *diag);
/* Writes one node row's state, versions, latency and message (updated now). */
eml_status eml__site_db_rollout_node_put(eml__site_db *db, int64_t id, const eml_rollout_node *n,
                                         eml_diag *diag);
/* A rollout with its node counts. Returns EML_OK, EML_ENOTFOUND, EML_EIO. */
eml_status eml__site_db_rollout_get(eml__site_db *db, int64_t id, eml_rollout_info *out,
                                    eml_diag *diag);
/* Every rollout, newest first: *out malloc'd. */
eml_status eml__site_db_rollout_list(eml__site_db *db, eml_rollout_info **out, size_t *count,
                                     eml_diag *diag);
/* A rollout's nodes in rollout order: *out malloc'd (NULL when none). */
eml_status eml__site_db_rollout_nodes(eml__site_db *db, int64_t id, eml_rollout_node **out,
                                      size_t *count, eml_diag *diag);

#endif
