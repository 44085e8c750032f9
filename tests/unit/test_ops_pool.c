/* Unit tests of AveragePool, MaxPool (with Indices), GlobalAveragePool, GlobalMaxPool and LRN
 * through their prepare, infer and reference kernel, with values from the ONNX spec's examples. */
#include "kernels/ref/pool.h"
#include "op_test_util.h"

/* The functions under test, named directly (ops.def names the same ones; see op_table_agrees). */
static const op_fns pool_fns[] = {
    {"AveragePool", eml__pool_prepare, eml__pool_infer, eml__ref_pool},
    {"MaxPool", eml__pool_prepare, eml__pool_infer, eml__ref_pool},
    {"GlobalAveragePool", eml__global_pool_prepare, eml__global_pool_infer, eml__ref_global_pool},
    {"GlobalMaxPool", eml__global_pool_prepare, eml__global_pool_infer, eml__ref_global_pool},
    {"LRN", eml__lrn_prepare, eml__lrn_infer, eml__ref_lrn},
    {NULL},
};

static const op_fns *op_test_fns = pool_fns;

/* 1, 2, ..., n */
static float counting[64];

static const float *count_from_one(void)
{
    for (int i = 0; i < 64; i++)
        counting[i] = (float)(i + 1);
    return counting;
}

/* ---- MaxPool ---- */

EML_TEST(maxpool_pads_with_indices)
{
    eml_tensor x = tensor(EML_DTYPE_F32, count_from_one(), 4, 1, 1, 5, 5);
    op_case oc;
    op_begin(&oc, "MaxPool", 12, 1, 2);
    attr_ints_va(&oc, "kernel_shape", 2, 5, 5);
    attr_ints_va(&oc, "pads", 4, 2, 2, 2, 2);
    REQUIRE_OK(op_run(&oc, &x, 1, NULL), &oc.diag);
    check_shape(&oc.out[0], 4, (const int64_t[]){1, 1, 5, 5});
    check_near(&oc.out[0],
               (const double[]){13, 14, 15, 15, 15, 18, 19, 20, 20, 20, 23, 24, 25,
                                25, 25, 23, 24, 25, 25, 25, 23, 24, 25, 25, 25},
               25);
    CHECK(oc.out[1].dtype == EML_DTYPE_I64);
    const int64_t *idx = oc.out[1].data;
    static const int64_t expected[25] = {12, 13, 14, 14, 14, 17, 18, 19, 19, 19, 22, 23, 24,
                                         24, 24, 22, 23, 24, 24, 24, 22, 23, 24, 24, 24};
    CHECK(memcmp(idx, expected, sizeof(expected)) == 0);
    op_end(&oc);
}

EML_TEST(maxpool_storage_order_and_batch_offsets)
{
    /* two planes: indices count the plane's offset in the flattened input */
    float x[50];
    for (int i = 0; i < 50; i++)
        x[i] = (float)(i % 25 + 1);
    eml_tensor t = tensor(EML_DTYPE_F32, x, 4, 2, 1, 5, 5);
    op_case oc;
    op_begin(&oc, "MaxPool", 8, 1, 2);
    attr_ints_va(&oc, "kernel_shape", 2, 2, 2);
    attr_ints_va(&oc, "strides", 2, 2, 2);
    attr_int(&oc, "storage_order", 1);
    REQUIRE_OK(op_run(&oc, &t, 1, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){7, 9, 17, 19, 7, 9, 17, 19}, 8);
    static const int64_t col_major[8] = {6, 16, 8, 18, 31, 41, 33, 43};
    CHECK(memcmp(oc.out[1].data, col_major, sizeof(col_major)) == 0);
    op_end(&oc);
}

EML_TEST(maxpool_dilations_ceil_and_integer_types)
{
    eml_tensor x = tensor(EML_DTYPE_F32, count_from_one(), 4, 1, 1, 4, 4);
    op_case oc;
    op_begin(&oc, "MaxPool", 10, 1, 1);
    attr_ints_va(&oc, "kernel_shape", 2, 2, 2);
    attr_ints_va(&oc, "dilations", 2, 2, 2);
    REQUIRE_OK(op_run(&oc, &x, 1, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){11, 12, 15, 16}, 4);
    op_end(&oc);

    op_begin(&oc, "MaxPool", 10, 1, 1);
    attr_ints_va(&oc, "kernel_shape", 2, 3, 3);
    attr_ints_va(&oc, "strides", 2, 2, 2);
    attr_int(&oc, "ceil_mode", 1);
    REQUIRE_OK(op_run(&oc, &x, 1, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){11, 12, 15, 16}, 4);
    op_end(&oc);

    const int8_t xi[] = {-5, -3, -128, 127, 0, -1};
    eml_tensor ti = tensor(EML_DTYPE_I8, xi, 3, 1, 2, 3);
    op_begin(&oc, "MaxPool", 12, 1, 1);
    attr_ints_va(&oc, "kernel_shape", 1, 2);
    attr_ints_va(&oc, "pads", 2, 1, 0);
    REQUIRE_OK(op_run(&oc, &ti, 1, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_I8);
    const int8_t *yi = oc.out[0].data;
    CHECK(yi[0] == -5 && yi[1] == -3 && yi[2] == -3 && yi[3] == 127 && yi[4] == 127 &&
          yi[5] == 0);
    op_end(&oc);

    op_begin(&oc, "MaxPool", 11, 1, 1);   /* int8 arrived with MaxPool-12 */
    attr_ints_va(&oc, "kernel_shape", 1, 2);
    CHECK_STATUS(op_run(&oc, &ti, 1, NULL), EML_EUNSUPPORTED);
    op_end(&oc);
}

/* ---- AveragePool ---- */

EML_TEST(avgpool_pads_with_and_without_count_include_pad)
{
    eml_tensor x = tensor(EML_DTYPE_F32, count_from_one(), 4, 1, 1, 5, 5);
    op_case oc;
    op_begin(&oc, "AveragePool", 11, 1, 1);
    attr_ints_va(&oc, "kernel_shape", 2, 5, 5);
    attr_ints_va(&oc, "pads", 4, 2, 2, 2, 2);
    REQUIRE_OK(op_run(&oc, &x, 1, NULL), &oc.diag);
    check_near(&oc.out[0],
               (const double[]){7,  7.5, 8,  8.5, 9,  9.5, 10, 10.5, 11, 11.5, 12, 12.5, 13,
                                13.5, 14, 14.5, 15, 15.5, 16, 16.5, 17, 17.5, 18, 18.5, 19},
               25);
    op_end(&oc);

    op_begin(&oc, "AveragePool", 7, 1, 1);
    attr_ints_va(&oc, "kernel_shape", 2, 5, 5);
    attr_ints_va(&oc, "pads", 4, 2, 2, 2, 2);
    attr_int(&oc, "count_include_pad", 1);
    REQUIRE_OK(op_run(&oc, &x, 1, NULL), &oc.diag);
    check_near(&oc.out[0],
               (const double[]){2.52, 3.6,  4.8,  4.08, 3.24, 4.56, 6.4,  8.4,  7.04,
                                5.52, 7.2,  10,   13,   10.8, 8.4,  6.96, 9.6,  12.4,
                                10.24, 7.92, 6.12, 8.4, 10.8, 8.88, 6.84},
               25);
    op_end(&oc);
}

EML_TEST(avgpool_same_upper_ceil_and_3d_f64)
{
    eml_tensor x = tensor(EML_DTYPE_F32, count_from_one(), 4, 1, 1, 5, 5);
    op_case oc;
    op_begin(&oc, "AveragePool", 1, 1, 1);
    attr_ints_va(&oc, "kernel_shape", 2, 3, 3);
    attr_ints_va(&oc, "strides", 2, 2, 2);
    attr_string(&oc, "auto_pad", "SAME_UPPER");
    REQUIRE_OK(op_run(&oc, &x, 1, NULL), &oc.diag);
    check_shape(&oc.out[0], 4, (const int64_t[]){1, 1, 3, 3});
    check_near(&oc.out[0], (const double[]){4, 5.5, 7, 11.5, 13, 14.5, 19, 20.5, 22}, 9);
    op_end(&oc);

    eml_tensor x4 = tensor(EML_DTYPE_F32, count_from_one(), 4, 1, 1, 4, 4);
    op_begin(&oc, "AveragePool", 10, 1, 1);
    attr_ints_va(&oc, "kernel_shape", 2, 3, 3);
    attr_ints_va(&oc, "strides", 2, 2, 2);
    attr_int(&oc, "ceil_mode", 1);
    REQUIRE_OK(op_run(&oc, &x4, 1, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){6, 7.5, 12, 13.5}, 4);
    op_end(&oc);

    /* ceil_mode does not add a window that would start in the end padding: 4 + 1 pad, kernel 2,
     * stride 2 gives ceil(3/2) + 1 = 3 windows, the last starting at 4 (padding): dropped */
    eml_tensor x1 = tensor(EML_DTYPE_F32, count_from_one(), 3, 1, 1, 4);
    op_begin(&oc, "AveragePool", 11, 1, 1);
    attr_ints_va(&oc, "kernel_shape", 1, 2);
    attr_ints_va(&oc, "strides", 1, 2);
    attr_ints_va(&oc, "pads", 2, 0, 1);
    attr_int(&oc, "ceil_mode", 1);
    REQUIRE_OK(op_run(&oc, &x1, 1, NULL), &oc.diag);
    check_shape(&oc.out[0], 3, (const int64_t[]){1, 1, 2});
    check_near(&oc.out[0], (const double[]){1.5, 3.5}, 2);
    op_end(&oc);

    double xd[16];
    for (int i = 0; i < 16; i++)
        xd[i] = i;
    eml_tensor t3 = tensor(EML_DTYPE_F64, xd, 5, 1, 2, 2, 2, 2);
    op_begin(&oc, "AveragePool", 11, 1, 1);
    attr_ints_va(&oc, "kernel_shape", 3, 2, 2, 2);
    REQUIRE_OK(op_run(&oc, &t3, 1, NULL), &oc.diag);
    check_shape(&oc.out[0], 5, (const int64_t[]){1, 2, 1, 1, 1});
    check_near(&oc.out[0], (const double[]){3.5, 11.5}, 2);
    op_end(&oc);
}

/* Planes split over threads give the same bits as one thread. */
EML_TEST(pool_threads_agree_with_inline)
{
    enum { C = 16, H = 30 };
    static float x[C * H * H];
    for (int i = 0; i < C * H * H; i++)
        x[i] = eml_test_randf(-1, 1);
    eml_tensor t = tensor(EML_DTYPE_F32, x, 4, 1, C, H, H);
    eml_env *env;
    eml_pool *pool;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    REQUIRE(eml__pool_create(env, 3, &pool) == EML_OK);
    for (int is_max = 0; is_max < 2; is_max++) {
        op_case a, b;
        op_begin(&a, is_max ? "MaxPool" : "AveragePool", 11, 1, 1);
        attr_ints_va(&a, "kernel_shape", 2, 3, 3);
        attr_ints_va(&a, "pads", 4, 1, 1, 1, 1);
        op_begin(&b, is_max ? "MaxPool" : "AveragePool", 11, 1, 1);
        attr_ints_va(&b, "kernel_shape", 2, 3, 3);
        attr_ints_va(&b, "pads", 4, 1, 1, 1, 1);
        REQUIRE_OK(op_run(&a, &t, 1, NULL), &a.diag);
        REQUIRE_OK(op_run(&b, &t, 1, pool), &b.diag);
        CHECK(memcmp(a.out[0].data, b.out[0].data, eml_tensor_bytes(&a.out[0])) == 0);
        op_end(&a);
        op_end(&b);
    }
    eml__pool_destroy(pool);
    eml_env_destroy(env);
}

EML_TEST(pool_refuses_bad_attributes_and_shapes)
{
    eml_tensor x = tensor(EML_DTYPE_F32, count_from_one(), 4, 1, 1, 4, 4);
    op_case oc;

    op_begin(&oc, "MaxPool", 12, 1, 1);   /* kernel_shape is required */
    CHECK_STATUS(op_prepare(&oc), EML_EGRAPH);
    op_end(&oc);

    op_begin(&oc, "MaxPool", 12, 1, 1);
    attr_ints_va(&oc, "kernel_shape", 2, 2, 2);
    attr_int(&oc, "storage_order", 2);
    CHECK_STATUS(op_prepare(&oc), EML_EGRAPH);
    op_end(&oc);

    op_begin(&oc, "AveragePool", 9, 1, 1);   /* ceil_mode arrived with opset 10 */
    attr_ints_va(&oc, "kernel_shape", 2, 2, 2);
    attr_int(&oc, "ceil_mode", 1);
    CHECK_STATUS(op_prepare(&oc), EML_EUNSUPPORTED);
    op_end(&oc);

    op_begin(&oc, "AveragePool", 11, 1, 1);   /* AveragePool has no dilations before opset 19 */
    attr_ints_va(&oc, "kernel_shape", 2, 2, 2);
    attr_ints_va(&oc, "dilations", 2, 2, 2);
    CHECK_STATUS(op_prepare(&oc), EML_EUNSUPPORTED);
    op_end(&oc);

    op_begin(&oc, "MaxPool", 12, 1, 1);
    attr_ints_va(&oc, "kernel_shape", 2, 2, 0);
    CHECK_STATUS(op_prepare(&oc), EML_EGRAPH);
    op_end(&oc);

    op_begin(&oc, "MaxPool", 12, 1, 1);
    attr_ints_va(&oc, "kernel_shape", 2, 2, 2);
    attr_string(&oc, "auto_pad", "same");
    CHECK_STATUS(op_prepare(&oc), EML_EUNSUPPORTED);
    op_end(&oc);

    op_begin(&oc, "MaxPool", 12, 1, 1);   /* three kernel dims for a 2D input */
    attr_ints_va(&oc, "kernel_shape", 3, 2, 2, 2);
    CHECK_STATUS(op_run(&oc, &x, 1, NULL), EML_ESHAPE);
    op_end(&oc);

    op_begin(&oc, "MaxPool", 12, 1, 1);   /* a 5-wide window over 4 pixels leaves no output */
    attr_ints_va(&oc, "kernel_shape", 2, 5, 5);
    CHECK_STATUS(op_run(&oc, &x, 1, NULL), EML_ESHAPE);
    op_end(&oc);

    const uint8_t xu[16] = {0};
    eml_tensor tu = tensor(EML_DTYPE_U8, xu, 4, 1, 1, 4, 4);
    op_begin(&oc, "AveragePool", 11, 1, 1);
    attr_ints_va(&oc, "kernel_shape", 2, 2, 2);
    CHECK_STATUS(op_run(&oc, &tu, 1, NULL), EML_EUNSUPPORTED);
    op_end(&oc);
}

/* ---- global pools ---- */

EML_TEST(global_pools)
{
    eml_tensor x = tensor(EML_DTYPE_F32, count_from_one(), 4, 1, 2, 3, 3);
    op_case oc;
    op_begin(&oc, "GlobalAveragePool", 1, 1, 1);
    REQUIRE_OK(op_run(&oc, &x, 1, NULL), &oc.diag);
    check_shape(&oc.out[0], 4, (const int64_t[]){1, 2, 1, 1});
    check_near(&oc.out[0], (const double[]){5, 14}, 2);
    op_end(&oc);

    op_begin(&oc, "GlobalMaxPool", 1, 1, 1);
    REQUIRE_OK(op_run(&oc, &x, 1, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){9, 18}, 2);
    op_end(&oc);

    uint16_t h[6];
    for (int i = 0; i < 6; i++)
        h[i] = eml_f32_to_f16((float)(i * i));
    eml_tensor th = tensor(EML_DTYPE_F16, h, 5, 2, 1, 1, 3, 1);
    op_begin(&oc, "GlobalMaxPool", 1, 1, 1);
    REQUIRE_OK(op_run(&oc, &th, 1, NULL), &oc.diag);
    check_shape(&oc.out[0], 5, (const int64_t[]){2, 1, 1, 1, 1});
    check_near(&oc.out[0], (const double[]){4, 25}, 2);
    op_end(&oc);

    op_begin(&oc, "GlobalAveragePool", 1, 1, 1);
    attr_int(&oc, "keepdims", 1);
    CHECK_STATUS(op_prepare(&oc), EML_EUNSUPPORTED);
    op_end(&oc);

    eml_tensor flat = tensor(EML_DTYPE_F32, count_from_one(), 2, 2, 3);
    op_begin(&oc, "GlobalAveragePool", 1, 1, 1);
    CHECK_STATUS(op_run(&oc, &flat, 1, NULL), EML_ESHAPE);
    op_end(&oc);
}

/* ---- LRN ---- */

EML_TEST(lrn_window_over_channels)
{
    /* size 2: channel c sums c..c+1 (floor((2-1)/2) = 0 before, ceil(1/2) = 1 after) */
    const float x[] = {1, 2};
    eml_tensor t = tensor(EML_DTYPE_F32, x, 4, 1, 2, 1, 1);
    op_case oc;
    op_begin(&oc, "LRN", 1, 1, 1);
    attr_int(&oc, "size", 2);
    attr_float(&oc, "alpha", 2.0f);
    attr_float(&oc, "beta", 1.0f);
    attr_float(&oc, "bias", 1.0f);
    REQUIRE_OK(op_run(&oc, &t, 1, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){1.0 / 6.0, 0.4}, 2);
    op_end(&oc);

    /* defaults alpha 1e-4, beta 0.75, bias 1; size 3 centred */
    const double xd[] = {1, 2, 3};
    eml_tensor td = tensor(EML_DTYPE_F64, xd, 3, 1, 3, 1);
    op_begin(&oc, "LRN", 13, 1, 1);
    attr_int(&oc, "size", 3);
    REQUIRE_OK(op_run(&oc, &td, 1, NULL), &oc.diag);
    double s0 = 1 + 4, s1 = 1 + 4 + 9, s2 = 4 + 9;
    check_near(&oc.out[0],
               (const double[]){1 / pow(1 + 1e-4 / 3 * s0, 0.75), 2 / pow(1 + 1e-4 / 3 * s1, 0.75),
                                3 / pow(1 + 1e-4 / 3 * s2, 0.75)},
               3);
    op_end(&oc);

    op_begin(&oc, "LRN", 13, 1, 1);   /* size is required */
    CHECK_STATUS(op_prepare(&oc), EML_EGRAPH);
    op_end(&oc);

    op_begin(&oc, "LRN", 13, 1, 1);
    attr_int(&oc, "size", 0);
    CHECK_STATUS(op_prepare(&oc), EML_EGRAPH);
    op_end(&oc);

    const int32_t xi[] = {1, 2};
    eml_tensor ti = tensor(EML_DTYPE_I32, xi, 4, 1, 2, 1, 1);
    op_begin(&oc, "LRN", 13, 1, 1);
    attr_int(&oc, "size", 1);
    CHECK_STATUS(op_run(&oc, &ti, 1, NULL), EML_EUNSUPPORTED);
    op_end(&oc);
}

EML_TEST(op_table_agrees)
{
    check_op_table_agrees(pool_fns);
}
