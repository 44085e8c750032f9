/* Fast QConv: plan-time packing of int8 weights (zero-point correction and requantization folded
 * into each panel), and the driver that runs the int8 GEMM micro-kernel over im2col rows (or the
 * input itself for 1x1 convolutions) and the depthwise row kernel, on the pool. */
#include "kernels/fast_qconv.h"
#include "kernels/parallel.h"
#include "kernels/ref/nhwc.h"
#include "kernels/ref/qnhwc.h"

#define EML_QS8_CONV(isa, name, gemm, mr, nr, kg, a_i16, dw, lanes)                                \
    void gemm(size_t, size_t, size_t, const void *, size_t, const void *, uint8_t *, size_t,       \
              const eml_qs8_out *);                                                                \
    void dw(const eml_qs8_dw_job *, int64_t, uint8_t *);
#include "kernels/lists/qs8_conv.inc"
#undef EML_QS8_CONV

static const eml_qs8_conv_kernel kernels[] = {
#define EML_QS8_CONV(isa, name, gemm, mr, nr, kg, a_i16, dw, lanes)                                \
    {name, isa, mr, nr, kg, a_i16, gemm, lanes, dw},
#include "kernels/lists/qs8_conv.inc"
#undef EML_QS8_CONV
    {NULL, 0, 0, 0, 0, false, NULL, 0, NULL}};

const eml_qs8_conv_kernel *eml__qs8_conv_kernels(size_t *count)
{
    *count = sizeof(kernels) / sizeof(kernels[0]) - 1;
    return kernels;
}

/* Rows of A per block (im2col'd together, then swept by every panel of the item's group), and the
 * most threads a node is split over (each has its own block of scratch). */
#define BLOCK_ROWS 32
#define MAX_THREADS 16

typedef struct qconv_state {
    const eml_qs8_conv_kernel *k;
    eml_qconv_params p;
    int64_t o, cg, kh, kw, kdim, kp; /* kp: kdim rounded up to 4 */
    bool depthwise;
    int32_t x_zp;
    eml_qs8_out out;
    int64_t panels;
    size_t panel_bytes;
    void *packed;
} qconv_state;

static size_t round_up(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

static void state_destroy(eml_env *env, void *state)
{
    qconv_state *s = state;
    if (s)
        eml__free(env, s->packed);
    eml__free(env, s);
}

/* ---- packing ---- */

/* koff[k]: where row k of the GEMM's K (running over (ky, kx, c) as the NHWC rows do) sits in
 * one output channel's [C/g, kH, kW] weights. */
static void fill_koff(const qconv_state *s, int64_t *koff)
{
    int64_t k = 0;
    for (int64_t ky = 0; ky < s->kh; ky++)
        for (int64_t kx = 0; kx < s->kw; kx++)
            for (int64_t c = 0; c < s->cg; c++)
                koff[k++] = (c * s->kh + ky) * s->kw + kx;
}

static void pack_gemm(qconv_state *s, const int8_t *w, const int32_t *bias, const eml_qrequant *rq,
                      const int64_t *koff)
{
    const int64_t nr = s->k->nr, kg = s->k->kg;
    for (int64_t pi = 0; pi < s->panels; pi++) {
        int32_t *hdr = (int32_t *)((uint8_t *)s->packed + (size_t)pi * s->panel_bytes);
        int8_t *w8 = (int8_t *)(hdr + EML_QS8_PANEL_HEADER_INTS * nr);
        int16_t *w16 = (int16_t *)w8;
        for (int64_t j = 0; j < nr; j++) {
            const int64_t o = pi * nr + j;
            hdr[nr + j] = 0;
            hdr[2 * nr + j] = 31;
            if (o >= s->o) {
                hdr[j] = 0;
                continue;
            }
            int64_t sum = 0;
            for (int64_t k = 0; k < s->kdim; k++)
                sum += w[o * s->kdim + k]; /* any order: the sum is the same */
            /* modulo 2^32, as the reference kernel sums */
            hdr[j] = (int32_t)((uint32_t)(bias ? bias[o] : 0) - (uint32_t)((int64_t)s->x_zp * sum));
            hdr[nr + j] = rq[o].multiplier;
            hdr[2 * nr + j] = rq[o].shift;
        }
        for (int64_t k = 0; k < s->kp; k++)
            for (int64_t j = 0; j < nr; j++) {
                const int64_t o = pi * nr + j;
                const int8_t v = o < s->o && k < s->kdim ? w[o * s->kdim + koff[k]] : 0;
                const size_t at = (size_t)((k / kg) * nr * kg + j * kg + k % kg);
                if (s->k->a_i16)
                    w16[at] = v;
                else
                    w8[at] = v;
            }
    }
}

static void pack_dw(qconv_state *s, const int8_t *w, const int32_t *bias, const eml_qrequant *rq)
{
    const int64_t cp = (int64_t)round_up((size_t)s->o, s->k->dw_lanes);
    const int64_t taps = s->kh * s->kw;
    int32_t *b = s->packed, *mult = b + cp, *shift = mult + cp, *wt = shift + cp;
    for (int64_t c = 0; c < cp; c++) {
        b[c] = 0;
        mult[c] = 0;
        shift[c] = 31;
        int64_t sum = 0;
        for (int64_t t = 0; t < taps; t++) {
            const int8_t v = c < s->o ? w[c * taps + t] : 0;
            sum += v;
            /* the int8 weight in the low 16 bits, zero above: vpmaddwd then multiplies it with
             * the zero-extended input and adds 0 · 0 */
            wt[t * cp + c] = (int32_t)(uint16_t)(int16_t)v;
        }
        if (c < s->o) {
            b[c] = (int32_t)((uint32_t)(bias ? bias[c] : 0) - (uint32_t)((int64_t)s->x_zp * sum));
            mult[c] = rq[c].multiplier;
            shift[c] = rq[c].shift;
        }
    }
}

/* ---- running ---- */

typedef struct qconv_run {
    const qconv_state *s;
    const eml_conv_geom *g;
    const uint8_t *x;
    uint8_t *y;
    uint8_t *scratch;
    size_t block_bytes;
    int64_t rows, blocks, groups, panels_per_group, items;
    bool direct;
} qconv_run;

/* memcpy for the few bytes of a small window row (a call would cost more than the copy). */
static inline void copy_small(uint8_t *dst, const uint8_t *src, size_t n)
{
    if (n > 16) {
        memcpy(dst, src, n);
    } else if (n >= 8) {
        memcpy(dst, src, 8);
        memcpy(dst + n - 8, src + n - 8, 8);
    } else if (n >= 4) {
        memcpy(dst, src, 4);
        memcpy(dst + n - 4, src + n - 4, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            dst[i] = src[i];
    }
}

/* The row of A of output position (n, oy, ox) into dst: the input under the window, x_zp in the
 * padding, zeros past K; uint8 or widened to int16. */
static void im2col_pixel(const qconv_run *r, int64_t n, int64_t oy, int64_t ox, void *dst)
{
    const qconv_state *s = r->s;
    const eml_conv_geom *g = r->g;
    const int64_t c = g->in_channels;
    uint8_t *d8 = dst;
    int16_t *d16 = dst;
    int64_t k = 0;
    const int64_t ix0 = ox * g->stride[1] - g->pad_begin[1];
    /* the window's row lies inside the image: one copy of kw·c contiguous bytes */
    const bool row_whole = !s->k->a_i16 && g->dilation[1] == 1 && ix0 >= 0 &&
                           ix0 + s->kw <= g->in[1];
    for (int64_t ky = 0; ky < s->kh; ky++) {
        const int64_t iy = oy * g->stride[0] - g->pad_begin[0] + ky * g->dilation[0];
        if (row_whole && iy >= 0 && iy < g->in[0]) {
            copy_small(d8 + k, r->x + ((n * g->in[0] + iy) * g->in[1] + ix0) * c,
                       (size_t)(s->kw * c));
            k += s->kw * c;
            continue;
        }
        for (int64_t kx = 0; kx < s->kw; kx++, k += c) {
            const int64_t ix = ox * g->stride[1] - g->pad_begin[1] + kx * g->dilation[1];
            const bool inside = iy >= 0 && iy < g->in[0] && ix >= 0 && ix < g->in[1];
            const uint8_t *src = r->x + ((n * g->in[0] + iy) * g->in[1] + ix) * c;
            if (s->k->a_i16) {
                for (int64_t i = 0; i < c; i++)
                    d16[k + i] = inside ? src[i] : (int16_t)s->x_zp;
            } else if (inside && c == 3) { /* RGB: a fixed-size copy the compiler inlines */
                memcpy(d8 + k, src, 3);
            } else if (inside && c < 16) {
                for (int64_t i = 0; i < c; i++) /* a call per few bytes costs more than the copy */
                    d8[k + i] = src[i];
            } else if (inside) {
                memcpy(d8 + k, src, (size_t)c);
            } else {
                memset(d8 + k, s->x_zp, (size_t)c);
            }
        }
    }
    for (; k < s->kp; k++) {
        if (s->k->a_i16)
            d16[k] = 0;
        else
            d8[k] = 0;
    }
}

/* Rows [row0, row0 + rows) of A into dst, a_stride bytes apart: the output position is
 * stepped along, not divided out for each row (an RGB stem's rows are a few bytes each). */
static void im2col_rows(const qconv_run *r, int64_t row0, int64_t rows, uint8_t *dst,
                        size_t a_stride)
{
    const int64_t ow = r->g->out[1], oh = r->g->out[0];
    int64_t n = row0 / (oh * ow), oy = row0 / ow % oh, ox = row0 % ow;
    for (int64_t i = 0; i < rows; i++) {
        im2col_pixel(r, n, oy, ox, dst + (size_t)i * a_stride);
        if (++ox == ow) {
            ox = 0;
            if (++oy == oh) {
                oy = 0;
                n++;
            }
        }
    }
}

/* Items [first, end) (row blocks × panel groups) on the thread with index `thread`, which owns
 * that block of the scratch. */
static void gemm_items(void *ctx, size_t first, size_t end, uint32_t thread)
{
    const qconv_run *r = ctx;
    const qconv_state *s = r->s;
    const eml_qs8_conv_kernel *k = s->k;
    const int64_t i0 = (int64_t)first, i1 = (int64_t)end;
    const int64_t o = s->o, nr = k->nr, mr = k->mr;
    const size_t elem = k->a_i16 ? 2 : 1, a_stride = (size_t)s->kp * elem;
    uint8_t *buf = r->scratch + thread * r->block_bytes;
    int64_t filled = -1;
    for (int64_t item = i0; item < i1; item++) {
        const int64_t b = item / r->groups, grp = item % r->groups;
        /* blocks of equal size (within one row), none over BLOCK_ROWS */
        const int64_t row0 = b * r->rows / r->blocks, rows = (b + 1) * r->rows / r->blocks - row0;
        const uint8_t *a;
        size_t stride;
        if (r->direct) {
            a = r->x + row0 * r->g->in_channels;
            stride = (size_t)r->g->in_channels;
        } else {
            if (filled != b) {
                im2col_rows(r, row0, rows, buf, a_stride);
                filled = b;
            }
            a = buf;
            stride = a_stride;
        }
        const int64_t p0 = grp * r->panels_per_group;
        const int64_t p1 = EML_MIN(s->panels, p0 + r->panels_per_group);
        for (int64_t pi = p0; pi < p1; pi++) {
            const void *panel = (const uint8_t *)s->packed + (size_t)pi * s->panel_bytes;
            const size_t nc = (size_t)EML_MIN(nr, o - pi * nr);
            /* as few tiles as MR allows, of heights that differ by at most one (the VNNI
             * kernel computes only the rows it is given: 49 rows as 7 × 7, not 6 × 8 + 1) */
            const int64_t tiles = (rows + mr - 1) / mr, base = rows / tiles, taller = rows % tiles;
            for (int64_t t = 0, i = 0; t < tiles; t++) {
                const int64_t h = base + (t < taller);
                k->gemm((size_t)h, nc, (size_t)s->kp, a + (size_t)i * stride, stride, panel,
                        r->y + (row0 + i) * o + pi * nr, (size_t)o, &s->out);
                i += h;
            }
        }
    }
}

typedef struct dw_run {
    const qconv_state *s;
    eml_qs8_dw_job job;
    const uint8_t *x;
    uint8_t *y;
    int64_t oh, in_image, out_row, rows;
} dw_run;

static void dw_rows(void *ctx, size_t b, size_t e, uint32_t thread)
{
    const dw_run *r = ctx;
    const int64_t i0 = (int64_t)b, i1 = (int64_t)e;
    eml_qs8_dw_job job = r->job;
    (void)thread;
    for (int64_t i = i0; i < i1; i++) {
        const int64_t n = i / r->oh, oy = i % r->oh;
        job.x = r->x + n * r->in_image;
        r->s->k->dw_row(&job, oy, r->y + i * r->out_row);
    }
}

static eml_status qconv_run_fn(const eml_kernel_ctx *ctx)
{
    const qconv_state *s = ctx->params;
    const eml_tensor *x = &ctx->inputs[EML_QCONV_X];
    eml_conv_geom g;
    char why[160];
    eml_status st = eml__nhwc_conv_geom(&s->p.conv, x, &ctx->inputs[EML_QCONV_W], &g, why,
                                        sizeof(why));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "QConv: %s", why);
    const uint32_t threads = ctx->pool ? eml__pool_threads(ctx->pool) : 1;
    if (s->depthwise) {
        dw_run r = {.s = s, .x = x->data, .y = ctx->outputs[0].data, .oh = g.out[0]};
        r.job = (eml_qs8_dw_job){NULL,         g.in[0],         g.in[1],        s->o,
                                 (int64_t)round_up((size_t)s->o, s->k->dw_lanes),
                                 g.out[1],     s->kh,           s->kw,          g.stride[0],
                                 g.stride[1],  g.dilation[0],   g.dilation[1],  g.pad_begin[0],
                                 g.pad_begin[1], s->x_zp,       s->packed,      s->out};
        r.in_image = g.in[0] * g.in[1] * s->o;
        r.out_row = g.out[1] * s->o;
        r.rows = g.batch * g.out[0];
        /* row ranges with thread affinity: each thread reads what it wrote in the last layer */
        eml__parallel_ranges(ctx->pool, (size_t)r.rows, 1, dw_rows, &r);
        return EML_OK;
    }
    qconv_run r = {.s = s, .g = &g, .x = x->data, .y = ctx->outputs[0].data,
                   .scratch = ctx->scratch};
    r.block_bytes = round_up((size_t)BLOCK_ROWS * (size_t)s->kp * (s->k->a_i16 ? 2 : 1), 64);
    r.rows = g.batch * g.out[0] * g.out[1];
    r.direct = !s->k->a_i16 && s->kh == 1 && s->kw == 1 && g.stride[0] == 1 &&
               g.stride[1] == 1 && g.pad_begin[0] == 0 && g.pad_begin[1] == 0 &&
               g.pad_end[0] == 0 && g.pad_end[1] == 0 && s->kp == s->kdim;
    r.blocks = (r.rows + BLOCK_ROWS - 1) / BLOCK_ROWS;
    /* few row blocks (the small late layers): split the panels too, so that threads share work */
    r.groups = r.blocks >= 8 ? 1 : EML_MIN(s->panels, (8 + r.blocks - 1) / r.blocks);
    r.panels_per_group = (s->panels + r.groups - 1) / r.groups;
    r.groups = (s->panels + r.panels_per_group - 1) / r.panels_per_group;
    r.items = r.blocks * r.groups;
    /* item ranges with thread affinity; a thread's scratch block is its index's */
    eml__parallel_ranges(threads <= MAX_THREADS ? ctx->pool : NULL, (size_t)r.items, 1,
                         gemm_items, &r);
    return EML_OK;
}

static size_t qconv_scratch(const void *state, const eml_tensor *inputs, int32_t n_inputs,
                            const eml_tensor *outputs, int32_t n_outputs)
{
    (void)inputs;
    (void)n_inputs;
    (void)outputs;
    (void)n_outputs;
    const qconv_state *s = state;
    if (s->depthwise)
        return 0;
    return MAX_THREADS *
           round_up((size_t)BLOCK_ROWS * (size_t)s->kp * (s->k->a_i16 ? 2 : 1), 64);
}

/* ---- selection ---- */

static const void *const_data(const eml_fast_select_ctx *ctx, int32_t i, eml_dtype dtype)
{
    if (i >= ctx->n_inputs || ctx->inputs[i].dtype == EML_DTYPE_UNDEFINED)
        return NULL;
    return ctx->inputs[i].dtype == dtype ? ctx->inputs[i].data : NULL;
}

static bool present(const eml_fast_select_ctx *ctx, int32_t i)
{
    return i < ctx->n_inputs && ctx->inputs[i].dtype != EML_DTYPE_UNDEFINED;
}

eml_status eml__fast_qconv_select_with(const eml_fast_select_ctx *ctx,
                                       const eml_qs8_conv_kernel *k, eml_fast_kernel *out)
{
    const eml_tensor *in = ctx->inputs;
    const eml_qconv_params *p = ctx->params;
    const int8_t *w = const_data(ctx, EML_QCONV_W, EML_DTYPE_I8);
    const float *xs = const_data(ctx, EML_QCONV_X_SCALE, EML_DTYPE_F32);
    const float *ws = const_data(ctx, EML_QCONV_W_SCALE, EML_DTYPE_F32);
    const float *ys = const_data(ctx, EML_QCONV_Y_SCALE, EML_DTYPE_F32);
    if (!w || !xs || !ws || !ys || in[EML_QCONV_W].rank != 4 ||
        (present(ctx, EML_QCONV_X_ZP) && !const_data(ctx, EML_QCONV_X_ZP, EML_DTYPE_U8)) ||
        (present(ctx, EML_QCONV_Y_ZP) && !const_data(ctx, EML_QCONV_Y_ZP, EML_DTYPE_U8)) ||
        (present(ctx, EML_QCONV_W_ZP) && !const_data(ctx, EML_QCONV_W_ZP, EML_DTYPE_I8)) ||
        (present(ctx, EML_QCONV_B) && !const_data(ctx, EML_QCONV_B, EML_DTYPE_I32)))
        return EML_OK;
    const int64_t o = in[EML_QCONV_W].dims[0], cg = in[EML_QCONV_W].dims[1];
    const int64_t kh = in[EML_QCONV_W].dims[2], kw = in[EML_QCONV_W].dims[3];
    const int64_t ws_count = eml__shape_count(in[EML_QCONV_W_SCALE].dims,
                                              in[EML_QCONV_W_SCALE].rank);
    if (o < 1 || cg < 1 || kh < 1 || kw < 1 || (ws_count != 1 && ws_count != o) ||
        (p->conv.group != 1 && !(cg == 1 && p->conv.group == o)))
        return EML_OK;
    if (present(ctx, EML_QCONV_W_ZP)) {
        const int64_t n = eml__shape_count(in[EML_QCONV_W_ZP].dims, in[EML_QCONV_W_ZP].rank);
        for (int64_t i = 0; i < n; i++)
            if (((const int8_t *)in[EML_QCONV_W_ZP].data)[i] != 0)
                return EML_OK; /* asymmetric weights: the reference kernel */
    }
    if (present(ctx, EML_QCONV_B) &&
        eml__shape_count(in[EML_QCONV_B].dims, in[EML_QCONV_B].rank) != o)
        return EML_OK;
    eml_env *env = ctx->env;
    eml_qrequant *rq = eml__alloc(env, (size_t)o * sizeof(eml_qrequant));
    qconv_state *s = eml__calloc(env, 1, sizeof(qconv_state));
    if (!rq || !s) {
        eml__free(env, rq);
        eml__free(env, s);
        return EML_ENOMEM;
    }
    if (!eml__qconv_requant(xs[0], ws, ws_count, ys[0], o, rq)) {
        eml__free(env, rq);
        eml__free(env, s);
        return EML_OK;
    }
    s->k = k;
    s->p = *p;
    s->o = o;
    s->cg = cg;
    s->kh = kh;
    s->kw = kw;
    s->kdim = kh * kw * cg;
    s->kp = (int64_t)round_up((size_t)s->kdim, 4);
    s->depthwise = p->conv.group != 1;
    s->x_zp = present(ctx, EML_QCONV_X_ZP) ? ((const uint8_t *)in[EML_QCONV_X_ZP].data)[0] : 0;
    s->out.zp = present(ctx, EML_QCONV_Y_ZP) ? ((const uint8_t *)in[EML_QCONV_Y_ZP].data)[0] : 0;
    s->out.qmin = p->qmin;
    s->out.qmax = p->qmax;
    size_t bytes;
    if (s->depthwise) {
        bytes = (size_t)(3 + kh * kw) * round_up((size_t)o, k->dw_lanes) * sizeof(int32_t);
    } else {
        s->panels = (o + k->nr - 1) / k->nr;
        s->panel_bytes = round_up(EML_QS8_PANEL_HEADER_INTS * k->nr * sizeof(int32_t) +
                                      (size_t)s->kp * k->nr * (k->a_i16 ? 2 : 1),
                                  64);
        bytes = (size_t)s->panels * s->panel_bytes;
    }
    s->packed = eml__alloc(env, bytes);
    if (!s->packed) {
        eml__free(env, rq);
        state_destroy(env, s);
        return EML_ENOMEM;
    }
    const int32_t *bias = present(ctx, EML_QCONV_B) ? in[EML_QCONV_B].data : NULL;
    if (s->depthwise) {
        pack_dw(s, w, bias, rq);
    } else {
        int64_t *koff = eml__alloc(env, (size_t)s->kdim * sizeof(int64_t));
        if (!koff) {
            eml__free(env, rq);
            state_destroy(env, s);
            return EML_ENOMEM;
        }
        fill_koff(s, koff);
        pack_gemm(s, w, bias, rq, koff);
        eml__free(env, koff);
    }
    eml__free(env, rq);
    out->name = k->name;
    out->state = s;
    out->run = qconv_run_fn;
    out->scratch_bytes = qconv_scratch;
    out->destroy = state_destroy;
    return EML_OK;
}

eml_status eml__fast_qconv_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    size_t n;
    const eml_qs8_conv_kernel *ks = eml__qs8_conv_kernels(&n);
    for (size_t i = 0; i < n; i++)
        if (eml__cpu_has(ks[i].isa))
            return eml__fast_qconv_select_with(ctx, &ks[i], out);
    return EML_OK;
}
