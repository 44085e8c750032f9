/* The model repository: opening and recovering the folder, the `current` manifest of each model,
 * the records of deploys in progress. Deploy is repository_deploy.c; rollback and the queries are
 * repository_query.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve/repository.h"

#define MANIFEST_MAGIC "edgeml-repository 1"

const char *eml_model_state_name(eml_model_state state)
{
    switch (state) {
    case EML_MODEL_DOWNLOADING:
        return "downloading";
    case EML_MODEL_VERIFYING:
        return "verifying";
    case EML_MODEL_COMPILING:
        return "compiling";
    case EML_MODEL_WARMING:
        return "warming";
    case EML_MODEL_READY:
        return "ready";
    case EML_MODEL_FAILED:
        return "failed";
    case EML_MODEL_RETIRED:
        return "retired";
    case EML_MODEL_STATE_NONE:
        break;
    }
    return "none";
}

void eml_repo_options_init(eml_repo_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = sizeof(*opts);
    opts->keep_versions = 3;
    opts->optimize_level = 2;
    opts->latency_runs = 5;
    opts->map_weights = 1;
}

void eml__repo_set_probe(eml_repo *repo, eml__repo_probe_fn fn, void *user)
{
    repo->probe = fn;
    repo->probe_user = user;
}

static eml__repo_probe_fn global_probe;
static void *global_probe_user;

void eml__repo_set_global_probe(eml__repo_probe_fn fn, void *user)
{
    global_probe = fn;
    global_probe_user = user;
}

void eml__repo_point(eml_repo *repo, const char *point)
{
    if (repo->probe)
        repo->probe(repo->probe_user, point);
    else if (global_probe)
        global_probe(global_probe_user, point);
}

int eml__repo_name_ok(const char *name)
{
    if (!name)
        return 0;
    size_t n = strlen(name);
    if (n == 0 || n > EML_REPO_MAX_NAME)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-')))
            return 0;
    }
    return 1;
}

eml_status eml__repo_join(char *buf, size_t cap, const char *a, const char *b, const char *c)
{
    int n = c ? snprintf(buf, cap, "%s/%s/%s", a, b, c) : snprintf(buf, cap, "%s/%s", a, b);
    return n < 0 || (size_t)n >= cap ? EML_ELIMIT : EML_OK;
}

/* A folder name that is a version: decimal digits, no leading zero, fits in uint32. 0 if not. */
static uint32_t parse_version(const char *s)
{
    if (!s || s[0] < '1' || s[0] > '9')
        return 0;
    uint64_t v = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (uint64_t)(*p - '0');
        if (v > UINT32_MAX)
            return 0;
    }
    return (uint32_t)v;
}

/* ---- manifest ---- */

int eml__manifest_has(const eml__manifest *m, uint32_t version)
{
    for (size_t i = 0; i < m->n_kept; i++)
        if (m->kept[i] == version)
            return 1;
    return 0;
}

void eml__manifest_add(eml__manifest *m, uint32_t version)
{
    if (eml__manifest_has(m, version) || m->n_kept >= EML__REPO_MAX_KEPT)
        return;
    size_t i = m->n_kept++;
    while (i > 0 && m->kept[i - 1] > version) {
        m->kept[i] = m->kept[i - 1];
        i--;
    }
    m->kept[i] = version;
}

void eml__manifest_remove(eml__manifest *m, uint32_t version)
{
    size_t j = 0;
    for (size_t i = 0; i < m->n_kept; i++)
        if (m->kept[i] != version)
            m->kept[j++] = m->kept[i];
    m->n_kept = j;
    j = 0;
    for (size_t i = 0; i < m->n_previous; i++)
        if (m->previous[i] != version)
            m->previous[j++] = m->previous[i];
    m->n_previous = j;
    if (m->serving == version)
        m->serving = 0;
}

/* Parses "<key> v v v" lines; every version must be a valid one. */
static int parse_list(char *rest, uint32_t *out, size_t *n, size_t max)
{
    *n = 0;
    for (char *tok = strtok(rest, " "); tok; tok = strtok(NULL, " ")) {
        uint32_t v = parse_version(tok);
        if (!v || *n >= max)
            return 0;
        out[(*n)++] = v;
    }
    return 1;
}

static int manifest_parse(char *text, eml__manifest *m)
{
    memset(m, 0, sizeof(*m));
    char *save = NULL;
    char *line = strtok_r(text, "\n", &save);
    if (!line || strcmp(line, MANIFEST_MAGIC) != 0)
        return 0;
    int seen_serving = 0, seen_kept = 0;
    uint32_t kept[EML__REPO_MAX_KEPT];
    size_t n_kept = 0;
    while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
        if (!strncmp(line, "serving ", 8)) {
            m->serving = parse_version(line + 8);
            if (!m->serving)
                return 0;
            seen_serving = 1;
        } else if (!strncmp(line, "kept", 4) && (line[4] == ' ' || !line[4])) {
            if (!parse_list(line + 4, kept, &n_kept, EML__REPO_MAX_KEPT))
                return 0;
            seen_kept = 1;
        } else if (!strncmp(line, "previous", 8) && (line[8] == ' ' || !line[8])) {
            if (!parse_list(line + 8, m->previous, &m->n_previous, EML__REPO_MAX_KEPT))
                return 0;
        } else {
            return 0;
        }
    }
    if (!seen_serving || !seen_kept)
        return 0;
    for (size_t i = 0; i < n_kept; i++)
        eml__manifest_add(m, kept[i]);
    return eml__manifest_has(m, m->serving);
}

eml_status eml__manifest_read(eml_repo *repo, const char *model, eml__manifest *m, eml_diag *diag)
{
    char path[PATH_MAX];
    if (eml__repo_join(path, sizeof(path), repo->root, model, "current") != EML_OK)
        return eml__diag(diag, EML_ELIMIT, "path of model '%s' too long", model);
    void *data = NULL;
    size_t n = 0;
    eml_status st = eml__fs_read_file(repo->env, path, 1u << 16, &data, &n, diag);
    if (st != EML_OK)
        return st == EML_ENOTFOUND
                   ? eml__diag(diag, EML_ENOTFOUND, "model '%s' has no serving version", model)
                   : st;
    char *text = eml__alloc(repo->env, n + 1);
    if (!text) {
        eml__free(repo->env, data);
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    }
    memcpy(text, data, n);
    text[n] = '\0';
    eml__free(repo->env, data);
    int ok = strlen(text) == n && manifest_parse(text, m);
    eml__free(repo->env, text);
    if (!ok)
        return eml__diag(diag, EML_ECORRUPT, "%s cannot be parsed", path);
    return EML_OK;
}

eml_status eml__manifest_write(eml_repo *repo, const char *model, const eml__manifest *m,
                               eml_diag *diag)
{
    char text[64 + 2 * EML__REPO_MAX_KEPT * 12];
    size_t len = (size_t)snprintf(text, sizeof(text), "%s\nserving %u\nkept", MANIFEST_MAGIC,
                                  (unsigned)m->serving);
    for (size_t i = 0; i < m->n_kept; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, " %u", (unsigned)m->kept[i]);
    len += (size_t)snprintf(text + len, sizeof(text) - len, "\nprevious");
    for (size_t i = 0; i < m->n_previous; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, " %u", (unsigned)m->previous[i]);
    len += (size_t)snprintf(text + len, sizeof(text) - len, "\n");

    char tmp[PATH_MAX], path[PATH_MAX];
    if (eml__repo_join(tmp, sizeof(tmp), repo->root, model, "current.tmp") != EML_OK ||
        eml__repo_join(path, sizeof(path), repo->root, model, "current") != EML_OK)
        return eml__diag(diag, EML_ELIMIT, "path of model '%s' too long", model);
    unlink(tmp);
    eml_status st = eml__fs_write_file(tmp, text, len, diag);
    eml__repo_point(repo, "manifest_written");
    if (st == EML_OK) {
        st = eml__fs_rename(tmp, path, diag);
        eml__repo_point(repo, "manifest_renamed");
    }
    if (st != EML_OK)
        unlink(tmp);
    return st;
}

/* ---- jobs ---- */

eml__repo_job *eml__repo_job_find(eml_repo *repo, const char *model)
{
    for (size_t i = 0; i < repo->n_jobs; i++)
        if (!strcmp(repo->jobs[i].model, model))
            return &repo->jobs[i];
    return NULL;
}

eml_status eml__repo_job_begin(eml_repo *repo, const char *model, eml_diag *diag)
{
    eml_status st = EML_OK;
    pthread_mutex_lock(&repo->mu);
    eml__repo_job *j = eml__repo_job_find(repo, model);
    if (j && j->active) {
        st = eml__diag(diag, EML_ELIMIT, "a deploy of model '%s' (version %u) is in progress",
                       model, (unsigned)j->version);
    } else if (!j && repo->n_jobs >= 256) {
        /* bounded: requests naming ever new models must not grow this without end; the
         * oldest finished record gives way */
        for (size_t i = 0; i < repo->n_jobs && !j; i++)
            if (!repo->jobs[i].active)
                j = &repo->jobs[i];
        if (!j)
            st = eml__diag(diag, EML_ELIMIT, "too many deploys in progress");
        else
            memset(j, 0, sizeof(*j));
    } else if (!j) {
        st = eml__grow(repo->env, (void **)&repo->jobs, &repo->cap_jobs, repo->n_jobs + 1,
                       sizeof(*repo->jobs));
        if (st == EML_OK) {
            j = &repo->jobs[repo->n_jobs++];
            memset(j, 0, sizeof(*j));
            snprintf(j->model, sizeof(j->model), "%s", model);
        } else {
            eml__diag(diag, st, "out of memory");
        }
    }
    if (st == EML_OK) {
        uint32_t keep_version = j->version; /* numbers given to failed deploys are not reused */
        memset(j, 0, sizeof(*j));
        snprintf(j->model, sizeof(j->model), "%s", model);
        j->version = keep_version;
        j->active = 1;
        j->state = EML_MODEL_STATE_NONE;
    }
    pthread_mutex_unlock(&repo->mu);
    return st;
}

void eml__repo_job_update(eml_repo *repo, const char *model, uint32_t version,
                          eml_model_state state, uint64_t model_bytes, const char *sha256)
{
    pthread_mutex_lock(&repo->mu);
    eml__repo_job *j = eml__repo_job_find(repo, model);
    if (j) {
        j->version = version;
        j->state = state;
        j->model_bytes = model_bytes;
        snprintf(j->sha256, sizeof(j->sha256), "%s", sha256 ? sha256 : "");
    }
    pthread_mutex_unlock(&repo->mu);
}

void eml__repo_job_end(eml_repo *repo, const char *model, const char *failed_step,
                       const char *message)
{
    pthread_mutex_lock(&repo->mu);
    eml__repo_job *j = eml__repo_job_find(repo, model);
    if (j) {
        j->active = 0;
        if (failed_step) {
            j->state = EML_MODEL_FAILED;
            snprintf(j->failed_step, sizeof(j->failed_step), "%s", failed_step);
            snprintf(j->message, sizeof(j->message), "%s", message ? message : "");
        } else {
            j->state = EML_MODEL_STATE_NONE; /* the disk says the rest */
        }
    }
    pthread_mutex_unlock(&repo->mu);
}

uint32_t eml__repo_job_max_version(eml_repo *repo, const char *model)
{
    pthread_mutex_lock(&repo->mu);
    eml__repo_job *j = eml__repo_job_find(repo, model);
    uint32_t v = j ? j->version : 0;
    pthread_mutex_unlock(&repo->mu);
    return v;
}

/* ---- opening and recovery ---- */

/* Brings one model folder back to its manifest: staging folders of a committed deploy (or of a
 * retirement not committed) are renamed into place, every other leftover is removed, and
 * versions the manifest lists but the disk lacks are dropped from it. Nothing committed is
 * removed; a model whose manifest cannot be read is not touched at all. */
static void recover_model(eml_repo *repo, const char *model)
{
    char dir[PATH_MAX - 512], path[PATH_MAX], target[PATH_MAX];
    if (eml__repo_join(dir, sizeof(dir), repo->root, model, NULL) != EML_OK)
        return;
    eml__manifest m;
    eml_status st = eml__manifest_read(repo, model, &m, NULL);
    if (st == EML_ECORRUPT || (st != EML_OK && st != EML_ENOTFOUND))
        return;
    int have = st == EML_OK;
    if (!have)
        memset(&m, 0, sizeof(m));

    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    int changed = 0;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        uint32_t v = 0;
        if (!strncmp(name, ".tmp-", 5))
            v = parse_version(name + 5);
        else if (!strncmp(name, ".del-", 5))
            v = parse_version(name + 5);
        else if (strcmp(name, "current.tmp") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, name);
        snprintf(target, sizeof(target), "%s/%u", dir, (unsigned)v);
        struct stat sb;
        if (v && eml__manifest_has(&m, v) && stat(target, &sb) != 0) {
            /* committed but not yet renamed into place (deploy), or renamed away but the
             * retirement was never committed: either way the manifest says it is kept */
            if (eml__fs_rename(path, target, NULL) == EML_OK)
                changed = 1;
            eml__repo_point(repo, "recover_renamed");
        } else {
            eml__fs_remove_tree(path);
            eml__repo_point(repo, "recover_removed");
        }
        repo->recovered++;
    }
    closedir(d);
    if (changed)
        eml__fs_fsync_dir(dir, NULL);

    if (have) {
        eml__manifest fixed = m;
        for (size_t i = 0; i < m.n_kept; i++) {
            snprintf(target, sizeof(target), "%s/%u/model.onnx", dir, (unsigned)m.kept[i]);
            struct stat sb;
            if (stat(target, &sb) != 0)
                eml__manifest_remove(&fixed, m.kept[i]);
        }
        if (fixed.n_kept != m.n_kept) {
            if (!fixed.serving && fixed.n_kept) {
                /* the serving version vanished (not by this library): serve the one before */
                fixed.serving = fixed.n_previous ? fixed.previous[0] : fixed.kept[fixed.n_kept - 1];
                size_t j = 0;
                for (size_t i = 0; i < fixed.n_previous; i++)
                    if (fixed.previous[i] != fixed.serving)
                        fixed.previous[j++] = fixed.previous[i];
                fixed.n_previous = j;
            }
            if (fixed.n_kept)
                eml__manifest_write(repo, model, &fixed, NULL);
            else if (eml__repo_join(path, sizeof(path), repo->root, model, "current") == EML_OK)
                unlink(path);
            repo->recovered++;
        }
    } else {
        rmdir(dir); /* a first deploy that never committed; fails harmlessly when not empty */
    }
}

eml_status eml_repo_create(eml_env *env, const char *path, const eml_repo_options *opts,
                           eml_repo **out, eml_diag *diag)
{
    eml_status st = EML_OK;
    eml_repo *repo = NULL;
    if (!out)
        return eml__diag(diag, EML_EINVAL, "eml_repo_create: out is NULL");
    *out = NULL;
    if (!env || !path || !*path)
        return eml__diag(diag, EML_EINVAL, "eml_repo_create: env and path are required");
    eml_repo_options o;
    eml_repo_options_init(&o);
    if (opts) {
        if (opts->struct_size < offsetof(eml_repo_options, on_compiled) + sizeof(void *) ||
            opts->struct_size > sizeof(o))
            return eml__diag(diag, EML_EINVAL, "eml_repo_options: bad struct_size %u",
                             (unsigned)opts->struct_size);
        memcpy(&o, opts, opts->struct_size);
    }
    if (o.keep_versions == 0)
        o.keep_versions = 3;
    if (o.latency_runs == 0)
        o.latency_runs = 5;
    if (o.keep_versions > EML__REPO_MAX_KEPT)
        return eml__diag(diag, EML_EINVAL, "keep_versions %u is more than %d",
                         (unsigned)o.keep_versions, EML__REPO_MAX_KEPT);
    if (o.optimize_level < 0 || o.optimize_level > 2)
        return eml__diag(diag, EML_EINVAL, "optimize_level %d is not 0, 1 or 2", o.optimize_level);
    if (o.max_latency_ms < 0)
        return eml__diag(diag, EML_EINVAL, "max_latency_ms is negative");
    uint8_t key[32];
    int has_key = 0;
    if (o.trusted_key_hex) {
        if (!eml__hex_decode(o.trusted_key_hex, key, sizeof(key)))
            return eml__diag(diag, EML_EINVAL,
                             "the trusted key is not an Ed25519 public key in 64 hex digits");
        has_key = 1;
    }
    o.trusted_key_hex = NULL;

    repo = eml__calloc(env, 1, sizeof(*repo));
    if (!repo)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    repo->env = env;
    repo->lock_fd = -1;
    repo->opts = o;
    memcpy(repo->key, key, sizeof(key));
    repo->has_key = has_key;
    pthread_mutex_init(&repo->mu, NULL);
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (len > 3000) {
        st = eml__diag(diag, EML_ELIMIT, "repository path is longer than 3000 bytes");
        goto fail;
    }
    repo->root = eml__strndup(env, path, len);
    if (!repo->root) {
        st = eml__diag(diag, EML_ENOMEM, "out of memory");
        goto fail;
    }
    if (mkdir(repo->root, 0755) != 0 && errno != EEXIST) {
        st = eml__diag(diag, EML_EIO, "cannot create repository folder %s: %s", repo->root,
                       strerror(errno));
        goto fail;
    }
    char lock_path[PATH_MAX];
    if (eml__repo_join(lock_path, sizeof(lock_path), repo->root, ".lock", NULL) != EML_OK) {
        st = eml__diag(diag, EML_ELIMIT, "repository path too long");
        goto fail;
    }
    repo->lock_fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (repo->lock_fd < 0) {
        st = eml__diag(diag, EML_EIO, "cannot open %s: %s", lock_path, strerror(errno));
        goto fail;
    }
    if (flock(repo->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        st = eml__diag(diag, errno == EWOULDBLOCK ? EML_ELIMIT : EML_EIO,
                       "repository %s is in use by another process (%s)", repo->root,
                       strerror(errno));
        goto fail;
    }

    DIR *d = opendir(repo->root);
    if (!d) {
        st = eml__diag(diag, EML_EIO, "cannot read repository folder %s: %s", repo->root,
                       strerror(errno));
        goto fail;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        char p[PATH_MAX];
        if (!eml__repo_name_ok(e->d_name) ||
            eml__repo_join(p, sizeof(p), repo->root, e->d_name, NULL) != EML_OK ||
            stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        recover_model(repo, e->d_name);
    }
    closedir(d);
    *out = repo;
    return EML_OK;
fail:
    eml_repo_destroy(repo);
    return st;
}

void eml_repo_destroy(eml_repo *repo)
{
    if (!repo)
        return;
    if (repo->lock_fd >= 0)
        close(repo->lock_fd); /* releases the flock */
    pthread_mutex_destroy(&repo->mu);
    eml__free(repo->env, repo->jobs);
    eml__free(repo->env, repo->root);
    eml__free(repo->env, repo);
}

size_t eml_repo_recovered_count(const eml_repo *repo)
{
    return repo ? repo->recovered : 0;
}
