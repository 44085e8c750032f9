/* CPU features, detected once at run time and capped by EML_ISA, for picking kernels. */
#ifndef EML_CORE_CPU_H
#define EML_CORE_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Feature bits (append-only). An x86 bit is set only when the OS also saves the register state
 * it needs (xgetbv), so a kernel can rely on it. */
#define EML_CPU_X86_AVX2 (1u << 0)
#define EML_CPU_X86_FMA (1u << 1)
#define EML_CPU_X86_F16C (1u << 2)
#define EML_CPU_X86_AVX512F (1u << 3)
#define EML_CPU_X86_AVX512BW (1u << 4)
#define EML_CPU_X86_AVX512VL (1u << 5)
#define EML_CPU_X86_AVX512DQ (1u << 6)
#define EML_CPU_X86_AVX512VNNI (1u << 7)
#define EML_CPU_X86_AVXVNNI (1u << 8)
#define EML_CPU_ARM_NEON (1u << 16)
#define EML_CPU_ARM_DOTPROD (1u << 17)
#define EML_CPU_ARM_FP16 (1u << 18) /* half-precision arithmetic (FEAT_FP16) */

/* What a kernel needs: a set of feature bits. Each matches the compile flags that the CMake rule
 * gives to files of one suffix (_avx2.c, _avx512.c, _avx512vnni.c, _neon.c, _neondot.c,
 * _neonfp16.c). */
#define EML_ISA_NONE 0u
#define EML_ISA_X86_AVX2 (EML_CPU_X86_AVX2 | EML_CPU_X86_FMA)
#define EML_ISA_X86_AVX512                                                                         \
    (EML_ISA_X86_AVX2 | EML_CPU_X86_AVX512F | EML_CPU_X86_AVX512BW | EML_CPU_X86_AVX512VL |        \
     EML_CPU_X86_AVX512DQ)
#define EML_ISA_X86_AVX512VNNI (EML_ISA_X86_AVX512 | EML_CPU_X86_AVX512VNNI)
#define EML_ISA_ARM_NEON EML_CPU_ARM_NEON
#define EML_ISA_ARM_NEONDOT (EML_CPU_ARM_NEON | EML_CPU_ARM_DOTPROD)
#define EML_ISA_ARM_NEONFP16 (EML_CPU_ARM_NEON | EML_CPU_ARM_FP16)

/* The features kernels may use: those detected, capped by the environment variable EML_ISA read
 * at the first call: ref (none: reference kernels only), avx2, avx512, avx512vnni, neon, neondot,
 * neonfp16, or native / unset (everything detected). An unknown value means ref, the safe choice.
 * Thread-safe; the result never changes after the first call. */
uint32_t eml__cpu_features(void);

/* The feature mask an EML_ISA value allows (all bits for NULL, "" and "native"; none for an unknown
 * value). */
uint32_t eml__cpu_isa_cap(const char *value);

/* The features the CPU and OS offer, without the EML_ISA cap (for tests and benchmarks). */
uint32_t eml__cpu_features_detected(void);

/* True when every feature of isa (an EML_ISA_* set) may be used. */
static inline bool eml__cpu_has(uint32_t isa)
{
    return (eml__cpu_features() & isa) == isa;
}

/* Bytes of one core's L2 cache, or 0 when unknown (for cache blocking that does not change
 * results). */
size_t eml__cpu_l2_bytes(void);

/* Short name of an EML_ISA_* set: "ref", "avx2", "avx512", ... ("?" for other sets). */
const char *eml__cpu_isa_name(uint32_t isa);

#endif
