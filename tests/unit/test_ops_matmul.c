/* Unit tests of Gemm, MatMul, MatMulInteger, QLinearMatMul and Einsum through their prepare,
 * infer and reference kernel, on small tensors with values from the ONNX spec and numpy. */
#include "kernels/ref/matmul.h"
#include "op_test_util.h"

/* The functions under test, named directly (ops.def names the same ones; see op_table_agrees). */
static const op_fns matmul_fns[] = {
    {"Gemm", eml__gemm_prepare, eml__gemm_infer, eml__ref_gemm},
    {"MatMul", eml__matmul_prepare, eml__matmul_infer, eml__ref_matmul},
    {"MatMulInteger", eml__matmul_prepare, eml__matmul_integer_infer, eml__ref_matmul_integer},
    {"QLinearMatMul", eml__matmul_prepare, eml__qlinear_matmul_infer, eml__ref_qlinear_matmul},
    {"Einsum", eml__einsum_prepare, eml__einsum_infer, eml__ref_einsum},
    {NULL},
};

static const op_fns *op_test_fns = matmul_fns;

/* ---- Gemm ---- */

EML_TEST(gemm_alpha_beta_vector_bias)
{
    const float a[] = {1, 2, 3, 4, 5, 6}, b[] = {1, -1, 0, 2, 3, 1}, c[] = {1, -2};
    eml_tensor in[3] = {tensor(EML_DTYPE_F32, a, 2, 2, 3), tensor(EML_DTYPE_F32, b, 2, 3, 2),
                        tensor(EML_DTYPE_F32, c, 1, 2)};
    op_case oc;
    op_begin(&oc, "Gemm", 13, 3, 1);
    attr_float(&oc, "alpha", 0.5f);
    attr_float(&oc, "beta", 2.0f);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    check_shape(&oc.out[0], 2, (const int64_t[]){2, 2});
    check_near(&oc.out[0], (const double[]){7, -1, 13, 2}, 4);
    CHECK(oc.macs == 2 * 2 * 3);
    op_end(&oc);
}

EML_TEST(gemm_transposes_column_bias_f64)
{
    /* A' = [[1,2,3],[4,5,6]] stored transposed, B' = [[1,-1],[0,2],[3,1]] stored transposed */
    const double a[] = {1, 4, 2, 5, 3, 6}, b[] = {1, 0, 3, -1, 2, 1}, c[] = {10, 20};
    eml_tensor in[3] = {tensor(EML_DTYPE_F64, a, 2, 3, 2), tensor(EML_DTYPE_F64, b, 2, 2, 3),
                        tensor(EML_DTYPE_F64, c, 2, 2, 1)};
    op_case oc;
    op_begin(&oc, "Gemm", 11, 3, 1);
    attr_int(&oc, "transA", 1);
    attr_int(&oc, "transB", 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){20, 16, 42, 32}, 4);
    op_end(&oc);
}

EML_TEST(gemm_no_bias_and_beta_zero_ignores_c)
{
    const float a[] = {1, 2, 3, 4, 5, 6}, b[] = {1, -1, 0, 2, 3, 1};
    const float c[] = {NAN};
    eml_tensor in[3] = {tensor(EML_DTYPE_F32, a, 2, 2, 3), tensor(EML_DTYPE_F32, b, 2, 3, 2),
                        tensor(EML_DTYPE_F32, c, 1, 1)};
    op_case oc;
    op_begin(&oc, "Gemm", 11, 2, 1);
    REQUIRE_OK(op_run(&oc, in, 2, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){10, 6, 22, 12}, 4);
    op_end(&oc);
    /* pytorch's mm exports beta = 0 with a dummy C (opset 6, broadcast = 1) */
    op_begin(&oc, "Gemm", 6, 3, 1);
    attr_float(&oc, "beta", 0.0f);
    attr_int(&oc, "broadcast", 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){10, 6, 22, 12}, 4);
    op_end(&oc);
}

EML_TEST(gemm_half_and_integer_types)
{
    uint16_t a[6], b[6], c[2];
    const float af[] = {1, 2, 3, 4, 5, 6}, bf[] = {1, -1, 0, 2, 3, 1}, cf[] = {1, -2};
    for (int i = 0; i < 6; i++) {
        a[i] = eml_f32_to_f16(af[i]);
        b[i] = eml_f32_to_f16(bf[i]);
    }
    for (int i = 0; i < 2; i++)
        c[i] = eml_f32_to_f16(cf[i]);
    eml_tensor in[3] = {tensor(EML_DTYPE_F16, a, 2, 2, 3), tensor(EML_DTYPE_F16, b, 2, 3, 2),
                        tensor(EML_DTYPE_F16, c, 1, 2)};
    op_case oc;
    op_begin(&oc, "Gemm", 13, 3, 1);
    attr_float(&oc, "alpha", 0.5f);
    attr_float(&oc, "beta", 2.0f);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_F16);
    check_near(&oc.out[0], (const double[]){7, -1, 13, 2}, 4);
    op_end(&oc);

    /* int32 products wrap like ONNX Runtime's: 2^30 * 4 + 1 = 1 (mod 2^32) */
    const int32_t ia[] = {1 << 30}, ib[] = {4}, ic[] = {1};
    eml_tensor ii[3] = {tensor(EML_DTYPE_I32, ia, 2, 1, 1), tensor(EML_DTYPE_I32, ib, 2, 1, 1),
                        tensor(EML_DTYPE_I32, ic, 0)};
    op_begin(&oc, "Gemm", 13, 3, 1);
    REQUIRE_OK(op_run(&oc, ii, 3, NULL), &oc.diag);
    CHECK(((int32_t *)oc.out[0].data)[0] == 1);
    op_end(&oc);
}

EML_TEST(gemm_transb_matches_naive)
{
    /* pytorch's Linear: Y = X W^T + b; K and N not multiples of the unrolling */
    enum { M = 5, K = 19, N = 11 };
    float x[M * K], w[N * K], bias[N];
    double want[M * N];
    for (int i = 0; i < M * K; i++)
        x[i] = eml_test_randf(-1, 1);
    for (int i = 0; i < N * K; i++)
        w[i] = eml_test_randf(-1, 1);
    for (int i = 0; i < N; i++)
        bias[i] = eml_test_randf(-1, 1);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = bias[j];
            for (int k = 0; k < K; k++)
                s += (double)x[i * K + k] * w[j * K + k];
            want[i * N + j] = s;
        }
    eml_tensor in[3] = {tensor(EML_DTYPE_F32, x, 2, M, K), tensor(EML_DTYPE_F32, w, 2, N, K),
                        tensor(EML_DTYPE_F32, bias, 1, N)};
    op_case oc;
    op_begin(&oc, "Gemm", 7, 3, 1);
    attr_int(&oc, "transB", 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    check_near(&oc.out[0], want, M * N);
    op_end(&oc);

    /* both transposed takes the strided path */
    float xt[K * M];
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++)
            xt[k * M + i] = x[i * K + k];
    in[0] = tensor(EML_DTYPE_F32, xt, 2, K, M);
    op_begin(&oc, "Gemm", 7, 3, 1);
    attr_int(&oc, "transA", 1);
    attr_int(&oc, "transB", 1);
    REQUIRE_OK(op_run(&oc, in, 3, NULL), &oc.diag);
    check_near(&oc.out[0], want, M * N);
    op_end(&oc);
}

EML_TEST(gemm_refuses_bad_attributes_and_shapes)
{
    op_case oc;
    op_begin(&oc, "Gemm", 13, 2, 1);
    attr_int(&oc, "transA", 2);
    CHECK_STATUS(op_prepare(&oc), EML_EGRAPH);
    op_end(&oc);

    op_begin(&oc, "Gemm", 13, 2, 1);
    attr_int(&oc, "broadcast", 1);   /* gone since opset 7 */
    CHECK_STATUS(op_prepare(&oc), EML_EUNSUPPORTED);
    CHECK(strstr(oc.diag.message, "broadcast") != NULL);
    op_end(&oc);

    const float d[24] = {0};
    op_begin(&oc, "Gemm", 13, 3, 1);
    REQUIRE_OK(op_prepare(&oc), &oc.diag);
    eml_tensor k_mismatch[2] = {tensor(EML_DTYPE_F32, d, 2, 2, 3),
                                tensor(EML_DTYPE_F32, d, 2, 4, 2)};
    CHECK_STATUS(op_infer(&oc, k_mismatch, 2), EML_ESHAPE);
    eml_tensor bad_c[3] = {tensor(EML_DTYPE_F32, d, 2, 2, 3), tensor(EML_DTYPE_F32, d, 2, 3, 2),
                           tensor(EML_DTYPE_F32, d, 1, 3)};
    CHECK_STATUS(op_infer(&oc, bad_c, 3), EML_ESHAPE);
    eml_tensor rank3[2] = {tensor(EML_DTYPE_F32, d, 3, 1, 2, 3), tensor(EML_DTYPE_F32, d, 2, 3, 2)};
    CHECK_STATUS(op_infer(&oc, rank3, 2), EML_ESHAPE);
    eml_tensor int8[2] = {tensor(EML_DTYPE_I8, d, 2, 2, 3), tensor(EML_DTYPE_I8, d, 2, 3, 2)};
    CHECK_STATUS(op_infer(&oc, int8, 2), EML_EUNSUPPORTED);
    eml_tensor mixed[2] = {tensor(EML_DTYPE_F32, d, 2, 2, 3), tensor(EML_DTYPE_F64, d, 2, 3, 2)};
    CHECK_STATUS(op_infer(&oc, mixed, 2), EML_ETYPE);
    op_end(&oc);
}

/* ---- MatMul ---- */

EML_TEST(matmul_one_dimensional_promotion)
{
    const float v[] = {1, 2, 3}, m32[] = {0, 1, 2, 3, 4, 5};
    op_case oc;
    eml_tensor vv[2] = {tensor(EML_DTYPE_F32, v, 1, 3), tensor(EML_DTYPE_F32, v, 1, 3)};
    op_begin(&oc, "MatMul", 13, 2, 1);
    REQUIRE_OK(op_run(&oc, vv, 2, NULL), &oc.diag);
    CHECK(oc.out[0].rank == 0);
    check_near(&oc.out[0], (const double[]){14}, 1);
    op_end(&oc);

    eml_tensor vm[2] = {tensor(EML_DTYPE_F32, v, 1, 3), tensor(EML_DTYPE_F32, m32, 2, 3, 2)};
    op_begin(&oc, "MatMul", 13, 2, 1);
    REQUIRE_OK(op_run(&oc, vm, 2, NULL), &oc.diag);
    check_shape(&oc.out[0], 1, (const int64_t[]){2});
    check_near(&oc.out[0], (const double[]){16, 22}, 2);
    op_end(&oc);

    eml_tensor mv[2] = {tensor(EML_DTYPE_F32, m32, 2, 2, 3), tensor(EML_DTYPE_F32, v, 1, 3)};
    op_begin(&oc, "MatMul", 1, 2, 1);
    REQUIRE_OK(op_run(&oc, mv, 2, NULL), &oc.diag);
    check_shape(&oc.out[0], 1, (const int64_t[]){2});
    check_near(&oc.out[0], (const double[]){8, 26}, 2);
    op_end(&oc);
}

/* Plain triple loop with numpy broadcasting of A [ba0, 1, M, K] by B [bb1, K, N], in double. */
static void naive_batched(const float *a, const float *b, double *y, int b0, int b1, int m, int k,
                          int n)
{
    for (int i0 = 0; i0 < b0; i0++)
        for (int i1 = 0; i1 < b1; i1++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int kk = 0; kk < k; kk++)
                        s += (double)a[(i0 * m + i) * k + kk] * b[(i1 * k + kk) * n + j];
                    y[((i0 * b1 + i1) * m + i) * n + j] = s;
                }
}

EML_TEST(matmul_batch_broadcast_and_threads_agree)
{
    enum { B0 = 2, B1 = 3, M = 37, K = 129, N = 71 };
    float *a = malloc(sizeof(float) * B0 * M * K), *b = malloc(sizeof(float) * B1 * K * N);
    double *ref = malloc(sizeof(double) * B0 * B1 * M * N);
    REQUIRE(a && b && ref);
    for (int i = 0; i < B0 * M * K; i++)
        a[i] = eml_test_randf(-1, 1);
    for (int i = 0; i < B1 * K * N; i++)
        b[i] = eml_test_randf(-1, 1);
    naive_batched(a, b, ref, B0, B1, M, K, N);
    /* float sums of K products may differ from the double reference by a few ulps of the sum of
     * their magnitudes, which matters where the products cancel: bound by that sum */
    float *aa = malloc(sizeof(float) * B0 * M * K), *ba = malloc(sizeof(float) * B1 * K * N);
    double *mag = malloc(sizeof(double) * B0 * B1 * M * N);
    REQUIRE(aa && ba && mag);
    for (int i = 0; i < B0 * M * K; i++)
        aa[i] = fabsf(a[i]);
    for (int i = 0; i < B1 * K * N; i++)
        ba[i] = fabsf(b[i]);
    naive_batched(aa, ba, mag, B0, B1, M, K, N);
    eml_tensor in[2] = {tensor(EML_DTYPE_F32, a, 4, B0, 1, M, K),
                        tensor(EML_DTYPE_F32, b, 3, B1, K, N)};
    op_case one, many;
    op_begin(&one, "MatMul", 13, 2, 1);
    REQUIRE_OK(op_run(&one, in, 2, NULL), &one.diag);
    check_shape(&one.out[0], 4, (const int64_t[]){B0, B1, M, N});
    for (int64_t i = 0; i < (int64_t)B0 * B1 * M * N; i++) {
        const double got = ((const float *)one.out[0].data)[i];
        if (fabs(got - ref[i]) > 1e-3 * fabs(ref[i]) + 1e-6 * mag[i]) {
            fprintf(stderr, "element %lld: %.9g, expected %.9g\n", (long long)i, got, ref[i]);
            CHECK(0);
            break;
        }
    }
    CHECK(one.macs == (uint64_t)B0 * B1 * M * N * K);

    eml_pool *pool = NULL;
    REQUIRE(eml__pool_create(one.env, 4, &pool) == EML_OK);
    op_begin(&many, "MatMul", 13, 2, 1);
    REQUIRE_OK(op_run(&many, in, 2, pool), &many.diag);
    /* split over rows only: bit-identical for any thread count */
    CHECK(memcmp(one.out[0].data, many.out[0].data, eml_tensor_bytes(&one.out[0])) == 0);
    eml__pool_destroy(pool);
    op_end(&many);
    op_end(&one);
    free(a);
    free(b);
    free(ref);
    free(aa);
    free(ba);
    free(mag);
}

EML_TEST(matmul_integer_and_half_types)
{
    /* uint32 arithmetic wraps: 2^31 * 2 = 0 */
    const uint32_t ua[] = {1u << 31, 1}, ub[] = {2, 5};
    eml_tensor u[2] = {tensor(EML_DTYPE_U32, ua, 2, 1, 2), tensor(EML_DTYPE_U32, ub, 2, 2, 1)};
    op_case oc;
    op_begin(&oc, "MatMul", 9, 2, 1);
    REQUIRE_OK(op_run(&oc, u, 2, NULL), &oc.diag);
    CHECK(((uint32_t *)oc.out[0].data)[0] == 5);
    op_end(&oc);

    const int64_t la[] = {-1, 2, 3, -4}, lb[] = {5, 6, 7, 8};
    eml_tensor l[2] = {tensor(EML_DTYPE_I64, la, 2, 2, 2), tensor(EML_DTYPE_I64, lb, 2, 2, 2)};
    op_begin(&oc, "MatMul", 13, 2, 1);
    REQUIRE_OK(op_run(&oc, l, 2, NULL), &oc.diag);
    const int64_t *ly = oc.out[0].data;
    CHECK(ly[0] == 9 && ly[1] == 10 && ly[2] == -13 && ly[3] == -14);
    op_end(&oc);

    uint16_t ha[4], hb[4];
    for (int i = 0; i < 4; i++) {
        ha[i] = eml_f32_to_bf16((float)la[i]);
        hb[i] = eml_f32_to_bf16((float)lb[i]);
    }
    eml_tensor h[2] = {tensor(EML_DTYPE_BF16, ha, 3, 1, 2, 2), tensor(EML_DTYPE_BF16, hb, 2, 2, 2)};
    op_begin(&oc, "MatMul", 13, 2, 1);
    REQUIRE_OK(op_run(&oc, h, 2, NULL), &oc.diag);
    CHECK(oc.scratch_bytes > 0);
    check_near(&oc.out[0], (const double[]){9, 10, -13, -14}, 4);
    op_end(&oc);
}

EML_TEST(matmul_empty_dims)
{
    const float d[1] = {0};
    /* K = 0: every output is an empty sum */
    eml_tensor in[2] = {tensor(EML_DTYPE_F32, d, 2, 2, 0), tensor(EML_DTYPE_F32, d, 2, 0, 3)};
    op_case oc;
    op_begin(&oc, "MatMul", 13, 2, 1);
    REQUIRE_OK(op_run(&oc, in, 2, NULL), &oc.diag);
    check_near(&oc.out[0], (const double[]){0, 0, 0, 0, 0, 0}, 6);
    op_end(&oc);
}

EML_TEST(matmul_refuses_bad_inputs)
{
    const float d[24] = {0};
    op_case oc;
    op_begin(&oc, "MatMul", 13, 2, 1);
    REQUIRE_OK(op_prepare(&oc), &oc.diag);
    eml_tensor scalar[2] = {tensor(EML_DTYPE_F32, d, 0), tensor(EML_DTYPE_F32, d, 1, 1)};
    CHECK_STATUS(op_infer(&oc, scalar, 2), EML_ESHAPE);
    eml_tensor inner[2] = {tensor(EML_DTYPE_F32, d, 2, 2, 3), tensor(EML_DTYPE_F32, d, 2, 2, 3)};
    CHECK_STATUS(op_infer(&oc, inner, 2), EML_ESHAPE);
    eml_tensor batch[2] = {tensor(EML_DTYPE_F32, d, 3, 2, 1, 3),
                           tensor(EML_DTYPE_F32, d, 3, 3, 3, 1)};
    CHECK_STATUS(op_infer(&oc, batch, 2), EML_ESHAPE);
    eml_tensor boolean[2] = {tensor(EML_DTYPE_BOOL, d, 1, 2), tensor(EML_DTYPE_BOOL, d, 1, 2)};
    CHECK_STATUS(op_infer(&oc, boolean, 2), EML_EUNSUPPORTED);
    op_end(&oc);

    op_begin(&oc, "MatMul", 13, 2, 1);
    attr_int(&oc, "transA", 1);
    CHECK_STATUS(op_prepare(&oc), EML_EUNSUPPORTED);
    op_end(&oc);
}

/* ---- MatMulInteger and QLinearMatMul ---- */

EML_TEST(matmul_integer_backend_case)
{
    /* ONNX backend test test_matmulinteger */
    const uint8_t a[] = {11, 7, 3, 10, 6, 2, 9, 5, 1, 8, 4, 0}, b[] = {1, 4, 2, 5, 3, 6};
    const uint8_t azp[] = {12}, bzp[] = {0};
    eml_tensor in[4] = {tensor(EML_DTYPE_U8, a, 2, 4, 3), tensor(EML_DTYPE_U8, b, 2, 3, 2),
                        tensor(EML_DTYPE_U8, azp, 1, 1), tensor(EML_DTYPE_U8, bzp, 1, 1)};
    op_case oc;
    op_begin(&oc, "MatMulInteger", 10, 4, 1);
    REQUIRE_OK(op_run(&oc, in, 4, NULL), &oc.diag);
    CHECK(oc.out[0].dtype == EML_DTYPE_I32);
    const int32_t want[] = {-38, -83, -44, -98, -50, -113, -56, -128};
    CHECK(memcmp(oc.out[0].data, want, sizeof(want)) == 0);
    op_end(&oc);
}

EML_TEST(matmul_integer_row_and_column_zero_points)
{
    const uint8_t a[] = {1, 2, 3, 4}, azp[] = {1, 2};
    const int8_t b[] = {5, 6, 7, 8, 9, 10}, bzp[] = {1, 2, 3};
    eml_tensor in[4] = {tensor(EML_DTYPE_U8, a, 2, 2, 2), tensor(EML_DTYPE_I8, b, 2, 2, 3),
                        tensor(EML_DTYPE_U8, azp, 1, 2), tensor(EML_DTYPE_I8, bzp, 1, 3)};
    op_case oc;
    op_begin(&oc, "MatMulInteger", 10, 4, 1);
    REQUIRE_OK(op_run(&oc, in, 4, NULL), &oc.diag);
    const int32_t want[] = {7, 7, 7, 18, 18, 18};
    CHECK(memcmp(oc.out[0].data, want, sizeof(want)) == 0);
    op_end(&oc);

    /* only b's zero point given, a's omitted */
    eml_tensor only_b[4] = {in[0], in[1], absent, in[3]};
    op_begin(&oc, "MatMulInteger", 10, 4, 1);
    REQUIRE_OK(op_run(&oc, only_b, 4, NULL), &oc.diag);
    const int32_t want_b[] = {18, 18, 18, 40, 40, 40};
    CHECK(memcmp(oc.out[0].data, want_b, sizeof(want_b)) == 0);
    op_end(&oc);

    /* a zero point of 3 elements fits neither per tensor nor per row */
    const uint8_t azp3[] = {1, 2, 3};
    eml_tensor bad[4] = {in[0], in[1], tensor(EML_DTYPE_U8, azp3, 1, 3), in[3]};
    op_begin(&oc, "MatMulInteger", 10, 4, 1);
    CHECK_STATUS(op_run(&oc, bad, 4, NULL), EML_ESHAPE);
    op_end(&oc);
    eml_tensor floats[2] = {tensor(EML_DTYPE_F32, a, 1, 1), tensor(EML_DTYPE_F32, a, 1, 1)};
    op_begin(&oc, "MatMulInteger", 10, 2, 1);
    CHECK_STATUS(op_run(&oc, floats, 2, NULL), EML_EUNSUPPORTED);
    op_end(&oc);
}

EML_TEST(qlinear_matmul_backend_case)
{
    /* ONNX backend test test_qlinearmatmul_2D */
    const uint8_t a[] = {208, 236, 0, 238, 3, 214, 255, 29};
    const uint8_t b[] = {152, 51, 244, 60, 26, 255, 0, 127, 246, 127, 254, 247};
    const float as[] = {0.0066f}, bs[] = {0.00705f}, ys[] = {0.0107f};
    const uint8_t az[] = {113}, bz[] = {114}, yz[] = {118};
    eml_tensor in[8] = {tensor(EML_DTYPE_U8, a, 2, 2, 4),   tensor(EML_DTYPE_F32, as, 1, 1),
                        tensor(EML_DTYPE_U8, az, 1, 1),     tensor(EML_DTYPE_U8, b, 2, 4, 3),
                        tensor(EML_DTYPE_F32, bs, 1, 1),    tensor(EML_DTYPE_U8, bz, 1, 1),
                        tensor(EML_DTYPE_F32, ys, 1, 1),    tensor(EML_DTYPE_U8, yz, 1, 1)};
    op_case oc;
    op_begin(&oc, "QLinearMatMul", 10, 8, 1);
    REQUIRE_OK(op_run(&oc, in, 8, NULL), &oc.diag);
    const uint8_t want[] = {168, 115, 255, 1, 66, 151};
    CHECK(oc.out[0].dtype == EML_DTYPE_U8);
    CHECK(memcmp(oc.out[0].data, want, sizeof(want)) == 0);
    op_end(&oc);

    /* an output scale per row is not supported */
    const float ys2[] = {0.0107f, 0.0107f};
    const uint8_t yz2[] = {118, 118};
    in[6] = tensor(EML_DTYPE_F32, ys2, 2, 2, 1);
    in[7] = tensor(EML_DTYPE_U8, yz2, 2, 2, 1);
    op_begin(&oc, "QLinearMatMul", 10, 8, 1);
    CHECK_STATUS(op_run(&oc, in, 8, NULL), EML_EUNSUPPORTED);
    op_end(&oc);
}

EML_TEST(qlinear_matmul_per_column_int8)
{
    /* acc = (a - 1) @ (b - [0, 2]); y = rint(acc * 0.5 * bs[j] / 0.25) - 5, saturated to int8 */
    const int8_t a[] = {3, -1}, b[] = {10, 20, -30, 40};
    const float as[] = {0.5f}, bs[] = {1.0f, 2.0f}, ys[] = {0.25f};
    const int8_t az[] = {1}, bz[] = {0, 2}, yz[] = {-5};
    eml_tensor in[8] = {tensor(EML_DTYPE_I8, a, 2, 1, 2),  tensor(EML_DTYPE_F32, as, 0),
                        tensor(EML_DTYPE_I8, az, 0),       tensor(EML_DTYPE_I8, b, 2, 2, 2),
                        tensor(EML_DTYPE_F32, bs, 1, 2),   tensor(EML_DTYPE_I8, bz, 1, 2),
                        tensor(EML_DTYPE_F32, ys, 0),      tensor(EML_DTYPE_I8, yz, 0)};
    op_case oc;
    op_begin(&oc, "QLinearMatMul", 10, 8, 1);
    REQUIRE_OK(op_run(&oc, in, 8, NULL), &oc.diag);
    /* acc = [2*10 + -2*-30, 2*18 + -2*38] = [80, -40]; y = [80*2 - 5, -40*4 - 5] */
    const int8_t *y = oc.out[0].data;
    CHECK(y[0] == 127 && y[1] == -128);
    op_end(&oc);
}

/* ---- Einsum ---- */

static void einsum_check(const char *equation, const eml_tensor *in, int n_in, int out_rank,
                         const int64_t *out_dims, const double *want)
{
    op_case oc;
    op_begin(&oc, "Einsum", 12, n_in, 1);
    attr_string(&oc, "equation", equation);
    eml_status st = op_run(&oc, in, n_in, NULL);
    if (st != EML_OK)
        fprintf(stderr, "%s: %s\n", equation, oc.diag.message);
    CHECK(st == EML_OK);
    if (st == EML_OK) {
        CHECK(oc.out[0].dtype == in[0].dtype);
        check_shape(&oc.out[0], out_rank, out_dims);
        check_near(&oc.out[0], want, eml_tensor_count(&oc.out[0]));
    }
    op_end(&oc);
}

EML_TEST(einsum_forms)
{
    float x[18], p[12], q[12];
    for (int i = 0; i < 18; i++)
        x[i] = (float)i;
    for (int i = 0; i < 12; i++)
        p[i] = q[i] = (float)i;
    /* batch diagonal with spaces (the backend test's equation) */
    eml_tensor diag[1] = {tensor(EML_DTYPE_F32, x, 3, 2, 3, 3)};
    einsum_check("...ii ->...i", diag, 1, 2, (const int64_t[]){2, 3},
                 (const double[]){0, 4, 8, 9, 13, 17});
    /* implicit output: letters seen once, sorted: 'kj,ji' -> 'ik' */
    eml_tensor mm[2] = {tensor(EML_DTYPE_F32, p, 2, 2, 3), tensor(EML_DTYPE_F32, q, 2, 3, 4)};
    einsum_check("kj,ji", mm, 2, 2, (const int64_t[]){4, 2},
                 (const double[]){20, 56, 23, 68, 26, 80, 29, 92});
    /* ellipsis dims broadcast numpy-style: [2,1] with [4] -> [2,4] */
    eml_tensor ell[2] = {tensor(EML_DTYPE_F32, p, 3, 2, 1, 3), tensor(EML_DTYPE_F32, q, 2, 4, 3)};
    einsum_check("...j,...j->...", ell, 2, 2, (const int64_t[]){2, 4},
                 (const double[]){5, 14, 23, 32, 14, 50, 86, 122});
    /* full reduction and transpose */
    eml_tensor one[1] = {tensor(EML_DTYPE_F32, p, 2, 3, 4)};
    einsum_check("ij->", one, 1, 0, NULL, (const double[]){66});
    einsum_check("ij->ji", one, 1, 2, (const int64_t[]){4, 3},
                 (const double[]){0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11});
}

EML_TEST(einsum_three_integer_operands)
{
    const int32_t a[] = {0, 1, 2, 3, 4, 5}, c[] = {1, -1, 2, 0};
    int32_t b[12];
    for (int i = 0; i < 12; i++)
        b[i] = i;
    eml_tensor in[3] = {tensor(EML_DTYPE_I32, a, 2, 2, 3), tensor(EML_DTYPE_I32, b, 2, 3, 4),
                        tensor(EML_DTYPE_I32, c, 1, 4)};
    einsum_check("ij,jk,k->i", in, 3, 1, (const int64_t[]){2}, (const double[]){49, 148});
    /* uint8 sums wrap: 200 + 100 = 44 (mod 256) */
    const uint8_t u[] = {200, 100};
    eml_tensor us[1] = {tensor(EML_DTYPE_U8, u, 1, 2)};
    einsum_check("i->", us, 1, 0, NULL, (const double[]){44});
}

EML_TEST(einsum_refuses_bad_equations_and_shapes)
{
    static const char *const bad[] = {"ij->k", "i.j->i", "ij->i->j", "ij->ii", "i+j", "ij,jk"};
    const float d[12] = {0};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        op_case oc;
        op_begin(&oc, "Einsum", 12, 1, 1);
        attr_string(&oc, "equation", bad[i]);
        eml_status st = op_prepare(&oc);
        if (st != EML_EGRAPH)
            fprintf(stderr, "equation '%s' gave %s\n", bad[i], eml_status_name(st));
        CHECK(st == EML_EGRAPH);
        op_end(&oc);
    }
    op_case oc;
    op_begin(&oc, "Einsum", 12, 1, 1);
    CHECK_STATUS(op_prepare(&oc), EML_EGRAPH);   /* no equation */
    op_end(&oc);

    op_begin(&oc, "Einsum", 12, 2, 1);
    attr_string(&oc, "equation", "ij,jk->ik");
    REQUIRE_OK(op_prepare(&oc), &oc.diag);
    eml_tensor mismatch[2] = {tensor(EML_DTYPE_F32, d, 2, 2, 3), tensor(EML_DTYPE_F32, d, 2, 4, 2)};
    CHECK_STATUS(op_infer(&oc, mismatch, 2), EML_ESHAPE);
    eml_tensor rank[2] = {tensor(EML_DTYPE_F32, d, 1, 2), tensor(EML_DTYPE_F32, d, 2, 2, 2)};
    CHECK_STATUS(op_infer(&oc, rank, 2), EML_ESHAPE);
    eml_tensor types[2] = {tensor(EML_DTYPE_F32, d, 2, 2, 2), tensor(EML_DTYPE_I32, d, 2, 2, 2)};
    CHECK_STATUS(op_infer(&oc, types, 2), EML_ETYPE);
    eml_tensor boolean[2] = {tensor(EML_DTYPE_BOOL, d, 2, 2, 2),
                             tensor(EML_DTYPE_BOOL, d, 2, 2, 2)};
    CHECK_STATUS(op_infer(&oc, boolean, 2), EML_EUNSUPPORTED);
    op_end(&oc);
}

EML_TEST(op_table_agrees)
{
    check_op_table_agrees(matmul_fns);
}
