#!/usr/bin/python3
"""Turns a float32 ONNX model into the QDQ form of edgeml's INT8 contract (a bench and test fixture
until the quantizer exists; see src/graph/passes/qdq_fusion.c for the runtime side).

  bench/models/make_qdq.py MODEL.onnx OUT.onnx [--per-tensor] [--calib N] [--seed S]

- Activations: uint8, asymmetric, min-max ranges (always including 0) taken from a run of the float
  model on N seeded standard-normal inputs, by a small numpy executor of the ops the vision models
  use (Conv, Relu, Clip, Add, MaxPool, AveragePool, GlobalAveragePool, Flatten, Reshape, Gemm,
  MatMul, Concat, Sigmoid, Mul, Constant). Each quantized tensor X becomes X -> QuantizeLinear ->
  DequantizeLinear -> readers. A Relu or Clip right after a Conv or Add stays between it and the Q.
  MaxPool, Flatten and Reshape outputs reuse their input's parameters.
- Weights of Conv (axis 0) and Gemm/MatMul (the output-channel axis): int8 initializers, symmetric
  per channel (per tensor with --per-tensor), -127..127 -> DequantizeLinear.
- Biases: int32, scale x_scale * w_scale[c], zero point 0 -> DequantizeLinear.
Standard library + numpy + onnx 1.12 (/usr/bin/python3).
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto


# ---- a small numpy executor (calibration only) ----

def attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def pads_of(node, x_hw, k, s, d):
    pads = attr(node, "pads", [0, 0, 0, 0])
    auto = attr(node, "auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else auto
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [0, 0, 0, 0]
        for i in range(2):
            out = -(-x_hw[i] // s[i])
            total = max(0, (out - 1) * s[i] + (k[i] - 1) * d[i] + 1 - x_hw[i])
            lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
            pads[i], pads[i + 2] = lo, total - lo
    return pads


def windows(x, k, s, d, pads, value):
    """[N, C, OH, OW, kh, kw] view of padded x."""
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])),
               constant_values=value)
    n, c, h, w = x.shape
    oh = (h - (k[0] - 1) * d[0] - 1) // s[0] + 1
    ow = (w - (k[1] - 1) * d[1] - 1) // s[1] + 1
    st = x.strides
    return np.lib.stride_tricks.as_strided(
        x, (n, c, oh, ow, k[0], k[1]),
        (st[0], st[1], st[2] * s[0], st[3] * s[1], st[2] * d[0], st[3] * d[1]), writeable=False)


def conv(node, x, w, b=None):
    k = list(w.shape[2:])
    s = attr(node, "strides", [1, 1])
    d = attr(node, "dilations", [1, 1])
    g = attr(node, "group", 1)
    win = windows(x, k, s, d, pads_of(node, x.shape[2:], k, s, d), 0.0)
    n, c, oh, ow = win.shape[:4]
    o = w.shape[0]
    if g == 1:
        y = np.einsum("ncyxij,ocij->noyx", win, w, optimize=True)
    elif g == c and o == c:
        y = np.einsum("ncyxij,cij->ncyx", win, w[:, 0], optimize=True)
    else:
        cg, og = c // g, o // g
        y = np.concatenate([np.einsum("ncyxij,ocij->noyx", win[:, i * cg:(i + 1) * cg],
                                      w[i * og:(i + 1) * og], optimize=True) for i in range(g)], 1)
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y.astype(np.float32)


def pool(node, x, is_max):
    k = attr(node, "kernel_shape")
    s = attr(node, "strides", [1, 1])
    d = attr(node, "dilations", [1, 1])
    pads = pads_of(node, x.shape[2:], k, s, d)
    if is_max:
        return windows(x, k, s, d, pads, -np.inf).max(axis=(4, 5))
    win = windows(x, k, s, d, pads, 0.0)
    if attr(node, "count_include_pad", 0) or not any(pads):
        return win.mean(axis=(4, 5))
    ones = windows(np.ones_like(x[:1, :1]), k, s, d, pads, 0.0).sum(axis=(4, 5))
    return win.sum(axis=(4, 5)) / ones


def run_float(model, feeds):
    """Every tensor's value for one input dict."""
    env = dict(feeds)
    for init in model.graph.initializer:
        env[init.name] = numpy_helper.to_array(init)
    for node in model.graph.node:
        x = [env[i] if i else None for i in node.input]
        op = node.op_type
        if op == "Constant":
            y = numpy_helper.to_array(attr(node, "value"))
        elif op == "Conv":
            y = conv(node, *x)
        elif op == "Relu":
            y = np.maximum(x[0], 0)
        elif op == "Clip":
            lo = x[1] if len(x) > 1 and x[1] is not None else attr(node, "min", -np.inf)
            hi = x[2] if len(x) > 2 and x[2] is not None else attr(node, "max", np.inf)
            y = np.clip(x[0], lo, hi)
        elif op == "Add":
            y = x[0] + x[1]
        elif op == "Mul":
            y = x[0] * x[1]
        elif op == "Sigmoid":
            y = 1 / (1 + np.exp(-x[0]))
        elif op == "MaxPool":
            y = pool(node, x[0], True)
        elif op == "AveragePool":
            y = pool(node, x[0], False)
        elif op == "GlobalAveragePool":
            y = x[0].mean(axis=(2, 3), keepdims=True)
        elif op == "Flatten":
            a = attr(node, "axis", 1)
            y = x[0].reshape(int(np.prod(x[0].shape[:a])), -1)
        elif op == "Reshape":
            shape = [x[0].shape[i] if v == 0 else v for i, v in enumerate(x[1])]
            y = x[0].reshape(shape)
        elif op == "Concat":
            y = np.concatenate(x, attr(node, "axis"))
        elif op == "Gemm":
            a = x[0].T if attr(node, "transA", 0) else x[0]
            b = x[1].T if attr(node, "transB", 0) else x[1]
            y = attr(node, "alpha", 1.0) * (a @ b)
            if len(x) > 2 and x[2] is not None:
                y = y + attr(node, "beta", 1.0) * x[2]
        elif op == "MatMul":
            y = x[0] @ x[1]
        else:
            sys.exit("make_qdq.py: op %s is not in the calibration executor" % op)
        env[node.output[0]] = np.asarray(y, dtype=np.float32) if op != "Constant" else y
    return env


# ---- the QDQ rewrite ----

def act_params(lo, hi):
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = (hi - lo) / 255.0 if hi > lo else 1.0
    zp = int(np.clip(round(-lo / scale), 0, 255))
    return np.float32(scale), np.uint8(zp)


def quant_weights(w, axis, per_tensor):
    if per_tensor:
        m = np.abs(w).max()
        scale = np.array(max(m, 1e-8) / 127.0, dtype=np.float32)
        q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        return q, scale
    red = tuple(i for i in range(w.ndim) if i != axis)
    m = np.abs(w).max(axis=red)
    scale = (np.maximum(m, 1e-8) / 127.0).astype(np.float32)
    shape = [1] * w.ndim
    shape[axis] = -1
    q = np.clip(np.round(w / scale.reshape(shape)), -127, 127).astype(np.int8)
    return q, scale


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("out")
    ap.add_argument("--per-tensor", action="store_true")
    ap.add_argument("--calib", type=int, default=4, help="calibration inputs (default 4)")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    model = onnx.load(a.model)
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    producers = {o: n for n in g.node for o in n.output}
    readers = {}
    for n in g.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)

    # calibration ranges
    rng = np.random.RandomState(a.seed)
    ranges = {}
    for _ in range(a.calib):
        feeds = {}
        for inp in g.input:
            if inp.name in inits:
                continue
            dims = [d.dim_value if d.dim_value > 0 else 1 for d in inp.type.tensor_type.shape.dim]
            feeds[inp.name] = rng.standard_normal(dims).astype(np.float32)
        env = run_float(model, feeds)
        for k, v in env.items():
            if k in inits or not isinstance(v, np.ndarray) or v.dtype != np.float32:
                continue
            lo, hi = float(v.min()), float(v.max())
            old = ranges.get(k)
            ranges[k] = (min(lo, old[0]), max(hi, old[1])) if old else (lo, hi)

    # which tensors get Q -> DQ, and their parameters
    def after_act(t):
        rs = readers.get(t, [])
        if len(rs) == 1 and rs[0].op_type in ("Relu", "Clip") and t not in [o.name for o in g.output]:
            return rs[0].output[0]
        return None

    params = {}
    order = []
    graph_inputs = [i.name for i in g.input if i.name not in inits]
    for name in graph_inputs:
        params[name] = act_params(*ranges[name])
        order.append(name)
    for n in g.node:
        out = n.output[0]
        if n.op_type in ("Conv", "Add"):
            t = after_act(out) or out
            params[t] = act_params(*ranges[t])
            order.append(t)
        elif n.op_type in ("GlobalAveragePool", "AveragePool", "Concat", "Sigmoid", "Mul"):
            params[out] = act_params(*ranges[out])
            order.append(out)
        elif n.op_type in ("MaxPool", "Flatten", "Reshape") and n.input[0] in params:
            params[out] = params[n.input[0]]
            order.append(out)
    outputs = {o.name for o in g.output}

    new_inits = []
    q_nodes = []
    rename = {}  # tensor -> its DQ output
    for t in order:
        s, z = params[t]
        sn, zn = t + "_scale", t + "_zero_point"
        new_inits += [numpy_helper.from_array(np.array(s, np.float32), sn),
                      numpy_helper.from_array(np.array(z, np.uint8), zn)]
        q_nodes.append((t, helper.make_node("QuantizeLinear", [t, sn, zn], [t + "_q"],
                                            name=t + "_QuantizeLinear")))
        q_nodes.append((t, helper.make_node("DequantizeLinear", [t + "_q", sn, zn],
                                            [t + "_dq"], name=t + "_DequantizeLinear")))
        rename[t] = t + "_dq"

    nodes = []
    # Q/DQ of graph inputs first
    for t, qn in q_nodes:
        if t in graph_inputs:
            nodes.append(qn)
    dropped = set()
    for n in g.node:
        op = n.op_type
        for i, x in enumerate(n.input):
            if x in rename:
                n.input[i] = rename[x]
        if op in ("Conv", "Gemm", "MatMul") and n.input[1] in inits:
            wname = n.input[1]
            w = numpy_helper.to_array(inits[wname])
            if op == "Conv":
                axis = 0
            elif op == "Gemm":
                axis = 0 if attr(n, "transB", 0) else 1
            else:
                axis = w.ndim - 1
            xin = n.input[0][:-3] if n.input[0].endswith("_dq") else None
            if xin is None or xin not in params:
                continue
            q, ws = quant_weights(w, axis, a.per_tensor)
            dropped.add(wname)
            new_inits += [numpy_helper.from_array(q, wname + "_quantized"),
                          numpy_helper.from_array(ws, wname + "_scale")]
            dq = helper.make_node("DequantizeLinear", [wname + "_quantized", wname + "_scale"],
                                  [wname + "_dq"], name=wname + "_DequantizeLinear",
                                  axis=axis if not a.per_tensor else 1)
            nodes.append(dq)
            n.input[1] = wname + "_dq"
            if len(n.input) > 2 and n.input[2] in inits:
                bname = n.input[2]
                b = numpy_helper.to_array(inits[bname])
                bs = (params[xin][0] * ws).astype(np.float32)
                bq = np.round(b / bs).astype(np.int32)
                dropped.add(bname)
                new_inits += [numpy_helper.from_array(bq, bname + "_quantized"),
                              numpy_helper.from_array(np.array(bs, np.float32), bname + "_scale")]
                nodes.append(helper.make_node("DequantizeLinear",
                                              [bname + "_quantized", bname + "_scale"],
                                              [bname + "_dq"], name=bname + "_DequantizeLinear",
                                              axis=0))
                n.input[2] = bname + "_dq"
        nodes.append(n)
        for o in n.output:
            for t, qn in q_nodes:
                if t == o:
                    nodes.append(qn)
    # graph outputs that got Q/DQ keep their float value: readers read the DQ, the output stays
    kept = [i for i in g.initializer if i.name not in dropped]
    del g.node[:]
    g.node.extend(nodes)
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    del g.value_info[:]
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx") and imp.version < 13:
            imp.version = 13
    onnx.checker.check_model(model)
    onnx.save(model, a.out)
    n_q = sum(1 for n in nodes if n.op_type == "QuantizeLinear")
    print("%s: %d quantized tensors, %d weights" % (a.out, n_q, len(dropped)))


if __name__ == "__main__":
    main()
