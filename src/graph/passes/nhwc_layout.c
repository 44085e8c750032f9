/* nhwc-layout: runs convolutions channels-last. Conv and FusedConv (float32, 4-D, constant weights)
 * become NhwcConv (NhwcConvFromNchw for an RGB stem reading an NCHW value: see reads_planar), and
 * MaxPool, AveragePool and GlobalAveragePool whose input is already channels-last become their Nhwc
 * ops; layout-agnostic ops between them (elementwise unary ops and activations, Clip, Identity,
 * Add/Sub/Mul/Div/Max/Min of 4-D or scalar operands, Concat and Split on the channel axis, Slice
 * with constant axes, and ShuffleNet's channel shuffle: Reshape to [N, g, C/g, H, W],
 * Transpose [0, 2, 1, 3, 4], Reshape back) run channels-last too, and ReduceMean/ReduceMax
 * without keepdims over H and W (x.mean([2, 3])) read the channels-last value. A value crosses
 * layouts once, at the edges: Transpose [0, 2, 3, 1] where an NCHW value enters, [0, 3, 1, 2]
 * where an NHWC value reaches an op that needs NCHW or a graph output (a view Reshape instead when
 * H = W = 1, as after a global pool). Existing Transposes between the layouts are reused rather
 * than stacked, so pairs that cancel vanish (dead-node elimination removes what nothing reads any
 * more). The pass runs after the fusions, each round; a second round finds nothing left to move. */
#include <stdio.h>

#include "graph/passes/passes.h"

/* A value's channels-last twin: a value id, or one of these. */
#define TWIN_NONE (-1)
#define TWIN_PENDING (-2) /* its producer turns channels-last: the twin is the producer's new output */

enum node_mode {
    MODE_KEEP = 0,
    MODE_NHWC_OP = 1,   /* becomes its Nhwc op */
    MODE_AGNOSTIC = 2,  /* runs channels-last as it is */
    MODE_IDENTITY = 3,  /* a Transpose to NHWC of a value that has a twin: an Identity of it */
    MODE_SHUFFLE = 4,   /* the first Reshape of a channel shuffle (the rest follows it) */
    MODE_DONE = 5,      /* a Transpose or Reshape of a channel shuffle, rewritten with the first */
    MODE_REDUCE = 6     /* a reduction without keepdims: reads the twin, its output stays */
};

static const int64_t to_nhwc_perm[4] = {0, 2, 3, 1};
static const int64_t to_nchw_perm[4] = {0, 3, 1, 2};

typedef struct layout {
    eml_graph *g;
    eml_static_shapes s;
    eml_uses u;
    size_t n_values;      /* values before the pass: the only ones s and u describe */
    int32_t *twin;        /* per value */
    uint8_t *mode;        /* per node */
    uint8_t *orphan;      /* per value: its producer now writes the twin instead */
    int32_t shape_to_nchw, shape_to_nhwc; /* Reshape shapes [0,-1,1,1] and [0,1,1,-1], or -1 */
    uint64_t rewrites;
} layout;

/* ---- what the static shapes say ---- */

static bool known(const layout *l, int32_t v)
{
    return v >= 0 && (size_t)v < l->n_values && l->s.known[v];
}

static bool rank4(const layout *l, int32_t v)
{
    return known(l, v) && l->s.run[0][v].rank == 4;
}

static bool is_f32_4d(const layout *l, int32_t v)
{
    return rank4(l, v) && l->s.run[0][v].dtype == EML_DTYPE_F32;
}

/* One element: broadcasts the same way in either layout. */
static bool is_scalar(const layout *l, int32_t v)
{
    if (!known(l, v) || l->s.run[0][v].rank > 4)
        return false;
    for (int r = 0; r < 2; r++)
        for (int d = 0; d < l->s.run[r][v].rank; d++)
            if (l->s.run[r][v].dims[d] != 1)
                return false;
    return true;
}

/* [N, C, 1, 1] for every input shape: NCHW and NHWC hold the same bytes. */
static bool unit_plane(const layout *l, int32_t v)
{
    if (!rank4(l, v))
        return false;
    for (int r = 0; r < 2; r++)
        if (l->s.run[r][v].dims[2] != 1 || l->s.run[r][v].dims[3] != 1)
            return false;
    return true;
}

static bool has_twin(const layout *l, int32_t v)
{
    return v >= 0 && (size_t)v < l->n_values && l->twin[v] != TWIN_NONE;
}

static bool perm_is(const eml_node *n, const int64_t *perm)
{
    const eml_attr *a = eml__node_attr(n, "perm");
    if (!a || a->type != EML_ATTR_INTS || a->count != 4)
        return false;
    for (int i = 0; i < 4; i++)
        if (a->ints[i] != perm[i])
            return false;
    return true;
}

/* ---- which nodes change ---- */

static bool is_unary_agnostic(eml_op_id op)
{
    switch (op) {
    case EML_OP_Relu:
    case EML_OP_LeakyRelu:
    case EML_OP_Clip:
    case EML_OP_Sigmoid:
    case EML_OP_HardSigmoid:
    case EML_OP_HardSwish:
    case EML_OP_Tanh:
    case EML_OP_Elu:
    case EML_OP_Selu:
    case EML_OP_Celu:
    case EML_OP_Softplus:
    case EML_OP_Softsign:
    case EML_OP_Abs:
    case EML_OP_Neg:
    case EML_OP_Exp:
    case EML_OP_Log:
    case EML_OP_Sqrt:
    case EML_OP_Reciprocal:
    case EML_OP_Erf:
    case EML_OP_Identity: return true;
    default: return false;
    }
}

static bool is_binary_agnostic(eml_op_id op)
{
    return op == EML_OP_Add || op == EML_OP_Sub || op == EML_OP_Mul || op == EML_OP_Div ||
           op == EML_OP_Max || op == EML_OP_Min;
}

/* Inputs that carry the layout (the others are weights, scalars, bounds). */
static bool is_data_input(const layout *l, const eml_node *n, int32_t k)
{
    const int32_t v = n->inputs[k];
    if (v < 0)
        return false;
    switch (n->op) {
    case EML_OP_Conv:
    case EML_OP_FusedConv:
    case EML_OP_NhwcConv: return k == 0 || k == 3;
    case EML_OP_Concat: return true;
    case EML_OP_Split: return k == 0;
    default: break;
    }
    if (is_binary_agnostic(n->op))
        return !is_scalar(l, v);
    return k == 0;
}

static bool single_output(const eml_node *n)
{
    for (int32_t k = 1; k < n->n_outputs; k++)
        if (n->outputs[k] >= 0)
            return false;
    return n->n_outputs >= 1 && n->outputs[0] >= 0;
}

static bool conv_convertible(const layout *l, const eml_node *n)
{
    if (n->op != EML_OP_Conv && n->op != EML_OP_FusedConv)
        return false;
    if (n->n_inputs < 2 || !is_f32_4d(l, n->inputs[0]) || !eml__value_is_const(l->g, n->inputs[1]))
        return false;
    eml_tensor w;
    if (!eml__value_const(l->g, n->inputs[1], &w) || w.rank != 4 || w.dtype != EML_DTYPE_F32)
        return false;
    if (n->n_inputs > 2 && n->inputs[2] >= 0 && !eml__value_is_const(l->g, n->inputs[2]))
        return false;
    if (n->n_inputs > 3 && n->inputs[3] >= 0 && !is_f32_4d(l, n->inputs[3]))
        return false;
    return n->n_inputs <= 4 && rank4(l, n->outputs[0]);
}

static bool pool_convertible(const layout *l, const eml_node *n)
{
    if (n->op != EML_OP_MaxPool && n->op != EML_OP_AveragePool &&
        n->op != EML_OP_GlobalAveragePool)
        return false;
    /* only where the input is channels-last already: a lone pool is not worth two transposes */
    return is_f32_4d(l, n->inputs[0]) && has_twin(l, n->inputs[0]) && rank4(l, n->outputs[0]);
}

/* Concat and Split work along the channel axis when their (explicit) axis is 1 or -3. */
static bool channel_axis(const eml_node *n)
{
    const eml_attr *axis = eml__node_attr(n, "axis");
    return axis && axis->type == EML_ATTR_INT && (axis->i == 1 || axis->i == -3);
}

/* An NCHW axis (negative counts from the end) as an NHWC one, -1 when out of range. */
static int64_t nhwc_axis(int64_t a)
{
    static const int64_t map[4] = {0, 3, 1, 2};
    if (a < 0)
        a += 4;
    return a >= 0 && a < 4 ? map[a] : -1;
}

/* Slice's axes: the attribute (opset < 10) or a constant integer input (absent: not moved). */
static bool slice_axes(const layout *l, const eml_node *n, eml_tensor *axes, const eml_attr **attr)
{
    *attr = NULL;
    if (n->opset < 10) {
        *attr = eml__node_attr(n, "axes");
        return *attr && (*attr)->type == EML_ATTR_INTS;
    }
    if (n->n_inputs < 4 || n->inputs[3] < 0 || !eml__value_const(l->g, n->inputs[3], axes))
        return false;
    return axes->rank == 1 && (axes->dtype == EML_DTYPE_I64 || axes->dtype == EML_DTYPE_I32);
}

/* A Slice with known axes (as chunk and split are exported) moves its axes to the NHWC ones;
 * starts, ends and steps follow the axes' order, so they stay. */
static bool slice_convertible(const layout *l, const eml_node *n)
{
    eml_tensor axes;
    const eml_attr *attr;
    if (!slice_axes(l, n, &axes, &attr))
        return false;
    const int64_t count = attr ? (int64_t)attr->count : axes.dims[0];
    for (int64_t k = 0; k < count; k++)
        if (nhwc_axis(attr ? attr->ints[k] : eml__tensor_get_i64(&axes, k)) < 0)
            return false;
    for (int32_t k = 1; k < n->n_inputs; k++)
        if (n->inputs[k] >= 0 && !eml__value_is_const(l->g, n->inputs[k]))
            return false;
    return true;
}

/* ReduceMean or ReduceMax over attribute axes without keepdims (x.mean([2, 3]) as exported)
 * reads the twin with its axes moved, when the dims that remain keep their order in NHWC. */
static bool reduce_convertible(const layout *l, const eml_node *n)
{
    if ((n->op != EML_OP_ReduceMean && n->op != EML_OP_ReduceMax) || n->opset >= 18 ||
        n->n_inputs != 1 || !single_output(n) || !is_f32_4d(l, n->inputs[0]) ||
        !has_twin(l, n->inputs[0]))
        return false;
    const eml_attr *keep = eml__node_attr(n, "keepdims");
    const eml_attr *axes = eml__node_attr(n, "axes");
    if (!keep || keep->type != EML_ATTR_INT || keep->i != 0 || !axes ||
        axes->type != EML_ATTR_INTS || axes->count < 1 || axes->count > 4)
        return false;
    bool reduced[4] = {false, false, false, false};
    for (size_t k = 0; k < axes->count; k++) {
        int64_t a = axes->ints[k] < 0 ? axes->ints[k] + 4 : axes->ints[k];
        if (a < 0 || a > 3)
            return false;
        reduced[a] = true;
    }
    /* C moves behind H and W: it may remain only when they do not */
    return reduced[1] || (reduced[2] && reduced[3]);
}

/* An agnostic op runs channels-last when one of its data inputs is, and every other one is 4-D
 * (it gets a twin) or a scalar. */
static bool agnostic_convertible(const layout *l, const eml_node *n)
{
    for (int32_t k = 0; k < n->n_outputs; k++)
        if (n->outputs[k] >= 0 && !rank4(l, n->outputs[k]))
            return false;
    if (n->op == EML_OP_Concat || n->op == EML_OP_Split) {
        if (!channel_axis(n))
            return false;
    } else if (n->op == EML_OP_Slice) {
        if (!slice_convertible(l, n))
            return false;
    } else if (!is_unary_agnostic(n->op) && !is_binary_agnostic(n->op)) {
        return false;
    }
    if (eml__node_has_subgraph(n))
        return false;
    bool any = false;
    for (int32_t k = 0; k < n->n_inputs; k++) {
        const int32_t v = n->inputs[k];
        if (!is_data_input(l, n, k))
            continue;
        if (!rank4(l, v))
            return false;
        any = any || has_twin(l, v);
    }
    return any;
}


/* ---- ShuffleNet's channel shuffle ---- */

static bool perm5_is(const eml_node *n, const int64_t *perm)
{
    const eml_attr *a = eml__node_attr(n, "perm");
    if (!a || a->type != EML_ATTR_INTS || a->count != 5)
        return false;
    for (int i = 0; i < 5; i++)
        if (a->ints[i] != perm[i])
            return false;
    return true;
}

/* A Reshape with a shape input whose 0 entries copy the input's dims (as the rewrite writes). */
static bool plain_reshape(const eml_node *n)
{
    const eml_attr *allowzero = eml__node_attr(n, "allowzero");
    return n->op == EML_OP_Reshape && n->n_inputs == 2 && n->inputs[1] >= 0 &&
           n->n_outputs == 1 && (!allowzero || allowzero->i == 0);
}

/* The single node reading v (which nothing else reads), or NULL. */
static eml_node *only_reader(const layout *l, int32_t v)
{
    if (v < 0 || !eml__uses_private(l->g, &l->u, v, 1) || l->u.consumer[v] < 0)
        return NULL;
    return &l->g->nodes[l->u.consumer[v]];
}

/* r1 = Reshape(x, [N, g, C/g, H, W]) read only by Transpose [0, 2, 1, 3, 4], read only by
 * Reshape(., [N, C, H, W]), on an x [N, C, H, W] that has a twin: the shuffle runs on the twin as
 * Reshape [N, H, W, g, C/g], Transpose [0, 1, 2, 4, 3], Reshape [N, H, W, C]. chain: the
 * Transpose and the last Reshape, when not NULL. */
static bool shuffle_convertible(const layout *l, const eml_node *r1, eml_node **chain)
{
    static const int64_t swap[5] = {0, 2, 1, 3, 4};
    if (!plain_reshape(r1))
        return false;
    const int32_t x = r1->inputs[0], a = r1->outputs[0];
    if (!rank4(l, x) || !has_twin(l, x) || !known(l, a) || l->s.run[0][a].rank != 5)
        return false;
    eml_node *t = only_reader(l, a);
    if (!t || t->op != EML_OP_Transpose || !perm5_is(t, swap) || t->n_outputs != 1)
        return false;
    eml_node *r2 = only_reader(l, t->outputs[0]);
    if (!r2 || !plain_reshape(r2) || r2->inputs[0] != t->outputs[0] ||
        !eml__static_same_shape(&l->s, x, r2->outputs[0]))
        return false;
    for (int r = 0; r < 2; r++) {
        const int64_t *xd = l->s.run[r][x].dims, *ad = l->s.run[r][a].dims;
        if (ad[0] != xd[0] || ad[1] * ad[2] != xd[1] || ad[3] != xd[2] || ad[4] != xd[3])
            return false;
    }
    /* the new shapes spell out g, C/g, H and W: they must not depend on the input's size */
    for (int d = 1; d < 5; d++)
        if (eml__static_dim_symbolic(&l->s, a, d))
            return false;
    if (chain) {
        chain[0] = t;
        chain[1] = r2;
    }
    return true;
}

/* ---- building nodes ---- */

static eml_status set_perm(eml_graph *g, eml_node *n, const int64_t *perm)
{
    eml_attr *a = &n->attrs[0];
    a->name = eml__strdup(g->env, "perm");
    a->ints = eml__alloc(g->env, 4 * sizeof(int64_t));
    if (!a->name || !a->ints)
        return EML_ENOMEM;
    a->type = EML_ATTR_INTS;
    a->count = 4;
    memcpy(a->ints, perm, 4 * sizeof(int64_t));
    return EML_OK;
}

/* A node in the default domain reading in and writing out (nodes are sorted after the passes). */
static eml_status add_node(layout *l, const char *op, int32_t n_in, int32_t n_attrs, int32_t in,
                           int32_t out, eml_node **made)
{
    eml_graph *g = l->g;
    char name[256];
    snprintf(name, sizeof(name), "%.200s_%s", g->values[out].name, op);
    eml_node *n;
    eml_status st = eml__graph_add_node(g, name, op, "", n_in, 1, n_attrs, &n);
    if (st == EML_OK)
        st = eml__node_set_op(g, n, op, "");
    if (st != EML_OK)
        return st;
    if (n->opset <= 0) /* a graph without opset imports: the op's current form */
        n->opset = 17;
    n->inputs[0] = in;
    n->outputs[0] = out;
    g->values[out].producer = (int32_t)(g->n_nodes - 1);
    *made = n;
    l->rewrites++;
    return EML_OK;
}

/* out = in with dims permuted: a Transpose, or a Reshape (a view) when H = W = 1 makes the two
 * layouts the same bytes. */
static eml_status convert(layout *l, int32_t in, int32_t out, bool to_nhwc, bool unit)
{
    eml_graph *g = l->g;
    eml_node *n;
    eml_status st;
    if (unit && eml__graph_opset(g, "") >= 5) {
        int32_t *shape = to_nhwc ? &l->shape_to_nhwc : &l->shape_to_nchw;
        if (*shape < 0) {
            int64_t *d = eml__alloc(g->env, 4 * sizeof(int64_t));
            if (!d)
                return EML_ENOMEM;
            /* 0 copies the batch dim, -1 takes the channels */
            const int64_t dims[2][4] = {{0, -1, 1, 1}, {0, 1, 1, -1}};
            memcpy(d, dims[to_nhwc], sizeof(dims[0]));
            eml_tensor t = {EML_DTYPE_I64, 1, {4}, d};
            st = eml__graph_new_const(g, "nhwc_layout", to_nhwc ? "_shape_nhwc" : "_shape_nchw",
                                      &t, shape);
            if (st != EML_OK) {
                eml__free(g->env, d);
                return st;
            }
        }
        st = add_node(l, "Reshape", 2, 0, in, out, &n);
        if (st == EML_OK)
            n->inputs[1] = *shape;
        return st;
    }
    st = add_node(l, "Transpose", 1, 1, in, out, &n);
    return st == EML_OK ? set_perm(g, n, to_nhwc ? to_nhwc_perm : to_nchw_perm) : st;
}

/* The channels-last twin of v, made now when v has none. */
static eml_status twin_of(layout *l, int32_t v, int32_t *out)
{
    if (l->twin[v] >= 0) {
        *out = l->twin[v];
        return EML_OK;
    }
    EML_ASSERT(l->twin[v] == TWIN_NONE); /* pending twins exist before their readers (topological) */
    eml_status st = eml__graph_new_value(l->g, l->g->values[v].name, "_nhwc", out);
    if (st == EML_OK)
        st = convert(l, v, *out, true, unit_plane(l, v));
    if (st == EML_OK)
        l->twin[v] = *out;
    return st;
}

static const char *nhwc_op(eml_op_id op)
{
    switch (op) {
    case EML_OP_MaxPool: return "NhwcMaxPool";
    case EML_OP_AveragePool: return "NhwcAveragePool";
    case EML_OP_GlobalAveragePool: return "NhwcGlobalAveragePool";
    default: return "NhwcConv";
    }
}

/* An RGB stem: a conv of one group, undilated, of at most PLANAR_MAX_CHANNELS input channels and
 * PLANAR_MAX_KERNEL taps a side, reading a value that stays NCHW (a graph input) becomes
 * NhwcConvFromNchw and reads it as it is: a channels-last copy of three channels would cost about
 * what its conv gains from it (mobilenet_v2's 224 x 224 image: a 28 us transpose). The fast
 * kernel takes every such conv (C * kh * kw <= EML_PLANAR_MAX_TAPS). A float16 model's stem
 * stays an NhwcConv: that op's float16 kernels take it where the CPU computes in float16. */
#define PLANAR_MAX_CHANNELS 4
#define PLANAR_MAX_KERNEL 16
static bool reads_planar(const layout *l, const eml_node *n)
{
    if (n->op != EML_OP_Conv && n->op != EML_OP_FusedConv)
        return false;
    const int32_t x = n->inputs[0];
    if (x < 0 || l->twin[x] != TWIN_NONE)
        return false;
    const eml_attr *group = eml__node_attr(n, "group");
    const eml_attr *dil = eml__node_attr(n, "dilations");
    if (group && (group->type != EML_ATTR_INT || group->i != 1))
        return false;
    for (size_t k = 0; dil && k < dil->count; k++)
        if (dil->type != EML_ATTR_INTS || dil->ints[k] != 1)
            return false;
    eml_tensor w;
    if (!eml__value_const(l->g, n->inputs[1], &w) || /* conv_convertible checked it is */
        (l->g->values[n->inputs[1]].flags & EML_VALUE_FROM_F16))
        return false;
    return w.dims[1] <= PLANAR_MAX_CHANNELS && w.dims[2] <= PLANAR_MAX_KERNEL &&
           w.dims[3] <= PLANAR_MAX_KERNEL;
}

/* A Transpose to NHWC of a value that has a twin already becomes an Identity of the twin. */
static eml_status to_identity(layout *l, size_t i)
{
    eml_graph *g = l->g;
    int32_t t;
    eml_status st = twin_of(l, g->nodes[i].inputs[0], &t);
    if (st == EML_OK)
        st = eml__node_set_op(g, &g->nodes[i], "Identity", "");
    if (st != EML_OK)
        return st;
    eml_node *n = &g->nodes[i];
    n->inputs[0] = t;
    for (int32_t a = 0; a < n->n_attrs; a++) {
        eml__free(g->env, n->attrs[a].name);
        eml__free(g->env, n->attrs[a].ints);
        memset(&n->attrs[a], 0, sizeof(n->attrs[a]));
    }
    n->n_attrs = 0;
    l->rewrites++;
    return EML_OK;
}

/* Slice's axes as NHWC axes: in place for the attribute, a new constant for the input (which
 * other nodes may share), in the same integer type as starts and ends. */
static eml_status move_slice_axes(layout *l, eml_node *n)
{
    eml_tensor axes;
    const eml_attr *attr;
    if (!slice_axes(l, n, &axes, &attr))
        return EML_EINTERNAL;
    if (attr) {
        for (size_t k = 0; k < attr->count; k++)
            attr->ints[k] = nhwc_axis(attr->ints[k]);
        return EML_OK;
    }
    const size_t width = eml_dtype_size(axes.dtype);
    void *d = eml__alloc(l->g->env, EML_MAX((size_t)axes.dims[0], 1) * width);
    if (!d)
        return EML_ENOMEM;
    for (int64_t k = 0; k < axes.dims[0]; k++) {
        const int64_t a = nhwc_axis(eml__tensor_get_i64(&axes, k));
        if (axes.dtype == EML_DTYPE_I64)
            ((int64_t *)d)[k] = a;
        else
            ((int32_t *)d)[k] = (int32_t)a;
    }
    eml_tensor t = {axes.dtype, 1, {axes.dims[0]}, d};
    int32_t id;
    const int32_t slot = (int32_t)(n - l->g->nodes);
    eml_status st = eml__graph_new_const(l->g, "nhwc_layout", "_slice_axes", &t, &id);
    if (st != EML_OK) {
        eml__free(l->g->env, d);
        return st;
    }
    l->g->nodes[slot].inputs[3] = id;
    return EML_OK;
}

/* Rewires node i to read and write twins, and turns it into its Nhwc op or moves Concat's axis. */
static eml_status rewrite_node(layout *l, size_t i)
{
    eml_graph *g = l->g;
    eml_status st;
    if (l->mode[i] == MODE_IDENTITY)
        return to_identity(l, i);
    if (l->mode[i] == MODE_REDUCE) {
        int32_t t;
        st = twin_of(l, g->nodes[i].inputs[0], &t);
        if (st != EML_OK)
            return st;
        g->nodes[i].inputs[0] = t;
        eml_attr *axes = (eml_attr *)eml__node_attr(&g->nodes[i], "axes");
        for (size_t k = 0; k < axes->count; k++)
            axes->ints[k] = nhwc_axis(axes->ints[k]);
        l->rewrites++;
        return EML_OK;
    }
    const bool planar = l->mode[i] == MODE_NHWC_OP && reads_planar(l, &g->nodes[i]);
    for (int32_t k = planar ? 1 : 0; k < g->nodes[i].n_inputs; k++) {
        if (!is_data_input(l, &g->nodes[i], k))
            continue;
        int32_t t;
        /* may add nodes: g->nodes moves, so the node is looked up again each time */
        st = twin_of(l, g->nodes[i].inputs[k], &t);
        if (st != EML_OK)
            return st;
        g->nodes[i].inputs[k] = t;
    }
    for (int32_t k = 0; k < g->nodes[i].n_outputs; k++) {
        const int32_t y = g->nodes[i].outputs[k];
        if (y < 0)
            continue;
        int32_t t;
        st = eml__graph_new_value(g, g->values[y].name, "_nhwc", &t);
        if (st != EML_OK)
            return st;
        g->nodes[i].outputs[k] = t;
        g->values[t].producer = (int32_t)i;
        g->values[y].producer = -1;
        l->twin[y] = t;
        l->orphan[y] = 1;
    }
    eml_node *n = &g->nodes[i];
    if (l->mode[i] == MODE_NHWC_OP) {
        st = eml__graph_import_edgeml(g);
        if (st == EML_OK)
            st = eml__node_set_op(g, &g->nodes[i],
                                  planar ? "NhwcConvFromNchw" : nhwc_op(g->nodes[i].op),
                                  EML_EDGEML_DOMAIN);
        if (st != EML_OK)
            return st;
    } else if (n->op == EML_OP_Concat || n->op == EML_OP_Split) {
        ((eml_attr *)eml__node_attr(n, "axis"))->i = 3;
    } else if (n->op == EML_OP_Slice) {
        st = move_slice_axes(l, n);
        if (st != EML_OK)
            return st;
    }
    l->rewrites++;
    return EML_OK;
}

/* A new int64 [n] initializer. */
static eml_status shape_const(layout *l, const int64_t *dims, int n, int32_t *id)
{
    int64_t *d = eml__alloc(l->g->env, (size_t)n * sizeof(int64_t));
    if (!d)
        return EML_ENOMEM;
    memcpy(d, dims, (size_t)n * sizeof(int64_t));
    eml_tensor t = {EML_DTYPE_I64, 1, {n}, d};
    eml_status st = eml__graph_new_const(l->g, "nhwc_layout", "_shuffle_shape", &t, id);
    if (st != EML_OK)
        eml__free(l->g->env, d);
    return st;
}

/* Gives node i's output k a new value named after the old one (which keeps no producer). */
static eml_status new_output(layout *l, size_t i, int32_t *out)
{
    eml_graph *g = l->g;
    const int32_t old = g->nodes[i].outputs[0];
    eml_status st = eml__graph_new_value(g, g->values[old].name, "_nhwc", out);
    if (st != EML_OK)
        return st;
    g->nodes[i].outputs[0] = *out;
    g->values[*out].producer = (int32_t)i;
    g->values[old].producer = -1;
    return EML_OK;
}

/* The channel shuffle starting at Reshape i, rewritten on x's twin (see shuffle_convertible). */
static eml_status rewrite_shuffle(layout *l, size_t i)
{
    eml_graph *g = l->g;
    eml_node *chain[2];
    if (!shuffle_convertible(l, &g->nodes[i], chain))
        return EML_EINTERNAL;
    const size_t ti = (size_t)(chain[0] - g->nodes), ri = (size_t)(chain[1] - g->nodes);
    const int32_t x = g->nodes[i].inputs[0], a = g->nodes[i].outputs[0];
    const int32_t y = g->nodes[ri].outputs[0];
    const int64_t *ad = l->s.run[0][a].dims;
    const int64_t split[5] = {0, ad[3], ad[4], ad[1], ad[2]};
    const int64_t back[4] = {0, ad[3], ad[4], ad[1] * ad[2]};
    int32_t xt, s1, s2, a2, b2, y2;
    eml_status st = twin_of(l, x, &xt);
    if (st == EML_OK)
        st = shape_const(l, split, 5, &s1);
    if (st == EML_OK)
        st = shape_const(l, back, 4, &s2);
    if (st == EML_OK)
        st = new_output(l, i, &a2);
    if (st == EML_OK)
        st = new_output(l, ti, &b2);
    if (st == EML_OK)
        st = new_output(l, ri, &y2);
    if (st != EML_OK)
        return st;
    g->nodes[i].inputs[0] = xt;
    g->nodes[i].inputs[1] = s1;
    g->nodes[ti].inputs[0] = a2;
    eml_attr *perm = (eml_attr *)eml__node_attr(&g->nodes[ti], "perm");
    const int64_t swap_last[5] = {0, 1, 2, 4, 3};
    memcpy(perm->ints, swap_last, sizeof(swap_last));
    g->nodes[ri].inputs[0] = b2;
    g->nodes[ri].inputs[1] = s2;
    l->twin[y] = y2;
    l->orphan[y] = 1;
    l->rewrites += 3;
    return EML_OK;
}

/* Where an orphaned NCHW value is still read (or is a graph output), it is made back from its
 * twin. */
static eml_status restore_nchw(layout *l)
{
    eml_uses u;
    eml_status st = eml__uses_build(l->g, &u);
    if (st != EML_OK)
        return st;
    for (size_t v = 0; v < l->n_values && st == EML_OK; v++) {
        if (l->orphan[v] && (u.count[v] > 0 || u.fixed[v]))
            st = convert(l, l->twin[v], (int32_t)v, false, unit_plane(l, (int32_t)v));
    }
    eml__uses_deinit(&u);
    return st;
}

static bool worth_running(const eml_graph *g)
{
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == EML_OP_Conv || g->nodes[i].op == EML_OP_FusedConv)
            return true;
    return false;
}

eml_status eml__pass_nhwc_layout(eml_pass_ctx *ctx)
{
    eml_graph *g = ctx->g;
    if (!worth_running(g))
        return EML_OK;
    eml_env *env = g->env;
    layout l = {.g = g, .n_values = g->n_values, .shape_to_nchw = -1, .shape_to_nhwc = -1};
    const size_t n_nodes = g->n_nodes;
    int32_t *order = eml__alloc(env, EML_MAX(n_nodes, 1) * sizeof(int32_t));
    l.twin = eml__alloc(env, EML_MAX(l.n_values, 1) * sizeof(int32_t));
    l.mode = eml__calloc(env, EML_MAX(n_nodes, 1), 1);
    l.orphan = eml__calloc(env, EML_MAX(l.n_values, 1), 1);
    eml_status st = EML_ENOMEM;
    if (!order || !l.twin || !l.mode || !l.orphan)
        goto done;
    st = eml__graph_verify(g, order, NULL);
    if (st != EML_OK)
        goto done;
    st = eml__infer_static(g, &l.s, ctx->diag);
    if (st != EML_OK)
        goto done;
    st = eml__uses_build(g, &l.u);
    if (st != EML_OK)
        goto done;
    for (size_t v = 0; v < l.n_values; v++)
        l.twin[v] = TWIN_NONE;
    /* decide, in topological order, so that each node sees its inputs' twins */
    for (size_t k = 0; k < n_nodes; k++) {
        const size_t i = (size_t)order[k];
        const eml_node *n = &g->nodes[i];
        if (n->op == EML_OP_Transpose && n->inputs[0] >= 0 && n->outputs[0] >= 0 &&
            rank4(&l, n->inputs[0])) {
            /* a Transpose between the layouts already is a twin */
            if (perm_is(n, to_nchw_perm)) {
                l.twin[n->outputs[0]] = n->inputs[0];
            } else if (perm_is(n, to_nhwc_perm)) {
                if (l.twin[n->inputs[0]] == TWIN_NONE)
                    l.twin[n->inputs[0]] = n->outputs[0];
                else
                    l.mode[i] = MODE_IDENTITY;
            }
            continue;
        }
        if (l.mode[i] != MODE_KEEP || eml__node_has_subgraph(n))
            continue; /* MODE_DONE: decided with its shuffle */
        if (n->op == EML_OP_Split && agnostic_convertible(&l, n)) {
            l.mode[i] = MODE_AGNOSTIC;
        } else if (n->op == EML_OP_Reshape && shuffle_convertible(&l, n, NULL)) {
            eml_node *chain[2];
            shuffle_convertible(&l, n, chain);
            l.mode[i] = MODE_SHUFFLE;
            l.mode[chain[0] - g->nodes] = MODE_DONE;
            l.mode[chain[1] - g->nodes] = MODE_DONE;
            l.twin[chain[1]->outputs[0]] = TWIN_PENDING;
            continue;
        } else if (reduce_convertible(&l, n)) {
            l.mode[i] = MODE_REDUCE;
            continue;
        } else if (!single_output(n)) {
            continue;
        } else if (conv_convertible(&l, n) || pool_convertible(&l, n)) {
            l.mode[i] = MODE_NHWC_OP;
        } else if (agnostic_convertible(&l, n)) {
            l.mode[i] = MODE_AGNOSTIC;
        }
        for (int32_t o = 0; l.mode[i] != MODE_KEEP && o < n->n_outputs; o++)
            if (n->outputs[o] >= 0)
                l.twin[n->outputs[o]] = TWIN_PENDING;
    }
    for (size_t k = 0; k < n_nodes && st == EML_OK; k++) {
        const size_t i = (size_t)order[k];
        if (l.mode[i] == MODE_SHUFFLE)
            st = rewrite_shuffle(&l, i);
        else if (l.mode[i] != MODE_KEEP && l.mode[i] != MODE_DONE)
            st = rewrite_node(&l, i);
    }
    if (st == EML_OK && l.rewrites)
        st = restore_nchw(&l);
    if (l.rewrites)
        eml__graph_reindex(g);
done:
    ctx->rewrites += l.rewrites;
    eml__static_shapes_deinit(&l.s);
    eml__uses_deinit(&l.u);
    eml__free(env, order);
    eml__free(env, l.twin);
    eml__free(env, l.mode);
    eml__free(env, l.orphan);
    return st;
}
