/* BatchNormalization (every opset form, training mode), InstanceNormalization and
 * LayerNormalization: prepare, infer and the reference kernels against numpy, and refusals. */
#include "kernels/ref/norm.h"
#include "op_test_util.h"

/* [2,2,2,2], shared by the cases below */
static const float nx[16] = {-1, 0, 1, 2, 3, 4, 5, 6, 0.5f, -0.5f, 2, 4, 1, 1, 1, 7};
static const float n_scale[2] = {1.5f, 0.5f}, n_bias[2] = {0.1f, -0.2f};
static const float n_mean[2] = {0.5f, 2.0f}, n_var[2] = {1.0f, 4.0f};

static void bn_inputs(eml_tensor *ins)
{
    ins[0] = tens(EML_DTYPE_F32, nx, 4, DIMS(2, 2, 2, 2));
    ins[1] = tens(EML_DTYPE_F32, n_scale, 1, DIMS(2));
    ins[2] = tens(EML_DTYPE_F32, n_bias, 1, DIMS(2));
    ins[3] = tens(EML_DTYPE_F32, n_mean, 1, DIMS(2));
    ins[4] = tens(EML_DTYPE_F32, n_var, 1, DIMS(2));
}

EML_TEST(batchnorm_inference_every_opset)
{
    static const double want[16] = {
        -2.14998875, -0.64999625, 0.84999625, 2.34998875, 0.049999688, 0.299999375,
        0.549999063, 0.79999875,  0.1,        -1.3999925, 2.34998875,  5.34997375,
        -0.449999688, -0.449999688, -0.449999688, 1.049998438};
    const int32_t opsets[] = {1, 6, 7, 9, 14, 15};
    for (size_t o = 0; o < sizeof(opsets) / sizeof(opsets[0]); o++) {
        op_case r;
        op_begin(&r, "BatchNormalization", opsets[o], 5, 1);
        if (opsets[o] < 7)
            attr_int(&r, "is_test", opsets[o] == 6); /* read as inference either way */
        if (opsets[o] == 1) {
            eml_attr *a = new_attr(&r, "consumed_inputs", EML_ATTR_INTS);
            a->ints = eml__calloc(r.env, 1, sizeof(int64_t));
        }
        REQUIRE_OK(op_prepare(&r), &r.diag);
        eml_tensor ins[5];
        bn_inputs(ins);
        REQUIRE_OK(op_exec(&r, ins, 5), &r.diag);
        check_shape(&r.out[0], 4, DIMS(2, 2, 2, 2));
        check_f32(&r.out[0], want, 16);
        op_end(&r);
    }
}

EML_TEST(batchnorm_training_mode)
{
    op_case r;
    op_begin(&r, "BatchNormalization", 15, 5, 3);
    attr_int(&r, "training_mode", 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor ins[5];
    bn_inputs(ins);
    REQUIRE_OK(op_exec(&r, ins, 5), &r.diag);
    check_f32(&r.out[0],
              (const double[]){-1.872783582, -0.886391791, 0.1, 1.086391791, -0.311803287,
                               -0.088196713, 0.135409861, 0.359016435, -0.393195896,
                               -1.379587687, 1.086391791, 3.059175373, -0.759016435,
                               -0.759016435, -0.759016435, 0.58262301},
              16);
    check_shape(&r.out[1], 1, DIMS(2));
    check_f32(&r.out[1], (const double[]){0.55, 2.15}, 2);
    check_f32(&r.out[2], (const double[]){1.13125, 4.1}, 2);
    op_end(&r);
}

EML_TEST(batchnorm_spatial0_rank1_and_mixed_types)
{
    /* spatial=0 (opset 7): one parameter per element of X.shape[1:] */
    float sp[8], bp[8], mp[8], vp[8];
    for (int i = 0; i < 8; i++) {
        sp[i] = 0.5f + 1.5f * (float)i / 7.0f;
        bp[i] = -1.0f + 2.0f * (float)i / 7.0f;
        mp[i] = 0.2f * (float)i;
        vp[i] = 1.0f + 2.0f * (float)i / 7.0f;
    }
    op_case r;
    op_begin(&r, "BatchNormalization", 7, 5, 1);
    attr_int(&r, "spatial", 0);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor ins[5];
    bn_inputs(ins);
    ins[1] = tens(EML_DTYPE_F32, sp, 3, DIMS(2, 2, 2));
    ins[2] = tens(EML_DTYPE_F32, bp, 3, DIMS(2, 2, 2));
    ins[3] = tens(EML_DTYPE_F32, mp, 3, DIMS(2, 2, 2));
    ins[4] = tens(EML_DTYPE_F32, vp, 3, DIMS(2, 2, 2));
    REQUIRE_OK(op_exec(&r, ins, 5), &r.diag);
    check_f32(&r.out[0],
              (const double[]){-1.4999975, -0.840273382, 0.015873405, 1.031218713, 2.182483536,
                               3.453670241, 4.833050482, 6.311613624, -0.75000125, -1.155242551,
                               0.756614796, 2.708469936, 0.328277724, 0.428571429, 0.497508621,
                               7.466312238},
              16);
    /* per-channel parameters are now the wrong size */
    bn_inputs(ins);
    CHECK_STATUS(op_exec(&r, ins, 5), EML_ESHAPE);
    op_end(&r);

    /* a 1-D X is one channel; opset 15 lets mean/var be float64 under float32 X */
    op_begin(&r, "BatchNormalization", 15, 5, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    float x1[] = {1, 2, 3, 4}, s1 = 2, b1 = 1;
    double m1 = 0.5, v1 = 2;
    ins[0] = tens(EML_DTYPE_F32, x1, 1, DIMS(4));
    ins[1] = tens(EML_DTYPE_F32, &s1, 1, DIMS(1));
    ins[2] = tens(EML_DTYPE_F32, &b1, 1, DIMS(1));
    ins[3] = tens(EML_DTYPE_F64, &m1, 1, DIMS(1));
    ins[4] = tens(EML_DTYPE_F64, &v1, 1, DIMS(1));
    REQUIRE_OK(op_exec(&r, ins, 5), &r.diag);
    check_f32(&r.out[0], (const double[]){1.707105013, 3.12131504, 4.535525067, 5.949735094}, 4);
    op_end(&r);
}

EML_TEST(batchnorm_refusals)
{
    op_case r;
    /* training outputs before opset 14 */
    op_begin(&r, "BatchNormalization", 9, 5, 5);
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    CHECK(strstr(r.diag.message, "training") != NULL);
    op_end(&r);
    /* running stats without training_mode */
    op_begin(&r, "BatchNormalization", 15, 5, 3);
    CHECK_STATUS(op_prepare(&r), EML_EGRAPH);
    op_end(&r);
    /* attributes of other opsets */
    op_begin(&r, "BatchNormalization", 9, 5, 1);
    attr_int(&r, "spatial", 1);
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    op_end(&r);
    op_begin(&r, "BatchNormalization", 9, 5, 1);
    attr_int(&r, "training_mode", 1);
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    op_end(&r);
    /* integer X; float64 params under float32 X before opset 14 */
    op_begin(&r, "BatchNormalization", 9, 5, 1);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor ins[5];
    bn_inputs(ins);
    int32_t xi[16] = {0};
    ins[0] = tens(EML_DTYPE_I32, xi, 4, DIMS(2, 2, 2, 2));
    CHECK_STATUS(op_exec(&r, ins, 5), EML_EUNSUPPORTED);
    bn_inputs(ins);
    double md[2] = {0, 0};
    ins[3] = tens(EML_DTYPE_F64, md, 1, DIMS(2));
    CHECK_STATUS(op_exec(&r, ins, 5), EML_EUNSUPPORTED);
    op_end(&r);
}

EML_TEST(instancenorm_values_and_refusals)
{
    op_case r;
    op_begin(&r, "InstanceNormalization", 6, 3, 1);
    attr_float(&r, "epsilon", 0.01f);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor ins[3] = {tens(EML_DTYPE_F32, nx, 4, DIMS(2, 2, 2, 2)),
                         tens(EML_DTYPE_F32, n_scale, 1, DIMS(2)),
                         tens(EML_DTYPE_F32, n_bias, 1, DIMS(2))};
    REQUIRE_OK(op_exec(&r, ins, 3), &r.diag);
    check_f32(&r.out[0],
              (const double[]){-1.904459314, -0.568153105, 0.768153105, 2.104459314, -0.868153105,
                               -0.422717702, 0.022717702, 0.468153105, -0.783117214,
                               -1.666234428, 0.541558607, 2.307793035, -0.488461538,
                               -0.488461538, -0.488461538, 0.665384615},
              16);
    /* scale of the wrong size, X without channels, integer X */
    ins[1] = tens(EML_DTYPE_F32, n_scale, 1, DIMS(1));
    CHECK_STATUS(op_exec(&r, ins, 3), EML_ESHAPE);
    ins[1] = tens(EML_DTYPE_F32, n_scale, 1, DIMS(2));
    ins[0] = tens(EML_DTYPE_F32, nx, 1, DIMS(16));
    CHECK_STATUS(op_exec(&r, ins, 3), EML_ESHAPE);
    int64_t xi[16] = {0};
    ins[0] = tens(EML_DTYPE_I64, xi, 4, DIMS(2, 2, 2, 2));
    CHECK_STATUS(op_exec(&r, ins, 3), EML_EUNSUPPORTED);
    op_end(&r);
    op_begin(&r, "InstanceNormalization", 6, 3, 1);
    attr_int(&r, "consumed_inputs", 0);
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    op_end(&r);
}

EML_TEST(layernorm_axes_outputs_and_broadcast)
{
    float w[8], b[8];
    for (int i = 0; i < 8; i++) {
        w[i] = 0.5f + 1.5f * (float)i / 7.0f;
        b[i] = -1.0f + 2.0f * (float)i / 7.0f;
    }
    op_case r;
    /* default axis -1 on [2,8], with Mean and InvStdDev */
    op_begin(&r, "LayerNormalization", 17, 3, 3);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    eml_tensor ins[3] = {tens(EML_DTYPE_F32, nx, 2, DIMS(2, 8)), tens(EML_DTYPE_F32, w, 1, DIMS(8)),
                         tens(EML_DTYPE_F32, b, 1, DIMS(8))};
    REQUIRE_OK(op_exec(&r, ins, 3), &r.diag);
    check_f32(&r.out[0],
              (const double[]){-1.763761888, -1.49363458, -1.036463544, -0.39224878, 0.439009712,
                               1.457311931, 2.662657879, 4.055047554, -1.333333004, -1.507935724,
                               -0.428571429, 0.87301487, -0.460316865, -0.26984058, -0.079364296,
                               5.444440055},
              16);
    check_shape(&r.out[1], 2, DIMS(2, 1));
    check_f32(&r.out[1], (const double[]){2.5, 2.0}, 2);
    check_f32(&r.out[2], (const double[]){0.436435365, 0.444444005}, 2);
    op_end(&r);

    /* axis 1 of [2,2,4] without B, scale [2,4] */
    op_begin(&r, "LayerNormalization", 17, 2, 3);
    attr_int(&r, "axis", 1);
    attr_float(&r, "epsilon", 0.1f);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    ins[0] = tens(EML_DTYPE_F32, nx, 3, DIMS(2, 2, 4));
    ins[1] = tens(EML_DTYPE_F32, w, 2, DIMS(2, 4));
    REQUIRE_OK(op_exec(&r, ins, 2), &r.diag);
    check_f32(&r.out[0],
              (const double[]){-0.756590977, -0.772031609, -0.602184655, -0.247050115,
                               0.293372012, 1.019081724, 1.930079023, 3.026363908, -0.330089136,
                               -0.785926515, 0., 1.005985939, -0.597304151, -0.691615333,
                               -0.785926515, 4.401188481},
              16);
    check_shape(&r.out[2], 3, DIMS(2, 1, 1));
    check_f32(&r.out[2], (const double[]){0.432337701, 0.440118848}, 2);
    op_end(&r);

    /* axis 0 (one row), one-element scale and bias broadcast */
    op_begin(&r, "LayerNormalization", 17, 3, 1);
    attr_int(&r, "axis", -3);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    float two = 2.0f, half = 0.5f;
    ins[1] = tens(EML_DTYPE_F32, &two, 1, DIMS(1));
    ins[2] = tens(EML_DTYPE_F32, &half, 0, NULL);
    REQUIRE_OK(op_exec(&r, ins, 3), &r.diag);
    check_f32(&r.out[0],
              (const double[]){-2.345310681, -1.469830471, -0.594350262, 0.281129948,
                               1.156610157, 2.032090367, 2.907570576, 3.783050786, -1.032090367,
                               -1.907570576, 0.281129948, 2.032090367, -0.594350262,
                               -0.594350262, -0.594350262, 4.658530995},
              16);
    /* scale neither one value nor one per row element; axis past the rank */
    ins[1] = tens(EML_DTYPE_F32, w, 1, DIMS(4));
    CHECK_STATUS(op_exec(&r, ins, 3), EML_ESHAPE);
    op_end(&r);
    op_begin(&r, "LayerNormalization", 17, 2, 1);
    attr_int(&r, "axis", 4);
    REQUIRE_OK(op_prepare(&r), &r.diag);
    ins[1] = tens(EML_DTYPE_F32, w, 1, DIMS(1));
    CHECK_STATUS(op_exec(&r, ins, 2), EML_ESHAPE);
    op_end(&r);
    op_begin(&r, "LayerNormalization", 17, 2, 1);
    attr_int(&r, "stash_type", 16);
    CHECK_STATUS(op_prepare(&r), EML_EUNSUPPORTED);
    CHECK(strstr(r.diag.message, "stash_type") != NULL);
    op_end(&r);
}
