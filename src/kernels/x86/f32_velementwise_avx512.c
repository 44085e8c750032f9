/* The f32 elementwise micro-kernels for AVX-512 (16 floats per vector, masked tails). */
#define EML_SIMD_AVX512
#include "kernels/x86/simd_f32.h"

#include "kernels/simd/f32_velementwise_body.h"

EML_VELEM_TABLE(EML_ISA_X86_AVX512)
