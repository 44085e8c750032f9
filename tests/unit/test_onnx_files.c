/* Tests of the ONNX importer on real files: the ONNX backend-test models, the shared models,
 * damaged copies (truncated, bit-flipped, wrong magic) and models with external data. */
#include <dirent.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/onnx.h"
#include "harness.h"

#define NODE_DIR "/usr/share/libonnx-testdata/data/node"

static char *path_join(char *buf, size_t cap, const char *a, const char *b)
{
    snprintf(buf, cap, "%s/%s", a, b);
    return buf;
}

/* Reads a backend-test model; NULL (skip) when the test data is not installed. */
static void *read_node_model(const char *test, size_t *n)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/model.onnx", NODE_DIR, test);
    return eml_test_read_file(path, n);
}

/* ---- the backend-test models ---- */

/* Every node-test model is either loaded with the counts protobuf-c itself reads, or refused as
 * unsupported (strings, sequences, optionals...), never anything else. */
EML_TEST(backend_node_models)
{
    DIR *dir = opendir(NODE_DIR);
    if (!dir)
        eml_test_skip("libonnx-testdata is not installed");
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    int loaded = 0, unsupported = 0, total = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        if (strncmp(e->d_name, "test_", 5) != 0)
            continue;
        size_t n = 0;
        uint8_t *bytes = read_node_model(e->d_name, &n);
        if (!bytes)
            continue;
        total++;
        Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, bytes);
        REQUIRE(m && m->graph);
        eml_graph *g = NULL;
        eml_diag d;
        eml_diag_init(&d);
        eml_status st =
            eml__onnx_load(env, bytes, n, NULL, e->d_name, EML_ONNX_LOAD_ANY_OP, &g, &d);
        if (st == EML_OK) {
            loaded++;
            eml_graph_stats s;
            eml_graph_stats_get(g, &s);
            CHECK(eml_graph_input_count(g) == m->graph->n_input);
            CHECK(eml_graph_output_count(g) == m->graph->n_output);
            CHECK(s.initializer_count == m->graph->n_initializer);
            CHECK(s.node_count == m->graph->n_node);
            CHECK(s.ir_version == m->ir_version);
        } else if (st == EML_EUNSUPPORTED) {
            unsupported++;
            CHECK(strncmp(d.message, "unsupported: ", 13) == 0);
        } else {
            fprintf(stderr, "%s: %s %s\n", e->d_name, eml_status_name(st), d.message);
            eml_test_failures++;
        }
        eml_graph_destroy(g);
        onnx__model_proto__free_unpacked(m, NULL);
        free(bytes);
    }
    closedir(dir);
    printf("%d models: %d loaded, %d unsupported\n", total, loaded, unsupported);
    CHECK(loaded > total * 9 / 10);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
}

/* With the public loader a model either loads or names the op it cannot run. */
EML_TEST(backend_models_public_loader)
{
    static const char *const tests[] = {"test_relu", "test_add", "test_conv_with_strides_padding",
                                        "test_if", "test_maxpool_2d_default"};
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    for (size_t i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
        char path[512];
        snprintf(path, sizeof(path), "%s/%s/model.onnx", NODE_DIR, tests[i]);
        struct stat sb;
        if (stat(path, &sb) != 0)
            eml_test_skip("libonnx-testdata is not installed");
        eml_graph *g = NULL;
        eml_diag d;
        eml_diag_init(&d);
        eml_status st = eml_graph_load_onnx(env, path, &g, &d);
        if (st != EML_OK) {
            CHECK_STATUS(st, EML_EUNSUPPORTED);
            CHECK(strstr(d.message, "unsupported: ") && strstr(d.message, "at node '"));
            CHECK(strcmp(d.file, path) == 0 && d.node[0] && d.op[0] && d.opset > 0);
        }
        printf("%s: %s %s\n", tests[i], eml_status_name(st), d.message);
        eml_graph_destroy(g);
    }
    eml_env_destroy(env);
}

/* The shared models: counts and the declared input of fashion_cnn. */
EML_TEST(shared_models)
{
    const char *shared = eml_test_shared_dir();
    char dir_path[512];
    DIR *dir = shared ? opendir(path_join(dir_path, sizeof(dir_path), shared, "models")) : NULL;
    if (!dir)
        eml_test_skip("../shared/models is absent");
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    int seen = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s/model.onnx", dir_path, e->d_name);
        size_t n;
        uint8_t *bytes = e->d_name[0] != '.' ? eml_test_read_file(path, &n) : NULL;
        if (!bytes)
            continue;
        seen++;
        eml_graph *g = NULL;
        eml_diag d;
        eml_diag_init(&d);
        eml_status st =
            eml__onnx_load(env, bytes, n, dir_path, path, EML_ONNX_LOAD_SKIP_PREPARE, &g, &d);
        if (st != EML_OK)
            fprintf(stderr, "%s: %s\n", path, d.message);
        CHECK_STATUS(st, EML_OK);
        Onnx__ModelProto *m = onnx__model_proto__unpack(NULL, n, bytes);
        REQUIRE(m);
        if (g) {
            eml_graph_stats s;
            eml_graph_stats_get(g, &s);
            CHECK(s.initializer_count == m->graph->n_initializer);
            CHECK(s.node_count == m->graph->n_node);
            CHECK(eml_graph_output_count(g) == m->graph->n_output);
            printf("%s: %zu nodes, %llu parameters\n", e->d_name, s.node_count,
                   (unsigned long long)s.parameter_count);
            if (strcmp(e->d_name, "fashion_cnn") == 0) {
                eml_value_info vi;
                REQUIRE(eml_graph_input(g, 0, &vi) == EML_OK);
                CHECK(strcmp(vi.name, "input") == 0 && vi.dtype == EML_DTYPE_F32);
                CHECK(vi.rank == 4 && vi.dims[0] == -1 && vi.dims[1] == 1 && vi.dims[3] == 28);
                CHECK(s.parameter_count > 200000 && s.parameter_count < 215000);
            }
        }
        onnx__model_proto__free_unpacked(m, NULL);
        eml_graph_destroy(g);
        free(bytes);
    }
    closedir(dir);
    eml_env_destroy(env);
    CHECK(seen > 0);
}

/* ---- damaged files ---- */

static uint8_t *damage_sample(size_t *n)
{
    uint8_t *bytes = read_node_model("test_conv_with_strides_padding", n);
    if (!bytes)
        eml_test_skip("libonnx-testdata is not installed");
    return bytes;
}

/* Every proper prefix fails with a message (a byte offset for wire errors), never crashes. */
EML_TEST(truncated_files)
{
    size_t n;
    uint8_t *bytes = damage_sample(&n);
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    int wire_errors = 0;
    for (size_t len = 0; len < n; len++) {
        uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees any overread */
        memcpy(copy, bytes, len);
        eml_graph *g = NULL;
        eml_diag d;
        eml_diag_init(&d);
        eml_status st =
            eml__onnx_load(env, copy, len, NULL, "cut.onnx", EML_ONNX_LOAD_SKIP_PREPARE, &g, &d);
        CHECK(st != EML_OK && g == NULL && d.message[0]);
        if (st == EML_ECORRUPT && strstr(d.message, "at byte offset")) {
            wire_errors++;
            CHECK(d.offset >= 0 && (size_t)d.offset <= len);
        }
        free(copy);
    }
    printf("%zu prefixes, %d wire errors\n", n, wire_errors);
    CHECK(wire_errors > (int)n / 2);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
    free(bytes);
}

/* Random bit flips: any status, never a crash or a leak (run under ASan in CI). */
EML_TEST(bit_flipped_files)
{
    size_t n;
    uint8_t *bytes = damage_sample(&n);
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    int ok = 0, errors = 0;
    uint8_t *copy = malloc(n);
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(copy, bytes, n);
        int flips = 1 + (int)(eml_test_rand() % 3);
        for (int f = 0; f < flips; f++)
            copy[eml_test_rand() % n] ^= (uint8_t)(1u << (eml_test_rand() % 8));
        eml_graph *g = NULL;
        eml_diag d;
        eml_diag_init(&d);
        eml_status st =
            eml__onnx_load(env, copy, n, NULL, NULL, EML_ONNX_LOAD_SKIP_PREPARE, &g, &d);
        if (st == EML_OK) {
            ok++;
            eml_graph_destroy(g);
        } else {
            errors++;
            CHECK(g == NULL && d.message[0]);
        }
    }
    printf("bit flips: %d loaded, %d refused\n", ok, errors);
    free(copy);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
    free(bytes);
}

EML_TEST(wrong_magic)
{
    static const struct {
        const char *bytes;
        size_t n;
        const char *text;
    } cases[] = {
        {"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, "a PNG image"},
        {"\x1c\0\0\0TFL3\0\0\0\0", 12, "a TFLite model"},
        {"PK\x03\x04\x14\0\0\0", 8, "zip"},
        {"ir_version: 8\nproducer", 22, "not an ONNX model"},
        {"\xff\xff\xff\xff", 4, "not an ONNX model"},
        {"", 0, "empty file"},
    };
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        eml_graph *g = NULL;
        eml_diag d;
        eml_diag_init(&d);
        CHECK_STATUS(eml_graph_load_onnx_bytes(env, cases[i].bytes, cases[i].n, NULL, &g, &d),
                     EML_ECORRUPT);
        if (!strstr(d.message, cases[i].text)) {
            fprintf(stderr, "case %zu: '%s'\n", i, d.message);
            eml_test_failures++;
        }
    }
    /* a tensor file given as a model */
    char path[600];
    snprintf(path, sizeof(path), "%s/test_relu/test_data_set_0/input_0.pb", NODE_DIR);
    size_t n;
    void *pb = eml_test_read_file(path, &n);
    if (pb) {
        eml_graph *g = NULL;
        eml_diag d;
        eml_diag_init(&d);
        CHECK(eml_graph_load_onnx(env, path, &g, &d) == EML_ECORRUPT);
        CHECK(strcmp(d.file, path) == 0);
        printf("input_0.pb as a model: %s\n", d.message);
        free(pb);
    }
    eml_graph *g = NULL;
    eml_diag d;
    eml_diag_init(&d);
    CHECK_STATUS(eml_graph_load_onnx(env, "/nonexistent/model.onnx", &g, &d), EML_EIO);
    CHECK(strstr(d.message, "/nonexistent/model.onnx") != NULL);
    CHECK_STATUS(eml_graph_load_onnx(env, "/tmp", &g, &d), EML_EIO);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
}

/* ---- external data ---- */

/* A model whose initializer 'W' (float32 dims) lives in an external file; output 'W'.
 * offset/length may be NULL (absent). Returns malloc'd bytes. */
static uint8_t *external_model(const char *location, const char *offset, const char *length,
                               const int64_t *dims, int rank, size_t *n)
{
    Onnx__StringStringEntryProto e[3], *ep[3];
    const char *keys[3] = {"location", "offset", "length"};
    const char *vals[3] = {location, offset, length};
    size_t n_e = 0;
    for (int i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        onnx__string_string_entry_proto__init(&e[n_e]);
        e[n_e].key = (char *)keys[i];
        e[n_e].value = (char *)vals[i];
        ep[n_e] = &e[n_e];
        n_e++;
    }
    Onnx__TensorProto t;
    onnx__tensor_proto__init(&t);
    t.name = (char *)"W";
    t.has_data_type = 1;
    t.data_type = 1;
    t.n_dims = (size_t)rank;
    t.dims = (int64_t *)dims;
    t.has_data_location = 1;
    t.data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    t.n_external_data = n_e;
    t.external_data = ep;
    Onnx__TensorProto *tp = &t;
    Onnx__ValueInfoProto out;
    onnx__value_info_proto__init(&out);
    out.name = (char *)"W";
    Onnx__ValueInfoProto *outp = &out;
    Onnx__GraphProto g;
    onnx__graph_proto__init(&g);
    g.name = (char *)"ext";
    g.n_initializer = 1;
    g.initializer = &tp;
    g.n_output = 1;
    g.output = &outp;
    Onnx__OperatorSetIdProto o;
    onnx__operator_set_id_proto__init(&o);
    o.domain = (char *)"";
    o.has_version = 1;
    o.version = 13;
    Onnx__OperatorSetIdProto *op = &o;
    Onnx__ModelProto m;
    onnx__model_proto__init(&m);
    m.has_ir_version = 1;
    m.ir_version = 8;
    m.graph = &g;
    m.n_opset_import = 1;
    m.opset_import = &op;
    *n = protobuf_c_message_get_packed_size(&m.base);
    uint8_t *buf = malloc(*n);
    protobuf_c_message_pack(&m.base, buf);
    return buf;
}

static void write_bytes(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f && fwrite(bytes, 1, n, f) == n);
    fclose(f);
}

/* Writes the model into dir/model.onnx and loads it; returns the status, fills d. */
static eml_status load_external(eml_env *env, const char *dir, const char *location,
                                const char *offset, const char *length, const int64_t *dims,
                                int rank, eml_graph **g, eml_diag *d)
{
    size_t n;
    uint8_t *bytes = external_model(location, offset, length, dims, rank, &n);
    char path[600];
    write_bytes(path_join(path, sizeof(path), dir, "model.onnx"), bytes, n);
    free(bytes);
    eml_diag_init(d);
    return eml_graph_load_onnx(env, path, g, d);
}

EML_TEST(external_data)
{
    char dir[] = "/tmp/eml_onnx_ext_XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char sub[600], path[700];
    snprintf(sub, sizeof(sub), "%s/data", dir);
    REQUIRE(mkdir(sub, 0700) == 0);
    /* 16 bytes of something else, then the 6 floats */
    uint8_t file[16 + 24];
    memset(file, 0xee, 16);
    const float w[6] = {1, -2, 3.5f, 4, 5, 6};
    memcpy(file + 16, w, sizeof(w));
    write_bytes(path_join(path, sizeof(path), sub, "w.bin"), file, sizeof(file));
    const int64_t dims[] = {2, 3};

    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    eml_graph *g = NULL;
    eml_diag d;
    CHECK_STATUS(load_external(env, dir, "data/w.bin", "16", "24", dims, 2, &g, &d), EML_OK);
    if (g) {
        int32_t id = eml__graph_find(g, "W");
        CHECK(id >= 0 && memcmp(g->values[id].data, w, sizeof(w)) == 0);
        eml_graph_destroy(g);
        g = NULL;
    }
    /* no length: the dims say how much */
    CHECK_STATUS(load_external(env, dir, "./data/w.bin", "16", NULL, dims, 2, &g, &d), EML_OK);
    eml_graph_destroy(g);
    g = NULL;

    static const struct {
        const char *location, *offset, *length;
        eml_status st;
        const char *text;
    } bad[] = {
        {"../w.bin", NULL, NULL, EML_ECORRUPT, "leaves the model's folder"},
        {"data/../../w.bin", NULL, NULL, EML_ECORRUPT, "leaves the model's folder"},
        {"/etc/passwd", NULL, NULL, EML_ECORRUPT, "leaves the model's folder"},
        {"data/missing.bin", NULL, NULL, EML_EIO, "cannot open external data"},
        {"data/w.bin", "32", NULL, EML_ECORRUPT, "needs 24 at offset 32"},
        {"data/w.bin", "16", "20", EML_ECORRUPT, "length 20"},
        {"data/w.bin", "x16", NULL, EML_ECORRUPT, "offset 'x16' is not a number"},
        {"data", NULL, NULL, EML_EIO, "not a regular file"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eml_status st =
            load_external(env, dir, bad[i].location, bad[i].offset, bad[i].length, dims, 2, &g, &d);
        if (st != bad[i].st || !strstr(d.message, bad[i].text)) {
            fprintf(stderr, "case %zu: %s '%s'\n", i, eml_status_name(st), d.message);
            eml_test_failures++;
        }
        CHECK(g == NULL && strstr(d.file, "model.onnx") != NULL);
    }
    /* absurd dims are refused before the file is even opened */
    const int64_t huge[] = {1ll << 31, 1ll << 31};
    CHECK_STATUS(load_external(env, dir, "data/w.bin", NULL, NULL, huge, 2, &g, &d), EML_ELIMIT);
    CHECK(c.peak_bytes < (1u << 20));
    /* from bytes without a folder, external data is refused */
    size_t n;
    uint8_t *bytes = external_model("data/w.bin", NULL, NULL, dims, 2, &n);
    eml_diag_init(&d);
    CHECK_STATUS(eml_graph_load_onnx_bytes(env, bytes, n, NULL, &g, &d), EML_EUNSUPPORTED);
    CHECK(strstr(d.message, "external data") != NULL);
    CHECK_STATUS(eml_graph_load_onnx_bytes(env, bytes, n, sub, &g, &d), EML_EIO);
    free(bytes);
    eml_env_destroy(env);
    CHECK(c.live_count == 0);

    unlink(path_join(path, sizeof(path), sub, "w.bin"));
    unlink(path_join(path, sizeof(path), dir, "model.onnx"));
    rmdir(sub);
    rmdir(dir);
}

/* ---- the fuzz seeds: each says what it is for by the status it gets ---- */

static void *read_seed(const char *target, const char *name, size_t *n)
{
    const char *src = eml_test_source_dir();
    char path[600];
    snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/%s/%s", src ? src : ".", target, name);
    return eml_test_read_file(path, n);
}

EML_TEST(fuzz_seeds)
{
    static const struct {
        const char *name;
        eml_status st;
    } models[] = {
        {"relu.onnx", EML_OK},
        {"add_bcast.onnx", EML_OK},
        {"conv_relu.onnx", EML_OK},
        {"conv_typed_fields.onnx", EML_OK},
        {"input_default.onnx", EML_OK},
        {"if_outer_value.onnx", EML_OK},
        {"attrs_constant_gemm.onnx", EML_OK},
        {"int_types.onnx", EML_OK},
        {"maxpool_softmax.onnx", EML_OK},
        {"bitflip_in_weights.onnx", EML_OK},
        {"opset18.onnx", EML_EUNSUPPORTED},
        {"custom_domain.onnx", EML_EUNSUPPORTED},
        {"unknown_op.onnx", EML_EUNSUPPORTED},
        {"string_input.onnx", EML_EUNSUPPORTED},
        {"sequence_input.onnx", EML_EUNSUPPORTED},
        {"external_data.onnx", EML_EUNSUPPORTED},
        {"cycle.onnx", EML_EGRAPH},
        {"dangling_input.onnx", EML_EGRAPH},
        {"produced_twice.onnx", EML_EGRAPH},
        {"absurd_dims.onnx", EML_ELIMIT},
        {"raw_data_short.onnx", EML_ECORRUPT},
        {"truncated.onnx", EML_ECORRUPT},
        {"bad_length.onnx", EML_ECORRUPT},
        {"empty.onnx", EML_ECORRUPT},
        {"png_magic.onnx", EML_ECORRUPT},
        {"tflite_magic.onnx", EML_ECORRUPT},
        {"tensor_as_model.onnx", EML_ECORRUPT},
        {"deep_nesting.onnx", EML_ECORRUPT},
    };
    static const struct {
        const char *name;
        eml_status st;
    } tensors[] = {
        {"f32_2x3.pb", EML_OK},
        {"i64_typed.pb", EML_OK},
        {"bool.pb", EML_OK},
        {"f16_typed.pb", EML_OK},
        {"bf16_typed.pb", EML_OK},
        {"f64_typed.pb", EML_OK},
        {"u32_typed.pb", EML_OK},
        {"i8_typed.pb", EML_OK},
        {"empty_0x3.pb", EML_OK},
        {"scalar.pb", EML_OK},
        {"string.pb", EML_EUNSUPPORTED},
        {"complex.pb", EML_EUNSUPPORTED},
        {"external.pb", EML_EUNSUPPORTED},
        {"truncated.pb", EML_ECORRUPT},
        {"bad_name_length.pb", EML_ECORRUPT},
        {"absurd_dims.pb", EML_ELIMIT},
        {"negative_dim.pb", EML_ECORRUPT},
        {"raw_short.pb", EML_ECORRUPT},
        {"model_as_tensor.pb", EML_ECORRUPT},
        {"empty.pb", EML_ECORRUPT},
    };
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    for (size_t i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
        size_t n = 0;
        void *bytes = read_seed("onnx_load", models[i].name, &n);
        if (!bytes)
            eml_test_skip("EML_SOURCE_DIR is not set");
        eml_graph *g = NULL;
        eml_diag d;
        eml_diag_init(&d);
        eml_status st =
            eml__onnx_load(env, bytes, n, NULL, models[i].name, EML_ONNX_LOAD_SKIP_PREPARE, &g, &d);
        if (st != models[i].st) {
            fprintf(stderr, "%s: %s %s\n", models[i].name, eml_status_name(st), d.message);
            eml_test_failures++;
        }
        eml_graph_destroy(g);
        free(bytes);
    }
    for (size_t i = 0; i < sizeof(tensors) / sizeof(tensors[0]); i++) {
        size_t n = 0;
        void *bytes = read_seed("tensor_pb", tensors[i].name, &n);
        REQUIRE(bytes);
        eml_tensor t;
        eml_diag d;
        eml_diag_init(&d);
        eml_status st = eml_tensor_read_pb(env, bytes, n, &t, NULL, 0, &d);
        if (st != tensors[i].st) {
            fprintf(stderr, "%s: %s %s\n", tensors[i].name, eml_status_name(st), d.message);
            eml_test_failures++;
        }
        if (st == EML_OK)
            eml__free(env, t.data);
        free(bytes);
    }
    eml_env_destroy(env);
    CHECK(c.live_count == 0);
}

/* The public loader under allocation failure at every k, on seeds with initializers, attributes
 * and subgraphs: each try ends as the unfailed load does, or with EML_ENOMEM, and leaks nothing. */
EML_TEST(allocation_failures_public)
{
    static const char *const seeds[] = {"conv_relu.onnx", "if_outer_value.onnx",
                                        "attrs_constant_gemm.onnx", "input_default.onnx"};
    for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
        size_t n = 0;
        void *bytes = read_seed("onnx_load", seeds[s], &n);
        if (!bytes)
            eml_test_skip("EML_SOURCE_DIR is not set");
        eml_counting_allocator c;
        eml_env *env = eml_test_counting_env(&c);
        eml_graph *g = NULL;
        eml_diag d;
        eml_diag_init(&d);
        eml_status want = eml_graph_load_onnx_bytes(env, bytes, n, NULL, &g, &d);
        eml_graph_destroy(g);
        g = NULL;
        bool done = false;
        for (uint64_t k = 1; k < 5000 && !done; k++) {
            uint64_t live = c.live_count;
            c.fail_at = c.alloc_count + k;
            eml_diag_init(&d);
            eml_status st = eml_graph_load_onnx_bytes(env, bytes, n, NULL, &g, &d);
            done = c.alloc_count < c.fail_at; /* nothing failed: the whole path was covered */
            c.fail_at = 0;
            if (st != (done ? want : EML_ENOMEM)) {
                fprintf(stderr, "%s k=%llu: %s %s\n", seeds[s], (unsigned long long)k,
                        eml_status_name(st), d.message);
                eml_test_failures++;
            }
            eml_graph_destroy(g);
            g = NULL;
            CHECK(c.live_count == live);
        }
        CHECK(done);
        eml_env_destroy(env);
        free(bytes);
    }
    /* the same from a file path (the file's bytes are env memory too) */
    const char *src = eml_test_source_dir();
    char path[600];
    snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/onnx_load/conv_relu.onnx", src);
    eml_counting_allocator c;
    eml_env *env = eml_test_counting_env(&c);
    bool done = false;
    for (uint64_t k = 1; k < 5000 && !done; k++) {
        uint64_t live = c.live_count;
        c.fail_at = c.alloc_count + k;
        eml_graph *g = NULL;
        eml_diag d;
        eml_diag_init(&d);
        eml_status st = eml_graph_load_onnx(env, path, &g, &d);
        done = c.alloc_count < c.fail_at;
        c.fail_at = 0;
        if (!done)
            CHECK_STATUS(st, EML_ENOMEM);
        CHECK(done || strcmp(d.file, path) == 0);
        eml_graph_destroy(g);
        CHECK(c.live_count == live);
    }
    CHECK(done);
    eml_env_destroy(env);
}
