/* Fuzz target: the ONNX TensorProto (.pb) reader on arbitrary bytes. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    eml_env *env = fuzz_env();
    if (!env)
        return 0;
    eml_tensor t;
    eml_diag diag;
    char name[64];
    eml_diag_init(&diag);
    if (eml_tensor_read_pb(env, data, size, &t, name, sizeof(name), &diag) == EML_OK) {
        volatile unsigned char sum = 0;
        const unsigned char *p = t.data;
        for (size_t i = 0; i < eml_tensor_bytes(&t); i++)
            sum ^= p[i];
        (void)sum;
        eml_tensor_free(env, &t);
    }
    return 0;
}
