/* Resize (opsets 10, 11, 13) and Upsample (opsets 7, 9): params, the geometry shared by infer and
 * the kernel, and the prepare/infer/kernel functions that ops.def names. */
#ifndef EML_KERNELS_REF_RESIZE_H
#define EML_KERNELS_REF_RESIZE_H

#include "graph/op.h"

typedef enum eml_resize_mode {
    EML_RESIZE_NEAREST = 0,
    EML_RESIZE_LINEAR = 1,
    EML_RESIZE_CUBIC = 2
} eml_resize_mode;

/* How an output coordinate maps back onto the input (coordinate_transformation_mode). */
typedef enum eml_resize_coord {
    EML_RESIZE_HALF_PIXEL = 0,
    EML_RESIZE_PYTORCH_HALF_PIXEL = 1,
    EML_RESIZE_ALIGN_CORNERS = 2,
    EML_RESIZE_ASYMMETRIC = 3,
    EML_RESIZE_TF_HALF_PIXEL_FOR_NN = 4,
    EML_RESIZE_TF_CROP_AND_RESIZE = 5
} eml_resize_coord;

/* How nearest mode picks an input index (nearest_mode). SIMPLE is the rule before opset 11
 * (Upsample, Resize-10), as ONNX Runtime implements it: floor when upsampling an axis, ceil when
 * downsampling it. */
typedef enum eml_resize_nearest {
    EML_RESIZE_ROUND_PREFER_FLOOR = 0,
    EML_RESIZE_ROUND_PREFER_CEIL = 1,
    EML_RESIZE_FLOOR = 2,
    EML_RESIZE_CEIL = 3,
    EML_RESIZE_SIMPLE = 4
} eml_resize_nearest;

typedef struct eml_resize_params {
    int32_t mode;           /* eml_resize_mode */
    int32_t coord;          /* eml_resize_coord */
    int32_t nearest;        /* eml_resize_nearest */
    int32_t exclude_outside;
    float cubic_coeff_a;
    float extrapolation_value;
    /* Which input holds what in this op version; -1 when the version has no such input. */
    int32_t roi_input, scales_input, sizes_input;
    /* Upsample-7: the scales attribute (count -1 otherwise). */
    int32_t attr_scales_count;
    float attr_scales[EML_MAX_RANK];
} eml_resize_params;
EML_PARAMS_FIT(eml_resize_params);

/* Where the output size comes from, found among the inputs. A present but empty tensor counts
 * as absent (Resize-11 requires a `scales` input even when `sizes` is used). */
typedef struct eml_resize_sources {
    const eml_tensor *scales; /* NULL: none (or the Upsample-7 attribute, see params) */
    const eml_tensor *sizes;  /* NULL: none */
    const eml_tensor *roi;    /* NULL: none (the whole input) */
} eml_resize_sources;

void eml__resize_sources(const eml_resize_params *p, const eml_tensor *inputs, int32_t n_inputs,
                         eml_resize_sources *out);

/* One tap table entry per output coordinate of each axis; infer asks for scratch of
 * eml__resize_scratch_bytes(output) for these tables. */
size_t eml__resize_scratch_bytes(const eml_tensor *output);

eml_status eml__resize_prepare(eml_prepare_ctx *ctx);
eml_status eml__resize_infer(eml_infer_ctx *ctx);
eml_status eml__ref_resize(const eml_kernel_ctx *ctx);

#endif
