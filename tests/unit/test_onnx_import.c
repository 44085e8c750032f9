/* Tests of the ONNX importer and the .pb reader: real models, hand-built models for each error,
 * damaged files (truncated, bit-flipped, wrong magic), external data, allocation failures. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/onnx.h"
#include "harness.h"

/* REQUIRE_OK for a diag that is a local variable: prints its message. */
#define REQUIRE_OKD(expr, d)                                                                       \
    do {                                                                                           \
        eml_status s_ = (expr);                                                                    \
        if (s_ != EML_OK) {                                                                        \
            fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, __LINE__, #expr,               \
                    eml_status_name(s_), (d).message);                                             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* ---- a small ModelProto builder (test memory, freed by t_free_all) ---- */

static void *blocks[4096];
static size_t n_blocks;

static void *ta(size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    REQUIRE(p && n_blocks < sizeof(blocks) / sizeof(blocks[0]));
    blocks[n_blocks++] = p;
    return p;
}

static void t_free_all(void)
{
    for (size_t i = 0; i < n_blocks; i++)
        free(blocks[i]);
    n_blocks = 0;
}

static char *ts(const char *s)
{
    char *d = ta(strlen(s) + 1);
    memcpy(d, s, strlen(s));
    return d;
}

#define CAP 32

static Onnx__GraphProto *t_graph(const char *name)
{
    Onnx__GraphProto *g = ta(sizeof(*g));
    onnx__graph_proto__init(g);
    g->name = ts(name);
    g->node = ta(CAP * sizeof(void *));
    g->initializer = ta(CAP * sizeof(void *));
    g->input = ta(CAP * sizeof(void *));
    g->output = ta(CAP * sizeof(void *));
    return g;
}

/* names: comma separated, "" entries kept ("x,,y" is three names) */
static char **t_names(const char *list, size_t *n)
{
    char **out = ta(CAP * sizeof(char *));
    *n = 0;
    if (!list)
        return out;
    const char *p = list;
    for (;;) {
        const char *c = strchr(p, ',');
        size_t len = c ? (size_t)(c - p) : strlen(p);
        char *s = ta(len + 1);
        memcpy(s, p, len);
        out[(*n)++] = s;
        if (!c)
            break;
        p = c + 1;
    }
    return out;
}

static Onnx__NodeProto *t_node(Onnx__GraphProto *g, const char *op, const char *name,
                               const char *ins, const char *outs)
{
    Onnx__NodeProto *n = ta(sizeof(*n));
    onnx__node_proto__init(n);
    n->op_type = ts(op);
    n->name = ts(name);
    n->input = t_names(ins, &n->n_input);
    n->output = t_names(outs, &n->n_output);
    n->attribute = ta(CAP * sizeof(void *));
    g->node[g->n_node++] = n;
    return n;
}

static Onnx__AttributeProto *t_attr(Onnx__NodeProto *n, const char *name, int type)
{
    Onnx__AttributeProto *a = ta(sizeof(*a));
    onnx__attribute_proto__init(a);
    a->name = ts(name);
    a->has_type = 1;
    a->type = (Onnx__AttributeProto__AttributeType)type;
    n->attribute[n->n_attribute++] = a;
    return a;
}

/* dims < 0 with a name in params become dim_param; rank < 0: no shape */
static Onnx__ValueInfoProto *t_vi(const char *name, int elem, int rank, const int64_t *dims,
                                  const char *const *params)
{
    Onnx__ValueInfoProto *vi = ta(sizeof(*vi));
    onnx__value_info_proto__init(vi);
    vi->name = ts(name);
    if (elem == 0)
        return vi;
    Onnx__TypeProto *tp = ta(sizeof(*tp));
    Onnx__TypeProto__Tensor *tt = ta(sizeof(*tt));
    onnx__type_proto__init(tp);
    onnx__type_proto__tensor__init(tt);
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    tt->has_elem_type = 1;
    tt->elem_type = elem;
    vi->type = tp;
    if (rank < 0)
        return vi;
    Onnx__TensorShapeProto *sh = ta(sizeof(*sh));
    onnx__tensor_shape_proto__init(sh);
    sh->n_dim = (size_t)rank;
    sh->dim = ta(sizeof(void *) * (size_t)(rank + 1));
    for (int d = 0; d < rank; d++) {
        Onnx__TensorShapeProto__Dimension *dim = ta(sizeof(*dim));
        onnx__tensor_shape_proto__dimension__init(dim);
        if (dims[d] >= 0) {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            dim->dim_value = dims[d];
        } else if (params && params[d]) {
            dim->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            dim->dim_param = ts(params[d]);
        }
        sh->dim[d] = dim;
    }
    tt->shape = sh;
    return vi;
}

static void t_input(Onnx__GraphProto *g, Onnx__ValueInfoProto *vi)
{
    g->input[g->n_input++] = vi;
}

static void t_output(Onnx__GraphProto *g, Onnx__ValueInfoProto *vi)
{
    g->output[g->n_output++] = vi;
}

static Onnx__TensorProto *t_tensor(const char *name, int elem, int rank, const int64_t *dims,
                                   const void *raw, size_t raw_len)
{
    Onnx__TensorProto *t = ta(sizeof(*t));
    onnx__tensor_proto__init(t);
    t->name = ts(name);
    t->has_data_type = 1;
    t->data_type = elem;
    t->n_dims = (size_t)rank;
    t->dims = ta(sizeof(int64_t) * (size_t)(rank + 1));
    memcpy(t->dims, dims, sizeof(int64_t) * (size_t)rank);
    if (raw) {
        t->has_raw_data = 1;
        t->raw_data.len = raw_len;
        t->raw_data.data = ta(raw_len);
        memcpy(t->raw_data.data, raw, raw_len);
    }
    return t;
}

static void t_init(Onnx__GraphProto *g, Onnx__TensorProto *t)
{
    g->initializer[g->n_initializer++] = t;
}

static Onnx__ModelProto *t_model(Onnx__GraphProto *g, int64_t opset)
{
    Onnx__ModelProto *m = ta(sizeof(*m));
    onnx__model_proto__init(m);
    m->has_ir_version = 1;
    m->ir_version = 8;
    m->producer_name = ts("edgeml-test");
    m->graph = g;
    Onnx__OperatorSetIdProto *o = ta(sizeof(*o));
    onnx__operator_set_id_proto__init(o);
    o->domain = ts("");
    o->has_version = 1;
    o->version = opset;
    m->opset_import = ta(4 * sizeof(void *));
    m->opset_import[0] = o;
    m->n_opset_import = 1;
    return m;
}

static uint8_t *t_pack(const ProtobufCMessage *m, size_t *n)
{
    *n = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = ta(*n);
    protobuf_c_message_pack(m, buf);
    return buf;
}

static const int64_t dims_1x4[] = {1, 4};

/* x[1,4] -> Relu -> y */
static Onnx__ModelProto *relu_model(void)
{
    Onnx__GraphProto *g = t_graph("relu");
    t_input(g, t_vi("x", 1, 2, dims_1x4, NULL));
    t_output(g, t_vi("y", 1, 2, dims_1x4, NULL));
    t_node(g, "Relu", "relu", "x", "y");
    return t_model(g, 13);
}

/* ---- loading ---- */

static eml_status load_msg(eml_env *env, const Onnx__ModelProto *m, uint32_t flags, eml_graph **g,
                           eml_diag *d)
{
    size_t n;
    uint8_t *bytes = t_pack(&m->base, &n);
    eml_diag_init(d);
    return eml__onnx_load(env, bytes, n, NULL, "test.onnx", flags, g, d);
}

/* Loads a model that must fail with `st` and a message containing `text`. */
static void expect_error(const Onnx__ModelProto *m, uint32_t flags, eml_status st, const char *text)
{
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    uint64_t live = c.live_count;
    eml_graph *g = NULL;
    eml_diag d;
    eml_status got = load_msg(env, m, flags, &g, &d);
    if (got != st || !strstr(d.message, text)) {
        fprintf(stderr, "expected %s '%s', got %s '%s'\n", eml_status_name(st), text,
                eml_status_name(got), d.message);
        eml_test_failures++;
    }
    CHECK(g == NULL);
    CHECK(strcmp(d.file, "test.onnx") == 0);
    CHECK(c.live_count == live);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}

static bool has_prepare(const char *op)
{
    const eml_op_info *info = eml__op_info(eml__op_find("", op));
    return info && info->prepare;
}

EML_TEST(relu_structure)
{
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    eml_graph *g = NULL;
    eml_diag d;
    REQUIRE_OKD(load_msg(env, relu_model(), EML_ONNX_LOAD_SKIP_PREPARE, &g, &d), d);
    CHECK(eml_graph_input_count(g) == 1 && eml_graph_output_count(g) == 1);
    eml_value_info vi;
    REQUIRE_OK(eml_graph_input(g, 0, &vi), NULL);
    CHECK(strcmp(vi.name, "x") == 0 && vi.dtype == EML_DTYPE_F32 && vi.rank == 2);
    CHECK(vi.dims[0] == 1 && vi.dims[1] == 4 && !vi.has_default);
    CHECK(g->n_nodes == 1 && g->nodes[0].op == eml__op_find("", "Relu"));
    CHECK(g->nodes[0].opset == 13 && strcmp(g->nodes[0].name, "relu") == 0);
    int32_t y = eml__graph_find(g, "y");
    CHECK(y >= 0 && g->values[y].producer == 0);
    eml_graph_stats st;
    eml_graph_stats_get(g, &st);
    CHECK(st.opset == 13 && st.ir_version == 8 && strcmp(st.producer, "edgeml-test") == 0);
    eml_graph_destroy(g);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
    t_free_all();
}

/* The public loader runs prepare: OK once the op family exists, a clear refusal before. */
EML_TEST(relu_public_api)
{
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    size_t n;
    uint8_t *bytes = t_pack(&relu_model()->base, &n);
    eml_graph *g = NULL;
    eml_diag d;
    eml_diag_init(&d);
    eml_status st = eml_graph_load_onnx_bytes(env, bytes, n, NULL, &g, &d);
    if (has_prepare("Relu")) {
        CHECK_STATUS(st, EML_OK);
    } else {
        CHECK_STATUS(st, EML_EUNSUPPORTED);
        CHECK(strstr(d.message, "unsupported: Relu (opset 13) at node 'relu'") != NULL);
    }
    eml_graph_destroy(g);
    eml_env_destroy(env);
    t_free_all();
}

EML_TEST(dynamic_dims_and_defaults)
{
    Onnx__GraphProto *gp = t_graph("g");
    const int64_t dyn[] = {-1, 3, -1};
    const char *const names[] = {"batch", NULL, NULL};
    t_input(gp, t_vi("x", 1, 3, dyn, names));
    t_input(gp, t_vi("s", 1, -1, NULL, NULL)); /* no shape: rank unknown */
    const int64_t d3[] = {3};
    const float three[] = {1, 2, 3};
    t_input(gp, t_vi("b", 1, 1, d3, NULL));
    t_init(gp, t_tensor("b", 1, 1, d3, three, sizeof(three)));
    t_output(gp, t_vi("y", 1, -1, NULL, NULL));
    t_output(gp, t_vi("z", 0, -1, NULL, NULL));
    t_output(gp, t_vi("t", 1, 3, dyn, names)); /* listed twice: the last declaration holds */
    t_output(gp, t_vi("t", 1, 3, dyn, names));
    t_node(gp, "Add", "", "x,b", "t");
    t_node(gp, "Mul", "", "t,s", "y");
    t_node(gp, "Identity", "", "y", "z");
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    eml_graph *g = NULL;
    eml_diag d;
    REQUIRE_OKD(load_msg(env, t_model(gp, 14), EML_ONNX_LOAD_SKIP_PREPARE, &g, &d), d);
    eml_value_info vi;
    REQUIRE_OK(eml_graph_input(g, 0, &vi), NULL);
    CHECK(vi.rank == 3 && vi.dims[0] == -1 && strcmp(vi.dim_names[0], "batch") == 0);
    CHECK(vi.dims[1] == 3 && vi.dims[2] == -1 && strcmp(vi.dim_names[2], "") == 0);
    REQUIRE_OK(eml_graph_input(g, 1, &vi), NULL);
    CHECK(vi.rank == -1 && vi.dtype == EML_DTYPE_F32);
    REQUIRE_OK(eml_graph_input(g, 2, &vi), NULL);
    CHECK(vi.has_default && vi.rank == 1 && vi.dims[0] == 3);
    int32_t b = eml__graph_find(g, "b");
    CHECK(g->values[b].flags == (EML_VALUE_INPUT | EML_VALUE_INITIALIZER));
    CHECK(memcmp(g->values[b].data, three, sizeof(three)) == 0);
    CHECK(((uintptr_t)g->values[b].data & 63) == 0);
    REQUIRE_OK(eml_graph_output(g, 1, &vi), NULL);
    CHECK(vi.dtype == EML_DTYPE_UNDEFINED && vi.rank == -1);
    CHECK(strcmp(g->nodes[0].name, "Add_0") == 0 && strcmp(g->nodes[2].name, "Identity_2") == 0);
    CHECK_STATUS(eml_graph_input(g, 3, &vi), EML_ERANGE);
    REQUIRE_OK(eml_graph_output(g, 3, &vi), NULL);
    CHECK(strcmp(vi.name, "t") == 0 && strcmp(vi.dim_names[0], "batch") == 0);
    eml_graph_destroy(g);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
    t_free_all();
}

/* Every typed field of TensorProto, narrowed to the element type. */
EML_TEST(typed_initializers)
{
    Onnx__GraphProto *gp = t_graph("g");
    const int64_t d2[] = {2};
    Onnx__TensorProto *f = t_tensor("f", 1, 1, d2, NULL, 0);
    float fv[] = {1.5f, -2};
    f->n_float_data = 2;
    f->float_data = fv;
    Onnx__TensorProto *i8 = t_tensor("i8", 3, 1, d2, NULL, 0);
    int32_t iv[] = {-3, 127};
    i8->n_int32_data = 2;
    i8->int32_data = iv;
    Onnx__TensorProto *bl = t_tensor("bl", 9, 1, d2, NULL, 0);
    int32_t bv[] = {0, 5};
    bl->n_int32_data = 2;
    bl->int32_data = bv;
    Onnx__TensorProto *h = t_tensor("h", 10, 1, d2, NULL, 0);
    int32_t hv[] = {0x3c00, 0xc000};
    h->n_int32_data = 2;
    h->int32_data = hv;
    Onnx__TensorProto *l = t_tensor("l", 7, 1, d2, NULL, 0);
    int64_t lv[] = {-5, 1ll << 40};
    l->n_int64_data = 2;
    l->int64_data = lv;
    Onnx__TensorProto *db = t_tensor("db", 11, 1, d2, NULL, 0);
    double dv[] = {0.25, -1e300};
    db->n_double_data = 2;
    db->double_data = dv;
    Onnx__TensorProto *u = t_tensor("u", 12, 1, d2, NULL, 0);
    uint64_t uv[] = {7, 0xffffffffu};
    u->n_uint64_data = 2;
    u->uint64_data = uv;
    const int64_t d0[] = {0, 3};
    Onnx__TensorProto *empty = t_tensor("empty", 1, 2, d0, NULL, 0);
    Onnx__TensorProto *ts_[] = {f, i8, bl, h, l, db, u, empty};
    for (size_t i = 0; i < 8; i++) {
        t_init(gp, ts_[i]);
        t_output(gp, t_vi(ts_[i]->name, 0, -1, NULL, NULL));
    }
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    eml_graph *g = NULL;
    eml_diag d;
    REQUIRE_OKD(load_msg(env, t_model(gp, 13), 0, &g, &d), d);
#define VAL(name) (g->values[eml__graph_find(g, name)])
    CHECK(((float *)VAL("f").data)[0] == 1.5f && ((float *)VAL("f").data)[1] == -2);
    CHECK(((int8_t *)VAL("i8").data)[0] == -3 && ((int8_t *)VAL("i8").data)[1] == 127);
    CHECK(((uint8_t *)VAL("bl").data)[0] == 0 && ((uint8_t *)VAL("bl").data)[1] == 1);
    CHECK(((uint16_t *)VAL("h").data)[0] == 0x3c00 && ((uint16_t *)VAL("h").data)[1] == 0xc000);
    CHECK(((int64_t *)VAL("l").data)[1] == 1ll << 40);
    CHECK(((double *)VAL("db").data)[1] == -1e300);
    CHECK(((uint32_t *)VAL("u").data)[1] == 0xffffffffu && VAL("u").dtype == EML_DTYPE_U32);
    CHECK(VAL("empty").rank == 2 && VAL("empty").data != NULL);
#undef VAL
    eml_graph_stats st;
    eml_graph_stats_get(g, &st);
    CHECK(st.initializer_count == 8 && st.parameter_count == 14);
    eml_graph_destroy(g);
    eml_env_destroy(env);
    t_free_all();
}

EML_TEST(tensor_size_mismatch)
{
    Onnx__GraphProto *gp = t_graph("g");
    const float v[] = {1, 2, 3};
    t_init(gp, t_tensor("w", 1, 2, dims_1x4, v, sizeof(v)));
    t_output(gp, t_vi("w", 0, -1, NULL, NULL));
    expect_error(t_model(gp, 13), 0, EML_ECORRUPT, "tensor 'w': 12 bytes of raw_data");

    gp = t_graph("g");
    Onnx__TensorProto *t = t_tensor("w", 1, 2, dims_1x4, NULL, 0);
    int64_t wrong[] = {1, 2, 3, 4};
    t->n_int64_data = 4;
    t->int64_data = wrong;
    t_init(gp, t);
    t_output(gp, t_vi("w", 0, -1, NULL, NULL));
    expect_error(t_model(gp, 13), 0, EML_ECORRUPT, "values in int64_data");
    t_free_all();
}

/* Dims whose product is absurd are refused before anything that size is allocated. */
EML_TEST(absurd_dims)
{
    const int64_t huge[] = {1ll << 40, 1ll << 40};
    const int64_t overflow[] = {1ll << 32, 1ll << 32, 1ll << 32};
    const int64_t big[] = {1ll << 28, 64};
    const int64_t negative[] = {-2, 4};
    const int64_t *cases[] = {huge, overflow, big, negative};
    const int ranks[] = {2, 3, 2, 2};
    const eml_status want[] = {EML_ELIMIT, EML_ELIMIT, EML_ELIMIT, EML_ECORRUPT};
    for (int i = 0; i < 4; i++) {
        Onnx__GraphProto *gp = t_graph("g");
        const float v[] = {1};
        t_init(gp, t_tensor("w", 1, ranks[i], cases[i], v, sizeof(v)));
        t_output(gp, t_vi("w", 0, -1, NULL, NULL));
        eml_counting_allocator c;
        eml_env *env = eml_test_counting_env(&c);
        eml_graph *g = NULL;
        eml_diag d;
        CHECK_STATUS(load_msg(env, t_model(gp, 13), 0, &g, &d), want[i]);
        CHECK(strstr(d.message, "'w'") != NULL);
        CHECK(c.peak_bytes < (1u << 20));
        eml_env_destroy(env);
        t_free_all();
    }
}

EML_TEST(unsupported_messages)
{
    Onnx__ModelProto *m = relu_model();
    m->opset_import[0]->version = 18;
    expect_error(m, 0, EML_EUNSUPPORTED,
                 "unsupported: opset 18 (edgeml supports ONNX opsets 1-17)");

    m = relu_model();
    m->graph->node[0]->op_type = ts("FancyOp");
    expect_error(m, 0, EML_EUNSUPPORTED, "unsupported: FancyOp (opset 13) at node 'relu'");

    m = relu_model();
    m->graph->node[0]->op_type = ts("Acos"); /* since opset 7 */
    m->opset_import[0]->version = 6;
    expect_error(m, 0, EML_EUNSUPPORTED, "unsupported: Acos (opset 6) at node 'relu'");

    m = relu_model();
    m->graph->node[0]->domain = ts("com.microsoft");
    Onnx__OperatorSetIdProto *o = ta(sizeof(*o));
    onnx__operator_set_id_proto__init(o);
    o->domain = ts("com.microsoft");
    o->has_version = 1;
    o->version = 1;
    m->opset_import[m->n_opset_import++] = o;
    expect_error(m, 0, EML_EUNSUPPORTED,
                 "unsupported: Relu (domain 'com.microsoft' opset 1) at node 'relu'");

    m = relu_model();
    m->graph->input[0]->type->tensor_type->elem_type = 8;
    expect_error(m, 0, EML_EUNSUPPORTED, "unsupported: string tensors (value 'x')");

    m = relu_model();
    const int64_t d1[] = {1};
    Onnx__TensorProto *st = t_tensor("names", 8, 1, d1, NULL, 0);
    ProtobufCBinaryData sd = {3, (uint8_t *)"abc"};
    st->n_string_data = 1;
    st->string_data = &sd;
    t_init(m->graph, st);
    expect_error(m, 0, EML_EUNSUPPORTED, "unsupported: string tensors (value 'names')");

    m = relu_model();
    Onnx__TypeProto__Sequence seq = ONNX__TYPE_PROTO__SEQUENCE__INIT;
    Onnx__TypeProto *tp = m->graph->input[0]->type;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
    tp->sequence_type = &seq;
    expect_error(m, 0, EML_EUNSUPPORTED, "unsupported: sequence values (value 'x')");

    m = relu_model();
    Onnx__FunctionProto fn = ONNX__FUNCTION_PROTO__INIT;
    Onnx__FunctionProto *fns[] = {&fn};
    fn.name = ts("MyFn");
    fn.domain = ts("custom");
    m->n_functions = 1;
    m->functions = fns;
    expect_error(m, 0, EML_EUNSUPPORTED, "function 'MyFn'");

    m = relu_model();
    Onnx__TrainingInfoProto ti = ONNX__TRAINING_INFO_PROTO__INIT;
    Onnx__TrainingInfoProto *tis[] = {&ti};
    m->n_training_info = 1;
    m->training_info = tis;
    expect_error(m, 0, EML_EUNSUPPORTED, "unsupported: training_info");

    m = relu_model();
    Onnx__SparseTensorProto sp = ONNX__SPARSE_TENSOR_PROTO__INIT;
    Onnx__SparseTensorProto *sps[] = {&sp};
    sp.values = t_tensor("sparse_w", 1, 1, d1, NULL, 0);
    m->graph->n_sparse_initializer = 1;
    m->graph->sparse_initializer = sps;
    expect_error(m, 0, EML_EUNSUPPORTED, "unsupported: sparse initializer 'sparse_w'");

    m = relu_model();
    t_attr(m->graph->node[0], "graphs", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPHS);
    expect_error(m, EML_ONNX_LOAD_SKIP_PREPARE, EML_EUNSUPPORTED,
                 "unsupported: Relu (opset 13) at node 'relu': attribute 'graphs' of type GRAPHS");
    t_free_all();
}

EML_TEST(graph_errors)
{
    Onnx__ModelProto *m = relu_model();
    m->graph->node[0]->input = t_names("x,x", &m->graph->node[0]->n_input);
    expect_error(m, EML_ONNX_LOAD_SKIP_PREPARE, EML_EGRAPH,
                 "Relu (opset 13) at node 'relu': 2 inputs, expected 1");

    m = relu_model();
    m->graph->node[0]->input = t_names("nowhere", &m->graph->node[0]->n_input);
    expect_error(m, EML_ONNX_LOAD_SKIP_PREPARE, EML_EGRAPH, "'nowhere' (input 0 of node 'relu')");

    /* Conv whose weight is neither an input nor an initializer */
    Onnx__GraphProto *gp = t_graph("g");
    const int64_t xd[] = {1, 1, 4, 4};
    t_input(gp, t_vi("x", 1, 4, xd, NULL));
    t_output(gp, t_vi("y", 1, -1, NULL, NULL));
    t_node(gp, "Conv", "conv", "x,W", "y");
    expect_error(t_model(gp, 11), EML_ONNX_LOAD_SKIP_PREPARE, EML_EGRAPH,
                 "'W' (input 1 of node 'conv')");

    gp = t_graph("g");
    t_input(gp, t_vi("x", 1, 2, dims_1x4, NULL));
    t_output(gp, t_vi("y", 1, -1, NULL, NULL));
    t_node(gp, "Add", "a", "x,c", "b");
    t_node(gp, "Relu", "r1", "b", "c");
    t_node(gp, "Relu", "r2", "b", "y");
    expect_error(t_model(gp, 13), EML_ONNX_LOAD_SKIP_PREPARE, EML_EGRAPH,
                 "cycle through nodes 'a' -> 'r1'");

    m = relu_model();
    t_node(m->graph, "Relu", "again", "x", "y");
    expect_error(m, EML_ONNX_LOAD_SKIP_PREPARE, EML_EGRAPH,
                 "value 'y' is produced twice, by node 'relu' and node 'again'");

    m = relu_model();
    t_output(m->graph, t_vi("ghost", 1, -1, NULL, NULL));
    expect_error(m, EML_ONNX_LOAD_SKIP_PREPARE, EML_EGRAPH, "graph output 'ghost'");

    m = relu_model();
    m->graph->node[0]->op_type = ts("");
    expect_error(m, 0, EML_EGRAPH, "has no op_type");

    m = relu_model();
    t_input(m->graph, t_vi("x", 1, 2, dims_1x4, NULL));
    expect_error(m, 0, EML_EGRAPH, "input 'x' is listed twice");

    m = relu_model();
    const float four[] = {1, 2, 3, 4};
    const int64_t d4[] = {4};
    t_init(m->graph, t_tensor("x", 1, 1, d4, four, sizeof(four)));
    expect_error(m, 0, EML_EGRAPH,
                 "input 'x' is declared float32[1,4] but its initializer is "
                 "float32[4]");

    m = relu_model();
    m->n_opset_import = 0;
    expect_error(m, EML_ONNX_LOAD_SKIP_PREPARE, EML_EGRAPH, "does not import");
    t_free_all();
}

/* If with branches that read a value of the enclosing graph, produced after the If in file order.
 */
static Onnx__ModelProto *if_model(void)
{
    Onnx__GraphProto *gp = t_graph("main");
    t_input(gp, t_vi("cond", 9, 0, NULL, NULL));
    t_input(gp, t_vi("x", 1, 2, dims_1x4, NULL));
    t_output(gp, t_vi("y", 1, 2, dims_1x4, NULL));
    Onnx__NodeProto *n = t_node(gp, "If", "if", "cond", "y");
    t_node(gp, "Relu", "late", "x", "r");
    Onnx__GraphProto *then_g = t_graph("then");
    t_output(then_g, t_vi("t_out", 1, 2, dims_1x4, NULL));
    t_node(then_g, "Neg", "neg", "r", "t_out");
    Onnx__GraphProto *else_g = t_graph("else");
    t_output(else_g, t_vi("r", 0, -1, NULL, NULL)); /* an outer value passed straight out */
    t_attr(n, "then_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = then_g;
    t_attr(n, "else_branch", ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)->g = else_g;
    return t_model(gp, 13);
}

EML_TEST(subgraph_outer_values)
{
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    eml_graph *g = NULL;
    eml_diag d;
    REQUIRE_OKD(load_msg(env, if_model(), EML_ONNX_LOAD_SKIP_PREPARE, &g, &d), d);
    REQUIRE(g->n_nodes == 2 && g->nodes[0].n_attrs == 2);
    const eml_graph *then_g = g->nodes[0].attrs[0].g;
    REQUIRE(then_g && then_g->parent == g);
    int32_t r = eml__graph_find(then_g, "r");
    CHECK(r >= 0 && then_g->values[r].flags == EML_VALUE_OUTER);
    const eml_graph *else_g = g->nodes[0].attrs[1].g;
    int32_t er = eml__graph_find(else_g, "r");
    CHECK(else_g->values[er].flags == (EML_VALUE_OUTER | EML_VALUE_OUTPUT));
    CHECK(then_g->nodes[0].opset == 13);
    int32_t order[2];
    REQUIRE_OKD(eml__graph_verify(g, order, &d), d);
    CHECK(order[0] == 1 && order[1] == 0); /* 'late' feeds the If's branches */
    eml_graph_destroy(g);
    eml_env_destroy(env);

    /* a branch that refers to a name nobody defines */
    Onnx__ModelProto *m = if_model();
    m->graph->node[0]->attribute[0]->g->node[0]->input[0] = ts("nothing");
    expect_error(m, EML_ONNX_LOAD_SKIP_PREPARE, EML_EGRAPH, "'nothing' (input 0 of node 'neg')");
    t_free_all();
}

/* Allocation failure at every k: EML_ENOMEM (or the limit), never a leak or a crash. */
EML_TEST(allocation_failures)
{
    Onnx__ModelProto *m = if_model();
    const float four[] = {1, 2, 3, 4};
    t_init(m->graph, t_tensor("w", 1, 2, dims_1x4, four, sizeof(four)));
    Onnx__AttributeProto *a = t_attr(m->graph->node[1], "note", 3);
    a->has_s = 1;
    a->s.len = 2;
    a->s.data = (uint8_t *)ts("hi");
    size_t n;
    uint8_t *bytes = t_pack(&m->base, &n);
    int successes = 0;
    for (uint64_t k = 1; k < 2000 && !successes; k++) {
        eml_counting_allocator c;
        eml_env *env = eml_test_counting_env(&c);
        uint64_t live = c.live_count;
        c.fail_at = c.alloc_count + k;
        eml_graph *g = NULL;
        eml_diag d;
        eml_diag_init(&d);
        eml_status st =
            eml__onnx_load(env, bytes, n, NULL, NULL, EML_ONNX_LOAD_SKIP_PREPARE, &g, &d);
        if (st == EML_OK) {
            successes++;
            CHECK(c.alloc_count < c.fail_at);
            eml_graph_destroy(g);
        } else if (st != EML_ENOMEM) {
            fprintf(stderr, "k=%llu: %s %s\n", (unsigned long long)k, eml_status_name(st),
                    d.message);
            eml_test_failures++;
        } else {
            CHECK(g == NULL && d.message[0] != 0);
        }
        if (c.live_count != live) {
            fprintf(stderr, "k=%llu: %llu blocks leaked\n", (unsigned long long)k,
                    (unsigned long long)(c.live_count - live));
            eml_test_failures++;
        }
        eml_env_destroy(env);
    }
    CHECK(successes == 1);
    t_free_all();
}
