/* Magnitude pruning of Conv/Gemm/MatMul weights: unstructured (smallest |w|, per layer or global)
 * or whole output channels (smallest L1 norm), written as zeros into the dense weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "graph/passes/passes.h"
#include "optimize/optimize.h"

#define PRUNE_DEFAULT_MIN_WEIGHTS 256

void eml_prune_options_init(eml_prune_options *opts)
{
    memset(opts, 0, sizeof(*opts));
    opts->struct_size = sizeof(*opts);
    opts->sparsity = 0.5f;
    opts->method = EML_PRUNE_UNSTRUCTURED;
    opts->scope = EML_PRUNE_GLOBAL;
    opts->min_weights = PRUNE_DEFAULT_MIN_WEIGHTS;
}

void eml_prune_report_deinit(eml_prune_report *r)
{
    if (!r || !r->env)
        return;
    eml__free(r->env, r->layers);
    memset(r, 0, sizeof(*r));
}

/* A layer found in the graph, with the new weight data being built. */
typedef struct prune_layer {
    int32_t node, weight; /* node index, weight value id */
    int32_t axis;         /* output-channel axis */
    uint64_t count;
    float *w; /* the pruned copy (env memory), NULL when skipped */
    const char *skipped;
} prune_layer;

/* Fills *axis when node i is a layer with a constant float32 weight at input 1. */
static bool is_layer(const eml_graph *g, int32_t i, int32_t *axis)
{
    const eml_node *n = &g->nodes[i];
    if (n->n_inputs < 2 || n->n_outputs < 1 || !eml__value_is_const(g, n->inputs[1]))
        return false;
    const eml_value *w = &g->values[n->inputs[1]];
    if (w->dtype != EML_DTYPE_F32 || !w->data)
        return false;
    if (n->op == EML_OP_Conv && w->rank >= 3) {
        *axis = 0;
    } else if (n->op == EML_OP_Gemm && w->rank == 2) {
        const eml_attr *t = eml__node_attr(n, "transB");
        *axis = t && t->type == EML_ATTR_INT && t->i ? 0 : 1;
    } else if (n->op == EML_OP_MatMul && w->rank == 2) {
        *axis = 1;
    } else {
        return false;
    }
    return true;
}

/* Magnitude used for ranking: NaN ranks as the largest, so it is never what pruning removes. */
static float mag(float x)
{
    return isnan(x) ? INFINITY : fabsf(x);
}

static void swap_f(float *a, float *b)
{
    float t = *a;
    *a = *b;
    *b = t;
}

/* The k-th smallest (0-based) of v[0..n), reordering v: quickselect with a median-of-three
 * pivot and a three-way partition (weights often hold many equal values, zeros above all). */
static float select_kth(float *v, uint64_t n, uint64_t k)
{
    uint64_t lo = 0, hi = n; /* [lo, hi) holds the k-th */
    while (hi - lo > 1) {
        uint64_t mid = lo + (hi - lo) / 2;
        float a = v[lo], b = v[mid], c = v[hi - 1];
        float pivot = a < b ? (b < c ? b : (a < c ? c : a)) : (a < c ? a : (b < c ? c : b));
        /* v[lo..lt) < pivot, v[lt..i) == pivot, v[gt..hi) > pivot */
        uint64_t lt = lo, i = lo, gt = hi;
        while (i < gt) {
            if (v[i] < pivot)
                swap_f(&v[lt++], &v[i++]);
            else if (v[i] > pivot)
                swap_f(&v[i], &v[--gt]);
            else
                i++;
        }
        if (k < lt)
            hi = lt;
        else if (k >= gt)
            lo = gt;
        else
            return pivot;
    }
    return v[lo];
}

/* Zeroes exactly k of the weights of layers[0..n) (the pruned ones): those of magnitude below the
 * k-th smallest, then ties in layer and position order. */
static eml_status prune_unstructured(eml_env *env, prune_layer *layers, size_t n, uint64_t total,
                                     uint64_t k)
{
    if (k == 0 || total == 0)
        return EML_OK;
    float *m = eml__alloc(env, total * sizeof(float));
    if (!m)
        return EML_ENOMEM;
    uint64_t at = 0;
    for (size_t l = 0; l < n; l++)
        for (uint64_t e = 0; layers[l].w && e < layers[l].count; e++)
            m[at++] = mag(layers[l].w[e]);
    float t = select_kth(m, total, k - 1);
    eml__free(env, m);
    uint64_t zeroed = 0;
    for (size_t l = 0; l < n; l++)
        for (uint64_t e = 0; layers[l].w && e < layers[l].count; e++)
            if (mag(layers[l].w[e]) < t) {
                layers[l].w[e] = 0.0f;
                zeroed++;
            }
    for (size_t l = 0; l < n && zeroed < k; l++)
        for (uint64_t e = 0; layers[l].w && e < layers[l].count && zeroed < k; e++)
            if (mag(layers[l].w[e]) == t) {
                layers[l].w[e] = 0.0f; /* may be a zero already: it counts as one of the k */
                zeroed++;
            }
    return EML_OK;
}

typedef struct channel_norm {
    double l1;
    uint32_t c;
} channel_norm;

static int cmp_norm(const void *x, const void *y)
{
    const channel_norm *a = x, *b = y;
    if (a->l1 != b->l1)
        return a->l1 < b->l1 ? -1 : 1;
    return (a->c > b->c) - (a->c < b->c);
}

/* Zeroes the round(sparsity * C) output channels of smallest L1 norm of one layer. */
static eml_status prune_channels(eml_env *env, const eml_value *wv, prune_layer *pl, float sparsity,
                                 uint32_t *channels, uint32_t *pruned)
{
    uint64_t c_count = (uint64_t)wv->dims[pl->axis];
    uint64_t inner = pl->axis == 0 ? pl->count / c_count : 1; /* axis 1 only for rank 2 */
    uint64_t stride = pl->axis == 0 ? 1 : c_count;
    *channels = (uint32_t)c_count;
    *pruned = 0;
    uint64_t k = (uint64_t)llround((double)sparsity * (double)c_count);
    if (k == 0)
        return EML_OK;
    channel_norm *norms = eml__alloc(env, c_count * sizeof(channel_norm));
    if (!norms)
        return EML_ENOMEM;
    uint64_t rows = pl->count / c_count;
    for (uint64_t c = 0; c < c_count; c++) {
        double s = 0;
        for (uint64_t r = 0; r < rows; r++) {
            float x = pl->axis == 0 ? pl->w[c * inner + r] : pl->w[r * stride + c];
            s += isnan(x) ? INFINITY : fabs((double)x);
        }
        norms[c] = (channel_norm){s, (uint32_t)c};
    }
    qsort(norms, c_count, sizeof(channel_norm), cmp_norm);
    for (uint64_t j = 0; j < k; j++) {
        uint64_t c = norms[j].c;
        for (uint64_t r = 0; r < rows; r++) {
            if (pl->axis == 0)
                pl->w[c * inner + r] = 0.0f;
            else
                pl->w[r * stride + c] = 0.0f;
        }
    }
    *pruned = (uint32_t)k;
    eml__free(env, norms);
    return EML_OK;
}

static uint64_t count_zeros(const float *w, uint64_t n)
{
    uint64_t z = 0;
    for (uint64_t i = 0; i < n; i++)
        z += w[i] == 0.0f;
    return z;
}

static void copy_name(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static eml_status check_options(const eml_prune_options *o, eml_diag *diag)
{
    if (!(o->sparsity >= 0.0f && o->sparsity < 1.0f))
        return eml__diag(diag, EML_EINVAL, "prune: sparsity must be in [0, 1), not %g",
                         (double)o->sparsity);
    if (o->method != EML_PRUNE_UNSTRUCTURED && o->method != EML_PRUNE_CHANNELS)
        return eml__diag(diag, EML_EINVAL, "prune: unknown method %d", (int)o->method);
    if (o->scope != EML_PRUNE_GLOBAL && o->scope != EML_PRUNE_PER_LAYER)
        return eml__diag(diag, EML_EINVAL, "prune: unknown scope %d", (int)o->scope);
    return EML_OK;
}

/* 1 when some other layer reads, directly or through other nodes, what layer l computes. A layer
 * that none does is a head: its output channels are the model's outputs (class scores), which
 * structured pruning must not remove. Nodes are in topological order (as ONNX files have them). */
static int feeds_a_layer(const eml_graph *g, const prune_layer *layers, size_t n, size_t l,
                         uint8_t *reached)
{
    memset(reached, 0, g->n_values);
    const eml_node *src = &g->nodes[layers[l].node];
    for (int32_t k = 0; k < src->n_outputs; k++)
        if (src->outputs[k] >= 0)
            reached[src->outputs[k]] = 1;
    for (size_t i = (size_t)layers[l].node + 1; i < g->n_nodes; i++) {
        const eml_node *node = &g->nodes[i];
        int in = 0;
        for (int32_t k = 0; k < node->n_inputs && !in; k++)
            in = node->inputs[k] >= 0 && reached[node->inputs[k]];
        if (!in)
            continue;
        for (size_t e = 0; e < n; e++)
            if ((size_t)layers[e].node == i)
                return 1;
        for (int32_t k = 0; k < node->n_outputs; k++)
            if (node->outputs[k] >= 0)
                reached[node->outputs[k]] = 1;
    }
    return 0;
}

/* Finds the layers and decides which are pruned (the others get a reason). */
static eml_status find_layers(const eml_graph *g, const eml_prune_options *o, prune_layer *layers,
                              size_t *n_layers, eml_diag *diag)
{
    size_t n = 0;
    for (size_t i = 0; i < g->n_nodes; i++) {
        int32_t axis;
        if (!is_layer(g, (int32_t)i, &axis))
            continue;
        prune_layer *pl = &layers[n++];
        memset(pl, 0, sizeof(*pl));
        pl->node = (int32_t)i;
        pl->weight = g->nodes[i].inputs[1];
        pl->axis = axis;
        const eml_value *w = &g->values[pl->weight];
        int64_t count = eml__shape_count(w->dims, w->rank);
        if (count < 0)
            return eml__diag(diag, EML_ECORRUPT, "prune: weight '%.64s' has a bad shape", w->name);
        pl->count = (uint64_t)count;
    }
    *n_layers = n;
    size_t pruned = 0;
    for (size_t l = 0; l < n; l++) {
        prune_layer *pl = &layers[l];
        for (size_t e = 0; e < l && !pl->skipped; e++)
            if (layers[e].weight == pl->weight)
                pl->skipped = "weight shared with an earlier layer";
        if (!pl->skipped && o->keep_first && l == 0)
            pl->skipped = "first layer";
        if (!pl->skipped && o->keep_last && l == n - 1)
            pl->skipped = "last layer";
        if (!pl->skipped && pl->count < o->min_weights)
            pl->skipped = "smaller than min_weights";
        if (!pl->skipped && o->method == EML_PRUNE_CHANNELS &&
            g->values[pl->weight].dims[pl->axis] < 1)
            pl->skipped = "no output channel";
        if (!pl->skipped && o->method == EML_PRUNE_CHANNELS) {
            uint8_t *reached = eml__alloc(g->env, g->n_values ? g->n_values : 1);
            if (!reached)
                return eml__diag(diag, EML_ENOMEM, "out of memory");
            if (!feeds_a_layer(g, layers, n, l, reached))
                pl->skipped = "output layer: its channels are the model's outputs";
            eml__free(g->env, reached);
        }
        pruned += !pl->skipped;
    }
    if (n == 0)
        return eml__diag(diag, EML_EINVAL,
                         "prune: nothing to prune: the model has no Conv, Gemm or MatMul with a "
                         "constant float32 weight");
    if (pruned == 0)
        return eml__diag(diag, EML_EINVAL,
                         "prune: every layer is excluded (min_weights %llu, keep first/last)",
                         (unsigned long long)o->min_weights);
    return EML_OK;
}

static void fill_report(const eml_graph *g, const prune_layer *layers, size_t n,
                        const uint64_t *zeros_before, const uint32_t *ch, const uint32_t *ch_pruned,
                        eml_prune_report *r)
{
    for (size_t l = 0; l < n; l++) {
        const prune_layer *pl = &layers[l];
        const eml_node *node = &g->nodes[pl->node];
        const eml_value *w = &g->values[pl->weight];
        eml_prune_layer *out = &r->layers[l];
        copy_name(out->node, sizeof(out->node), node->name);
        copy_name(out->op, sizeof(out->op), node->op_type);
        copy_name(out->weight, sizeof(out->weight), w->name);
        out->weight_count = pl->count;
        out->zeros_before = zeros_before[l];
        out->zeros_after = count_zeros(w->data, pl->count);
        out->sparsity = pl->count ? (double)out->zeros_after / (double)pl->count : 0;
        out->skipped = pl->skipped;
        out->channels = ch[l];
        out->channels_pruned = ch_pruned[l];
        if (!pl->skipped) {
            r->pruned_weight_count += pl->count;
            r->pruned_zeros += out->zeros_after;
        }
    }
    r->layer_count = n;
    r->sparsity =
        r->pruned_weight_count ? (double)r->pruned_zeros / (double)r->pruned_weight_count : 0;
    for (size_t v = 0; v < g->n_values; v++) {
        const eml_value *val = &g->values[v];
        if (!(val->flags & EML_VALUE_INITIALIZER) || val->dtype != EML_DTYPE_F32 || !val->data)
            continue;
        int64_t c = eml__shape_count(val->dims, val->rank);
        if (c <= 0)
            continue;
        r->param_count += (uint64_t)c;
        r->param_zeros += count_zeros(val->data, (uint64_t)c);
    }
}

eml_status eml_prune(eml_graph *g, const eml_prune_options *opts, eml_prune_report *report,
                     eml_diag *diag)
{
    if (report)
        memset(report, 0, sizeof(*report));
    if (!g)
        return eml__diag(diag, EML_EINVAL, "prune: no graph");
    eml_prune_options o;
    eml_prune_options_init(&o);
    if (opts) {
        if (opts->struct_size == 0 || opts->struct_size > sizeof(o))
            return eml__diag(diag, EML_EINVAL, "prune: bad options struct_size");
        memcpy(&o, opts, opts->struct_size);
    }
    eml_status st = check_options(&o, diag);
    if (st != EML_OK)
        return st;
    eml_env *env = g->env;
    if (report)
        report->env = env;
    size_t cap = g->n_nodes ? g->n_nodes : 1, n = 0;
    prune_layer *layers = eml__calloc(env, cap, sizeof(prune_layer));
    uint64_t *zeros_before = eml__calloc(env, cap, sizeof(uint64_t));
    uint32_t *ch = eml__calloc(env, cap, sizeof(uint32_t));
    uint32_t *ch_pruned = eml__calloc(env, cap, sizeof(uint32_t));
    if (!layers || !zeros_before || !ch || !ch_pruned) {
        st = eml__diag(diag, EML_ENOMEM, "out of memory");
        goto fail;
    }
    EML_TRY(find_layers(g, &o, layers, &n, diag));

    /* Work on copies so that a failure leaves every weight as it was. */
    uint64_t total = 0;
    for (size_t l = 0; l < n; l++) {
        prune_layer *pl = &layers[l];
        const eml_value *w = &g->values[pl->weight];
        zeros_before[l] = count_zeros(w->data, pl->count);
        if (pl->skipped)
            continue;
        pl->w = eml__alloc(env, (pl->count ? pl->count : 1) * sizeof(float));
        if (!pl->w) {
            st = eml__diag(diag, EML_ENOMEM, "out of memory");
            goto fail;
        }
        memcpy(pl->w, w->data, pl->count * sizeof(float));
        total += pl->count;
    }
    if (o.method == EML_PRUNE_CHANNELS) {
        for (size_t l = 0; l < n; l++)
            if (layers[l].w)
                EML_TRY(prune_channels(env, &g->values[layers[l].weight], &layers[l], o.sparsity,
                                       &ch[l], &ch_pruned[l]));
    } else if (o.scope == EML_PRUNE_GLOBAL) {
        EML_TRY(prune_unstructured(env, layers, n, total,
                                   (uint64_t)llround((double)o.sparsity * (double)total)));
    } else {
        for (size_t l = 0; l < n; l++)
            if (layers[l].w)
                EML_TRY(prune_unstructured(
                    env, &layers[l], 1, layers[l].count,
                    (uint64_t)llround((double)o.sparsity * (double)layers[l].count)));
    }
    if (report) {
        report->layers = eml__calloc(env, n ? n : 1, sizeof(eml_prune_layer));
        if (!report->layers) {
            st = eml__diag(diag, EML_ENOMEM, "out of memory");
            goto fail;
        }
    }
    /* Nothing can fail from here: the copies replace the weights (a mapped weight is released). */
    for (size_t l = 0; l < n; l++) {
        if (!layers[l].w)
            continue;
        const eml_value *w = &g->values[layers[l].weight];
        eml_tensor t = {EML_DTYPE_F32, w->rank, {0}, layers[l].w};
        memcpy(t.dims, w->dims, sizeof(t.dims));
        eml__value_set_const(g, layers[l].weight, &t);
        layers[l].w = NULL;
    }
    if (report)
        fill_report(g, layers, n, zeros_before, ch, ch_pruned, report);
    st = EML_OK;
fail:
    for (size_t l = 0; layers && l < n; l++)
        eml__free(env, layers[l].w);
    eml__free(env, layers);
    eml__free(env, zeros_before);
    eml__free(env, ch);
    eml__free(env, ch_pruned);
    return st;
}
