/* Tensor elements of any numeric dtype read as doubles, for the drift profiler and monitor. */
#ifndef EML_SERVE_DRIFT_VALUES_H
#define EML_SERVE_DRIFT_VALUES_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "edgeml/tensor.h"

static inline int eml__drift_value_dtype_ok(eml_dtype dt)
{
    return dt != EML_DTYPE_STRING && eml_dtype_is_supported(dt);
}

/* Element i of data (dtype dt, which eml__drift_value_dtype_ok accepts). */
static inline double eml__drift_value(const void *data, eml_dtype dt, size_t i)
{
    switch (dt) {
    case EML_DTYPE_F32:
        return ((const float *)data)[i];
    case EML_DTYPE_F64:
        return ((const double *)data)[i];
    case EML_DTYPE_F16:
        return eml_f16_to_f32(((const uint16_t *)data)[i]);
    case EML_DTYPE_BF16:
        return eml_bf16_to_f32(((const uint16_t *)data)[i]);
    case EML_DTYPE_U8:
        return ((const uint8_t *)data)[i];
    case EML_DTYPE_I8:
        return ((const int8_t *)data)[i];
    case EML_DTYPE_U16:
        return ((const uint16_t *)data)[i];
    case EML_DTYPE_I16:
        return ((const int16_t *)data)[i];
    case EML_DTYPE_U32:
        return ((const uint32_t *)data)[i];
    case EML_DTYPE_I32:
        return ((const int32_t *)data)[i];
    case EML_DTYPE_U64:
        return (double)((const uint64_t *)data)[i];
    case EML_DTYPE_I64:
        return (double)((const int64_t *)data)[i];
    case EML_DTYPE_BOOL:
        return ((const uint8_t *)data)[i] ? 1.0 : 0.0;
    default:
        return NAN;
    }
}

/* The bin of x among n_edges increasing edges: the number of edges below it, so bin i holds
 * (edge[i-1], edge[i]] and a value equal to an edge falls in the bin left of it. */
static inline uint32_t eml__drift_bin(const double *edges, uint32_t n_edges, double x)
{
    uint32_t lo = 0, hi = n_edges;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (edges[mid] < x)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

#endif
