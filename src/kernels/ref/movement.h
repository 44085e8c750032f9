/* Data-movement and generator ops (Reshape ... SpaceToDepth): params, the shared resolution of
 * value-dependent arguments (Slice, Pad), and the prepare/infer/kernel functions of ops.def. */
#ifndef EML_KERNELS_REF_MOVEMENT_H
#define EML_KERNELS_REF_MOVEMENT_H

#include "kernels/kernel.h"

/* The op contexts are defined by graph/op.h; kernels only pass pointers to them along. */
struct eml_prepare_ctx;
struct eml_infer_ctx;

/* Most entries of Split's `split` attribute kept in its params (the graph side checks that every
 * struct fits the params block with EML_PARAMS_FIT); the split input of opset 13 has no limit. */
#define EML_MOVEMENT_SPLIT_MAX 120

/* ---- params ---- */

typedef struct eml_reshape_params {
    int32_t from_attr; /* opset < 5: the shape is an attribute */
    int32_t allowzero; /* opset 14: 0 in the shape means a literal 0 */
    int32_t shape_count;
    int64_t shape[EML_MAX_RANK];
} eml_reshape_params;

typedef struct eml_flatten_params {
    int64_t axis;
} eml_flatten_params;

/* Squeeze and Unsqueeze. */
typedef struct eml_axes_params {
    int32_t count; /* -1: no axes attribute (opset 13+: input 1, or none) */
    int64_t axes[EML_MAX_RANK];
} eml_axes_params;

typedef struct eml_dropout_params {
    float ratio;   /* opset < 12; at 12+ it is input 1 */
    uint32_t seed; /* training mode's mask stream (NumPy's MT19937 seeded so); 0 when absent */
} eml_dropout_params;

typedef struct eml_transpose_params {
    int32_t perm_count; /* -1: reverse the axes */
    int64_t perm[EML_MAX_RANK];
} eml_transpose_params;

typedef struct eml_axis_params {
    int64_t axis;
} eml_axis_params; /* Concat, Gather, GatherElements, OneHot */

typedef struct eml_split_params {
    int64_t axis;
    int32_t split_count; /* -1: no split attribute */
    int64_t split[EML_MOVEMENT_SPLIT_MAX];
} eml_split_params;

typedef struct eml_slice_params {
    int32_t from_attrs; /* opset < 10: starts/ends/axes are attributes */
    int32_t count;      /* entries of starts/ends */
    int32_t axes_count; /* -1: axes absent */
    int64_t starts[EML_MAX_RANK];
    int64_t ends[EML_MAX_RANK];
    int64_t axes[EML_MAX_RANK];
} eml_slice_params;

typedef enum eml_pad_mode {
    EML_PAD_CONSTANT = 0,
    EML_PAD_REFLECT = 1,
    EML_PAD_EDGE = 2
} eml_pad_mode;

typedef struct eml_pad_params {
    int32_t mode;       /* eml_pad_mode */
    int32_t from_attrs; /* opset < 11: pads and value are attributes */
    int32_t pads_count;
    float value;
    int64_t pads[2 * EML_MAX_RANK];
} eml_pad_params;

typedef struct eml_depth_space_params {
    int64_t blocksize;
    int32_t to_space; /* DepthToSpace: 1, SpaceToDepth: 0 */
    int32_t crd;      /* DepthToSpace mode CRD (else DCR) */
} eml_depth_space_params;

typedef struct eml_shape_params {
    int64_t start;
    int64_t end;
    int32_t has_end;
} eml_shape_params;

typedef struct eml_constant_of_shape_params {
    eml_dtype dtype;
    uint8_t value[8]; /* one element of dtype */
} eml_constant_of_shape_params;

typedef struct eml_constant_params {
    eml_dtype dtype;
    int32_t rank;
    int64_t dims[EML_MAX_RANK];
    const void *data; /* borrowed from the node's attribute (the graph outlives its plans) */
} eml_constant_params;

typedef struct eml_eye_like_params {
    eml_dtype dtype; /* UNDEFINED: the input's */
    int64_t k;
} eml_eye_like_params;

typedef struct eml_trilu_params {
    int32_t upper;
} eml_trilu_params;

/* First and end (exclusive) dim of input rank `rank` that Shape reports, clamped as opset 15 says.
 */
static inline void eml__shape_bounds(const eml_shape_params *p, int rank, int64_t *first,
                                     int64_t *last)
{
    int64_t s = p->start < 0 ? p->start + rank : p->start;
    int64_t e = p->has_end ? (p->end < 0 ? p->end + rank : p->end) : rank;
    s = EML_MIN(EML_MAX(s, 0), rank);
    e = EML_MIN(EML_MAX(e, 0), rank);
    *first = s;
    *last = EML_MAX(e, s);
}

/* ---- value-dependent arguments, resolved the same way by infer and by the kernel ---- */

/* Slice of `data`: first index and step per axis of data, and the output shape. */
typedef struct eml_slice_plan {
    int64_t start[EML_MAX_RANK];
    int64_t step[EML_MAX_RANK];
    int64_t dims[EML_MAX_RANK];
} eml_slice_plan;

/* Reads starts/ends/axes/steps from the params (opset < 10) or from inputs 1-4 (their data must
 * be present) and clamps them as ONNX specifies. EML_ESHAPE / EML_ETYPE / EML_EGRAPH with a message
 * in err on an invalid slice. */
eml_status eml__slice_resolve(const eml_slice_params *p, const eml_tensor *inputs, int32_t n_inputs,
                              eml_slice_plan *plan, char *err, size_t err_cap);

/* Pads at the beginning and end of each axis of input 0, from the params (opset < 11) or input 1
 * (its data must be present). EML_ESHAPE with a message in err when invalid. */
eml_status eml__pad_resolve(const eml_pad_params *p, const eml_tensor *inputs, int32_t n_inputs,
                            int64_t *begin, int64_t *end, char *err, size_t err_cap);

/* Elements of t that are not zero (-0.0 counts as zero, NaN does not): NonZero's output length. */
int64_t eml__nonzero_count(const eml_tensor *t);

/* True when input i is absent from the node (an omitted optional input). */
static inline bool eml__movement_absent(const eml_tensor *inputs, int32_t n_inputs, int32_t i)
{
    return i >= n_inputs || inputs[i].dtype == EML_DTYPE_UNDEFINED;
}

/* Copies n elements of es bytes from src (every src_stride elements) to dense dst. */
static inline void eml__copy_strided(void *dst, const void *src, int64_t n, int64_t src_stride,
                                     size_t es)
{
    uint8_t *d = dst;
    const uint8_t *s = src;
    int64_t step = src_stride * (int64_t)es;
    /* fixed-size memcpy compiles to one load and store per element */
    switch (es) {
    case 1:
        for (int64_t i = 0; i < n; i++)
            d[i] = s[i * step];
        break;
    case 2:
        for (int64_t i = 0; i < n; i++)
            memcpy(d + 2 * i, s + i * step, 2);
        break;
    case 4:
        for (int64_t i = 0; i < n; i++)
            memcpy(d + 4 * i, s + i * step, 4);
        break;
    case 8:
        for (int64_t i = 0; i < n; i++)
            memcpy(d + 8 * i, s + i * step, 8);
        break;
    default:
        for (int64_t i = 0; i < n; i++)
            memcpy(d + (size_t)i * es, s + i * step, es);
        break;
    }
}

/* Writes the elements of a strided view densely into out: element (i0, i1, ...) of the view is at
 * in + sum(i_d * src_strides[d]) elements (strides may be negative); rank <= EML_MAX_RANK. */
void eml__copy_strided_nd(void *out, const void *in, const int64_t *out_dims,
                          const int64_t *src_strides, int rank, size_t es);

/* Advances a row-major multi-index over dims[0..rank) by one; false after the last. */
static inline bool eml__index_next(int64_t *index, const int64_t *dims, int rank)
{
    for (int d = rank - 1; d >= 0; d--) {
        if (++index[d] < dims[d])
            return true;
        index[d] = 0;
    }
    return false;
}

/* ---- the op functions named in ops.def ---- */

#define EML_MOVEMENT_OP(prepare, infer)                                                            \
    eml_status prepare(struct eml_prepare_ctx *ctx);                                               \
    eml_status infer(struct eml_infer_ctx *ctx);

EML_MOVEMENT_OP(eml__reshape_prepare, eml__reshape_infer)
EML_MOVEMENT_OP(eml__flatten_prepare, eml__flatten_infer)
EML_MOVEMENT_OP(eml__squeeze_prepare, eml__squeeze_infer)
EML_MOVEMENT_OP(eml__unsqueeze_prepare, eml__unsqueeze_infer)
EML_MOVEMENT_OP(eml__identity_prepare, eml__identity_infer)
EML_MOVEMENT_OP(eml__dropout_prepare, eml__dropout_infer)
EML_MOVEMENT_OP(eml__transpose_prepare, eml__transpose_infer)
EML_MOVEMENT_OP(eml__concat_prepare, eml__concat_infer)
EML_MOVEMENT_OP(eml__split_prepare, eml__split_infer)
EML_MOVEMENT_OP(eml__slice_prepare, eml__slice_infer)
EML_MOVEMENT_OP(eml__gather_prepare, eml__gather_infer)
EML_MOVEMENT_OP(eml__tile_prepare, eml__tile_infer)
EML_MOVEMENT_OP(eml__pad_prepare, eml__pad_infer)
EML_MOVEMENT_OP(eml__depth_space_prepare, eml__depth_space_infer)
EML_MOVEMENT_OP(eml__shape_prepare, eml__shape_infer)
EML_MOVEMENT_OP(eml__size_prepare, eml__size_infer)
EML_MOVEMENT_OP(eml__constant_of_shape_prepare, eml__constant_of_shape_infer)
EML_MOVEMENT_OP(eml__constant_prepare, eml__constant_infer)
EML_MOVEMENT_OP(eml__range_prepare, eml__range_infer)
EML_MOVEMENT_OP(eml__eye_like_prepare, eml__eye_like_infer)
EML_MOVEMENT_OP(eml__one_hot_prepare, eml__one_hot_infer)
EML_MOVEMENT_OP(eml__nonzero_prepare, eml__nonzero_infer)
EML_MOVEMENT_OP(eml__trilu_prepare, eml__trilu_infer)
#undef EML_MOVEMENT_OP

/* GatherElements shares Gather's prepare. */
eml_status eml__gather_elements_infer(struct eml_infer_ctx *ctx);

/* Reference kernels (type-generic: they move elements by size). */
eml_status eml__ref_copy(const eml_kernel_ctx *ctx);
eml_status eml__ref_dropout(const eml_kernel_ctx *ctx);
eml_status eml__ref_transpose(const eml_kernel_ctx *ctx);
eml_status eml__ref_concat(const eml_kernel_ctx *ctx);
eml_status eml__ref_split(const eml_kernel_ctx *ctx);
eml_status eml__ref_slice(const eml_kernel_ctx *ctx);
eml_status eml__ref_gather(const eml_kernel_ctx *ctx);
eml_status eml__ref_gather_elements(const eml_kernel_ctx *ctx);
eml_status eml__ref_tile(const eml_kernel_ctx *ctx);
eml_status eml__ref_pad(const eml_kernel_ctx *ctx);
eml_status eml__ref_depth_space(const eml_kernel_ctx *ctx);
eml_status eml__ref_shape(const eml_kernel_ctx *ctx);
eml_status eml__ref_size(const eml_kernel_ctx *ctx);
eml_status eml__ref_constant_of_shape(const eml_kernel_ctx *ctx);
eml_status eml__ref_constant(const eml_kernel_ctx *ctx);
eml_status eml__ref_range(const eml_kernel_ctx *ctx);
eml_status eml__ref_eye_like(const eml_kernel_ctx *ctx);
eml_status eml__ref_one_hot(const eml_kernel_ctx *ctx);
eml_status eml__ref_nonzero(const eml_kernel_ctx *ctx);
eml_status eml__ref_trilu(const eml_kernel_ctx *ctx);

#endif
