/* Status codes and the diagnostic record that says what went wrong and where. */
#ifndef EDGEML_STATUS_H
#define EDGEML_STATUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define EML_API __attribute__((visibility("default")))
#else
#define EML_API
#endif

/* One list of every status: value, enum name, short text. Values are append-only; never renumber. */
#define EML_STATUS_MAP(X)                                                                          \
    X(0, EML_OK, "ok")                                                                             \
    X(-1, EML_EINVAL, "invalid argument")                                                          \
    X(-2, EML_ENOMEM, "out of memory")                                                             \
    X(-3, EML_EIO, "i/o error")                                                                    \
    X(-4, EML_ECORRUPT, "corrupt or truncated data")                                              \
    X(-5, EML_EUNSUPPORTED, "unsupported")                                                         \
    X(-6, EML_ESHAPE, "shape mismatch")                                                            \
    X(-7, EML_ETYPE, "type mismatch")                                                              \
    X(-8, EML_EGRAPH, "invalid graph")                                                             \
    X(-9, EML_ELIMIT, "limit exceeded")                                                            \
    X(-10, EML_ERANGE, "value out of range")                                                       \
    X(-11, EML_ENOTFOUND, "not found")                                                             \
    X(-12, EML_EDYNAMIC, "value depends on data not yet known")                                    \
    X(-13, EML_EINTERNAL, "internal error")

typedef enum eml_status {
#define EML__STATUS_ENUM(value, name, text) name = value,
    EML_STATUS_MAP(EML__STATUS_ENUM)
#undef EML__STATUS_ENUM
} eml_status;

/* Short text for a status ("invalid graph"); never NULL. */
EML_API const char *eml_status_str(eml_status status);

/* Enum name for a status ("EML_EGRAPH"); never NULL. */
EML_API const char *eml_status_name(eml_status status);

/* What went wrong and where. Functions that parse, build or compile fill it when given one.
 * Caller allocates; eml_diag_init() clears it. `message` is one line, complete on its own. */
typedef struct eml_diag {
    eml_status status;
    char message[512];
    char file[256];     /* model or data file, when known */
    char node[128];     /* node name, when known */
    char op[64];        /* op type, when known */
    int32_t opset;      /* opset of that op, 0 when unknown */
    int64_t offset;     /* byte offset in the file, -1 when unknown */
} eml_diag;

EML_API void eml_diag_init(eml_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
