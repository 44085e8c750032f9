/* Reference ConvTranspose for float types: a GEMM of Wᵀ and X into columns, then col2im adds each
 * column into the output window it belongs to. */
#include "kernels/ref/conv.h"

static size_t elem_of(eml_dtype dtype)
{
    return dtype == EML_DTYPE_F64 ? 8 : 4;
}

static bool is_half(eml_dtype dtype)
{
    return dtype == EML_DTYPE_F16 || dtype == EML_DTYPE_BF16;
}

/* Rows of the column matrix of one group: each output channel of the group × kernel position. */
static int64_t col_rows(const eml_conv_geom *g)
{
    return g->out_channels / g->group * g->kernel_size;
}

bool eml__conv_transpose_scratch(const eml_conv_geom *g, eml_dtype dtype, size_t *bytes)
{
    const int64_t K = col_rows(g), Cg = g->in_channels / g->group;
    const int64_t chunk = eml__conv_chunk(g->in_size, K, elem_of(dtype));
    uint64_t n;
    *bytes = 0;
    bool ok = !eml__mul_overflow((uint64_t)K, (uint64_t)chunk, &n) &&
              eml__scratch_add(bytes, n, elem_of(dtype));
    if (is_half(dtype)) {
        ok = ok && !eml__mul_overflow((uint64_t)g->in_channels, (uint64_t)K, &n) &&
             eml__scratch_add(bytes, n, 4);
        ok = ok && !eml__mul_overflow((uint64_t)Cg, (uint64_t)chunk, &n) &&
             eml__scratch_add(bytes, n, 4);
        ok = ok && !eml__mul_overflow((uint64_t)(g->out_channels / g->group),
                                      (uint64_t)g->out_size, &n) &&
             eml__scratch_add(bytes, n, 4);
    }
    return ok;
}

typedef struct col2im_job {
    const eml_conv_geom *g;
    bool f64;
    const void *col;   /* col_rows × (p1 - p0) */
    int64_t p0, p1;    /* input positions of this chunk */
    void *y;           /* the group's output channels, out_size each */
} col2im_job;

/* Adds every row of one output channel's kernel positions into that channel: one task per
 * channel, so no two tasks write the same element. */
static void col2im_task(void *ctx, size_t mg)
{
    const col2im_job *j = ctx;
    const eml_conv_geom *g = j->g;
    const int ns = g->n_spatial, last = ns - 1;
    const int64_t np = j->p1 - j->p0;
    const int64_t out_w = g->out[last], s = g->stride[last];
    for (int64_t kidx = 0; kidx < g->kernel_size; kidx++) {
        const int64_t row = (int64_t)mg * g->kernel_size + kidx;
        int64_t koff[EML_CONV_MAX_SPATIAL], i[EML_CONV_MAX_SPATIAL];
        int64_t rem = kidx;
        for (int d = last; d >= 0; d--) {
            koff[d] = rem % g->kernel[d];
            rem /= g->kernel[d];
        }
        rem = j->p0;
        for (int d = last; d >= 0; d--) {
            i[d] = rem % g->in[d];
            rem /= g->in[d];
        }
        int64_t q = 0;
        while (q < np) {
            int64_t run = EML_MIN(g->in[last] - i[last], np - q);
            bool inside = true;
            int64_t off = 0;
            for (int d = 0; d < last; d++) {
                int64_t o = i[d] * g->stride[d] - g->pad_begin[d] + koff[d] * g->dilation[d];
                inside = inside && o >= 0 && o < g->out[d];
                off = off * g->out[d] + o;
            }
            if (inside) {
                const int64_t base = (int64_t)mg * g->out_size + off * out_w;
                const int64_t o0 =
                    i[last] * s - g->pad_begin[last] + koff[last] * g->dilation[last];
                for (int64_t t = 0; t < run; t++) {
                    int64_t ow = o0 + t * s;
                    if (ow < 0 || ow >= out_w)
                        continue;
                    if (j->f64)
                        ((double *)j->y)[base + ow] += ((const double *)j->col)[row * np + q + t];
                    else
                        ((float *)j->y)[base + ow] += ((const float *)j->col)[row * np + q + t];
                }
            }
            q += run;
            i[last] += run;
            if (i[last] == g->in[last]) {
                i[last] = 0;
                for (int d = last - 1; d >= 0; d--) {
                    if (++i[d] < g->in[d])
                        break;
                    i[d] = 0;
                }
            }
        }
    }
}

static float half_get(eml_dtype dt, const void *p, int64_t i)
{
    uint16_t v = ((const uint16_t *)p)[i];
    return dt == EML_DTYPE_F16 ? eml_f16_to_f32(v) : eml_bf16_to_f32(v);
}

/* Fills the group's output channels with their bias (or zero) before the columns are added. */
static void fill_bias(const eml_tensor *bias, eml_dtype dt, int64_t m0, int64_t Mg, int64_t size,
                      void *y)
{
    for (int64_t m = 0; m < Mg; m++) {
        double b = bias ? eml__tensor_get_f64(bias, m0 + m) : 0.0;
        if (dt == EML_DTYPE_F64) {
            double *yd = (double *)y + m * size;
            for (int64_t q = 0; q < size; q++)
                yd[q] = b;
        } else {
            float *yf = (float *)y + m * size;
            for (int64_t q = 0; q < size; q++)
                yf[q] = (float)b;
        }
    }
}

eml_status eml__ref_conv_transpose(const eml_kernel_ctx *ctx)
{
    const eml_conv_params *prm = ctx->params;
    const eml_tensor *x = &ctx->inputs[0], *w = &ctx->inputs[1];
    const eml_tensor *bias = eml__kin_present(ctx, 2) ? &ctx->inputs[2] : NULL;
    eml_tensor *y = &ctx->outputs[0];
    eml_conv_geom g;
    char why[128];
    eml_status st = eml__conv_geom(prm, x, w, true, &g, why, sizeof(why));
    if (st != EML_OK)
        return eml__diag(ctx->diag, st, "ConvTranspose: %s", why);
    const eml_dtype dt = x->dtype;
    const bool half = is_half(dt), f64 = dt == EML_DTYPE_F64;
    const int64_t Cg = g.in_channels / g.group, Mg = g.out_channels / g.group;
    const int64_t K = col_rows(&g), Pin = g.in_size, Pout = g.out_size;
    const int64_t chunk = eml__conv_chunk(Pin, K, elem_of(dt));
    const size_t xelem = eml_dtype_size(dt);
    size_t off = 0;
    void *col = eml__scratch_take(ctx->scratch, &off, (uint64_t)(K * chunk), elem_of(dt));
    float *wf = NULL, *xf = NULL, *yf = NULL;
    if (half) {
        wf = eml__scratch_take(ctx->scratch, &off, (uint64_t)(g.in_channels * K), 4);
        xf = eml__scratch_take(ctx->scratch, &off, (uint64_t)(Cg * chunk), 4);
        yf = eml__scratch_take(ctx->scratch, &off, (uint64_t)(Mg * Pout), 4);
        for (int64_t i = 0; i < g.in_channels * K; i++)
            wf[i] = half_get(dt, w->data, i);
    }
    for (int64_t n = 0; n < g.batch; n++) {
        for (int64_t gi = 0; gi < g.group; gi++) {
            const int64_t m0 = gi * Mg, c0 = gi * Cg;
            char *yg = (char *)y->data + (size_t)((n * g.out_channels + m0) * Pout) * xelem;
            void *acc = half ? (void *)yf : (void *)yg;
            fill_bias(bias, dt, m0, Mg, Pout, acc);
            const char *xg =
                (const char *)x->data + (size_t)((n * g.in_channels + c0) * Pin) * xelem;
            for (int64_t p0 = 0; p0 < Pin; p0 += chunk) {
                const int64_t np = EML_MIN(chunk, Pin - p0);
                memset(col, 0, (size_t)(K * np) * elem_of(dt));
                /* col[r][q] = sum_c W[c][r] · X[c][q]: A is Wᵀ, read with swapped strides */
                if (f64) {
                    eml__gemm_f64(ctx->pool, K, np, Cg, (const double *)w->data + c0 * K, 1, K,
                                  (const double *)xg + p0, Pin, col, np);
                } else if (!half) {
                    eml__gemm_f32(ctx->pool, K, np, Cg, (const float *)w->data + c0 * K, 1, K,
                                  (const float *)xg + p0, Pin, col, np);
                } else {
                    for (int64_t c = 0; c < Cg; c++)
                        for (int64_t q = 0; q < np; q++)
                            xf[c * np + q] = half_get(dt, xg, c * Pin + p0 + q);
                    eml__gemm_f32(ctx->pool, K, np, Cg, wf + c0 * K, 1, K, xf, np, col, np);
                }
                col2im_job job = {&g, f64, col, p0, p0 + np, acc};
                bool small = (double)K * (double)np < EML_CONV_INLINE_WORK;
                eml__pool_run(small ? NULL : ctx->pool, (size_t)Mg, col2im_task, &job);
            }
            if (half) {
                uint16_t *yh = (uint16_t *)yg;
                for (int64_t i = 0; i < Mg * Pout; i++)
                    yh[i] = dt == EML_DTYPE_F16 ? eml_f32_to_f16(yf[i]) : eml_f32_to_bf16(yf[i]);
            }
        }
    }
    return EML_OK;
}
