/* Element access by dtype for small tensors (indices, shapes, scalars), and strides. */
#include "kernels/kernel.h"

double eml__tensor_get_f64(const eml_tensor *t, int64_t i)
{
    const void *p = t->data;
    switch (t->dtype) {
    case EML_DTYPE_F32: return ((const float *)p)[i];
    case EML_DTYPE_F64: return ((const double *)p)[i];
    case EML_DTYPE_F16: return eml_f16_to_f32(((const uint16_t *)p)[i]);
    case EML_DTYPE_BF16: return eml_bf16_to_f32(((const uint16_t *)p)[i]);
    case EML_DTYPE_U8: return ((const uint8_t *)p)[i];
    case EML_DTYPE_I8: return ((const int8_t *)p)[i];
    case EML_DTYPE_U16: return ((const uint16_t *)p)[i];
    case EML_DTYPE_I16: return ((const int16_t *)p)[i];
    case EML_DTYPE_I32: return ((const int32_t *)p)[i];
    case EML_DTYPE_I64: return (double)((const int64_t *)p)[i];
    case EML_DTYPE_U32: return ((const uint32_t *)p)[i];
    case EML_DTYPE_U64: return (double)((const uint64_t *)p)[i];
    case EML_DTYPE_BOOL: return ((const bool *)p)[i] ? 1.0 : 0.0;
    default: return 0.0;
    }
}

int64_t eml__tensor_get_i64(const eml_tensor *t, int64_t i)
{
    const void *p = t->data;
    switch (t->dtype) {
    case EML_DTYPE_I64: return ((const int64_t *)p)[i];
    case EML_DTYPE_I32: return ((const int32_t *)p)[i];
    case EML_DTYPE_U64: return (int64_t)((const uint64_t *)p)[i];
    case EML_DTYPE_U32: return ((const uint32_t *)p)[i];
    case EML_DTYPE_I16: return ((const int16_t *)p)[i];
    case EML_DTYPE_U16: return ((const uint16_t *)p)[i];
    case EML_DTYPE_I8: return ((const int8_t *)p)[i];
    case EML_DTYPE_U8: return ((const uint8_t *)p)[i];
    case EML_DTYPE_BOOL: return ((const bool *)p)[i] ? 1 : 0;
    default: return (int64_t)eml__tensor_get_f64(t, i);
    }
}

void eml__tensor_set_f64(eml_tensor *t, int64_t i, double v)
{
    void *p = t->data;
    switch (t->dtype) {
    case EML_DTYPE_F32: ((float *)p)[i] = (float)v; break;
    case EML_DTYPE_F64: ((double *)p)[i] = v; break;
    case EML_DTYPE_F16: ((uint16_t *)p)[i] = eml_f32_to_f16((float)v); break;
    case EML_DTYPE_BF16: ((uint16_t *)p)[i] = eml_f32_to_bf16((float)v); break;
    case EML_DTYPE_U8: ((uint8_t *)p)[i] = (uint8_t)v; break;
    case EML_DTYPE_I8: ((int8_t *)p)[i] = (int8_t)v; break;
    case EML_DTYPE_U16: ((uint16_t *)p)[i] = (uint16_t)v; break;
    case EML_DTYPE_I16: ((int16_t *)p)[i] = (int16_t)v; break;
    case EML_DTYPE_I32: ((int32_t *)p)[i] = (int32_t)v; break;
    case EML_DTYPE_I64: ((int64_t *)p)[i] = (int64_t)v; break;
    case EML_DTYPE_U32: ((uint32_t *)p)[i] = (uint32_t)v; break;
    case EML_DTYPE_U64: ((uint64_t *)p)[i] = (uint64_t)v; break;
    case EML_DTYPE_BOOL: ((bool *)p)[i] = v != 0.0; break;
    default: break;
    }
}

void eml__strides(const int64_t *dims, int rank, int64_t *strides)
{
    int64_t s = 1;
    for (int i = rank - 1; i >= 0; i--) {
        strides[i] = s;
        s *= dims[i];
    }
}
