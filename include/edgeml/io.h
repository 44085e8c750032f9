/* Reading and writing tensor files: ONNX TensorProto (.pb), NumPy (.npy), images (.png/.jpg). */
#ifndef EDGEML_IO_H
#define EDGEML_IO_H

#include "edgeml/env.h"
#include "edgeml/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Readers fill `out` with data allocated from env; release it with eml_tensor_free().
 * Each checks every length and dim against the bytes present and the env's allocation limit.
 * Returns EML_OK, EML_EIO, EML_ECORRUPT, EML_EUNSUPPORTED (strings, unknown dtypes),
 * EML_ELIMIT, EML_ENOMEM; diag says what and where (byte offset). */
EML_API eml_status eml_tensor_read_pb(eml_env *env, const void *bytes, size_t n_bytes,
                                      eml_tensor *out, char *name, size_t name_cap,
                                      eml_diag *diag);
EML_API eml_status eml_tensor_read_npy(eml_env *env, const void *bytes, size_t n_bytes,
                                       eml_tensor *out, eml_diag *diag);

/* Reads a file by its extension: .pb, .npy, or an image (.png, .jpg, .jpeg).
 * Images become float32 [1,C,H,W] (layout "nchw") or [1,H,W,C] ("nhwc"), each value
 * (pixel/255 - mean[c]) / std[c]; img may be NULL for the defaults (mean 0, std 1, nchw). */
typedef struct eml_image_options {
    float mean[4];
    float std[4];
    int n_channels;     /* 0: as stored; 1: grayscale; 3: RGB */
    int nhwc;           /* 0: NCHW, 1: NHWC */
    int resize_h, resize_w; /* 0: keep; else nearest-neighbour resize to this size */
} eml_image_options;

EML_API void eml_image_options_init(eml_image_options *opts);

EML_API eml_status eml_tensor_read_file(eml_env *env, const char *path,
                                        const eml_image_options *img, eml_tensor *out,
                                        eml_diag *diag);

/* Writes a TensorProto file with the given name. Returns EML_OK, EML_EIO, EML_ENOMEM. */
EML_API eml_status eml_tensor_write_pb(eml_env *env, const eml_tensor *t, const char *name,
                                       const char *path, eml_diag *diag);
/* Writes a .npy file. Returns EML_OK, EML_EIO, EML_EUNSUPPORTED (bfloat16). */
EML_API eml_status eml_tensor_write_npy(const eml_tensor *t, const char *path, eml_diag *diag);

/* Reads an IDX file (the MNIST/Fashion-MNIST format), plain or gzip-compressed: uint8, int8,
 * int16, int32, float32 or float64 data with its dims, converted from big-endian. Returns EML_OK,
 * EML_EIO, EML_ECORRUPT (bad magic, truncated), EML_ELIMIT, EML_ENOMEM. */
EML_API eml_status eml_tensor_read_idx(eml_env *env, const char *path, eml_tensor *out,
                                       eml_diag *diag);

/* Reads a folder of images (.png, .jpg, .jpeg, in name order) into one float32 tensor
 * [N, ...] as eml_tensor_read_file converts each (img: NULL for the defaults; set a resize so
 * that images of several sizes stack). A folder of subfolders is read as one class per
 * subfolder, in name order: labels (may be NULL) then gets int32 [N] class indices; a flat
 * folder leaves labels empty (data NULL). limit: the first `limit` images; 0: all.
 * Returns EML_OK, EML_EIO, EML_EINVAL (no image), EML_ESHAPE (sizes differ), EML_ELIMIT,
 * EML_ENOMEM and the image readers' errors. Free both with eml_tensor_free(). */
EML_API eml_status eml_tensor_read_image_folder(eml_env *env, const char *dir,
                                                const eml_image_options *img, uint32_t limit,
                                                eml_tensor *images, eml_tensor *labels,
                                                eml_diag *diag);

/* Frees data taken from env by a reader and clears the view. NULL data is a no-op. */
EML_API void eml_tensor_free(eml_env *env, eml_tensor *t);

#ifdef __cplusplus
}
#endif
#endif
