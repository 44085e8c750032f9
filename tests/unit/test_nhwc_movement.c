/* Tests of what runs torchvision's other CNNs channels-last: the nhwc-layout pass moving Slice
 * (ShuffleNet's chunk) and ReduceMean over H and W (x.mean([2, 3])), HardSwish fused from
 * Mul(x, HardSigmoid(x)) as torch exports it below opset 14, and the kernels behind them: the
 * fast strided copy (Slice, any Transpose) and the row-wise ReduceMean/ReduceSum against the
 * reference kernels on random shapes. */
#include "graph/op.h"
#include "kernels/fast_movement.h"
#include "kernels/ref/reduce.h"
#include "passes_util.h"

/* 6 channels: an RGB stem would read the NCHW input as it is, without the Transpose counted */
static const int64_t x_dims[4] = {2, 6, 9, 7};

static eml_graph *graph_with_input(eml_env *env)
{
    eml_graph *g = pt_graph(env, 13);
    pt_input(g, "x", EML_DTYPE_F32, 4, x_dims, NULL);
    return g;
}

static eml_node *conv(eml_graph *g, const char *name, const char *in, const char *out, int64_t c,
                      int64_t o, int64_t k)
{
    char w[64], b[64];
    snprintf(w, sizeof(w), "%s_w", name);
    snprintf(b, sizeof(b), "%s_b", name);
    pt_const_f32(g, w, 4, (const int64_t[]){o, c, k, k}, NULL);
    pt_const_f32(g, b, 1, (const int64_t[]){o}, NULL);
    eml_node *n =
        pt_node(g, "Conv", NULL, name, (const char *[]){in, w, b}, 3, (const char *[]){out}, 1);
    pt_attr_ints(g, n, "kernel_shape", (const int64_t[]){k, k}, 2);
    pt_attr_ints(g, n, "pads", (const int64_t[]){k / 2, k / 2, k / 2, k / 2}, 4);
    return n;
}

/* Outputs before and after optimizing (all passes) agree on the reference kernels. */
static void optimize_and_compare(eml_graph *g)
{
    eml_tensor x = pt_random(4, x_dims);
    pt_outputs before, after;
    pt_run(g, &x, &before);
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_graph_optimize(g, NULL, NULL, &diag), &diag);
    pt_run(g, &x, &after);
    double d = pt_rel_diff(&after, &before);
    if (d > 1e-5)
        fprintf(stderr, "optimized outputs differ by %g\n", d);
    CHECK(d <= 1e-5);
    pt_outputs_free(&before);
    pt_outputs_free(&after);
    free(x.data);
}

/* x.chunk(2, dim=1) as torch 1.13 exports it: two Slices with constant starts, ends and axes */
EML_TEST(layout_slice_chunk_runs_channels_last)
{
    eml_env *env = pt_env();
    eml_graph *g = graph_with_input(env);
    conv(g, "a", "x", "a_out", 6, 6, 3);
    pt_const_i64(g, "axes", 1, (const int64_t[]){1});
    pt_const_i64(g, "s0", 1, (const int64_t[]){0});
    pt_const_i64(g, "e0", 1, (const int64_t[]){3});
    pt_const_i64(g, "e1", 1, (const int64_t[]){6});
    pt_node(g, "Slice", NULL, "sl0", (const char *[]){"a_out", "s0", "e0", "axes"}, 4,
            (const char *[]){"x1"}, 1);
    pt_node(g, "Slice", NULL, "sl1", (const char *[]){"a_out", "e0", "e1", "axes"}, 4,
            (const char *[]){"x2"}, 1);
    conv(g, "b", "x2", "b_out", 3, 3, 3);
    eml_node *cat = pt_node(g, "Concat", NULL, "cat", (const char *[]){"x1", "b_out"}, 2,
                            (const char *[]){"y"}, 1);
    pt_attr_int(g, cat, "axis", 1);
    pt_output(g, "y");
    optimize_and_compare(g);
    CHECK(pt_count_op(g, "Slice") == 2);
    CHECK(pt_count_op(g, "Transpose") == 2); /* the input's and the output's only */
    const eml_node *sl = pt_find_op(g, "Slice");
    REQUIRE(sl && sl->n_inputs >= 4);
    eml_tensor axes;
    REQUIRE(eml__value_const(g, sl->inputs[3], &axes));
    CHECK(eml__tensor_get_i64(&axes, 0) == 3);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* x.mean([2, 3]) reads the channels-last value with its axes moved; keepdims stays 0 */
EML_TEST(layout_reduce_mean_reads_channels_last)
{
    eml_env *env = pt_env();
    eml_graph *g = graph_with_input(env);
    conv(g, "a", "x", "a_out", 6, 6, 3);
    eml_node *r = pt_node(g, "ReduceMean", NULL, "mean", (const char *[]){"a_out"}, 1,
                          (const char *[]){"y"}, 1);
    pt_attr_ints(g, r, "axes", (const int64_t[]){2, -1}, 2);
    pt_attr_int(g, r, "keepdims", 0);
    pt_output(g, "y");
    optimize_and_compare(g);
    CHECK(pt_count_op(g, "Transpose") == 1);
    const eml_attr *axes = eml__node_attr(pt_find_op(g, "ReduceMean"), "axes");
    REQUIRE(axes && axes->count == 2);
    CHECK(axes->ints[0] == 1 && axes->ints[1] == 2);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* Over C and H without keepdims the remaining dims would change order: it stays NCHW */
EML_TEST(layout_reduce_keeps_nchw_when_order_changes)
{
    eml_env *env = pt_env();
    eml_graph *g = graph_with_input(env);
    conv(g, "a", "x", "a_out", 6, 6, 3);
    eml_node *r = pt_node(g, "ReduceMean", NULL, "mean", (const char *[]){"a_out"}, 1,
                          (const char *[]){"y"}, 1);
    pt_attr_ints(g, r, "axes", (const int64_t[]){2}, 1);
    pt_attr_int(g, r, "keepdims", 0);
    pt_output(g, "y");
    optimize_and_compare(g);
    CHECK(pt_count_op(g, "Transpose") == 2);
    const eml_attr *axes = eml__node_attr(pt_find_op(g, "ReduceMean"), "axes");
    CHECK(axes && axes->count == 1 && axes->ints[0] == 2);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* torch's Hardswish at opset 13: Mul(x, HardSigmoid(x, alpha=1/6)) fuses into the conv */
EML_TEST(fusion_hardswish_from_hardsigmoid_mul)
{
    eml_env *env = pt_env();
    eml_graph *g = graph_with_input(env);
    conv(g, "a", "x", "a_out", 6, 5, 3);
    eml_node *hs = pt_node(g, "HardSigmoid", NULL, "hs", (const char *[]){"a_out"}, 1,
                           (const char *[]){"hs_out"}, 1);
    pt_attr_float(g, hs, "alpha", 1.0f / 6.0f);
    pt_node(g, "Mul", NULL, "m", (const char *[]){"a_out", "hs_out"}, 2,
            (const char *[]){"m_out"}, 1);
    /* another slope is not HardSwish: it stays two ops */
    conv(g, "b", "m_out", "b_out", 5, 4, 1);
    eml_node *hs2 = pt_node(g, "HardSigmoid", NULL, "hs2", (const char *[]){"b_out"}, 1,
                            (const char *[]){"hs2_out"}, 1);
    pt_attr_float(g, hs2, "alpha", 0.2f);
    pt_node(g, "Mul", NULL, "m2", (const char *[]){"hs2_out", "b_out"}, 2, (const char *[]){"y"},
            1);
    pt_output(g, "y");
    optimize_and_compare(g);
    CHECK(pt_count_op(g, "HardSigmoid") == 1);
    CHECK(pt_count_op(g, "Mul") == 1);
    bool found = false;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const eml_attr *a = eml__node_attr(&g->nodes[i], "activation");
        if (a && a->type == EML_ATTR_STRING && strcmp(a->s, "HardSwish") == 0)
            found = true;
    }
    CHECK(found);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

/* ---- kernels against the reference ---- */

static int64_t rand_in(int64_t lo, int64_t hi)
{
    return lo + (int64_t)(eml_test_rand() % (uint32_t)(hi - lo + 1));
}

/* Random views (transposes, slices with steps of either sign, unit dims): the fast strided copy
 * writes the same bytes as the reference's, for 4-, 1- and 8-byte elements. */
EML_TEST(fast_strided_copy_matches_reference)
{
    static const size_t sizes[3] = {4, 1, 8};
    for (int iter = 0; iter < 600; iter++) {
        const int rank = (int)rand_in(1, 5);
        const size_t es = sizes[iter % 3];
        int64_t in_dims[EML_MAX_RANK], strides[EML_MAX_RANK];
        for (int d = 0; d < rank; d++)
            in_dims[d] = rand_in(1, iter % 5 == 0 && rank <= 3 ? 40 : 7);
        eml__strides(in_dims, rank, strides);
        const int64_t n = eml__shape_count(in_dims, rank);
        uint8_t *x = malloc((size_t)n * es);
        REQUIRE(x);
        for (int64_t i = 0; i < n * (int64_t)es; i++)
            x[i] = (uint8_t)eml_test_rand();
        int64_t dims[EML_MAX_RANK], src[EML_MAX_RANK], first = 0;
        if (iter % 2 == 0) { /* a transpose: a random permutation (the last two often swapped) */
            int perm[EML_MAX_RANK];
            for (int d = 0; d < rank; d++)
                perm[d] = d;
            for (int d = rank - 1; d > 0; d--) {
                int k = (int)rand_in(0, d), t = perm[d];
                perm[d] = perm[k];
                perm[k] = t;
            }
            for (int d = 0; d < rank; d++) {
                dims[d] = in_dims[perm[d]];
                src[d] = strides[perm[d]];
            }
        } else { /* a slice: start, step in {-2, -1, 1, 2, 3}, count that fits */
            for (int d = 0; d < rank; d++) {
                static const int64_t steps[5] = {-2, -1, 1, 2, 3};
                int64_t step = rand_in(0, 3) == 0 ? steps[rand_in(0, 4)] : 1;
                int64_t start = rand_in(0, in_dims[d] - 1);
                int64_t room = step > 0 ? (in_dims[d] - start + step - 1) / step
                                        : start / -step + 1;
                dims[d] = rand_in(1, room);
                src[d] = strides[d] * step;
                first += start * strides[d];
            }
        }
        const int64_t m = eml__shape_count(dims, rank);
        uint8_t *want = malloc((size_t)m * es), *got = malloc((size_t)m * es);
        REQUIRE(want && got);
        eml__copy_strided_nd(want, x + first * (int64_t)es, dims, src, rank, es);
        memset(got, 0xA5, (size_t)m * es);
        eml__fast_strided_copy(got, x + first * (int64_t)es, dims, src, rank, es);
        CHECK(memcmp(want, got, (size_t)m * es) == 0);
        free(x);
        free(want);
        free(got);
    }
}

/* ReduceMean/ReduceSum over random adjacent axes of random shapes (odd sizes, unit dims), and
 * a non-adjacent set that goes to the reference: within float rounding of the reference. */
EML_TEST(fast_reduce_matches_reference)
{
    eml_env *env = pt_env();
    for (int iter = 0; iter < 300; iter++) {
        const int rank = (int)rand_in(1, 4);
        int64_t dims[EML_MAX_RANK];
        for (int d = 0; d < rank; d++)
            dims[d] = rand_in(1, 13);
        /* the params live in a buffer of the size prepare fills (selectors copy all of it) */
        _Alignas(8) unsigned char buf[EML_PARAMS_MAX];
        memset(buf, 0, sizeof(buf));
        eml_reduce_params *pp = (eml_reduce_params *)(void *)buf, p = *pp;
        p.kind = iter % 2 ? EML_REDUCE_MEAN : EML_REDUCE_SUM;
        p.keepdims = (int32_t)rand_in(0, 1);
        int lo = (int)rand_in(0, rank - 1), hi = (int)rand_in(lo, rank - 1);
        p.n_axes = 0;
        for (int d = lo; d <= hi; d++)
            p.axes[p.n_axes++] = d - (iter % 3 == 0 ? rank : 0); /* negative axes too */
        if (iter % 7 == 0 && rank >= 3) { /* first and last: not adjacent */
            p.n_axes = 2;
            p.axes[0] = 0;
            p.axes[1] = rank - 1;
        }
        eml_tensor x = pt_random(rank, dims);
        int64_t out_dims[EML_MAX_RANK];
        int out_rank = 0;
        uint32_t mask = 0;
        REQUIRE(eml__reduce_axes_mask(&p, NULL, rank, &mask, NULL) == EML_OK);
        for (int d = 0; d < rank; d++) {
            if (!(mask >> d & 1u))
                out_dims[out_rank++] = dims[d];
            else if (p.keepdims)
                out_dims[out_rank++] = 1;
        }
        const int64_t m = eml__shape_count(out_dims, out_rank);
        float *want = calloc((size_t)m, sizeof(float)), *got = calloc((size_t)m, sizeof(float));
        REQUIRE(want && got);
        eml_tensor yw = {EML_DTYPE_F32, out_rank, {0}, want}, yg = yw;
        for (int d = 0; d < out_rank; d++)
            yw.dims[d] = yg.dims[d] = out_dims[d];
        yg.data = got;
        *pp = p;
        eml_kernel_ctx c = {pp, &x, 1, &yw, 1, NULL, 0, NULL, NULL};
        REQUIRE(eml__ref_reduce(&c) == EML_OK);
        /* the same reduction of |x|: sums in another order differ by a few ulps of it, which
         * matters where the values cancel */
        eml_tensor xa = x;
        xa.data = malloc(eml_tensor_bytes(&x) ? eml_tensor_bytes(&x) : 1);
        float *mag = calloc((size_t)m, sizeof(float));
        REQUIRE(xa.data && mag);
        for (int64_t i = 0; i < eml_tensor_count(&x); i++)
            ((float *)xa.data)[i] = fabsf(((const float *)x.data)[i]);
        eml_tensor ym = yw;
        ym.data = mag;
        eml_kernel_ctx cm = {pp, &xa, 1, &ym, 1, NULL, 0, NULL, NULL};
        REQUIRE(eml__ref_reduce(&cm) == EML_OK);
        eml_fast_kernel fk;
        memset(&fk, 0, sizeof(fk));
        eml_fast_select_ctx sc = {EML_OP_ReduceMean, pp, 13, &x, 1, 1, env};
        REQUIRE(eml__fast_reduce_select(&sc, &fk) == EML_OK);
        REQUIRE(fk.run);
        eml_kernel_ctx cf = {fk.state, &x, 1, &yg, 1, NULL, 0, NULL, NULL};
        REQUIRE(fk.run(&cf) == EML_OK);
        for (int64_t i = 0; i < m; i++)
            CHECK(fabsf(got[i] - want[i]) <= 1e-5f + 1e-5f * fabsf(want[i]) + 1e-6f * mag[i]);
        fk.destroy(env, fk.state);
        free(xa.data);
        free(mag);
        free(x.data);
        free(want);
        free(got);
    }
    eml_env_destroy(env);
}
