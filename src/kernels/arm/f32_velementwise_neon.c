/* f32 elementwise micro-kernels for AArch64 Advanced SIMD (kernels/velementwise.h), 4 floats per
 * vector: the bodies of the x86 variants (simd/f32_velementwise_body.h: same polynomials, same
 * operation order) over arm/simd_f32_neon.h, so every variant rounds alike and meets the error
 * bounds of velementwise.h. Every element goes through the same instructions whether it sits in a
 * full vector or in the tail (which goes lane by lane). */
#include "kernels/arm/simd_f32_neon.h"

#include "kernels/simd/f32_velementwise_body.h"

EML_VELEM_TABLE(EML_ISA_ARM_NEON)
