/* Status texts and the diag record. */
#include <stdarg.h>
#include <stdio.h>

#include "core/core.h"

const char *eml_status_str(eml_status status)
{
    switch (status) {
#define EML__STATUS_STR(value, name, text)                                                         \
    case name:                                                                                     \
        return text;
        EML_STATUS_MAP(EML__STATUS_STR)
#undef EML__STATUS_STR
    }
    return "unknown status";
}

const char *eml_status_name(eml_status status)
{
    switch (status) {
#define EML__STATUS_NAME(value, name, text)                                                        \
    case name:                                                                                     \
        return #name;
        EML_STATUS_MAP(EML__STATUS_NAME)
#undef EML__STATUS_NAME
    }
    return "EML_UNKNOWN";
}

void eml_diag_init(eml_diag *diag)
{
    if (!diag)
        return;
    memset(diag, 0, sizeof(*diag));
    diag->offset = -1;
}

eml_status eml__diag(eml_diag *diag, eml_status status, const char *fmt, ...)
{
    if (!diag)
        return status;
    diag->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(diag->message, sizeof(diag->message), fmt, ap);
    va_end(ap);
    return status;
}

static void copy_field(char *dst, size_t cap, const char *src)
{
    if (src)
        snprintf(dst, cap, "%s", src);
}

void eml__diag_where(eml_diag *diag, const char *file, const char *node, const char *op,
                     int32_t opset, int64_t offset)
{
    if (!diag)
        return;
    copy_field(diag->file, sizeof(diag->file), file);
    copy_field(diag->node, sizeof(diag->node), node);
    copy_field(diag->op, sizeof(diag->op), op);
    if (opset)
        diag->opset = opset;
    if (offset >= 0)
        diag->offset = offset;
}

const char *eml__shape_str(char *buf, size_t cap, eml_dtype dtype, const int64_t *dims, int rank)
{
    size_t n = (size_t)snprintf(buf, cap, "%s[", eml_dtype_name(dtype));
    for (int i = 0; i < rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, i ? ",%lld" : "%lld", (long long)dims[i]);
    if (n < cap)
        snprintf(buf + n, cap - n, "]");
    return buf;
}
