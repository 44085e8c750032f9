/* Detects CPU features once (cpuid + xgetbv on x86-64, getauxval on aarch64 Linux). */
#include "core/cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>

/* XCR0 through inline asm: the _xgetbv intrinsic would need -mxsave for this file. */
static uint64_t read_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static uint32_t detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    bool fma = (c >> 12) & 1, f16c = (c >> 29) & 1;
    if (!osxsave || !avx)
        return 0;
    uint64_t xcr0 = read_xcr0();
    /* the OS must save XMM and YMM state (bits 1, 2), and for AVX-512 also the opmask and both
     * halves of the upper ZMM state (bits 5, 6, 7) */
    if ((xcr0 & 0x6) != 0x6)
        return 0;
    bool os_avx512 = (xcr0 & 0xe0) == 0xe0;
    uint32_t f = 0;
    if (fma)
        f |= EML_CPU_X86_FMA;
    if (f16c)
        f |= EML_CPU_X86_F16C;
    unsigned max_leaf = __get_cpuid_max(0, NULL);
    if (max_leaf < 7)
        return f;
    __cpuid_count(7, 0, a, b, c, d);
    if ((b >> 5) & 1)
        f |= EML_CPU_X86_AVX2;
    if (os_avx512) {
        if ((b >> 16) & 1)
            f |= EML_CPU_X86_AVX512F;
        if ((b >> 17) & 1)
            f |= EML_CPU_X86_AVX512DQ;
        if ((b >> 30) & 1)
            f |= EML_CPU_X86_AVX512BW;
        if ((b >> 31) & 1)
            f |= EML_CPU_X86_AVX512VL;
        if ((c >> 11) & 1)
            f |= EML_CPU_X86_AVX512VNNI;
    }
    unsigned max_sub = a;
    if (max_sub >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        if ((a >> 4) & 1)
            f |= EML_CPU_X86_AVXVNNI;
    }
    return f;
}

#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>

/* Linux's HWCAP bits for arm64 (asm/hwcap.h), spelled out for older headers. */
#define HWCAP_BIT_ASIMD (1ul << 1)
#define HWCAP_BIT_FPHP (1ul << 9)
#define HWCAP_BIT_ASIMDHP (1ul << 10)
#define HWCAP_BIT_ASIMDDP (1ul << 20)

static uint32_t detect(void)
{
    unsigned long hw = getauxval(AT_HWCAP);
    uint32_t f = 0;
    if (hw & HWCAP_BIT_ASIMD)
        f |= EML_CPU_ARM_NEON;
    if (hw & HWCAP_BIT_ASIMDDP)
        f |= EML_CPU_ARM_DOTPROD;
    if ((hw & HWCAP_BIT_FPHP) && (hw & HWCAP_BIT_ASIMDHP))
        f |= EML_CPU_ARM_FP16;
    return f;
}

#elif defined(__aarch64__)
/* AArch64 without getauxval: Advanced SIMD is part of the base architecture. */
static uint32_t detect(void)
{
    return EML_CPU_ARM_NEON;
}

#else
static uint32_t detect(void)
{
    return 0;
}
#endif

/* Bit 31 marks a cached value; detection is idempotent, so racing first calls store the same. */
#define CACHED (1u << 31)
static _Atomic uint32_t detected_cache;
static _Atomic uint32_t capped_cache;

uint32_t eml__cpu_features_detected(void)
{
    uint32_t v = atomic_load_explicit(&detected_cache, memory_order_relaxed);
    if (!(v & CACHED)) {
        v = detect() | CACHED;
        atomic_store_explicit(&detected_cache, v, memory_order_relaxed);
    }
    return v & ~CACHED;
}

static const struct {
    const char *name;
    uint32_t mask;
} isa_names[] = {
    {"ref", EML_ISA_NONE},
    {"avx2", EML_ISA_X86_AVX2 | EML_CPU_X86_F16C},
    {"avx512", EML_ISA_X86_AVX512 | EML_CPU_X86_F16C},
    {"avx512vnni", EML_ISA_X86_AVX512VNNI | EML_CPU_X86_F16C | EML_CPU_X86_AVXVNNI},
    {"neon", EML_ISA_ARM_NEON},
    {"neondot", EML_ISA_ARM_NEONDOT},
    {"neonfp16", EML_ISA_ARM_NEONDOT | EML_ISA_ARM_NEONFP16},
};

uint32_t eml__cpu_isa_cap(const char *value)
{
    if (!value || !*value || strcmp(value, "native") == 0)
        return ~CACHED;
    for (size_t i = 0; i < sizeof(isa_names) / sizeof(isa_names[0]); i++)
        if (strcmp(value, isa_names[i].name) == 0)
            return isa_names[i].mask;
    return EML_ISA_NONE;
}

uint32_t eml__cpu_features(void)
{
    uint32_t v = atomic_load_explicit(&capped_cache, memory_order_relaxed);
    if (!(v & CACHED)) {
        v = (eml__cpu_features_detected() & eml__cpu_isa_cap(getenv("EML_ISA"))) | CACHED;
        atomic_store_explicit(&capped_cache, v, memory_order_relaxed);
    }
    return v & ~CACHED;
}

static _Atomic size_t l2_cache; /* SIZE_MAX: asked, unknown */

size_t eml__cpu_l2_bytes(void)
{
    size_t v = atomic_load_explicit(&l2_cache, memory_order_relaxed);
    if (v == 0) {
        long n = -1;
#if defined(_SC_LEVEL2_CACHE_SIZE)
        n = sysconf(_SC_LEVEL2_CACHE_SIZE);
#endif
        /* some hypervisors and libcs report nothing or nonsense */
        v = n >= 64 * 1024 && n <= 64l * 1024 * 1024 ? (size_t)n : SIZE_MAX;
        atomic_store_explicit(&l2_cache, v, memory_order_relaxed);
    }
    return v == SIZE_MAX ? 0 : v;
}

const char *eml__cpu_isa_name(uint32_t isa)
{
    switch (isa) {
    case EML_ISA_NONE:
        return "ref";
    case EML_ISA_X86_AVX2:
        return "avx2";
    case EML_ISA_X86_AVX512:
        return "avx512";
    case EML_ISA_X86_AVX512VNNI:
        return "avx512vnni";
    case EML_ISA_ARM_NEON:
        return "neon";
    case EML_ISA_ARM_NEONDOT:
        return "neondot";
    case EML_ISA_ARM_NEONFP16:
        return "neonfp16";
    default:
        return "?";
    }
}
