/* Fast kernels: an op may have an optimized implementation chosen once at plan time, for this
 * CPU and the node's constant inputs (weights, which it packs), used instead of the reference
 * kernel for every run of every session of the plan. */
#ifndef EML_KERNELS_FAST_H
#define EML_KERNELS_FAST_H

#include "kernels/kernel.h"
#include "kernels/ref/activation.h"

/* What a selector sees at plan time. inputs[i].data is non-NULL for constant inputs
 * (initializers); other inputs carry their declared dtype and shape (rank -1: unknown). */
typedef struct eml_fast_select_ctx {
    int32_t op;                 /* eml_op_id */
    const void *params;         /* the op's params from its prepare */
    int32_t opset;
    const eml_tensor *inputs;
    int32_t n_inputs;
    int32_t n_outputs;
    eml_env *env;               /* for the state's memory */
} eml_fast_select_ctx;

typedef struct eml_fast_kernel {
    const char *name;           /* what runs, e.g. "f32_conv_nhwc__avx512"; for `edgeml info` */
    void *state;                /* owned by the plan: packed weights and a copy of the params */
    /* Runs the op; ctx->params is `state`. Must accept every input shape that the op's infer
     * accepts for the constant inputs given at selection. */
    eml_kernel_fn run;
    /* Scratch memory it needs for these shapes (NULL: none); replaces the reference kernel's. */
    size_t (*scratch_bytes)(const void *state, const eml_tensor *inputs, int32_t n_inputs,
                            const eml_tensor *outputs, int32_t n_outputs);
    void (*destroy)(eml_env *env, void *state); /* frees state; NULL when state is NULL */
} eml_fast_kernel;

/* Fills *out with a fast kernel, or leaves out->run NULL to keep the reference kernel.
 * Returns EML_OK or EML_ENOMEM. */
typedef eml_status (*eml_fast_select_fn)(const eml_fast_select_ctx *ctx, eml_fast_kernel *out);

/* A fused activation as the output clamp it is: min/max set and true for none (-inf, inf), Relu
 * (0, inf) and Clip (alpha, beta); false for any other kind (min/max then -inf, inf). */
bool eml__fast_act_clamp(const eml_activation *a, float *min, float *max);

/* A micro-kernel's name without its "eml_" prefix, for the fast kernel's own name. */
const char *eml__fast_short_name(const char *name);

/* The destroy of a state that is one eml__alloc'd block. */
void eml__fast_free_state(eml_env *env, void *state);

/* Whether input i is a constant one-element tensor of `dtype` (quantization scales and zero
 * points); *data is its data. An absent input (beyond n_inputs, or omitted) gives `optional`
 * and *data NULL. */
bool eml__fast_scalar(const eml_fast_select_ctx *ctx, int32_t i, eml_dtype dtype, bool optional,
                      const void **data);

#endif
