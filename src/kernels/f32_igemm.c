/* The f32 indirect GEMM micro-kernel list and its selection. */
#include "kernels/f32_igemm.h"

static const eml_f32_igemm_kernel kernels[] = {
#define EML_IGEMM(isa, fn, mr, nr) {#fn, isa, mr, nr, fn},
#include "kernels/lists/f32_igemm.inc"
#undef EML_IGEMM
    {NULL, 0, 0, 0, NULL} /* keeps the array non-empty where no kernel is listed */
};

#define KERNEL_COUNT (sizeof(kernels) / sizeof(kernels[0]) - 1)

const eml_f32_igemm_kernel *eml__f32_igemm_kernels(size_t *count)
{
    *count = KERNEL_COUNT;
    return kernels;
}

const eml_f32_igemm_kernel *eml__f32_igemm_select(void)
{
    for (size_t i = 0; i < KERNEL_COUNT; i++)
        if (eml__cpu_has(kernels[i].isa))
            return &kernels[i];
    return NULL;
}

const eml_f32_igemm_kernel *eml__f32_igemm_alternative(const eml_f32_igemm_kernel *k)
{
    for (size_t i = 0; i + 1 < KERNEL_COUNT; i++) {
        const eml_f32_igemm_kernel *next = &kernels[i + 1];
        if (kernels[i].ukernel == k->ukernel)
            return next->isa == k->isa && next->nr == k->nr && next->mr != k->mr ? next : NULL;
    }
    return NULL;
}
