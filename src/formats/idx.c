/* IDX files (MNIST, Fashion-MNIST): a big-endian header of type and dims, then the data; read
 * through zlib so that .gz and plain files both work. */
#include <zlib.h>

#include "core/core.h"
#include "edgeml/io.h"

static eml_dtype idx_dtype(int code)
{
    switch (code) {
    case 0x08: return EML_DTYPE_U8;
    case 0x09: return EML_DTYPE_I8;
    case 0x0B: return EML_DTYPE_I16;
    case 0x0C: return EML_DTYPE_I32;
    case 0x0D: return EML_DTYPE_F32;
    case 0x0E: return EML_DTYPE_F64;
    default: return EML_DTYPE_UNDEFINED;
    }
}

static void swap_bytes(void *data, int64_t count, size_t size)
{
    unsigned char *p = data;
    for (int64_t i = 0; i < count; i++, p += size) {
        for (size_t a = 0, b = size - 1; a < b; a++, b--) {
            unsigned char t = p[a];
            p[a] = p[b];
            p[b] = t;
        }
    }
}

eml_status eml_tensor_read_idx(eml_env *env, const char *path, eml_tensor *out, eml_diag *diag)
{
    memset(out, 0, sizeof(*out));
    eml__diag_where(diag, path, NULL, NULL, 0, -1);
    gzFile f = gzopen(path, "rb");
    if (!f)
        return eml__diag(diag, EML_EIO, "cannot open %s", path);
    eml_status st = EML_OK;
    unsigned char magic[4];
    if (gzread(f, magic, 4) != 4 || magic[0] != 0 || magic[1] != 0) {
        st = eml__diag(diag, EML_ECORRUPT, "%s: not an IDX file (bad magic)", path);
        goto fail;
    }
    eml_tensor t = {idx_dtype(magic[2]), magic[3], {0}, NULL};
    if (t.dtype == EML_DTYPE_UNDEFINED || t.rank < 1 || t.rank > EML_MAX_RANK) {
        st = eml__diag(diag, EML_ECORRUPT, "%s: unsupported IDX type 0x%02x or rank %d", path,
                       magic[2], magic[3]);
        goto fail;
    }
    for (int d = 0; d < t.rank; d++) {
        unsigned char b[4];
        if (gzread(f, b, 4) != 4) {
            st = eml__diag(diag, EML_ECORRUPT, "%s: truncated header", path);
            goto fail;
        }
        t.dims[d] = ((int64_t)b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3];
    }
    int64_t count = eml_tensor_count(&t);
    size_t es = eml_dtype_size(t.dtype);
    uint64_t bytes;
    if (count < 0 || eml__mul_overflow((uint64_t)count, es, &bytes) ||
        bytes > eml_env_max_alloc_bytes(env) || bytes > INT32_MAX) {
        st = eml__diag(diag, EML_ELIMIT, "%s: data of %lld elements is over the limit", path,
                       (long long)count);
        goto fail;
    }
    t.data = eml__alloc(env, (size_t)bytes);
    if (!t.data) {
        st = eml__diag(diag, EML_ENOMEM, "%s: %llu bytes", path, (unsigned long long)bytes);
        goto fail;
    }
    if (bytes && gzread(f, t.data, (unsigned)bytes) != (int)bytes) {
        eml__free(env, t.data);
        st = eml__diag(diag, EML_ECORRUPT, "%s: truncated data (expected %llu bytes)", path,
                       (unsigned long long)bytes);
        goto fail;
    }
    if (es > 1)
        swap_bytes(t.data, count, es);
    *out = t;
fail:
    gzclose(f);
    return st;
}
