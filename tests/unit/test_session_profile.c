/* Per-node profiling of session runs (eml_session_options.profile): every executed node listed
 * once with its runs and times, nothing allocated while a profiled model runs, the same outputs
 * as without profiling, and the node-by-node path profiled too. */
#include <string.h>
#include <time.h>

#include "graph/graph.h"
#include "graph/op.h"
#include "harness.h"
#include "runtime/plan.h"

#define RUNS 4

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* A model, its plan and one session with the given profile setting. */
typedef struct fixture {
    eml_counting_allocator c;
    eml_env *env;
    eml_graph *g;
    eml_plan *plan;
    eml_session *s;
    eml_tensor in;
} fixture;

static void fixture_open(fixture *f, int profile, int optimize)
{
    memset(f, 0, sizeof(*f));
    f->env = eml_test_counting_env(&f->c);
    REQUIRE(f->env);
    eml_diag diag;
    REQUIRE_OK(eml_graph_load_onnx(f->env, eml_test_fashion_cnn_path(), &f->g, &diag), &diag);
    if (optimize)
        REQUIRE_OK(eml_graph_optimize(f->g, NULL, NULL, &diag), &diag);
    REQUIRE_OK(eml_plan_create(f->g, &f->plan, &diag), &diag);
    eml_session_options o;
    eml_session_options_init(&o);
    o.profile = profile;
    REQUIRE_OK(eml_session_create(f->plan, &o, &f->s, &diag), &diag);
    eml_test_fashion_cnn_input(f->env, &f->in);
}

static void fixture_close(fixture *f)
{
    eml_tensor_free(f->env, &f->in);
    eml_session_destroy(f->s);
    eml_plan_destroy(f->plan);
    eml_graph_destroy(f->g);
    eml_env_destroy(f->env);
    CHECK(f->c.live_count == 0);
}

/* Which plan nodes a run executes: those the specialization for the input's shape does not fold
 * (computed here from the plan's own specialization, independently of the profile). */
static void executed_nodes(const fixture *f, bool *executed, uint64_t *macs)
{
    eml_spec spec;
    eml_tensor shape = f->in;
    shape.data = NULL;
    eml_diag diag;
    REQUIRE_OK(eml__spec_build(f->plan, &shape, NULL, &spec, &diag), &diag);
    REQUIRE(spec.is_static);
    for (size_t i = 0; i < f->plan->n_nodes; i++)
        executed[i] = !spec.folded[i];
    *macs = spec.macs;
    eml__spec_deinit(&spec);
}

static void check_profile(int optimize)
{
    fixture f;
    fixture_open(&f, 1, optimize);
    eml_diag diag;
    eml_node_profile *prof;
    size_t count;
    /* profiling on, nothing run yet: an empty list */
    REQUIRE(eml_session_profile(f.s, &prof, &count) == EML_OK);
    CHECK(count == 0 && prof == NULL);
    uint64_t t0 = now_ns();
    for (int r = 0; r < RUNS; r++)
        REQUIRE_OK(eml_session_run(f.s, &f.in, 1, &diag), &diag);
    uint64_t wall = now_ns() - t0;
    REQUIRE(eml_session_profile(f.s, &prof, &count) == EML_OK);
    size_t n = eml_plan_node_count(f.plan);
    bool executed[256];
    REQUIRE(n <= 256);
    uint64_t spec_macs;
    executed_nodes(&f, executed, &spec_macs);
    size_t expect = 0, macs_nodes = 0;
    for (size_t i = 0; i < n; i++)
        expect += executed[i];
    CHECK(expect > 0);
    CHECK(count == expect);
    uint64_t sum = 0;
    for (size_t k = 0; k < count; k++) {
        const eml_node_profile *e = &prof[k];
        REQUIRE(e->index < n);
        CHECK(executed[e->index]);
        CHECK(k == 0 || e->index > prof[k - 1].index); /* plan order, each node once */
        eml_plan_node_info info;
        REQUIRE(eml_plan_node_get(f.plan, e->index, &info) == EML_OK);
        CHECK(strcmp(e->name, info.name) == 0);
        CHECK(strcmp(e->op_type, info.op_type) == 0);
        CHECK(strcmp(e->kernel, info.kernel) == 0);
        CHECK(e->runs == RUNS);
        CHECK(e->total_ns > 0);
        bool mac_op = strstr(e->op_type, "Conv") || strstr(e->op_type, "Gemm") ||
                      strstr(e->op_type, "MatMul");
        CHECK(mac_op == (e->macs > 0));
        macs_nodes += e->macs > 0;
        sum += e->total_ns;
    }
    CHECK(macs_nodes > 0);
    CHECK(sum <= wall);
    /* the per-node MACs add up to the specialization's total for the input's shape (its batch
     * is 8, the plan's default figure is for 1) */
    uint64_t macs = 0;
    for (size_t k = 0; k < count; k++)
        macs += prof[k].macs;
    CHECK(macs == spec_macs);
    eml_profile_free(f.env, prof);

    /* reset: empty again, then counts restart from zero */
    eml_session_profile_reset(f.s);
    REQUIRE(eml_session_profile(f.s, &prof, &count) == EML_OK);
    CHECK(count == 0 && prof == NULL);
    REQUIRE_OK(eml_session_run(f.s, &f.in, 1, &diag), &diag);
    REQUIRE(eml_session_profile(f.s, &prof, &count) == EML_OK);
    CHECK(count == expect);
    for (size_t k = 0; k < count; k++)
        CHECK(prof[k].runs == 1);
    eml_profile_free(f.env, prof);
    fixture_close(&f);
}

EML_TEST(lists_every_executed_node_once)
{
    check_profile(0);
}

/* After fusion the profile names the fused ops and their kernels, as `info --nodes` does. */
EML_TEST(lists_fused_nodes)
{
    check_profile(1);
}

EML_TEST(off_gives_einval_and_nothing)
{
    fixture f;
    fixture_open(&f, 0, 0);
    eml_diag diag;
    REQUIRE_OK(eml_session_run(f.s, &f.in, 1, &diag), &diag);
    eml_node_profile *prof = (eml_node_profile *)&f; /* overwritten */
    size_t count = 99;
    CHECK(eml_session_profile(f.s, &prof, &count) == EML_EINVAL);
    CHECK(prof == NULL && count == 0);
    eml_session_profile_reset(f.s); /* a no-op */
    eml_profile_free(f.env, NULL);
    fixture_close(&f);
}

/* Old callers pass a smaller struct_size: profiling stays off. */
EML_TEST(old_options_struct_means_off)
{
    fixture f;
    fixture_open(&f, 0, 0);
    eml_session_options o;
    eml_session_options_init(&o);
    o.profile = 1;
    o.struct_size = (uint32_t)offsetof(eml_session_options, profile);
    eml_session *s;
    eml_diag diag;
    REQUIRE_OK(eml_session_create(f.plan, &o, &s, &diag), &diag);
    REQUIRE_OK(eml_session_run(s, &f.in, 1, &diag), &diag);
    eml_node_profile *prof;
    size_t count;
    CHECK(eml_session_profile(s, &prof, &count) == EML_EINVAL);
    eml_session_destroy(s);
    fixture_close(&f);
}

EML_TEST(outputs_identical_with_profiling)
{
    fixture on, off;
    fixture_open(&on, 1, 1);
    fixture_open(&off, 0, 1);
    eml_diag diag;
    REQUIRE_OK(eml_session_run(on.s, &on.in, 1, &diag), &diag);
    REQUIRE_OK(eml_session_run(off.s, &off.in, 1, &diag), &diag);
    size_t n_out = eml_graph_output_count(on.g);
    REQUIRE(n_out > 0);
    for (size_t k = 0; k < n_out; k++) {
        eml_tensor a, b;
        REQUIRE(eml_session_output(on.s, k, &a) == EML_OK);
        REQUIRE(eml_session_output(off.s, k, &b) == EML_OK);
        REQUIRE(a.dtype == b.dtype && a.rank == b.rank);
        REQUIRE(eml_tensor_bytes(&a) == eml_tensor_bytes(&b));
        CHECK(memcmp(a.data, b.data, eml_tensor_bytes(&a)) == 0);
    }
    fixture_close(&on);
    fixture_close(&off);
}

EML_TEST(profiled_run_allocates_nothing)
{
    fixture f;
    fixture_open(&f, 1, 1);
    eml_diag diag;
    REQUIRE_OK(eml_session_run(f.s, &f.in, 1, &diag), &diag); /* first run specializes */
    uint64_t before = f.c.alloc_count;
    for (int i = 0; i < 3; i++)
        REQUIRE_OK(eml_session_run(f.s, &f.in, 1, &diag), &diag);
    CHECK(f.c.alloc_count == before);
    fixture_close(&f);
}

/* A failing allocation at every point of a profiled session's creation is clean. */
EML_TEST(profiled_create_failures_are_clean)
{
    fixture f;
    fixture_open(&f, 0, 0);
    eml_session_options o;
    eml_session_options_init(&o);
    o.profile = 1;
    uint64_t base = f.c.alloc_count;
    eml_session *s;
    eml_diag diag;
    REQUIRE_OK(eml_session_create(f.plan, &o, &s, &diag), &diag);
    uint64_t used = f.c.alloc_count - base;
    eml_session_destroy(s);
    CHECK(used >= 4); /* the session's own arrays plus the profile's three */
    for (uint64_t k = 1; k <= used; k++) {
        uint64_t live = f.c.live_count;
        f.c.fail_at = f.c.alloc_count + k;
        s = (eml_session *)&f;
        CHECK(eml_session_create(f.plan, &o, &s, &diag) == EML_ENOMEM);
        CHECK(s == NULL);
        CHECK(f.c.live_count == live);
        f.c.fail_at = 0;
    }
    fixture_close(&f);
}

/* x (f32[4]) -> NonZero -> Neg: NonZero's output shape depends on x's values, so the session
 * runs node by node, and that path is profiled too. */
static eml_graph *dynamic_graph(eml_env *env)
{
    eml_graph *g;
    REQUIRE(eml__graph_create(env, NULL, &g) == EML_OK);
    int32_t x, nz, y;
    REQUIRE(eml__graph_value(g, "x", &x) == EML_OK && eml__graph_add_input(g, x) == EML_OK);
    g->values[x].dtype = EML_DTYPE_F32;
    g->values[x].rank = 1;
    g->values[x].dims[0] = 4;
    REQUIRE(eml__graph_value(g, "nz", &nz) == EML_OK);
    REQUIRE(eml__graph_value(g, "y", &y) == EML_OK && eml__graph_add_output(g, y) == EML_OK);
    const char *ops[2] = {"NonZero", "Neg"};
    int32_t ins[2] = {x, nz}, outs[2] = {nz, y};
    for (int k = 0; k < 2; k++) {
        eml_node *n;
        REQUIRE(eml__graph_add_node(g, ops[k], ops[k], "", 1, 1, 0, &n) == EML_OK);
        n->op = eml__op_find("", ops[k]);
        REQUIRE(n->op != EML_OP_UNKNOWN);
        n->opset = 13;
        n->inputs[0] = ins[k];
        n->outputs[0] = outs[k];
        g->values[outs[k]].producer = k;
    }
    return g;
}

EML_TEST(dynamic_path_is_profiled)
{
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    REQUIRE(env);
    eml_graph *g = dynamic_graph(env);
    eml_diag diag;
    eml_plan *plan;
    eml_session *s;
    REQUIRE_OK(eml_plan_create(g, &plan, &diag), &diag);
    eml_session_options o;
    eml_session_options_init(&o);
    o.profile = 1;
    REQUIRE_OK(eml_session_create(plan, &o, &s, &diag), &diag);
    float xs[4] = {1, 0, 2, 0};
    eml_tensor in = {0};
    in.dtype = EML_DTYPE_F32;
    in.rank = 1;
    in.dims[0] = 4;
    in.data = xs;
    for (int r = 0; r < RUNS; r++)
        REQUIRE_OK(eml_session_run(s, &in, 1, &diag), &diag);
    eml_tensor out;
    REQUIRE(eml_session_output(s, 0, &out) == EML_OK);
    CHECK(out.rank == 2 && out.dims[0] == 1 && out.dims[1] == 2);
    CHECK(((const int64_t *)out.data)[0] == 0 && ((const int64_t *)out.data)[1] == -2);
    eml_node_profile *prof;
    size_t count;
    REQUIRE(eml_session_profile(s, &prof, &count) == EML_OK);
    REQUIRE(count == 2);
    CHECK(strcmp(prof[0].op_type, "NonZero") == 0 && strcmp(prof[1].op_type, "Neg") == 0);
    for (size_t k = 0; k < count; k++) {
        CHECK(prof[k].runs == RUNS);
        CHECK(prof[k].total_ns > 0);
        CHECK(prof[k].macs == 0);
    }
    eml_profile_free(env, prof);
    eml_session_destroy(s);
    eml_plan_destroy(plan);
    eml_graph_destroy(g);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
}
