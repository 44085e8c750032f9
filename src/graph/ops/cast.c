/* Prepare and infer of Cast: the target type from `to` (a type name before opset 6, a
 * TensorProto.DataType number since); STRING and types this library lacks are refused. */
#include <strings.h>

#include "graph/graph.h"
#include "kernels/ref/cast.h"

/* TensorProto.DataType names, as Cast-1 spells its `to` attribute. */
static const struct {
    const char *name;
    int32_t value;
} type_names[] = {
    {"FLOAT", 1},    {"UINT8", 2},   {"INT8", 3},    {"UINT16", 4},     {"INT16", 5},
    {"INT32", 6},    {"INT64", 7},   {"STRING", 8},  {"BOOL", 9},       {"FLOAT16", 10},
    {"DOUBLE", 11},  {"UINT32", 12}, {"UINT64", 13}, {"COMPLEX64", 14}, {"COMPLEX128", 15},
    {"BFLOAT16", 16},
};

eml_status eml__cast_prepare(eml_prepare_ctx *ctx)
{
    eml_cast_params *p = EML_PARAMS(ctx, eml_cast_params);
    static const char *const known[] = {"to", NULL};
    eml_status st = eml__attr_only(ctx, known);
    if (st != EML_OK)
        return st;
    const eml_attr *a = eml__node_attr(ctx->node, "to");
    if (!a)
        return eml__bad_attr(ctx, "attribute 'to' is required");
    int64_t to = -1;
    if (a->type == EML_ATTR_STRING) {
        /* Cast-1 named the type; later files that still do are read the same way */
        for (size_t i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++) {
            if (strcasecmp(a->s, type_names[i].name) == 0)
                to = type_names[i].value;
        }
        if (to < 0)
            return eml__bad_attr(ctx, "attribute 'to' = '%s' is not a tensor type", a->s);
    } else if (a->type == EML_ATTR_INT) {
        to = a->i;
    } else {
        return eml__bad_attr(ctx, "attribute 'to' has type %d, expected an int", (int)a->type);
    }
    if (to == EML_DTYPE_STRING)
        return eml__unsupported(ctx, "attribute 'to' = STRING (string tensors are not supported)");
    if (to <= 0 || to > 16)
        return eml__bad_attr(ctx, "attribute 'to' = %lld is not a tensor type", (long long)to);
    if (!eml_dtype_is_supported((eml_dtype)to))
        return eml__unsupported(ctx, "attribute 'to' = %lld (%s)", (long long)to,
                                to == 14 ? "complex64" : to == 15 ? "complex128" : "unknown type");
    p->to = (int32_t)to;
    return EML_OK;
}

eml_status eml__cast_infer(eml_infer_ctx *ctx)
{
    const eml_cast_params *p = ctx->params;
    const eml_tensor *x = &ctx->inputs[0];
    if (!eml_dtype_is_supported(x->dtype))
        return eml__infer_unsupported(ctx, "input type %s", eml_dtype_name(x->dtype));
    eml__set_output(ctx, 0, (eml_dtype)p->to, x->dims, x->rank);
    return EML_OK;
}
