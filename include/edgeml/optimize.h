/* Post-training quantization (INT8 static QDQ, INT8 dynamic, FP16, mixed precision) and the
 * accuracy measurement of classifiers that judges it. */
#ifndef EDGEML_OPTIMIZE_H
#define EDGEML_OPTIMIZE_H

#include "edgeml/env.h"
#include "edgeml/graph.h"
#include "edgeml/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- accuracy of a classifier ---- */

typedef struct eml_eval_options {
    uint32_t struct_size; /* set by eml_eval_options_init(); fields are only appended */
    uint32_t batch;       /* samples per run; 0: 500, or the input's static dim 0 */
    uint32_t limit;       /* evaluate the first `limit` samples only; 0: all */
} eml_eval_options;

EML_API void eml_eval_options_init(eml_eval_options *opts);

typedef struct eml_eval_result {
    uint64_t count;      /* samples evaluated */
    uint64_t top1, top5; /* correct within the best 1 and the best 5 */
    double top1_pct;     /* 100 * top1 / count */
    double top5_pct;     /* -1 when the model has 5 classes or fewer */
    uint32_t n_classes;
} eml_eval_result;

/* Runs the graph's first input on `data` (float32 [N, ...]: each sample has as many values as
 * the input without its dim 0, so [N,28,28] feeds [batch,1,28,28]) and compares the argmax of the
 * first output ([batch, classes]) with `labels` (uint8, int32 or int64 [N]).
 * graph, data, labels: borrowed. predictions: NULL, or N entries that receive each sample's top-1.
 * Returns EML_OK; EML_ESHAPE / EML_ETYPE when data or labels do not fit the model (said in diag);
 * EML_EINVAL (an empty set); and the errors of eml_plan_create and eml_session_run. */
EML_API eml_status eml_eval_classifier(const eml_graph *graph, const eml_tensor *data,
                                       const eml_tensor *labels, const eml_eval_options *opts,
                                       eml_eval_result *result, int32_t *predictions,
                                       eml_diag *diag);

/* ---- quantization ---- */

typedef enum eml_precision {
    EML_PRECISION_INT8 = 1,         /* static: weights and activations int8 (ONNX QDQ) */
    EML_PRECISION_INT8_DYNAMIC = 2, /* weights int8; activations quantized at each run */
    EML_PRECISION_FP16 = 3,         /* weights stored as float16, computed in float32 */
    EML_PRECISION_MIXED = 4         /* INT8 with the most sensitive layers kept in float16 */
} eml_precision;

typedef enum eml_calib_method {
    EML_CALIB_MINMAX = 0,
    EML_CALIB_PERCENTILE = 1, /* the central `percentile` % of each tensor's values */
    EML_CALIB_ENTROPY = 2     /* the range minimizing the KL divergence of the histogram */
} eml_calib_method;

typedef struct eml_quantize_options {
    uint32_t struct_size;        /* set by eml_quantize_options_init(); fields are only appended */
    eml_precision precision;     /* default INT8 */
    eml_calib_method method;     /* default MINMAX */
    float percentile;            /* PERCENTILE: default 99.99 */
    int per_tensor;              /* 1: one weight scale per tensor; 0: per output channel */
    const eml_tensor *calib;     /* borrowed: float32 [N, ...] for the first input (INT8, MIXED) */
    uint32_t calib_batch;        /* samples per calibration run; 0: 100, or the static dim 0 */
    const eml_tensor *eval_data; /* MIXED, borrowed, optional: as eml_eval_classifier */
    const eml_tensor *eval_labels; /* without them MIXED measures agreement with float32 on the
                                      calibration set */
    float accuracy_budget;         /* MIXED: top-1 points the model may lose; default 0.5 */
} eml_quantize_options;

EML_API void eml_quantize_options_init(eml_quantize_options *opts);

/* What became of one layer (Conv, Gemm, MatMul). Strings are copies, NUL-terminated. */
typedef struct eml_quantize_layer {
    char node[128];
    char op[32];
    const char *precision; /* static: "int8", "fp16", "fp32" */
    double sqnr_db;        /* output SQNR against float32 on the calibration set; INFINITY when
                              exact; NAN when not measured */
    double sensitivity;    /* MIXED: top-1 points lost with only this layer in int8; else NAN */
} eml_quantize_layer;

typedef struct eml_quantize_report {
    eml_env *env;                 /* of the graph; used by eml_quantize_report_deinit */
    uint64_t params_bytes_before; /* bytes of all initializers */
    uint64_t params_bytes_after;
    size_t layer_count;
    eml_quantize_layer *layers; /* owned: free with eml_quantize_report_deinit */
    size_t quantized_tensors;   /* activations given a QuantizeLinear (static) */
    double accuracy_fp32;       /* MIXED: top-1 % measured before and after; else NAN */
    double accuracy_mixed;
    int opset_upgraded; /* the default-domain opset was raised to 13 */
} eml_quantize_report;

/* NULL or a zeroed report is a no-op. */
EML_API void eml_quantize_report_deinit(eml_quantize_report *report);

/* Quantizes the graph in place as opts->precision says. It first runs the ONNX-only graph
 * passes (level 1: folding constants and BatchNormalization, dropping Identity), then:
 *  INT8: calibrates the activations on opts->calib and writes the QDQ form: weights int8
 *    symmetric per channel (zero point 0; axis 0 for Conv and Gemm with transB, 1 for MatMul and
 *    Gemm) -> DequantizeLinear; bias int32 with scale x_scale*w_scale[c] -> DequantizeLinear;
 *    activations uint8 asymmetric: QuantizeLinear -> DequantizeLinear on graph inputs and on the
 *    outputs of Conv/Gemm/MatMul (after their Relu/Clip), Add, pools and Concat. Other ops stay
 *    float between DequantizeLinear and QuantizeLinear. The default-domain opset becomes 13 when
 *    lower and every op keeps its meaning there, else EML_EUNSUPPORTED.
 *  INT8_DYNAMIC: each Gemm/MatMul with a constant 2-D weight becomes DynamicQuantizeLinear +
 *    MatMulInteger (int8 weights per column) + Cast + Mul (+ Add for a bias). Conv stays float.
 *  FP16: every float32 initializer is stored as float16 and Cast back to float32.
 *  MIXED: INT8, then layers are kept in float16, the most sensitive first, until the top-1
 *    accuracy is within opts->accuracy_budget of float32.
 * Graph input and output names are kept; the graph stays valid ONNX that ONNX Runtime runs.
 * report: may be NULL; else filled (deinit it even on failure).
 * Returns EML_OK; EML_EINVAL (bad options, no or empty calibration data, a model already
 * quantized, nothing to quantize); EML_ESHAPE / EML_ETYPE (calibration data that does not fit
 * the model's first input); EML_EUNSUPPORTED (an opset below 13 that cannot be raised); the
 * errors of running the model. On failure the graph may be partly rewritten: quantize a copy.
 * Not thread-safe for one graph. */
EML_API eml_status eml_quantize(eml_graph *graph, const eml_quantize_options *opts,
                                eml_quantize_report *report, eml_diag *diag);

/* ---- pruning ---- */

typedef enum eml_prune_method {
    EML_PRUNE_UNSTRUCTURED = 0, /* the smallest |w| of the layers' weights become 0 */
    EML_PRUNE_CHANNELS = 1      /* whole output channels with the smallest L1 norm become 0 */
} eml_prune_method;

typedef enum eml_prune_scope {
    EML_PRUNE_GLOBAL = 0,   /* one |w| threshold over all pruned layers: the target is met in
                               total, layers with many small weights lose more */
    EML_PRUNE_PER_LAYER = 1 /* each pruned layer reaches the target by itself */
} eml_prune_scope;

typedef struct eml_prune_options {
    uint32_t struct_size;    /* set by eml_prune_options_init(); fields are only appended */
    float sparsity;          /* fraction of zeros to reach in [0, 1); default 0.5 */
    eml_prune_method method; /* default UNSTRUCTURED */
    eml_prune_scope scope;   /* default GLOBAL; CHANNELS always works per layer */
    uint64_t min_weights;    /* layers whose weight has fewer elements stay dense; default 256 */
    int keep_first;          /* 1: the first layer (in node order) stays dense */
    int keep_last;           /* 1: the last layer stays dense */
} eml_prune_options;

EML_API void eml_prune_options_init(eml_prune_options *opts);

/* One layer (Conv, Gemm, MatMul with a constant float32 weight). Strings are copies. */
typedef struct eml_prune_layer {
    char node[128];
    char op[32];
    char weight[128];       /* the weight initializer's name */
    uint64_t weight_count;  /* elements of the weight */
    uint64_t zeros_before;  /* zeros it had already */
    uint64_t zeros_after;
    double sparsity;        /* zeros_after / weight_count */
    const char *skipped;    /* static: NULL when pruned, else why not ("smaller than
                               min_weights", "first layer", "last layer", "weight shared with
                               an earlier layer", CHANNELS: "output layer: ...") */
    uint32_t channels;         /* CHANNELS: output channels of the weight; else 0 */
    uint32_t channels_pruned;  /* CHANNELS: those zeroed */
} eml_prune_layer;

typedef struct eml_prune_report {
    eml_env *env;                /* of the graph; used by eml_prune_report_deinit */
    size_t layer_count;
    eml_prune_layer *layers;     /* owned: free with eml_prune_report_deinit */
    uint64_t pruned_weight_count; /* elements of the weights of the pruned layers */
    uint64_t pruned_zeros;        /* zeros among them after pruning */
    double sparsity;              /* pruned_zeros / pruned_weight_count */
    uint64_t param_count;         /* elements of every float32 initializer, biases included */
    uint64_t param_zeros;         /* zeros among them after pruning */
} eml_prune_report;

/* NULL or a zeroed report is a no-op. */
EML_API void eml_prune_report_deinit(eml_prune_report *report);

/* Magnitude pruning, in place: sets to zero the weights of Conv, Gemm and MatMul layers whose
 * weight (input 1) is a constant float32 initializer. UNSTRUCTURED zeroes the elements of
 * smallest magnitude, exactly round(sparsity * count) of them (ties broken by position), over
 * all pruned layers together (GLOBAL) or in each (PER_LAYER); weights already zero count. CHANNELS
 * zeroes the round(sparsity * C) output channels of smallest L1 norm in each layer (axis 0 for
 * Conv and Gemm with transB, 1 for MatMul and Gemm), except in output layers (those no other
 * layer reads from: their channels are the model's outputs, class scores). Biases and all other tensors are never
 * touched, and no shape changes: the model stays a dense ONNX model that any runtime runs; its
 * zeros make the file compress, dense kernels do not get faster.
 * report: may be NULL; else filled (deinit it even on failure).
 * Returns EML_OK; EML_EINVAL (bad options; a graph with no layer to prune after the
 * exclusions); EML_ENOMEM. On failure no weight has been changed. Not thread-safe for one
 * graph. */
EML_API eml_status eml_prune(eml_graph *graph, const eml_prune_options *opts,
                             eml_prune_report *report, eml_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
