/* Helpers shared by the fast-kernel selectors (fast.h). */
#include "kernels/fast.h"

void eml__fast_free_state(eml_env *env, void *state)
{
    eml__free(env, state);
}

bool eml__fast_scalar(const eml_fast_select_ctx *ctx, int32_t i, eml_dtype dtype, bool optional,
                      const void **data)
{
    *data = NULL;
    if (i >= ctx->n_inputs || ctx->inputs[i].dtype == EML_DTYPE_UNDEFINED)
        return optional;
    const eml_tensor *t = &ctx->inputs[i];
    *data = t->data;
    return t->dtype == dtype && t->data && t->rank <= 1 && eml__shape_count(t->dims, t->rank) == 1;
}
