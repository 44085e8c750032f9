/* Accuracy evaluation on a node through its agent's model.eval: the data and labels go to the
 * site's artifact store as content-addressed .npy files, the node downloads them by URL, checks
 * their SHA-256 and runs eml_eval_classifier on the version it serves. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "core/core.h"
#include "edgeml/io.h"
#include "manager/transport.h"
#include "serve/repository.h"

/* A large data set takes a while on a small node; a node that goes offline meanwhile is noticed
 * by the transport (heartbeats) long before this. */
#define EVAL_TIMEOUT_MS (15u * 60u * 1000u)

/* Reads a whole file into malloc'd memory. */
static eml_status read_all(const char *path, uint8_t **out, size_t *n_out, eml_diag *diag)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return eml__diag(diag, EML_EIO, "cannot read %s: %s", path, strerror(errno));
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    uint8_t *buf = size >= 0 && fseek(f, 0, SEEK_SET) == 0 ? malloc((size_t)size + 1) : NULL;
    size_t got = buf ? fread(buf, 1, (size_t)size, f) : 0;
    fclose(f);
    if (!buf || got != (size_t)size) {
        free(buf);
        return eml__diag(diag, size < 0 ? EML_EIO : EML_ENOMEM, "cannot read %s", path);
    }
    *out = buf;
    *n_out = got;
    return EML_OK;
}

/* Writes t as <site_dir>/artifacts/<sha256>.npy (written aside and renamed, so a half file never
 * has a hash's name) unless that file is there already. path: the artifact's path. */
static eml_status store_npy(const char *site_dir, const eml_tensor *t, const char *what,
                            char sha256[65], char *path, size_t cap, eml_diag *diag)
{
    char dir[2200], tmp[2300];
    snprintf(dir, sizeof(dir), "%s/artifacts", site_dir);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return eml__diag(diag, EML_EIO, "cannot create %s: %s", dir, strerror(errno));
    snprintf(tmp, sizeof(tmp), "%s/.eval-%ld-%s.npy.tmp", dir, (long)getpid(), what);
    eml_status st = eml_tensor_write_npy(t, tmp, diag);
    uint8_t *bytes = NULL;
    size_t n = 0;
    if (st == EML_OK)
        st = read_all(tmp, &bytes, &n, diag);
    if (st == EML_OK) {
        eml__sha256_hex(bytes, n, sha256);
        free(bytes);
        if ((size_t)snprintf(path, cap, "%s/%s.npy", dir, sha256) >= cap)
            st = eml__diag(diag, EML_ELIMIT, "site folder path too long");
    }
    struct stat sb;
    if (st == EML_OK && stat(path, &sb) == 0 && (uint64_t)sb.st_size == n) {
        remove(tmp); /* the same content is there: content-addressed */
        return EML_OK;
    }
    if (st == EML_OK)
        st = eml__fs_rename(tmp, path, diag);
    if (st != EML_OK)
        remove(tmp);
    return st;
}

static double num(const cJSON *o, const char *key, int *has)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (has)
        *has = cJSON_IsNumber(v);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

eml_status eml__node_eval_remote(eml__node *node, const char *site_dir, const char *model,
                                 const eml_tensor *data, const eml_tensor *labels,
                                 uint32_t *node_version, eml_eval_result *result, eml_diag *diag)
{
    memset(result, 0, sizeof(*result));
    *node_version = 0;
    if (!data || !data->data || !labels || !labels->data)
        return eml__diag(diag, EML_EINVAL, "evaluate: no data or no labels given");
    char data_sha[65], labels_sha[65], data_path[2400], labels_path[2400];
    char data_url[2600], labels_url[2600];
    eml_status st = EML_OK;
    EML_TRY(store_npy(site_dir, data, "data", data_sha, data_path, sizeof(data_path), diag));
    EML_TRY(
        store_npy(site_dir, labels, "labels", labels_sha, labels_path, sizeof(labels_path), diag));
    const eml__transport *tr = node->transport;
    EML_TRY(tr->artifact_url(node, data_path, data_sha, data_url, sizeof(data_url), diag));
    EML_TRY(tr->artifact_url(node, labels_path, labels_sha, labels_url, sizeof(labels_url), diag));

    cJSON *cmd = cJSON_CreateObject();
    cJSON_AddStringToObject(cmd, "op", "model.eval");
    cJSON_AddStringToObject(cmd, "model", model);
    cJSON_AddStringToObject(cmd, "data_url", data_url);
    cJSON_AddStringToObject(cmd, "data_sha256", data_sha);
    cJSON_AddStringToObject(cmd, "labels_url", labels_url);
    cJSON_AddStringToObject(cmd, "labels_sha256", labels_sha);
    char *text = cJSON_PrintUnformatted(cmd);
    cJSON_Delete(cmd);
    if (!text)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    char *rtext = NULL;
    int code = 0;
    st = tr->command(node, text, EVAL_TIMEOUT_MS, &rtext, &code, NULL, diag);
    free(text);
    if (st != EML_OK)
        return st;
    char what[EML_MANAGER_MAX_ID + 16];
    snprintf(what, sizeof(what), "node '%s': ", node->id);
    st = eml__node_reply_status(rtext, code, what, diag);
    cJSON *reply = st == EML_OK ? cJSON_Parse(rtext) : NULL;
    free(rtext);
    if (st == EML_ENOTFOUND)
        return eml__diag(diag, st, "node '%s' does not serve model '%s' (deploy it there first)",
                         node->id, model);
    if (st == EML_EINVAL && strstr(diag ? diag->message : "", "unknown op"))
        return eml__diag(diag, EML_EUNSUPPORTED,
                         "node '%s' has no evaluation op (model.eval): an older edgemld",
                         node->id);
    if (st != EML_OK)
        return st;
    if (!reply)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    int has_count, has_pct, has_top5;
    result->count = (uint64_t)num(reply, "count", &has_count);
    result->top1 = (uint64_t)num(reply, "top1", NULL);
    result->top1_pct = num(reply, "top1_pct", &has_pct);
    result->top5 = (uint64_t)num(reply, "top5", NULL);
    result->top5_pct = num(reply, "top5_pct", &has_top5);
    if (!has_top5)
        result->top5_pct = -1;
    result->n_classes = (uint32_t)num(reply, "n_classes", NULL);
    *node_version = (uint32_t)num(reply, "version", NULL);
    cJSON_Delete(reply);
    if (!has_count || !has_pct || result->count == 0 || !*node_version)
        return eml__diag(diag, EML_EIO, "node '%s': the evaluation reply has no figures",
                         node->id);
    return EML_OK;
fail:
    return st;
}
