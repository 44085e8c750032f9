/* Reference kernels of Reduce* (any set of axes), ArgMax/ArgMin and CumSum (one axis). */
#include "kernels/ref/reduce.h"

eml_status eml__reduce_axes_mask(const eml_reduce_params *p, const eml_tensor *axes_input,
                                 int rank, uint32_t *mask, eml_diag *diag)
{
    int64_t n = p->n_axes < 0 ? 0 : p->n_axes;
    bool from_input = p->axes_from_input != 0;
    if (from_input)
        n = axes_input && axes_input->data ? eml_tensor_count(axes_input) : 0;
    uint32_t all = rank >= 32 ? 0xffffffffu : (1u << rank) - 1u;
    if (n <= 0) {
        /* empty axes reduce everything, except ReduceSum 13+ with noop_with_empty_axes */
        *mask = from_input && p->noop_with_empty_axes ? 0 : all;
        return EML_OK;
    }
    *mask = 0;
    for (int64_t i = 0; i < n; i++) {
        int64_t a = from_input ? eml__tensor_get_i64(axes_input, i) : p->axes[i];
        int64_t axis;
        if (!eml__norm_axis(a, rank, &axis))
            return eml__diag(diag, EML_ERANGE, "axis %lld out of range for rank %d", (long long)a,
                             rank);
        if (*mask & (1u << axis))
            return eml__diag(diag, EML_EINVAL, "axis %lld repeated in axes", (long long)a);
        *mask |= 1u << axis;
    }
    return EML_OK;
}

/* Kept and reduced dims of a reduction, each list with runs of contiguous dims merged and size-1
 * dims dropped, so that offsets can be walked with two odometers. */
typedef struct red_iter {
    int n_keep, n_red;
    int64_t keep_dims[EML_MAX_RANK], keep_strides[EML_MAX_RANK];
    int64_t red_dims[EML_MAX_RANK], red_strides[EML_MAX_RANK];
    int64_t out_count, red_count;
} red_iter;

static void add_dim(int64_t *dims, int64_t *strides, int *count, int64_t size, int64_t stride)
{
    if (*count > 0 && strides[*count - 1] == stride * size) {
        dims[*count - 1] *= size;
        strides[*count - 1] = stride;
        return;
    }
    dims[*count] = size;
    strides[*count] = stride;
    (*count)++;
}

static void red_iter_init(red_iter *it, const int64_t *dims, int rank, uint32_t mask)
{
    int64_t strides[EML_MAX_RANK];
    eml__strides(dims, rank, strides);
    it->n_keep = it->n_red = 0;
    it->out_count = it->red_count = 1;
    for (int d = 0; d < rank; d++) {
        bool red = (mask >> d) & 1u;
        if (red)
            it->red_count *= dims[d];
        else
            it->out_count *= dims[d];
        if (dims[d] == 1)
            continue;
        if (red)
            add_dim(it->red_dims, it->red_strides, &it->n_red, dims[d], strides[d]);
        else
            add_dim(it->keep_dims, it->keep_strides, &it->n_keep, dims[d], strides[d]);
    }
}

/* Advances an odometer over dims and returns the next offset. */
EML_REDUCE_INLINE int64_t step(int n, const int64_t *dims, const int64_t *strides, int64_t *idx,
                               int64_t off)
{
    for (int d = n - 1; d >= 0; d--) {
        off += strides[d];
        if (++idx[d] < dims[d])
            return off;
        off -= strides[d] * dims[d];
        idx[d] = 0;
    }
    return off;
}

/* ---- float types: accumulate in double ---- */

/* Max (or min) over the reduced elements; a NaN wins, as in numpy. */
EML_REDUCE_INLINE double red_extreme_f(const red_iter *it, const void *x, eml_dtype dt,
                                       int64_t base, bool is_min)
{
    int64_t idx[EML_MAX_RANK] = {0};
    int64_t off = base;
    double acc = is_min ? INFINITY : -INFINITY;
    for (int64_t r = 0; r < it->red_count; r++) {
        double v = eml__elem_load_f(x, dt, off);
        if ((is_min ? v < acc : v > acc) || v != v)
            acc = v;
        off = step(it->n_red, it->red_dims, it->red_strides, idx, off);
    }
    return acc;
}

EML_REDUCE_INLINE double reduce_one_f(const red_iter *it, int kind, const void *x, eml_dtype dt,
                                      int64_t base)
{
    if (kind == EML_REDUCE_MAX || kind == EML_REDUCE_MIN)
        return red_extreme_f(it, x, dt, base, kind == EML_REDUCE_MIN);
    double shift = 0.0;
    if (kind == EML_REDUCE_LOG_SUM_EXP) {
        /* subtracting the max keeps exp() finite; an infinite or NaN max is the answer itself */
        shift = red_extreme_f(it, x, dt, base, false);
        if (!isfinite(shift))
            return shift;
    }
    int64_t idx[EML_MAX_RANK] = {0};
    int64_t off = base;
    double acc = kind == EML_REDUCE_PROD ? 1.0 : 0.0;
    for (int64_t r = 0; r < it->red_count; r++) {
        double v = eml__elem_load_f(x, dt, off);
        switch (kind) {
        case EML_REDUCE_L1: acc += fabs(v); break;
        case EML_REDUCE_L2:
        case EML_REDUCE_SUM_SQUARE: acc += v * v; break;
        case EML_REDUCE_LOG_SUM_EXP: acc += exp(v - shift); break;
        case EML_REDUCE_PROD: acc *= v; break;
        default: acc += v; break; /* SUM, MEAN, LOG_SUM */
        }
        off = step(it->n_red, it->red_dims, it->red_strides, idx, off);
    }
    switch (kind) {
    case EML_REDUCE_L2: return sqrt(acc);
    case EML_REDUCE_LOG_SUM: return log(acc);
    case EML_REDUCE_LOG_SUM_EXP: return shift + log(acc);
    case EML_REDUCE_MEAN: return acc / (double)it->red_count;
    default: return acc;
    }
}

/* ---- integer types: exact, wrapping arithmetic on 64-bit patterns ---- */

EML_REDUCE_INLINE uint64_t load_bits(const void *x, eml_dtype dt, int64_t i)
{
    if (eml__elem_is_sint(dt))
        return (uint64_t)eml__elem_load_s(x, dt, i);
    return eml__elem_load_u(x, dt, i);
}

EML_REDUCE_INLINE double bits_to_f(uint64_t u, bool sgn)
{
    return sgn ? (double)(int64_t)u : (double)u;
}

EML_REDUCE_INLINE uint64_t f_to_bits(double v, bool sgn)
{
    return sgn ? (uint64_t)eml__elem_sat_i64(v) : eml__elem_sat_u64(v);
}

/* Smallest and largest value of an integer dtype, as 64-bit patterns (identities of max/min). */
static uint64_t int_lowest(eml_dtype dt)
{
    switch (dt) {
    case EML_DTYPE_I8: return (uint64_t)(int64_t)INT8_MIN;
    case EML_DTYPE_I16: return (uint64_t)(int64_t)INT16_MIN;
    case EML_DTYPE_I32: return (uint64_t)(int64_t)INT32_MIN;
    case EML_DTYPE_I64: return (uint64_t)INT64_MIN;
    default: return 0;
    }
}

static uint64_t int_highest(eml_dtype dt)
{
    switch (dt) {
    case EML_DTYPE_I8: return INT8_MAX;
    case EML_DTYPE_I16: return INT16_MAX;
    case EML_DTYPE_I32: return INT32_MAX;
    case EML_DTYPE_I64: return INT64_MAX;
    case EML_DTYPE_U8: return UINT8_MAX;
    case EML_DTYPE_U16: return UINT16_MAX;
    case EML_DTYPE_U32: return UINT32_MAX;
    default: return UINT64_MAX;
    }
}

/* Largest reduced element as a double (0 when there is none): the shift of LogSumExp. */
EML_REDUCE_INLINE double red_max_i(const red_iter *it, const void *x, eml_dtype dt, int64_t base)
{
    int64_t idx[EML_MAX_RANK] = {0};
    int64_t off = base;
    double acc = 0.0;
    for (int64_t r = 0; r < it->red_count; r++) {
        double v = bits_to_f(load_bits(x, dt, off), eml__elem_is_sint(dt));
        if (r == 0 || v > acc)
            acc = v;
        off = step(it->n_red, it->red_dims, it->red_strides, idx, off);
    }
    return acc;
}

EML_REDUCE_INLINE uint64_t reduce_one_i(const red_iter *it, int kind, const void *x, eml_dtype dt,
                                        int64_t base)
{
    bool sgn = eml__elem_is_sint(dt);
    int64_t idx[EML_MAX_RANK] = {0};
    int64_t off = base;
    uint64_t acc = kind == EML_REDUCE_PROD ? 1u
                   : kind == EML_REDUCE_MAX ? int_lowest(dt)
                   : kind == EML_REDUCE_MIN ? int_highest(dt)
                                            : 0u;
    double facc = 0.0;
    double shift = kind == EML_REDUCE_LOG_SUM_EXP ? red_max_i(it, x, dt, base) : 0.0;
    for (int64_t r = 0; r < it->red_count; r++) {
        uint64_t v = load_bits(x, dt, off);
        bool neg = sgn && (int64_t)v < 0;
        switch (kind) {
        case EML_REDUCE_L1: acc += neg ? 0u - v : v; break;
        case EML_REDUCE_L2:
        case EML_REDUCE_SUM_SQUARE: acc += v * v; break;
        case EML_REDUCE_LOG_SUM_EXP: facc += exp(bits_to_f(v, sgn) - shift); break;
        case EML_REDUCE_PROD: acc *= v; break;
        case EML_REDUCE_MAX:
            if (sgn ? (int64_t)v > (int64_t)acc : v > acc)
                acc = v;
            break;
        case EML_REDUCE_MIN:
            if (sgn ? (int64_t)v < (int64_t)acc : v < acc)
                acc = v;
            break;
        default: acc += v; break; /* SUM, MEAN, LOG_SUM */
        }
        off = step(it->n_red, it->red_dims, it->red_strides, idx, off);
    }
    switch (kind) {
    case EML_REDUCE_L2: return f_to_bits(sqrt((double)acc), sgn);
    case EML_REDUCE_LOG_SUM: return f_to_bits(log(bits_to_f(acc, sgn)), sgn);
    case EML_REDUCE_LOG_SUM_EXP: return f_to_bits(shift + log(facc), sgn);
    case EML_REDUCE_MEAN:
        if (it->red_count == 0)
            return 0;
        return sgn ? (uint64_t)((int64_t)acc / it->red_count) : acc / (uint64_t)it->red_count;
    default: return acc;
    }
}

EML_REDUCE_INLINE void reduce_run(const red_iter *it, int kind, const void *x, void *y,
                                  eml_dtype dt)
{
    int64_t idx[EML_MAX_RANK] = {0};
    int64_t base = 0;
    for (int64_t o = 0; o < it->out_count; o++) {
        if (eml__elem_is_float(dt))
            eml__elem_store_f(y, dt, o, reduce_one_f(it, kind, x, dt, base));
        else
            eml__elem_store_bits(y, dt, o, reduce_one_i(it, kind, x, dt, base));
        base = step(it->n_keep, it->keep_dims, it->keep_strides, idx, base);
    }
}

eml_status eml__ref_reduce(const eml_kernel_ctx *ctx)
{
    const eml_reduce_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    const eml_tensor *axes = eml__kin_present(ctx, 1) ? &ctx->inputs[1] : NULL;
    uint32_t mask;
    eml_status st = eml__reduce_axes_mask(p, axes, x->rank, &mask, ctx->diag);
    if (st != EML_OK)
        return st;
    red_iter it;
    red_iter_init(&it, x->dims, x->rank, mask);
    void *y = ctx->outputs[0].data;
    int kind = p->kind;
    switch (x->dtype) {
    case EML_DTYPE_F32: reduce_run(&it, kind, x->data, y, EML_DTYPE_F32); break;
    case EML_DTYPE_F64: reduce_run(&it, kind, x->data, y, EML_DTYPE_F64); break;
    case EML_DTYPE_F16: reduce_run(&it, kind, x->data, y, EML_DTYPE_F16); break;
    case EML_DTYPE_BF16: reduce_run(&it, kind, x->data, y, EML_DTYPE_BF16); break;
    case EML_DTYPE_I8: reduce_run(&it, kind, x->data, y, EML_DTYPE_I8); break;
    case EML_DTYPE_U8: reduce_run(&it, kind, x->data, y, EML_DTYPE_U8); break;
    case EML_DTYPE_I32: reduce_run(&it, kind, x->data, y, EML_DTYPE_I32); break;
    case EML_DTYPE_U32: reduce_run(&it, kind, x->data, y, EML_DTYPE_U32); break;
    case EML_DTYPE_I64: reduce_run(&it, kind, x->data, y, EML_DTYPE_I64); break;
    case EML_DTYPE_U64: reduce_run(&it, kind, x->data, y, EML_DTYPE_U64); break;
    default:
        return eml__diag(ctx->diag, EML_EUNSUPPORTED, "reduce of %s",
                         eml_dtype_name(x->dtype));
    }
    return EML_OK;
}

/* ---- ArgMax / ArgMin ---- */

/* True when element a should replace the best so far, b. Ties keep the first index unless
 * select_last; for floats the first NaN wins, as in numpy. */
EML_REDUCE_INLINE bool arg_better(const void *x, eml_dtype dt, int64_t a, int64_t b, bool is_min,
                                  bool last)
{
    if (eml__elem_is_float(dt)) {
        double va = eml__elem_load_f(x, dt, a), vb = eml__elem_load_f(x, dt, b);
        if (vb != vb)
            return false;
        if (va != va)
            return true;
        if (is_min)
            return last ? va <= vb : va < vb;
        return last ? va >= vb : va > vb;
    }
    if (eml__elem_is_sint(dt)) {
        int64_t va = eml__elem_load_s(x, dt, a), vb = eml__elem_load_s(x, dt, b);
        if (is_min)
            return last ? va <= vb : va < vb;
        return last ? va >= vb : va > vb;
    }
    uint64_t va = eml__elem_load_u(x, dt, a), vb = eml__elem_load_u(x, dt, b);
    if (is_min)
        return last ? va <= vb : va < vb;
    return last ? va >= vb : va > vb;
}

EML_REDUCE_INLINE void argminmax_run(const void *x, int64_t *y, eml_dtype dt, int64_t outer,
                                     int64_t n, int64_t inner, bool is_min, bool last)
{
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t base = o * n * inner + i;
            int64_t best = 0;
            for (int64_t j = 1; j < n; j++) {
                if (arg_better(x, dt, base + j * inner, base + best * inner, is_min, last))
                    best = j;
            }
            y[o * inner + i] = best;
        }
    }
}

eml_status eml__ref_argminmax(const eml_kernel_ctx *ctx)
{
    const eml_argminmax_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    int64_t axis, outer, n, inner;
    if (!eml__norm_axis(p->axis, x->rank, &axis))
        return eml__diag(ctx->diag, EML_EINTERNAL, "axis not checked by infer");
    eml__reduce_axis_split(x->dims, x->rank, (int)axis, &outer, &n, &inner);
    int64_t *y = ctx->outputs[0].data;
    bool is_min = p->is_min != 0, last = p->select_last_index != 0;
    switch (x->dtype) {
#define ARG_CASE(suffix)                                                                           \
    case EML_DTYPE_##suffix:                                                                       \
        argminmax_run(x->data, y, EML_DTYPE_##suffix, outer, n, inner, is_min, last);              \
        break;
        ARG_CASE(F32) ARG_CASE(F64) ARG_CASE(F16) ARG_CASE(BF16)
        ARG_CASE(I8) ARG_CASE(I16) ARG_CASE(I32) ARG_CASE(I64)
        ARG_CASE(U8) ARG_CASE(U16) ARG_CASE(U32) ARG_CASE(U64)
#undef ARG_CASE
    default:
        return eml__diag(ctx->diag, EML_EUNSUPPORTED, "arg min/max of %s",
                         eml_dtype_name(x->dtype));
    }
    return EML_OK;
}

/* ---- CumSum ---- */

EML_REDUCE_INLINE void cumsum_run(const void *x, void *y, eml_dtype dt, int64_t outer, int64_t n,
                                  int64_t inner, bool exclusive, bool reverse)
{
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            double facc = 0.0;
            uint64_t iacc = 0; /* integers wrap, as a C sum of that type would */
            for (int64_t jj = 0; jj < n; jj++) {
                int64_t j = reverse ? n - 1 - jj : jj;
                int64_t off = (o * n + j) * inner + i;
                if (eml__elem_is_float(dt)) {
                    double v = eml__elem_load_f(x, dt, off);
                    if (!exclusive)
                        facc += v;
                    eml__elem_store_f(y, dt, off, facc);
                    if (exclusive)
                        facc += v;
                } else {
                    uint64_t v = load_bits(x, dt, off);
                    if (!exclusive)
                        iacc += v;
                    eml__elem_store_bits(y, dt, off, iacc);
                    if (exclusive)
                        iacc += v;
                }
            }
        }
    }
}

eml_status eml__ref_cumsum(const eml_kernel_ctx *ctx)
{
    const eml_cumsum_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    int64_t a = eml__tensor_get_i64(&ctx->inputs[1], 0);
    int64_t axis, outer, n, inner;
    if (!eml__norm_axis(a, x->rank, &axis))
        return eml__diag(ctx->diag, EML_ERANGE, "CumSum axis %lld out of range for rank %d",
                         (long long)a, (int)x->rank);
    eml__reduce_axis_split(x->dims, x->rank, (int)axis, &outer, &n, &inner);
    void *y = ctx->outputs[0].data;
    bool excl = p->exclusive != 0, rev = p->reverse != 0;
    switch (x->dtype) {
#define CUMSUM_CASE(suffix)                                                                        \
    case EML_DTYPE_##suffix:                                                                       \
        cumsum_run(x->data, y, EML_DTYPE_##suffix, outer, n, inner, excl, rev);                    \
        break;
        CUMSUM_CASE(F32) CUMSUM_CASE(F64) CUMSUM_CASE(F16) CUMSUM_CASE(BF16)
        CUMSUM_CASE(I32) CUMSUM_CASE(I64) CUMSUM_CASE(U32) CUMSUM_CASE(U64)
#undef CUMSUM_CASE
    default:
        return eml__diag(ctx->diag, EML_EUNSUPPORTED, "CumSum of %s", eml_dtype_name(x->dtype));
    }
    return EML_OK;
}
