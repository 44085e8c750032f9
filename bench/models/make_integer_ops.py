# Writes the models of docs/int8-runtime.md's "ONNX integer ops" benchmarks into OUT_DIR:
# an MLP [B,784]x[784,512]x[512,10] (int8 per-column weights, uint8 activations) in three forms --
# QDQ around MatMul (mlp_qdq_bB), ONNX's QLinearMatMul (mlp_qlinear_bB), ONNX Runtime's dynamic
# DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul (mlp_dynamic_bB) -- for B = 1 and 32, and a
# 3x3 ConvInteger [1,16,32,32] -> [1,32,32,32] in the dynamic form (conv_dynamic_b1; its input is
# [1,16384], reshaped in the graph: 'edgeml run' takes 4-D file inputs for images).
# usage: /usr/bin/python3 bench/models/make_integer_ops.py OUT_DIR
import os, sys
import numpy as np, onnx
OUT = sys.argv[1] if len(sys.argv) > 1 else '.'
os.makedirs(OUT, exist_ok=True)
from onnx import helper as h, TensorProto as T, numpy_helper as nh
rng = np.random.default_rng(0)
K, H, N = 784, 512, 10
w1 = rng.standard_normal((K, H)).astype(np.float32) * 0.05
w2 = rng.standard_normal((H, N)).astype(np.float32) * 0.05
def q8(w):  # per-column symmetric int8
    s = np.abs(w).max(axis=0) / 127.0
    return np.clip(np.round(w / s), -127, 127).astype(np.int8), s.astype(np.float32)
w1q, w1s = q8(w1); w2q, w2s = q8(w2)
xs, hs, ys = np.float32(4.0/255), np.float32(0.05), np.float32(0.1)
def init(name, arr): return nh.from_array(np.asarray(arr), name)
def common(B):
    return [init('xs', xs), init('xz', np.uint8(128)), init('hs', hs), init('hz', np.uint8(0)),
            init('ys', ys), init('yz', np.uint8(128)), init('w1', w1q), init('w1s', w1s),
            init('w2', w2q), init('w2s', w2s), init('w1z', np.zeros(H, np.int8)),
            init('w2z', np.zeros(N, np.int8))]
def save(nodes, inits, B, name):
    g = h.make_graph(nodes, name, [h.make_tensor_value_info('x', T.FLOAT, [B, K])],
                     [h.make_tensor_value_info('y', T.FLOAT, [B, N])], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid('', 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    onnx.save(m, f'{OUT}/{name}_b{B}.onnx')
for B in (1, 32):
    qdq = [h.make_node('QuantizeLinear', ['x', 'xs', 'xz'], ['xq']),
           h.make_node('DequantizeLinear', ['xq', 'xs', 'xz'], ['xd']),
           h.make_node('DequantizeLinear', ['w1', 'w1s', 'w1z'], ['w1d'], axis=1),
           h.make_node('MatMul', ['xd', 'w1d'], ['h']),
           h.make_node('Relu', ['h'], ['hr']),
           h.make_node('QuantizeLinear', ['hr', 'hs', 'hz'], ['hq']),
           h.make_node('DequantizeLinear', ['hq', 'hs', 'hz'], ['hd']),
           h.make_node('DequantizeLinear', ['w2', 'w2s', 'w2z'], ['w2d'], axis=1),
           h.make_node('MatMul', ['hd', 'w2d'], ['z']),
           h.make_node('QuantizeLinear', ['z', 'ys', 'yz'], ['zq']),
           h.make_node('DequantizeLinear', ['zq', 'ys', 'yz'], ['y'])]
    save(qdq, common(B), B, 'mlp_qdq')
    ql = [h.make_node('QuantizeLinear', ['x', 'xs', 'xz'], ['xq']),
          h.make_node('QLinearMatMul', ['xq', 'xs', 'xz', 'w1', 'w1s', 'w1z', 'hs', 'hz'], ['hq']),
          h.make_node('QLinearMatMul', ['hq', 'hs', 'hz', 'w2', 'w2s', 'w2z', 'ys', 'yz'], ['zq']),
          h.make_node('DequantizeLinear', ['zq', 'ys', 'yz'], ['y'])]
    save(ql, common(B), B, 'mlp_qlinear')
    # ONNX Runtime's dynamic form: DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul
    def dyn(x, w, ws, wz, out, relu):
        return [h.make_node('DynamicQuantizeLinear', [x], [x + '_q', x + '_s', x + '_z']),
                h.make_node('MatMulInteger', [x + '_q', w, x + '_z', wz], [out + '_i']),
                h.make_node('Cast', [out + '_i'], [out + '_f'], to=T.FLOAT),
                h.make_node('Mul', [x + '_s', ws], [out + '_sc']),
                h.make_node('Mul', [out + '_f', out + '_sc'], [out + ('_m' if relu else '')])] + \
               ([h.make_node('Relu', [out + '_m'], [out])] if relu else [])
    save(dyn('x', 'w1', 'w1s', 'w1z', 'h', True) + dyn('h', 'w2', 'w2s', 'w2z', 'y', False),
         common(B), B, 'mlp_dynamic')
print('ok')
# ConvInteger in the dynamic form: x [B,16,32,32] -> DQL -> ConvInteger(W [32,16,3,3], pads 1) -> Cast -> Mul
wc = (rng.standard_normal((32, 16, 3, 3)) * 0.1).astype(np.float32)
wcs = (np.abs(wc).max() / 127.0).astype(np.float32)
wcq = np.clip(np.round(wc / wcs), -127, 127).astype(np.int8)
for B in (1,):
    nodes = [h.make_node('Reshape', ['x', 'shp'], ['x4']),
             h.make_node('DynamicQuantizeLinear', ['x4'], ['xq', 'xs', 'xz']),
             h.make_node('ConvInteger', ['xq', 'wc', 'xz'], ['ci'], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
             h.make_node('Cast', ['ci'], ['cf'], to=T.FLOAT),
             h.make_node('Mul', ['xs', 'wcs'], ['sc']),
             h.make_node('Mul', ['cf', 'sc'], ['y'])]
    g = h.make_graph(nodes, 'convint', [h.make_tensor_value_info('x', T.FLOAT, [B, 16 * 32 * 32])],
                     [h.make_tensor_value_info('y', T.FLOAT, [B, 32, 32, 32])],
                     [init('wc', wcq), init('wcs', wcs), init('shp', np.array([B, 16, 32, 32], np.int64))])
    m = h.make_model(g, opset_imports=[h.make_opsetid('', 13)]); m.ir_version = 7
    onnx.checker.check_model(m)
    onnx.save(m, f'{OUT}/conv_dynamic_b{B}.onnx')
