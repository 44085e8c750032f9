/* The model graph: loading and saving ONNX, and what a model declares about itself. */
#ifndef EDGEML_GRAPH_H
#define EDGEML_GRAPH_H

#include "edgeml/env.h"
#include "edgeml/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eml_graph eml_graph;

/* Reads an ONNX model file; external data files are read from the model's folder.
 * Every op is checked against the supported list and its attributes validated here, so an
 * unsupported model fails now ("unsupported: <op> (opset N) at node '<name>'"), never at run.
 * env: borrowed, must outlive the graph. Returns EML_OK, EML_EIO, EML_ECORRUPT, EML_EGRAPH,
 * EML_EUNSUPPORTED, EML_ELIMIT, EML_ENOMEM; diag says what and where. */
EML_API eml_status eml_graph_load_onnx(eml_env *env, const char *path, eml_graph **out,
                                       eml_diag *diag);

/* The same from bytes in memory (copied). base_dir: folder for external data, or NULL to refuse
 * external data. */
EML_API eml_status eml_graph_load_onnx_bytes(eml_env *env, const void *bytes, size_t n_bytes,
                                             const char *base_dir, eml_graph **out,
                                             eml_diag *diag);

/* Writes the graph as an ONNX model (initializers inline). Returns EML_OK, EML_EIO, EML_ENOMEM. */
EML_API eml_status eml_graph_save_onnx(const eml_graph *graph, const char *path, eml_diag *diag);

/* NULL is a no-op. */
EML_API void eml_graph_destroy(eml_graph *graph);

/* A declared graph input or output. dims[i] < 0 is a dynamic dim named dim_names[i] (may be ""). */
typedef struct eml_value_info {
    const char *name;
    eml_dtype dtype;
    int32_t rank;       /* -1: unknown rank */
    int64_t dims[EML_MAX_RANK];
    const char *dim_names[EML_MAX_RANK];
    int has_default;    /* inputs only: an initializer of the same name supplies a default */
} eml_value_info;

/* Inputs are the graph inputs a caller may feed, in graph order, including those with defaults. */
EML_API size_t eml_graph_input_count(const eml_graph *graph);
EML_API size_t eml_graph_output_count(const eml_graph *graph);
/* Views are borrowed from the graph. Returns EML_OK or EML_ERANGE. */
EML_API eml_status eml_graph_input(const eml_graph *graph, size_t index, eml_value_info *out);
EML_API eml_status eml_graph_output(const eml_graph *graph, size_t index, eml_value_info *out);

/* Summary of a graph for `edgeml info`. */
typedef struct eml_graph_stats {
    size_t node_count;          /* top-level nodes */
    size_t initializer_count;
    uint64_t parameter_count;   /* elements of all initializers */
    uint64_t parameter_bytes;
    int64_t ir_version;
    int32_t opset;              /* default-domain opset */
    const char *producer;       /* borrowed; "" when absent */
} eml_graph_stats;

EML_API void eml_graph_stats_get(const eml_graph *graph, eml_graph_stats *out);

/* Calls fn once per distinct op type of the top-level graph with its node count, in first-seen
 * order. */
EML_API void eml_graph_op_counts(const eml_graph *graph,
                                 void (*fn)(void *user, const char *op_type, size_t count),
                                 void *user);

#ifdef __cplusplus
}
#endif
#endif
