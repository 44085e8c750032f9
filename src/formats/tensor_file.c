/* Tensor files by extension (.pb, .npy, .png, .jpg, .jpeg), image options, and freeing what
 * the readers allocate. */
#include <errno.h>
#include <stdio.h>
#include <strings.h>
#include <sys/stat.h>

#include "formats/image.h"

void eml_image_options_init(eml_image_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    for (int c = 0; c < 4; c++)
        opts->std[c] = 1.0f;
}

void eml_tensor_free(eml_env *env, eml_tensor *t)
{
    if (!t)
        return;
    if (t->data)
        eml__free(env, t->data);
    memset(t, 0, sizeof(*t));
}

/* Reads a whole file into memory taken from env, refusing files over the env's limit. */
static eml_status read_whole_file(eml_env *env, const char *path, unsigned char **out,
                                  size_t *n_bytes, eml_diag *diag)
{
    eml_status st = EML_OK;
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return eml__diag(diag, EML_EIO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st_file;
    if (fstat(fileno(f), &st_file) != 0 || !S_ISREG(st_file.st_mode)) {
        st = eml__diag(diag, EML_EIO, "cannot read '%s': not a regular file", path);
        goto fail;
    }
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0) {
        st = eml__diag(diag, EML_EIO, "cannot read '%s': %s", path, strerror(errno));
        goto fail;
    }
    if ((uint64_t)size > eml_env_max_alloc_bytes(env)) {
        st = eml__diag(diag, EML_ELIMIT, "'%s': %ld bytes exceed the allocation limit", path,
                       size);
        goto fail;
    }
    *out = eml__alloc(env, (size_t)size);
    if (!*out) {
        st = eml__diag(diag, EML_ENOMEM, "'%s': out of memory for %ld bytes", path, size);
        goto fail;
    }
    if (size > 0 && fread(*out, 1, (size_t)size, f) != (size_t)size) {
        st = eml__diag(diag, EML_EIO, "cannot read '%s': %s", path,
                       ferror(f) ? strerror(errno) : "file shrank while reading");
        goto fail;
    }
    fclose(f);
    *n_bytes = (size_t)size;
    return EML_OK;
fail:
    fclose(f);
    eml__free(env, *out);
    *out = NULL;
    return st;
}

typedef enum file_kind { KIND_UNKNOWN, KIND_PB, KIND_NPY, KIND_IMAGE } file_kind;

static file_kind kind_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash + 1 : path, '.');
    if (!dot)
        return KIND_UNKNOWN;
    if (strcasecmp(dot, ".pb") == 0)
        return KIND_PB;
    if (strcasecmp(dot, ".npy") == 0)
        return KIND_NPY;
    if (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
        strcasecmp(dot, ".jpeg") == 0)
        return KIND_IMAGE;
    return KIND_UNKNOWN;
}

eml_status eml_tensor_read_file(eml_env *env, const char *path, const eml_image_options *img,
                                eml_tensor *out, eml_diag *diag)
{
    memset(out, 0, sizeof(*out));
    eml__diag_where(diag, path, NULL, NULL, 0, -1);
    file_kind kind = kind_of(path);
    if (kind == KIND_UNKNOWN)
        return eml__diag(diag, EML_EUNSUPPORTED,
                         "'%s': unknown tensor file type (expected .pb, .npy, .png, .jpg, .jpeg)",
                         path);
    unsigned char *bytes;
    size_t n_bytes = 0;
    eml_status st = read_whole_file(env, path, &bytes, &n_bytes, diag);
    if (st != EML_OK)
        return st;
    if (kind == KIND_PB)
        st = eml_tensor_read_pb(env, bytes, n_bytes, out, NULL, 0, diag);
    else if (kind == KIND_NPY)
        st = eml_tensor_read_npy(env, bytes, n_bytes, out, diag);
    else
        st = eml__image_read(env, bytes, n_bytes, img, out, diag);
    eml__free(env, bytes);
    if (st != EML_OK && diag) {
        /* The readers work on bytes and do not know the file: make the message whole. */
        char msg[2 * sizeof(diag->message)];
        snprintf(msg, sizeof(msg), "'%.300s': %s", path, diag->message);
        size_t n = EML_MIN(strlen(msg), sizeof(diag->message) - 1);
        memcpy(diag->message, msg, n);
        diag->message[n] = 0;
    }
    return st;
}
