/* f32 channels-last micro-kernels (depthwise convolution and pooling rows, global average), one
 * table per ISA, vectorized over channels; listed best first in src/kernels/lists/f32_nhwc.inc.
 * The NhwcConv and Nhwc pool fast kernels (nhwc_conv.c, nhwc_pool.c) run them. */
#ifndef EML_KERNELS_F32_NHWC_H
#define EML_KERNELS_F32_NHWC_H

#include "core/core.h"
#include "core/cpu.h"

/* One output row of a windowed op on x [.., H, W, C]: the kernel rows that fall inside the input
 * (the caller leaves out those in the padding; there may be none) and, along W, every column of
 * the row. */
typedef struct eml_f32_nhwc_row {
    size_t channels;       /* C */
    size_t in_w;           /* W */
    size_t out_w;          /* output columns, all computed */
    size_t kernel_w;       /* taps along W */
    size_t stride_w;
    size_t dilation_w;
    int64_t pad_left;      /* padding before column 0 */
    size_t rows;           /* kernel rows inside the input (0: x is not read) */
    const float *x;        /* column 0, channel 0 of the first of them */
    size_t x_row_stride;   /* floats from one of them to the next */
    float *y;              /* the output row, [out_w][C] */
} eml_f32_nhwc_row;

/* Depthwise convolution (group = C, one filter per channel): y = clamp(bias + sum of taps).
 * w: packed weights of the first kernel row given (see eml__f32_dwconv_pack), w_row_stride floats
 * from one kernel row to the next; bias: cp floats. Each output sums bias first, then kernel row
 * by row, tap by tap (fused multiply-adds in the SIMD variants). */
typedef struct eml_f32_dwconv_args {
    eml_f32_nhwc_row row;
    const float *w;
    size_t w_row_stride;
    const float *bias;
    size_t cp;             /* floats per packed tap: C rounded up to the table's channel tile */
    float min, max;
} eml_f32_dwconv_args;
typedef void (*eml_f32_dwconv_fn)(const eml_f32_dwconv_args *args);

/* MaxPool / AveragePool. Max: the largest tap (NaN taps skipped, -inf for an empty window).
 * Average: the sum of the taps over the divisor: count_include_pad ? pad_rows * (the window's
 * columns up to the end padding) : rows * (its columns inside the input). */
typedef struct eml_f32_pool_args {
    eml_f32_nhwc_row row;
    size_t in_w_padded;         /* W + end padding: where count_include_pad stops counting */
    int64_t pad_rows;           /* rows count_include_pad counts */
    int32_t count_include_pad;
} eml_f32_pool_args;
typedef void (*eml_f32_pool_fn)(const eml_f32_pool_args *args);

/* y[c] = mean of x[i * channels + c] over i < pixels (pixels >= 1). */
typedef void (*eml_f32_global_avg_fn)(size_t channels, size_t pixels, const float *x, float *y);

/* y[i] = clamp(y[i] + z[i], min, max) for i < n (z NULL: no addition): a conv's residual and a
 * clamping activation (Relu, Clip), NaN passing through as in the reference. */
typedef void (*eml_f32_residual_clamp_fn)(size_t n, float *y, const float *z, float min,
                                          float max);

/* Winograd F(4x4, 3x3) transforms, vectorized over channels (kernels/fast_nhwc_conv_winograd.c).
 * Input: d, the 6 x 6 input pixels under one tile (row-major, each C floats; the zero row in the
 * padding) -> v[xi * v_stride + c] = (B^T d B)[xi] for the 36 points xi. */
typedef void (*eml_f32_wino_input_fn)(size_t C, const float *const d[36], float *v,
                                      size_t v_stride);
/* Output: m[xi * m_stride + c] (the 36 products' sums) -> the 4 x 4 pixels A^T m A, plus bias,
 * plus the residual at z[i] when z is non-NULL, clamped to [min, max], stored at y[i] (row-major;
 * a NULL y[i] is outside the image and skipped). */
typedef void (*eml_f32_wino_output_fn)(size_t C, const float *m, size_t m_stride,
                                       const float *bias, float *const y[16],
                                       const float *const z[16], float min, float max);

/* A convolution that reads its input planar and writes channels-last: an RGB stem, whose three
 * input channels would make a channels-last copy of the image cost about what the conv gains from
 * it, and leave the GEMM a K of 27. One output row: for o < out_channels,
 * y[ow * out_channels + o] = clamp(bias[o] + sum over r < rows, kw < kernel_w of
 * x[r][ow * stride_w + kw - pad_left] * w[o][r][kw]), summed in that order (fused multiply-adds in
 * the SIMD variants), where row r is input channel r / kernel_h under kernel row r % kernel_h
 * (OIHW order). Taps left or right of the input row count as zeros; a NULL row (in the padding)
 * adds nothing. rows * kernel_w is at most EML_PLANAR_MAX_TAPS. */
#define EML_PLANAR_MAX_TAPS 1024
typedef struct eml_f32_planar_conv_args {
    size_t rows;           /* input channels * kernel rows */
    const float *const *x; /* x[r]: in_w floats, or NULL */
    size_t in_w, out_w, kernel_w, stride_w;
    int64_t pad_left;
    size_t out_channels;
    const float *w; /* panels of the table's planar_panel channels, packed as eml__f32_gemm_pack
                       packs [out_channels, rows * kernel_w] weights with their bias */
    float *y;
    float min, max;
} eml_f32_planar_conv_args;
typedef void (*eml_f32_planar_conv_fn)(const eml_f32_planar_conv_args *args);

typedef struct eml_f32_nhwc_ops {
    const char *isa_name;
    uint32_t isa;            /* EML_ISA_* it needs */
    uint32_t channel_tile;   /* packed depthwise weights round C up to this */
    eml_f32_dwconv_fn dwconv;
    eml_f32_pool_fn maxpool;
    eml_f32_pool_fn avgpool;
    eml_f32_global_avg_fn global_avg;
    eml_f32_residual_clamp_fn residual_clamp;
    eml_f32_wino_input_fn wino_input;
    eml_f32_wino_output_fn wino_output;
    uint32_t planar_panel; /* output channels per packed panel of planar_conv's weights */
    eml_f32_planar_conv_fn planar_conv;
} eml_f32_nhwc_ops;

#define EML_NHWC_UKERNELS(isa, table) extern const eml_f32_nhwc_ops table;
#include "kernels/lists/f32_nhwc.inc"
#undef EML_NHWC_UKERNELS

/* Every table built for this architecture, best first, the portable one last. */
const eml_f32_nhwc_ops *const *eml__f32_nhwc_tables(size_t *count);
/* The first listed table whose features are present (EML_ISA caps them); never NULL. */
const eml_f32_nhwc_ops *eml__f32_nhwc_select(void);

/* Floats of packed depthwise weights for C channels and kh × kw taps: kh * kw * cp weights then
 * cp biases, cp = C rounded up to tile. */
size_t eml__f32_dwconv_packed_floats(size_t channels, size_t kh, size_t kw, size_t tile);
/* Packs ONNX depthwise weights w [C, 1, kh, kw] and bias (C floats or NULL) into packed:
 * packed[(i * kw + j) * cp + c] = w[c][0][i][j], zeros past C. */
void eml__f32_dwconv_pack(size_t channels, size_t kh, size_t kw, size_t tile, const float *w,
                          const float *bias, float *packed);

#endif
