/* The planner runs elementwise ops in place: an op writes over an input that nothing reads after
 * it, which shrinks the arena, and never over one that is still needed, whichever kernels run. */
#include "passes_util.h"
#include "runtime/plan.h"

static const int64_t dims[4] = {1, 4, 16, 16};
#define N_ELEMS (4 * 16 * 16)
#define BYTES (N_ELEMS * 4)

/* x → Exp → a; a → Sigmoid → b; Mul(a, b) → c; Neg(c) → y. Mul may write over a (b too), Neg
 * over c; Sigmoid may not write over a, which Mul reads after it. */
static eml_graph *exp_sigmoid_mul(eml_env *env)
{
    eml_graph *g = pt_graph(env, 13);
    pt_input(g, "x", EML_DTYPE_F32, 4, dims, NULL);
    pt_node(g, "Exp", NULL, "exp", (const char *[]){"x"}, 1, (const char *[]){"a"}, 1);
    pt_node(g, "Sigmoid", NULL, "sig", (const char *[]){"a"}, 1, (const char *[]){"b"}, 1);
    pt_node(g, "Mul", NULL, "mul", (const char *[]){"a", "b"}, 2, (const char *[]){"c"}, 1);
    pt_node(g, "Neg", NULL, "neg", (const char *[]){"c"}, 1, (const char *[]){"y"}, 1);
    pt_output(g, "y");
    return g;
}

static void check_exp_sigmoid_mul(const char *isa)
{
    setenv("EML_ISA", isa, 1);
    eml_env *env = NULL;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_graph *g = exp_sigmoid_mul(env);
    eml_diag diag;
    eml_diag_init(&diag);
    eml_plan *plan = NULL;
    REQUIRE_OK(eml_plan_create(g, &plan, &diag), &diag);
    eml_plan_memory m;
    eml_plan_memory_get(plan, &m);
    /* a and b are alive together; c takes a's buffer and y takes c's: two buffers, not three */
    CHECK(m.arena_bytes == 2 * BYTES);
    eml_plan_destroy(plan);

    eml_tensor x = pt_random(4, dims);
    pt_outputs out;
    pt_run(g, &x, &out);
    REQUIRE(out.count == 1);
    const float *xs = x.data, *ys = out.t[0].data;
    double worst = 0;
    for (int i = 0; i < N_ELEMS; i++) {
        double a = exp((double)xs[i]);
        double want = -a / (1.0 + exp(-a));
        worst = fmax(worst, fabs(ys[i] - want) / fmax(fabs(want), 1e-6));
    }
    CHECK(worst < 1e-5);
    pt_outputs_free(&out);
    free(x.data);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(writes_over_dead_inputs_fast_kernels)
{
    check_exp_sigmoid_mul("avx512");
}

EML_TEST(writes_over_dead_inputs_reference_kernels)
{
    check_exp_sigmoid_mul("ref");
}

/* Add(a, bias [4,1,1]) broadcast over a, where a is still read afterwards by a second Add: the
 * first Add must not write over a; the second may. The graph output is never written over. */
EML_TEST(keeps_inputs_read_later_and_broadcast_operands)
{
    eml_env *env = pt_env();
    eml_graph *g = pt_graph(env, 13);
    pt_input(g, "x", EML_DTYPE_F32, 4, dims, NULL);
    float bias[4] = {1, 2, 3, 4};
    pt_const_f32(g, "bias", 3, (const int64_t[]){4, 1, 1}, bias);
    pt_node(g, "Relu", NULL, "relu", (const char *[]){"x"}, 1, (const char *[]){"a"}, 1);
    pt_node(g, "Add", NULL, "add1", (const char *[]){"a", "bias"}, 2, (const char *[]){"b"}, 1);
    pt_node(g, "Add", NULL, "add2", (const char *[]){"b", "a"}, 2, (const char *[]){"c"}, 1);
    pt_node(g, "Abs", NULL, "abs", (const char *[]){"c"}, 1, (const char *[]){"d"}, 1);
    pt_output(g, "b");
    pt_output(g, "d");

    eml_tensor x = pt_random(4, dims);
    pt_outputs out;
    pt_run(g, &x, &out);
    REQUIRE(out.count == 2);
    const float *xs = x.data, *bs = out.t[0].data, *ds = out.t[1].data;
    int bad = 0;
    for (int i = 0; i < N_ELEMS; i++) {
        float a = xs[i] > 0 ? xs[i] : 0;
        float b = a + bias[i / 256];
        bad += bs[i] != b || ds[i] != fabsf(b + a);
    }
    CHECK(bad == 0);
    pt_outputs_free(&out);
    free(x.data);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

EML_TEST(in_place_ops_are_the_elementwise_ones)
{
    CHECK(eml__op_in_place(EML_OP_Relu));
    CHECK(eml__op_in_place(EML_OP_Add));
    CHECK(eml__op_in_place(EML_OP_Clip));
    CHECK(eml__op_in_place(EML_OP_LeakyRelu));
    CHECK(!eml__op_in_place(EML_OP_Softmax));
    CHECK(!eml__op_in_place(EML_OP_Conv));
    CHECK(!eml__op_in_place(EML_OP_Sum)); /* variadic: its one-input case copies */
    CHECK(!eml__op_in_place(EML_OP_Transpose));
}
