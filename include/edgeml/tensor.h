/* Element types and the plain tensor view passed in and out of the library. */
#ifndef EDGEML_TENSOR_H
#define EDGEML_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edgeml/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Highest rank a tensor may have; models declaring more are refused with a clear error. */
#define EML_MAX_RANK 8

/* One list of element types: value (ONNX TensorProto.DataType), suffix, C type, size, name.
 * Values equal ONNX's so that files map one to one; append-only. STRING is listed so that it can
 * be named in errors; it is refused everywhere. */
#define EML_DTYPE_MAP(X)                                                                           \
    X(1, F32, float, 4, "float32")                                                                 \
    X(2, U8, uint8_t, 1, "uint8")                                                                  \
    X(3, I8, int8_t, 1, "int8")                                                                    \
    X(4, U16, uint16_t, 2, "uint16")                                                               \
    X(5, I16, int16_t, 2, "int16")                                                                 \
    X(6, I32, int32_t, 4, "int32")                                                                 \
    X(7, I64, int64_t, 8, "int64")                                                                 \
    X(9, BOOL, bool, 1, "bool")                                                                    \
    X(10, F16, uint16_t, 2, "float16")                                                             \
    X(11, F64, double, 8, "float64")                                                               \
    X(12, U32, uint32_t, 4, "uint32")                                                              \
    X(13, U64, uint64_t, 8, "uint64")                                                              \
    X(16, BF16, uint16_t, 2, "bfloat16")

typedef enum eml_dtype {
    EML_DTYPE_UNDEFINED = 0,
#define EML__DTYPE_ENUM(value, suffix, ctype, size, name) EML_DTYPE_##suffix = value,
    EML_DTYPE_MAP(EML__DTYPE_ENUM)
#undef EML__DTYPE_ENUM
    EML_DTYPE_STRING = 8
} eml_dtype;

/* A tensor view: element type, shape and a pointer to dense row-major data.
 * The view never owns its data; whoever fills it says whether data is borrowed or copied. */
typedef struct eml_tensor {
    eml_dtype dtype;
    int32_t rank;
    int64_t dims[EML_MAX_RANK];
    void *data;
} eml_tensor;

/* Bytes per element, 0 for UNDEFINED, STRING and unknown values. */
EML_API size_t eml_dtype_size(eml_dtype dtype);
/* "float32", "int64", ...; "string" and "undefined" too; never NULL. */
EML_API const char *eml_dtype_name(eml_dtype dtype);
/* True for the types this library computes with (every type of EML_DTYPE_MAP). */
EML_API bool eml_dtype_is_supported(eml_dtype dtype);

/* Number of elements (1 for rank 0). */
EML_API int64_t eml_tensor_count(const eml_tensor *t);
/* count × element size. */
EML_API size_t eml_tensor_bytes(const eml_tensor *t);

/* Half-precision conversions (round to nearest even; NaN and Inf kept). */
EML_API float eml_f16_to_f32(uint16_t h);
EML_API uint16_t eml_f32_to_f16(float f);
EML_API float eml_bf16_to_f32(uint16_t h);
EML_API uint16_t eml_f32_to_bf16(float f);

#ifdef __cplusplus
}
#endif
#endif
