/* TensorProto <-> eml_tensor: element types, size checks, raw/typed/external data; and protobuf-c
 * allocation through the env. Shared by the ONNX importer, exporter and the .pb reader. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/onnx.h"

/* ---- protobuf-c through the env ---- */

static void *pb_alloc(void *user, size_t bytes)
{
    eml_pb_allocator *a = user;
    if ((uint64_t)bytes > a->env->max_alloc_bytes) {
        if (bytes > a->refused_bytes)
            a->refused_bytes = bytes;
        a->failed = true;
        return NULL;
    }
    void *p = eml__alloc(a->env, bytes);
    if (!p)
        a->failed = true;
    return p;
}

static void pb_free(void *user, void *ptr)
{
    eml_pb_allocator *a = user;
    eml__free(a->env, ptr);
}

void eml__pb_allocator_init(eml_pb_allocator *a, eml_env *env)
{
    memset(a, 0, sizeof(*a));
    a->base.alloc = pb_alloc;
    a->base.free = pb_free;
    a->base.allocator_data = a;
    a->env = env;
}

eml_status eml__pb_unpack(eml_pb_allocator *a, const ProtobufCMessageDescriptor *desc,
                          const uint8_t *bytes, size_t n_bytes, const char *kind,
                          ProtobufCMessage **out, eml_diag *diag)
{
    a->failed = false;
    a->refused_bytes = 0;
    *out = protobuf_c_message_unpack(desc, &a->base, n_bytes, bytes);
    if (*out)
        return EML_OK;
    if (a->refused_bytes)
        return eml__diag(
            diag, EML_ELIMIT, "%s needs a block of %llu bytes, over the limit of %llu bytes", kind,
            (unsigned long long)a->refused_bytes, (unsigned long long)a->env->max_alloc_bytes);
    if (a->failed)
        return eml__diag(diag, EML_ENOMEM, "out of memory reading the %s", kind);
    return eml__diag(diag, EML_ECORRUPT, "corrupt %s: protobuf-c could not parse it", kind);
}

void eml__pb_free(eml_pb_allocator *a, ProtobufCMessage *msg)
{
    if (msg)
        protobuf_c_message_free_unpacked(msg, &a->base);
}

/* ---- element types ---- */

eml_status eml__onnx_dtype(int32_t onnx_type, const char *what, eml_dtype *out, eml_diag *diag)
{
    *out = EML_DTYPE_UNDEFINED;
    switch (onnx_type) {
#define EML__DTYPE_CASE(value, suffix, ctype, size, name)                                          \
    case value:                                                                                    \
        *out = EML_DTYPE_##suffix;                                                                 \
        return EML_OK;
        EML_DTYPE_MAP(EML__DTYPE_CASE)
#undef EML__DTYPE_CASE
    case ONNX__TENSOR_PROTO__DATA_TYPE__STRING:
        return eml__diag(diag, EML_EUNSUPPORTED, "unsupported: string tensors (%s)", what);
    case ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX64:
        return eml__diag(diag, EML_EUNSUPPORTED, "unsupported: complex64 tensors (%s)", what);
    case ONNX__TENSOR_PROTO__DATA_TYPE__COMPLEX128:
        return eml__diag(diag, EML_EUNSUPPORTED, "unsupported: complex128 tensors (%s)", what);
    case 0:
        return eml__diag(diag, EML_ECORRUPT, "corrupt: no element type for %s", what);
    default:
        return eml__diag(diag, EML_EUNSUPPORTED, "unsupported: element type %d (%s)",
                         (int)onnx_type, what);
    }
}

/* ---- reading ---- */

/* The typed field that holds values of each dtype when raw_data is not used. */
typedef enum typed_field {
    TF_FLOAT,
    TF_INT32,
    TF_INT64,
    TF_DOUBLE,
    TF_UINT64
} typed_field;

static typed_field typed_field_of(eml_dtype dt)
{
    switch (dt) {
    case EML_DTYPE_F32:
        return TF_FLOAT;
    case EML_DTYPE_I64:
        return TF_INT64;
    case EML_DTYPE_F64:
        return TF_DOUBLE;
    case EML_DTYPE_U32:
    case EML_DTYPE_U64:
        return TF_UINT64;
    default: /* int32 and everything narrower, bool, float16 and bfloat16 bit patterns */
        return TF_INT32;
    }
}

static size_t typed_count(const Onnx__TensorProto *tp, typed_field f)
{
    switch (f) {
    case TF_FLOAT:
        return tp->n_float_data;
    case TF_INT32:
        return tp->n_int32_data;
    case TF_INT64:
        return tp->n_int64_data;
    case TF_DOUBLE:
        return tp->n_double_data;
    case TF_UINT64:
        return tp->n_uint64_data;
    }
    return 0;
}

static const char *const typed_names[] = {"float_data", "int32_data", "int64_data", "double_data",
                                          "uint64_data"};

/* Copies n values of the typed field into dst, narrowing to the dtype's width. */
static void typed_copy(const Onnx__TensorProto *tp, eml_dtype dt, void *dst, size_t n)
{
    if (n == 0) /* the field's array may be NULL */
        return;
    switch (dt) {
    case EML_DTYPE_F32:
        memcpy(dst, tp->float_data, n * sizeof(float));
        break;
    case EML_DTYPE_I64:
        memcpy(dst, tp->int64_data, n * sizeof(int64_t));
        break;
    case EML_DTYPE_F64:
        memcpy(dst, tp->double_data, n * sizeof(double));
        break;
    case EML_DTYPE_U64:
        memcpy(dst, tp->uint64_data, n * sizeof(uint64_t));
        break;
    case EML_DTYPE_U32:
        for (size_t i = 0; i < n; i++)
            ((uint32_t *)dst)[i] = (uint32_t)tp->uint64_data[i];
        break;
    case EML_DTYPE_I32:
        memcpy(dst, tp->int32_data, n * sizeof(int32_t));
        break;
    case EML_DTYPE_I16:
    case EML_DTYPE_U16:
    case EML_DTYPE_F16:
    case EML_DTYPE_BF16:
        for (size_t i = 0; i < n; i++)
            ((uint16_t *)dst)[i] = (uint16_t)(uint32_t)tp->int32_data[i];
        break;
    case EML_DTYPE_BOOL:
        for (size_t i = 0; i < n; i++)
            ((uint8_t *)dst)[i] = tp->int32_data[i] != 0;
        break;
    default: /* I8, U8 */
        for (size_t i = 0; i < n; i++)
            ((uint8_t *)dst)[i] = (uint8_t)(uint32_t)tp->int32_data[i];
        break;
    }
}

/* Strict decimal for external_data offset/length. */
static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        if (v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* A location must stay inside the model's folder: relative, no "..", no backslashes. */
static bool location_safe(const char *loc)
{
    if (!loc[0] || loc[0] == '/' || strchr(loc, '\\'))
        return false;
    const char *p = loc;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t len = slash ? (size_t)(slash - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.')
            return false;
        if (!slash)
            break;
        p = slash + 1;
    }
    return true;
}

/* Maps [offset, offset + bytes) of an open file privately (copy on write, so passes may still
 * change the weights in place): the pages load on first use and, being file-backed, can be
 * dropped and read again instead of taking anonymous memory. */
static void *map_range(FILE *f, uint64_t offset, uint64_t bytes, void **base, size_t *mapped)
{
    long page = sysconf(_SC_PAGESIZE);
    uint64_t start = page > 0 ? offset - offset % (uint64_t)page : offset;
    size_t len = (size_t)(bytes + (offset - start));
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fileno(f), (off_t)start);
    if (p == MAP_FAILED)
        return NULL;
    *base = p;
    *mapped = len;
    return (uint8_t *)p + (offset - start);
}

/* Reads external data into env memory, or maps it when `map` is given and the data is large and
 * aligned to its element size (the kernels read elements in place); map->base stays NULL when the
 * data was copied. *dst: receives the data. */
static eml_status read_external(const eml_onnx_src *src, const Onnx__TensorProto *tp,
                                const char *name, uint64_t bytes, size_t esize, void **dst,
                                eml__onnx_mapping *map)
{
    eml_diag *diag = src->diag;
    const char *location = NULL;
    uint64_t offset = 0, length = bytes;
    bool has_length = false;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const Onnx__StringStringEntryProto *e = tp->external_data[i];
        const char *key = e->key ? e->key : "";
        if (strcmp(key, "location") == 0) {
            location = e->value ? e->value : "";
        } else if (strcmp(key, "offset") == 0 || strcmp(key, "length") == 0) {
            uint64_t v;
            if (!parse_u64(e->value, &v))
                return eml__diag(diag, EML_ECORRUPT,
                                 "corrupt tensor '%s': external data %s '%s' is not a number", name,
                                 key, e->value ? e->value : "");
            if (key[0] == 'o') {
                offset = v;
            } else {
                length = v;
                has_length = true;
            }
        }
    }
    if (!location)
        return eml__diag(diag, EML_ECORRUPT,
                         "corrupt tensor '%s': external data without a location", name);
    if (!src->base_dir)
        return eml__diag(diag, EML_EUNSUPPORTED,
                         "unsupported: external data ('%s' of tensor '%s') without a model folder",
                         location, name);
    if (!location_safe(location))
        return eml__diag(diag, EML_ECORRUPT,
                         "corrupt tensor '%s': external data location '%s' leaves the "
                         "model's folder",
                         name, location);
    if (has_length && length != bytes)
        return eml__diag(diag, EML_ECORRUPT,
                         "corrupt tensor '%s': external data has length %llu, its dims "
                         "need %llu bytes",
                         name, (unsigned long long)length, (unsigned long long)bytes);
    size_t plen = strlen(src->base_dir) + strlen(location) + 2;
    char *path = eml__alloc(src->env, plen);
    if (!path)
        return EML_ENOMEM;
    snprintf(path, plen, "%s/%s", src->base_dir, location);
    eml_status st = EML_OK;
    FILE *f = fopen(path, "rb");
    struct stat sb;
    if (!f) {
        st = eml__diag(diag, EML_EIO, "cannot open external data '%s' of tensor '%s': %s", path,
                       name, strerror(errno));
    } else if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        st = eml__diag(diag, EML_EIO, "external data '%s' of tensor '%s' is not a regular file",
                       path, name);
    } else if (offset > (uint64_t)sb.st_size || bytes > (uint64_t)sb.st_size - offset) {
        st = eml__diag(diag, EML_ECORRUPT,
                       "corrupt tensor '%s': external data '%s' has %lld bytes, the "
                       "tensor needs %llu at offset %llu",
                       name, path, (long long)sb.st_size, (unsigned long long)bytes,
                       (unsigned long long)offset);
    } else if (map && bytes >= EML__ONNX_MAP_MIN_BYTES && offset % esize == 0 &&
               (*dst = map_range(f, offset, bytes, &map->base, &map->bytes))) {
        /* mapped */
    } else if (!(*dst = eml__alloc(src->env, (size_t)bytes))) {
        st = EML_ENOMEM;
    } else if (fseeko(f, (off_t)offset, SEEK_SET) != 0 ||
               (bytes && fread(*dst, 1, (size_t)bytes, f) != (size_t)bytes)) {
        st = eml__diag(diag, EML_EIO, "cannot read external data '%s' of tensor '%s'", path, name);
    }
    if (f)
        fclose(f);
    eml__free(src->env, path);
    return st;
}

eml_status eml__onnx_tensor_read(const eml_onnx_src *src, const Onnx__TensorProto *tp,
                                 const char *name, eml_tensor *out)
{
    return eml__onnx_initializer_read(src, tp, name, out, NULL);
}

eml_status eml__onnx_initializer_read(const eml_onnx_src *src, const Onnx__TensorProto *tp,
                                      const char *name, eml_tensor *out, eml__onnx_mapping *map)
{
    if (map)
        memset(map, 0, sizeof(*map));
    eml_diag *diag = src->diag;
    memset(out, 0, sizeof(*out));
    char what[200];
    snprintf(what, sizeof(what), "value '%s'", name);
    eml_dtype dt;
    eml_status st = eml__onnx_dtype(tp->has_data_type ? tp->data_type : 0, what, &dt, diag);
    if (st != EML_OK)
        return st;
    if (tp->segment)
        return eml__diag(diag, EML_EUNSUPPORTED, "unsupported: segmented tensor '%s'", name);
    if (tp->n_dims > EML_MAX_RANK)
        return eml__diag(diag, EML_EUNSUPPORTED,
                         "unsupported: tensor '%s' has rank %zu (at most %d)", name, tp->n_dims,
                         EML_MAX_RANK);
    uint64_t count = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return eml__diag(diag, EML_ECORRUPT, "corrupt tensor '%s': dim %lld", name,
                             (long long)tp->dims[i]);
        if (eml__mul_overflow(count, (uint64_t)tp->dims[i], &count) || count > INT64_MAX)
            return eml__diag(diag, EML_ELIMIT, "tensor '%s' has too many elements", name);
    }
    size_t esize = eml_dtype_size(dt);
    uint64_t bytes;
    if (eml__mul_overflow(count, esize, &bytes) || bytes > eml_env_max_alloc_bytes(src->env) ||
        bytes > SIZE_MAX)
        return eml__diag(
            diag, EML_ELIMIT, "tensor '%s' has %llu elements, over the limit of %llu bytes", name,
            (unsigned long long)count, (unsigned long long)eml_env_max_alloc_bytes(src->env));

    bool external =
        tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    bool has_raw = tp->has_raw_data && tp->raw_data.len > 0;
    typed_field want = typed_field_of(dt);
    for (int f = TF_FLOAT; f <= TF_UINT64; f++) {
        size_t n = typed_count(tp, (typed_field)f);
        if (n && (f != (int)want || has_raw || external))
            return eml__diag(diag, EML_ECORRUPT, "corrupt tensor '%s' (%s): values in %s%s", name,
                             eml_dtype_name(dt), typed_names[f],
                             f == (int)want ? " and elsewhere" : "");
    }
    if (tp->n_string_data)
        return eml__diag(diag, EML_ECORRUPT, "corrupt tensor '%s' (%s): string_data", name,
                         eml_dtype_name(dt));
    if (external && has_raw)
        return eml__diag(diag, EML_ECORRUPT, "corrupt tensor '%s': both external data and raw_data",
                         name);
    if (has_raw && tp->raw_data.len != bytes)
        return eml__diag(diag, EML_ECORRUPT,
                         "corrupt tensor '%s': %zu bytes of raw_data, its dims need "
                         "%llu",
                         name, tp->raw_data.len, (unsigned long long)bytes);
    if (!has_raw && !external) {
        size_t n = typed_count(tp, want);
        if (n != count)
            return eml__diag(diag, EML_ECORRUPT,
                             "corrupt tensor '%s': %zu values in %s, its dims need "
                             "%llu",
                             name, n, typed_names[want], (unsigned long long)count);
    }

    void *data = NULL;
    if (external) {
        st = read_external(src, tp, name, bytes, esize, &data,
                           src->map_external && dt != EML_DTYPE_BOOL ? map : NULL);
        if (st != EML_OK) {
            if (map && map->base) {
                munmap(map->base, map->bytes);
                memset(map, 0, sizeof(*map));
            } else {
                eml__free(src->env, data);
            }
            return st;
        }
    } else if (!(data = eml__alloc(src->env, (size_t)bytes))) {
        return EML_ENOMEM;
    } else if (has_raw) {
        memcpy(data, tp->raw_data.data, (size_t)bytes);
    } else {
        typed_copy(tp, dt, data, (size_t)count);
    }
    if (dt == EML_DTYPE_BOOL) /* kernels rely on bools being 0 or 1 */
        for (uint64_t i = 0; i < count; i++)
            ((uint8_t *)data)[i] = ((uint8_t *)data)[i] != 0;
    out->dtype = dt;
    out->rank = (int32_t)tp->n_dims;
    for (size_t i = 0; i < tp->n_dims; i++)
        out->dims[i] = tp->dims[i];
    out->data = data;
    return EML_OK;
}

/* ---- writing ---- */

eml_status eml__onnx_tensor_fill(const eml_tensor *t, const char *name, int64_t *dims_storage,
                                 Onnx__TensorProto *tp)
{
    if (!eml_dtype_is_supported(t->dtype) || t->rank < 0 || t->rank > EML_MAX_RANK)
        return EML_EINVAL;
    int64_t count = eml__shape_count(t->dims, t->rank);
    if (count < 0 || (count > 0 && !t->data))
        return EML_EINVAL;
    tp->has_data_type = 1;
    tp->data_type = (int32_t)t->dtype;
    tp->n_dims = (size_t)t->rank;
    tp->dims = dims_storage;
    for (int32_t i = 0; i < t->rank; i++)
        dims_storage[i] = t->dims[i];
    tp->name = (char *)(name ? name : "");
    tp->has_raw_data = 1;
    tp->raw_data.len = (size_t)count * eml_dtype_size(t->dtype);
    tp->raw_data.data = t->data;
    return EML_OK;
}
