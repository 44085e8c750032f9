/* Reference pooling kernels (AveragePool, MaxPool with Indices, the global pools) and LRN.
 * Values are read as double: exact for every type these ops take, and one code path for all. */
#include <math.h>
#include <stdio.h>

#include "kernels/ref/pool.h"

static inline double load(eml_dtype dt, const void *p, int64_t i)
{
    switch (dt) {
    case EML_DTYPE_F32: return ((const float *)p)[i];
    case EML_DTYPE_F64: return ((const double *)p)[i];
    case EML_DTYPE_F16: return eml_f16_to_f32(((const uint16_t *)p)[i]);
    case EML_DTYPE_BF16: return eml_bf16_to_f32(((const uint16_t *)p)[i]);
    case EML_DTYPE_U8: return ((const uint8_t *)p)[i];
    case EML_DTYPE_I8: return ((const int8_t *)p)[i];
    default: return 0.0;
    }
}

/* Results are in range for the type by construction (a max or mean of its own values). */
static inline void store(eml_dtype dt, void *p, int64_t i, double v)
{
    switch (dt) {
    case EML_DTYPE_F32: ((float *)p)[i] = (float)v; break;
    case EML_DTYPE_F64: ((double *)p)[i] = v; break;
    case EML_DTYPE_F16: ((uint16_t *)p)[i] = eml_f32_to_f16((float)v); break;
    case EML_DTYPE_BF16: ((uint16_t *)p)[i] = eml_f32_to_bf16((float)v); break;
    case EML_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case EML_DTYPE_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    default: break;
    }
}

static double lowest(eml_dtype dt)
{
    return dt == EML_DTYPE_U8 ? 0.0 : dt == EML_DTYPE_I8 ? -128.0 : -INFINITY;
}

eml_status eml__pool_geom(const eml_pool_params *p, const eml_tensor *x, eml_conv_geom *g,
                          char *why, size_t why_cap)
{
    memset(g, 0, sizeof(*g));
    if (x->rank < 3) {
        snprintf(why, why_cap, "input X has rank %d, expected at least 3", (int)x->rank);
        return EML_ESHAPE;
    }
    const int ns = x->rank - 2;
    const int32_t counts[] = {p->kernel_count, p->strides_count, p->dilations_count,
                              p->pads_count};
    const char *const names[] = {"kernel_shape", "strides", "dilations", "pads"};
    for (int i = 0; i < 4; i++) {
        int want = i == 3 ? 2 * ns : ns;
        if ((i == 0 || counts[i] >= 0) && counts[i] != want) {
            snprintf(why, why_cap, "%s has %d values, expected %d", names[i], (int)counts[i],
                     want);
            return EML_ESHAPE;
        }
    }
    g->n_spatial = ns;
    g->batch = x->dims[0];
    g->in_channels = g->out_channels = x->dims[1];
    g->group = 1;
    for (int i = 0; i < ns; i++) {
        g->in[i] = x->dims[i + 2];
        g->kernel[i] = p->kernel[i];
        g->stride[i] = p->strides_count > 0 ? p->strides[i] : 1;
        g->dilation[i] = p->dilations_count > 0 ? p->dilations[i] : 1;
        int64_t ek = (g->kernel[i] - 1) * g->dilation[i] + 1;
        if (!eml__conv_out_dim(p->auto_pad, g->in[i], ek, g->stride[i],
                               p->pads_count > 0 ? p->pads[i] : 0,
                               p->pads_count > 0 ? p->pads[i + ns] : 0, p->ceil_mode != 0,
                               &g->out[i], &g->pad_begin[i], &g->pad_end[i])) {
            snprintf(why, why_cap, "spatial dim %d of size %lld leaves no output", i + 2,
                     (long long)g->in[i]);
            return EML_ESHAPE;
        }
    }
    g->in_size = eml__shape_count(g->in, ns);
    g->out_size = eml__shape_count(g->out, ns);
    g->kernel_size = eml__shape_count(g->kernel, ns);
    if (g->in_size < 0 || g->out_size < 0 || g->kernel_size < 0) {
        snprintf(why, why_cap, "spatial sizes overflow");
        return EML_ESHAPE;
    }
    return EML_OK;
}

/* ---- AveragePool / MaxPool ---- */

/* The window of one output coordinate along one axis: its first input position, the taps
 * [klo, khi) that fall inside the input, and the size count_include_pad divides by (padding
 * included, but not past the end padding that ceil_mode may reach). Computed once per call into
 * scratch, so that the per-window work has no divisions. */
typedef struct pool_axis {
    int64_t start, klo, khi, padded;
} pool_axis;

size_t eml__pool_scratch_bytes(const eml_conv_geom *g)
{
    int64_t n = 0;
    for (int d = 0; d < g->n_spatial; d++)
        n += g->out[d];
    return (size_t)n * sizeof(pool_axis);
}

static void fill_axes(const eml_conv_geom *g, pool_axis *table, const pool_axis **axis)
{
    for (int d = 0; d < g->n_spatial; d++) {
        const int64_t dil = g->dilation[d];
        axis[d] = table;
        for (int64_t o = 0; o < g->out[d]; o++, table++) {
            const int64_t start = o * g->stride[d] - g->pad_begin[d];
            table->start = start;
            table->klo = start < 0 ? (-start + dil - 1) / dil : 0;
            table->khi = g->in[d] > start
                             ? EML_MIN(g->kernel[d], (g->in[d] - start + dil - 1) / dil)
                             : 0;
            table->padded = EML_MIN(start + g->kernel[d], g->in[d] + g->pad_end[d]) - start;
        }
    }
}

typedef struct pool_job {
    const eml_conv_geom *g;
    const eml_pool_params *p;
    const pool_axis *axis[EML_CONV_MAX_SPATIAL];
    const eml_tensor *x;
    eml_tensor *y;
    int64_t *indices;   /* MaxPool's optional second output, NULL when not asked for */
} pool_job;

/* Indices are row-major offsets in the plane; storage_order 1 asks for column-major ones. */
static int64_t column_major(const eml_conv_geom *g, int64_t offset)
{
    int64_t index = 0, scale = 1, coord[EML_CONV_MAX_SPATIAL];
    for (int d = g->n_spatial - 1; d >= 0; d--) {
        coord[d] = offset % g->in[d];
        offset /= g->in[d];
    }
    for (int d = 0; d < g->n_spatial; d++) {
        index += coord[d] * scale;
        scale *= g->in[d];
    }
    return index;
}

/* The taps [t0, t1) of one run along the innermost axis, read as T (the dtype switch is per
 * run, not per tap). */
#define LOAD_PLAIN(v) (v)
#define POOL_RUN(T, LOAD)                                                                          \
    do {                                                                                           \
        const T *xs = (const T *)x + x0;                                                           \
        for (int64_t t = t0; t < t1; t++) {                                                        \
            const int64_t i = off + t * dil_last;                                                  \
            const double v = (double)LOAD(xs[i]);                                                  \
            if (!is_max) {                                                                         \
                sum += v;                                                                          \
            } else if (v > best || (best_off < 0 && v == best)) {                                  \
                best = v; /* the first maximum wins; NaN never does */                             \
                best_off = i;                                                                      \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* One (n, c) plane: every output window, its valid taps walked as runs along the innermost axis
 * with an odometer over the outer axes. */
static void pool_plane(void *ctx, size_t plane)
{
    const pool_job *j = ctx;
    const eml_conv_geom *g = j->g;
    const int ns = g->n_spatial, last = ns - 1;
    const eml_dtype dt = j->x->dtype;
    const bool is_max = j->p->is_max != 0;
    const void *x = j->x->data;
    const int64_t x0 = (int64_t)plane * g->in_size, y0 = (int64_t)plane * g->out_size;
    const int64_t dil_last = g->dilation[last];
    int64_t row_stride[EML_CONV_MAX_SPATIAL];
    eml__strides(g->in, ns, row_stride);
    int64_t o[EML_CONV_MAX_SPATIAL] = {0};
    for (int64_t q = 0; q < g->out_size; q++) {
        const pool_axis *a[EML_CONV_MAX_SPATIAL];
        int64_t k[EML_CONV_MAX_SPATIAL];
        int64_t padded = 1;
        bool empty = false;
        for (int d = 0; d < ns; d++) {
            a[d] = &j->axis[d][o[d]];
            padded *= a[d]->padded;
            empty = empty || a[d]->klo >= a[d]->khi;
            k[d] = a[d]->klo;
        }
        double best = lowest(dt), sum = 0.0;
        int64_t best_off = -1, count = 0;
        while (!empty) {
            int64_t off = a[last]->start;
            for (int d = 0; d < last; d++)
                off += (a[d]->start + k[d] * g->dilation[d]) * row_stride[d];
            const int64_t t0 = a[last]->klo, t1 = a[last]->khi;
            switch (dt) {
            case EML_DTYPE_F32: POOL_RUN(float, LOAD_PLAIN); break;
            case EML_DTYPE_F64: POOL_RUN(double, LOAD_PLAIN); break;
            case EML_DTYPE_F16: POOL_RUN(uint16_t, eml_f16_to_f32); break;
            case EML_DTYPE_BF16: POOL_RUN(uint16_t, eml_bf16_to_f32); break;
            case EML_DTYPE_U8: POOL_RUN(uint8_t, LOAD_PLAIN); break;
            case EML_DTYPE_I8: POOL_RUN(int8_t, LOAD_PLAIN); break;
            default: break;
            }
            count += a[last]->khi - a[last]->klo;
            int d = last - 1;
            for (; d >= 0; d--) {
                if (++k[d] < a[d]->khi)
                    break;
                k[d] = a[d]->klo;
            }
            if (d < 0)
                break;
        }
        if (is_max) {
            store(dt, j->y->data, y0 + q, best);
            if (j->indices && best_off < 0)
                j->indices[y0 + q] = -1;
            else if (j->indices)
                j->indices[y0 + q] =
                    x0 + (j->p->storage_order ? column_major(g, best_off) : best_off);
        } else {
            int64_t divisor = j->p->count_include_pad ? padded : count;
            store(dt, j->y->data, y0 + q, divisor > 0 ? sum / (double)divisor : NAN);
        }
        for (int d = last; d >= 0; d--) {
            if (++o[d] < g->out[d])
                break;
            o[d] = 0;
        }
    }
}

eml_status eml__ref_pool(const eml_kernel_ctx *ctx)
{
    const eml_pool_params *p = ctx->params;
    eml_conv_geom g;
    char why[128];
    eml_status st = eml__pool_geom(p, &ctx->inputs[0], &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "pool: %s", why);
    pool_job j = {.g = &g, .p = p, .x = &ctx->inputs[0], .y = &ctx->outputs[0]};
    fill_axes(&g, ctx->scratch, j.axis);
    if (p->is_max && ctx->n_outputs > 1 && ctx->outputs[1].data)
        j.indices = ctx->outputs[1].data;
    const int64_t planes = g.batch * g.in_channels;
    bool small = (double)planes * (double)g.out_size * (double)g.kernel_size < EML_CONV_INLINE_WORK;
    eml__pool_run(small ? NULL : ctx->pool, (size_t)planes, pool_plane, &j);
    return EML_OK;
}

/* ---- GlobalAveragePool / GlobalMaxPool ---- */

typedef struct global_job {
    const eml_tensor *x;
    eml_tensor *y;
    int64_t size;
    bool is_max;
} global_job;

static void global_plane(void *ctx, size_t plane)
{
    const global_job *j = ctx;
    const eml_dtype dt = j->x->dtype;
    const int64_t x0 = (int64_t)plane * j->size;
    double acc = j->is_max ? lowest(dt) : 0.0;
    for (int64_t i = 0; i < j->size; i++) {
        double v = load(dt, j->x->data, x0 + i);
        if (!j->is_max)
            acc += v;
        else if (v > acc)   /* NaN is skipped, as in MaxPool */
            acc = v;
    }
    if (!j->is_max)
        acc = j->size > 0 ? acc / (double)j->size : NAN;
    store(dt, j->y->data, (int64_t)plane, acc);
}

eml_status eml__ref_global_pool(const eml_kernel_ctx *ctx)
{
    const eml_global_pool_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    global_job j = {x, &ctx->outputs[0], eml__shape_count(x->dims + 2, x->rank - 2),
                    p->is_max != 0};
    const int64_t planes = x->dims[0] * x->dims[1];
    bool small = (double)planes * (double)j.size < EML_CONV_INLINE_WORK;
    eml__pool_run(small ? NULL : ctx->pool, (size_t)planes, global_plane, &j);
    return EML_OK;
}

/* ---- LRN ---- */

typedef struct lrn_job {
    const eml_lrn_params *p;
    const eml_tensor *x;
    eml_tensor *y;
    int64_t channels, size;   /* size: elements per channel */
} lrn_job;

/* One (n, c) plane: the sum of squares runs over channels c - floor((size-1)/2) ..
 * c + ceil((size-1)/2), clipped to the tensor. */
static void lrn_plane(void *ctx, size_t plane)
{
    const lrn_job *j = ctx;
    const eml_dtype dt = j->x->dtype;
    const int64_t n = (int64_t)plane / j->channels, c = (int64_t)plane % j->channels;
    const int64_t lo = EML_MAX(0, c - (j->p->size - 1) / 2);
    const int64_t hi = EML_MIN(j->channels - 1, c + j->p->size / 2);
    const double scale = (double)j->p->alpha / (double)j->p->size;
    const int64_t base = n * j->channels * j->size;
    for (int64_t i = 0; i < j->size; i++) {
        double sq = 0.0;
        for (int64_t cc = lo; cc <= hi; cc++) {
            double v = load(dt, j->x->data, base + cc * j->size + i);
            sq += v * v;
        }
        double v = load(dt, j->x->data, base + c * j->size + i);
        store(dt, j->y->data, base + c * j->size + i,
              v / pow((double)j->p->bias + scale * sq, (double)j->p->beta));
    }
}

eml_status eml__ref_lrn(const eml_kernel_ctx *ctx)
{
    const eml_tensor *x = &ctx->inputs[0];
    lrn_job j = {ctx->params, x, &ctx->outputs[0], x->dims[1],
                 eml__shape_count(x->dims + 2, x->rank - 2)};
    const int64_t planes = x->dims[0] * x->dims[1];
    bool small = (double)planes * (double)j.size * (double)j.p->size < EML_CONV_INLINE_WORK;
    eml__pool_run(small ? NULL : ctx->pool, (size_t)planes, lrn_plane, &j);
    return EML_OK;
}
