/* Fashion-MNIST for the tests: where Debian's dataset-fashion-mnist puts it, a skip when it is
 * missing, and its images as float32 pixel/255 tensors the models take. */
#ifndef EML_TEST_FASHION_UTIL_H
#define EML_TEST_FASHION_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "edgeml/edgeml.h"
#include "harness.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"
#define FASHION_TEST_IMAGES FASHION_DIR "/t10k-images-idx3-ubyte.gz"
#define FASHION_TEST_LABELS FASHION_DIR "/t10k-labels-idx1-ubyte.gz"
#define FASHION_TRAIN_IMAGES FASHION_DIR "/train-images-idx3-ubyte.gz"

/* Skips the test when the package is not installed. */
static inline void fashion_require(void)
{
    if (access(FASHION_TEST_IMAGES, R_OK) != 0 || access(FASHION_TEST_LABELS, R_OK) != 0)
        eml_test_skip("dataset-fashion-mnist is not installed");
}

/* n images from `first` of an IDX image file as float32 [n,28,28] (rank 3) or [n,1,28,28]
 * (rank 4) = pixel/255, each passed through `shift` when given. Data malloc'd: free(t.data). */
static inline eml_tensor fashion_images(eml_env *env, const char *path, int64_t first, int64_t n,
                                        int rank, float (*shift)(float))
{
    fashion_require();
    eml_diag d;
    eml_diag_init(&d);
    eml_tensor raw;
    REQUIRE_OK(eml_tensor_read_idx(env, path, &raw, &d), &d);
    REQUIRE(raw.dtype == EML_DTYPE_U8 && raw.rank == 3 && first >= 0 && n > 0 &&
            raw.dims[0] >= first + n && (rank == 3 || rank == 4));
    int64_t h = raw.dims[1], w = raw.dims[2];
    eml_tensor t = {EML_DTYPE_F32, rank, {n, h, w}, NULL};
    if (rank == 4) {
        t.dims[1] = 1;
        t.dims[2] = h;
        t.dims[3] = w;
    }
    int64_t count = n * h * w;
    float *x = malloc((size_t)count * sizeof(float));
    REQUIRE(x);
    const uint8_t *px = (const uint8_t *)raw.data + first * h * w;
    for (int64_t i = 0; i < count; i++) {
        float v = px[i] / 255.0f;
        x[i] = shift ? shift(v) : v;
    }
    t.data = x;
    eml_tensor_free(env, &raw);
    return t;
}

/* The first n test labels (uint8 [n]); free with eml_tensor_free(env, &t). */
static inline eml_tensor fashion_labels(eml_env *env, int64_t n)
{
    fashion_require();
    eml_diag d;
    eml_diag_init(&d);
    eml_tensor t;
    REQUIRE_OK(eml_tensor_read_idx(env, FASHION_TEST_LABELS, &t, &d), &d);
    REQUIRE(t.rank == 1 && n > 0 && t.dims[0] >= n);
    t.dims[0] = n;
    return t;
}

#endif
