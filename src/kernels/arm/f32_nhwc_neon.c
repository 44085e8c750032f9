/* f32 channels-last micro-kernels for AArch64 Advanced SIMD (kernels/f32_nhwc.h): 4 channels per
 * vector. The body is the one of the x86 variants (simd/f32_nhwc_body.h) over arm/simd_f32_neon.h;
 * a channel tail goes lane by lane. */
#include "kernels/arm/simd_f32_neon.h"

#define EML_SIMD_ISA EML_ISA_ARM_NEON
#define EML_SIMD_ISA_NAME "neon"
/* Output columns a depthwise step computes together: independent accumulators hide the
 * fused multiply-add latency (4 cycles, 2 per cycle on current cores); 32 vector registers
 * leave room for 8. */
#define DW_COLS 8

#include "kernels/simd/f32_nhwc_body.h"
