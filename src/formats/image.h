/* Image decoding (PNG, JPEG) into float tensors, used by eml_tensor_read_file. */
#ifndef EML_FORMATS_IMAGE_H
#define EML_FORMATS_IMAGE_H

#include "core/core.h"
#include "edgeml/io.h"

/* Decodes a PNG or JPEG held in memory (recognized by its signature, not by a file name) and
 * converts it as eml_image_options says. bytes: borrowed. out->data is taken from env.
 * Returns EML_OK, EML_EINVAL (options), EML_ECORRUPT, EML_EUNSUPPORTED (CMYK JPEG),
 * EML_ELIMIT (image larger than the env's allocation limit), EML_ENOMEM. */
eml_status eml__image_read(eml_env *env, const void *bytes, size_t n_bytes,
                           const eml_image_options *opts, eml_tensor *out, eml_diag *diag);

#endif
