/* Control-flow ops (If): prepare and infer; the runtime runs their branches itself. */
#ifndef EML_GRAPH_OPS_CONTROL_H
#define EML_GRAPH_OPS_CONTROL_H

#include "graph/op.h"

eml_status eml__if_prepare(eml_prepare_ctx *ctx);
eml_status eml__if_infer(eml_infer_ctx *ctx);

#endif
