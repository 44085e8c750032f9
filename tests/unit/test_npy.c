/* Tests of the .npy reader and writer: round trips, numpy's own files, and every way a header or
 * its data can be wrong. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

/* REQUIRE_OK for a diag on the stack (the harness macro takes a pointer variable). */
static void must(eml_status st, const eml_diag *diag, const char *expr, int line)
{
    if (st != EML_OK) {
        fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, line, expr, eml_status_name(st),
                diag->message);
        exit(1);
    }
}
#define MUST(expr, diagp) must((expr), (diagp), #expr, __LINE__)

static eml_env *make_env(void)
{
    eml_env_options o;
    eml_env_options_init(&o);
    o.n_threads = 1;
    eml_env *env = NULL;
    REQUIRE(eml_env_create(&o, &env) == EML_OK);
    return env;
}

static char *make_temp_dir(void)
{
    const char *base = getenv("TMPDIR");
    static char path[512];
    snprintf(path, sizeof(path), "%s/eml_npy_XXXXXX", base && *base ? base : "/tmp");
    REQUIRE(mkdtemp(path) != NULL);
    return path;
}

/* A .npy file in memory: magic, version, header text padded as numpy pads it, then data. */
static unsigned char *make_npy(int major, const char *header, const void *data, size_t n_data,
                               size_t *n_out)
{
    size_t prefix = major == 1 ? 10 : 12;
    size_t hlen = strlen(header) + 1;
    size_t padded = (prefix + hlen + 63) / 64 * 64 - prefix;
    unsigned char *b = malloc(prefix + padded + n_data + 1);
    REQUIRE(b != NULL);
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    if (major == 1) {
        b[8] = (unsigned char)(padded & 0xff);
        b[9] = (unsigned char)(padded >> 8);
    } else {
        for (int i = 0; i < 4; i++)
            b[8 + i] = (unsigned char)(padded >> (8 * i));
    }
    memset(b + prefix, ' ', padded);
    memcpy(b + prefix, header, strlen(header));
    b[prefix + padded - 1] = '\n';
    if (n_data)
        memcpy(b + prefix + padded, data, n_data);
    *n_out = prefix + padded + n_data;
    return b;
}

static eml_status read_header(eml_env *env, const char *header, const void *data, size_t n_data,
                              eml_tensor *t, eml_diag *diag)
{
    size_t n;
    unsigned char *b = make_npy(1, header, data, n_data, &n);
    eml_diag_init(diag);
    eml_status st = eml_tensor_read_npy(env, b, n, t, diag);
    free(b);
    return st;
}

static const eml_dtype all_dtypes[] = {
#define DT(value, suffix, ctype, size, name) EML_DTYPE_##suffix,
    EML_DTYPE_MAP(DT)
#undef DT
};

EML_TEST(roundtrip_every_dtype)
{
    eml_env *env = make_env();
    char *dir = make_temp_dir();
    static const int64_t shapes[][4] = {{2, 3, 4, 0}, {7, 0, 0, 0}, {0, 0, 0, 0}, {2, 0, 3, 0}};
    static const int ranks[] = {3, 1, 0, 3};
    for (size_t d = 0; d < sizeof(all_dtypes) / sizeof(all_dtypes[0]); d++) {
        for (size_t s = 0; s < 4; s++) {
            eml_tensor t = {0};
            t.dtype = all_dtypes[d];
            t.rank = ranks[s];
            memcpy(t.dims, shapes[s], sizeof(shapes[s]));
            size_t bytes = eml_tensor_bytes(&t);
            unsigned char *data = malloc(bytes + 1);
            for (size_t i = 0; i < bytes; i++)
                data[i] = t.dtype == EML_DTYPE_BOOL ? (unsigned char)(eml_test_rand() & 1)
                                                    : (unsigned char)eml_test_rand();
            t.data = data;
            char path[600];
            snprintf(path, sizeof(path), "%s/t_%d_%zu.npy", dir, (int)t.dtype, s);
            eml_diag diag;
            eml_diag_init(&diag);
            eml_status st = eml_tensor_write_npy(&t, path, &diag);
            if (t.dtype == EML_DTYPE_BF16) {
                CHECK(st == EML_EUNSUPPORTED);
                free(data);
                continue;
            }
            MUST(st, &diag);
            size_t n;
            unsigned char *file = eml_test_read_file(path, &n);
            REQUIRE(file != NULL);
            CHECK(n % 64 == bytes % 64); /* the header keeps the data 64-byte aligned */
            eml_tensor back;
            MUST(eml_tensor_read_npy(env, file, n, &back, &diag), &diag);
            CHECK(back.dtype == t.dtype);
            CHECK(back.rank == t.rank);
            CHECK(memcmp(back.dims, t.dims, sizeof(int64_t) * (size_t)t.rank) == 0);
            CHECK(bytes == 0 || memcmp(back.data, data, bytes) == 0);
            eml_tensor_free(env, &back);
            CHECK(back.data == NULL);

            /* and through the file reader */
            MUST(eml_tensor_read_file(env, path, NULL, &back, &diag), &diag);
            CHECK(back.dtype == t.dtype && back.rank == t.rank);
            CHECK(bytes == 0 || memcmp(back.data, data, bytes) == 0);
            eml_tensor_free(env, &back);
            free(file);
            free(data);
            unlink(path);
        }
    }
    rmdir(dir);
    eml_env_destroy(env);
}

EML_TEST(reads_numpy_header_forms)
{
    eml_env *env = make_env();
    eml_tensor t;
    eml_diag diag;
    int32_t v[6] = {0, 1, 2, 3, 4, 5};
    /* as numpy writes it */
    MUST(read_header(env, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }", v,
                           sizeof(v), &t, &diag),
               &diag);
    CHECK(t.dtype == EML_DTYPE_I32 && t.rank == 2 && t.dims[0] == 2 && t.dims[1] == 3);
    CHECK(memcmp(t.data, v, sizeof(v)) == 0);
    eml_tensor_free(env, &t);
    /* keys in another order, double quotes, no trailing comma, Python 2 longs */
    MUST(read_header(env, "{\"shape\": (6L,), \"fortran_order\": False, \"descr\": \"<i4\"}",
                           v, sizeof(v), &t, &diag),
               &diag);
    CHECK(t.rank == 1 && t.dims[0] == 6);
    eml_tensor_free(env, &t);
    /* scalar */
    MUST(read_header(env, "{'descr': '<i4', 'fortran_order': False, 'shape': (), }", v, 4,
                           &t, &diag),
               &diag);
    CHECK(t.rank == 0 && ((int32_t *)t.data)[0] == 0);
    eml_tensor_free(env, &t);
    /* format version 2 and 3 (4-byte header length) */
    for (int major = 2; major <= 3; major++) {
        size_t n;
        unsigned char *b =
            make_npy(major, "{'descr': '<i4', 'fortran_order': False, 'shape': (3, 2), }", v,
                     sizeof(v), &n);
        MUST(eml_tensor_read_npy(env, b, n, &t, &diag), &diag);
        CHECK(t.dims[0] == 3 && t.dims[1] == 2);
        eml_tensor_free(env, &t);
        free(b);
    }
    eml_env_destroy(env);
}

EML_TEST(reads_shared_fashion_input)
{
    const char *shared = eml_test_shared_dir();
    char path[1024];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/test_data_set_0/input_0.npy",
             shared ? shared : "");
    if (!shared || access(path, R_OK) != 0)
        eml_test_skip("shared fashion_cnn input_0.npy not found");
    eml_env *env = make_env();
    eml_tensor t;
    eml_diag diag;
    eml_diag_init(&diag);
    MUST(eml_tensor_read_file(env, path, NULL, &t, &diag), &diag);
    CHECK(t.dtype == EML_DTYPE_F32 && t.rank == 4);
    CHECK(t.dims[0] == 8 && t.dims[1] == 1 && t.dims[2] == 28 && t.dims[3] == 28);
    const float *f = t.data;
    float lo = 1, hi = 0;
    for (int64_t i = 0; i < eml_tensor_count(&t); i++) {
        lo = f[i] < lo ? f[i] : lo;
        hi = f[i] > hi ? f[i] : hi;
    }
    CHECK(lo == 0.0f && hi == 1.0f);
    eml_tensor_free(env, &t);
    eml_env_destroy(env);
}

EML_TEST(malformed_headers_refused)
{
    eml_env *env = make_env();
    eml_tensor t;
    eml_diag diag;
    float f[4] = {0};
    static const char *bad[] = {
        "",
        "descr",
        "{'descr': '<f4', 'fortran_order': False}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'extra': 1}",
        "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}",
        "{'descr': '<f4', 'fortran_order': Maybe, 'shape': (4,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,x)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-4,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': 4}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'descr}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)} junk",
        "{'descr': '<f4' 'fortran_order': False, 'shape': (4,)}",
        "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)",
        "{'descr': '<f\\4', 'fortran_order': False, 'shape': (4,)}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        eml_status st = read_header(env, bad[i], f, sizeof(f), &t, &diag);
        if (st != EML_ECORRUPT)
            fprintf(stderr, "header %zu (%s): %s\n", i, bad[i], eml_status_name(st));
        CHECK(st == EML_ECORRUPT);
        CHECK(strncmp(diag.message, "npy: ", 5) == 0);
        CHECK(diag.offset >= 10);
        CHECK(t.data == NULL);
    }
    /* more than EML_MAX_RANK dims */
    CHECK(read_header(env, "{'descr': '<f4', 'fortran_order': False, "
                           "'shape': (1,1,1,1,1,1,1,1,4)}",
                      f, sizeof(f), &t, &diag) == EML_ELIMIT);

    /* broken preambles */
    size_t n;
    unsigned char *b =
        make_npy(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", f, sizeof(f), &n);
    CHECK(eml_tensor_read_npy(env, b, 5, &t, &diag) == EML_ECORRUPT);
    CHECK(eml_tensor_read_npy(env, b, 40, &t, &diag) == EML_ECORRUPT); /* header cut */
    b[0] = 'X';
    CHECK(eml_tensor_read_npy(env, b, n, &t, &diag) == EML_ECORRUPT);
    b[0] = 0x93;
    b[6] = 9;
    CHECK(eml_tensor_read_npy(env, b, n, &t, &diag) == EML_EUNSUPPORTED);
    b[6] = 1;
    b[9] = 0xff; /* header length past the end */
    CHECK(eml_tensor_read_npy(env, b, n, &t, &diag) == EML_ECORRUPT);
    free(b);
    eml_env_destroy(env);
}

EML_TEST(truncated_and_trailing_data_refused)
{
    eml_env *env = make_env();
    eml_tensor t;
    eml_diag diag;
    float f[8] = {0};
    const char *h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    CHECK(read_header(env, h, f, 5 * sizeof(float), &t, &diag) == EML_ECORRUPT);
    CHECK(strstr(diag.message, "truncated") != NULL);
    CHECK(read_header(env, h, f, 0, &t, &diag) == EML_ECORRUPT);
    CHECK(read_header(env, h, f, 7 * sizeof(float), &t, &diag) == EML_ECORRUPT);
    CHECK(read_header(env, h, f, 6 * sizeof(float), &t, &diag) == EML_OK);
    eml_tensor_free(env, &t);
    eml_env_destroy(env);
}

EML_TEST(absurd_shapes_refused_before_allocation)
{
    eml_counting_allocator ca;
    eml_counting_allocator_init(&ca);
    eml_env_options o;
    eml_env_options_init(&o);
    o.allocator = &ca.base;
    o.n_threads = 1;
    eml_env *env = NULL;
    REQUIRE(eml_env_create(&o, &env) == EML_OK);
    uint64_t before = ca.alloc_count;
    eml_tensor t;
    eml_diag diag;
    float f[4] = {0};
    CHECK(read_header(env, "{'descr': '<f4', 'fortran_order': False, "
                           "'shape': (1000000000, 1000000000), }",
                      f, sizeof(f), &t, &diag) == EML_ECORRUPT);
    CHECK(read_header(env, "{'descr': '<f8', 'fortran_order': False, "
                           "'shape': (4294967296, 4294967296, 4294967296), }",
                      f, sizeof(f), &t, &diag) == EML_ELIMIT);
    CHECK(read_header(env, "{'descr': '<f8', 'fortran_order': False, "
                           "'shape': (99999999999999999999999,), }",
                      f, sizeof(f), &t, &diag) == EML_ELIMIT);
    CHECK(ca.alloc_count == before);
    /* an allocation that fails is reported, and nothing leaks */
    ca.fail_at = ca.alloc_count + 1;
    CHECK(read_header(env, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", f,
                      sizeof(f), &t, &diag) == EML_ENOMEM);
    ca.fail_at = 0;
    eml_env_destroy(env);
    CHECK(ca.live_count == 0);
}

EML_TEST(fortran_order_transposed)
{
    eml_env *env = make_env();
    eml_tensor t;
    eml_diag diag;
    /* C-order a[i][j] = 10*i + j for shape (2,3), stored column-major */
    int16_t fdata[6] = {0, 10, 1, 11, 2, 12};
    MUST(read_header(env, "{'descr': '<i2', 'fortran_order': True, 'shape': (2, 3), }",
                           fdata, sizeof(fdata), &t, &diag),
               &diag);
    int16_t want[6] = {0, 1, 2, 10, 11, 12};
    CHECK(memcmp(t.data, want, sizeof(want)) == 0);
    eml_tensor_free(env, &t);
    /* rank 3, shape (2,3,4): a[i][j][k] = 100*i + 10*j + k at Fortran offset i + 2j + 6k */
    int32_t f3[24], c3[24];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            for (int k = 0; k < 4; k++) {
                f3[i + 2 * j + 6 * k] = 100 * i + 10 * j + k;
                c3[(i * 3 + j) * 4 + k] = 100 * i + 10 * j + k;
            }
    MUST(read_header(env, "{'descr': '<i4', 'fortran_order': True, 'shape': (2, 3, 4), }",
                           f3, sizeof(f3), &t, &diag),
               &diag);
    CHECK(memcmp(t.data, c3, sizeof(c3)) == 0);
    eml_tensor_free(env, &t);
    eml_env_destroy(env);
}

EML_TEST(big_endian_converted)
{
    eml_env *env = make_env();
    eml_tensor t;
    eml_diag diag;
    unsigned char be32[8] = {0, 0, 0, 1, 0xff, 0xff, 0xff, 0xfe};
    MUST(read_header(env, "{'descr': '>i4', 'fortran_order': False, 'shape': (2,), }", be32,
                           sizeof(be32), &t, &diag),
               &diag);
    CHECK(((int32_t *)t.data)[0] == 1 && ((int32_t *)t.data)[1] == -2);
    eml_tensor_free(env, &t);
    unsigned char bef[8] = {0x3f, 0xf8, 0, 0, 0, 0, 0, 0}; /* 1.5 */
    MUST(read_header(env, "{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }", bef,
                           sizeof(bef), &t, &diag),
               &diag);
    CHECK(((double *)t.data)[0] == 1.5);
    eml_tensor_free(env, &t);
    unsigned char beh[2] = {0x3c, 0x00}; /* float16 1.0 */
    MUST(read_header(env, "{'descr': '>f2', 'fortran_order': False, 'shape': (), }", beh,
                           sizeof(beh), &t, &diag),
               &diag);
    CHECK(t.dtype == EML_DTYPE_F16 && eml_f16_to_f32(((uint16_t *)t.data)[0]) == 1.0f);
    eml_tensor_free(env, &t);
    /* one-byte types ignore the byte order mark */
    unsigned char u8[3] = {1, 2, 255};
    MUST(read_header(env, "{'descr': '>u1', 'fortran_order': False, 'shape': (3,), }", u8,
                           sizeof(u8), &t, &diag),
               &diag);
    CHECK(t.dtype == EML_DTYPE_U8 && memcmp(t.data, u8, 3) == 0);
    eml_tensor_free(env, &t);
    eml_env_destroy(env);
}

EML_TEST(bools_normalized)
{
    eml_env *env = make_env();
    eml_tensor t;
    eml_diag diag;
    unsigned char b[4] = {0, 1, 2, 255};
    MUST(read_header(env, "{'descr': '|b1', 'fortran_order': False, 'shape': (4,), }", b,
                           sizeof(b), &t, &diag),
               &diag);
    CHECK(t.dtype == EML_DTYPE_BOOL);
    const unsigned char *p = t.data;
    CHECK(p[0] == 0 && p[1] == 1 && p[2] == 1 && p[3] == 1);
    eml_tensor_free(env, &t);
    eml_env_destroy(env);
}

EML_TEST(unsupported_dtypes_named)
{
    eml_env *env = make_env();
    eml_tensor t;
    eml_diag diag;
    unsigned char data[64] = {0};
    static const char *descrs[] = {"<c8", "<U5", "|O", "|S3", "<f16", "<i3", "<M8", "V8", ""};
    for (size_t i = 0; i < sizeof(descrs) / sizeof(descrs[0]); i++) {
        char h[128];
        snprintf(h, sizeof(h), "{'descr': '%s', 'fortran_order': False, 'shape': (1,), }",
                 descrs[i]);
        CHECK(read_header(env, h, data, 8, &t, &diag) == EML_EUNSUPPORTED);
        CHECK(strstr(diag.message, "dtype") != NULL);
    }
    CHECK(read_header(env, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }",
                      data, 4, &t, &diag) == EML_EUNSUPPORTED);
    CHECK(strstr(diag.message, "structured") != NULL);
    eml_env_destroy(env);
}

EML_TEST(read_file_errors)
{
    eml_env *env = make_env();
    char *dir = make_temp_dir();
    eml_tensor t;
    eml_diag diag;
    char path[600];
    snprintf(path, sizeof(path), "%s/missing.npy", dir);
    eml_diag_init(&diag);
    CHECK(eml_tensor_read_file(env, path, NULL, &t, &diag) == EML_EIO);
    CHECK(strstr(diag.message, path) != NULL);
    snprintf(path, sizeof(path), "%s/folder.npy", dir);
    REQUIRE(mkdir(path, 0700) == 0);
    eml_diag_init(&diag);
    CHECK(eml_tensor_read_file(env, path, NULL, &t, &diag) == EML_EIO);
    rmdir(path);
    snprintf(path, sizeof(path), "%s/data.txt", dir);
    eml_diag_init(&diag);
    CHECK(eml_tensor_read_file(env, path, NULL, &t, &diag) == EML_EUNSUPPORTED);
    /* a corrupt file's message names the file */
    snprintf(path, sizeof(path), "%s/bad.NPY", dir);
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    fputs("not numpy at all", f);
    fclose(f);
    eml_diag_init(&diag);
    CHECK(eml_tensor_read_file(env, path, NULL, &t, &diag) == EML_ECORRUPT);
    CHECK(strstr(diag.message, path) != NULL && strstr(diag.message, "npy") != NULL);
    unlink(path);
    rmdir(dir);
    eml_env_destroy(env);
}
