/* What the examples share: the site they open, the bundled model, Fashion-MNIST test images.
 * Each example takes [MODEL.onnx [DATA_DIR]] and keeps its site under $EDGEML_HOME (set it to a
 * scratch folder to try them; CI does). */
#ifndef EDGEML_EXAMPLES_COMMON_H
#define EDGEML_EXAMPLES_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edgeml/edgeml.h"

#define SITE "factory-edge-01"

/* Exit status that tells CTest the example was skipped (no data set installed). */
#define EXAMPLE_SKIP 77

__attribute__((unused)) static const char *model_path = "models/fashion_cnn/model.onnx";
__attribute__((unused)) static const char *data_dir = "/usr/share/datasets/fashion-mnist";

static inline void example_args(int argc, char **argv)
{
    if (argc > 1)
        model_path = argv[1];
    if (argc > 2)
        data_dir = argv[2];
}

/* Prints the status and its message, and exits. */
static inline void die(const char *what, eml_status st, const eml_diag *d)
{
    fprintf(stderr, "%s: %s: %s\n", what, eml_status_name(st),
            d && d->message[0] ? d->message : eml_status_str(st));
    exit(1);
}

#define TRY(what, expr)                                                                            \
    do {                                                                                           \
        eml_status st_ = (expr);                                                                   \
        if (st_ != EML_OK)                                                                         \
            die(what, st_, &diag);                                                                 \
    } while (0)

/* EdgeMLManager("factory-edge-01"): the site, created on first use under $EDGEML_HOME. */
static inline eml_manager *open_site(void)
{
    eml_manager *m = NULL;
    eml_diag diag;
    eml_diag_init(&diag);
    TRY("open the site", eml_manager_open(SITE, NULL, &m, &diag));
    return m;
}

/* The descriptor of the bundled Fashion-MNIST classifier. */
static inline eml_model_descriptor fashion_descriptor(const char *id, const char *file)
{
    eml_model_descriptor desc;
    eml_model_descriptor_init(&desc);
    desc.id = id;
    desc.name = "Fashion-MNIST CNN";
    desc.type = "classification";
    desc.file = file;
    desc.input_rank = 4;
    desc.input_shape[0] = 1;
    desc.input_shape[1] = 1;
    desc.input_shape[2] = 28;
    desc.input_shape[3] = 28;
    desc.output_rank = 2;
    desc.output_shape[0] = 1;
    desc.output_shape[1] = 10;
    return desc;
}

/* Deploys the bundled model as "fashion_cnn" on the local node unless a node serves it. */
static inline void ensure_deployed(eml_manager *m)
{
    eml_model_info info;
    if (eml_manager_model(m, "fashion_cnn", &info, NULL) == EML_OK && info.nodes_serving > 0)
        return;
    eml_diag diag;
    eml_diag_init(&diag);
    eml_model_descriptor desc = fashion_descriptor("fashion_cnn", model_path);
    eml_deploy_result r;
    TRY("deploy", eml_manager_deploy(m, &desc, "local", &r, &diag));
    printf("deployed fashion_cnn: site version %u, node version %u\n", r.version, r.node_version);
}

/* The first `count` Fashion-MNIST test images as float32 [count,28,28] = pixel/255 (malloc'd)
 * and their labels (uint8, malloc'd). Exits with EXAMPLE_SKIP when the data set is missing. */
static inline void test_images(size_t count, const char *split, eml_tensor *images,
                               uint8_t **labels)
{
    eml_env *env = NULL;
    eml_diag diag;
    eml_diag_init(&diag);
    char path[1024];
    eml_tensor raw, lab;
    TRY("env", eml_env_create(NULL, &env));
    snprintf(path, sizeof(path), "%s/%s-images-idx3-ubyte.gz", data_dir, split);
    if (eml_tensor_read_idx(env, path, &raw, &diag) != EML_OK) {
        fprintf(stderr, "skipped: %s\n", diag.message);
        exit(EXAMPLE_SKIP);
    }
    snprintf(path, sizeof(path), "%s/%s-labels-idx1-ubyte.gz", data_dir, split);
    TRY("labels", eml_tensor_read_idx(env, path, &lab, &diag));
    if ((int64_t)count > raw.dims[0])
        count = (size_t)raw.dims[0];
    float *px = malloc(count * 784 * sizeof(float));
    *labels = malloc(count);
    if (!px || !*labels)
        die("images", EML_ENOMEM, NULL);
    for (size_t k = 0; k < count * 784; k++)
        px[k] = ((const uint8_t *)raw.data)[k] / 255.0f;
    memcpy(*labels, lab.data, count);
    eml_tensor_free(env, &raw);
    eml_tensor_free(env, &lab);
    eml_env_destroy(env);
    eml_tensor t = {EML_DTYPE_F32, 3, {(int64_t)count, 28, 28}, px};
    *images = t;
}

/* The file of a site model's latest version: <site>/artifacts/<sha256>.onnx. */
static inline const char *artifact_path(eml_manager *m, const char *id, char *buf, size_t cap)
{
    eml_model_info info;
    eml_diag diag;
    eml_diag_init(&diag);
    TRY("model", eml_manager_model(m, id, &info, &diag));
    snprintf(buf, cap, "%s/artifacts/%s.onnx", eml_manager_site_dir(m), info.sha256);
    return buf;
}

__attribute__((unused)) static const char *const class_names[10] = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

#endif
