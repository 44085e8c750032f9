/* Tests of the ONNX exporter and the .pb tensor files: import -> export -> import gives the same
 * graph; saving is atomic and clean on failure; TensorProto files read and write. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/onnx.h"
#include "harness.h"

#define DATA_DIR "/usr/share/libonnx-testdata/data"

static char tmp_dir[64];

static const char *tmp_path(const char *name)
{
    static char path[256];
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/eml_onnx_export_XXXXXX");
        REQUIRE(mkdtemp(tmp_dir) != NULL);
    }
    snprintf(path, sizeof(path), "%s/%s", tmp_dir, name);
    return path;
}

/* Removes the temp folder; fails the test when something else (a temporary file) is left. */
static void tmp_cleanup(const char *keep)
{
    if (!tmp_dir[0])
        return;
    DIR *d = opendir(tmp_dir);
    struct dirent *e;
    char path[512];
    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (!keep || !strstr(keep, e->d_name)) {
            fprintf(stderr, "left behind: %s\n", e->d_name);
            eml_test_failures++;
        }
        snprintf(path, sizeof(path), "%s/%s", tmp_dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    rmdir(tmp_dir);
    tmp_dir[0] = 0;
}

/* ---- comparing graphs ---- */

static char why[512];

#define SAME(cond, ...)                                                                            \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            snprintf(why, sizeof(why), __VA_ARGS__);                                               \
            return false;                                                                          \
        }                                                                                          \
    } while (0)

static bool str_eq(const char *a, const char *b)
{
    return strcmp(a ? a : "", b ? b : "") == 0;
}

static bool tensor_eq(const eml_tensor *a, const eml_tensor *b)
{
    if (a->dtype != b->dtype || a->rank != b->rank)
        return false;
    for (int d = 0; d < a->rank; d++)
        if (a->dims[d] != b->dims[d])
            return false;
    size_t bytes = eml_tensor_bytes(a);
    return bytes == 0 || memcmp(a->data, b->data, bytes) == 0;
}

static bool graph_eq(const eml_graph *a, const eml_graph *b);

static bool attr_eq(const eml_attr *a, const eml_attr *b)
{
    SAME(str_eq(a->name, b->name) && a->type == b->type, "attribute %s", a->name);
    switch (a->type) {
    case EML_ATTR_FLOAT:
        SAME(memcmp(&a->f, &b->f, sizeof(float)) == 0, "attribute %s value", a->name);
        break;
    case EML_ATTR_INT:
        SAME(a->i == b->i, "attribute %s value", a->name);
        break;
    case EML_ATTR_STRING:
        SAME(a->s_len == b->s_len && memcmp(a->s, b->s, a->s_len) == 0, "attribute %s", a->name);
        break;
    case EML_ATTR_FLOATS:
        SAME(a->count == b->count && memcmp(a->floats, b->floats, a->count * 4) == 0,
             "attribute %s values", a->name);
        break;
    case EML_ATTR_INTS:
        SAME(a->count == b->count && memcmp(a->ints, b->ints, a->count * 8) == 0,
             "attribute %s values", a->name);
        break;
    case EML_ATTR_STRINGS:
        SAME(a->count == b->count, "attribute %s count", a->name);
        for (size_t i = 0; i < a->count; i++)
            SAME(strcmp(a->strings[i], b->strings[i]) == 0, "attribute %s[%zu]", a->name, i);
        break;
    case EML_ATTR_TENSOR:
        SAME(tensor_eq(&a->t, &b->t), "attribute %s tensor", a->name);
        break;
    case EML_ATTR_GRAPH:
        return graph_eq(a->g, b->g);
    default:
        break;
    }
    return true;
}

/* Same values (by id: the importer creates them in file order and the exporter keeps it),
 * nodes, attributes, initializer bytes, inputs and outputs. */
static bool graph_eq(const eml_graph *a, const eml_graph *b)
{
    SAME(str_eq(a->name, b->name), "graph name %s / %s", a->name, b->name);
    SAME(a->n_values == b->n_values, "%zu / %zu values", a->n_values, b->n_values);
    SAME(a->n_nodes == b->n_nodes, "%zu / %zu nodes", a->n_nodes, b->n_nodes);
    SAME(a->n_inputs == b->n_inputs && a->n_outputs == b->n_outputs, "inputs/outputs");
    for (size_t i = 0; i < a->n_values; i++) {
        const eml_value *x = &a->values[i], *y = &b->values[i];
        SAME(strcmp(x->name, y->name) == 0, "value %zu: %s / %s", i, x->name, y->name);
        SAME(x->flags == y->flags, "value %s flags %u / %u", x->name, x->flags, y->flags);
        SAME(x->dtype == y->dtype && x->rank == y->rank, "value %s type", x->name);
        for (int d = 0; d < x->rank; d++) {
            SAME(x->dims[d] == y->dims[d], "value %s dim %d", x->name, d);
            SAME(str_eq(x->dim_names[d], y->dim_names[d]), "value %s dim name %d", x->name, d);
        }
        SAME(x->producer == y->producer, "value %s producer", x->name);
        if (x->flags & EML_VALUE_INITIALIZER) {
            eml_tensor tx = {x->dtype, x->rank, {0}, x->data},
                       ty = {y->dtype, y->rank, {0}, y->data};
            memcpy(tx.dims, x->dims, sizeof(tx.dims));
            memcpy(ty.dims, y->dims, sizeof(ty.dims));
            SAME(tensor_eq(&tx, &ty), "initializer %s bytes", x->name);
        }
    }
    for (size_t i = 0; i < a->n_inputs; i++)
        SAME(a->inputs[i] == b->inputs[i], "input %zu", i);
    for (size_t i = 0; i < a->n_outputs; i++)
        SAME(a->outputs[i] == b->outputs[i], "output %zu", i);
    for (size_t i = 0; i < a->n_nodes; i++) {
        const eml_node *x = &a->nodes[i], *y = &b->nodes[i];
        SAME(strcmp(x->name, y->name) == 0 && strcmp(x->op_type, y->op_type) == 0 &&
                 str_eq(x->domain, y->domain) && x->op == y->op && x->opset == y->opset,
             "node %s", x->name);
        SAME(x->n_inputs == y->n_inputs && x->n_outputs == y->n_outputs && x->n_attrs == y->n_attrs,
             "node %s counts", x->name);
        for (int32_t k = 0; k < x->n_inputs; k++)
            SAME(x->inputs[k] == y->inputs[k], "node %s input %d", x->name, (int)k);
        for (int32_t k = 0; k < x->n_outputs; k++)
            SAME(x->outputs[k] == y->outputs[k], "node %s output %d", x->name, (int)k);
        for (int32_t k = 0; k < x->n_attrs; k++)
            if (!attr_eq(&x->attrs[k], &y->attrs[k]))
                return false;
    }
    if (!a->parent) {
        SAME(a->ir_version == b->ir_version, "ir_version");
        SAME(a->n_opsets == b->n_opsets, "opset count");
        for (size_t i = 0; i < a->n_opsets; i++)
            SAME(str_eq(a->opsets[i].domain, b->opsets[i].domain) &&
                     a->opsets[i].version == b->opsets[i].version,
                 "opset %zu", i);
        SAME(str_eq(a->doc, b->doc), "doc");
    }
    return true;
}

/* import -> export -> import: the same graph; and exporting again gives the same bytes. */
static bool round_trip(eml_env *env, const void *bytes, size_t n, uint32_t flags, const char *label)
{
    eml_graph *a = NULL, *b = NULL, *c = NULL;
    eml_diag d;
    eml_diag_init(&d);
    if (eml__onnx_load(env, bytes, n, NULL, label, flags, &a, &d) != EML_OK)
        return true; /* not loadable: covered by the import tests */
    bool ok = false;
    const char *p1 = tmp_path("a.onnx");
    char first[256];
    snprintf(first, sizeof(first), "%s", p1);
    size_t n1 = 0, n2 = 0;
    uint8_t *f1 = NULL, *f2 = NULL;
    if (eml_graph_save_onnx(a, first, &d) != EML_OK) {
        fprintf(stderr, "%s: save: %s\n", label, d.message);
    } else if (!(f1 = eml_test_read_file(first, &n1)) ||
               eml__onnx_load(env, f1, n1, NULL, label, flags, &b, &d) != EML_OK) {
        fprintf(stderr, "%s: reload: %s\n", label, d.message);
    } else if (!graph_eq(a, b)) {
        fprintf(stderr, "%s: differs after a round trip: %s\n", label, why);
    } else if (eml_graph_save_onnx(b, first, &d) != EML_OK ||
               !(f2 = eml_test_read_file(first, &n2)) || n1 != n2 || memcmp(f1, f2, n1) != 0) {
        fprintf(stderr, "%s: a second export differs\n", label);
    } else {
        ok = true;
    }
    free(f1);
    free(f2);
    unlink(first);
    eml_graph_destroy(a);
    eml_graph_destroy(b);
    eml_graph_destroy(c);
    return ok;
}

EML_TEST(round_trip_backend_models)
{
    static const char *const dirs[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    int total = 0;
    for (size_t k = 0; k < sizeof(dirs) / sizeof(dirs[0]); k++) {
        char dir_path[256];
        snprintf(dir_path, sizeof(dir_path), "%s/%s", DATA_DIR, dirs[k]);
        DIR *dir = opendir(dir_path);
        if (!dir)
            eml_test_skip("libonnx-testdata is not installed");
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
            char path[600];
            snprintf(path, sizeof(path), "%s/%s/model.onnx", dir_path, e->d_name);
            size_t n;
            void *bytes = e->d_name[0] == 't' ? eml_test_read_file(path, &n) : NULL;
            if (!bytes)
                continue;
            total++;
            if (!round_trip(env, bytes, n, EML_ONNX_LOAD_ANY_OP, e->d_name))
                eml_test_failures++;
            free(bytes);
        }
        closedir(dir);
    }
    printf("%d models round-tripped\n", total);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
    tmp_cleanup(NULL);
}

EML_TEST(round_trip_shared_models)
{
    const char *shared = eml_test_shared_dir();
    char dir_path[512];
    snprintf(dir_path, sizeof(dir_path), "%s/models", shared ? shared : "/nonexistent");
    DIR *dir = opendir(dir_path);
    if (!dir)
        eml_test_skip("../shared/models is absent");
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s/model.onnx", dir_path, e->d_name);
        size_t n;
        void *bytes = e->d_name[0] != '.' ? eml_test_read_file(path, &n) : NULL;
        if (!bytes)
            continue;
        CHECK(round_trip(env, bytes, n, EML_ONNX_LOAD_SKIP_PREPARE, e->d_name));
        free(bytes);
    }
    closedir(dir);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
    tmp_cleanup(NULL);
}

/* A graph built with the IR helpers (every attribute type, a subgraph reading an outer value, a
 * default input, dynamic dims) survives export and import. Values are made in the order the
 * importer makes them: inputs, initializers, outputs, node values. */
static eml_graph *built_graph(eml_env *env)
{
    eml_graph *g = NULL;
    REQUIRE(eml__graph_create(env, NULL, &g) == EML_OK);
    g->name = eml__strdup(env, "built");
    g->doc = eml__strdup(env, "made by a test");
    g->ir_version = 7;
    g->opsets = eml__calloc(env, 2, sizeof(eml_opset_import));
    g->opsets[0].domain = eml__strdup(env, "");
    g->opsets[0].version = 13;
    g->n_opsets = 1;
    int32_t x, w, cond, y, z, t;
    REQUIRE(eml__graph_value(g, "x", &x) == EML_OK && eml__graph_add_input(g, x) == EML_OK);
    eml_value *v = &g->values[x];
    v->dtype = EML_DTYPE_F32;
    v->rank = 2;
    v->dims[0] = -1;
    v->dim_names[0] = eml__strdup(env, "batch");
    v->dims[1] = 4;
    REQUIRE(eml__graph_value(g, "cond", &cond) == EML_OK && eml__graph_add_input(g, cond) == 0);
    g->values[cond].dtype = EML_DTYPE_BOOL;
    g->values[cond].rank = 0;
    REQUIRE(eml__graph_value(g, "w", &w) == EML_OK && eml__graph_add_input(g, w) == EML_OK);
    v = &g->values[w];
    v->flags |= EML_VALUE_INITIALIZER;
    v->dtype = EML_DTYPE_F16;
    v->rank = 1;
    v->dims[0] = 4;
    v->data = eml__alloc(env, 8);
    memcpy(v->data, "\x00\x3c\x00\xc0\x00\x00\xff\x7b", 8);
    REQUIRE(eml__graph_value(g, "y", &y) == EML_OK && eml__graph_add_output(g, y) == EML_OK);
    g->values[y].dtype = EML_DTYPE_F32;
    REQUIRE(eml__graph_value(g, "z", &z) == EML_OK && eml__graph_add_output(g, z) == EML_OK);
    eml_node *n;
    REQUIRE(eml__graph_add_node(g, "mul", "Mul", "", 2, 1, 8, &n) == EML_OK);
    n->opset = 13;
    n->inputs[0] = x;
    n->inputs[1] = w;
    REQUIRE(eml__graph_value(g, "t", &t) == EML_OK);
    n = &g->nodes[0];
    n->outputs[0] = t;
    g->values[t].producer = 0;
    eml_attr *a = n->attrs;
    const char *names[] = {"f", "i", "s", "fs", "is", "ss", "t", "g"};
    for (int k = 0; k < 8; k++)
        a[k].name = eml__strdup(env, names[k]);
    a[0].type = EML_ATTR_FLOAT;
    a[0].f = -0.5f;
    a[1].type = EML_ATTR_INT;
    a[1].i = -(1ll << 40);
    a[2].type = EML_ATTR_STRING;
    a[2].s = eml__strndup(env, "a\0b", 3);
    a[2].s_len = 3;
    a[3].type = EML_ATTR_FLOATS;
    a[3].floats = eml__calloc(env, 2, sizeof(float));
    a[3].floats[1] = 2.5f;
    a[3].count = 2;
    a[4].type = EML_ATTR_INTS;
    a[4].ints = eml__calloc(env, 1, sizeof(int64_t)); /* empty list */
    a[5].type = EML_ATTR_STRINGS;
    a[5].strings = eml__calloc(env, 2, sizeof(char *));
    a[5].strings[0] = eml__strdup(env, "one");
    a[5].strings[1] = eml__strdup(env, "");
    a[5].count = 2;
    a[6].type = EML_ATTR_TENSOR;
    a[6].t.dtype = EML_DTYPE_I64;
    a[6].t.rank = 0;
    a[6].t.data = eml__alloc(env, 8);
    *(int64_t *)a[6].t.data = 42;
    a[7].type = EML_ATTR_GRAPH;
    eml_graph *sub = NULL;
    REQUIRE(eml__graph_create(env, g, &sub) == EML_OK);
    a[7].g = sub;
    sub->name = eml__strdup(env, "branch");
    int32_t so, sx;
    REQUIRE(eml__graph_value(sub, "so", &so) == EML_OK && eml__graph_add_output(sub, so) == 0);
    REQUIRE(eml__graph_value(sub, "x", &sx) == EML_OK);
    sub->values[sx].flags = EML_VALUE_OUTER;
    REQUIRE(eml__graph_add_node(sub, "neg", "Neg", "", 1, 1, 0, &n) == EML_OK);
    n->opset = 13;
    n->inputs[0] = sx;
    n->outputs[0] = so;
    sub->values[so].producer = 0;
    REQUIRE(eml__graph_add_node(g, "", "Relu", "", 1, 1, 0, &n) == EML_OK);
    n->opset = 13;
    n->inputs[0] = t;
    n->outputs[0] = y;
    g->values[y].producer = 1;
    REQUIRE(eml__graph_add_node(g, "opt", "Clip", "", 3, 1, 0, &n) == EML_OK);
    n->opset = 13;
    n->inputs[0] = y;
    n->outputs[0] = z;
    g->values[z].producer = 2;
    /* the importer resolves ops; so does this graph, for an equal comparison */
    for (size_t i = 0; i < g->n_nodes; i++)
        g->nodes[i].op = eml__op_find("", g->nodes[i].op_type);
    sub->nodes[0].op = eml__op_find("", "Neg");
    REQUIRE(eml__graph_verify(g, NULL, NULL) == EML_OK);
    return g;
}

EML_TEST(round_trip_built_graph)
{
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    eml_graph *g = built_graph(env);
    /* an empty node name is written as is and read back synthesized: name it like the reader */
    eml__free(env, g->nodes[1].name);
    g->nodes[1].name = eml__strdup(env, "Relu_1");
    eml_diag d;
    eml_diag_init(&d);
    const char *path = tmp_path("built.onnx");
    REQUIRE_OK(eml_graph_save_onnx(g, path, NULL), NULL);
    eml_graph *back = NULL;
    size_t n;
    void *bytes = eml_test_read_file(path, &n);
    REQUIRE(bytes);
    eml_status st =
        eml__onnx_load(env, bytes, n, NULL, path, EML_ONNX_LOAD_SKIP_PREPARE, &back, &d);
    if (st != EML_OK)
        fprintf(stderr, "%s\n", d.message);
    REQUIRE(st == EML_OK);
    if (!graph_eq(g, back)) {
        fprintf(stderr, "differs: %s\n", why);
        eml_test_failures++;
    }
    eml_value_info vi;
    REQUIRE(eml_graph_input(back, 0, &vi) == EML_OK);
    CHECK(strcmp(vi.dim_names[0], "batch") == 0 && vi.dims[0] == -1);
    REQUIRE(eml_graph_input(back, 2, &vi) == EML_OK);
    CHECK(vi.has_default && vi.dtype == EML_DTYPE_F16);
    eml_graph_stats s;
    eml_graph_stats_get(back, &s);
    CHECK(strcmp(s.producer, "edgeml") == 0 && s.ir_version == 7);
    free(bytes);
    unlink(path);
    eml_graph_destroy(back);
    eml_graph_destroy(g);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
    tmp_cleanup(NULL);
}

/* Saving fails cleanly: a missing folder, and allocation failure at every k. Nothing is left
 * behind but the complete file of the one save that succeeds. */
EML_TEST(save_failures)
{
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    eml_graph *g = built_graph(env);
    eml_diag d;
    eml_diag_init(&d);
    CHECK_STATUS(eml_graph_save_onnx(g, "/nonexistent/dir/m.onnx", &d), EML_EIO);
    CHECK(strcmp(d.file, "/nonexistent/dir/m.onnx") == 0 && d.message[0]);
    const char *path = tmp_path("m.onnx");
    char saved[256];
    snprintf(saved, sizeof(saved), "%s", path);
    int ok = 0;
    for (uint64_t k = 1; k < 1000 && !ok; k++) {
        uint64_t live = c.live_count;
        c.fail_at = c.alloc_count + k;
        eml_status st = eml_graph_save_onnx(g, saved, &d);
        c.fail_at = 0;
        if (st == EML_OK) {
            ok = 1;
        } else {
            CHECK_STATUS(st, EML_ENOMEM);
            CHECK(access(saved, F_OK) != 0);
        }
        CHECK(c.live_count == live);
    }
    CHECK(ok);
    /* the model is replaced whole by a second save */
    CHECK_STATUS(eml_graph_save_onnx(g, saved, &d), EML_OK);
    eml_graph_destroy(g);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
    tmp_cleanup("m.onnx");
}

/* ---- TensorProto files ---- */

/* Every input/output .pb of the node tests reads with the dtype its model declares, and writes
 * back to a file that reads the same. */
EML_TEST(pb_backend_files)
{
    char dir_path[256];
    snprintf(dir_path, sizeof(dir_path), "%s/node", DATA_DIR);
    DIR *dir = opendir(dir_path);
    if (!dir)
        eml_test_skip("libonnx-testdata is not installed");
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    int read = 0, refused = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        /* optional and sequence tests store OptionalProto/SequenceProto files, not tensors */
        if (e->d_name[0] != 't' || strstr(e->d_name, "_opt") || strstr(e->d_name, "optional") ||
            strstr(e->d_name, "seq"))
            continue;
        for (int k = 0; k < 2; k++) {
            char path[600];
            snprintf(path, sizeof(path), "%s/%s/test_data_set_0/%s_0.pb", dir_path, e->d_name,
                     k ? "output" : "input");
            size_t n;
            void *bytes = eml_test_read_file(path, &n);
            if (!bytes)
                continue;
            eml_tensor t, back;
            char name[64];
            eml_diag d;
            eml_diag_init(&d);
            eml_status st = eml_tensor_read_pb(env, bytes, n, &t, name, sizeof(name), &d);
            if (st == EML_OK) {
                read++;
                const char *out = tmp_path("t.pb");
                REQUIRE_OK(eml_tensor_write_pb(env, &t, name, out, NULL), NULL);
                size_t n2;
                void *b2 = eml_test_read_file(out, &n2);
                char name2[64];
                REQUIRE(b2);
                REQUIRE_OK(eml_tensor_read_pb(env, b2, n2, &back, name2, sizeof(name2), NULL),
                           NULL);
                CHECK(tensor_eq(&t, &back) && strcmp(name, name2) == 0);
                eml__free(env, back.data);
                free(b2);
                unlink(out);
                eml__free(env, t.data);
            } else {
                refused++;
                if (st != EML_EUNSUPPORTED)
                    fprintf(stderr, "%s: %s\n", path, d.message);
                CHECK_STATUS(st, EML_EUNSUPPORTED);
            }
            free(bytes);
        }
    }
    closedir(dir);
    printf("%d tensors read, %d refused\n", read, refused);
    CHECK(read > 1000);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
    tmp_cleanup(NULL);
}

EML_TEST(pb_damaged)
{
    char path[256];
    snprintf(path, sizeof(path),
             "%s/node/test_conv_with_strides_padding/test_data_set_0/input_1.pb", DATA_DIR);
    size_t n;
    uint8_t *bytes = eml_test_read_file(path, &n);
    if (!bytes)
        eml_test_skip("libonnx-testdata is not installed");
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    eml_tensor t;
    eml_diag d;
    for (size_t len = 0; len < n; len++) {
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, bytes, len);
        eml_diag_init(&d);
        eml_status st = eml_tensor_read_pb(env, copy, len, &t, NULL, 0, &d);
        /* a prefix that ends between fields is a valid but smaller message: it must then fail
         * the size checks (dims come first in the file) */
        CHECK(st != EML_OK && t.data == NULL && d.message[0]);
        free(copy);
    }
    uint8_t *copy = malloc(n);
    for (int trial = 0; trial < 2000; trial++) {
        memcpy(copy, bytes, n);
        copy[eml_test_rand() % n] ^= (uint8_t)(1u << (eml_test_rand() % 8));
        if (eml_tensor_read_pb(env, copy, n, &t, NULL, 0, NULL) == EML_OK)
            eml__free(env, t.data);
    }
    free(copy);
    /* a model given as a tensor */
    snprintf(path, sizeof(path), "%s/node/test_relu/model.onnx", DATA_DIR);
    size_t mn;
    void *model = eml_test_read_file(path, &mn);
    REQUIRE(model);
    eml_diag_init(&d);
    CHECK_STATUS(eml_tensor_read_pb(env, model, mn, &t, NULL, 0, &d), EML_ECORRUPT);
    CHECK(strstr(d.message, "not an ONNX tensor") != NULL);
    free(model);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
    free(bytes);
}

EML_TEST(pb_limits_and_strings)
{
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    Onnx__TensorProto tp;
    onnx__tensor_proto__init(&tp);
    int64_t dims[2] = {1ll << 40, 1ll << 30};
    tp.has_data_type = 1;
    tp.data_type = 1;
    tp.n_dims = 2;
    tp.dims = dims;
    tp.name = (char *)"big";
    uint8_t buf[256];
    size_t n = onnx__tensor_proto__pack(&tp, buf);
    eml_tensor t;
    eml_diag d;
    eml_diag_init(&d);
    CHECK_STATUS(eml_tensor_read_pb(env, buf, n, &t, NULL, 0, &d), EML_ELIMIT);
    CHECK(strstr(d.message, "'big'") != NULL && c.peak_bytes < 65536);
    tp.data_type = 8;
    dims[0] = dims[1] = 1;
    ProtobufCBinaryData s = {2, (uint8_t *)"hi"};
    tp.n_string_data = 1;
    tp.string_data = &s;
    n = onnx__tensor_proto__pack(&tp, buf);
    eml_diag_init(&d);
    CHECK_STATUS(eml_tensor_read_pb(env, buf, n, &t, NULL, 0, &d), EML_EUNSUPPORTED);
    CHECK(strstr(d.message, "unsupported: string tensors (value 'big')") != NULL);
    /* allocation failure at every k while reading a tensor */
    tp.data_type = 1;
    tp.n_string_data = 0;
    dims[0] = 2;
    dims[1] = 3;
    float v[6] = {1, 2, 3, 4, 5, 6};
    tp.n_float_data = 6;
    tp.float_data = v;
    n = onnx__tensor_proto__pack(&tp, buf);
    int ok = 0;
    for (uint64_t k = 1; k < 100 && !ok; k++) {
        uint64_t live = c.live_count;
        c.fail_at = c.alloc_count + k;
        eml_status st = eml_tensor_read_pb(env, buf, n, &t, NULL, 0, &d);
        c.fail_at = 0;
        if (st == EML_OK) {
            ok = 1;
            CHECK(t.rank == 2 && ((float *)t.data)[5] == 6);
            eml__free(env, t.data);
        } else {
            CHECK_STATUS(st, EML_ENOMEM);
        }
        CHECK(c.live_count == live);
    }
    CHECK(ok);
    eml_env_destroy(env);
}

/* External data: every shared model saved with its weights beside it loads back the same graph,
 * the large weights mapped rather than copied (no env memory holds them); a data file cut short
 * is refused with the tensor named, never read past its end. */
EML_TEST(external_data_maps_weights)
{
    const char *shared = eml_test_shared_dir();
    char dir_path[512];
    snprintf(dir_path, sizeof(dir_path), "%s/models", shared ? shared : "/nonexistent");
    DIR *dir = opendir(dir_path);
    if (!dir)
        eml_test_skip("../shared/models is absent");
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    struct dirent *e;
    int models = 0;
    while ((e = readdir(dir)) != NULL) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s/model.onnx", dir_path, e->d_name);
        eml_graph *a = NULL, *b = NULL;
        eml_diag d;
        eml_diag_init(&d);
        if (e->d_name[0] == '.' || eml_graph_load_onnx(env, path, &a, &d) != EML_OK)
            continue;
        models++;
        CHECK_STATUS(eml_graph_save_onnx_external(a, tmp_path("ext.onnx"), "ext.bin", 4096, &d),
                     EML_OK);
        size_t heap_before = c.live_bytes;
        CHECK_STATUS(eml_graph_load_onnx(env, tmp_path("ext.onnx"), &b, &d), EML_OK);
        if (!b) {
            eml_graph_destroy(a);
            continue;
        }
        eml_graph_stats sa, sb;
        eml_graph_stats_get(a, &sa);
        eml_graph_stats_get(b, &sb);
        CHECK(sa.mapped_bytes == 0);
        CHECK(sb.mapped_bytes > sb.parameter_bytes / 2);
        /* the mapped weights take no env memory: the graph's heap is its small tensors */
        CHECK(c.live_bytes - heap_before < sb.parameter_bytes - sb.mapped_bytes + (1u << 20));
        bool same = graph_eq(a, b);
        if (!same)
            fprintf(stderr, "%s: %s\n", e->d_name, why);
        CHECK(same);
        eml_graph_destroy(b);
        eml_graph_destroy(a);
    }
    closedir(dir);
    CHECK(models >= 3);
    /* cut the data file short: refused, naming a tensor */
    REQUIRE(truncate(tmp_path("ext.bin"), 1000) == 0);
    eml_graph *g = NULL;
    eml_diag d;
    eml_diag_init(&d);
    CHECK_STATUS(eml_graph_load_onnx(env, tmp_path("ext.onnx"), &g, &d), EML_ECORRUPT);
    CHECK(strstr(d.message, "external data") != NULL);
    CHECK(g == NULL);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
    tmp_cleanup("ext.onnx ext.bin");
}
