/* The op table generated from ops.def, and lookup by name. */
#include "graph/op.h"

/* Declarations of every prepare/infer/kernel named in ops.def (repeats are
 * harmless in C). */
#define EML_OP(name, domain, since, min_in, max_in, min_out, max_out, prepare, infer, kernel)      \
    eml_status prepare(eml_prepare_ctx *ctx);                                                      \
    eml_status infer(eml_infer_ctx *ctx);                                                          \
    eml_status kernel(const eml_kernel_ctx *ctx);
#include "graph/ops.def"
#undef EML_OP

/* ops.def names this for ops that the runtime runs itself (If). */
#define eml__ref_none NULL

static const eml_op_info op_table[EML_OP_COUNT] = {
#define EML_OP(name, domain, since, min_in, max_in, min_out, max_out, prepare, infer, kernel)      \
    {#name, domain, since, min_in, max_in, min_out, max_out, prepare, infer, kernel},
#include "graph/ops.def"
#undef EML_OP
};

static bool is_default_domain(const char *domain)
{
    return !domain || !domain[0] || strcmp(domain, "ai.onnx") == 0;
}

eml_op_id eml__op_find(const char *domain, const char *name)
{
    /* a linear scan of ~130 entries is cheap at load time */
    bool want_default = is_default_domain(domain);
    for (int i = 0; i < EML_OP_COUNT; i++) {
        const eml_op_info *op = &op_table[i];
        bool same_domain =
            want_default ? is_default_domain(op->domain) : strcmp(op->domain, domain) == 0;
        if (same_domain && strcmp(op->name, name) == 0)
            return (eml_op_id)i;
    }
    return EML_OP_UNKNOWN;
}

const eml_op_info *eml__op_info(eml_op_id op)
{
    if (op < 0 || op >= EML_OP_COUNT)
        return NULL;
    return &op_table[op];
}
