/* PNG (libpng) and JPEG (libjpeg-turbo) images decoded from memory into normalized float
 * tensors: channel conversion, nearest-neighbour resize, mean/std, NCHW or NHWC. */
#include <setjmp.h>
#include <stdio.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "formats/image.h"

/* Decoded pixels: rows of width × channels samples of 8 or 16 bits (16-bit ones big-endian,
 * as PNG stores them). channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA. */
typedef struct image {
    unsigned char *pixels;
    uint32_t width, height;
    int channels;
    int depth;
} image;

/* Checks width x height x channels x bytes against the env's limit before allocating. */
static eml_status check_image_bytes(eml_env *env, uint64_t w, uint64_t h, uint64_t c,
                                    uint64_t bytes_per_sample, size_t *out, eml_diag *diag)
{
    uint64_t n;
    if (w == 0 || h == 0)
        return eml__diag(diag, EML_ECORRUPT, "image: zero width or height");
    if (eml__mul_overflow(w, h, &n) || eml__mul_overflow(n, c, &n) ||
        eml__mul_overflow(n, bytes_per_sample, &n) || n > eml_env_max_alloc_bytes(env) ||
        n > SIZE_MAX)
        return eml__diag(diag, EML_ELIMIT,
                         "image: %llux%llu pixels exceed the allocation limit",
                         (unsigned long long)w, (unsigned long long)h);
    *out = (size_t)n;
    return EML_OK;
}

/* ---- PNG ---- */

/* All state that must survive libpng's longjmp lives here, not in locals of the setjmp frame. */
typedef struct png_ctx {
    eml_env *env;
    const unsigned char *bytes;
    size_t n_bytes, pos;
    image img;
    png_bytep *rows;
    eml_status status;
    eml_diag *diag;
    char error[200];
} png_ctx;

static void png_read_mem(png_structp png, png_bytep dst, size_t len)
{
    png_ctx *c = png_get_io_ptr(png);
    if (len > c->n_bytes - c->pos)
        png_error(png, "truncated PNG data");
    memcpy(dst, c->bytes + c->pos, len);
    c->pos += len;
}

static void png_on_error(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->error, sizeof(c->error), "%s", msg);
    png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* warnings (bad gamma, unknown chunks) do not change the pixels we read */
}

/* Returns 0 when the pixels were read; otherwise c->status/c->error say why. */
static int png_decode_steps(png_structp png, png_infop info, png_ctx *c)
{
    if (setjmp(png_jmpbuf(png)))
        return -1;
    png_set_read_fn(png, c, png_read_mem);
    png_read_info(png, info);
    int color = png_get_color_type(png, info);
    int depth = png_get_bit_depth(png, info);
    if (color == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
        png_set_expand_gray_1_2_4_to_8(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS))
        png_set_tRNS_to_alpha(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);

    c->img.width = png_get_image_width(png, info);
    c->img.height = png_get_image_height(png, info);
    c->img.channels = png_get_channels(png, info);
    c->img.depth = png_get_bit_depth(png, info);
    if (c->img.channels < 1 || c->img.channels > 4 ||
        (c->img.depth != 8 && c->img.depth != 16)) {
        c->status = eml__diag(c->diag, EML_EUNSUPPORTED, "png: %d channels of %d bits",
                              c->img.channels, c->img.depth);
        return -1;
    }
    size_t bytes;
    c->status = check_image_bytes(c->env, c->img.width, c->img.height, (uint64_t)c->img.channels,
                                  (uint64_t)c->img.depth / 8, &bytes, c->diag);
    if (c->status != EML_OK)
        return -1;
    size_t row_bytes = png_get_rowbytes(png, info);
    if (row_bytes != bytes / c->img.height) {
        c->status = eml__diag(c->diag, EML_EINTERNAL, "png: unexpected row size");
        return -1;
    }
    c->img.pixels = eml__alloc(c->env, bytes);
    c->rows = eml__calloc(c->env, c->img.height, sizeof(png_bytep));
    if (!c->img.pixels || !c->rows) {
        c->status = eml__diag(c->diag, EML_ENOMEM, "png: out of memory for %zu bytes", bytes);
        return -1;
    }
    for (uint32_t y = 0; y < c->img.height; y++)
        c->rows[y] = c->img.pixels + (size_t)y * row_bytes;
    png_read_image(png, c->rows);
    png_read_end(png, NULL);
    return 0;
}

static eml_status decode_png(eml_env *env, const unsigned char *bytes, size_t n_bytes, image *out,
                             eml_diag *diag)
{
    png_ctx c;
    memset(&c, 0, sizeof(c));
    c.env = env;
    c.bytes = bytes;
    c.n_bytes = n_bytes;
    c.diag = diag;
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, png_on_error,
                                             png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return eml__diag(diag, EML_ENOMEM, "png: out of memory");
    }
    int rc = png_decode_steps(png, info, &c);
    png_destroy_read_struct(&png, &info, NULL);
    eml__free(env, c.rows);
    if (rc != 0) {
        eml__free(env, c.img.pixels);
        if (c.status != EML_OK)
            return c.status;
        eml__diag_where(diag, NULL, NULL, NULL, 0, (int64_t)c.pos);
        return eml__diag(diag, EML_ECORRUPT, "png: %s (near byte %zu)", c.error, c.pos);
    }
    *out = c.img;
    return EML_OK;
}

/* ---- JPEG ---- */

typedef struct jpeg_ctx {
    struct jpeg_error_mgr mgr; /* first, so that cinfo->err points to the whole context */
    jmp_buf jmp;
    char error[JMSG_LENGTH_MAX];
    int truncated;
    eml_env *env;
    image img;
    eml_status status;
    eml_diag *diag;
} jpeg_ctx;

static void jpeg_on_error(j_common_ptr cinfo)
{
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    cinfo->err->format_message(cinfo, c->error);
    longjmp(c->jmp, 1);
}

static void jpeg_on_message(j_common_ptr cinfo, int level)
{
    /* libjpeg pads a truncated file (or one whose data segment ends early) with gray and only
     * warns; here that is an error, and the decode stops at once: a few bytes claiming a huge
     * image must not cost a full decode. Other warnings (extraneous bytes) do not stop it. */
    jpeg_ctx *c = (jpeg_ctx *)cinfo->err;
    int code = cinfo->err->msg_code;
    if (level < 0 && (code == JWRN_JPEG_EOF || code == JWRN_HIT_MARKER))
        c->truncated = 1;
}

static int jpeg_decode_steps(struct jpeg_decompress_struct *cinfo, jpeg_ctx *c,
                             const unsigned char *bytes, size_t n_bytes)
{
    if (setjmp(c->jmp))
        return -1;
    jpeg_create_decompress(cinfo);
    jpeg_mem_src(cinfo, bytes, (unsigned long)n_bytes);
    jpeg_read_header(cinfo, TRUE);
    if (cinfo->jpeg_color_space == JCS_CMYK || cinfo->jpeg_color_space == JCS_YCCK) {
        c->status = eml__diag(c->diag, EML_EUNSUPPORTED, "jpeg: CMYK images are not supported");
        return -1;
    }
    cinfo->out_color_space = cinfo->num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    size_t bytes_needed;
    c->status = check_image_bytes(c->env, cinfo->image_width, cinfo->image_height,
                                  cinfo->num_components == 1 ? 1 : 3, 1, &bytes_needed, c->diag);
    if (c->status != EML_OK)
        return -1;
    jpeg_start_decompress(cinfo);
    c->img.width = cinfo->output_width;
    c->img.height = cinfo->output_height;
    c->img.channels = cinfo->output_components;
    c->img.depth = 8;
    size_t row_bytes = (size_t)c->img.width * (size_t)c->img.channels;
    if (c->img.channels != 1 && c->img.channels != 3) {
        c->status = eml__diag(c->diag, EML_EUNSUPPORTED, "jpeg: %d components", c->img.channels);
        return -1;
    }
    c->status = check_image_bytes(c->env, c->img.width, c->img.height, (uint64_t)c->img.channels,
                                  1, &bytes_needed, c->diag);
    if (c->status != EML_OK)
        return -1;
    c->img.pixels = eml__alloc(c->env, bytes_needed);
    if (!c->img.pixels) {
        c->status = eml__diag(c->diag, EML_ENOMEM, "jpeg: out of memory for %zu bytes",
                              bytes_needed);
        return -1;
    }
    while (cinfo->output_scanline < cinfo->output_height && !c->truncated) {
        JSAMPROW row = c->img.pixels + (size_t)cinfo->output_scanline * row_bytes;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1)
            break;
    }
    if (c->truncated)
        return -1;
    if (cinfo->output_scanline < cinfo->output_height) {
        c->status = eml__diag(c->diag, EML_ECORRUPT, "jpeg: stopped at row %u of %u",
                              cinfo->output_scanline, cinfo->output_height);
        return -1;
    }
    jpeg_finish_decompress(cinfo);
    return c->truncated ? -1 : 0;
}

static eml_status decode_jpeg(eml_env *env, const unsigned char *bytes, size_t n_bytes,
                              image *out, eml_diag *diag)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_ctx c;
    memset(&cinfo, 0, sizeof(cinfo));
    memset(&c, 0, sizeof(c));
    c.env = env;
    c.diag = diag;
    cinfo.err = jpeg_std_error(&c.mgr);
    c.mgr.error_exit = jpeg_on_error;
    c.mgr.emit_message = jpeg_on_message;
    int rc = jpeg_decode_steps(&cinfo, &c, bytes, n_bytes);
    jpeg_destroy_decompress(&cinfo);
    if (rc != 0) {
        eml__free(env, c.img.pixels);
        if (c.status != EML_OK)
            return c.status;
        if (c.truncated)
            return eml__diag(diag, EML_ECORRUPT, "jpeg: truncated data (%zu bytes)", n_bytes);
        return eml__diag(diag, EML_ECORRUPT, "jpeg: %s", c.error);
    }
    *out = c.img;
    return EML_OK;
}

/* ---- conversion ---- */

/* Sample c of pixel (x, y) on the 0..255 scale. */
static float sample(const image *img, size_t x, size_t y, int c)
{
    size_t i = ((size_t)y * img->width + x) * (size_t)img->channels + (size_t)c;
    if (img->depth == 16) {
        const unsigned char *p = img->pixels + 2 * i;
        return (float)((p[0] << 8) | p[1]) * (255.0f / 65535.0f);
    }
    return (float)img->pixels[i];
}

/* Channel c (of n_out) of pixel (x, y), converted from the image's own channels. Gray from color
 * uses the ITU-R BT.601 weights, as libjpeg and PIL do; alpha is 255 where the image has none. */
static float pixel_channel(const image *img, size_t x, size_t y, int c, int n_out)
{
    int color = img->channels >= 3;
    int alpha = img->channels == 2 || img->channels == 4;
    if (c == 3)
        return alpha ? sample(img, x, y, img->channels - 1) : 255.0f;
    if (!color)
        return sample(img, x, y, 0);
    if (n_out == 1)
        return 0.299f * sample(img, x, y, 0) + 0.587f * sample(img, x, y, 1) +
               0.114f * sample(img, x, y, 2);
    return sample(img, x, y, c);
}

static eml_status check_options(const eml_image_options *o, eml_diag *diag)
{
    if (o->n_channels != 0 && o->n_channels != 1 && o->n_channels != 3 && o->n_channels != 4)
        return eml__diag(diag, EML_EINVAL, "image: %d channels asked (1, 3 or 4)", o->n_channels);
    if (o->resize_h < 0 || o->resize_w < 0)
        return eml__diag(diag, EML_EINVAL, "image: negative resize %dx%d", o->resize_h,
                         o->resize_w);
    for (int c = 0; c < 4; c++)
        if (!(o->std[c] != 0.0f))
            return eml__diag(diag, EML_EINVAL, "image: std of channel %d is zero", c);
    return EML_OK;
}

static eml_status to_tensor(eml_env *env, const image *img, const eml_image_options *o,
                            eml_tensor *out, eml_diag *diag)
{
    int n_ch = o->n_channels ? o->n_channels : (img->channels >= 3 ? 3 : 1);
    uint32_t h = o->resize_h ? (uint32_t)o->resize_h : img->height;
    uint32_t w = o->resize_w ? (uint32_t)o->resize_w : img->width;
    size_t bytes;
    eml_status st = check_image_bytes(env, w, h, (uint64_t)n_ch, sizeof(float), &bytes, diag);
    if (st != EML_OK)
        return st;
    float *data = eml__alloc(env, bytes);
    if (!data)
        return eml__diag(diag, EML_ENOMEM, "image: out of memory for %zu bytes", bytes);
    for (uint32_t y = 0; y < h; y++) {
        /* Nearest neighbour by pixel centres: source = floor((dst + 0.5) * in / out). */
        size_t sy = (size_t)(((2 * (uint64_t)y + 1) * img->height) / (2 * (uint64_t)h));
        for (uint32_t x = 0; x < w; x++) {
            size_t sx = (size_t)(((2 * (uint64_t)x + 1) * img->width) / (2 * (uint64_t)w));
            for (int c = 0; c < n_ch; c++) {
                float v = pixel_channel(img, sx, sy, c, n_ch) / 255.0f;
                v = (v - o->mean[c]) / o->std[c];
                size_t at = o->nhwc ? ((size_t)y * w + x) * (size_t)n_ch + (size_t)c
                                    : ((size_t)c * h + y) * w + x;
                data[at] = v;
            }
        }
    }
    memset(out, 0, sizeof(*out));
    out->dtype = EML_DTYPE_F32;
    out->rank = 4;
    out->dims[0] = 1;
    out->dims[1] = o->nhwc ? (int64_t)h : (int64_t)n_ch;
    out->dims[2] = o->nhwc ? (int64_t)w : (int64_t)h;
    out->dims[3] = o->nhwc ? (int64_t)n_ch : (int64_t)w;
    out->data = data;
    return EML_OK;
}

eml_status eml__image_read(eml_env *env, const void *bytes, size_t n_bytes,
                           const eml_image_options *opts, eml_tensor *out, eml_diag *diag)
{
    eml_image_options defaults;
    if (!opts) {
        eml_image_options_init(&defaults);
        opts = &defaults;
    }
    memset(out, 0, sizeof(*out));
    eml_status st = check_options(opts, diag);
    if (st != EML_OK)
        return st;
    const unsigned char *b = bytes;
    image img;
    memset(&img, 0, sizeof(img));
    if (n_bytes >= 8 && png_sig_cmp(b, 0, 8) == 0)
        st = decode_png(env, b, n_bytes, &img, diag);
    else if (n_bytes >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
        st = decode_jpeg(env, b, n_bytes, &img, diag);
    else
        st = eml__diag(diag, EML_ECORRUPT, "image: not a PNG or JPEG file (unknown signature)");
    if (st != EML_OK)
        return st;
    st = to_tensor(env, &img, opts, out, diag);
    eml__free(env, img.pixels);
    return st;
}
