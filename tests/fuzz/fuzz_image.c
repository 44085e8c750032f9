/* Fuzz target: PNG and JPEG bytes through the image decoders and the conversion to tensors
 * (as stored, and converted to gray with a resize and NHWC). */
#include "formats/image.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    eml_env *env = fuzz_env();
    if (!env)
        return 0;
    eml_image_options opts[2];
    eml_image_options_init(&opts[0]);
    eml_image_options_init(&opts[1]);
    opts[1].n_channels = 1;
    opts[1].nhwc = 1;
    opts[1].resize_h = 7;
    opts[1].resize_w = 5;
    for (int i = 0; i < 2; i++) {
        eml_tensor t;
        eml_diag diag;
        eml_diag_init(&diag);
        if (eml__image_read(env, data, size, &opts[i], &t, &diag) == EML_OK)
            eml_tensor_free(env, &t);
    }
    return 0;
}
