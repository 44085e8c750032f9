/* The op table generated from ops.def, and lookup by name. */
#include "graph/op.h"

/* Declarations of every prepare/infer/kernel named in ops.def (repeats are
 * harmless in C). */
#define EML_OP(name, since, min_in, max_in, min_out, max_out, prepare, infer,  \
               kernel)                                                         \
  eml_status prepare(eml_prepare_ctx *ctx);                                    \
  eml_status infer(eml_infer_ctx *ctx);                                        \
  eml_status kernel(const eml_kernel_ctx *ctx);
#include "graph/ops.def"
#undef EML_OP

/* ops.def names this for ops that the runtime runs itself (If). */
#define eml__ref_none NULL

static const eml_op_info op_table[EML_OP_COUNT] = {
#define EML_OP(name, since, min_in, max_in, min_out, max_out, prepare, infer,  \
               kernel)                                                         \
  {#name, since, min_in, max_in, min_out, max_out, prepare, infer, kernel},
#include "graph/ops.def"
#undef EML_OP
};

eml_op_id eml__op_find(const char *name) {
  /* ops.def is sorted case-insensitively; a linear scan of 126 names is cheap
   * at load time */
  for (int i = 0; i < EML_OP_COUNT; i++) {
    if (strcmp(op_table[i].name, name) == 0)
      return (eml_op_id)i;
  }
  return EML_OP_UNKNOWN;
}

const eml_op_info *eml__op_info(eml_op_id op) {
  if (op < 0 || op >= EML_OP_COUNT)
    return NULL;
  return &op_table[op];
}
