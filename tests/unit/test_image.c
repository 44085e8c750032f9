/* Tests of the PNG and JPEG readers: images written here with libpng and libjpeg are read back
 * through eml_tensor_read_file and checked value by value, layout by layout. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>
#include <zlib.h>

#include "harness.h"

static void must(eml_status st, const eml_diag *diag, const char *expr, int line)
{
    if (st != EML_OK) {
        fprintf(stderr, "%s:%d: %s failed: %s: %s\n", __FILE__, line, expr, eml_status_name(st),
                diag->message);
        exit(1);
    }
}
#define MUST(expr, diagp) must((expr), (diagp), #expr, __LINE__)

static eml_env *make_env(uint64_t max_alloc)
{
    eml_env_options o;
    eml_env_options_init(&o);
    o.n_threads = 1;
    o.max_alloc_bytes = max_alloc;
    eml_env *env = NULL;
    REQUIRE(eml_env_create(&o, &env) == EML_OK);
    return env;
}

static char dir[512];

static const char *temp_path(const char *name)
{
    static char path[700];
    if (!dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(dir, sizeof(dir), "%s/eml_img_XXXXXX", base && *base ? base : "/tmp");
        REQUIRE(mkdtemp(dir) != NULL);
    }
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    return path;
}

static void cleanup(const char *path)
{
    unlink(path);
    if (rmdir(dir) == 0)
        dir[0] = 0;
}

/* Writes pixels (rows packed, `depth` 8 or 16 bits, 16-bit big-endian as PNG wants). */
static void write_png(const char *path, uint32_t w, uint32_t h, int color_type, int depth,
                      const unsigned char *pixels, const png_color *palette, int n_palette)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    REQUIRE(png && info);
    if (setjmp(png_jmpbuf(png)))
        REQUIRE(!"libpng write failed");
    png_init_io(png, f);
    png_set_IHDR(png, info, w, h, depth, color_type, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (palette)
        png_set_PLTE(png, info, palette, n_palette);
    png_write_info(png, info);
    size_t row_bytes = png_get_rowbytes(png, info);
    for (uint32_t y = 0; y < h; y++)
        png_write_row(png, pixels + y * row_bytes);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    fclose(f);
}

static void write_jpeg(const char *path, int w, int h, int components, const unsigned char *pixels)
{
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    jpeg_stdio_dest(&c, f);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = components;
    c.in_color_space = components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 100, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(pixels + (size_t)c.next_scanline * (size_t)(w * components));
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
}

static int near(float a, float b, float tol)
{
    return fabsf(a - b) <= tol;
}

/* A 3x2 RGB image: pixel (x, y) = (10x + 100y + 1, 2x + 50, 255 - 40y). */
static void rgb_pixels(unsigned char *p)
{
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++) {
            unsigned char *q = p + (y * 3 + x) * 3;
            q[0] = (unsigned char)(10 * x + 100 * y + 1);
            q[1] = (unsigned char)(2 * x + 50);
            q[2] = (unsigned char)(255 - 40 * y);
        }
}

EML_TEST(png_rgb_nchw_values)
{
    unsigned char px[18];
    rgb_pixels(px);
    const char *path = temp_path("rgb.png");
    write_png(path, 3, 2, PNG_COLOR_TYPE_RGB, 8, px, NULL, 0);
    eml_env *env = make_env(0);
    eml_tensor t;
    eml_diag diag;
    eml_diag_init(&diag);
    MUST(eml_tensor_read_file(env, path, NULL, &t, &diag), &diag);
    CHECK(t.dtype == EML_DTYPE_F32 && t.rank == 4);
    CHECK(t.dims[0] == 1 && t.dims[1] == 3 && t.dims[2] == 2 && t.dims[3] == 3);
    const float *f = t.data;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++)
                CHECK(f[(c * 2 + y) * 3 + x] == (float)px[(y * 3 + x) * 3 + c] / 255.0f);
    eml_tensor_free(env, &t);
    eml_env_destroy(env);
    cleanup(path);
}

EML_TEST(png_nhwc_mean_std)
{
    unsigned char px[18];
    rgb_pixels(px);
    const char *path = temp_path("rgb.PNG");
    write_png(path, 3, 2, PNG_COLOR_TYPE_RGB, 8, px, NULL, 0);
    eml_env *env = make_env(0);
    eml_image_options o;
    eml_image_options_init(&o);
    const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    memcpy(o.mean, mean, sizeof(mean));
    memcpy(o.std, std, sizeof(std));
    o.nhwc = 1;
    eml_tensor t;
    eml_diag diag;
    eml_diag_init(&diag);
    MUST(eml_tensor_read_file(env, path, &o, &t, &diag), &diag);
    CHECK(t.dims[0] == 1 && t.dims[1] == 2 && t.dims[2] == 3 && t.dims[3] == 3);
    const float *f = t.data;
    for (int y = 0; y < 2; y++)
        for (int x = 0; x < 3; x++)
            for (int c = 0; c < 3; c++) {
                float want = ((float)px[(y * 3 + x) * 3 + c] / 255.0f - mean[c]) / std[c];
                CHECK(near(f[(y * 3 + x) * 3 + c], want, 1e-6f));
            }
    eml_tensor_free(env, &t);
    eml_env_destroy(env);
    cleanup(path);
}

EML_TEST(png_gray_and_channel_conversion)
{
    unsigned char gray[6] = {0, 51, 102, 153, 204, 255};
    const char *path = temp_path("gray.png");
    write_png(path, 3, 2, PNG_COLOR_TYPE_GRAY, 8, gray, NULL, 0);
    eml_env *env = make_env(0);
    eml_image_options o;
    eml_image_options_init(&o);
    eml_tensor t;
    eml_diag diag;
    eml_diag_init(&diag);
    MUST(eml_tensor_read_file(env, path, &o, &t, &diag), &diag);
    CHECK(t.dims[1] == 1 && t.dims[2] == 2 && t.dims[3] == 3);
    CHECK(((float *)t.data)[4] == 204.0f / 255.0f);
    eml_tensor_free(env, &t);
    o.n_channels = 3; /* gray to RGB replicates */
    MUST(eml_tensor_read_file(env, path, &o, &t, &diag), &diag);
    CHECK(t.dims[1] == 3);
    for (int c = 0; c < 3; c++)
        CHECK(((float *)t.data)[c * 6 + 5] == 1.0f);
    eml_tensor_free(env, &t);
    cleanup(path);

    /* RGB to gray uses the BT.601 weights */
    unsigned char px[18];
    rgb_pixels(px);
    path = temp_path("rgb.png");
    write_png(path, 3, 2, PNG_COLOR_TYPE_RGB, 8, px, NULL, 0);
    o.n_channels = 1;
    MUST(eml_tensor_read_file(env, path, &o, &t, &diag), &diag);
    CHECK(t.dims[1] == 1 && t.dims[2] == 2 && t.dims[3] == 3);
    for (int i = 0; i < 6; i++) {
        const unsigned char *q = px + i * 3;
        float want = (0.299f * q[0] + 0.587f * q[1] + 0.114f * q[2]) / 255.0f;
        CHECK(near(((float *)t.data)[i], want, 1e-5f));
    }
    eml_tensor_free(env, &t);
    eml_env_destroy(env);
    cleanup(path);
}

EML_TEST(png_alpha_palette_and_16_bit)
{
    eml_env *env = make_env(0);
    eml_image_options o;
    eml_image_options_init(&o);
    eml_tensor t;
    eml_diag diag;
    eml_diag_init(&diag);

    /* RGBA: alpha dropped by default, kept with 4 channels */
    unsigned char rgba[8] = {10, 20, 30, 40, 50, 60, 70, 80};
    const char *path = temp_path("rgba.png");
    write_png(path, 2, 1, PNG_COLOR_TYPE_RGBA, 8, rgba, NULL, 0);
    MUST(eml_tensor_read_file(env, path, &o, &t, &diag), &diag);
    CHECK(t.dims[1] == 3 && t.dims[2] == 1 && t.dims[3] == 2);
    CHECK(((float *)t.data)[1] == 50.0f / 255.0f);
    eml_tensor_free(env, &t);
    o.n_channels = 4;
    MUST(eml_tensor_read_file(env, path, &o, &t, &diag), &diag);
    CHECK(t.dims[1] == 4);
    CHECK(((float *)t.data)[6] == 40.0f / 255.0f && ((float *)t.data)[7] == 80.0f / 255.0f);
    eml_tensor_free(env, &t);
    cleanup(path);

    /* palette */
    png_color pal[2] = {{255, 0, 0}, {0, 0, 255}};
    unsigned char idx[2] = {1, 0};
    path = temp_path("pal.png");
    write_png(path, 2, 1, PNG_COLOR_TYPE_PALETTE, 8, idx, pal, 2);
    o.n_channels = 0;
    MUST(eml_tensor_read_file(env, path, &o, &t, &diag), &diag);
    const float *f = t.data;
    CHECK(t.dims[1] == 3 && f[0] == 0.0f && f[1] == 1.0f && f[4] == 1.0f && f[5] == 0.0f);
    eml_tensor_free(env, &t);
    cleanup(path);

    /* 16-bit gray keeps its precision */
    unsigned char g16[6] = {0xff, 0xff, 0x80, 0x00, 0x00, 0x00};
    path = temp_path("g16.png");
    write_png(path, 3, 1, PNG_COLOR_TYPE_GRAY, 16, g16, NULL, 0);
    MUST(eml_tensor_read_file(env, path, &o, &t, &diag), &diag);
    f = t.data;
    CHECK(near(f[0], 1.0f, 1e-6f) && near(f[1], 32768.0f / 65535.0f, 1e-6f) && f[2] == 0.0f);
    eml_tensor_free(env, &t);
    cleanup(path);
    eml_env_destroy(env);
}

EML_TEST(png_resize_nearest)
{
    unsigned char g[16];
    for (int i = 0; i < 16; i++)
        g[i] = (unsigned char)i;
    const char *path = temp_path("g4.png");
    write_png(path, 4, 4, PNG_COLOR_TYPE_GRAY, 8, g, NULL, 0);
    eml_env *env = make_env(0);
    eml_image_options o;
    eml_image_options_init(&o);
    o.resize_h = 2;
    o.resize_w = 2;
    eml_tensor t;
    eml_diag diag;
    eml_diag_init(&diag);
    MUST(eml_tensor_read_file(env, path, &o, &t, &diag), &diag);
    CHECK(t.dims[2] == 2 && t.dims[3] == 2);
    const float *f = t.data;
    /* centres of 2x2 output cells fall on source pixels 1 and 3 */
    CHECK(f[0] * 255.0f == 5.0f && f[1] * 255.0f == 7.0f);
    CHECK(f[2] * 255.0f == 13.0f && f[3] * 255.0f == 15.0f);
    eml_tensor_free(env, &t);
    o.resize_h = 8;
    o.resize_w = 6;
    MUST(eml_tensor_read_file(env, path, &o, &t, &diag), &diag);
    CHECK(t.dims[2] == 8 && t.dims[3] == 6);
    f = t.data;
    /* row 3 of 8 maps to source row 1; column 5 of 6 to source column 3 */
    CHECK(f[3 * 6 + 5] * 255.0f == 7.0f);
    eml_tensor_free(env, &t);
    eml_env_destroy(env);
    cleanup(path);
}

EML_TEST(jpeg_rgb_and_gray)
{
    /* 16x8: left 8x8 block red-ish, right block blue-ish, so each block is flat */
    unsigned char px[16 * 8 * 3];
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 16; x++) {
            unsigned char *q = px + (y * 16 + x) * 3;
            q[0] = x < 8 ? 200 : 30;
            q[1] = x < 8 ? 40 : 90;
            q[2] = x < 8 ? 20 : 220;
        }
    const char *path = temp_path("rgb.jpg");
    write_jpeg(path, 16, 8, 3, px);
    eml_env *env = make_env(0);
    eml_image_options o;
    eml_image_options_init(&o);
    eml_tensor t;
    eml_diag diag;
    eml_diag_init(&diag);
    MUST(eml_tensor_read_file(env, path, &o, &t, &diag), &diag);
    CHECK(t.dims[1] == 3 && t.dims[2] == 8 && t.dims[3] == 16);
    const float *f = t.data;
    const float tol = 6.0f / 255.0f; /* lossy, even at quality 100 with chroma subsampling */
    CHECK(near(f[0 * 128 + 3 * 16 + 3], 200.0f / 255, tol));
    CHECK(near(f[1 * 128 + 3 * 16 + 3], 40.0f / 255, tol));
    CHECK(near(f[2 * 128 + 3 * 16 + 3], 20.0f / 255, tol));
    CHECK(near(f[0 * 128 + 4 * 16 + 12], 30.0f / 255, tol));
    CHECK(near(f[2 * 128 + 4 * 16 + 12], 220.0f / 255, tol));
    eml_tensor_free(env, &t);
    o.n_channels = 1;
    o.nhwc = 1;
    MUST(eml_tensor_read_file(env, path, &o, &t, &diag), &diag);
    CHECK(t.dims[1] == 8 && t.dims[2] == 16 && t.dims[3] == 1);
    CHECK(near(((float *)t.data)[3 * 16 + 3], (0.299f * 200 + 0.587f * 40 + 0.114f * 20) / 255,
               tol));
    eml_tensor_free(env, &t);
    cleanup(path);

    unsigned char g[8 * 8];
    for (int i = 0; i < 64; i++)
        g[i] = 77;
    path = temp_path("gray.JPEG");
    write_jpeg(path, 8, 8, 1, g);
    o.n_channels = 0;
    o.nhwc = 0;
    MUST(eml_tensor_read_file(env, path, &o, &t, &diag), &diag);
    CHECK(t.dims[1] == 1 && t.dims[2] == 8 && t.dims[3] == 8);
    CHECK(near(((float *)t.data)[27], 77.0f / 255, 1.0f / 255));
    eml_tensor_free(env, &t);
    eml_env_destroy(env);
    cleanup(path);
}

static void truncate_file(const char *path, long keep)
{
    size_t n;
    unsigned char *b = eml_test_read_file(path, &n);
    REQUIRE(b && (size_t)keep < n);
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, (size_t)keep, f);
    fclose(f);
    free(b);
}

EML_TEST(corrupt_images_refused)
{
    eml_env *env = make_env(0);
    eml_tensor t;
    eml_diag diag;
    unsigned char px[16 * 16 * 3];
    for (size_t i = 0; i < sizeof(px); i++)
        px[i] = (unsigned char)(i * 7);

    const char *path = temp_path("cut.png");
    write_png(path, 16, 16, PNG_COLOR_TYPE_RGB, 8, px, NULL, 0);
    truncate_file(path, 100);
    eml_diag_init(&diag);
    CHECK(eml_tensor_read_file(env, path, NULL, &t, &diag) == EML_ECORRUPT);
    CHECK(strstr(diag.message, "png") != NULL && strstr(diag.message, path) != NULL);
    CHECK(t.data == NULL);
    cleanup(path);

    /* a flipped byte inside IHDR breaks its CRC */
    path = temp_path("crc.png");
    write_png(path, 16, 16, PNG_COLOR_TYPE_RGB, 8, px, NULL, 0);
    size_t n;
    unsigned char *b = eml_test_read_file(path, &n);
    b[18] ^= 0x01;
    FILE *f = fopen(path, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
    free(b);
    CHECK(eml_tensor_read_file(env, path, NULL, &t, &diag) == EML_ECORRUPT);
    cleanup(path);

    path = temp_path("cut.jpg");
    write_jpeg(path, 16, 16, 3, px);
    truncate_file(path, 300);
    eml_diag_init(&diag);
    CHECK(eml_tensor_read_file(env, path, NULL, &t, &diag) == EML_ECORRUPT);
    CHECK(strstr(diag.message, "jpeg") != NULL);
    cleanup(path);

    path = temp_path("junk.jpg");
    f = fopen(path, "wb");
    fputs("\xff\xd8\xff junk that is not a jpeg", f);
    fclose(f);
    CHECK(eml_tensor_read_file(env, path, NULL, &t, &diag) == EML_ECORRUPT);
    cleanup(path);

    path = temp_path("text.png");
    f = fopen(path, "wb");
    fputs("hello", f);
    fclose(f);
    CHECK(eml_tensor_read_file(env, path, NULL, &t, &diag) == EML_ECORRUPT);
    cleanup(path);
    eml_env_destroy(env);
}

static void put_chunk(FILE *f, const char *type, const unsigned char *data, uint32_t len)
{
    unsigned char hdr[8] = {(unsigned char)(len >> 24), (unsigned char)(len >> 16),
                            (unsigned char)(len >> 8), (unsigned char)len};
    memcpy(hdr + 4, type, 4);
    uLong crc = crc32(0, hdr + 4, 4);
    if (len)
        crc = crc32(crc, data, len);
    unsigned char c[4] = {(unsigned char)(crc >> 24), (unsigned char)(crc >> 16),
                          (unsigned char)(crc >> 8), (unsigned char)crc};
    fwrite(hdr, 1, 8, f);
    if (len)
        fwrite(data, 1, len, f);
    fwrite(c, 1, 4, f);
}

EML_TEST(huge_image_refused_before_allocation)
{
    /* A valid header claiming 100000 x 100000 RGB pixels and no pixel data. */
    const char *path = temp_path("huge.png");
    FILE *f = fopen(path, "wb");
    REQUIRE(f != NULL);
    fwrite("\x89PNG\r\n\x1a\n", 1, 8, f);
    unsigned char ihdr[13] = {0, 1, 0x86, 0xa0, 0, 1, 0x86, 0xa0, 8, 2, 0, 0, 0};
    put_chunk(f, "IHDR", ihdr, 13);
    put_chunk(f, "IDAT", NULL, 0);
    put_chunk(f, "IEND", NULL, 0);
    fclose(f);
    eml_counting_allocator ca;
    eml_counting_allocator_init(&ca);
    eml_env_options o;
    eml_env_options_init(&o);
    o.allocator = &ca.base;
    o.n_threads = 1;
    o.max_alloc_bytes = 64u << 20;
    eml_env *env = NULL;
    REQUIRE(eml_env_create(&o, &env) == EML_OK);
    eml_tensor t;
    eml_diag diag;
    eml_diag_init(&diag);
    uint64_t live = ca.live_count;
    CHECK(eml_tensor_read_file(env, path, NULL, &t, &diag) == EML_ELIMIT);
    CHECK(ca.peak_bytes < (1u << 20));
    CHECK(ca.live_count == live);
    eml_env_destroy(env);
    CHECK(ca.live_count == 0);

    /* a resize that asks for too much is refused too */
    env = make_env(1u << 20);
    unsigned char g[4] = {1, 2, 3, 4};
    cleanup(path);
    path = temp_path("small.png");
    write_png(path, 2, 2, PNG_COLOR_TYPE_GRAY, 8, g, NULL, 0);
    eml_image_options io;
    eml_image_options_init(&io);
    io.resize_h = 100000;
    io.resize_w = 100000;
    CHECK(eml_tensor_read_file(env, path, &io, &t, &diag) == EML_ELIMIT);
    eml_env_destroy(env);
    cleanup(path);
}

EML_TEST(bad_options_refused)
{
    unsigned char g[4] = {1, 2, 3, 4};
    const char *path = temp_path("opt.png");
    write_png(path, 2, 2, PNG_COLOR_TYPE_GRAY, 8, g, NULL, 0);
    eml_env *env = make_env(0);
    eml_image_options o;
    eml_image_options_init(&o);
    eml_tensor t;
    eml_diag diag;
    o.n_channels = 2;
    CHECK(eml_tensor_read_file(env, path, &o, &t, &diag) == EML_EINVAL);
    o.n_channels = 1;
    o.std[0] = 0.0f;
    CHECK(eml_tensor_read_file(env, path, &o, &t, &diag) == EML_EINVAL);
    o.std[0] = 1.0f;
    o.resize_h = -3;
    CHECK(eml_tensor_read_file(env, path, &o, &t, &diag) == EML_EINVAL);
    eml_env_destroy(env);
    cleanup(path);
}
