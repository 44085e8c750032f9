/* The mapped-weights copy of a version: deploy writes the verified model again as weights.onnx
 * with its large initializers in weights.bin (64-byte aligned, ONNX external data), so that a
 * load maps the weights instead of copying them into the heap. weights.sha256 records both files;
 * a load checks them as it checks model.onnx. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve/repository.h"

/* Initializers smaller than this stay inline: a mapping costs at least a page. */
#define WEIGHTS_MIN_BYTES 4096

static const char *const weight_files[2] = {"weights.onnx", "weights.bin"};

/* SHA-256 of a file, read in blocks (a large weights file is never held in memory). */
static eml_status sha256_file(const char *path, char hex[65], eml_diag *diag)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return eml__diag(diag, EML_EIO, "cannot open %s: %s", path, strerror(errno));
    crypto_hash_sha256_state s;
    crypto_hash_sha256_init(&s);
    unsigned char block[64 << 10];
    ssize_t n;
    while ((n = read(fd, block, sizeof(block))) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            return eml__diag(diag, EML_EIO, "reading %s: %s", path, strerror(e));
        }
        crypto_hash_sha256_update(&s, block, (unsigned long long)n);
    }
    close(fd);
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&s, digest);
    sodium_bin2hex(hex, 65, digest, sizeof(digest));
    return EML_OK;
}

eml_status eml__repo_weights_write(eml_repo *repo, const eml_graph *graph, const char *dir,
                                   eml_diag *diag)
{
    char path[PATH_MAX], hex[2][65], text[256];
    eml_status st = EML_OK;
    snprintf(path, sizeof(path), "%s/%s", dir, weight_files[0]);
    EML_TRY(eml_graph_save_onnx_external(graph, path, weight_files[1], WEIGHTS_MIN_BYTES, diag));
    eml__repo_point(repo, "weights_written");
    for (int i = 0; i < 2; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, weight_files[i]);
        EML_TRY(sha256_file(path, hex[i], diag));
    }
    int n = snprintf(text, sizeof(text), "%s  %s\n%s  %s\n", hex[0], weight_files[0], hex[1],
                     weight_files[1]);
    snprintf(path, sizeof(path), "%s/weights.sha256", dir);
    EML_TRY(eml__fs_write_file(path, text, (size_t)n, diag));
    st = eml__fs_fsync_dir(dir, diag);
fail:
    return st;
}

eml_status eml__repo_weights_load(eml_repo *repo, const char *dir, eml_graph **graph,
                                  eml_diag *diag)
{
    *graph = NULL;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/weights.sha256", dir);
    void *text = NULL;
    size_t n = 0;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return EML_ENOTFOUND; /* a version deployed without the copy: load model.onnx */
    eml_status st = eml__fs_read_file(repo->env, path, 512, &text, &n, diag);
    if (st != EML_OK)
        return st;
    char line[2][80] = {"", ""}, got[65];
    const char *p = text;
    for (int i = 0; i < 2 && p < (const char *)text + n; i++) {
        size_t len = strcspn(p, " \n");
        snprintf(line[i], sizeof(line[i]), "%.*s", (int)(len < 79 ? len : 79), p);
        const char *nl = memchr(p, '\n', (size_t)((const char *)text + n - p));
        p = nl ? nl + 1 : (const char *)text + n;
    }
    eml__free(repo->env, text);
    for (int i = 0; i < 2 && st == EML_OK; i++) {
        char want[65];
        snprintf(path, sizeof(path), "%s/%s", dir, weight_files[i]);
        st = sha256_file(path, got, diag);
        if (st == EML_OK && (!eml__sha256_hex_normalize(line[i], want) || strcmp(want, got) != 0))
            st = eml__diag(diag, EML_ECORRUPT,
                           "%s: SHA-256 %s differs from the recorded %s (the file changed on "
                           "disk)",
                           path, got, line[i]);
    }
    if (st != EML_OK)
        return st;
    snprintf(path, sizeof(path), "%s/%s", dir, weight_files[0]);
    return eml_graph_load_onnx(repo->env, path, graph, diag);
}
