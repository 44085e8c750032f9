/* Everything public of libedgeml in one include. */
#ifndef EDGEML_EDGEML_H
#define EDGEML_EDGEML_H

#include "edgeml/status.h"
#include "edgeml/tensor.h"
#include "edgeml/env.h"
#include "edgeml/graph.h"
#include "edgeml/runtime.h"
#include "edgeml/io.h"
#include "edgeml/optimize.h"
#include "edgeml/serve.h"
#include "edgeml/drift.h"
#include "edgeml/agent.h"
#include "edgeml/manager.h"

#define EML_VERSION_STRING "0.1.0"

#endif
