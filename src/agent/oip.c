/* The Open Inference Protocol's tensors: JSON "inputs" (flat or nested data, or the binary-data
 * extension) into eml_tensors, and outputs back into JSON or appended binary. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agent.h"
#include "core/core.h"

static const struct {
    eml_dtype dtype;
    const char *name;
} oip_types[] = {
    {EML_DTYPE_BOOL, "BOOL"},  {EML_DTYPE_U8, "UINT8"},   {EML_DTYPE_U16, "UINT16"},
    {EML_DTYPE_U32, "UINT32"}, {EML_DTYPE_U64, "UINT64"}, {EML_DTYPE_I8, "INT8"},
    {EML_DTYPE_I16, "INT16"},  {EML_DTYPE_I32, "INT32"},  {EML_DTYPE_I64, "INT64"},
    {EML_DTYPE_F16, "FP16"},   {EML_DTYPE_F32, "FP32"},   {EML_DTYPE_F64, "FP64"},
    {EML_DTYPE_BF16, "BF16"},
};
#define N_TYPES (sizeof(oip_types) / sizeof(oip_types[0]))

eml_dtype eml__oip_dtype(const char *name)
{
    for (size_t i = 0; name && i < N_TYPES; i++)
        if (strcmp(oip_types[i].name, name) == 0)
            return oip_types[i].dtype;
    return EML_DTYPE_UNDEFINED;
}

const char *eml__oip_dtype_name(eml_dtype dtype)
{
    for (size_t i = 0; i < N_TYPES; i++)
        if (oip_types[i].dtype == dtype)
            return oip_types[i].name;
    return NULL;
}

void eml__tensors_free(eml_tensor *t, size_t n)
{
    for (size_t i = 0; t && i < n; i++) {
        free(t[i].data);
        t[i].data = NULL;
    }
}

/* Stores JSON value v as element i of t; 0 when v is not a value of t's type. */
static int put_value(eml_tensor *t, int64_t i, const cJSON *v)
{
    double x;
    if (cJSON_IsBool(v))
        x = cJSON_IsTrue(v) ? 1 : 0;
    else if (cJSON_IsNumber(v))
        x = v->valuedouble;
    else
        return 0;
    void *d = t->data;
    switch (t->dtype) {
    case EML_DTYPE_F32:
        ((float *)d)[i] = (float)x;
        return 1;
    case EML_DTYPE_F64:
        ((double *)d)[i] = x;
        return 1;
    case EML_DTYPE_F16:
        ((uint16_t *)d)[i] = eml_f32_to_f16((float)x);
        return 1;
    case EML_DTYPE_BF16:
        ((uint16_t *)d)[i] = eml_f32_to_bf16((float)x);
        return 1;
    case EML_DTYPE_BOOL:
        if (x != 0 && x != 1)
            return 0;
        ((bool *)d)[i] = x != 0;
        return 1;
    default:
        break;
    }
    /* Integers: the JSON number must be an integer within the type's range. */
    if (x != floor(x) || !isfinite(x))
        return 0;
#define INT_CASE(T, ctype, lo, hi)                                                                 \
    case T:                                                                                        \
        if (x < (double)(lo) || x > (double)(hi))                                                  \
            return 0;                                                                              \
        ((ctype *)d)[i] = (ctype)x;                                                                \
        return 1;
    switch (t->dtype) {
        INT_CASE(EML_DTYPE_U8, uint8_t, 0, UINT8_MAX)
        INT_CASE(EML_DTYPE_I8, int8_t, INT8_MIN, INT8_MAX)
        INT_CASE(EML_DTYPE_U16, uint16_t, 0, UINT16_MAX)
        INT_CASE(EML_DTYPE_I16, int16_t, INT16_MIN, INT16_MAX)
        INT_CASE(EML_DTYPE_U32, uint32_t, 0, UINT32_MAX)
        INT_CASE(EML_DTYPE_I32, int32_t, INT32_MIN, INT32_MAX)
        INT_CASE(EML_DTYPE_U64, uint64_t, 0, 18446744073709549568.0)
        INT_CASE(EML_DTYPE_I64, int64_t, INT64_MIN, 9223372036854774784.0)
    default:
        return 0;
    }
#undef INT_CASE
}

/* Flattens data (nested arrays allowed, row-major) into t; *n counts the values seen. */
static eml_status put_data(eml_tensor *t, const cJSON *data, int64_t count, int64_t *n,
                           const char *name, eml_diag *diag)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, data)
    {
        if (cJSON_IsArray(v)) {
            eml_status st = put_data(t, v, count, n, name, diag);
            if (st != EML_OK)
                return st;
            continue;
        }
        if (*n >= count)
            return eml__diag(diag, EML_ESHAPE, "input '%s': more data than its shape holds",
                             name);
        if (!put_value(t, *n, v))
            return eml__diag(diag, EML_EINVAL, "input '%s': element %lld is not a %s value",
                             name, (long long)*n, eml__oip_dtype_name(t->dtype));
        (*n)++;
    }
    return EML_OK;
}

/* The values in data, nested arrays flattened; stops counting past limit (returns limit + 1). */
static int64_t count_values(const cJSON *data, int64_t limit)
{
    int64_t n = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, data)
    {
        n += cJSON_IsArray(v) ? count_values(v, limit - n) : 1;
        if (n > limit)
            return limit + 1;
    }
    return n;
}

static eml_status read_one(const cJSON *in, eml_tensor *t, const uint8_t *binary,
                           size_t binary_bytes, size_t *binary_at, const char *name,
                           eml_diag *diag)
{
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(in, "shape");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(in, "datatype");
    if (!cJSON_IsArray(shape) || !cJSON_IsString(dt))
        return eml__diag(diag, EML_EINVAL, "input '%s' needs \"shape\" and \"datatype\"", name);
    t->dtype = eml__oip_dtype(dt->valuestring);
    if (t->dtype == EML_DTYPE_UNDEFINED)
        return eml__diag(diag, EML_ETYPE, "input '%s': datatype '%.32s' is not supported", name,
                         dt->valuestring);
    int rank = cJSON_GetArraySize(shape);
    if (rank > EML_MAX_RANK)
        return eml__diag(diag, EML_ESHAPE, "input '%s': rank %d above %d", name, rank,
                         EML_MAX_RANK);
    t->rank = rank;
    int k = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, shape)
    {
        if (!cJSON_IsNumber(d) || d->valuedouble < 0 || d->valuedouble > 1e15 ||
            d->valuedouble != floor(d->valuedouble))
            return eml__diag(diag, EML_ESHAPE, "input '%s': shape must be non-negative integers",
                             name);
        t->dims[k++] = (int64_t)d->valuedouble;
    }
    int64_t count = eml__shape_count(t->dims, rank);
    size_t esize = eml_dtype_size(t->dtype);
    if (count < 0 || (uint64_t)count > (UINT64_MAX / 2) / esize)
        return eml__diag(diag, EML_ESHAPE, "input '%s': shape too large", name);
    uint64_t bytes = (uint64_t)count * esize;
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(in, "parameters");
    const cJSON *bsize = cJSON_GetObjectItemCaseSensitive(params, "binary_data_size");
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(in, "data");
    if (bsize) {
        if (!cJSON_IsNumber(bsize) || bsize->valuedouble < 0 ||
            bsize->valuedouble != (double)bytes)
            return eml__diag(diag, EML_ESHAPE,
                             "input '%s': binary_data_size must be %llu bytes for %s%s", name,
                             (unsigned long long)bytes, dt->valuestring, " of its shape");
        if (binary_bytes - *binary_at < bytes)
            return eml__diag(diag, EML_EINVAL, "input '%s': the binary data is truncated", name);
        t->data = malloc(bytes ? bytes : 1);
        if (!t->data)
            return eml__diag(diag, EML_ENOMEM, "out of memory");
        memcpy(t->data, binary + *binary_at, bytes);
        *binary_at += bytes;
        return EML_OK;
    }
    if (!cJSON_IsArray(data))
        return eml__diag(diag, EML_EINVAL, "input '%s' needs \"data\" (an array)", name);
    /* A shape claiming more than the data holds must not allocate first (a 2 KB request once
     * made the agent allocate 8 GB: tests/fuzz/corpus/oip_request/regress-*): the values are
     * counted exactly, nested arrays included, before anything is allocated. */
    int64_t have = count_values(data, count);
    if (have != count)
        return eml__diag(diag, EML_ESHAPE, "input '%s': %s%lld values for a shape of %lld", name,
                         have > count ? "more than " : "", (long long)(have > count ? count : have),
                         (long long)count);
    t->data = malloc(bytes ? bytes : 1);
    if (!t->data)
        return eml__diag(diag, EML_ENOMEM, "out of memory");
    int64_t n = 0;
    eml_status st = put_data(t, data, count, &n, name, diag);
    if (st == EML_OK && n != count)
        st = eml__diag(diag, EML_ESHAPE, "input '%s': %lld values for a shape of %lld", name,
                       (long long)n, (long long)count);
    return st;
}

eml_status eml__oip_read_inputs(const cJSON *request, const eml_graph *graph,
                                const uint8_t *binary, size_t binary_bytes, eml_tensor *inputs,
                                eml_diag *diag)
{
    size_t n = eml_graph_input_count(graph);
    memset(inputs, 0, n * sizeof(eml_tensor));
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(request, "inputs");
    if (!cJSON_IsArray(list))
        return eml__diag(diag, EML_EINVAL, "the request needs \"inputs\" (an array)");
    size_t at = 0;
    eml_status st = EML_OK;
    const cJSON *in;
    cJSON_ArrayForEach(in, list)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(in, "name");
        if (!cJSON_IsString(name)) {
            st = eml__diag(diag, EML_EINVAL, "each input needs a \"name\"");
            goto fail;
        }
        size_t k = n;
        for (size_t i = 0; i < n; i++) {
            eml_value_info vi;
            if (eml_graph_input(graph, i, &vi) == EML_OK && strcmp(vi.name, name->valuestring) == 0)
                k = i;
        }
        if (k == n) {
            st = eml__diag(diag, EML_EINVAL, "the model has no input '%.128s'", name->valuestring);
            goto fail;
        }
        if (inputs[k].data) {
            st = eml__diag(diag, EML_EINVAL, "input '%.128s' is given twice", name->valuestring);
            goto fail;
        }
        EML_TRY(read_one(in, &inputs[k], binary, binary_bytes, &at, name->valuestring, diag));
    }
    for (size_t i = 0; i < n; i++) {
        eml_value_info vi;
        eml_graph_input(graph, i, &vi);
        if (!inputs[i].data) {
            st = eml__diag(diag, EML_EINVAL, "input '%s' is missing", vi.name);
            goto fail;
        }
    }
    if (at != binary_bytes) {
        st = eml__diag(diag, EML_EINVAL, "%zu bytes of binary data follow the JSON, the inputs "
                       "take %zu", binary_bytes, at);
        goto fail;
    }
    return EML_OK;
fail:
    eml__tensors_free(inputs, n);
    return st;
}

static double get_value(const eml_tensor *t, int64_t i)
{
    const void *d = t->data;
    switch (t->dtype) {
#define GET(suffix, ctype, size, name)                                                             \
    case EML_DTYPE_##suffix:                                                                       \
        return (double)((const ctype *)d)[i];
        GET(F32, float, 4, 0)
        GET(F64, double, 8, 0)
        GET(U8, uint8_t, 1, 0)
        GET(I8, int8_t, 1, 0)
        GET(U16, uint16_t, 2, 0)
        GET(I16, int16_t, 2, 0)
        GET(U32, uint32_t, 4, 0)
        GET(I32, int32_t, 4, 0)
        GET(U64, uint64_t, 8, 0)
        GET(I64, int64_t, 8, 0)
        GET(BOOL, bool, 1, 0)
#undef GET
    case EML_DTYPE_F16:
        return eml_f16_to_f32(((const uint16_t *)d)[i]);
    case EML_DTYPE_BF16:
        return eml_bf16_to_f32(((const uint16_t *)d)[i]);
    default:
        return 0;
    }
}

/* 1 when the request asks for this output in binary (per output, else the request-wide
 * "binary_data_output"); *wanted is 0 when the request lists outputs and not this one. */
static int wants_binary(const cJSON *request, const char *name, int *wanted)
{
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(request, "parameters");
    int all = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, "binary_data_output"));
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(request, "outputs");
    *wanted = 1;
    if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) == 0)
        return all;
    *wanted = 0;
    const cJSON *o;
    cJSON_ArrayForEach(o, list)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "name");
        if (!cJSON_IsString(n) || strcmp(n->valuestring, name) != 0)
            continue;
        *wanted = 1;
        const cJSON *p = cJSON_GetObjectItemCaseSensitive(o, "parameters");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(p, "binary_data");
        return b ? cJSON_IsTrue(b) : all;
    }
    return 0;
}

eml_status eml__oip_write_outputs(const cJSON *request, const eml_graph *graph,
                                  const eml_tensor *outputs, size_t n_outputs, cJSON *response,
                                  uint8_t **binary, size_t *binary_bytes, eml_diag *diag)
{
    *binary = NULL;
    *binary_bytes = 0;
    const cJSON *list = cJSON_GetObjectItemCaseSensitive(request, "outputs");
    const cJSON *o;
    cJSON_ArrayForEach(o, list)
    {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, "name");
        int known = 0;
        for (size_t i = 0; i < n_outputs && cJSON_IsString(n); i++) {
            eml_value_info vi;
            known |= eml_graph_output(graph, i, &vi) == EML_OK &&
                     strcmp(vi.name, n->valuestring) == 0;
        }
        if (!known)
            return eml__diag(diag, EML_EINVAL, "the model has no output '%.128s'",
                             cJSON_IsString(n) ? n->valuestring : "(unnamed)");
    }
    cJSON *arr = cJSON_AddArrayToObject(response, "outputs");
    if (!arr)
        return EML_ENOMEM;
    for (size_t i = 0; i < n_outputs; i++) {
        eml_value_info vi;
        eml_graph_output(graph, i, &vi);
        const eml_tensor *t = &outputs[i];
        int wanted;
        int bin = wants_binary(request, vi.name, &wanted);
        if (!wanted)
            continue;
        const char *dt = eml__oip_dtype_name(t->dtype);
        if (!dt)
            return eml__diag(diag, EML_ETYPE, "output '%s' is %s, which OIP cannot carry",
                             vi.name, eml_dtype_name(t->dtype));
        cJSON *jo = cJSON_CreateObject();
        if (!jo || !cJSON_AddItemToArray(arr, jo))
            return EML_ENOMEM;
        cJSON *shape = cJSON_CreateArray();
        if (!cJSON_AddStringToObject(jo, "name", vi.name) ||
            !cJSON_AddStringToObject(jo, "datatype", dt) || !shape ||
            !cJSON_AddItemToObject(jo, "shape", shape))
            return EML_ENOMEM;
        for (int d = 0; d < t->rank; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->dims[d]));
        size_t bytes = eml_tensor_bytes(t);
        if (bin) {
            uint8_t *grown = realloc(*binary, *binary_bytes + bytes + 1);
            if (!grown)
                return EML_ENOMEM;
            *binary = grown;
            memcpy(grown + *binary_bytes, t->data, bytes);
            *binary_bytes += bytes;
            cJSON *p = cJSON_AddObjectToObject(jo, "parameters");
            if (!p || !cJSON_AddNumberToObject(p, "binary_data_size", (double)bytes))
                return EML_ENOMEM;
            continue;
        }
        cJSON *data = cJSON_AddArrayToObject(jo, "data");
        if (!data)
            return EML_ENOMEM;
        int64_t count = eml_tensor_count(t);
        int single = t->dtype == EML_DTYPE_F32 || t->dtype == EML_DTYPE_F16 ||
                     t->dtype == EML_DTYPE_BF16;
        for (int64_t k = 0; k < count; k++) {
            double x = get_value(t, k);
            cJSON *v;
            char num[32];
            if (t->dtype == EML_DTYPE_BOOL) {
                v = cJSON_CreateBool(x != 0);
            } else if (!isfinite(x)) {
                v = cJSON_CreateNull(); /* JSON has no NaN or infinity */
            } else if (single) {
                /* 9 digits round-trip a float; cJSON's 17 would only print conversion noise */
                snprintf(num, sizeof(num), "%.9g", x);
                v = cJSON_CreateRaw(num);
            } else {
                v = cJSON_CreateNumber(x);
            }
            if (!v || !cJSON_AddItemToArray(data, v))
                return EML_ENOMEM;
        }
    }
    return EML_OK;
}
