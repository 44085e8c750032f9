/* The graph IR as other modules see it: values, nodes, attributes, nested graphs. */
#ifndef EML_GRAPH_GRAPH_H
#define EML_GRAPH_GRAPH_H

#include "core/core.h"
#include "edgeml/graph.h"
#include "graph/op.h"

/* ONNX attribute types, same values as AttributeProto.AttributeType. */
typedef enum eml_attr_type {
    EML_ATTR_UNDEFINED = 0,
    EML_ATTR_FLOAT = 1,
    EML_ATTR_INT = 2,
    EML_ATTR_STRING = 3,
    EML_ATTR_TENSOR = 4,
    EML_ATTR_GRAPH = 5,
    EML_ATTR_FLOATS = 6,
    EML_ATTR_INTS = 7,
    EML_ATTR_STRINGS = 8,
    EML_ATTR_TENSORS = 9,
    EML_ATTR_GRAPHS = 10,
    EML_ATTR_SPARSE_TENSOR = 11,
    EML_ATTR_SPARSE_TENSORS = 12,
    EML_ATTR_TYPE_PROTO = 13,
    EML_ATTR_TYPE_PROTOS = 14
} eml_attr_type;

typedef struct eml_attr {
    char *name;
    eml_attr_type type;
    float f;
    int64_t i;
    char *s;            /* STRING: bytes + NUL; s_len excludes the NUL */
    size_t s_len;
    float *floats;      /* FLOATS */
    int64_t *ints;      /* INTS */
    char **strings;     /* STRINGS */
    size_t count;       /* elements of floats/ints/strings */
    eml_tensor t;       /* TENSOR: owned data */
    eml_graph *g;       /* GRAPH: owned subgraph */
} eml_attr;

typedef struct eml_node {
    char *name;
    char *op_type;
    char *domain;       /* "" for the default domain */
    eml_op_id op;       /* EML_OP_UNKNOWN until resolved */
    int32_t opset;      /* opset version of the node's domain */
    int32_t *inputs;    /* value ids; -1 for an omitted optional input */
    int32_t n_inputs;
    int32_t *outputs;   /* value ids; -1 for an omitted optional output */
    int32_t n_outputs;
    eml_attr *attrs;
    int32_t n_attrs;
} eml_node;

typedef enum eml_value_flags {
    EML_VALUE_INPUT = 1,        /* a graph input */
    EML_VALUE_OUTPUT = 2,       /* a graph output */
    EML_VALUE_INITIALIZER = 4,  /* has constant data (a default when also INPUT) */
    EML_VALUE_OUTER = 8,        /* a subgraph's reference to a value of an enclosing graph */
    EML_VALUE_FROM_F16 = 16     /* INITIALIZER: float32 data a folded Cast widened from float16
                                   (a float16 model's weights: may be computed in float16) */
} eml_value_flags;

typedef struct eml_value {
    char *name;
    uint32_t flags;
    eml_dtype dtype;            /* declared; UNDEFINED when not declared */
    int32_t rank;               /* declared; -1 when not declared */
    int64_t dims[EML_MAX_RANK]; /* declared; -1 for a dynamic dim */
    char *dim_names[EML_MAX_RANK]; /* dim_param of dynamic dims, or NULL */
    void *data;                 /* INITIALIZER: owned, dense; 64-byte aligned env memory, or
                                   inside map_base (element-aligned): see eml__value_free_data */
    void *map_base;             /* a private file mapping holding data (NULL: env memory) */
    size_t map_bytes;
    int32_t producer;           /* node index, -1 for inputs/initializers/outer */
} eml_value;

typedef struct eml_opset_import {
    char *domain;
    int64_t version;
} eml_opset_import;

struct eml_graph {
    eml_env *env;
    char *name;
    eml_value *values;
    size_t n_values, cap_values;
    eml_node *nodes;            /* in file order; the plan sorts them */
    size_t n_nodes, cap_nodes;
    int32_t *inputs;            /* value ids of graph inputs, in order */
    size_t n_inputs, cap_inputs;
    int32_t *outputs;
    size_t n_outputs, cap_outputs;
    eml_strmap names;           /* value name → id */
    const eml_graph *parent;    /* enclosing graph of a subgraph, NULL at top level */
    /* model-level facts, top level only */
    int64_t ir_version;
    eml_opset_import *opsets;
    size_t n_opsets;
    char *producer_name;
    char *producer_version;
    char *doc;
};

/* Releases an initializer's data (env memory, or its file mapping) and clears it. Every
 * replacement of a value's data goes through here. */
void eml__value_free_data(eml_env *env, eml_value *v);
/* Asks the system to reclaim the pages of mapped initializers now (a hint; Linux 5.4+): after
 * compilation packed copies serve most of them, and what a kernel still reads comes back from
 * the file on first touch. Private changes are kept (they are swapped, never dropped). */
void eml__graph_page_out_mapped(const eml_graph *g);

/* ---- building (used by importers, passes and tests) ---- */
eml_status eml__graph_create(eml_env *env, const eml_graph *parent, eml_graph **out);
/* Returns the id of the value named `name`, creating an undeclared one if absent. */
eml_status eml__graph_value(eml_graph *g, const char *name, int32_t *id);
/* -1 when absent. */
int32_t eml__graph_find(const eml_graph *g, const char *name);
/* Appends a node with room for the given counts; strings copied; inputs/outputs set to -1. */
eml_status eml__graph_add_node(eml_graph *g, const char *name, const char *op_type,
                               const char *domain, int32_t n_inputs, int32_t n_outputs,
                               int32_t n_attrs, eml_node **out);
eml_status eml__graph_add_input(eml_graph *g, int32_t value);
eml_status eml__graph_add_output(eml_graph *g, int32_t value);
/* Default-domain opset of the top-level graph (walks up from subgraphs). */
int64_t eml__graph_opset(const eml_graph *g, const char *domain);

/* Checks structure: every used value defined once, no cycle, outer references resolvable.
 * Fills `order` (n_nodes entries) with a topological order when not NULL. */
eml_status eml__graph_verify(const eml_graph *g, int32_t *order, eml_diag *diag);

/* Finds an attribute by name, NULL when absent. */
const eml_attr *eml__node_attr(const eml_node *node, const char *name);

#endif
