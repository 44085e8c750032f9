/* Internals of the fast NhwcConv kernel shared by its files: fast_nhwc_conv.c (selection and
 * weight packing at plan time, scratch sizing, the epilogue, depthwise convs and the dispatch),
 * fast_nhwc_conv_gemm.c (the GEMM paths: a 1x1 conv's direct GEMM, im2col rows, and the indirect
 * GEMM), fast_nhwc_conv_winograd.c (3x3 stride-1 convs as Winograd F(4x4, 3x3)) and
 * fast_nhwc_conv_planar.c (NhwcConvFromNchw: a stem reading the planar input). */
#ifndef EML_KERNELS_FAST_NHWC_CONV_H
#define EML_KERNELS_FAST_NHWC_CONV_H

#include "kernels/f32_igemm.h"
#include "kernels/fast_nhwc.h"
#include "kernels/ref/nhwc.h"
#include "kernels/velementwise.h"

/* The output block of one GEMM task stays in L2 for the epilogue (residual, activation). */
#define NHWC_BLOCK_OUT_BYTES ((size_t)128 << 10)
/* The im2col rows of one task: in L2 while the GEMM sweeps them. */
#define NHWC_BLOCK_COL_BYTES ((size_t)192 << 10)
/* Pixel blocks are cut so that a conv has about this many, for the pool to balance. */
#define NHWC_BLOCKS_WANTED 32
/* Packed weights (of one group) past this are too big to stream again for each pixel block: the
 * conv then splits over output channels instead, each block taking every pixel. */
#define NHWC_WIDE_WEIGHT_BYTES ((size_t)512 << 10)
/* ... as long as the im2col rows of every pixel fit this scratch. */
#define NHWC_WIDE_COL_BYTES ((size_t)8 << 20)
/* Wide weights up to this size are swept once by each thread down its own share of the pixels
 * (they come from the shared L3); bigger ones are split over output channels. */
#define NHWC_WIDE_ROWS_BYTES ((size_t)4 << 20)
/* Output-channel blocks of a wide conv. */
#define NHWC_WIDE_BLOCKS_WANTED 16
/* Fewer input channels per group than this make the indirect GEMM's per-tap pointer loads
 * weigh: the conv gathers im2col rows instead (an RGB stem). */
#define NHWC_IGEMM_MIN_CHANNELS 8
/* Weights of one panel's block of taps that the indirect GEMM sweeps down the rows: they stay in
 * L2 while they are reused, and the next block streams in meanwhile. */
#define NHWC_IGEMM_BLOCK_BYTES ((size_t)128 << 10)
/* Winograd F(4x4, 3x3) takes 3x3 stride-1 convs with at least this many input and output
 * channels (fewer: the transforms outweigh the 4x fewer multiply-adds) ... */
#define NHWC_WINO_MIN_CHANNELS 16
/* ... whose transformed weights (36 matrices of C x O, 4x the plain ones) stay under this: more
 * would stream from memory on every run (ResNet's 256- and 512-channel stages). */
#define NHWC_WINO_MAX_WEIGHT_BYTES ((size_t)3 << 20)
/* A block of tiles' transformed inputs and products (36 x tiles x (C + O) floats) stays in L2
 * while the 36 GEMMs sweep it. */
#define NHWC_WINO_BLOCK_BYTES ((size_t)320 << 10)
/* Floats a pointer takes in scratch. */
#define NHWC_POINTER_FLOATS ((sizeof(const float *) + sizeof(float) - 1) / sizeof(float))
/* Below this many multiply-adds a GEMM conv runs on the calling thread: waking the pool would
 * cost about what a second thread saves. */
#define NHWC_GEMM_INLINE_MACS 262144.0
/* Below this many multiply-adds a depthwise conv runs on the calling thread. */
#define NHWC_DW_INLINE_MACS 65536.0

typedef enum eml_nhwc_conv_kind {
    NHWC_CONV_DIRECT = 0,    /* 1x1, stride 1, no padding: the pixels are the GEMM's rows */
    NHWC_CONV_IM2COL = 1,    /* any other group conv: im2col rows, then the GEMM */
    NHWC_CONV_DEPTHWISE = 2, /* group = C = O */
    NHWC_CONV_IGEMM = 3,     /* any other group conv, its rows read through per-tap pointers */
    NHWC_CONV_WINOGRAD = 4,  /* 3x3 stride 1: Winograd F(4x4, 3x3), 36 GEMMs per block of tiles */
    NHWC_CONV_PLANAR = 5     /* NhwcConvFromNchw: rows of the planar input (fast_nhwc_conv_planar.c) */
} eml_nhwc_conv_kind;

typedef struct eml_nhwc_conv_state {
    eml_fused_conv_params p; /* the node's params: geometry is resolved at run time */
    int32_t kind;
    int64_t out_channels, group, cg, og, kh, kw;
    size_t kdim;                     /* GEMM K of one group: kh * kw * cg, in (kh, kw, c) order */
    size_t slots;                    /* im2col blocks in flight at once: the env's threads */
    double inline_macs;              /* smaller GEMM convs run on the calling thread */
    const eml_f32_gemm_kernel *gemm; /* direct and im2col */
    const eml_f32_igemm_kernel *igemm;
    const eml_f32_igemm_kernel *igemm_alt; /* same panels, another MR, or NULL */
    eml_f32_gemm_kernel packing;           /* the panel width the weights are packed for */
    const float *zero;                     /* igemm: a tap's zeros, read in the padding */
    /* igemm over kernel rows: one group and no dilation along W make a kernel row's taps one run
     * of kw * cg input floats, read through one pointer (or gathered, at the image's sides) */
    bool row_taps;
    size_t group_floats;            /* packed floats of one group's weights */
    size_t panel_floats;            /* packed floats of NR output channels */
    const eml_f32_nhwc_ops *ops;    /* depthwise kernel, residual and clamp */
    const eml_f32_velem_ops *velem; /* other activations; NULL: the reference's */
    bool wide;                      /* split over output channels (see NHWC_WIDE_WEIGHT_BYTES) */
    size_t cp;                      /* depthwise: channels rounded up to the table's tile */
    float min, max;                 /* the activation as a clamp, when it is one */
    bool act_is_clamp;
    void *raw;         /* allocation behind packed */
    float *packed;     /* 64-byte aligned */
    const float *bias; /* Winograd: O floats after the 36 packed matrices (zeros without one) */
    char name[64];
} eml_nhwc_conv_state;

/* What a conv computed output row by output row (depthwise, the planar stem) needs. The kernel
 * clamps when the activation is a clamp and there is no residual (min, max); otherwise they are
 * infinite and the epilogue adds the residual and applies the activation. */
typedef struct eml_nhwc_conv_row_job {
    const eml_nhwc_conv_state *s;
    const eml_conv_geom *g;
    const float *x, *z;
    float *y;
    float min, max;
    bool epilogue;
} eml_nhwc_conv_row_job;
eml_nhwc_conv_row_job eml__nhwc_conv_row_job(const eml_nhwc_conv_state *s, const eml_conv_geom *g,
                                             const float *x, const float *z, float *y);

/* Frees a conv's state (the fast kernel's destroy). */
void eml__nhwc_conv_destroy(eml_env *env, void *state);
/* Whether a fused conv's inputs suit the fast float kernels: a float32 (or not yet typed) input,
 * constant float32 OIHW weights whose O divides into the groups, and a bias of O floats or none;
 * *bias is the bias tensor or NULL. */
bool eml__nhwc_conv_inputs_ok(const eml_fast_select_ctx *ctx, const eml_tensor **bias);
/* Output pixels per GEMM task (a multiple of mr): small enough that the block's output (and
 * im2col rows) stay in cache, and several blocks per conv. A function of the shapes only. */
size_t eml__nhwc_conv_block_rows(const eml_nhwc_conv_state *s, size_t m, size_t mr);
/* True when the conv splits over output channels for m pixels (see NHWC_WIDE_WEIGHT_BYTES). */
bool eml__nhwc_conv_run_wide(const eml_nhwc_conv_state *s, size_t m);
/* n rounded up to whole 64-byte lines of floats. */
size_t eml__nhwc_conv_round_floats(size_t n);
/* N * H' * W' of an output [N, H', W', O]. */
size_t eml__nhwc_conv_out_pixels(const eml_tensor *y);
/* The indirect GEMM's taps: ks pointers per pixel to kc floats each. */
void eml__nhwc_conv_igemm_taps(const eml_nhwc_conv_state *s, size_t *ks, size_t *kc);
/* Output columns [*lo, *hi) whose kernel rows lie inside the input row (no gathering). */
void eml__nhwc_conv_inner_cols(const eml_nhwc_conv_state *s, const eml_conv_geom *g, int64_t *lo,
                               int64_t *hi);
/* Scratch floats the conv needs for geometry g (what the scratch hook reports). */
size_t eml__nhwc_conv_scratch_floats(const eml_nhwc_conv_state *s, const eml_conv_geom *g);
/* Adds the residual z (may be NULL) and applies the activation on rows × cols outputs of row
 * stride ldy, still in cache. */
void eml__nhwc_conv_epilogue(const eml_nhwc_conv_state *s, float *y, const float *z, size_t rows,
                             size_t cols, size_t ldy);

/* The GEMM paths. z: the residual or NULL. min, max: the clamp the GEMM applies (the activation
 * when it is a clamp and there is no residual). */
eml_status eml__nhwc_conv_run_gemm(const eml_kernel_ctx *ctx, const eml_nhwc_conv_state *s,
                                   const eml_conv_geom *g, const float *z, float min, float max);
/* Winograd: whether the conv qualifies; packs the 36 transformed weight matrices; the scratch
 * floats; the run (fast_nhwc_conv_winograd.c). */
bool eml__nhwc_conv_winograd_fits(const eml_fused_conv_params *p, int64_t group, int64_t cg,
                                  int64_t og, int64_t kh, int64_t kw);
eml_status eml__nhwc_conv_winograd_pack(eml_env *env, eml_nhwc_conv_state *s, const float *w,
                                        const float *bias);
size_t eml__nhwc_conv_winograd_scratch_floats(const eml_nhwc_conv_state *s);
eml_status eml__nhwc_conv_run_winograd(const eml_kernel_ctx *ctx, const eml_nhwc_conv_state *s,
                                       const eml_conv_geom *g, const float *z);
eml_status eml__nhwc_conv_run_igemm(const eml_kernel_ctx *ctx, const eml_nhwc_conv_state *s,
                                    const eml_conv_geom *g, const float *z);

#endif
