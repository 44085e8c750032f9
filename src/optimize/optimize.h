/* What the quantization files share: graph copies, observing values while a model runs,
 * calibration ranges, and the rewrites of each precision. */
#ifndef EML_OPTIMIZE_OPTIMIZE_H
#define EML_OPTIMIZE_OPTIMIZE_H

#include "edgeml/optimize.h"
#include "graph/graph.h"

/* ---- clone.c ---- */

/* A deep copy of a top-level graph in the same env: same value ids, node order and names. */
eml_status eml__graph_clone(const eml_graph *g, eml_graph **out);

/* Adds an INT attribute to a node made with room for it (node->attrs[index] still empty). */
eml_status eml__node_attr_int(eml_graph *g, eml_node *n, int32_t index, const char *name,
                              int64_t value);

/* Drops initializers no node reads (weights replaced by their quantized copies); graph outputs
 * and inputs' defaults stay. Does nothing to a graph with subgraphs (they read by name). */
eml_status eml__drop_unused_consts(eml_graph *g);

/* Puts the nodes in topological order, as ONNX files must have them. */
eml_status eml__graph_sort(eml_graph *g, eml_diag *diag);

/* ---- observe.c ---- */

/* Calls fn once per batch of `data` run through the graph, with the values `ids` (n_ids of them)
 * as computed for that batch (views borrowed for the call). data: float32 [N, ...] for the first
 * input (see eml_eval_classifier). batch: samples per run, 0: default. limit: first samples only,
 * 0: all. The graph is unchanged on return. */
typedef eml_status (*eml_observe_fn)(void *user, const eml_tensor *values, size_t n_ids,
                                     uint64_t first_sample);
eml_status eml__observe(eml_graph *g, const eml_tensor *data, uint32_t batch, uint32_t limit,
                        const int32_t *ids, size_t n_ids, eml_observe_fn fn, void *user,
                        eml_diag *diag);

/* Checks that data fits the first input of g (float32, same count per sample). */
eml_status eml__check_data(const eml_graph *g, const eml_tensor *data, const char *what,
                           eml_diag *diag);

/* ---- calibrate.c ---- */

typedef struct eml_qrange {
    float lo, hi; /* calibrated range, always containing 0 */
    float scale;  /* uint8 asymmetric */
    uint8_t zero_point;
} eml_qrange;

/* Calibrates the values ids (float32 activations of g) on data with the method of opts.
 * ranges: n_ids entries. */
eml_status eml__calibrate(eml_graph *g, const eml_quantize_options *opts, const int32_t *ids,
                          size_t n_ids, eml_qrange *ranges, eml_diag *diag);

/* Scale and zero point of a range for uint8. */
void eml__qrange_finish(eml_qrange *r);

/* ---- quantize_static.c ---- */

/* The layers (Conv, Gemm, MatMul with a constant weight) of g in node order. */
typedef struct eml_qlayer {
    int32_t node;   /* node index */
    int32_t weight; /* input slot of the weight */
    int32_t axis;   /* output-channel axis of the weight */
} eml_qlayer;

/* What a static rewrite does. */
typedef struct eml_qplan {
    eml_qlayer *layers;
    size_t n_layers;
    uint8_t *include; /* per layer: quantize it */
    int others;       /* also quantize Add, pools, Concat and graph inputs not next to a layer */
    int32_t *tensors; /* activations to quantize (value ids), and their ranges */
    eml_qrange *ranges;
    size_t n_tensors;
} eml_qplan;

/* Finds the layers of g (plan->layers, all included) and every activation a full INT8 rewrite
 * quantizes (plan->tensors, ranges not yet set). */
eml_status eml__qplan_build(const eml_graph *g, eml_qplan *plan, eml_diag *diag);
void eml__qplan_deinit(eml_env *env, eml_qplan *plan);

/* A new zeroed initializer named <base><suffix>; *data points to its data. */
eml_status eml__opt_new_const(eml_graph *g, const char *base, const char *suffix, eml_dtype dtype,
                              int rank, const int64_t *dims, int32_t *id, void **data);
/* Appends a default-domain node named <base>_<op_type> with its op resolved; *index is its
 * position (node pointers move when nodes are added). */
eml_status eml__opt_add_node(eml_graph *g, const char *base, const char *op_type, int32_t n_in,
                             int32_t n_out, int32_t n_attrs, int32_t *index);

/* Rewrites g (a graph with the value ids the plan was built on) into QDQ form for the included
 * layers. per_tensor: one weight scale per tensor. */
eml_status eml__quantize_static(eml_graph *g, const eml_qplan *plan, int per_tensor,
                                eml_diag *diag);

/* ---- quantize_dynamic.c, fp16.c ---- */

eml_status eml__quantize_dynamic(eml_graph *g, int per_tensor, size_t *n_layers, eml_diag *diag);
/* Converts the float32 initializers (those read by `only` nodes when only is not NULL: per node
 * index, 1 to convert) to float16 + Cast. The Casts are appended (existing node indices stay):
 * sort the graph afterwards. */
eml_status eml__convert_fp16(eml_graph *g, const uint8_t *only, eml_diag *diag);

/* ---- mixed.c ---- */

/* Per-layer output SQNR of `quant` against `ref` (same value names) on the first samples of the
 * calibration data; fills report->layers[i].sqnr_db for the layers of plan. */
eml_status eml__layer_sqnr(eml_graph *ref, eml_graph *quant, const eml_qplan *plan,
                           const eml_quantize_options *opts, eml_quantize_report *report,
                           eml_diag *diag);

/* MIXED: chooses plan->include from the sensitivities, rewrites g. */
eml_status eml__quantize_mixed(eml_graph *g, eml_qplan *plan, const eml_quantize_options *opts,
                               eml_quantize_report *report, eml_diag *diag);

/* The value a layer's output becomes after its activation (Relu, Clip) when it has one. */
int32_t eml__layer_post(const eml_graph *g, int32_t node);

#endif
