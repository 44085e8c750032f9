/* The GEMM paths of the fast NhwcConv (see fast_nhwc_conv.c): a 1x1 conv as one GEMM over the
 * input, im2col rows gathered block by block into per-thread scratch, and the indirect GEMM whose
 * micro-kernel reads each row through one pointer per kernel tap (the input pixel under it, or a
 * zero row in the padding), so no row is copied. */
#include <math.h>

#include "kernels/fast_nhwc_conv.h"
#include "kernels/parallel.h"

/* The pool, or NULL when the conv is too small to share (see NHWC_GEMM_INLINE_MACS). */
static eml_pool *pool_for(const eml_kernel_ctx *ctx, const eml_nhwc_conv_state *s, size_t m)
{
    const double macs = (double)m * (double)s->out_channels * (double)s->kdim;
    return macs < s->inline_macs ? NULL : ctx->pool;
}

typedef struct gemm_job {
    const eml_nhwc_conv_state *s;
    const eml_conv_geom *g;
    const float *x, *z;
    float *y;
    float *scratch;
    size_t m, rows, blocks, slot_floats;
    size_t col_block; /* wide: output channels per block, a multiple of NR */
    size_t col_blocks, row_parts; /* wide: blocks across the channels, parts of the pixels */
    float min, max;
    bool epilogue;
} gemm_job;

/* im2col rows of pixels [m0, m0 + rows) for the channels of group gi: row i holds, for each
 * kernel row and column in order, the cg input channels under that tap (zeros in the padding). */
static void im2col(const gemm_job *j, int64_t gi, size_t m0, size_t rows, float *col)
{
    const eml_conv_geom *g = j->g;
    const eml_nhwc_conv_state *s = j->s;
    const int64_t H = g->in[0], W = g->in[1], C = g->in_channels;
    const int64_t OH = g->out[0], OW = g->out[1], KH = s->kh, KW = s->kw, cg = s->cg;
    const int64_t sh = g->stride[0], sw = g->stride[1], dh = g->dilation[0], dw = g->dilation[1];
    /* with one group and no dilation, a kernel row's taps are one run of the input row */
    const bool runs = dw == 1 && cg == C;
    int64_t n = (int64_t)m0 / (OH * OW), oh = (int64_t)m0 / OW % OH, ow = (int64_t)m0 % OW;
    for (size_t i = 0; i < rows; i++) {
        float *dst = col + i * s->kdim;
        const float *xn = j->x + n * H * W * C + gi * cg;
        const int64_t ih0 = oh * sh - g->pad_begin[0], iw0 = ow * sw - g->pad_begin[1];
        for (int64_t kh = 0; kh < KH; kh++, dst += KW * cg) {
            const int64_t ih = ih0 + kh * dh;
            if (ih < 0 || ih >= H) {
                memset(dst, 0, (size_t)(KW * cg) * sizeof(float));
                continue;
            }
            const float *xr = xn + ih * W * C;
            if (runs && iw0 >= 0 && iw0 + KW <= W) {
                memcpy(dst, xr + iw0 * C, (size_t)(KW * C) * sizeof(float));
                continue;
            }
            for (int64_t kw = 0; kw < KW; kw++) {
                const int64_t iw = iw0 + kw * dw;
                float *d = dst + kw * cg;
                if (iw < 0 || iw >= W)
                    memset(d, 0, (size_t)cg * sizeof(float));
                else
                    memcpy(d, xr + iw * C, (size_t)cg * sizeof(float));
            }
        }
        if (++ow == OW) {
            ow = 0;
            if (++oh == OH) {
                oh = 0;
                n++;
            }
        }
    }
}

/* One slot: takes pixel blocks until none is left, gathering im2col rows into its own scratch. */
/* Pixel blocks [b0, b1) on one thread, gathering im2col rows into that thread's scratch. */
static void gemm_blocks(void *ctx, size_t b0, size_t b1, uint32_t thread)
{
    const gemm_job *j = ctx;
    const eml_nhwc_conv_state *s = j->s;
    const size_t O = (size_t)s->out_channels, C = (size_t)j->g->in_channels;
    const size_t og = (size_t)s->og, cg = (size_t)s->cg;
    float *col = j->scratch ? j->scratch + thread * j->slot_floats : NULL;
    for (size_t b = b0; b < b1; b++) {
        /* blocks of equal size (within one row), none longer than j->rows: 49 pixels in 8-row
         * blocks go as 7 × 7, not 6 × 8 + 1 (a 1-row GEMM runs at a fraction of the speed) */
        const size_t m0 = b * j->m / j->blocks, rows = (b + 1) * j->m / j->blocks - m0;
        float *y = j->y + m0 * O;
        for (int64_t gi = 0; gi < s->group; gi++) {
            const float *a;
            size_t lda;
            if (s->kind == NHWC_CONV_DIRECT) {
                a = j->x + m0 * C + (size_t)gi * cg;
                lda = C;
            } else {
                im2col(j, gi, m0, rows, col);
                a = col;
                lda = s->kdim;
            }
            eml__f32_gemm_run(s->gemm, rows, og, s->kdim, a, lda,
                              s->packed + (size_t)gi * s->group_floats, y + (size_t)gi * og, O,
                              j->min, j->max, NULL);
        }
        if (j->epilogue)
            eml__nhwc_conv_epilogue(s, y, j->z ? j->z + m0 * O : NULL, rows, O, O);
    }
}

/* Wide convs, first step: im2col rows of one block of pixels into the shared scratch. */
static void wide_im2col(void *ctx, size_t b)
{
    const gemm_job *j = ctx;
    const size_t m0 = b * j->rows;
    im2col(j, 0, m0, EML_MIN(j->rows, j->m - m0), j->scratch + m0 * j->s->kdim);
}

/* Wide convs, second step: every pixel for one block of output channels (one group). */
static void wide_cols(void *ctx, size_t b)
{
    const gemm_job *j = ctx;
    const eml_nhwc_conv_state *s = j->s;
    const size_t part = b / j->col_blocks;
    const size_t O = (size_t)s->out_channels, n0 = b % j->col_blocks * j->col_block;
    const size_t cols = EML_MIN(j->col_block, O - n0);
    const size_t m0 = part * j->m / j->row_parts, m1 = (part + 1) * j->m / j->row_parts;
    const float *a = s->kind == NHWC_CONV_DIRECT ? j->x : j->scratch;
    const size_t lda = s->kind == NHWC_CONV_DIRECT ? (size_t)j->g->in_channels : s->kdim;
    /* a block of whole panels: its weights start at panel n0 / NR */
    const float *w = s->packed + n0 / s->packing.nr * s->panel_floats;
    eml__f32_gemm_run(s->gemm, m1 - m0, cols, s->kdim, a + m0 * lda, lda, w, j->y + m0 * O + n0,
                      O, j->min, j->max, NULL);
    if (j->epilogue)
        eml__nhwc_conv_epilogue(s, j->y + m0 * O + n0, j->z ? j->z + m0 * O + n0 : NULL,
                                m1 - m0, cols, O);
}

eml_status eml__nhwc_conv_run_gemm(const eml_kernel_ctx *ctx, const eml_nhwc_conv_state *s,
                                   const eml_conv_geom *g, const float *z, float min, float max)
{
    gemm_job j = {
        .s = s,
        .g = g,
        .x = ctx->inputs[0].data,
        .z = z,
        .y = ctx->outputs[0].data,
        .m = eml__nhwc_conv_out_pixels(&ctx->outputs[0]),
        .min = min,
        .max = max,
        .epilogue = z || !s->act_is_clamp,
    };
    if (ctx->scratch_bytes < eml__nhwc_conv_scratch_floats(s, g) * sizeof(float))
        return eml__diag(ctx->diag, EML_EINTERNAL, "NhwcConv: scratch too small");
    j.scratch = ctx->scratch;
    j.rows = eml__nhwc_conv_block_rows(s, j.m, s->packing.mr);
    j.blocks = (j.m + j.rows - 1) / j.rows;
    eml_pool *pool = pool_for(ctx, s, j.m);
    const size_t threads = (size_t)eml__pool_threads(pool);
    if (eml__nhwc_conv_run_wide(s, j.m)) {
        const size_t nr = s->packing.nr, panels = ((size_t)s->out_channels + nr - 1) / nr;
        const size_t per = (panels + NHWC_WIDE_BLOCKS_WANTED - 1) / NHWC_WIDE_BLOCKS_WANTED;
        j.col_block = per * nr;
        if (s->kind == NHWC_CONV_IM2COL)
            eml__pool_run(j.blocks > 1 ? pool : NULL, j.blocks, wide_im2col, &j);
        j.col_blocks = (panels + per - 1) / per;
        /* few column blocks that do not divide among the threads (160 channels: 5 panels on 2
         * threads is 3 against 2): the pixels in as many parts as threads too */
        j.row_parts = 1;
        if (threads > 1 && j.col_blocks % threads != 0 && j.col_blocks < 4 * threads)
            j.row_parts = EML_MIN(threads, (j.m + s->packing.mr - 1) / s->packing.mr);
        const size_t blocks = j.col_blocks * j.row_parts;
        eml__pool_run(blocks > 1 ? pool : NULL, blocks, wide_cols, &j);
        return EML_OK;
    }
    /* each thread owns one block of the scratch: no more threads than it was sized for */
    j.slot_floats = eml__nhwc_conv_round_floats(j.rows * s->kdim);
    eml__parallel_ranges(threads <= s->slots ? pool : NULL, j.blocks, 1, gemm_blocks, &j);
    return EML_OK;
}

/* ---- indirect GEMM ---- */

typedef struct igemm_job {
    const eml_nhwc_conv_state *s;
    const eml_conv_geom *g;
    const float *x, *z;
    float *y;
    const eml_f32_igemm_kernel *ik; /* the listed kernel or its alternative, for m */
    const float **ind;              /* pixel m's pointer for tap t at ind[m * ks + t] */
    float *sides;                   /* kernel rows: the runs gathered at the image's sides */
    int64_t lo, hi;                 /* kernel rows: the columns whose runs need no gathering */
    size_t m, ks, kc;
    size_t rows, blocks;   /* pixel blocks (a multiple of MR), or */
    size_t col_block;      /* wide: output channels per block, a multiple of NR */
    size_t taps_per_block; /* a block of a panel's weights that stays in cache */
    eml_f32_minmax params;
    bool act_after; /* an activation that is no clamp, applied on each block */
} igemm_job;

/* The pointers of output row `row` (n, oh), columns [ow0, ow1): for each column and tap, the
 * input pixel under the tap or the zero row. */
static void tap_pointers(const igemm_job *j, size_t row, int64_t ow0, int64_t ow1)
{
    const eml_nhwc_conv_state *s = j->s;
    const eml_conv_geom *g = j->g;
    const int64_t H = g->in[0], W = g->in[1], C = g->in_channels, OH = g->out[0], OW = g->out[1];
    const int64_t n = (int64_t)row / OH, oh = (int64_t)row % OH;
    const float **p = j->ind + ((size_t)row * (size_t)OW + (size_t)ow0) * j->ks;
    const int64_t ih0 = oh * g->stride[0] - g->pad_begin[0];
    for (int64_t ow = ow0; ow < ow1; ow++) {
        const int64_t iw0 = ow * g->stride[1] - g->pad_begin[1];
        for (int64_t kh = 0; kh < s->kh; kh++) {
            const int64_t ih = ih0 + kh * g->dilation[0];
            if (ih < 0 || ih >= H) {
                for (int64_t kw = 0; kw < s->kw; kw++)
                    *p++ = s->zero;
                continue;
            }
            const float *xr = j->x + (n * H + ih) * W * C;
            for (int64_t kw = 0; kw < s->kw; kw++) {
                const int64_t iw = iw0 + kw * g->dilation[1];
                *p++ = iw >= 0 && iw < W ? xr + iw * C : s->zero;
            }
        }
    }
}

/* Kernel rows whose input rows row_pointers looks up once per call. */
#define ROW_TAPS_MAX 16

/* The pointers of `count` inner columns, the first at offset off of its input rows, the next
 * `step` floats further each: kh per column (the zero run for a NULL row). Everything in
 * locals, so that the loop keeps them in registers. */
static const float **inner_pointers(const float **p, const float *const *in_rows, size_t kh,
                                    const float *zero, int64_t off, int64_t step, size_t count)
{
    for (size_t c = 0; c < count; c++, off += step)
        for (size_t r = 0; r < kh; r++)
            *p++ = in_rows[r] ? in_rows[r] + off : zero;
    return p;
}

/* The pointers of output row `row` (n, oh), columns [ow0, ow1), over kernel rows: each to the
 * kw * C floats under a kernel row, or the zero run above and below the image; at the image's
 * sides, where part of the run lies in the padding, the run is gathered into scratch with zeros
 * (each column outside [lo, hi) has its own ks * kc floats there). */
static void row_pointers(const igemm_job *j, size_t row, int64_t ow0, int64_t ow1)
{
    const eml_nhwc_conv_state *s = j->s;
    const eml_conv_geom *g = j->g;
    const int64_t H = g->in[0], W = g->in[1], C = g->in_channels, OH = g->out[0], OW = g->out[1];
    const int64_t n = (int64_t)row / OH, oh = (int64_t)row % OH, KW = s->kw;
    const float **p = j->ind + ((size_t)row * (size_t)OW + (size_t)ow0) * j->ks;
    const int64_t sides_before = EML_MIN(ow0, j->lo) + EML_MAX((int64_t)0, ow0 - j->hi);
    float *side = j->sides + ((size_t)row * (size_t)(j->lo + OW - j->hi) + (size_t)sides_before) *
                                 j->ks * j->kc;
    const int64_t ih0 = oh * g->stride[0] - g->pad_begin[0];
    /* each kernel row's input row, or NULL above and below the image: the inner columns then
     * take one add per pointer (an RGB stem has as many pointers as multiply-adds per output) */
    const float *in_rows[ROW_TAPS_MAX];
    const bool fast = s->kh <= ROW_TAPS_MAX;
    for (int64_t kh = 0; fast && kh < s->kh; kh++) {
        const int64_t ih = ih0 + kh * g->dilation[0];
        in_rows[kh] = ih >= 0 && ih < H ? j->x + (n * H + ih) * W * C : NULL;
    }
    for (int64_t ow = ow0; ow < ow1; ow++) {
        const int64_t iw0 = ow * g->stride[1] - g->pad_begin[1];
        const bool inner = ow >= j->lo && ow < j->hi;
        if (inner && fast) {
            const int64_t end = EML_MIN(ow1, j->hi);
            p = inner_pointers(p, in_rows, (size_t)s->kh, s->zero, iw0 * C,
                               g->stride[1] * C, (size_t)(end - ow));
            ow = end - 1;
            continue;
        }
        for (int64_t kh = 0; kh < s->kh; kh++) {
            const int64_t ih = ih0 + kh * g->dilation[0];
            if (ih < 0 || ih >= H) {
                *p++ = s->zero;
                if (!inner)
                    side += j->kc;
                continue;
            }
            const float *xr = j->x + (n * H + ih) * W * C;
            if (inner) {
                *p++ = xr + iw0 * C;
                continue;
            }
            for (int64_t kw = 0; kw < KW; kw++) {
                const int64_t iw = iw0 + kw;
                if (iw < 0 || iw >= W)
                    memset(side + kw * C, 0, (size_t)C * sizeof(float));
                else
                    memcpy(side + kw * C, xr + iw * C, (size_t)C * sizeof(float));
            }
            *p++ = side;
            side += j->kc;
        }
    }
}

/* The pointers of pixels [m0, m1), output row by output row. */
static void pixel_pointers(const igemm_job *j, size_t m0, size_t m1)
{
    const size_t OW = (size_t)j->g->out[1];
    while (m0 < m1) {
        const size_t row = m0 / OW, ow0 = m0 % OW, ow1 = EML_MIN(OW, ow0 + (m1 - m0));
        if (j->s->row_taps)
            row_pointers(j, row, (int64_t)ow0, (int64_t)ow1);
        else
            tap_pointers(j, row, (int64_t)ow0, (int64_t)ow1);
        m0 += ow1 - ow0;
    }
}

static void igemm_pointers(void *ctx, size_t m0, size_t m1, uint32_t thread)
{
    (void)thread;
    pixel_pointers(ctx, m0, m1);
}

/* Pixels [m0, m1) × the output channels [n0, n1) of group gi (n0 a multiple of NR), panel by
 * panel, and within a panel block of taps by block of taps, each block's weights swept down the
 * rows from cache (the running sums wait in the output, still in cache too). */
static void igemm_tile(const igemm_job *j, int64_t gi, size_t m0, size_t m1, size_t n0, size_t n1)
{
    const eml_nhwc_conv_state *s = j->s;
    const size_t O = (size_t)s->out_channels, mr = j->ik->mr, nr = j->ik->nr;
    const size_t c0 = (size_t)gi * (size_t)s->og, kc = j->kc;
    const float *w = s->packed + (size_t)gi * s->group_floats;
    for (size_t p = n0; p < n1; p += nr) {
        const size_t nc = EML_MIN(nr, n1 - p);
        const float *wp = w + p / nr * s->panel_floats;
        for (size_t t0 = 0; t0 < j->ks; t0 += j->taps_per_block) {
            const size_t taps = EML_MIN(j->taps_per_block, j->ks - t0);
            const bool last = t0 + taps == j->ks;
            for (size_t i = m0; i < m1; i += mr) {
                const size_t at = i * O + c0 + p;
                j->ik->ukernel(EML_MIN(mr, m1 - i), nc, kc, taps, j->ind + i * j->ks + t0, j->ks,
                               (size_t)gi * (size_t)s->cg, s->zero, wp, s->panel_floats, t0 * kc,
                               last, j->z ? j->z + at : NULL, j->y + at, O, &j->params);
            }
        }
    }
}

static void igemm_rows(void *ctx, size_t b0, size_t b1, uint32_t thread)
{
    const igemm_job *j = ctx;
    const eml_nhwc_conv_state *s = j->s;
    const size_t O = (size_t)s->out_channels;
    (void)thread;
    for (size_t b = b0; b < b1; b++) {
        const size_t m0 = b * j->rows, m1 = EML_MIN(j->m, m0 + j->rows);
        /* the block's own pointers: made by the thread that uses them, no loop of their own */
        pixel_pointers(j, m0, m1);
        for (int64_t gi = 0; gi < s->group; gi++)
            igemm_tile(j, gi, m0, m1, 0, (size_t)s->og);
        if (j->act_after)
            eml__nhwc_conv_epilogue(s, j->y + m0 * O, NULL, m1 - m0, O, O);
    }
}

static void igemm_cols(void *ctx, size_t b)
{
    const igemm_job *j = ctx;
    const eml_nhwc_conv_state *s = j->s;
    const size_t O = (size_t)s->out_channels;
    const size_t n0 = b * j->col_block, n1 = EML_MIN(O, n0 + j->col_block);
    igemm_tile(j, 0, 0, j->m, n0, n1);
    if (j->act_after)
        eml__nhwc_conv_epilogue(s, j->y + n0, NULL, j->m, n1 - n0, O);
}

eml_status eml__nhwc_conv_run_igemm(const eml_kernel_ctx *ctx, const eml_nhwc_conv_state *s,
                                    const eml_conv_geom *g, const float *z)
{
    igemm_job j = {
        .s = s,
        .g = g,
        .x = ctx->inputs[0].data,
        .z = z,
        .y = ctx->outputs[0].data,
        .ind = ctx->scratch,
        .m = eml__nhwc_conv_out_pixels(&ctx->outputs[0]),
        /* the kernel adds Z before it clamps */
        .params = {s->act_is_clamp ? s->min : -INFINITY, s->act_is_clamp ? s->max : INFINITY},
        .act_after = !s->act_is_clamp,
    };
    if (ctx->scratch_bytes < eml__nhwc_conv_scratch_floats(s, g) * sizeof(float))
        return eml__diag(ctx->diag, EML_EINTERNAL, "NhwcConv: scratch too small");
    eml__nhwc_conv_igemm_taps(s, &j.ks, &j.kc);
    if (s->row_taps) {
        eml__nhwc_conv_inner_cols(s, g, &j.lo, &j.hi);
        j.sides =
            (float *)ctx->scratch + eml__nhwc_conv_round_floats(j.m * j.ks * NHWC_POINTER_FLOATS);
    }
    /* the kernel whose row tiles waste least on these pixels (a function of the shape only) */
    j.ik = s->igemm;
    const eml_f32_igemm_kernel *alt = s->igemm_alt;
    if (alt && (j.m + alt->mr - 1) / alt->mr * alt->mr < (j.m + j.ik->mr - 1) / j.ik->mr * j.ik->mr)
        j.ik = alt;
    /* blocks of taps of about equal size whose weights fit the budget */
    const size_t tap_bytes = j.kc * s->igemm->nr * sizeof(float);
    const size_t n_blocks = EML_MAX((size_t)1, (j.ks * tap_bytes + NHWC_IGEMM_BLOCK_BYTES - 1) /
                                                   NHWC_IGEMM_BLOCK_BYTES);
    j.taps_per_block = (j.ks + EML_MIN(n_blocks, j.ks) - 1) / EML_MIN(n_blocks, j.ks);
    eml_pool *pool = pool_for(ctx, s, j.m);
    const size_t threads = (size_t)eml__pool_threads(pool);
    if (s->wide && s->group_floats * sizeof(float) <= NHWC_WIDE_ROWS_BYTES) {
        /* each thread sweeps the weights once down its own share of the pixels: the weights
         * come from the shared L3, the pixels stay where the last layer wrote them */
        j.rows = (j.m + threads - 1) / threads;
        j.rows = (j.rows + j.ik->mr - 1) / j.ik->mr * j.ik->mr;
        j.blocks = (j.m + j.rows - 1) / j.rows;
        eml__parallel_ranges(pool, j.blocks, 1, igemm_rows, &j);
        return EML_OK;
    }
    if (s->wide) {
        /* every block takes every pixel: the pointers first, over the pixels */
        eml__parallel_ranges(pool, j.m, 64, igemm_pointers, &j);
        const size_t nr = s->igemm->nr, panels = ((size_t)s->out_channels + nr - 1) / nr;
        const size_t per = (panels + NHWC_WIDE_BLOCKS_WANTED - 1) / NHWC_WIDE_BLOCKS_WANTED;
        j.col_block = per * nr;
        const size_t col_blocks = (panels + per - 1) / per;
        eml__pool_run(col_blocks > 1 ? pool : NULL, col_blocks, igemm_cols, &j);
        return EML_OK;
    }
    j.rows = eml__nhwc_conv_block_rows(s, j.m, j.ik->mr);
    j.blocks = (j.m + j.rows - 1) / j.rows;
    eml__parallel_ranges(pool, j.blocks, 1, igemm_rows, &j);
    return EML_OK;
}
