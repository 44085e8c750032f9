/* NumPy .npy files: a checked reader (versions 1-3, both byte orders, C and Fortran order) and a
 * writer of version 1.0 files that numpy.load reads back. */
#include <errno.h>
#include <stdio.h>

#include "core/core.h"
#include "edgeml/io.h"

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_BYTES 6

typedef struct npy_header {
    eml_dtype dtype;
    int swap;           /* the data's byte order differs from the host's */
    int fortran_order;
    int32_t rank;
    int64_t dims[EML_MAX_RANK];
    int seen_descr, seen_order, seen_shape;
} npy_header;

/* A cursor over the header text; `base` is the text's byte offset in the file, for messages. */
typedef struct npy_cursor {
    const char *p;
    const char *end;
    size_t base;
    const char *start;
    eml_diag *diag;
} npy_cursor;

static int host_is_little_endian(void)
{
    uint16_t one = 1;
    unsigned char first;
    memcpy(&first, &one, 1);
    return first == 1;
}

static int64_t cursor_offset(const npy_cursor *c)
{
    return (int64_t)(c->base + (size_t)(c->p - c->start));
}

static eml_status header_error(npy_cursor *c, eml_status st, const char *what)
{
    int64_t off = cursor_offset(c);
    eml__diag_where(c->diag, NULL, NULL, NULL, 0, off);
    return eml__diag(c->diag, st, "npy: %s in the header at byte %lld", what, (long long)off);
}

static void skip_space(npy_cursor *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int accept(npy_cursor *c, char ch)
{
    skip_space(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A Python string literal in single or double quotes, without escapes (numpy never writes any). */
static eml_status parse_string(npy_cursor *c, const char **s, size_t *len)
{
    skip_space(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"'))
        return header_error(c, EML_ECORRUPT, "expected a quoted string");
    char quote = *c->p++;
    const char *begin = c->p;
    while (c->p < c->end && *c->p != quote) {
        if (*c->p == '\\')
            return header_error(c, EML_ECORRUPT, "escape in a string");
        c->p++;
    }
    if (c->p >= c->end)
        return header_error(c, EML_ECORRUPT, "unterminated string");
    *s = begin;
    *len = (size_t)(c->p - begin);
    c->p++;
    return EML_OK;
}

static int str_is(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

/* descr: optional byte order (< > | =), a kind letter and an item size, e.g. "<f4", "|b1". */
static eml_status parse_descr(npy_cursor *c, npy_header *h)
{
    skip_space(c);
    if (c->p < c->end && (*c->p == '[' || *c->p == '('))
        return header_error(c, EML_EUNSUPPORTED, "structured dtype (not supported)");
    const char *s;
    size_t len;
    eml_status st = parse_string(c, &s, &len);
    if (st != EML_OK)
        return st;
    char order = '=';
    if (len > 0 && (s[0] == '<' || s[0] == '>' || s[0] == '|' || s[0] == '=')) {
        order = s[0];
        s++;
        len--;
    }
    char descr[16];
    snprintf(descr, sizeof(descr), "%.*s", (int)EML_MIN(len, 12), s);
    if (len < 1 || len > 3)
        goto unsupported;
    char kind = s[0];
    unsigned size = 0;
    for (size_t i = 1; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            goto unsupported;
        size = size * 10 + (unsigned)(s[i] - '0');
    }
    if (kind == '?' && len == 1)
        size = 1;
    switch (kind) {
    case 'f':
        h->dtype = size == 2 ? EML_DTYPE_F16 : size == 4 ? EML_DTYPE_F32
                 : size == 8 ? EML_DTYPE_F64 : EML_DTYPE_UNDEFINED;
        break;
    case 'i':
        h->dtype = size == 1 ? EML_DTYPE_I8 : size == 2 ? EML_DTYPE_I16
                 : size == 4 ? EML_DTYPE_I32 : size == 8 ? EML_DTYPE_I64 : EML_DTYPE_UNDEFINED;
        break;
    case 'u':
        h->dtype = size == 1 ? EML_DTYPE_U8 : size == 2 ? EML_DTYPE_U16
                 : size == 4 ? EML_DTYPE_U32 : size == 8 ? EML_DTYPE_U64 : EML_DTYPE_UNDEFINED;
        break;
    case 'b':
    case '?':
        h->dtype = size == 1 ? EML_DTYPE_BOOL : EML_DTYPE_UNDEFINED;
        break;
    default:
        h->dtype = EML_DTYPE_UNDEFINED;
    }
    if (h->dtype == EML_DTYPE_UNDEFINED)
        goto unsupported;
    int data_le = order == '<' || (order == '=' && host_is_little_endian());
    h->swap = size > 1 && order != '|' && data_le != host_is_little_endian();
    return EML_OK;
unsupported: {
    char what[64];
    snprintf(what, sizeof(what), "dtype '%c%s' (not supported)", order, descr);
    return header_error(c, EML_EUNSUPPORTED, what);
}
}

static eml_status parse_bool(npy_cursor *c, int *out)
{
    skip_space(c);
    size_t left = (size_t)(c->end - c->p);
    if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
        c->p += 4;
        *out = 1;
        return EML_OK;
    }
    if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
        c->p += 5;
        *out = 0;
        return EML_OK;
    }
    return header_error(c, EML_ECORRUPT, "expected True or False");
}

/* A tuple of non-negative integers: "()", "(3,)", "(8, 1, 28, 28)"; Python 2's "3L" too. */
static eml_status parse_shape(npy_cursor *c, npy_header *h)
{
    if (!accept(c, '('))
        return header_error(c, EML_ECORRUPT, "expected '(' for the shape");
    h->rank = 0;
    for (;;) {
        if (accept(c, ')'))
            return EML_OK;
        skip_space(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9')
            return header_error(c, EML_ECORRUPT, "expected a non-negative dim in the shape");
        if (h->rank >= EML_MAX_RANK)
            return header_error(c, EML_ELIMIT, "shape of more than 8 dims");
        int64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (__builtin_mul_overflow(v, 10, &v) ||
                __builtin_add_overflow(v, (int64_t)(*c->p - '0'), &v))
                return header_error(c, EML_ELIMIT, "dim too large");
            c->p++;
        }
        if (c->p < c->end && *c->p == 'L')
            c->p++;
        h->dims[h->rank++] = v;
        if (accept(c, ','))
            continue;
        if (accept(c, ')'))
            return EML_OK;
        return header_error(c, EML_ECORRUPT, "expected ',' or ')' in the shape");
    }
}

static eml_status parse_dict(npy_cursor *c, npy_header *h)
{
    eml_status st;
    if (!accept(c, '{'))
        return header_error(c, EML_ECORRUPT, "expected '{'");
    for (;;) {
        if (accept(c, '}'))
            break;
        const char *key;
        size_t key_len;
        if ((st = parse_string(c, &key, &key_len)) != EML_OK)
            return st;
        if (!accept(c, ':'))
            return header_error(c, EML_ECORRUPT, "expected ':'");
        int *seen;
        if (str_is(key, key_len, "descr"))
            seen = &h->seen_descr;
        else if (str_is(key, key_len, "fortran_order"))
            seen = &h->seen_order;
        else if (str_is(key, key_len, "shape"))
            seen = &h->seen_shape;
        else
            return header_error(c, EML_ECORRUPT, "unknown key");
        if (*seen)
            return header_error(c, EML_ECORRUPT, "duplicate key");
        if (seen == &h->seen_descr)
            st = parse_descr(c, h);
        else if (seen == &h->seen_order)
            st = parse_bool(c, &h->fortran_order);
        else
            st = parse_shape(c, h);
        if (st != EML_OK)
            return st;
        *seen = 1;
        if (accept(c, ','))
            continue;
        if (accept(c, '}'))
            break;
        return header_error(c, EML_ECORRUPT, "expected ',' or '}'");
    }
    skip_space(c);
    if (c->p != c->end)
        return header_error(c, EML_ECORRUPT, "text after the header's '}'");
    if (!h->seen_descr || !h->seen_order || !h->seen_shape)
        return header_error(c, EML_ECORRUPT, "missing 'descr', 'fortran_order' or 'shape'");
    return EML_OK;
}

static void swap_bytes(unsigned char *p, size_t size)
{
    for (size_t i = 0; i < size / 2; i++) {
        unsigned char t = p[i];
        p[i] = p[size - 1 - i];
        p[size - 1 - i] = t;
    }
}

/* Copies src (Fortran order when asked) into dst in C order, swapping bytes when asked. */
static void copy_data(unsigned char *dst, const unsigned char *src, const npy_header *h,
                      int64_t count, size_t size)
{
    if (!h->fortran_order || h->rank <= 1) {
        memcpy(dst, src, (size_t)count * size);
    } else {
        /* Walk dst in C order and track the Fortran-order source offset: dim 0 has stride 1. */
        int64_t fstride[EML_MAX_RANK];
        int64_t idx[EML_MAX_RANK] = {0};
        int64_t s = 1;
        for (int d = 0; d < h->rank; d++) {
            fstride[d] = s;
            s *= h->dims[d];
        }
        int64_t off = 0;
        for (int64_t i = 0; i < count; i++) {
            memcpy(dst + (size_t)i * size, src + (size_t)off * size, size);
            for (int d = h->rank - 1; d >= 0; d--) {
                off += fstride[d];
                if (++idx[d] < h->dims[d])
                    break;
                off -= fstride[d] * h->dims[d];
                idx[d] = 0;
            }
        }
    }
    if (h->swap)
        for (int64_t i = 0; i < count; i++)
            swap_bytes(dst + (size_t)i * size, size);
}

static uint32_t read_le(const unsigned char *p, int n)
{
    uint32_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

eml_status eml_tensor_read_npy(eml_env *env, const void *bytes, size_t n_bytes, eml_tensor *out,
                               eml_diag *diag)
{
    const unsigned char *b = bytes;
    memset(out, 0, sizeof(*out));
    if (n_bytes < 10 || memcmp(b, NPY_MAGIC, NPY_MAGIC_BYTES) != 0) {
        eml__diag_where(diag, NULL, NULL, NULL, 0, 0);
        return eml__diag(diag, EML_ECORRUPT, "npy: not a .npy file (no \\x93NUMPY magic)");
    }
    int major = b[6];
    size_t header_at, header_len;
    if (major == 1) {
        header_at = 10;
        header_len = read_le(b + 8, 2);
    } else if (major == 2 || major == 3) {
        if (n_bytes < 12)
            return eml__diag(diag, EML_ECORRUPT, "npy: truncated before the header length");
        header_at = 12;
        header_len = read_le(b + 8, 4);
    } else {
        eml__diag_where(diag, NULL, NULL, NULL, 0, 6);
        return eml__diag(diag, EML_EUNSUPPORTED, "npy: format version %d.%d (not supported)",
                         major, b[7]);
    }
    if (header_len > n_bytes - header_at) {
        eml__diag_where(diag, NULL, NULL, NULL, 0, 8);
        return eml__diag(diag, EML_ECORRUPT,
                         "npy: header of %zu bytes but the file has %zu bytes after byte %zu",
                         header_len, n_bytes - header_at, header_at);
    }

    npy_header h;
    memset(&h, 0, sizeof(h));
    npy_cursor c = {(const char *)b + header_at, (const char *)b + header_at + header_len,
                    header_at, (const char *)b + header_at, diag};
    eml_status st = parse_dict(&c, &h);
    if (st != EML_OK)
        return st;

    /* Sizes are checked against the bytes present before anything is allocated, so an absurd
     * shape in a small file is refused without trying to allocate it. */
    size_t data_at = header_at + header_len;
    size_t have = n_bytes - data_at;
    size_t size = eml_dtype_size(h.dtype);
    int64_t count = eml__shape_count(h.dims, h.rank);
    uint64_t need;
    if (count < 0 || eml__mul_overflow((uint64_t)count, size, &need)) {
        eml__diag_where(diag, NULL, NULL, NULL, 0, (int64_t)header_at);
        return eml__diag(diag, EML_ELIMIT, "npy: shape has too many elements");
    }
    if (need != have) {
        eml__diag_where(diag, NULL, NULL, NULL, 0, (int64_t)data_at);
        char shape[160];
        eml__shape_str(shape, sizeof(shape), h.dtype, h.dims, h.rank);
        if (need > have)
            return eml__diag(diag, EML_ECORRUPT,
                             "npy: truncated data: %s needs %llu bytes, %zu present at byte %zu",
                             shape, (unsigned long long)need, have, data_at);
        return eml__diag(diag, EML_ECORRUPT, "npy: %llu bytes after the data of %s",
                         (unsigned long long)(have - need), shape);
    }
    if (need > eml_env_max_alloc_bytes(env))
        return eml__diag(diag, EML_ELIMIT, "npy: %llu bytes of data exceed the allocation limit",
                         (unsigned long long)need);
    void *data = eml__alloc(env, (size_t)need);
    if (!data)
        return eml__diag(diag, EML_ENOMEM, "npy: out of memory for %llu bytes",
                         (unsigned long long)need);
    copy_data(data, b + data_at, &h, count, size);
    if (h.dtype == EML_DTYPE_BOOL) {
        /* The library's bools are 0 or 1; numpy files may hold any non-zero byte for true. */
        unsigned char *p = data;
        for (int64_t i = 0; i < count; i++)
            p[i] = p[i] != 0;
    }
    out->dtype = h.dtype;
    out->rank = h.rank;
    memcpy(out->dims, h.dims, sizeof(h.dims));
    out->data = data;
    return EML_OK;
}

static const char *npy_descr(eml_dtype dtype)
{
    switch (dtype) {
    case EML_DTYPE_F32: return "<f4";
    case EML_DTYPE_F64: return "<f8";
    case EML_DTYPE_F16: return "<f2";
    case EML_DTYPE_I8: return "|i1";
    case EML_DTYPE_I16: return "<i2";
    case EML_DTYPE_I32: return "<i4";
    case EML_DTYPE_I64: return "<i8";
    case EML_DTYPE_U8: return "|u1";
    case EML_DTYPE_U16: return "<u2";
    case EML_DTYPE_U32: return "<u4";
    case EML_DTYPE_U64: return "<u8";
    case EML_DTYPE_BOOL: return "|b1";
    default: return NULL;
    }
}

eml_status eml_tensor_write_npy(const eml_tensor *t, const char *path, eml_diag *diag)
{
    const char *descr = npy_descr(t->dtype);
    if (!descr)
        return eml__diag(diag, EML_EUNSUPPORTED, "npy: cannot write dtype %s",
                         eml_dtype_name(t->dtype));
    if (t->rank < 0 || t->rank > EML_MAX_RANK || eml_tensor_count(t) < 0)
        return eml__diag(diag, EML_EINVAL, "npy: invalid tensor shape");
    if (!t->data && eml_tensor_count(t) > 0)
        return eml__diag(diag, EML_EINVAL, "npy: tensor has no data");

    /* Header as numpy writes it, padded with spaces so that the data starts 64-byte aligned. */
    char header[512];
    int n = snprintf(header, sizeof(header), "{'descr': '%s', 'fortran_order': False, 'shape': (",
                     descr);
    for (int i = 0; i < t->rank; i++)
        n += snprintf(header + n, sizeof(header) - (size_t)n, i ? ", %lld" : "%lld",
                      (long long)t->dims[i]);
    n += snprintf(header + n, sizeof(header) - (size_t)n, "%s), }", t->rank == 1 ? "," : "");
    size_t total = 10 + (size_t)n + 1;
    size_t padded = (total + 63) / 64 * 64;
    memset(header + n, ' ', padded - total);
    header[padded - 10 - 1] = '\n';
    size_t header_len = padded - 10;

    unsigned char prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                                (unsigned char)(header_len & 0xff),
                                (unsigned char)(header_len >> 8)};
    FILE *f = fopen(path, "wb");
    if (!f) {
        eml__diag_where(diag, path, NULL, NULL, 0, -1);
        return eml__diag(diag, EML_EIO, "cannot create '%s': %s", path, strerror(errno));
    }
    int ok = fwrite(prefix, 1, 10, f) == 10 && fwrite(header, 1, header_len, f) == header_len;
    size_t size = eml_dtype_size(t->dtype);
    size_t bytes = eml_tensor_bytes(t);
    if (ok && host_is_little_endian()) {
        ok = bytes == 0 || fwrite(t->data, 1, bytes, f) == bytes;
    } else if (ok) {
        const unsigned char *p = t->data;
        for (size_t i = 0; ok && i < bytes; i += size) {
            unsigned char elem[8];
            memcpy(elem, p + i, size);
            swap_bytes(elem, size);
            ok = fwrite(elem, 1, size, f) == size;
        }
    }
    if (fclose(f) != 0)
        ok = 0;
    if (!ok) {
        eml__diag_where(diag, path, NULL, NULL, 0, -1);
        return eml__diag(diag, EML_EIO, "cannot write '%s': %s", path, strerror(errno));
    }
    return EML_OK;
}
