/* The site's Ed25519 key (<site>/site.key, <site>/site.pub) and the signed deploy command: every
 * artifact the manager deploys is signed with it, and small ones are pushed inline to MQTT
 * nodes instead of being fetched from the artifact server. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "core/core.h"
#include "manager/manager.h"
#include "serve/repository.h"

/* The longest key file read: a key and some whitespace. Anything longer is not a key file. */
#define KEY_FILE_MAX 1024

/* Reads a small file whole. EML_ENOTFOUND when it does not exist (no diag), else EML_EIO,
 * EML_ECORRUPT (longer than a key file). */
static eml_status read_small(const char *path, char *buf, size_t cap, eml_diag *diag)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT
                   ? EML_ENOTFOUND
                   : eml__diag(diag, EML_EIO, "cannot read %s: %s", path, strerror(errno));
    size_t n = 0;
    eml_status st = EML_OK;
    for (;;) {
        ssize_t got = read(fd, buf + n, cap - 1 - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            st = eml__diag(diag, EML_EIO, "cannot read %s: %s", path, strerror(errno));
            break;
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n == cap - 1) {
            st = eml__diag(diag, EML_ECORRUPT,
                           "%s: not a key file (longer than %d bytes; left untouched)", path,
                           KEY_FILE_MAX);
            break;
        }
    }
    close(fd);
    buf[n] = 0;
    /* trailing whitespace (the newline the file is written with, an editor's) is not the key */
    while (n > 0 &&
           (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' || buf[n - 1] == '\t'))
        buf[--n] = 0;
    return st;
}

/* Writes text to path through path.tmp.<pid> (created 0600 or 0644, fsynced), then links it
 * into place. A link, not a rename: when another process created the file meanwhile, its file
 * wins (*raced = 1) and nothing is overwritten. */
static eml_status write_new(const char *dir, const char *path, const char *text, mode_t mode,
                            int *raced, eml_diag *diag)
{
    *raced = 0;
    char tmp[2300];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    unlink(tmp); /* a leftover of a crashed process of this pid */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return eml__diag(diag, EML_EIO, "cannot create %s: %s", tmp, strerror(errno));
    eml_status st = EML_OK;
    size_t n = strlen(text), done = 0;
    /* the umask may only remove bits; fchmod makes the mode exact */
    if (fchmod(fd, mode) != 0)
        st = eml__diag(diag, EML_EIO, "cannot chmod %s: %s", tmp, strerror(errno));
    while (st == EML_OK && done < n) {
        ssize_t w = write(fd, text + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            st = eml__diag(diag, EML_EIO, "cannot write %s: %s", tmp, strerror(errno));
        else
            done += (size_t)w;
    }
    if (st == EML_OK && fsync(fd) != 0)
        st = eml__diag(diag, EML_EIO, "cannot fsync %s: %s", tmp, strerror(errno));
    if (close(fd) != 0 && st == EML_OK)
        st = eml__diag(diag, EML_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (st == EML_OK && link(tmp, path) != 0) {
        if (errno == EEXIST)
            *raced = 1;
        else if (rename(tmp, path) != 0) /* a file system without hard links */
            st = eml__diag(diag, EML_EIO, "cannot create %s: %s", path, strerror(errno));
    }
    unlink(tmp);
    if (st == EML_OK && !*raced)
        st = eml__fs_fsync_dir(dir, diag);
    return st;
}

/* Parses site.key: 128 hex digits, a libsodium Ed25519 secret key (seed then public key) whose
 * public half is the one its seed makes. */
static eml_status parse_secret(const char *path, const char *text, uint8_t sk[64], eml_diag *diag)
{
    if (strlen(text) != 128 || !eml__hex_decode(text, sk, 64))
        return eml__diag(diag, EML_ECORRUPT,
                         "%s: not an Ed25519 secret key (expected 128 hex digits; the file is "
                         "left untouched: restore it, or remove it to give the site a new key)",
                         path);
    uint8_t pk[32], sk2[64];
    crypto_sign_seed_keypair(pk, sk2, sk);
    int same = sodium_memcmp(sk, sk2, 64) == 0;
    sodium_memzero(sk2, sizeof(sk2));
    if (!same)
        return eml__diag(diag, EML_ECORRUPT,
                         "%s: damaged Ed25519 secret key (its public half does not match its "
                         "seed; the file is left untouched)",
                         path);
    return EML_OK;
}

eml_status eml__site_key_load(eml_manager *m, eml_diag *diag)
{
    if (sodium_init() < 0)
        return eml__diag(diag, EML_EINTERNAL, "libsodium could not be initialized");
    char key_path[2100], pub_path[2100], text[KEY_FILE_MAX];
    snprintf(key_path, sizeof(key_path), "%s/site.key", m->dir);
    snprintf(pub_path, sizeof(pub_path), "%s/site.pub", m->dir);
    eml_status st = read_small(key_path, text, sizeof(text), diag);
    if (st == EML_ENOTFOUND) {
        /* A new site, or one made before sites had keys: it gets its key now. */
        uint8_t pk[32];
        crypto_sign_keypair(pk, m->site_key);
        char hex[130];
        sodium_bin2hex(hex, 129, m->site_key, 64);
        hex[128] = '\n';
        hex[129] = 0;
        int raced = 0;
        st = write_new(m->dir, key_path, hex, 0600, &raced, diag);
        sodium_memzero(hex, sizeof(hex));
        sodium_memzero(m->site_key, sizeof(m->site_key));
        if (st != EML_OK)
            return st;
        /* read back what is on disk (ours, or the one a concurrent open wrote first) */
        st = read_small(key_path, text, sizeof(text), diag);
        if (st == EML_ENOTFOUND)
            st = eml__diag(diag, EML_EIO, "%s vanished after it was written", key_path);
    }
    if (st == EML_OK)
        st = parse_secret(key_path, text, m->site_key, diag);
    sodium_memzero(text, sizeof(text));
    if (st != EML_OK)
        return st;

    char want[65];
    eml__site_key_public_hex(m, want);
    st = read_small(pub_path, text, sizeof(text), diag);
    if (st == EML_ENOTFOUND) {
        /* derived from site.key, so a missing one is simply written again */
        char line[66];
        snprintf(line, sizeof(line), "%s\n", want);
        int raced = 0;
        st = write_new(m->dir, pub_path, line, 0644, &raced, diag);
        if (st != EML_OK)
            return st;
        st = read_small(pub_path, text, sizeof(text), diag);
    }
    if (st != EML_OK)
        return st;
    uint8_t pk[32];
    if (strlen(text) != 64 || !eml__hex_decode(text, pk, sizeof(pk)))
        return eml__diag(diag, EML_ECORRUPT,
                         "%s: not an Ed25519 public key (expected 64 hex digits; the file is "
                         "left untouched: remove it and it is written again from site.key)",
                         pub_path);
    if (sodium_memcmp(pk, m->site_key + 32, 32) != 0)
        return eml__diag(diag, EML_ECORRUPT,
                         "%s: not the public key of %s (the file is left untouched: remove "
                         "it and it is written again from site.key)",
                         pub_path, key_path);
    return EML_OK;
}

void eml__site_key_forget(eml_manager *m)
{
    sodium_memzero(m->site_key, sizeof(m->site_key));
}

void eml__site_key_public_hex(const eml_manager *m, char hex[65])
{
    sodium_bin2hex(hex, 65, m->site_key + 32, 32);
}

eml_status eml_manager_public_key(const eml_manager *m, char hex[65])
{
    if (!m || !hex)
        return EML_EINVAL;
    eml__site_key_public_hex(m, hex);
    return EML_OK;
}

/* Reads the artifact whole (it is signed and maybe sent as is) and checks it is still the
 * file its hash names: what is signed is what the site recorded. */
static eml_status read_artifact(const char *path, const char *sha256, uint8_t **out, size_t *n,
                                eml_diag *diag)
{
    *out = NULL;
    *n = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        eml_status st = eml__diag(diag, errno == ENOENT ? EML_ENOTFOUND : EML_EIO,
                                  "cannot read artifact %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return st;
    }
    size_t size = (size_t)sb.st_size;
    uint8_t *data = malloc(size ? size : 1);
    eml_status st = data ? EML_OK : eml__diag(diag, EML_ENOMEM, "out of memory");
    size_t done = 0;
    while (st == EML_OK && done < size) {
        ssize_t got = read(fd, data + done, size - done);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            st = eml__diag(diag, EML_EIO, "cannot read artifact %s: %s", path,
                           got < 0 ? strerror(errno) : "shorter than its size");
        else
            done += (size_t)got;
    }
    close(fd);
    char have[65];
    if (st == EML_OK) {
        eml__sha256_hex(data, size, have);
        if (strcmp(have, sha256) != 0)
            st = eml__diag(diag, EML_ECORRUPT,
                           "artifact %s changed on disk: its SHA-256 is %s, the site recorded %s",
                           path, have, sha256);
    }
    if (st != EML_OK) {
        free(data);
        return st;
    }
    *out = data;
    *n = size;
    return EML_OK;
}

eml_status eml__site_deploy_command(eml_manager *m, eml__node *node, const char *model,
                                    const char *path, const char *sha256, uint32_t version,
                                    cJSON **out, eml_diag *diag)
{
    *out = NULL;
    uint8_t *data = NULL;
    size_t n = 0;
    char *b64 = NULL;
    cJSON *cmd = NULL;
    eml_status st = read_artifact(path, sha256, &data, &n, diag);
    if (st != EML_OK)
        return st;
    /* Ed25519 over the file's bytes, as the node's repository verifies it (pure Ed25519, not
     * the prehashed variant: the node holds the whole file anyway). */
    uint8_t sig[64];
    char sig_hex[129];
    crypto_sign_detached(sig, NULL, data, n, m->site_key);
    sodium_bin2hex(sig_hex, sizeof(sig_hex), sig, sizeof(sig));
    /* MQTT nodes get small models in the command itself: one message, no HTTP round trip,
     * nothing for the node to reach but the broker. The local node reads the file itself. */
    int push = strcmp(node->transport->name, "mqtt") == 0 && m->push_max_bytes > 0 &&
               n <= m->push_max_bytes;
    char url[4200] = "";
    if (push) {
        size_t len = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
        b64 = malloc(len);
        if (!b64) {
            st = eml__diag(diag, EML_ENOMEM, "out of memory");
            goto fail;
        }
        sodium_bin2base64(b64, len, data, n, sodium_base64_VARIANT_ORIGINAL);
    } else {
        EML_TRY(node->transport->artifact_url(node, path, sha256, url, sizeof(url), diag));
    }
    cmd = cJSON_CreateObject();
    if (!cmd) {
        st = eml__diag(diag, EML_ENOMEM, "out of memory");
        goto fail;
    }
    int ok = cJSON_AddStringToObject(cmd, "op", "model.deploy") &&
             cJSON_AddStringToObject(cmd, "model", model) &&
             (push ? cJSON_AddStringToObject(cmd, "model_base64", b64)
                   : cJSON_AddStringToObject(cmd, "url", url)) &&
             cJSON_AddStringToObject(cmd, "sha256", sha256) &&
             cJSON_AddStringToObject(cmd, "signature", sig_hex);
    /* The site's identity of the version travels in its config (kept by the repository). */
    cJSON *cfg = ok ? cJSON_AddObjectToObject(cmd, "config") : NULL;
    cJSON *site = cfg ? cJSON_AddObjectToObject(cfg, "site") : NULL;
    ok = site && cJSON_AddStringToObject(site, "name", m->site) &&
         cJSON_AddNumberToObject(site, "version", version);
    if (!ok) {
        st = eml__diag(diag, EML_ENOMEM, "out of memory");
        goto fail;
    }
    *out = cmd;
    cmd = NULL;
fail:
    cJSON_Delete(cmd);
    free(b64);
    free(data);
    return st;
}
