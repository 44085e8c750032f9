/* Deploying a model version: write aside and fsync, verify hash and signature, load and compile,
 * health check, then the atomic switch of `current` and the retirement of old versions. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve/repository.h"

void eml_repo_deploy_options_init(eml_repo_deploy_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = sizeof(*opts);
}

typedef struct deploy {
    eml_repo *repo;
    const char *model;
    uint32_t version;
    /* sized so that every name below them fits in PATH_MAX (the root's length is capped) */
    char dir[PATH_MAX - 256];     /* <root>/<model> */
    char staging[PATH_MAX - 128]; /* <dir>/.tmp-<v> */
    char final[PATH_MAX - 128];   /* <dir>/<v> */
    eml_repo_deploy_result *res;
} deploy;

static void set_state(deploy *d, eml_model_state state)
{
    eml_repo *repo = d->repo;
    eml__repo_job_update(repo, d->model, d->version, state, d->res->model_bytes, d->res->sha256);
    if (repo->opts.on_state)
        repo->opts.on_state(repo->opts.user, d->model, d->version, state, NULL);
}

/* The next version: above every version kept, given by this process, or left on disk. */
static eml_status reserve_version(deploy *d, eml_diag *diag)
{
    eml_repo *repo = d->repo;
    eml__manifest m;
    pthread_mutex_lock(&repo->mu);
    eml_status st = eml__manifest_read(repo, d->model, &m, diag);
    pthread_mutex_unlock(&repo->mu);
    if (st == EML_ECORRUPT)
        return eml__diag(diag, st,
                         "the manifest of model '%s' cannot be read; the model is left as it is",
                         d->model);
    if (st != EML_OK && st != EML_ENOTFOUND)
        return st;
    uint32_t v = eml__repo_job_max_version(repo, d->model);
    for (size_t i = 0; st == EML_OK && i < m.n_kept; i++)
        v = EML_MAX(v, m.kept[i]);
    DIR *dd = opendir(d->dir);
    struct dirent *e;
    while (dd && (e = readdir(dd)) != NULL) {
        const char *name = e->d_name;
        if (name[0] == '.' && (!strncmp(name, ".tmp-", 5) || !strncmp(name, ".del-", 5)))
            name += 5;
        char *end = NULL;
        unsigned long x = strtoul(name, &end, 10);
        if (end != name && !*end && x < UINT32_MAX)
            v = EML_MAX(v, (uint32_t)x);
    }
    if (dd)
        closedir(dd);
    if (v >= UINT32_MAX - 1)
        return eml__diag(diag, EML_ELIMIT, "model '%s' has run out of version numbers", d->model);
    d->version = v + 1;
    return EML_OK;
}

static eml_status write_aside(deploy *d, const eml_repo_deploy_options *o, eml__repo_config *cfg,
                              const void *bytes, size_t n_bytes, eml_diag *diag)
{
    eml_repo *repo = d->repo;
    eml_status st = EML_OK;
    struct stat sb;
    if (stat(d->dir, &sb) != 0) {
        if (mkdir(d->dir, 0755) != 0 && errno != EEXIST)
            return eml__diag(diag, EML_EIO, "cannot create %s: %s", d->dir, strerror(errno));
        EML_TRY(eml__fs_fsync_dir(repo->root, diag));
    }
    if (mkdir(d->staging, 0755) != 0)
        return eml__diag(diag, EML_EIO, "cannot create %s: %s", d->staging, strerror(errno));
    EML_TRY(eml__fs_fsync_dir(d->dir, diag));
    eml__repo_point(repo, "staging_created");
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/model.onnx", d->staging);
    EML_TRY(eml__fs_write_file(path, bytes, n_bytes, diag));
    eml__repo_point(repo, "model_written");
    if (o->signature_hex) {
        snprintf(path, sizeof(path), "%s/model.sig", d->staging);
        EML_TRY(eml__fs_write_file(path, o->signature_hex, strlen(o->signature_hex), diag));
    }
    EML_TRY(eml__repo_config_store(cfg, d->staging, diag));
    eml__repo_point(repo, "config_written");
fail:
    return st;
}

static eml_status verify(deploy *d, const eml_repo_deploy_options *o, const char *want_sha,
                         void **bytes, size_t *n_bytes, eml_diag *diag)
{
    eml_repo *repo = d->repo;
    eml_status st = EML_OK;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/model.onnx", d->staging);
    /* what was stored is what is verified, loaded and served: read it back */
    EML_TRY(eml__fs_read_file(repo->env, path, eml_env_max_alloc_bytes(repo->env), bytes, n_bytes,
                              diag));
    eml__sha256_hex(*bytes, *n_bytes, d->res->sha256);
    if (want_sha[0] && strcmp(want_sha, d->res->sha256) != 0)
        return eml__diag(diag, EML_ECORRUPT, "the model's SHA-256 is %s, expected %s",
                         d->res->sha256, want_sha);
    if (repo->has_key) {
        uint8_t sig[64];
        if (!o->signature_hex)
            return eml__diag(diag, EML_EINVAL,
                             "this node requires signed models (a trusted key is set) and the "
                             "deploy has no signature");
        if (!eml__hex_decode(o->signature_hex, sig, sizeof(sig)))
            return eml__diag(diag, EML_EINVAL, "the signature is not 128 hex digits");
        EML_TRY(eml__ed25519_verify(repo->key, sig, *bytes, *n_bytes, diag));
    }
    char line[128];
    int n = snprintf(line, sizeof(line), "%s  model.onnx\n", d->res->sha256);
    snprintf(path, sizeof(path), "%s/model.sha256", d->staging);
    EML_TRY(eml__fs_write_file(path, line, (size_t)n, diag));
    eml__repo_point(repo, "sha_written");
    EML_TRY(eml__fs_fsync_dir(d->staging, diag));
    eml__repo_point(repo, "staged");
fail:
    return st;
}

/* The manifest after deploying v: v serves; kept are v, then the versions that served before
 * (most recent first), then the newest others, up to keep_versions. */
static void next_manifest(const eml__manifest *m, uint32_t v, uint32_t keep, eml__manifest *n)
{
    uint32_t order[2 * EML__REPO_MAX_KEPT + 2];
    size_t k = 0;
    order[k++] = v;
    if (m->serving)
        order[k++] = m->serving;
    for (size_t i = 0; i < m->n_previous; i++)
        order[k++] = m->previous[i];
    for (size_t i = m->n_kept; i-- > 0;)
        order[k++] = m->kept[i];
    memset(n, 0, sizeof(*n));
    n->serving = v;
    for (size_t i = 0; i < k && n->n_kept < keep; i++)
        if (order[i] == v || eml__manifest_has(m, order[i]))
            eml__manifest_add(n, order[i]);
    if (m->serving && eml__manifest_has(n, m->serving))
        n->previous[n->n_previous++] = m->serving;
    for (size_t i = 0; i < m->n_previous; i++) {
        uint32_t p = m->previous[i];
        int dup = p == m->serving;
        for (size_t j = 0; j < n->n_previous && !dup; j++)
            dup = n->previous[j] == p;
        if (!dup && eml__manifest_has(n, p) && n->n_previous < EML__REPO_MAX_KEPT)
            n->previous[n->n_previous++] = p;
    }
}

/* Commits the staged version. Retired folders are renamed to .del-<v> before the commit (so a
 * crash before it renames them back) and removed after it. */
static eml_status switch_version(deploy *d, uint32_t *previous, eml_diag *diag)
{
    eml_repo *repo = d->repo;
    eml_status st = EML_OK;
    eml__manifest m, n;
    uint32_t retired[EML__REPO_MAX_KEPT];
    size_t n_retired = 0, n_moved = 0;
    char from[PATH_MAX], to[PATH_MAX];
    int committed = 0;

    pthread_mutex_lock(&repo->mu);
    st = eml__manifest_read(repo, d->model, &m, diag);
    if (st == EML_ENOTFOUND) {
        memset(&m, 0, sizeof(m));
        st = EML_OK;
    }
    if (st != EML_OK)
        goto done;
    next_manifest(&m, d->version, repo->opts.keep_versions, &n);
    for (size_t i = 0; i < m.n_kept; i++)
        if (!eml__manifest_has(&n, m.kept[i]))
            retired[n_retired++] = m.kept[i];
    for (; n_moved < n_retired; n_moved++) {
        snprintf(from, sizeof(from), "%s/%u", d->dir, (unsigned)retired[n_moved]);
        snprintf(to, sizeof(to), "%s/.del-%u", d->dir, (unsigned)retired[n_moved]);
        if (rename(from, to) != 0) {
            st = eml__diag(diag, EML_EIO, "rename %s -> %s: %s", from, to, strerror(errno));
            goto undo;
        }
        eml__repo_point(repo, "retire_renamed");
    }
    if (n_retired)
        EML_TRY(eml__fs_fsync_dir(d->dir, diag));
    EML_TRY(eml__manifest_write(repo, d->model, &n, diag));
    committed = 1;
    /* committed: a crash from here on is rolled forward when the repository opens */
    EML_TRY(eml__fs_rename(d->staging, d->final, diag));
    eml__repo_point(repo, "version_renamed");
    *previous = m.serving;
    d->res->retired_count = (uint32_t)n_retired;
    goto done;
fail:
    if (committed && m.n_kept) {
        /* the folder could not be put in place: take the commit back */
        if (eml__manifest_write(repo, d->model, &m, NULL) != EML_OK)
            goto done; /* the next open rolls forward; nothing better can be done now */
    } else if (committed) {
        snprintf(to, sizeof(to), "%s/current", d->dir);
        unlink(to);
        eml__fs_fsync_dir(d->dir, NULL);
    }
undo:
    while (n_moved-- > 0) {
        snprintf(from, sizeof(from), "%s/.del-%u", d->dir, (unsigned)retired[n_moved]);
        snprintf(to, sizeof(to), "%s/%u", d->dir, (unsigned)retired[n_moved]);
        rename(from, to);
    }
    n_retired = 0;
    eml__fs_fsync_dir(d->dir, NULL);
done:
    pthread_mutex_unlock(&repo->mu);
    if (st == EML_OK) {
        for (size_t i = 0; i < n_retired; i++) {
            snprintf(from, sizeof(from), "%s/.del-%u", d->dir, (unsigned)retired[i]);
            eml__fs_remove_tree(from); /* left over on failure: removed when next opened */
            eml__repo_point(repo, "retired_removed");
        }
    }
    return st;
}

eml_status eml_repo_deploy(eml_repo *repo, const char *model, const eml_repo_deploy_options *opts,
                           eml_repo_deploy_result *result, eml_diag *diag)
{
    eml_repo_deploy_result local_res;
    eml_diag local_diag;
    eml_diag_init(&local_diag);
    if (!diag)
        diag = &local_diag;
    eml_repo_deploy_result *res = result ? result : &local_res;
    memset(res, 0, sizeof(*res));
    snprintf(res->failed_step, sizeof(res->failed_step), "request");

    if (!repo || !opts)
        return eml__diag(diag, EML_EINVAL, "request: repository and options are required");
    if (!eml__repo_name_ok(model))
        return eml__diag(diag, EML_EINVAL,
                         "request: '%s' is not a model name (1-64 of A-Z a-z 0-9 . _ -, starting "
                         "with a letter or digit)",
                         model ? model : "(null)");
    eml_repo_deploy_options o;
    eml_repo_deploy_options_init(&o);
    if (opts->struct_size < offsetof(eml_repo_deploy_options, base_dir) + sizeof(char *) ||
        opts->struct_size > sizeof(o))
        return eml__diag(diag, EML_EINVAL, "request: bad struct_size %u",
                         (unsigned)opts->struct_size);
    memcpy(&o, opts, opts->struct_size);
    if (!o.model_bytes == !o.model_path)
        return eml__diag(diag, EML_EINVAL,
                         "request: give the model as bytes or as a file path (one of them)");
    char want_sha[65] = "";
    if (o.sha256_hex && !eml__sha256_hex_normalize(o.sha256_hex, want_sha))
        return eml__diag(diag, EML_EINVAL, "request: the SHA-256 is not 64 hex digits");
    uint8_t sig[64];
    if (o.signature_hex && !eml__hex_decode(o.signature_hex, sig, sizeof(sig)))
        return eml__diag(diag, EML_EINVAL, "request: the signature is not 128 hex digits");

    char base[PATH_MAX];
    const char *base_dir = o.base_dir;
    if (!base_dir && o.model_path) {
        snprintf(base, sizeof(base), "%s", o.model_path);
        char *slash = strrchr(base, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(base, sizeof(base), ".");
        base_dir = base;
    }
    eml__repo_config *cfg = NULL;
    eml_status st = eml__repo_config_parse(repo, o.config_json, base_dir, &cfg, diag);
    if (st != EML_OK) {
        char m[sizeof(diag->message)];
        snprintf(m, sizeof(m), "%s", diag->message);
        return eml__diag(diag, st, "request: %s", m);
    }
    st = eml__repo_job_begin(repo, model, diag);
    if (st != EML_OK) {
        eml__repo_config_destroy(cfg);
        char m[sizeof(diag->message)];
        snprintf(m, sizeof(m), "%s", diag->message);
        return eml__diag(diag, st, "request: %s", m);
    }

    deploy d;
    memset(&d, 0, sizeof(d));
    d.repo = repo;
    d.model = model;
    d.res = res;
    void *src = NULL, *stored = NULL;
    size_t n_src = 0, n_stored = 0;
    eml_graph *graph = NULL;
    eml_plan *plan = NULL;
    const char *step = "request";
    uint32_t previous = 0;
    if (eml__repo_join(d.dir, sizeof(d.dir), repo->root, model, NULL) != EML_OK) {
        st = eml__diag(diag, EML_ELIMIT, "repository path too long");
        goto fail;
    }
    EML_TRY(reserve_version(&d, diag));
    snprintf(d.staging, sizeof(d.staging), "%s/.tmp-%u", d.dir, (unsigned)d.version);
    snprintf(d.final, sizeof(d.final), "%s/%u", d.dir, (unsigned)d.version);
    res->version = d.version;

    step = "download";
    set_state(&d, EML_MODEL_DOWNLOADING);
    const void *bytes = o.model_bytes;
    size_t n_bytes = o.model_bytes_count;
    if (o.model_path) {
        EML_TRY(eml__fs_read_file(repo->env, o.model_path, eml_env_max_alloc_bytes(repo->env), &src,
                                  &n_src, diag));
        bytes = src;
        n_bytes = n_src;
    }
    res->model_bytes = n_bytes;
    EML_TRY(write_aside(&d, &o, cfg, bytes, n_bytes, diag));
    eml__free(repo->env, src);
    src = NULL;

    step = "verify";
    set_state(&d, EML_MODEL_VERIFYING);
    EML_TRY(verify(&d, &o, want_sha, &stored, &n_stored, diag));

    set_state(&d, EML_MODEL_COMPILING);
    char model_file[PATH_MAX];
    snprintf(model_file, sizeof(model_file), "%s/model.onnx", d.staging);
    if (repo->opts.map_weights) {
        /* the graph as loaded (before optimization) is written again with its weights apart,
         * and what serves is that copy, mapped: the health check runs exactly what will serve */
        step = "load";
        EML_TRY(eml_graph_load_onnx_bytes(repo->env, stored, n_stored, NULL, &graph, diag));
        eml__free(repo->env, stored);
        stored = NULL;
        step = "compile";
        st = eml__repo_weights_write(repo, graph, d.staging, diag);
        eml_graph_destroy(graph);
        graph = NULL;
        if (st == EML_OK)
            st = eml__repo_weights_load(repo, d.staging, &graph, diag);
        if (st == EML_OK)
            st = eml__repo_compile_graph(repo, &graph, model_file, &plan, &step, diag);
    } else {
        st = eml__repo_compile(repo, stored, n_stored, model_file, &graph, &plan, &step, diag);
    }
    if (st != EML_OK)
        goto fail;
    eml__free(repo->env, stored);
    stored = NULL;
    step = "load";
    EML_TRY(eml__repo_config_check_graph(cfg, graph, diag));

    set_state(&d, EML_MODEL_WARMING);
    st = eml__repo_health_check(repo, cfg, graph, plan, &res->latency_ms, &step, diag);
    if (st != EML_OK)
        goto fail;

    step = "switch";
    EML_TRY(switch_version(&d, &previous, diag));

    eml__repo_job_end(repo, model, NULL, NULL);
    eml__repo_config_destroy(cfg);
    res->failed_step[0] = '\0';
    if (repo->opts.on_state) {
        repo->opts.on_state(repo->opts.user, model, d.version, EML_MODEL_READY, NULL);
        if (previous)
            repo->opts.on_state(repo->opts.user, model, previous, EML_MODEL_RETIRED, NULL);
    }
    if (repo->opts.on_serving)
        repo->opts.on_serving(repo->opts.user, model, d.version, previous);
    if (repo->opts.on_compiled) {
        repo->opts.on_compiled(repo->opts.user, model, d.version, graph, plan);
    } else {
        eml_plan_destroy(plan);
        eml_graph_destroy(graph);
    }
    return EML_OK;

fail:
    snprintf(res->failed_step, sizeof(res->failed_step), "%s", step);
    {
        char m[sizeof(diag->message)];
        snprintf(m, sizeof(m), "%s", diag->message);
        eml__diag(diag, st, "%s: %s", step, m);
    }
    eml_plan_destroy(plan);
    eml_graph_destroy(graph);
    eml__free(repo->env, src);
    eml__free(repo->env, stored);
    eml__repo_config_destroy(cfg);
    if (d.version) {
        eml__fs_remove_tree(d.staging); /* frees the space a full disk needs back */
        eml__repo_point(repo, "failed_removed");
        rmdir(d.dir); /* a new model's folder, when nothing else is in it */
    }
    eml__repo_job_end(repo, model, step, diag->message);
    if (repo->opts.on_state && d.version)
        repo->opts.on_state(repo->opts.user, model, d.version, EML_MODEL_FAILED, diag);
    return st;
}
