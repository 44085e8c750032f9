/* f32 indirect GEMM micro-kernels for channels-last convolutions: each row of A is read through a
 * pointer per kernel tap (the input pixel under that tap, or a zero row in the padding), so no
 * im2col copy is made. Listed best first in src/kernels/lists/f32_igemm.inc; weights are packed as
 * eml__f32_gemm_pack packs them for NR columns (a panel: NR biases, then K rows of NR weights),
 * with K in (tap, channel) order. */
#ifndef EML_KERNELS_F32_IGEMM_H
#define EML_KERNELS_F32_IGEMM_H

#include "kernels/gemm.h"

/* One block of taps of C[mr × nc] = clamp(bias + sum over taps t and channels k < kc of
 * A(i, t)[k] · W + Z), for 1 <= mr <= MR, nc >= 1, kc >= 1, ks >= 1 taps in the block.
 * a: the block's row pointers, a[i * a_stride + t] for row i < mr and tap t < ks; a pointer equal
 * to `zero` is used as it is, any other one plus a_offset floats (the channel group).
 * zero: kc zeros.
 * w: the first of ceil(nc / NR) packed panels, each w_panel_stride floats after the one before;
 * the block reads weight rows k0 .. k0 + ks*kc - 1 of each.
 * k0 == 0: the sums start from the bias; otherwise the block's sums start from 0 and are added
 * to C, which holds the sums of the rows before k0.
 * last: the final block: Z (NULL, or row i at z + i*c_stride) is added and the result clamped;
 * otherwise C receives the running sums.
 * c: row i at c + i*c_stride, nc floats each. Only those mr rows and nc columns are read or
 * written. Within a block each sum runs tap by tap, channel by channel (fused multiply-adds). */
typedef void (*eml_f32_igemm_ukernel_fn)(size_t mr, size_t nc, size_t kc, size_t ks,
                                         const float *const *a, size_t a_stride,
                                         size_t a_offset, const float *zero, const float *w,
                                         size_t w_panel_stride, size_t k0, bool last,
                                         const float *z, float *c, size_t c_stride,
                                         const eml_f32_minmax *params);

typedef struct eml_f32_igemm_kernel {
    const char *name;
    uint32_t isa; /* EML_ISA_* features it needs */
    uint32_t mr;  /* rows per call */
    uint32_t nr;  /* columns per packed panel */
    eml_f32_igemm_ukernel_fn ukernel;
} eml_f32_igemm_kernel;

/* Every micro-kernel built for this architecture (*count may be 0: none is portable), best
 * first. Whether the CPU runs one is up to the caller (eml__cpu_has). */
const eml_f32_igemm_kernel *eml__f32_igemm_kernels(size_t *count);
/* The first listed kernel whose features are present (EML_ISA caps them); NULL when none is. */
const eml_f32_igemm_kernel *eml__f32_igemm_select(void);
/* The kernel listed right after k with k's ISA and NR but another MR (for row counts it tiles
 * better; it sums every element alike), or NULL. */
const eml_f32_igemm_kernel *eml__f32_igemm_alternative(const eml_f32_igemm_kernel *k);

#define EML_IGEMM(isa, fn, mr, nr)                                                                 \
    void fn(size_t mr_, size_t nc, size_t kc, size_t ks, const float *const *a, size_t a_stride,   \
            size_t a_offset, const float *zero, const float *w, size_t w_panel_stride, size_t k0,  \
            bool last, const float *z, float *c, size_t c_stride, const eml_f32_minmax *params);
#include "kernels/lists/f32_igemm.inc"
#undef EML_IGEMM

#endif
