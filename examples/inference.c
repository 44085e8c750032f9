/* Running inference: classify Fashion-MNIST test images on the site's node "local" and print
 * each predicted class, its label, and the inference time the node measured. */
#include "common.h"

int main(int argc, char **argv)
{
    example_args(argc, argv);
    eml_diag diag;
    eml_diag_init(&diag);
    eml_tensor images;
    uint8_t *labels = NULL;
    test_images(10, "t10k", &images, &labels);
    eml_manager *m = open_site();
    ensure_deployed(m);

    int right = 0;
    double total_ms = 0;
    for (int i = 0; i < 10; i++) {
        eml_tensor one = {EML_DTYPE_F32, 4, {1, 1, 28, 28}, (float *)images.data + i * 784};
        eml_infer_result r;
        TRY("infer", eml_manager_infer(m, "local", "fashion_cnn", &one, 1, &r, &diag));
        const float *scores = r.outputs[0].tensor.data;
        int best = 0;
        for (int k = 1; k < 10; k++)
            if (scores[k] > scores[best])
                best = k;
        right += best == labels[i];
        total_ms += r.inference_ms;
        printf("image %d: %-11s (label %-11s) %s v%u on %s: %.3f ms\n", i, class_names[best],
               class_names[labels[i]], r.model, r.version, r.node, r.inference_ms);
        eml_infer_result_deinit(&r);
    }
    printf("%d of 10 right; mean inference time %.3f ms (measured on the node)\n", right,
           total_ms / 10);
    free(images.data);
    free(labels);
    eml_manager_close(m);
    return right >= 7 ? 0 : 1;
}
