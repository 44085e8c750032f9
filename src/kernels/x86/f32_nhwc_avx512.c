/* f32 channels-last micro-kernels for AVX-512: 16 channels per vector (body: simd/f32_nhwc_body.h). */
#define EML_SIMD_AVX512
#define EML_SIMD_ISA EML_ISA_X86_AVX512
#define EML_SIMD_ISA_NAME "avx512"
#include "kernels/x86/simd_f32.h"

#include "kernels/simd/f32_nhwc_body.h"
