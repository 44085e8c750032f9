/* Helpers shared by the fast-kernel selectors (fast.h). */
#include <math.h>
#include <string.h>

#include "kernels/fast.h"

bool eml__fast_act_clamp(const eml_activation *a, float *min, float *max)
{
    *min = -INFINITY;
    *max = INFINITY;
    switch (a->kind) {
    case EML_ACTIVATION_NONE:
        return true;
    case EML_ACTIVATION_RELU:
        *min = 0.0f;
        return true;
    case EML_ACTIVATION_CLIP:
        *min = a->alpha;
        *max = a->beta;
        return true;
    default:
        return false;
    }
}

const char *eml__fast_short_name(const char *name)
{
    return strncmp(name, "eml_", 4) == 0 ? name + 4 : name;
}

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
