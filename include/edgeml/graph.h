/* The model graph: loading and saving ONNX, and what a model declares about itself. */
#ifndef EDGEML_GRAPH_H
#define EDGEML_GRAPH_H

#include "edgeml/env.h"
#include "edgeml/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct eml_graph eml_graph;

/* Reads an ONNX model file; external data files are read from the model's folder. External data
 * of 4 KiB or more whose offset suits its element size is mapped (a private, copy-on-write file
 * mapping) instead of copied: those weights take page cache the system can drop and read again,
 * not heap; the files must then stay unchanged while the graph lives.
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

/* eml_graph_save_onnx with ONNX external data: initializers of min_bytes or more are written to
 * `data_name` (a file name, no folder) beside `path`, each at a 64-byte aligned offset, so that
 * eml_graph_load_onnx maps them instead of copying. The data file is fsynced before the model is
 * renamed into place; on failure neither file is left. Returns EML_OK, EML_EINVAL, EML_EIO,
 * EML_ENOMEM. */
EML_API eml_status eml_graph_save_onnx_external(const eml_graph *graph, const char *path,
                                               const char *data_name, size_t min_bytes,
                                               eml_diag *diag);

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
    uint64_t mapped_bytes;      /* initializer bytes mapped from external data files, not
                                   copied (see eml_graph_load_onnx) */
} eml_graph_stats;

EML_API void eml_graph_stats_get(const eml_graph *graph, eml_graph_stats *out);

/* Calls fn once per distinct op type of the top-level graph with its node count, in first-seen
 * order. */
EML_API void eml_graph_op_counts(const eml_graph *graph,
                                 void (*fn)(void *user, const char *op_type, size_t count),
                                 void *user);

/* ---- optimization: named graph passes that rewrite the graph in place ---- */

typedef struct eml_optimize_options {
    uint32_t struct_size;   /* set by eml_optimize_options_init(); fields are only appended */
    int level;              /* 0 none, 1 basic (ONNX ops only), 2 all, with edgeml's fused ops
                               (domain ai.edgeml) (default) */
    const char *disable;    /* borrowed: comma-separated pass names not to run; NULL: none */
} eml_optimize_options;

EML_API void eml_optimize_options_init(eml_optimize_options *opts);

/* The passes, in the order they run: name `index` (static string), NULL past the last. */
EML_API const char *eml_optimize_pass_name(size_t index);

#define EML_OPTIMIZE_MAX_PASSES 16

/* What an optimization did. Pass names are static strings. */
typedef struct eml_optimize_report {
    size_t nodes_before, nodes_after;               /* top-level nodes */
    size_t initializers_before, initializers_after;
    uint32_t rounds;        /* times the pass list ran: it repeats while a round rewrites */
    size_t pass_count;      /* passes that ran (enabled at this level), in order */
    struct {
        const char *name;
        uint64_t rewrites;  /* nodes folded, removed or fused, summed over the rounds */
    } passes[EML_OPTIMIZE_MAX_PASSES];
} eml_optimize_report;

/* Rewrites the graph in place with every pass of opts->level not disabled: constant and shape
 * folding, Identity/Dropout elimination, BatchNormalization folding, fusion of Conv/Gemm/MatMul
 * with a residual Add and an activation into ai.edgeml FusedConv/FusedGemm/FusedMatMul, and dead
 * node elimination. The result computes the same outputs (up to float rounding where BatchNorm
 * is folded), keeps the graph's input and output names, and saves as ONNX (with the opset
 * import ai.edgeml 1 when a fused op is used). Subgraphs (If branches) are left as they are.
 * opts: NULL = defaults. report: may be NULL. Returns EML_OK; EML_EINVAL (a level out of range,
 * an unknown pass name in opts->disable, named in diag); EML_EGRAPH (the graph is invalid);
 * EML_ENOMEM (the graph is then valid but partly optimized); EML_EINTERNAL (a pass broke the
 * graph, named in diag; checked after each pass in debug builds). Not thread-safe for one graph:
 * nothing may use the graph (a plan included) while it is optimized. */
EML_API eml_status eml_graph_optimize(eml_graph *graph, const eml_optimize_options *opts,
                                      eml_optimize_report *report, eml_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
