/* The f32 elementwise micro-kernels for AVX2 + FMA (8 floats per vector). */
#define EML_SIMD_AVX2
#include "kernels/x86/simd_f32.h"

#include "kernels/simd/f32_velementwise_body.h"

EML_VELEM_TABLE(EML_ISA_X86_AVX2)
