/* Fast MatMulInteger and ConvInteger: plan-time packing of the constant int8 B (ConvInteger: W as
 * a [C·kH·kW, M] matrix) into QConv's panels with its column sums, and the driver that runs the
 * int32-output GEMM micro-kernel over blocks of rows (A's rows; ConvInteger: the im2col rows of
 * output positions, written back channels-first) on the pool, then takes off b's zero points.
 * Shapes or zero points it does not take at run time go to the reference kernel. */
#include "kernels/fast_qmatmul_integer.h"
#include "kernels/ref/conv.h"
#include "kernels/ref/matmul.h"

#define EML_QS8_GEMM_I32(isa, name, gemm, mr, nr, kg, a_i16)                                       \
    void gemm(size_t, size_t, size_t, const void *, size_t, const void *, const int32_t *,         \
              int32_t *, size_t);
#include "kernels/lists/qs8_gemm_i32.inc"
#undef EML_QS8_GEMM_I32

static const eml_qs8_gemm_i32_kernel kernels[] = {
#define EML_QS8_GEMM_I32(isa, name, gemm, mr, nr, kg, a_i16) {name, isa, mr, nr, kg, a_i16, gemm},
#include "kernels/lists/qs8_gemm_i32.inc"
#undef EML_QS8_GEMM_I32
    {NULL, 0, 0, 0, 0, false, NULL}};

const eml_qs8_gemm_i32_kernel *eml__qs8_gemm_i32_kernels(size_t *count)
{
    *count = sizeof(kernels) / sizeof(kernels[0]) - 1;
    return kernels;
}

/* Rows of A per block (copied or widened together, then swept by every panel of the task's
 * group), and the most tasks a node is split into (each has its own block of scratch). */
#define BLOCK_ROWS 32
#define MAX_TASKS 16

typedef struct qmmi_state {
    const eml_qs8_gemm_i32_kernel *k;
    bool conv; /* ConvInteger: rows are output positions of an NCHW image */
    eml_conv_params conv_params;
    int64_t kdim, kp, n; /* kp: K rounded up to 4 */
    int64_t panels;
    size_t panel_bytes;
    void *packed;
    int32_t *col_sum; /* [panels · NR]: sum over K of B's column, 0 past N */
    int32_t *b_zp;    /* [panels · NR]: b's zero point per column, 0 past N */
    bool any_b_zp;
} qmmi_state;

static size_t round_up(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

static void state_destroy(eml_env *env, void *state)
{
    qmmi_state *s = state;
    if (s) {
        eml__free(env, s->packed);
        eml__free(env, s->col_sum);
        eml__free(env, s->b_zp);
    }
    eml__free(env, s);
}

/* B (element (k, j) at b[k·k_stride + j·j_stride]) into panels of NR columns: groups of KG rows
 * of K, NR columns × KG values each, int8 or int16, zeros past K and N (fast_qconv.h's layout;
 * the header is left zero). */
static void pack(qmmi_state *s, const int8_t *b, int64_t k_stride, int64_t j_stride)
{
    const int64_t nr = s->k->nr, kg = s->k->kg;
    memset(s->packed, 0, (size_t)s->panels * s->panel_bytes);
    for (int64_t pi = 0; pi < s->panels; pi++) {
        int32_t *hdr = (int32_t *)((uint8_t *)s->packed + (size_t)pi * s->panel_bytes);
        int8_t *w8 = (int8_t *)(hdr + EML_QS8_PANEL_HEADER_INTS * nr);
        int16_t *w16 = (int16_t *)w8;
        for (int64_t k = 0; k < s->kdim; k++)
            for (int64_t j = 0; j < nr && pi * nr + j < s->n; j++) {
                const int8_t v = b[k * k_stride + (pi * nr + j) * j_stride];
                const size_t at = (size_t)((k / kg) * nr * kg + j * kg + k % kg);
                if (s->k->a_i16)
                    w16[at] = v;
                else
                    w8[at] = v;
            }
    }
    for (int64_t j = 0; j < s->n; j++) {
        int64_t sum = 0;
        for (int64_t k = 0; k < s->kdim; k++)
            sum += b[k * k_stride + j * j_stride];
        s->col_sum[j] = (int32_t)sum; /* |sum| <= 128 · K: K below 2^24 keeps it exact */
    }
}

/* ---- running ---- */

typedef struct qmmi_run {
    const qmmi_state *s;
    const uint8_t *a;
    int32_t *y;
    const int32_t *bias; /* [panels · NR]: -a_zp · col_sum */
    int32_t a_zp;
    const eml_conv_geom *g; /* ConvInteger */
    const int64_t *koff;    /* ConvInteger: per k, the offset of (c, ky, kx) in one image */
    uint8_t *scratch;
    size_t block_bytes, out_block_bytes; /* per task: A rows, and (ConvInteger) their results */
    int64_t rows, blocks, groups, panels_per_group, items, tasks;
    bool direct;
} qmmi_run;

/* Row `row` of the im2col matrix of ConvInteger (output position p of image n), in the order of
 * W's [C, kH, kW]: the input under the window, a_zp in the padding (so that it adds nothing). */
static void conv_row(const qmmi_run *r, int64_t row, uint8_t *d8, int16_t *d16)
{
    const eml_conv_geom *g = r->g;
    const int64_t oh = g->out[0], ow = g->out[1], ih = g->in[0], iw = g->in[1];
    const int64_t n = row / (oh * ow), oy = row / ow % oh, ox = row % ow;
    const uint8_t *xn = r->a + n * g->in_channels * ih * iw;
    const int64_t iy0 = oy * g->stride[0] - g->pad_begin[0];
    const int64_t ix0 = ox * g->stride[1] - g->pad_begin[1];
    if (iy0 >= 0 && iy0 + (g->kernel[0] - 1) * g->dilation[0] < ih && ix0 >= 0 &&
        ix0 + (g->kernel[1] - 1) * g->dilation[1] < iw) {
        /* the window lies inside the image (most positions): a gather, no bounds to check */
        const uint8_t *base = xn + iy0 * iw + ix0;
        for (int64_t k = 0; k < r->s->kdim; k++) {
            if (d16)
                d16[k] = base[r->koff[k]];
            else
                d8[k] = base[r->koff[k]];
        }
        return;
    }
    int64_t k = 0;
    for (int64_t c = 0; c < g->in_channels; c++)
        for (int64_t ky = 0; ky < g->kernel[0]; ky++) {
            const int64_t iy = oy * g->stride[0] - g->pad_begin[0] + ky * g->dilation[0];
            for (int64_t kx = 0; kx < g->kernel[1]; kx++, k++) {
                const int64_t ix = ox * g->stride[1] - g->pad_begin[1] + kx * g->dilation[1];
                const uint8_t v = iy >= 0 && iy < ih && ix >= 0 && ix < iw
                                      ? xn[(c * ih + iy) * iw + ix]
                                      : (uint8_t)r->a_zp;
                if (d16)
                    d16[k] = v;
                else
                    d8[k] = v;
            }
        }
}

/* Row i of the block into dst (kp values, zeros past K): A's row or an im2col row, widened to
 * int16 for kernels that take A so. */
static void fill_row(const qmmi_run *r, int64_t row, uint8_t *dst)
{
    const qmmi_state *s = r->s;
    const int64_t kd = s->kdim;
    int16_t *d16 = s->k->a_i16 ? (int16_t *)dst : NULL;
    if (s->conv) {
        conv_row(r, row, dst, d16);
    } else if (d16) {
        const uint8_t *src = r->a + row * kd;
        for (int64_t c = 0; c < kd; c++)
            d16[c] = src[c];
    } else {
        memcpy(dst, r->a + row * kd, (size_t)kd);
    }
    for (int64_t c = kd; c < s->kp; c++) {
        if (d16)
            d16[c] = 0;
        else
            dst[c] = 0;
    }
}

/* sum_k (a[k] - a_zp) of a row as the kernel reads it, modulo 2^32. */
static uint32_t row_sum(const qmmi_run *r, const uint8_t *a)
{
    uint32_t sum = 0;
    const int64_t kd = r->s->kdim;
    if (r->s->k->a_i16 && !r->direct) {
        const int16_t *a16 = (const int16_t *)a;
        for (int64_t c = 0; c < kd; c++)
            sum += (uint32_t)a16[c];
    } else {
        for (int64_t c = 0; c < kd; c++)
            sum += a[c];
    }
    return sum - (uint32_t)r->a_zp * (uint32_t)kd;
}

static void gemm_task(void *ctx, size_t t)
{
    const qmmi_run *r = ctx;
    const qmmi_state *s = r->s;
    const eml_qs8_gemm_i32_kernel *k = s->k;
    const int64_t i0 = (int64_t)t * r->items / r->tasks,
                  i1 = ((int64_t)t + 1) * r->items / r->tasks;
    const int64_t n = s->n, nr = k->nr, mr = k->mr;
    const size_t a_stride = (size_t)s->kp * (k->a_i16 ? 2 : 1);
    uint8_t *buf = r->scratch + t * r->block_bytes;
    /* ConvInteger: the block's [rows, N] results, then written channels-first */
    int32_t *out = (int32_t *)(r->scratch + r->tasks * r->block_bytes + t * r->out_block_bytes);
    int64_t filled = -1;
    for (int64_t item = i0; item < i1; item++) {
        const int64_t b = item / r->groups, grp = item % r->groups;
        const int64_t row0 = b * BLOCK_ROWS, rows = EML_MIN(BLOCK_ROWS, r->rows - row0);
        const uint8_t *a;
        size_t stride;
        if (r->direct) {
            a = r->a + row0 * s->kdim;
            stride = (size_t)s->kdim;
        } else {
            if (filled != b) {
                for (int64_t i = 0; i < rows; i++)
                    fill_row(r, row0 + i, buf + (size_t)i * a_stride);
                filled = b;
            }
            a = buf;
            stride = a_stride;
        }
        int32_t *y = s->conv ? out : r->y + row0 * n;
        const int64_t p0 = grp * r->panels_per_group;
        const int64_t p1 = EML_MIN(s->panels, p0 + r->panels_per_group);
        for (int64_t pi = p0; pi < p1; pi++) {
            const void *panel = (const uint8_t *)s->packed + (size_t)pi * s->panel_bytes;
            const size_t nc = (size_t)EML_MIN(nr, n - pi * nr);
            for (int64_t i = 0; i < rows; i += mr)
                k->gemm((size_t)EML_MIN(mr, rows - i), nc, (size_t)s->kp, a + (size_t)i * stride,
                        stride, panel, r->bias + pi * nr, y + i * n + pi * nr, (size_t)n);
        }
        const int64_t j0 = p0 * nr, j1 = EML_MIN(n, p1 * nr);
        if (s->any_b_zp) {
            /* sum (a - a_zp)(b - b_zp) = sum a·b - a_zp·sum b (the bias) - b_zp·sum (a - a_zp):
             * y[i][j] -= b_zp[j] · sum_k (a[i][k] - a_zp), modulo 2^32 as the sums */
            for (int64_t i = 0; i < rows; i++) {
                const uint32_t sum = row_sum(r, a + (size_t)i * stride);
                int32_t *yi = y + i * n;
                for (int64_t j = j0; j < j1; j++)
                    yi[j] = (int32_t)((uint32_t)yi[j] - (uint32_t)s->b_zp[j] * sum);
            }
        }
        if (s->conv) {
            const int64_t positions = r->g->out[0] * r->g->out[1];
            for (int64_t i = 0; i < rows; i++) {
                const int64_t img = (row0 + i) / positions, p = (row0 + i) % positions;
                int32_t *yp = r->y + img * n * positions + p;
                for (int64_t j = j0; j < j1; j++)
                    yp[j * positions] = out[i * n + j];
            }
        }
    }
}

/* The scalar zero point of A (input i) for this run, or false when it is not one (per-row). */
static bool a_zero_point(const eml_kernel_ctx *ctx, int32_t i, int32_t *zp)
{
    *zp = 0;
    if (!eml__kin_present(ctx, i))
        return true;
    const eml_tensor *t = &ctx->inputs[i];
    if (t->dtype != EML_DTYPE_U8 || eml__shape_count(t->dims, t->rank) != 1)
        return false;
    *zp = ((const uint8_t *)t->data)[0];
    return true;
}

/* The task split and per-task scratch of a run over `rows` rows. */
static void plan_run(const qmmi_state *s, int64_t rows, qmmi_run *r)
{
    r->rows = rows;
    r->block_bytes = round_up((size_t)BLOCK_ROWS * (size_t)s->kp * (s->k->a_i16 ? 2 : 1), 64);
    r->out_block_bytes =
        s->conv ? round_up((size_t)BLOCK_ROWS * (size_t)s->n * sizeof(int32_t), 64) : 0;
    r->blocks = (rows + BLOCK_ROWS - 1) / BLOCK_ROWS;
    /* few row blocks (a batch of one): split the panels too, so that threads share work */
    r->groups = r->blocks >= 8   ? 1
                : r->blocks == 0 ? 1 /* nothing to do (an empty batch) */
                                 : EML_MIN(s->panels, (8 + r->blocks - 1) / r->blocks);
    r->panels_per_group = (s->panels + r->groups - 1) / r->groups;
    r->groups = (s->panels + r->panels_per_group - 1) / r->panels_per_group;
    r->items = r->blocks * r->groups;
    r->tasks = EML_MIN(r->items, MAX_TASKS);
}

static size_t own_scratch(const qmmi_state *s)
{
    qmmi_run r;
    plan_run(s, 0, &r);
    return MAX_TASKS * (r.block_bytes + r.out_block_bytes) +
           (size_t)(s->panels * s->k->nr) * sizeof(int32_t) +
           (s->conv ? (size_t)s->kdim * sizeof(int64_t) : 0);
}

static eml_status qmmi_run_fn(const eml_kernel_ctx *ctx)
{
    const qmmi_state *s = ctx->params;
    const eml_tensor *a = &ctx->inputs[0];
    int32_t a_zp;
    eml_conv_geom g;
    if (s->conv) {
        char why[128];
        if (a->dtype != EML_DTYPE_U8 || a->rank != 4 || !a_zero_point(ctx, 2, &a_zp) ||
            eml__conv_geom(&s->conv_params, a, &ctx->inputs[1], false, &g, why, sizeof(why)) !=
                EML_OK ||
            g.in_channels * g.kernel_size != s->kdim) {
            eml_kernel_ctx ref = *ctx; /* the reference kernel reads Conv's params */
            ref.params = &s->conv_params;
            return eml__ref_conv_integer(&ref);
        }
    } else if (a->dtype != EML_DTYPE_U8 || a->rank < 1 || a->dims[a->rank - 1] != s->kdim ||
               !a_zero_point(ctx, 2, &a_zp)) {
        return eml__ref_matmul_integer(ctx);
    }
    qmmi_run r = {.s = s, .a = a->data, .y = ctx->outputs[0].data, .a_zp = a_zp, .g = &g};
    plan_run(s, s->conv ? g.batch * g.out_size : eml__shape_count(a->dims, a->rank) / s->kdim, &r);
    const int64_t bias_count = s->panels * s->k->nr;
    int32_t *bias =
        (int32_t *)((uint8_t *)ctx->scratch + MAX_TASKS * (r.block_bytes + r.out_block_bytes));
    for (int64_t j = 0; j < bias_count; j++)
        bias[j] = (int32_t)(0u - (uint32_t)a_zp * (uint32_t)s->col_sum[j]);
    r.bias = bias;
    if (s->conv) {
        int64_t *koff = (int64_t *)(bias + bias_count);
        int64_t k = 0;
        for (int64_t c = 0; c < g.in_channels; c++)
            for (int64_t ky = 0; ky < g.kernel[0]; ky++)
                for (int64_t kx = 0; kx < g.kernel[1]; kx++)
                    koff[k++] = (c * g.in[0] + ky * g.dilation[0]) * g.in[1] + kx * g.dilation[1];
        r.koff = koff;
    }
    r.scratch = ctx->scratch;
    r.direct = !s->conv && !s->k->a_i16 && s->kp == s->kdim;
    if (r.tasks > 0)
        eml__pool_run(ctx->pool, (size_t)r.tasks, gemm_task, &r);
    return EML_OK;
}

/* Ours; or the reference kernel's where it is larger and the run may go to it (A not uint8,
 * A's zero point not a scalar: what the run checks). */
static size_t qmmi_scratch(const void *state, const eml_tensor *inputs, int32_t n_inputs,
                           const eml_tensor *outputs, int32_t n_outputs)
{
    (void)outputs;
    (void)n_outputs;
    const qmmi_state *s = state;
    const size_t ours = own_scratch(s);
    const bool zp_ok =
        n_inputs < 3 || inputs[2].dtype == EML_DTYPE_UNDEFINED ||
        (inputs[2].dtype == EML_DTYPE_U8 && eml__shape_count(inputs[2].dims, inputs[2].rank) == 1);
    if (inputs[0].dtype == EML_DTYPE_U8 && zp_ok &&
        (s->conv ? inputs[0].rank == 4 &&
                       inputs[0].dims[1] * inputs[1].dims[2] * inputs[1].dims[3] == s->kdim
                 : inputs[0].rank >= 1 && inputs[0].dims[inputs[0].rank - 1] == s->kdim))
        return ours;
    size_t ref = 0;
    if (s->conv) {
        eml_conv_geom g;
        char why[128];
        if (eml__conv_geom(&s->conv_params, &inputs[0], &inputs[1], false, &g, why, sizeof(why)) ==
                EML_OK &&
            !eml__conv_integer_scratch(&g, false, &ref))
            ref = 0;
    } else {
        eml_matmul_shape ms;
        if (eml__matmul_shape(&inputs[0], &inputs[1], &ms) == EML_OK)
            ref = eml__ref_matmul_integer_scratch_bytes(ms.m, ms.n, ms.k, false);
    }
    return EML_MAX(ours, ref);
}

/* ---- selection ---- */

static bool present(const eml_fast_select_ctx *ctx, int32_t i)
{
    return i < ctx->n_inputs && ctx->inputs[i].dtype != EML_DTYPE_UNDEFINED;
}

/* The packed state for B [kd, n] (element (k, j) at b[k·k_stride + j·j_stride]) and b's zero
 * point input 3 (absent, one, or n values); NULL in *out when it does not fit. */
static eml_status make_state(const eml_fast_select_ctx *ctx, const eml_qs8_gemm_i32_kernel *k,
                             const int8_t *b, int64_t kd, int64_t n, int64_t k_stride,
                             int64_t j_stride, qmmi_state **out)
{
    const eml_tensor *in = ctx->inputs;
    *out = NULL;
    if (kd < 1 || n < 1 || kd >= ((int64_t)1 << 24))
        return EML_OK;
    /* per-row zero points of A: the reference kernel (also at run time, where the shape is
     * only known then) */
    if (present(ctx, 2) && (in[2].dtype != EML_DTYPE_U8 ||
                            (in[2].rank > 0 && eml__shape_count(in[2].dims, in[2].rank) != 1)))
        return EML_OK;
    int64_t zc = 0;
    if (present(ctx, 3)) {
        zc = eml__shape_count(in[3].dims, in[3].rank);
        if (in[3].dtype != EML_DTYPE_I8 || !in[3].data || (zc != 1 && zc != n) ||
            (zc != 1 && in[3].rank != 1 && !(in[3].rank == 2 && in[3].dims[0] == 1)))
            return EML_OK;
    }
    eml_env *env = ctx->env;
    qmmi_state *s = eml__calloc(env, 1, sizeof(qmmi_state));
    if (!s)
        return EML_ENOMEM;
    s->k = k;
    s->kdim = kd;
    s->kp = (int64_t)round_up((size_t)kd, 4);
    s->n = n;
    s->panels = (n + k->nr - 1) / k->nr;
    s->panel_bytes = round_up(EML_QS8_PANEL_HEADER_INTS * k->nr * sizeof(int32_t) +
                                  (size_t)s->kp * k->nr * (k->a_i16 ? 2 : 1),
                              64);
    const size_t cols = (size_t)(s->panels * k->nr);
    s->packed = eml__alloc(env, (size_t)s->panels * s->panel_bytes);
    s->col_sum = eml__calloc(env, cols, sizeof(int32_t));
    s->b_zp = eml__calloc(env, cols, sizeof(int32_t));
    if (!s->packed || !s->col_sum || !s->b_zp) {
        state_destroy(env, s);
        return EML_ENOMEM;
    }
    pack(s, b, k_stride, j_stride);
    for (int64_t j = 0; j < n && zc > 0; j++) {
        s->b_zp[j] = ((const int8_t *)in[3].data)[zc == 1 ? 0 : j];
        s->any_b_zp = s->any_b_zp || s->b_zp[j] != 0;
    }
    *out = s;
    return EML_OK;
}

static void fill_kernel(qmmi_state *s, eml_fast_kernel *out)
{
    out->name = s->k->name;
    out->state = s;
    out->run = qmmi_run_fn;
    out->scratch_bytes = qmmi_scratch;
    out->destroy = state_destroy;
}

eml_status eml__fast_matmul_integer_select_with(const eml_fast_select_ctx *ctx,
                                                const eml_qs8_gemm_i32_kernel *k,
                                                eml_fast_kernel *out)
{
    const eml_tensor *a = &ctx->inputs[0], *b = &ctx->inputs[1];
    /* A's dtype and a_zero_point's may only be known at run time (values made by other nodes):
     * the run checks them and hands what it does not take to the reference kernel */
    if (ctx->n_inputs < 2 || (a->dtype != EML_DTYPE_U8 && a->dtype != EML_DTYPE_UNDEFINED) ||
        b->dtype != EML_DTYPE_I8 || !b->data || b->rank != 2)
        return EML_OK;
    qmmi_state *s;
    const eml_status st = make_state(ctx, k, b->data, b->dims[0], b->dims[1], b->dims[1], 1, &s);
    if (s)
        fill_kernel(s, out);
    return st;
}

eml_status eml__fast_conv_integer_select_with(const eml_fast_select_ctx *ctx,
                                              const eml_qs8_gemm_i32_kernel *k,
                                              eml_fast_kernel *out)
{
    const eml_tensor *x = &ctx->inputs[0], *w = &ctx->inputs[1];
    const eml_conv_params *p = ctx->params;
    /* 2-D convolutions of one group; the rest (and 1-D, 3-D) stay on the reference kernel */
    if (ctx->n_inputs < 2 || !p || p->group != 1 ||
        (x->dtype != EML_DTYPE_U8 && x->dtype != EML_DTYPE_UNDEFINED) || w->dtype != EML_DTYPE_I8 ||
        !w->data || w->rank != 4)
        return EML_OK;
    const int64_t kd = w->dims[1] * w->dims[2] * w->dims[3];
    qmmi_state *s;
    const eml_status st = make_state(ctx, k, w->data, kd, w->dims[0], 1, kd, &s);
    if (!s)
        return st;
    s->conv = true;
    s->conv_params = *p;
    fill_kernel(s, out);
    return EML_OK;
}

static const eml_qs8_gemm_i32_kernel *best(void)
{
    size_t n;
    const eml_qs8_gemm_i32_kernel *ks = eml__qs8_gemm_i32_kernels(&n);
    for (size_t i = 0; i < n; i++)
        if (eml__cpu_has(ks[i].isa))
            return &ks[i];
    return NULL;
}

eml_status eml__fast_matmul_integer_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    const eml_qs8_gemm_i32_kernel *k = best();
    return k ? eml__fast_matmul_integer_select_with(ctx, k, out) : EML_OK;
}

eml_status eml__fast_conv_integer_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    const eml_qs8_gemm_i32_kernel *k = best();
    return k ? eml__fast_conv_integer_select_with(ctx, k, out) : EML_OK;
}
