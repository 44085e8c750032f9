/* Interleaving three planes into pixels (an RGB image's NCHW planes into NHWC), the one
 * transpose every CNN runs first: per ISA, listed best first in src/kernels/lists/interleave3.inc,
 * for 4-byte (float32 input) and 1-byte (uint8 after QuantizeLinear) elements. */
#ifndef EML_KERNELS_INTERLEAVE3_H
#define EML_KERNELS_INTERLEAVE3_H

#include "core/core.h"

/* y[3 * p + c] = x[c * plane + p] for p < n, c < 3 (elements of the kernel's size). */
typedef void (*eml_interleave3_fn)(const void *x, size_t plane, void *y, size_t n);

typedef struct eml_interleave3_kernel {
    const char *name;
    uint32_t isa;  /* EML_ISA_* features it needs */
    uint32_t elem; /* bytes per element: 4 or 1 */
    eml_interleave3_fn fn;
} eml_interleave3_kernel;

/* Every kernel built for this architecture (*count may be 0), best first. */
const eml_interleave3_kernel *eml__interleave3_kernels(size_t *count);
/* The first listed kernel for elem-byte elements that the CPU runs (EML_ISA caps it), or NULL. */
const eml_interleave3_kernel *eml__interleave3_select(size_t elem);

#define EML_INTERLEAVE3(isa, fn, elem) void fn(const void *x, size_t plane, void *y, size_t n);
#include "kernels/lists/interleave3.inc"
#undef EML_INTERLEAVE3

#endif
