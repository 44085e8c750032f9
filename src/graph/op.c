/* Helpers shared by the ops' prepare and infer functions: attributes, errors, broadcasting. */
#include <stdarg.h>
#include <stdio.h>

#include "graph/graph.h"

static void node_where(const eml_node *node, int32_t opset, eml_diag *diag)
{
    eml__diag_where(diag, NULL, node->name, node->op_type, opset, -1);
}

eml_status eml__unsupported(const eml_prepare_ctx *ctx, const char *fmt, ...)
{
    if (!ctx->diag)
        return EML_EUNSUPPORTED;
    char detail[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    node_where(ctx->node, ctx->opset, ctx->diag);
    return eml__diag(ctx->diag, EML_EUNSUPPORTED, "unsupported: %s (opset %d) at node '%s': %s",
                     ctx->node->op_type, (int)ctx->opset, ctx->node->name, detail);
}

eml_status eml__bad_attr(const eml_prepare_ctx *ctx, const char *fmt, ...)
{
    if (!ctx->diag)
        return EML_EGRAPH;
    char detail[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    node_where(ctx->node, ctx->opset, ctx->diag);
    return eml__diag(ctx->diag, EML_EGRAPH, "%s (opset %d) at node '%s': %s", ctx->node->op_type,
                     (int)ctx->opset, ctx->node->name, detail);
}

const eml_attr *eml__node_attr(const eml_node *node, const char *name)
{
    for (int32_t i = 0; i < node->n_attrs; i++) {
        if (strcmp(node->attrs[i].name, name) == 0)
            return &node->attrs[i];
    }
    return NULL;
}

static eml_status attr_typed(const eml_prepare_ctx *ctx, const char *name, eml_attr_type type,
                             const eml_attr **out)
{
    *out = eml__node_attr(ctx->node, name);
    if (*out && (*out)->type != type)
        return eml__bad_attr(ctx, "attribute '%s' has type %d, expected %d", name,
                             (int)(*out)->type, (int)type);
    return EML_OK;
}

eml_status eml__attr_int(const eml_prepare_ctx *ctx, const char *name, int64_t def, int64_t *out)
{
    const eml_attr *a;
    eml_status st = attr_typed(ctx, name, EML_ATTR_INT, &a);
    *out = a ? a->i : def;
    return st;
}

eml_status eml__attr_float(const eml_prepare_ctx *ctx, const char *name, float def, float *out)
{
    const eml_attr *a;
    eml_status st = attr_typed(ctx, name, EML_ATTR_FLOAT, &a);
    *out = a ? a->f : def;
    return st;
}

eml_status eml__attr_string(const eml_prepare_ctx *ctx, const char *name, const char *def,
                            const char **out)
{
    const eml_attr *a;
    eml_status st = attr_typed(ctx, name, EML_ATTR_STRING, &a);
    *out = a ? a->s : def;
    return st;
}

eml_status eml__attr_ints(const eml_prepare_ctx *ctx, const char *name, int64_t *out, int cap,
                          int *count)
{
    const eml_attr *a;
    eml_status st = attr_typed(ctx, name, EML_ATTR_INTS, &a);
    *count = -1;
    if (st != EML_OK || !a)
        return st;
    if (a->count > (size_t)cap)
        return eml__unsupported(ctx, "attribute '%s' has %zu values, at most %d supported", name,
                                a->count, cap);
    memcpy(out, a->ints, a->count * sizeof(int64_t));
    *count = (int)a->count;
    return EML_OK;
}

eml_status eml__attr_floats(const eml_prepare_ctx *ctx, const char *name, float *out, int cap,
                            int *count)
{
    const eml_attr *a;
    eml_status st = attr_typed(ctx, name, EML_ATTR_FLOATS, &a);
    *count = -1;
    if (st != EML_OK || !a)
        return st;
    if (a->count > (size_t)cap)
        return eml__unsupported(ctx, "attribute '%s' has %zu values, at most %d supported", name,
                                a->count, cap);
    memcpy(out, a->floats, a->count * sizeof(float));
    *count = (int)a->count;
    return EML_OK;
}

eml_status eml__attr_tensor(const eml_prepare_ctx *ctx, const char *name, const eml_tensor **out)
{
    const eml_attr *a;
    eml_status st = attr_typed(ctx, name, EML_ATTR_TENSOR, &a);
    *out = a ? &a->t : NULL;
    return st;
}

eml_status eml__attr_only(const eml_prepare_ctx *ctx, const char *const *known)
{
    for (int32_t i = 0; i < ctx->node->n_attrs; i++) {
        const char *name = ctx->node->attrs[i].name;
        bool ok = false;
        for (const char *const *k = known; *k && !ok; k++)
            ok = strcmp(*k, name) == 0;
        if (!ok)
            return eml__unsupported(ctx, "attribute '%s'", name);
    }
    return EML_OK;
}

eml_status eml__infer_error(const eml_infer_ctx *ctx, eml_status status, const char *fmt, ...)
{
    if (!ctx->diag)
        return status;
    char detail[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    const eml_op_info *info = eml__op_info(ctx->op);
    const char *op = info ? info->name : "?";
    eml__diag_where(ctx->diag, NULL, ctx->node_name, op, ctx->opset, -1);
    return eml__diag(ctx->diag, status, "%s at node '%s': %s", op, ctx->node_name, detail);
}

eml_status eml__infer_unsupported(const eml_infer_ctx *ctx, const char *fmt, ...)
{
    if (!ctx->diag)
        return EML_EUNSUPPORTED;
    char detail[384];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof(detail), fmt, ap);
    va_end(ap);
    const eml_op_info *info = eml__op_info(ctx->op);
    const char *op = info ? info->name : "?";
    eml__diag_where(ctx->diag, NULL, ctx->node_name, op, ctx->opset, -1);
    return eml__diag(ctx->diag, EML_EUNSUPPORTED, "unsupported: %s (opset %d) at node '%s': %s", op,
                     (int)ctx->opset, ctx->node_name, detail);
}

void eml__set_output(eml_infer_ctx *ctx, int32_t i, eml_dtype dtype, const int64_t *dims, int rank)
{
    eml_tensor *t = &ctx->outputs[i];
    t->dtype = dtype;
    t->rank = rank;
    for (int d = 0; d < rank; d++)
        t->dims[d] = dims[d];
}

eml_status eml__broadcast_shape(const int64_t *a, int ra, const int64_t *b, int rb, int64_t *out,
                                int *rout)
{
    int r = EML_MAX(ra, rb);
    for (int i = 0; i < r; i++) {
        int64_t da = i < r - ra ? 1 : a[i - (r - ra)];
        int64_t db = i < r - rb ? 1 : b[i - (r - rb)];
        if (da != db && da != 1 && db != 1)
            return EML_ESHAPE;
        out[i] = da == 1 ? db : da;
    }
    *rout = r;
    return EML_OK;
}

bool eml__norm_axis(int64_t axis, int rank, int64_t *out)
{
    if (axis < -rank || axis >= rank)
        return false;
    *out = axis < 0 ? axis + rank : axis;
    return true;
}
