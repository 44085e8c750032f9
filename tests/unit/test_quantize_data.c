/* Data sets for calibration and evaluation: the image-folder reader (flat and one subfolder per
 * class), its errors, and evaluation's checks of data and labels against the model. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

/* Grayscale PNGs of 2x2 (0, 51, 102, 255) and 3x3 pixels. */
static const unsigned char png_2x2[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
    0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x00, 0x00, 0x00, 0x57,
    0xdd, 0x52, 0xf8, 0x00, 0x00, 0x00, 0x0e, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60,
    0x30, 0x66, 0x48, 0xfb, 0x0f, 0x00, 0x02, 0x9d, 0x01, 0x99, 0x32, 0x06, 0x3a, 0x75, 0x00,
    0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static const unsigned char png_3x3[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x03, 0x08, 0x00, 0x00, 0x00, 0x00, 0x73, 0x43, 0xea,
    0x63, 0x00, 0x00, 0x00, 0x14, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0xe0, 0x12, 0x61,
    0x90, 0xd3, 0x30, 0x62, 0xb0, 0x71, 0x0b, 0x00, 0x00, 0x05, 0x70, 0x01, 0x69, 0xd8, 0x6c, 0x5f,
    0x41, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

static void write_file(const char *path, const void *bytes, size_t n)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    REQUIRE(fwrite(bytes, 1, n, f) == n);
    fclose(f);
}

/* A fresh folder under the build folder (or /tmp). */
static void make_dir(char *out, size_t cap, const char *name)
{
    const char *bin = getenv("EML_BINARY_DIR");
    snprintf(out, cap, "%s/test_quantize_data_%s_%d", bin ? bin : "/tmp", name, (int)getpid());
    REQUIRE(mkdir(out, 0755) == 0);
}

EML_TEST(image_folder_with_class_subfolders)
{
    char dir[512], sub[600], path[700];
    make_dir(dir, sizeof(dir), "classes");
    const char *classes[] = {"cat", "dog"};
    for (int c = 0; c < 2; c++) {
        snprintf(sub, sizeof(sub), "%s/%s", dir, classes[c]);
        REQUIRE(mkdir(sub, 0755) == 0);
        for (int k = 0; k < 2 + c; k++) {
            snprintf(path, sizeof(path), "%s/%d.png", sub, k);
            write_file(path, png_2x2, sizeof(png_2x2));
        }
        snprintf(path, sizeof(path), "%s/notes.txt", sub); /* not an image: skipped */
        write_file(path, "x", 1);
    }
    eml_env *env = NULL;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_diag diag;
    eml_diag_init(&diag);
    eml_tensor images, labels;
    REQUIRE_OK(eml_tensor_read_image_folder(env, dir, NULL, 0, &images, &labels, &diag), &diag);
    CHECK(images.dtype == EML_DTYPE_F32 && images.rank == 4);
    CHECK(images.dims[0] == 5 && images.dims[1] == 1 && images.dims[2] == 2 && images.dims[3] == 2);
    CHECK(labels.dtype == EML_DTYPE_I32 && labels.rank == 1 && labels.dims[0] == 5);
    const int32_t want[5] = {0, 0, 1, 1, 1};
    for (int i = 0; i < 5 && labels.data; i++)
        CHECK(((const int32_t *)labels.data)[i] == want[i]);
    const float *x = images.data;
    CHECK(x[0] == 0.0f && x[1] == 0.2f && x[3] == 1.0f);
    eml_tensor_free(env, &images);
    eml_tensor_free(env, &labels);
    /* limit: the first images in name order */
    REQUIRE_OK(eml_tensor_read_image_folder(env, dir, NULL, 3, &images, &labels, &diag), &diag);
    CHECK(images.dims[0] == 3 && labels.dims[0] == 3);
    eml_tensor_free(env, &images);
    eml_tensor_free(env, &labels);
    /* images of different sizes need a resize */
    snprintf(path, sizeof(path), "%s/dog/9.png", dir);
    write_file(path, png_3x3, sizeof(png_3x3));
    CHECK_STATUS(eml_tensor_read_image_folder(env, dir, NULL, 0, &images, &labels, &diag),
                 EML_ESHAPE);
    printf("%s\n", diag.message);
    eml_image_options img;
    eml_image_options_init(&img);
    img.resize_h = img.resize_w = 4;
    REQUIRE_OK(eml_tensor_read_image_folder(env, dir, &img, 0, &images, NULL, &diag), &diag);
    CHECK(images.dims[0] == 6 && images.dims[2] == 4 && images.dims[3] == 4);
    eml_tensor_free(env, &images);
    eml_env_destroy(env);
    char cmd[800];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

EML_TEST(image_folder_errors)
{
    eml_env *env = NULL;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    eml_diag diag;
    eml_diag_init(&diag);
    eml_tensor images, labels;
    CHECK_STATUS(
        eml_tensor_read_image_folder(env, "/nonexistent/folder", NULL, 0, &images, &labels, &diag),
        EML_EIO);
    char dir[512], path[700];
    make_dir(dir, sizeof(dir), "empty");
    CHECK_STATUS(eml_tensor_read_image_folder(env, dir, NULL, 0, &images, &labels, &diag),
                 EML_EINVAL);
    printf("%s\n", diag.message);
    /* a flat folder: images, no labels */
    snprintf(path, sizeof(path), "%s/a.png", dir);
    write_file(path, png_2x2, sizeof(png_2x2));
    REQUIRE_OK(eml_tensor_read_image_folder(env, dir, NULL, 0, &images, &labels, &diag), &diag);
    CHECK(images.dims[0] == 1 && labels.data == NULL);
    eml_tensor_free(env, &images);
    /* a broken image is an error naming the file */
    snprintf(path, sizeof(path), "%s/b.png", dir);
    write_file(path, png_2x2, 20);
    CHECK(eml_tensor_read_image_folder(env, dir, NULL, 0, &images, &labels, &diag) != EML_OK);
    printf("%s\n", diag.message);
    CHECK(strstr(diag.message, "b.png") != NULL);
    eml_env_destroy(env);
    char cmd[800];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
}

EML_TEST(eval_checks_data_and_labels)
{
    eml_env *env = NULL;
    REQUIRE(eml_env_create(NULL, &env) == EML_OK);
    char path[1024];
    snprintf(path, sizeof(path), "%s/models/fashion_cnn/model.onnx", eml_test_source_dir());
    eml_graph *g;
    eml_diag diag;
    eml_diag_init(&diag);
    REQUIRE_OK(eml_graph_load_onnx(env, path, &g, &diag), &diag);
    static float data[3 * 784];
    uint8_t lab[3] = {0, 1, 2};
    float flab[3] = {0, 1, 2};
    eml_tensor x = {EML_DTYPE_F32, 2, {3, 784}, data};
    eml_tensor y = {EML_DTYPE_U8, 1, {3}, lab};
    eml_eval_result r;
    int32_t pred[3];
    REQUIRE_OK(eml_eval_classifier(g, &x, &y, NULL, &r, pred, &diag), &diag);
    CHECK(r.count == 3 && r.n_classes == 10 && pred[0] == pred[1] && pred[1] == pred[2]);
    CHECK(r.top1 == (pred[0] <= 2 ? 1u : 0u) && r.top5_pct >= 0); /* one label matches */
    eml_tensor short_labels = {EML_DTYPE_U8, 1, {2}, lab};
    CHECK_STATUS(eml_eval_classifier(g, &x, &short_labels, NULL, &r, NULL, &diag), EML_ESHAPE);
    eml_tensor float_labels = {EML_DTYPE_F32, 1, {3}, flab};
    CHECK_STATUS(eml_eval_classifier(g, &x, &float_labels, NULL, &r, NULL, &diag), EML_ETYPE);
    eml_tensor wrong = {EML_DTYPE_F32, 2, {3, 700}, data};
    CHECK_STATUS(eml_eval_classifier(g, &wrong, &y, NULL, &r, NULL, &diag), EML_ESHAPE);
    eml_graph_destroy(g);
    eml_env_destroy(env);
}
