/* The three-plane interleave kernels' list and selection (kernels/interleave3.h). */
#include "kernels/interleave3.h"
#include "core/cpu.h"

static const eml_interleave3_kernel kernels[] = {
#define EML_INTERLEAVE3(isa, fn, elem) {#fn, isa, elem, fn},
#include "kernels/lists/interleave3.inc"
#undef EML_INTERLEAVE3
    {NULL, 0, 0, NULL}, /* keeps the array non-empty where no kernel is built */
};

const eml_interleave3_kernel *eml__interleave3_kernels(size_t *count)
{
    *count = sizeof(kernels) / sizeof(kernels[0]) - 1;
    return kernels;
}

const eml_interleave3_kernel *eml__interleave3_select(size_t elem)
{
    size_t n;
    const eml_interleave3_kernel *k = eml__interleave3_kernels(&n);
    for (size_t i = 0; i < n; i++)
        if (k[i].elem == elem && eml__cpu_has(k[i].isa))
            return &k[i];
    return NULL;
}
