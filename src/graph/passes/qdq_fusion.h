/* Internal interface of the qdq-fusion pass, shared by its files: the pass state, the pattern
 * readers (qdq_fusion.c), the graph builders (qdq_fusion_build.c) and the per-op matchers
 * (qdq_fusion_conv.c, qdq_fusion_eltwise.c, qdq_fusion_linear.c). Nothing outside the pass
 * includes it. */
#ifndef EML_GRAPH_PASSES_QDQ_FUSION_H
#define EML_GRAPH_PASSES_QDQ_FUSION_H

#include "graph/passes/passes.h"

typedef struct eml_qf {
    eml_graph *g;
    eml_static_shapes s;
    eml_uses u;
    size_t n_values; /* values before the pass: the only ones s and u describe */
    size_t n_nodes;  /* nodes before the pass */
    int32_t *twin;   /* per value: its channels-last copy, or -1 */
    uint8_t *dead;   /* per original node */
    uint64_t rewrites;
} eml_qf;

/* A scalar quantization parameter pair: value ids (zp -1 when omitted) and their numbers. */
typedef struct eml_qf_param {
    int32_t scale_v, zp_v;
    float scale;
    int32_t zp;
} eml_qf_param;

/* Input k of node n, or -1 past its inputs. */
static inline int32_t eml__qf_in(const eml_node *n, int32_t k)
{
    return k < n->n_inputs ? n->inputs[k] : -1;
}

/* ---- reading (qdq_fusion.c) ---- */

/* v's constant data: an initializer or a Constant node's value. */
bool eml__qf_const(const eml_graph *g, int32_t v, eml_tensor *t);
/* A 4-D value whose channels and spatial dims are known (the batch dim may be dynamic). */
bool eml__qf_known4(const eml_qf *f, int32_t v);
/* A [N, K] value with K known; N may be dynamic. */
bool eml__qf_known2(const eml_qf *f, int32_t v);
/* A [B, M, K] value with M and K known; B may be dynamic (a batch of matrices, taken as rows). */
bool eml__qf_known3(const eml_qf *f, int32_t v);
/* A float32 positive finite scalar scale and an optional one-element zero point of dtype zdt. */
bool eml__qf_read_qparam(const eml_graph *g, int32_t scale_v, int32_t zp_v, eml_dtype zdt,
                         eml_qf_param *p);
/* v = DequantizeLinear(q, scale, zp?) of a uint8 [N, C, H, W] value with scalar parameters. */
bool eml__qf_dq_act(const eml_qf *f, int32_t v, int32_t *q, eml_qf_param *p);
/* eml__qf_dq_act for a uint8 [N, K] matrix. */
bool eml__qf_dq_act2(const eml_qf *f, int32_t v, int32_t *q, eml_qf_param *p);
/* The only reader of v when it is a QuantizeLinear to uint8 with scalar parameters and a 4-D,
 * [N, K] or [B, M, K] output: its node index, else -1. */
int32_t eml__qf_q_reader(const eml_qf *f, int32_t v, eml_qf_param *p);
/* The activation (Relu, Clip) after node output v, if any (*ai, else -1), and the QuantizeLinear
 * after it: its node index (else -1), its parameters and the clamp codes. */
int32_t eml__qf_tail(const eml_qf *f, int32_t v, int32_t *ai, eml_qf_param *y, int32_t *qmin,
                     int32_t *qmax);
/* Bias: DequantizeLinear of a constant int32 [o] with zero point 0 and scale xs·ws. */
bool eml__qf_dq_bias(const eml_qf *f, int32_t v, int64_t o, float xs, const eml_tensor *ws,
                     int32_t *bv);

/* ---- building (qdq_fusion_build.c) ---- */

/* A new node `op` (default domain) reading `input`, writing `output`, with n_attrs empty
 * attribute slots. */
eml_status eml__qf_add_node(eml_qf *f, const char *op, int32_t n_attrs, int32_t input,
                            int32_t output);
eml_status eml__qf_add_transpose(eml_qf *f, int32_t input, int32_t output, const int64_t *perm);
/* output = Reshape(input, shape) with a new constant shape of `rank` entries. */
eml_status eml__qf_add_reshape(eml_qf *f, int32_t input, int32_t output, const int64_t *shape,
                               int rank);
/* The channels-last copy of uint8 value q (made now when it has none): an NHWC Transpose of a
 * 4-D value, the [R, 1, 1, K] view of a [N, K] or [B, M, K] one. */
eml_status eml__qf_twin_of(eml_qf *f, int32_t q, int32_t *out);
/* Appends an INT attribute to node i. */
eml_status eml__qf_add_int_attr(eml_graph *g, size_t i, const char *name, int64_t v);
/* Turns node i into edgeml op `op` reading `inputs` (channels-last where `nhwc` says), writing
 * the twin of Q node qi's output; marks qi (unless i) and activation ai (or -1) dead. */
eml_status eml__qf_rewrite(eml_qf *f, size_t i, const char *op, const int32_t *inputs,
                           const bool *nhwc, int32_t n_in, int32_t qi, int32_t ai);

/* ---- the patterns: each looks at node i and rewrites it when it matches ---- */

eml_status eml__qf_try_conv(eml_qf *f, size_t i); /* qdq_fusion_conv.c */
eml_status eml__qf_try_qlinear_conv(eml_qf *f, size_t i);
eml_status eml__qf_try_add(eml_qf *f, size_t i); /* qdq_fusion_eltwise.c */
eml_status eml__qf_try_pool(eml_qf *f, size_t i);
eml_status eml__qf_try_flatten(eml_qf *f, size_t i);
eml_status eml__qf_try_cancel(eml_qf *f, size_t i);
eml_status eml__qf_try_gemm(eml_qf *f, size_t i); /* qdq_fusion_linear.c */
eml_status eml__qf_try_matmul(eml_qf *f, size_t i);
eml_status eml__qf_try_qlinear_matmul(eml_qf *f, size_t i);

#endif
