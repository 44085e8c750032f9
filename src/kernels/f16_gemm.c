/* The f16 GEMM engine's portable part: the kernel list and selection, weight packing, and the
 * loop of micro-kernel calls over one block of rows (see f16_gemm.h). */
#include "kernels/f16_gemm.h"

static const eml_f16_gemm_kernel kernels[] = {
#define EML_F16_UKERNEL(isa, fn, cvt, mr, nr) {#fn, isa, mr, nr, fn, cvt},
#include "kernels/lists/f16_gemm.inc"
#undef EML_F16_UKERNEL
    {NULL, 0, 0, 0, NULL, NULL} /* the list may be empty: C has no empty arrays */
};

#define KERNEL_COUNT (sizeof(kernels) / sizeof(kernels[0]) - 1)

const eml_f16_gemm_kernel *eml__f16_gemm_kernels(size_t *count)
{
    *count = KERNEL_COUNT;
    return kernels;
}

const eml_f16_gemm_kernel *eml__f16_gemm_select(void)
{
    for (const eml_f16_gemm_kernel *k = kernels; k->name; k++)
        if (eml__cpu_has(k->isa))
            return k;
    return NULL;
}

size_t eml__f16_gemm_packed_halves(const eml_f16_gemm_kernel *k, size_t n, size_t kdim)
{
    return (n + k->nr - 1) / k->nr * k->nr * kdim;
}

size_t eml__f16_gemm_bias_floats(const eml_f16_gemm_kernel *k, size_t n)
{
    return (n + k->nr - 1) / k->nr * k->nr;
}

void eml__f16_gemm_pack(const eml_f16_gemm_kernel *k, size_t n, size_t kdim, const float *b,
                        bool b_is_nk, float alpha, const float *bias, uint16_t *packed,
                        float *packed_bias)
{
    const size_t nr = k->nr;
    for (size_t n0 = 0; n0 < n; n0 += nr) {
        const size_t cols = EML_MIN(nr, n - n0);
        for (size_t j = 0; j < nr; j++)
            packed_bias[n0 + j] = bias && j < cols ? bias[n0 + j] : 0.0f;
        for (size_t kk = 0; kk < kdim; kk++) {
            for (size_t j = 0; j < nr; j++) {
                float v = 0.0f;
                if (j < cols)
                    v = alpha * (b_is_nk ? b[(n0 + j) * kdim + kk] : b[kk * n + n0 + j]);
                packed[kk * nr + j] = eml_f32_to_f16(v);
            }
        }
        packed += nr * kdim;
    }
}

/* Columns per sweep down the rows: the sweep's panels (kdim × NR halves each) stay in about
 * 256 KiB of L2 while the row tiles go down them. Only the loop order depends on it. */
#define SWEEP_BYTES ((size_t)256 << 10)

void eml__f16_gemm_run(const eml_f16_gemm_kernel *k, size_t m, size_t n, size_t kdim,
                       const uint16_t *a, size_t a_stride_elems, const uint16_t *packed_w,
                       const float *packed_bias, float *c, size_t c_stride_elems, float min,
                       float max)
{
    if (m == 0 || n == 0)
        return;
    const eml_f32_minmax params = {min, max};
    const size_t mr = k->mr, nr = k->nr, panel = nr * kdim;
    const size_t sweep = EML_MAX((size_t)1, SWEEP_BYTES / (panel * sizeof(uint16_t))) * nr;
    for (size_t p = 0; p < n; p += sweep) {
        const size_t nc = EML_MIN(sweep, n - p);
        const uint16_t *w = packed_w + p / nr * panel;
        for (size_t i = 0; i < m; i += mr)
            k->ukernel(EML_MIN(mr, m - i), nc, kdim, a + i * a_stride_elems, a_stride_elems, w,
                       panel, packed_bias + p, c + i * c_stride_elems + p, c_stride_elems, &params);
    }
}
