/* Unit tests of Resize and Upsample: prepare/infer/kernel on small tensors with expected values
 * from ONNX's backend tests and its reference implementation, and the refusals. */
#include <math.h>
#include <string.h>

#include "graph/graph.h"
#include "harness.h"
#include "kernels/ref/resize.h"

/* ---- a one-node fixture ---- */

typedef struct fixture {
    eml_env *env;
    eml_graph *g;
    eml_node *node;
    eml_op_id op;
    int32_t opset;
    _Alignas(64) unsigned char params[EML_PARAMS_MAX];
    eml_diag diag;
    eml_tensor out;
    _Alignas(64) unsigned char out_data[4096];
    _Alignas(64) unsigned char scratch[8192];
} fixture;

static void fx_init(fixture *f, const char *op, int32_t opset, int32_t n_inputs)
{
    memset(f, 0, sizeof(*f));
    REQUIRE_OK(eml_env_create(NULL, &f->env), NULL);
    REQUIRE_OK(eml__graph_create(f->env, NULL, &f->g), NULL);
    REQUIRE_OK(eml__graph_add_node(f->g, "node0", op, "", n_inputs, 1, 8, &f->node), NULL);
    f->node->n_attrs = 0; /* attributes are appended by fx_attr_* */
    f->op = eml__op_find("", op);
    REQUIRE(f->op != EML_OP_UNKNOWN);
    f->opset = opset;
    eml_diag_init(&f->diag);
}

static void fx_deinit(fixture *f)
{
    eml_graph_destroy(f->g);
    eml_env_destroy(f->env);
}

static eml_attr *fx_attr(fixture *f, const char *name, eml_attr_type type)
{
    eml_attr *a = &f->node->attrs[f->node->n_attrs++];
    a->name = eml__strdup(f->env, name);
    a->type = type;
    REQUIRE(a->name != NULL);
    return a;
}

static void fx_attr_s(fixture *f, const char *name, const char *v)
{
    eml_attr *a = fx_attr(f, name, EML_ATTR_STRING);
    a->s = eml__strdup(f->env, v);
    REQUIRE(a->s != NULL);
    a->s_len = strlen(v);
}

static void fx_attr_f(fixture *f, const char *name, float v)
{
    fx_attr(f, name, EML_ATTR_FLOAT)->f = v;
}

static void fx_attr_i(fixture *f, const char *name, int64_t v)
{
    fx_attr(f, name, EML_ATTR_INT)->i = v;
}

static void fx_attr_floats(fixture *f, const char *name, const float *v, size_t n)
{
    eml_attr *a = fx_attr(f, name, EML_ATTR_FLOATS);
    a->floats = eml__alloc(f->env, n * sizeof(float));
    REQUIRE(a->floats != NULL);
    memcpy(a->floats, v, n * sizeof(float));
    a->count = n;
}

/* The family's functions, named directly; the op table must point at them. */
static eml_status fx_prepare(fixture *f)
{
    const eml_op_info *info = eml__op_info(f->op);
    REQUIRE(info->prepare == eml__resize_prepare && info->infer == eml__resize_infer &&
            info->kernel == eml__ref_resize);
    eml_prepare_ctx ctx = {f->node, f->op, f->opset, f->params, &f->diag};
    return eml__resize_prepare(&ctx);
}

static eml_status fx_infer(fixture *f, const eml_tensor *inputs, int32_t n_inputs,
                           size_t *scratch_bytes)
{
    memset(&f->out, 0, sizeof(f->out));
    eml_infer_ctx ctx = {.params = f->params,
                         .op = f->op,
                         .opset = f->opset,
                         .node_name = "node0",
                         .inputs = inputs,
                         .n_inputs = n_inputs,
                         .outputs = &f->out,
                         .n_outputs = 1,
                         .diag = &f->diag};
    eml_status st = eml__resize_infer(&ctx);
    *scratch_bytes = ctx.scratch_bytes;
    return st;
}

/* Infers, then runs the kernel into f->out (data in f->out_data). */
static eml_status fx_run(fixture *f, const eml_tensor *inputs, int32_t n_inputs)
{
    size_t scratch_bytes;
    eml_status st = fx_infer(f, inputs, n_inputs, &scratch_bytes);
    if (st != EML_OK)
        return st;
    REQUIRE(scratch_bytes <= sizeof(f->scratch));
    REQUIRE(eml_tensor_bytes(&f->out) <= sizeof(f->out_data));
    f->out.data = f->out_data;
    eml_kernel_ctx ctx = {.params = f->params,
                          .inputs = inputs,
                          .n_inputs = n_inputs,
                          .outputs = &f->out,
                          .n_outputs = 1,
                          .scratch = f->scratch,
                          .scratch_bytes = scratch_bytes,
                          .diag = &f->diag};
    return eml__ref_resize(&ctx);
}

static eml_tensor tensor(eml_dtype dt, int rank, const int64_t *dims, const void *data)
{
    eml_tensor t = {.dtype = dt, .rank = rank, .data = (void *)data};
    for (int i = 0; i < rank; i++)
        t.dims[i] = dims[i];
    return t;
}

static eml_tensor vec(eml_dtype dt, int64_t n, const void *data)
{
    return tensor(dt, 1, &n, data);
}

static const eml_tensor omitted = {.dtype = EML_DTYPE_UNDEFINED};

static void check_dims(const eml_tensor *t, int rank, const int64_t *dims)
{
    CHECK(t->rank == rank);
    for (int i = 0; i < rank && i < t->rank; i++)
        CHECK(t->dims[i] == dims[i]);
}

static void check_f32(const eml_tensor *t, const float *want, int64_t n)
{
    REQUIRE(t->dtype == EML_DTYPE_F32 && eml_tensor_count(t) == n);
    const float *y = t->data;
    for (int64_t i = 0; i < n; i++) {
        bool ok = fabs((double)y[i] - want[i]) <= 1e-5 + 1e-5 * fabs(want[i]);
        if (!ok)
            fprintf(stderr, "[%lld]: got %.9g want %.9g\n", (long long)i, y[i], want[i]);
        CHECK(ok);
    }
}

static const float seq16[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const int64_t dims1144[4] = {1, 1, 4, 4};

/* Runs Resize-13 on X = seq16 as [1,1,4,4] with the given attributes set by the caller. */
static void run_4x4(fixture *f, const float *scales, const int64_t *sizes)
{
    eml_tensor in[4] = {tensor(EML_DTYPE_F32, 4, dims1144, seq16), omitted, omitted, omitted};
    if (scales)
        in[2] = vec(EML_DTYPE_F32, 4, scales);
    if (sizes)
        in[3] = vec(EML_DTYPE_I64, 4, sizes);
    REQUIRE_OK(fx_prepare(f), &f->diag);
    REQUIRE_OK(fx_run(f, in, 4), &f->diag);
}

/* ---- the modes, against ONNX's backend test data ---- */

EML_TEST(nearest_upsample_scales)
{
    /* test_resize_upsample_scales_nearest */
    const float x[4] = {1, 2, 3, 4}, scales[4] = {1, 1, 2, 3};
    const int64_t dims[4] = {1, 1, 2, 2}, out_dims[4] = {1, 1, 4, 6};
    eml_tensor in[3] = {tensor(EML_DTYPE_F32, 4, dims, x), omitted, vec(EML_DTYPE_F32, 4, scales)};
    fixture f;
    fx_init(&f, "Resize", 13, 3);
    fx_attr_s(&f, "mode", "nearest");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    check_dims(&f.out, 4, out_dims);
    const float want[24] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
    check_f32(&f.out, want, 24);
    fx_deinit(&f);
}

EML_TEST(nearest_modes)
{
    /* test_resize_upsample_sizes_nearest_ceil_half_pixel and ..._round_prefer_ceil_asymmetric:
     * the same expected output */
    const float want[64] = {1,  2,  2,  3,  3,  4,  4,  4,  5,  6,  6,  7,  7,  8,  8,  8,
                            5,  6,  6,  7,  7,  8,  8,  8,  9,  10, 10, 11, 11, 12, 12, 12,
                            9,  10, 10, 11, 11, 12, 12, 12, 13, 14, 14, 15, 15, 16, 16, 16,
                            13, 14, 14, 15, 15, 16, 16, 16, 13, 14, 14, 15, 15, 16, 16, 16};
    const int64_t sizes[4] = {1, 1, 8, 8};
    fixture f;
    fx_init(&f, "Resize", 13, 4);
    fx_attr_s(&f, "nearest_mode", "ceil");
    run_4x4(&f, NULL, sizes);
    check_f32(&f.out, want, 64);
    fx_deinit(&f);

    fx_init(&f, "Resize", 13, 4);
    fx_attr_s(&f, "coordinate_transformation_mode", "asymmetric");
    fx_attr_s(&f, "nearest_mode", "round_prefer_ceil");
    run_4x4(&f, NULL, sizes);
    check_f32(&f.out, want, 64);
    fx_deinit(&f);

    /* test_resize_upsample_sizes_nearest_floor_align_corners */
    fx_init(&f, "Resize", 13, 4);
    fx_attr_s(&f, "coordinate_transformation_mode", "align_corners");
    fx_attr_s(&f, "nearest_mode", "floor");
    run_4x4(&f, NULL, sizes);
    const float row[4][8] = {{1, 1, 1, 2, 2, 3, 3, 4},
                             {5, 5, 5, 6, 6, 7, 7, 8},
                             {9, 9, 9, 10, 10, 11, 11, 12},
                             {13, 13, 13, 14, 14, 15, 15, 16}};
    const int rows[8] = {0, 0, 0, 1, 1, 2, 2, 3};
    float want_floor[64];
    for (int i = 0; i < 8; i++)
        memcpy(&want_floor[i * 8], row[rows[i]], sizeof(row[0]));
    check_f32(&f.out, want_floor, 64);
    fx_deinit(&f);
}

EML_TEST(linear_modes)
{
    /* test_resize_upsample_scales_linear: half_pixel */
    const float x[4] = {1, 2, 3, 4}, up[4] = {1, 1, 2, 2};
    const int64_t dims[4] = {1, 1, 2, 2};
    eml_tensor in[3] = {tensor(EML_DTYPE_F32, 4, dims, x), omitted, vec(EML_DTYPE_F32, 4, up)};
    fixture f;
    fx_init(&f, "Resize", 13, 3);
    fx_attr_s(&f, "mode", "linear");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    const float want[16] = {1,   1.25f, 1.75f, 2,   1.5f, 1.75f, 2.25f, 2.5f,
                            2.5f, 2.75f, 3.25f, 3.5f, 3,    3.25f, 3.75f, 4};
    check_f32(&f.out, want, 16);
    fx_deinit(&f);

    /* test_resize_downsample_scales_linear_align_corners: the resized length is in × scale,
     * not floored (2.4 here), as ONNX's reference computes it */
    const float x8[8] = {1, 2, 3, 4, 5, 6, 7, 8}, down[4] = {1, 1, 0.6f, 0.6f};
    const int64_t dims8[4] = {1, 1, 2, 4}, out_dims[4] = {1, 1, 1, 2};
    in[0] = tensor(EML_DTYPE_F32, 4, dims8, x8);
    in[2] = vec(EML_DTYPE_F32, 4, down);
    fx_init(&f, "Resize", 13, 3);
    fx_attr_s(&f, "mode", "linear");
    fx_attr_s(&f, "coordinate_transformation_mode", "align_corners");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    check_dims(&f.out, 4, out_dims);
    const float want_ac[2] = {1, 3.142857f};
    check_f32(&f.out, want_ac, 2);
    fx_deinit(&f);
}

EML_TEST(cubic_modes)
{
    const float scales[4] = {1, 1, 0.8f, 0.8f};
    /* test_resize_downsample_scales_cubic */
    fixture f;
    fx_init(&f, "Resize", 13, 3);
    fx_attr_s(&f, "mode", "cubic");
    run_4x4(&f, scales, NULL);
    const float want[9] = {1.47119140625f, 2.78125f,       4.08251953125f,
                           6.71142578125f, 8.021484375f,   9.32275390625f,
                           11.91650390625f, 13.2265625f,   14.52783203125f};
    check_f32(&f.out, want, 9);
    fx_deinit(&f);

    /* test_resize_downsample_scales_cubic_A_n0p5_exclude_outside */
    fx_init(&f, "Resize", 13, 3);
    fx_attr_s(&f, "mode", "cubic");
    fx_attr_f(&f, "cubic_coeff_a", -0.5f);
    fx_attr_i(&f, "exclude_outside", 1);
    run_4x4(&f, scales, NULL);
    const float want_ex[9] = {1.3681267499923706f, 2.669501304626465f,  4.013336658477783f,
                              6.573625087738037f,  7.875f,              9.21883487701416f,
                              11.948966026306152f, 13.250341415405273f, 14.594176292419434f};
    check_f32(&f.out, want_ex, 9);
    fx_deinit(&f);

    /* rank 1, from ONNX's reference implementation: align_corners, and pytorch_half_pixel
     * downsampling with A = -0.5 and exclude_outside */
    const float x1[6] = {0, 1, 4, 9, 16, 25}, half = 0.5f;
    const int64_t nine = 9;
    eml_tensor in[4] = {vec(EML_DTYPE_F32, 6, x1), omitted, omitted, vec(EML_DTYPE_I64, 1, &nine)};
    fx_init(&f, "Resize", 13, 4);
    fx_attr_s(&f, "mode", "cubic");
    fx_attr_s(&f, "coordinate_transformation_mode", "align_corners");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 4), &f.diag);
    const float want1[9] = {0,      0.3100586f, 1.609375f, 3.337891f, 6.125f,
                            9.998047f, 13.64062f, 20.01221f, 25};
    check_f32(&f.out, want1, 9);
    fx_deinit(&f);

    in[2] = vec(EML_DTYPE_F32, 1, &half);
    in[3] = omitted;
    fx_init(&f, "Resize", 13, 4);
    fx_attr_s(&f, "mode", "cubic");
    fx_attr_s(&f, "coordinate_transformation_mode", "pytorch_half_pixel");
    fx_attr_f(&f, "cubic_coeff_a", -0.5f);
    fx_attr_i(&f, "exclude_outside", 1);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 4), &f.diag);
    const float want2[3] = {0.2941177f, 6.25f, 21.17647f};
    check_f32(&f.out, want2, 3);
    fx_deinit(&f);
}

EML_TEST(trilinear_rank3)
{
    /* every axis resized; x = arange(24)^1.5 as [2,3,4], sizes [3,2,5], half_pixel, values from
     * ONNX's reference implementation */
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)pow(i, 1.5);
    const int64_t dims[3] = {2, 3, 4}, sizes[3] = {3, 2, 5};
    eml_tensor in[4] = {tensor(EML_DTYPE_F32, 3, dims, x), omitted, omitted,
                        vec(EML_DTYPE_I64, 3, sizes)};
    fixture f;
    fx_init(&f, "Resize", 13, 4);
    fx_attr_s(&f, "mode", "linear");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 4), &f.diag);
    check_dims(&f.out, 3, sizes);
    const float want[30] = {2,        3.081559f, 4.67032f, 6.615042f, 8.527179f, 18.97056f,
                            21.82273f, 25.2182f,  28.77159f, 31.99222f, 24.58846f, 27.05438f,
                            30.09931f, 33.38165f, 36.4015f,  51.0263f,  54.76824f, 59.15473f,
                            63.67003f, 67.71254f, 47.17691f, 51.0272f,  55.52831f, 60.14825f,
                            64.27583f, 83.08204f, 87.71375f, 93.09126f, 98.56848f, 103.4329f};
    check_f32(&f.out, want, 30);
    fx_deinit(&f);
}

EML_TEST(tf_crop_and_resize)
{
    /* test_resize_tf_crop_and_resize */
    const float roi[8] = {0, 0, 0.4f, 0.6f, 1, 1, 1.2f, 1.7f};
    const int64_t sizes[4] = {1, 1, 3, 3};
    eml_tensor in[4] = {tensor(EML_DTYPE_F32, 4, dims1144, seq16), vec(EML_DTYPE_F32, 8, roi),
                        omitted, vec(EML_DTYPE_I64, 4, sizes)};
    fixture f;
    fx_init(&f, "Resize", 13, 4);
    fx_attr_s(&f, "mode", "linear");
    fx_attr_s(&f, "coordinate_transformation_mode", "tf_crop_and_resize");
    fx_attr_f(&f, "extrapolation_value", 10.0f);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 4), &f.diag);
    const float want[9] = {7.6000004f, 10, 10, 12.400001f, 10, 10, 10, 10, 10};
    check_f32(&f.out, want, 9);

    /* a NaN in roi puts the axis outside, never out of bounds */
    const float bad_roi[8] = {0, 0, NAN, 0.6f, 1, 1, 1.2f, 1.7f};
    in[1] = vec(EML_DTYPE_F32, 8, bad_roi);
    REQUIRE_OK(fx_run(&f, in, 4), &f.diag);
    const float all10[9] = {10, 10, 10, 10, 10, 10, 10, 10, 10};
    check_f32(&f.out, all10, 9);
    fx_deinit(&f);
}

EML_TEST(tf_half_pixel_for_nn_opset11)
{
    /* test_resize_downsample_sizes_nearest_tf_half_pixel_for_nn: roi and scales are empty
     * tensors, as opset 11 requires them present */
    const int64_t sizes[4] = {1, 1, 3, 2}, empty = 0;
    eml_tensor in[4] = {tensor(EML_DTYPE_F32, 4, dims1144, seq16),
                        tensor(EML_DTYPE_F32, 1, &empty, NULL),
                        tensor(EML_DTYPE_F32, 1, &empty, NULL), vec(EML_DTYPE_I64, 4, sizes)};
    fixture f;
    fx_init(&f, "Resize", 11, 4);
    fx_attr_s(&f, "coordinate_transformation_mode", "tf_half_pixel_for_nn");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 4), &f.diag);
    const float want[6] = {6, 8, 10, 12, 14, 16};
    check_f32(&f.out, want, 6);
    fx_deinit(&f);
}

/* ---- Upsample and Resize-10: asymmetric coordinates, the "simple" nearest rule ---- */

EML_TEST(upsample_and_resize10)
{
    const float x[4] = {1, 2, 3, 4}, scales[4] = {1, 1, 2, 3};
    const int64_t dims[4] = {1, 1, 2, 2};
    const float want_nn[24] = {1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2,
                               3, 3, 3, 4, 4, 4, 3, 3, 3, 4, 4, 4};
    eml_tensor in[2] = {tensor(EML_DTYPE_F32, 4, dims, x), vec(EML_DTYPE_F32, 4, scales)};

    /* test_upsample_nearest (opset 9, scales input) */
    fixture f;
    fx_init(&f, "Upsample", 9, 2);
    fx_attr_s(&f, "mode", "nearest");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 2), &f.diag);
    check_f32(&f.out, want_nn, 24);
    fx_deinit(&f);

    /* opset 7: scales attribute */
    fx_init(&f, "Upsample", 7, 1);
    fx_attr_floats(&f, "scales", scales, 4);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 1), &f.diag);
    check_f32(&f.out, want_nn, 24);
    fx_deinit(&f);

    /* linear, asymmetric: x / scale, the last input element repeated past the end */
    const float sc2[4] = {1, 1, 1, 2};
    in[1] = vec(EML_DTYPE_F32, 4, sc2);
    fx_init(&f, "Upsample", 9, 2);
    fx_attr_s(&f, "mode", "linear");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 2), &f.diag);
    const float want_lin[8] = {1, 1.5f, 2, 2, 3, 3.5f, 4, 4};
    check_f32(&f.out, want_lin, 8);
    fx_deinit(&f);

    /* Resize-10 nearest downsampling rounds up (ONNX Runtime's rule before opset 11) */
    const float x5[5] = {1, 2, 3, 4, 5}, s06 = 0.6f;
    eml_tensor in1[2] = {vec(EML_DTYPE_F32, 5, x5), vec(EML_DTYPE_F32, 1, &s06)};
    fx_init(&f, "Resize", 10, 2);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in1, 2), &f.diag);
    const float want_down[3] = {1, 3, 5}; /* x / 0.6 = 0, 1.67, 3.33 → 0, 2, 4 */
    check_f32(&f.out, want_down, 3);
    fx_deinit(&f);
}

/* ---- dtypes ---- */

EML_TEST(dtypes)
{
    const float scales[2] = {1, 2};
    const int64_t dims[2] = {2, 2};
    fixture f;

    /* nearest copies any dtype exactly: int64 and bool */
    const int64_t xi[4] = {INT64_MIN, -1, 7, INT64_MAX};
    eml_tensor in[3] = {tensor(EML_DTYPE_I64, 2, dims, xi), omitted,
                        vec(EML_DTYPE_F32, 2, scales)};
    fx_init(&f, "Resize", 13, 3);
    fx_attr_s(&f, "coordinate_transformation_mode", "asymmetric");
    fx_attr_s(&f, "nearest_mode", "floor");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    const int64_t want_i[8] = {INT64_MIN, INT64_MIN, -1, -1, 7, 7, INT64_MAX, INT64_MAX};
    CHECK(f.out.dtype == EML_DTYPE_I64 && memcmp(f.out.data, want_i, sizeof(want_i)) == 0);
    const bool xb[4] = {1, 0, 0, 1}, want_b[8] = {1, 1, 0, 0, 0, 0, 1, 1};
    in[0] = tensor(EML_DTYPE_BOOL, 2, dims, xb);
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    CHECK(f.out.dtype == EML_DTYPE_BOOL && memcmp(f.out.data, want_b, 8) == 0);
    fx_deinit(&f);

    /* linear on uint8 rounds to nearest: 10, 12.5 → 13 (half away from zero), 15, 15 */
    const uint8_t xu[4] = {10, 15, 200, 255};
    in[0] = tensor(EML_DTYPE_U8, 2, dims, xu);
    fx_init(&f, "Resize", 13, 3);
    fx_attr_s(&f, "mode", "linear");
    fx_attr_s(&f, "coordinate_transformation_mode", "asymmetric");
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    const uint8_t want_u[8] = {10, 13, 15, 15, 200, 228, 255, 255};
    CHECK(f.out.dtype == EML_DTYPE_U8 && memcmp(f.out.data, want_u, 8) == 0);

    /* float16 and float64 */
    uint16_t xh[4];
    for (int i = 0; i < 4; i++)
        xh[i] = eml_f32_to_f16((float)i);
    in[0] = tensor(EML_DTYPE_F16, 2, dims, xh);
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    const float want_h[8] = {0, 0.5f, 1, 1, 2, 2.5f, 3, 3};
    const uint16_t *yh = f.out.data;
    for (int i = 0; i < 8; i++)
        CHECK(eml_f16_to_f32(yh[i]) == want_h[i]);
    const double xd[4] = {0, 1, 2, 3};
    in[0] = tensor(EML_DTYPE_F64, 2, dims, xd);
    REQUIRE_OK(fx_run(&f, in, 3), &f.diag);
    const double *yd = f.out.data;
    for (int i = 0; i < 8; i++)
        CHECK(yd[i] == want_h[i]);

    /* bool cannot be interpolated */
    in[0] = tensor(EML_DTYPE_BOOL, 2, dims, xb);
    CHECK_STATUS(fx_run(&f, in, 3), EML_EUNSUPPORTED);
    fx_deinit(&f);
}

/* ---- shapes that depend on data, and refusals ---- */

EML_TEST(shape_needs_data)
{
    const int64_t dims[2] = {2, 3};
    eml_tensor in[4] = {tensor(EML_DTYPE_F32, 2, dims, NULL), omitted,
                        vec(EML_DTYPE_F32, 2, NULL), omitted};
    fixture f;
    fx_init(&f, "Resize", 13, 4);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    size_t scratch;
    CHECK_STATUS(fx_infer(&f, in, 3, &scratch), EML_EDYNAMIC);
    CHECK(f.out.dtype == EML_DTYPE_F32);

    /* known values: floor(in × scale) per axis; scratch for the tap tables */
    const float scales[2] = {1.5f, 0.5f};
    in[2].data = (void *)scales;
    REQUIRE_OK(fx_infer(&f, in, 3, &scratch), &f.diag);
    const int64_t want[2] = {3, 1};
    check_dims(&f.out, 2, want);
    CHECK(scratch > 0);
    fx_deinit(&f);
}

EML_TEST(refusals)
{
    const int64_t dims[2] = {2, 3}, sizes[2] = {4, 6}, bad_sizes[2] = {-1, 6};
    const int64_t zero_dims[2] = {0, 3};
    const float scales[2] = {2, 2}, neg[2] = {2, -1}, three[3] = {1, 2, 2};
    const float x[6] = {0};
    eml_tensor in[4] = {tensor(EML_DTYPE_F32, 2, dims, x), omitted, vec(EML_DTYPE_F32, 2, scales),
                        vec(EML_DTYPE_I64, 2, sizes)};
    fixture f;
    fx_init(&f, "Resize", 13, 4);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    size_t scratch;
    CHECK_STATUS(fx_infer(&f, in, 4, &scratch), EML_EGRAPH); /* both scales and sizes */
    CHECK_STATUS(fx_infer(&f, in, 2, &scratch), EML_EGRAPH); /* neither */
    in[3] = vec(EML_DTYPE_I64, 2, bad_sizes);
    in[2] = omitted;
    CHECK_STATUS(fx_infer(&f, in, 4, &scratch), EML_ESHAPE);
    in[3] = vec(EML_DTYPE_I64, 2, sizes);
    in[0] = tensor(EML_DTYPE_F32, 2, zero_dims, x);
    CHECK_STATUS(fx_infer(&f, in, 4, &scratch), EML_ESHAPE); /* nothing to interpolate from */
    in[0] = tensor(EML_DTYPE_F32, 2, dims, x);
    in[3] = vec(EML_DTYPE_F32, 2, scales);
    CHECK_STATUS(fx_infer(&f, in, 4, &scratch), EML_ETYPE); /* sizes must be integers */
    in[3] = omitted;
    in[2] = vec(EML_DTYPE_F32, 2, neg);
    CHECK_STATUS(fx_infer(&f, in, 3, &scratch), EML_ESHAPE);
    in[2] = vec(EML_DTYPE_F32, 3, three);
    CHECK_STATUS(fx_infer(&f, in, 3, &scratch), EML_ESHAPE); /* one scale per axis */
    const eml_tensor scalar = {.dtype = EML_DTYPE_F32, .rank = 0, .data = (void *)x};
    in[0] = scalar;
    in[2] = omitted;
    CHECK_STATUS(fx_infer(&f, in, 3, &scratch), EML_ESHAPE);
    fx_deinit(&f);

    /* attributes */
    const struct {
        int32_t opset;
        const char *name, *value;
        eml_status want;
    } cases[] = {
        {13, "mode", "bicubic", EML_EUNSUPPORTED},
        {10, "mode", "cubic", EML_EUNSUPPORTED}, /* cubic came with opset 11 */
        {13, "coordinate_transformation_mode", "corners", EML_EUNSUPPORTED},
        {13, "nearest_mode", "nearest", EML_EUNSUPPORTED},
        {10, "coordinate_transformation_mode", "half_pixel", EML_EUNSUPPORTED},
        {13, "antialias", "1", EML_EUNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fx_init(&f, "Resize", cases[i].opset, 3);
        fx_attr_s(&f, cases[i].name, cases[i].value);
        CHECK_STATUS(fx_prepare(&f), cases[i].want);
        CHECK(strstr(f.diag.message, cases[i].name) != NULL);
        fx_deinit(&f);
    }
    fx_init(&f, "Resize", 13, 3);
    fx_attr_i(&f, "exclude_outside", 2);
    CHECK_STATUS(fx_prepare(&f), EML_EGRAPH);
    fx_deinit(&f);

    /* Upsample-7 needs its scales attribute, positive, one per axis */
    fx_init(&f, "Upsample", 7, 1);
    CHECK_STATUS(fx_prepare(&f), EML_EGRAPH);
    fx_deinit(&f);
    fx_init(&f, "Upsample", 7, 1);
    fx_attr_floats(&f, "scales", neg, 2);
    CHECK_STATUS(fx_prepare(&f), EML_EGRAPH);
    fx_deinit(&f);
    fx_init(&f, "Upsample", 7, 1);
    fx_attr_floats(&f, "scales", three, 3);
    REQUIRE_OK(fx_prepare(&f), &f.diag);
    in[0] = tensor(EML_DTYPE_F32, 2, dims, x);
    CHECK_STATUS(fx_infer(&f, in, 1, &scratch), EML_ESHAPE);
    fx_deinit(&f);
}
