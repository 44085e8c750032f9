/* edgeml's channels-last ops (NhwcConv, NhwcMaxPool, NhwcAveragePool, NhwcGlobalAveragePool,
 * domain ai.edgeml): params, geometry on [N, H, W, C] shapes and the op entry points. */
#ifndef EML_KERNELS_REF_NHWC_H
#define EML_KERNELS_REF_NHWC_H

#include "kernels/ref/fused.h"
#include "kernels/ref/pool.h"

/* NhwcConv(X, W, B?, Z?) -> Y computes FusedConv's Y = act(Conv(X, W, B) + Z) with X, Z and Y
 * channels-last; it takes FusedConv's attributes and params (eml_fused_conv_params). */

/* NhwcConvFromNchw(X, W, B?, Z?) -> Y is NhwcConv with X [N, C, H, W] (a graph input read by an
 * RGB stem, which the layout pass spares a transpose); Z and Y stay channels-last. */

/* The NCHW view of an NHWC shape of rank 4 (data kept): what Conv's and the pools' shape logic
 * take. */
void eml__nhwc_as_nchw(const eml_tensor *nhwc, eml_tensor *nchw);

/* Geometry of NhwcConv for x [N, H, W, C] and w [O, C/group, kH, kW] (Conv's, on the NCHW view).
 * Returns EML_OK or EML_ESHAPE with a reason in why. */
eml_status eml__nhwc_conv_geom(const eml_conv_params *p, const eml_tensor *x, const eml_tensor *w,
                               eml_conv_geom *g, char *why, size_t why_cap);
/* Geometry of NhwcMaxPool / NhwcAveragePool for x [N, H, W, C]. */
eml_status eml__nhwc_pool_geom(const eml_pool_params *p, const eml_tensor *x, eml_conv_geom *g,
                               char *why, size_t why_cap);

/* ---- op entry points (named in ops.def) ---- */
eml_status eml__nhwc_conv_prepare(eml_prepare_ctx *ctx);
eml_status eml__nhwc_conv_infer(eml_infer_ctx *ctx);
eml_status eml__nhwc_conv_from_nchw_infer(eml_infer_ctx *ctx);
eml_status eml__nhwc_pool_prepare(eml_prepare_ctx *ctx);
eml_status eml__nhwc_pool_infer(eml_infer_ctx *ctx);
eml_status eml__nhwc_global_pool_prepare(eml_prepare_ctx *ctx);
eml_status eml__nhwc_global_pool_infer(eml_infer_ctx *ctx);

eml_status eml__ref_nhwc_conv(const eml_kernel_ctx *ctx);
eml_status eml__ref_nhwc_conv_from_nchw(const eml_kernel_ctx *ctx);
eml_status eml__ref_nhwc_pool(const eml_kernel_ctx *ctx);
eml_status eml__ref_nhwc_global_pool(const eml_kernel_ctx *ctx);

#endif
