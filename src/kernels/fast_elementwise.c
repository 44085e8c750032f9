/* Fast f32 elementwise kernels chosen at plan time: Add/Sub/Mul/Div (same shape, scalar and
 * trailing or per-channel broadcasts, through the family's broadcast loop), the activations CNNs
 * and transformers use, Clip, and Softmax/LogSoftmax over contiguous rows, all on the best
 * micro-kernel table for this CPU. What they do not cover goes to the reference kernel. */
#include <math.h>
#include <stdio.h>

#include "kernels/fast_ops.h"
#include "kernels/ref/binary.h"
#include "kernels/ref/reduce.h"
#include "kernels/ref/unary.h"

/* Elements per pool task. The split is fixed (never derived from the thread count), and the
 * micro-kernels compute every element alike wherever a split falls, so results are
 * bit-identical for any number of threads. */
#define CHUNK_ELEMS 16384

static const eml_f32_velem_ops *const tables[] = {
#define EML_VELEM(isa, table) &table,
#include "kernels/lists/f32_velementwise.inc"
#undef EML_VELEM
    NULL};

const eml_f32_velem_ops *const *eml__f32_velem_tables(size_t *count)
{
    *count = sizeof(tables) / sizeof(tables[0]) - 1;
    return tables;
}

const eml_f32_velem_ops *eml__f32_velem_select(void)
{
    for (size_t i = 0; tables[i]; i++) {
        if (eml__cpu_has(tables[i]->isa))
            return tables[i];
    }
    return NULL;
}

typedef struct velem_state {
    const eml_f32_velem_ops *ops;
    int32_t op;          /* eml_f32_vbinary_op or eml_f32_vunary_op */
    int32_t log_softmax; /* Softmax: LogSoftmax instead */
    eml_f32_vunary_params unary_params;
    union { /* the reference kernel's params, for what the fast path leaves to it */
        eml_binary_params binary;
        eml_unary_params unary;
        eml_clip_params clip;
        eml_softmax_params softmax;
    } ref;
    char name[48];
} velem_state;

static eml_status run_reference(const eml_kernel_ctx *ctx, eml_kernel_fn ref)
{
    const velem_state *st = ctx->params;
    eml_kernel_ctx c = *ctx;
    c.params = &st->ref;
    return ref(&c);
}

/* ---- Add, Sub, Mul, Div ---- */

/* One innermost run of the broadcast loop; its strides are 1 (dense) or 0 (broadcast). */
static void binary_row(const void *user, void *out, const void *const *in, const int64_t *s,
                       int64_t n)
{
    const velem_state *st = user;
    const eml_f32_vbinary_fn *fn = st->ops->binary[st->op];
    const float *a = in[0], *b = in[1];
    float *y = out;
    if (s[0] == 1 && s[1] == 1) {
        fn[EML_F32_VV]((size_t)n, a, b, y);
    } else if (s[0] == 1 && s[1] == 0) {
        fn[EML_F32_VS]((size_t)n, a, b, y);
    } else if (s[0] == 0 && s[1] == 1) {
        fn[EML_F32_SV]((size_t)n, a, b, y);
    } else {
        for (int64_t i = 0; i < n; i++)
            fn[EML_F32_VS](1, a + i * s[0], b + i * s[1], y + i);
    }
}

static eml_status run_binary(const eml_kernel_ctx *ctx)
{
    const velem_state *st = ctx->params;
    const eml_tensor *a = &ctx->inputs[0];
    eml_tensor b = ctx->inputs[1];
    if (a->dtype != EML_DTYPE_F32 || b.dtype != EML_DTYPE_F32 ||
        eml__binary_align(&st->ref.binary, a, &ctx->inputs[1], b.dims, &b.rank) != EML_OK)
        return run_reference(ctx, eml__ref_binary);
    const eml_tensor *in[2] = {a, &b};
    eml__bcast_run(&ctx->outputs[0], in, 2, binary_row, st, ctx->pool);
    return EML_OK;
}

/* ---- unary functions and Clip ---- */

typedef struct unary_job {
    eml_f32_vunary_fn fn;
    const eml_f32_vunary_params *params;
    const float *x;
    float *y;
    size_t n;
} unary_job;

static void unary_task(void *arg, size_t index)
{
    const unary_job *j = arg;
    size_t i0 = index * CHUNK_ELEMS;
    j->fn(EML_MIN((size_t)CHUNK_ELEMS, j->n - i0), j->x + i0, j->y + i0, j->params);
}

static void unary_apply(const eml_kernel_ctx *ctx, eml_f32_vunary_fn fn,
                        const eml_f32_vunary_params *params)
{
    unary_job j = {fn, params, ctx->inputs[0].data, ctx->outputs[0].data,
                   (size_t)eml_tensor_count(&ctx->inputs[0])};
    size_t tasks = (j.n + CHUNK_ELEMS - 1) / CHUNK_ELEMS;
    if (tasks > 1)
        eml__pool_run(ctx->pool, tasks, unary_task, &j);
    else if (j.n > 0)
        fn(j.n, j.x, j.y, params);
}

static eml_status run_unary(const eml_kernel_ctx *ctx)
{
    const velem_state *st = ctx->params;
    if (ctx->inputs[0].dtype != EML_DTYPE_F32)
        return run_reference(ctx, eml__ref_unary);
    unary_apply(ctx, st->ops->unary[st->op], &st->unary_params);
    return EML_OK;
}

/* A bound input of Clip 11+: its first element, or false to leave that side open. */
static bool clip_bound(const eml_kernel_ctx *ctx, int32_t i, float *out)
{
    if (!eml__kin_present(ctx, i) || eml_tensor_count(&ctx->inputs[i]) <= 0)
        return false;
    *out = ((const float *)ctx->inputs[i].data)[0];
    return true;
}

static eml_status run_clip(const eml_kernel_ctx *ctx)
{
    const velem_state *st = ctx->params;
    const eml_clip_params *cp = &st->ref.clip;
    for (int32_t i = 0; i < ctx->n_inputs; i++) {
        if (eml__kin_present(ctx, i) && ctx->inputs[i].dtype != EML_DTYPE_F32)
            return run_reference(ctx, eml__ref_clip);
    }
    eml_f32_vunary_params p = {0.0f, 0.0f, -INFINITY, INFINITY};
    if (cp->from_inputs) {
        clip_bound(ctx, 1, &p.min);
        clip_bound(ctx, 2, &p.max);
    } else {
        if (cp->has_min)
            p.min = cp->min;
        if (cp->has_max)
            p.max = cp->max;
    }
    unary_apply(ctx, st->ops->unary[EML_F32_VCLAMP], &p);
    return EML_OK;
}

/* ---- Softmax and LogSoftmax over contiguous rows ---- */

typedef struct softmax_job {
    eml_f32_vrow_fn fn;
    const float *x;
    float *y;
    size_t rows, n, rows_per_task;
} softmax_job;

static void softmax_task(void *arg, size_t index)
{
    const softmax_job *j = arg;
    size_t r0 = index * j->rows_per_task, r1 = EML_MIN(j->rows, r0 + j->rows_per_task);
    for (size_t r = r0; r < r1; r++)
        j->fn(j->n, j->x + r * j->n, j->y + r * j->n);
}

static eml_status run_softmax(const eml_kernel_ctx *ctx)
{
    const velem_state *st = ctx->params;
    const eml_softmax_params *p = &st->ref.softmax;
    const eml_tensor *x = &ctx->inputs[0];
    int64_t axis, outer, n, inner = 1;
    if (x->dtype != EML_DTYPE_F32 || !eml__softmax_axis(p, x->rank, &axis))
        return run_reference(ctx, eml__ref_softmax);
    if (p->flatten) {
        outer = eml__shape_count(x->dims, (int)axis);
        n = eml__shape_count(x->dims + axis, x->rank - (int)axis);
    } else {
        eml__reduce_axis_split(x->dims, x->rank, (int)axis, &outer, &n, &inner);
    }
    if (inner != 1) /* strided rows: the reference walks them */
        return run_reference(ctx, eml__ref_softmax);
    if (outer <= 0 || n <= 0)
        return EML_OK;
    softmax_job j = {.fn = st->log_softmax ? st->ops->log_softmax : st->ops->softmax,
                     .x = x->data,
                     .y = ctx->outputs[0].data,
                     .rows = (size_t)outer,
                     .n = (size_t)n};
    /* whole rows per task: a row's sum never depends on the split */
    j.rows_per_task = EML_MAX((size_t)1, CHUNK_ELEMS / j.n);
    size_t tasks = (j.rows + j.rows_per_task - 1) / j.rows_per_task;
    if (tasks > 1)
        eml__pool_run(ctx->pool, tasks, softmax_task, &j);
    else
        softmax_task(&j, 0);
    return EML_OK;
}

/* ---- selection ---- */

/* The reference's function codes that have a micro-kernel, and the kernels' names. */
typedef struct op_map {
    int32_t ref; /* eml_binary_kind or eml_unary_fn */
    int32_t op;  /* eml_f32_vbinary_op or eml_f32_vunary_op */
    const char *name;
} op_map;

static const op_map binary_map[] = {
    {EML_BINARY_ADD, EML_F32_VADD, "add"},
    {EML_BINARY_SUB, EML_F32_VSUB, "sub"},
    {EML_BINARY_MUL, EML_F32_VMUL, "mul"},
    {EML_BINARY_DIV, EML_F32_VDIV, "div"},
};

static const op_map unary_map[] = {
    {EML_UNARY_RELU, EML_F32_VRELU, "relu"},
    {EML_UNARY_LEAKY_RELU, EML_F32_VLEAKY_RELU, "leaky_relu"},
    {EML_UNARY_SIGMOID, EML_F32_VSIGMOID, "sigmoid"},
    {EML_UNARY_TANH, EML_F32_VTANH, "tanh"},
    {EML_UNARY_HARD_SIGMOID, EML_F32_VHARD_SIGMOID, "hard_sigmoid"},
    {EML_UNARY_HARD_SWISH, EML_F32_VHARD_SWISH, "hard_swish"},
    {EML_UNARY_EXP, EML_F32_VEXP, "exp"},
    {EML_UNARY_ERF, EML_F32_VERF, "erf"},
};

static bool map_op(const op_map *map, size_t count, int32_t ref, int32_t *op, const char **name)
{
    for (size_t i = 0; i < count; i++) {
        if (map[i].ref == ref) {
            *op = map[i].op;
            *name = map[i].name;
            return true;
        }
    }
    return false;
}

#define MAP_OP(map, ref, op, name) map_op(map, sizeof(map) / sizeof(map[0]), ref, op, name)

/* float32, or not known before the model runs (values between nodes seldom declare their type):
 * the kernels check the dtype at run time and hand anything else to the reference. */
static bool is_f32(const eml_fast_select_ctx *ctx, int32_t i)
{
    return i < ctx->n_inputs &&
           (ctx->inputs[i].dtype == EML_DTYPE_F32 || ctx->inputs[i].dtype == EML_DTYPE_UNDEFINED);
}

eml_status eml__fast_velem_select_with(const eml_fast_select_ctx *ctx, const eml_f32_velem_ops *ops,
                                       eml_fast_kernel *out)
{
    velem_state st;
    memset(&st, 0, sizeof(st));
    st.ops = ops;
    const char *name = NULL;
    eml_kernel_fn run = NULL;
    switch ((eml_op_id)ctx->op) {
    case EML_OP_Add:
    case EML_OP_Sub:
    case EML_OP_Mul:
    case EML_OP_Div:
        st.ref.binary = *(const eml_binary_params *)ctx->params;
        if (!is_f32(ctx, 0) || !is_f32(ctx, 1) ||
            !MAP_OP(binary_map, st.ref.binary.kind, &st.op, &name))
            return EML_OK;
        run = run_binary;
        break;
    case EML_OP_Relu:
    case EML_OP_LeakyRelu:
    case EML_OP_Sigmoid:
    case EML_OP_Tanh:
    case EML_OP_HardSigmoid:
    case EML_OP_HardSwish:
    case EML_OP_Exp:
    case EML_OP_Erf:
        st.ref.unary = *(const eml_unary_params *)ctx->params;
        if (!is_f32(ctx, 0) || !MAP_OP(unary_map, st.ref.unary.fn, &st.op, &name))
            return EML_OK;
        st.unary_params.alpha = st.ref.unary.alpha;
        st.unary_params.beta = st.ref.unary.beta;
        run = run_unary;
        break;
    case EML_OP_Clip:
        st.ref.clip = *(const eml_clip_params *)ctx->params;
        if (!is_f32(ctx, 0))
            return EML_OK;
        st.op = EML_F32_VCLAMP;
        name = "clamp";
        run = run_clip;
        break;
    case EML_OP_Softmax:
    case EML_OP_LogSoftmax:
        st.ref.softmax = *(const eml_softmax_params *)ctx->params;
        if (!is_f32(ctx, 0) || st.ref.softmax.kind == EML_HARDMAX)
            return EML_OK;
        st.log_softmax = st.ref.softmax.kind == EML_LOG_SOFTMAX;
        name = st.log_softmax ? "log_softmax" : "softmax";
        run = run_softmax;
        break;
    default:
        return EML_OK;
    }
    snprintf(st.name, sizeof(st.name), "f32_v%s__%s", name, ops->isa_name);
    velem_state *owned = eml__alloc(ctx->env, sizeof(*owned));
    if (!owned)
        return EML_ENOMEM;
    *owned = st;
    out->name = owned->name;
    out->state = owned;
    out->run = run;
    out->scratch_bytes = NULL;
    out->destroy = eml__fast_free_state;
    return EML_OK;
}

static eml_status velem_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    const eml_f32_velem_ops *ops = eml__f32_velem_select();
    return ops ? eml__fast_velem_select_with(ctx, ops, out) : EML_OK;
}

eml_status eml__fast_binary_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    return velem_select(ctx, out);
}

eml_status eml__fast_unary_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    return velem_select(ctx, out);
}

eml_status eml__fast_clip_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    return velem_select(ctx, out);
}

eml_status eml__fast_softmax_select(const eml_fast_select_ctx *ctx, eml_fast_kernel *out)
{
    return velem_select(ctx, out);
}
