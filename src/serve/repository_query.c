/* The model repository's rollback and queries: serving version, paths, loading, listing. */
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "serve/repository.h"

/* ---- queries ---- */

static eml_status check_model(const eml_repo *repo, const char *model, eml_diag *diag)
{
    if (!repo)
        return eml__diag(diag, EML_EINVAL, "repository is NULL");
    if (!eml__repo_name_ok(model))
        return eml__diag(diag, EML_EINVAL,
                         "'%s' is not a model name (1-64 of A-Z a-z 0-9 . _ -, starting with a "
                         "letter or digit)",
                         model ? model : "(null)");
    return EML_OK;
}

/* The kept version to use for `version` (0: serving). Takes the lock. */
static eml_status resolve(eml_repo *repo, const char *model, uint32_t version, uint32_t *out,
                          eml_diag *diag)
{
    eml_status st = check_model(repo, model, diag);
    if (st != EML_OK)
        return st;
    eml__manifest m;
    pthread_mutex_lock(&repo->mu);
    st = eml__manifest_read(repo, model, &m, diag);
    pthread_mutex_unlock(&repo->mu);
    if (st != EML_OK)
        return st == EML_ENOTFOUND
                   ? eml__diag(diag, EML_ENOTFOUND, "model '%s' is not deployed", model)
                   : st;
    if (version == 0)
        version = m.serving;
    if (!eml__manifest_has(&m, version))
        return eml__diag(diag, EML_ENOTFOUND, "model '%s' has no version %u (kept: %zu versions)",
                         model, (unsigned)version, m.n_kept);
    *out = version;
    return EML_OK;
}

eml_status eml_repo_current(eml_repo *repo, const char *model, uint32_t *version)
{
    uint32_t v = 0;
    eml_status st = resolve(repo, model, 0, &v, NULL);
    if (version)
        *version = st == EML_OK ? v : 0;
    return st;
}

static const char *file_name(eml_repo_file which)
{
    switch (which) {
    case EML_REPO_FILE_DIR:
        return NULL;
    case EML_REPO_FILE_MODEL:
        return "model.onnx";
    case EML_REPO_FILE_CONFIG:
        return "config.json";
    case EML_REPO_FILE_SHA256:
        return "model.sha256";
    case EML_REPO_FILE_SIGNATURE:
        return "model.sig";
    }
    return "";
}

eml_status eml_repo_path(eml_repo *repo, const char *model, uint32_t version, eml_repo_file which,
                         char *buf, size_t cap, uint32_t *version_out)
{
    uint32_t v = 0;
    const char *leaf = file_name(which);
    if (leaf && !*leaf)
        return EML_EINVAL;
    if (!buf || cap == 0)
        return EML_EINVAL;
    buf[0] = '\0';
    eml_status st = resolve(repo, model, version, &v, NULL);
    if (st != EML_OK)
        return st;
    int n = leaf ? snprintf(buf, cap, "%s/%s/%u/%s", repo->root, model, (unsigned)v, leaf)
                 : snprintf(buf, cap, "%s/%s/%u", repo->root, model, (unsigned)v);
    if (n < 0 || (size_t)n >= cap) {
        buf[0] = '\0';
        return EML_ELIMIT;
    }
    if (version_out)
        *version_out = v;
    return EML_OK;
}

eml_status eml_repo_load(eml_repo *repo, const char *model, uint32_t version, eml_graph **graph,
                         eml_plan **plan, uint32_t *version_out, eml_diag *diag)
{
    if (!graph || !plan)
        return eml__diag(diag, EML_EINVAL, "eml_repo_load: graph and plan are required");
    *graph = NULL;
    *plan = NULL;
    uint32_t v = 0;
    eml_status st = resolve(repo, model, version, &v, diag);
    if (st != EML_OK)
        return st;
    char path[PATH_MAX], sha_path[PATH_MAX];
    const char *step = NULL;
    snprintf(path, sizeof(path), "%s/%s/%u", repo->root, model, (unsigned)v);
    if (repo->opts.map_weights) {
        st = eml__repo_weights_load(repo, path, graph, diag);
        if (st == EML_OK)
            st = eml__repo_compile_graph(repo, graph, path, plan, &step, diag);
        if (st == EML_OK && version_out)
            *version_out = v;
        if (st != EML_ENOTFOUND)
            return st;
    }
    snprintf(path, sizeof(path), "%s/%s/%u/model.onnx", repo->root, model, (unsigned)v);
    snprintf(sha_path, sizeof(sha_path), "%s/%s/%u/model.sha256", repo->root, model, (unsigned)v);
    void *bytes = NULL, *sha_text = NULL;
    size_t n = 0, n_sha = 0;
    st = eml__fs_read_file(repo->env, path, eml_env_max_alloc_bytes(repo->env), &bytes, &n, diag);
    if (st == EML_OK)
        st = eml__fs_read_file(repo->env, sha_path, 256, &sha_text, &n_sha, diag);
    if (st == EML_OK) {
        char want[65] = "", got[65];
        char line[80];
        snprintf(line, sizeof(line), "%.*s", (int)EML_MIN(n_sha, sizeof(line) - 1),
                 (const char *)sha_text);
        line[strcspn(line, " \n")] = '\0';
        eml__sha256_hex(bytes, n, got);
        if (!eml__sha256_hex_normalize(line, want) || strcmp(want, got) != 0)
            st = eml__diag(diag, EML_ECORRUPT,
                           "%s: SHA-256 %s differs from the recorded %s (the file changed on "
                           "disk)",
                           path, got, line);
    }
    if (st == EML_OK)
        st = eml__repo_compile(repo, bytes, n, path, graph, plan, &step, diag);
    eml__free(repo->env, bytes);
    eml__free(repo->env, sha_text);
    if (st == EML_OK && version_out)
        *version_out = v;
    return st;
}

/* ---- rollback ---- */

eml_status eml_repo_rollback(eml_repo *repo, const char *model, uint32_t version, uint32_t *serving,
                             eml_diag *diag)
{
    eml_status st = check_model(repo, model, diag);
    if (st != EML_OK)
        return st;
    eml__manifest m;
    uint32_t from = 0, to = 0;
    pthread_mutex_lock(&repo->mu);
    st = eml__manifest_read(repo, model, &m, diag);
    if (st == EML_ENOTFOUND)
        st = eml__diag(diag, EML_ENOTFOUND, "model '%s' is not deployed", model);
    if (st != EML_OK)
        goto done;
    from = m.serving;
    if (version) {
        if (!eml__manifest_has(&m, version)) {
            st = eml__diag(diag, EML_ENOTFOUND, "model '%s' has no version %u to roll back to",
                           model, (unsigned)version);
            goto done;
        }
        to = version;
    } else {
        for (size_t i = 0; i < m.n_previous && !to; i++)
            if (m.previous[i] != from && eml__manifest_has(&m, m.previous[i]))
                to = m.previous[i];
        for (size_t i = m.n_kept; i-- > 0 && !to;)
            if (m.kept[i] < from)
                to = m.kept[i];
        if (!to) {
            st = eml__diag(diag, EML_ENOTFOUND,
                           "model '%s' has no earlier version to roll back to (serving %u)", model,
                           (unsigned)from);
            goto done;
        }
    }
    if (to != from) {
        eml__manifest n = m;
        n.serving = to;
        if (version) {
            /* a named target: the version left becomes the first to roll back to */
            size_t k = 0;
            n.previous[k++] = from;
            for (size_t i = 0; i < m.n_previous && k < EML__REPO_MAX_KEPT; i++)
                if (m.previous[i] != to && m.previous[i] != from)
                    n.previous[k++] = m.previous[i];
            n.n_previous = k;
        } else {
            /* undo: drop the history down to and including the target */
            size_t k = 0, i = 0;
            while (i < m.n_previous && m.previous[i] != to)
                i++;
            for (i = i + 1; i < m.n_previous; i++)
                n.previous[k++] = m.previous[i];
            n.n_previous = k;
        }
        st = eml__manifest_write(repo, model, &n, diag);
    }
done:
    pthread_mutex_unlock(&repo->mu);
    if (st == EML_OK) {
        if (serving)
            *serving = to;
        if (to != from) {
            if (repo->opts.on_state) {
                repo->opts.on_state(repo->opts.user, model, from, EML_MODEL_RETIRED, NULL);
                repo->opts.on_state(repo->opts.user, model, to, EML_MODEL_READY, NULL);
            }
            if (repo->opts.on_serving)
                repo->opts.on_serving(repo->opts.user, model, to, from);
        }
    }
    return st;
}

/* ---- listing ---- */

typedef struct list_buf {
    eml_env *env;
    eml_repo_version_info *items;
    size_t n, cap;
} list_buf;

static eml_repo_version_info *list_push(list_buf *b)
{
    if (eml__grow(b->env, (void **)&b->items, &b->cap, b->n + 1, sizeof(*b->items)) != EML_OK)
        return NULL;
    eml_repo_version_info *it = &b->items[b->n++];
    memset(it, 0, sizeof(*it));
    return it;
}

static eml_status list_model(eml_repo *repo, const char *model, list_buf *b)
{
    eml__manifest m;
    eml_diag d;
    eml_diag_init(&d);
    eml_status st = eml__manifest_read(repo, model, &m, &d);
    if (st == EML_ECORRUPT) {
        eml_repo_version_info *it = list_push(b);
        if (!it)
            return EML_ENOMEM;
        snprintf(it->model, sizeof(it->model), "%s", model);
        it->state = EML_MODEL_FAILED;
        snprintf(it->failed_step, sizeof(it->failed_step), "open");
        snprintf(it->message, sizeof(it->message), "%s", d.message);
    }
    for (size_t i = 0; st == EML_OK && i < m.n_kept; i++) {
        eml_repo_version_info *it = list_push(b);
        if (!it)
            return EML_ENOMEM;
        uint32_t v = m.kept[i];
        snprintf(it->model, sizeof(it->model), "%s", model);
        it->version = v;
        it->serving = v == m.serving;
        it->state = it->serving ? EML_MODEL_READY : EML_MODEL_RETIRED;
        char p[PATH_MAX];
        struct stat sb;
        snprintf(p, sizeof(p), "%s/%s/%u/model.onnx", repo->root, model, (unsigned)v);
        if (stat(p, &sb) == 0)
            it->model_bytes = (uint64_t)sb.st_size;
        snprintf(p, sizeof(p), "%s/%s/%u/model.sha256", repo->root, model, (unsigned)v);
        FILE *f = fopen(p, "r");
        if (f) {
            char line[80] = "";
            if (fgets(line, sizeof(line), f))
                line[strcspn(line, " \n")] = '\0';
            fclose(f);
            eml__sha256_hex_normalize(line, it->sha256);
        }
        snprintf(p, sizeof(p), "%s/%s/%u", repo->root, model, (unsigned)v);
        if (stat(p, &sb) == 0)
            it->deployed_unix = (int64_t)sb.st_mtime;
    }
    eml__repo_job *j = eml__repo_job_find(repo, model);
    if (j && (j->active || j->state == EML_MODEL_FAILED) && j->state != EML_MODEL_STATE_NONE) {
        eml_repo_version_info *it = list_push(b);
        if (!it)
            return EML_ENOMEM;
        snprintf(it->model, sizeof(it->model), "%s", model);
        it->version = j->version;
        it->state = j->state;
        it->model_bytes = j->model_bytes;
        snprintf(it->sha256, sizeof(it->sha256), "%s", j->sha256);
        snprintf(it->failed_step, sizeof(it->failed_step), "%s", j->failed_step);
        snprintf(it->message, sizeof(it->message), "%s", j->message);
    }
    return EML_OK;
}

static int cmp_info(const void *a, const void *b)
{
    const eml_repo_version_info *x = a, *y = b;
    int c = strcmp(x->model, y->model);
    if (c)
        return c;
    return x->version < y->version ? -1 : x->version > y->version;
}

eml_status eml_repo_list(eml_repo *repo, const char *model, eml_repo_version_info **out,
                         size_t *count)
{
    if (!out || !count)
        return EML_EINVAL;
    *out = NULL;
    *count = 0;
    if (!repo || (model && !eml__repo_name_ok(model)))
        return EML_EINVAL;
    list_buf b = {repo->env, NULL, 0, 0};
    eml_status st = EML_OK;
    pthread_mutex_lock(&repo->mu);
    if (model) {
        st = list_model(repo, model, &b);
    } else {
        /* models on disk, and models whose first deploy is running or failed */
        DIR *d = opendir(repo->root);
        struct dirent *e;
        while (d && st == EML_OK && (e = readdir(d)) != NULL) {
            char p[PATH_MAX];
            struct stat sb;
            if (!eml__repo_name_ok(e->d_name) ||
                eml__repo_join(p, sizeof(p), repo->root, e->d_name, "current") != EML_OK ||
                lstat(p, &sb) != 0)
                continue;
            st = list_model(repo, e->d_name, &b);
        }
        if (d)
            closedir(d);
        for (size_t i = 0; st == EML_OK && i < repo->n_jobs; i++) {
            const char *name = repo->jobs[i].model;
            int listed = 0;
            for (size_t k = 0; k < b.n && !listed; k++)
                listed = !strcmp(b.items[k].model, name);
            if (!listed)
                st = list_model(repo, name, &b);
        }
    }
    pthread_mutex_unlock(&repo->mu);
    if (st != EML_OK) {
        eml__free(repo->env, b.items);
        return st;
    }
    if (b.n)
        qsort(b.items, b.n, sizeof(*b.items), cmp_info);
    *out = b.items;
    *count = b.n;
    return EML_OK;
}

void eml_repo_list_free(eml_repo *repo, eml_repo_version_info *infos)
{
    if (repo)
        eml__free(repo->env, infos);
}
