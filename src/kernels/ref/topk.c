/* Reference kernel of TopK: a stable sort of each row's indices by an order-preserving key. */
#include "kernels/ref/reduce.h"

size_t eml__topk_scratch_bytes(int64_t n)
{
    /* keys, indices and the merge buffer of one row */
    return (size_t)n * 3 * sizeof(uint64_t);
}

/* An unsigned key that orders like the value: a < b iff key(a) < key(b). NaN sorts above +inf,
 * -0.0 equals +0.0, so that ties are decided only by index. */
EML_REDUCE_INLINE uint64_t sort_key(const void *x, eml_dtype dt, int64_t i)
{
    if (eml__elem_is_float(dt)) {
        double v = eml__elem_load_f(x, dt, i);
        if (v != v)
            return UINT64_MAX;
        if (v == 0.0)
            v = 0.0;
        uint64_t b;
        memcpy(&b, &v, sizeof(b));
        return (b >> 63) ? ~b : b | (1ull << 63);
    }
    if (eml__elem_is_sint(dt))
        return (uint64_t)eml__elem_load_s(x, dt, i) ^ (1ull << 63);
    return eml__elem_load_u(x, dt, i);
}

EML_REDUCE_INLINE void row_keys(const void *x, eml_dtype dt, int64_t base, int64_t n, int64_t inner,
                                bool largest, uint64_t *keys)
{
    for (int64_t j = 0; j < n; j++) {
        uint64_t k = sort_key(x, dt, base + j * inner);
        keys[j] = largest ? ~k : k;
    }
}

/* Bottom-up merge sort of idx[0..n) by keys[idx]: stable, so equal keys keep the lower index
 * first. tmp has room for n. */
static void sort_by_key(const uint64_t *keys, int64_t *idx, int64_t *tmp, int64_t n)
{
    int64_t *src = idx, *dst = tmp;
    for (int64_t w = 1; w < n; w *= 2) {
        for (int64_t lo = 0; lo < n; lo += 2 * w) {
            int64_t mid = EML_MIN(lo + w, n), hi = EML_MIN(lo + 2 * w, n);
            int64_t a = lo, b = mid, k = lo;
            while (a < mid && b < hi)
                dst[k++] = keys[src[b]] < keys[src[a]] ? src[b++] : src[a++];
            while (a < mid)
                dst[k++] = src[a++];
            while (b < hi)
                dst[k++] = src[b++];
        }
        int64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != idx)
        memcpy(idx, src, (size_t)n * sizeof(int64_t));
}

eml_status eml__ref_topk(const eml_kernel_ctx *ctx)
{
    const eml_topk_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    int64_t axis, outer, n, inner;
    if (!eml__norm_axis(p->axis, x->rank, &axis))
        return eml__diag(ctx->diag, EML_EINTERNAL, "axis not checked by infer");
    eml__reduce_axis_split(x->dims, x->rank, (int)axis, &outer, &n, &inner);
    /* infer sized the outputs from k */
    int64_t k = ctx->outputs[0].dims[axis];
    if (k < 0 || k > n || ctx->scratch_bytes < eml__topk_scratch_bytes(n))
        return eml__diag(ctx->diag, EML_EINTERNAL, "TopK outputs or scratch not set by infer");
    uint64_t *keys = ctx->scratch;
    int64_t *idx = (int64_t *)(keys + n);
    int64_t *tmp = idx + n;
    size_t elem = eml_dtype_size(x->dtype);
    const uint8_t *xs = x->data;
    uint8_t *values = ctx->outputs[0].data;
    int64_t *indices = ctx->n_outputs > 1 ? ctx->outputs[1].data : NULL;
    bool largest = p->largest != 0;
    for (int64_t o = 0; o < outer && k > 0; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * n * inner + i;
            switch (x->dtype) {
#define KEYS_CASE(suffix)                                                                          \
    case EML_DTYPE_##suffix:                                                                       \
        row_keys(xs, EML_DTYPE_##suffix, base, n, inner, largest, keys);                           \
        break;
                KEYS_CASE(F32) KEYS_CASE(F64) KEYS_CASE(F16) KEYS_CASE(BF16)
                KEYS_CASE(I8) KEYS_CASE(I16) KEYS_CASE(I32) KEYS_CASE(I64)
                KEYS_CASE(U8) KEYS_CASE(U16) KEYS_CASE(U32) KEYS_CASE(U64)
#undef KEYS_CASE
            default:
                return eml__diag(ctx->diag, EML_EUNSUPPORTED, "TopK of %s",
                                 eml_dtype_name(x->dtype));
            }
            for (int64_t j = 0; j < n; j++)
                idx[j] = j;
            sort_by_key(keys, idx, tmp, n);
            /* sorted=0 leaves the order unspecified: sorted order is one valid answer */
            for (int64_t t = 0; t < k; t++) {
                int64_t out = (o * k + t) * inner + i;
                memcpy(values + (size_t)out * elem, xs + (size_t)(base + idx[t] * inner) * elem,
                       elem);
                if (indices)
                    indices[out] = idx[t];
            }
        }
    }
    return EML_OK;
}
