#!/usr/bin/python3
"""Builds benchmark ONNX models with torchvision 0.14's CNN architectures, as torch.onnx.export
(torch 1.13, opset 13, eval mode, constant folding on) writes them, without torch.

  bench/models/make_models.py [OUT_DIR] [--models shufflenet_v2,mnasnet,efficientnet_b0,...]
                              [--seed 1] [--size 224]

Writes OUT_DIR/<name>/model.onnx (default OUT_DIR: ~/.cache/edgeml/models). Model files are
generated, never committed. Needs onnx and numpy (/usr/bin/python3 has both).

What the exporter writes, and so what these graphs hold: BatchNorm folded into the Conv weights and
bias; ReLU as Relu, ReLU6 as Clip with Constant bounds; SiLU as Mul(x, Sigmoid(x)); Hardswish as
Mul(x, HardSigmoid(x, alpha=1/6)) and Hardsigmoid as HardSigmoid(alpha=1/6) (opset 13 has no
HardSwish); squeeze-excitation as GlobalAveragePool, Conv, act, Conv, Sigmoid/HardSigmoid, then
Mul(scale, x); ShuffleNet's channel shuffle as Reshape [N,g,C/g,H,W], Transpose [0,2,1,3,4],
Reshape back, its chunk(2, dim=1) as two Slices; x.mean([2,3]) as ReduceMean(keepdims=0);
AdaptiveAvgPool2d(1) as GlobalAveragePool; torch.flatten as Flatten; Linear as Gemm(transB=1).
Dropout and StochasticDepth vanish in eval mode.

Weights are random but realistic: He-initialized convolutions whose BatchNorm statistics are
calibrated on one seeded random input while the graph is built (as if BatchNorm had been run in
training mode on it, then folded), so every layer's activations keep a sane scale: they neither
explode nor decay into denormals. Class outputs therefore mean nothing; compare numbers.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MODELS = ("shufflenet_v2", "mnasnet", "efficientnet_b0", "mobilenet_v3_small")


class Builder:
    """Emits ONNX nodes while computing each value on one random input (batch 1, [C, H, W])."""

    def __init__(self, seed, size):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits = [], []
        self.count = {}
        self.x = ("input", self.rng.standard_normal((3, size, size)).astype(np.float32))

    def name(self, kind):
        i = self.count.get(kind, 0)
        self.count[kind] = i + 1
        return f"/{kind}_{i}" if i else f"/{kind}"

    def const_node(self, arr):
        """A Constant node, as the exporter writes Clip bounds and shape tensors."""
        n = self.name("Constant")
        out = n + "_output_0"
        self.nodes.append(helper.make_node("Constant", [], [out], name=n,
                                           value=numpy_helper.from_array(arr)))
        return out

    def init(self, arr, kind):
        n = f"onnx::{kind}_{len(self.inits)}"
        self.inits.append(numpy_helper.from_array(arr.astype(np.float32), n))
        return n

    def node(self, op, inputs, value, **attrs):
        n = self.name(op)
        out = n + "_output_0"
        self.nodes.append(helper.make_node(op, inputs, [out], name=n, **attrs))
        return (out, value.astype(np.float32))

    # ---- numpy arithmetic ----

    @staticmethod
    def conv_np(x, w, stride, pad, groups):
        cin, h, wd = x.shape
        cout, cpg, k, _ = w.shape
        xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
        ho = (h + 2 * pad - k) // stride + 1
        wo = (wd + 2 * pad - k) // stride + 1

        def window(i, j):
            return xp[:, i:i + stride * (ho - 1) + 1:stride, j:j + stride * (wo - 1) + 1:stride]
        if groups == 1:
            cols = np.stack([window(i, j) for i in range(k) for j in range(k)], axis=1)
            return (w.reshape(cout, -1) @ cols.reshape(cin * k * k, -1)).reshape(cout, ho, wo)
        assert groups == cin == cout, "only dense and depthwise convolutions are used"
        y = np.zeros((cout, ho, wo), np.float32)
        for i in range(k):
            for j in range(k):
                y += window(i, j) * w[:, 0, i, j][:, None, None]
        return y

    # ---- layers ----

    def conv(self, x, cout, k, stride=1, groups=1, bn=True, gain=2.0, bias_std=0.0):
        """Conv (+ folded BatchNorm when bn). Returns the Conv's output."""
        name, v = x
        cin = v.shape[0]
        pad = (k - 1) // 2
        fan_in = cin // groups * k * k
        w = self.rng.standard_normal((cout, cin // groups, k, k)).astype(np.float32)
        w *= np.float32(np.sqrt(gain / fan_in))
        y = self.conv_np(v, w, stride, pad, groups)
        if bn:
            # training-mode BatchNorm statistics of this input, then folded (eps 1e-5)
            mean = y.mean(axis=(1, 2))
            var = y.var(axis=(1, 2))
            gamma = self.rng.uniform(0.5, 1.0, cout).astype(np.float32)
            beta = (0.1 * self.rng.standard_normal(cout)).astype(np.float32)
            scale = gamma / np.sqrt(var + 1e-5)
            w = w * scale[:, None, None, None]
            b = beta - mean * scale
        else:
            b = (bias_std * self.rng.standard_normal(cout)).astype(np.float32)
        y = self.conv_np(v, w, stride, pad, groups) + b[:, None, None]
        return self.node("Conv", [name, self.init(w, "Conv"), self.init(b, "Conv")], y,
                         dilations=[1, 1], group=groups, kernel_shape=[k, k],
                         pads=[pad] * 4, strides=[stride, stride])

    def relu(self, x):
        return self.node("Relu", [x[0]], np.maximum(x[1], 0))

    def relu6(self, x):
        lo = self.const_node(np.array(0, np.float32))
        hi = self.const_node(np.array(6, np.float32))
        return self.node("Clip", [x[0], lo, hi], np.clip(x[1], 0, 6))

    def sigmoid(self, x):
        return self.node("Sigmoid", [x[0]], 1 / (1 + np.exp(-x[1])))

    def hardsigmoid(self, x):
        return self.node("HardSigmoid", [x[0]], np.clip(x[1] / 6 + 0.5, 0, 1),
                         alpha=1.0 / 6)

    def mul(self, a, b):
        return self.node("Mul", [a[0], b[0]], a[1] * b[1])

    def silu(self, x):
        return self.mul(x, self.sigmoid(x))

    def hardswish(self, x):
        return self.mul(x, self.hardsigmoid(x))

    def act(self, x, kind):
        return {"relu": self.relu, "relu6": self.relu6, "silu": self.silu,
                "hardswish": self.hardswish, None: lambda v: v}[kind](x)

    def cba(self, x, cout, k, stride=1, groups=1, act="relu"):
        return self.act(self.conv(x, cout, k, stride, groups), act)

    def add(self, a, b):
        return self.node("Add", [a[0], b[0]], a[1] + b[1])

    def maxpool(self, x, k=3, stride=2, pad=1):
        v = np.pad(x[1], ((0, 0), (pad, pad), (pad, pad)), constant_values=-np.inf)
        ho = (x[1].shape[1] + 2 * pad - k) // stride + 1
        wo = (x[1].shape[2] + 2 * pad - k) // stride + 1
        y = np.full((v.shape[0], ho, wo), -np.inf, np.float32)
        for i in range(k):
            for j in range(k):
                y = np.maximum(y, v[:, i:i + stride * (ho - 1) + 1:stride,
                                    j:j + stride * (wo - 1) + 1:stride])
        return self.node("MaxPool", [x[0]], y, ceil_mode=0, kernel_shape=[k, k],
                         pads=[pad] * 4, strides=[stride, stride])

    def global_avgpool(self, x):
        return self.node("GlobalAveragePool", [x[0]], x[1].mean(axis=(1, 2), keepdims=True))

    def mean_hw(self, x):
        """x.mean([2, 3]): [N, C]"""
        return self.node("ReduceMean", [x[0]], x[1].mean(axis=(1, 2)), axes=[2, 3], keepdims=0)

    def flatten(self, x):
        return self.node("Flatten", [x[0]], x[1].reshape(-1), axis=1)

    def gemm(self, x, nout):
        cin = x[1].shape[0]
        w = (self.rng.standard_normal((nout, cin)) / np.sqrt(cin)).astype(np.float32)
        b = (0.01 * self.rng.standard_normal(nout)).astype(np.float32)
        return self.node("Gemm", [x[0], self.init(w, "Gemm"), self.init(b, "Gemm")],
                         w @ x[1] + b, alpha=1.0, beta=1.0, transB=1)

    def concat(self, xs):
        return self.node("Concat", [x[0] for x in xs], np.concatenate([x[1] for x in xs]),
                         axis=1)

    def chunk2(self, x):
        """x.chunk(2, dim=1): torch 1.13's opset-13 prim::ConstantChunk, shapes folded."""
        c = x[1].shape[0]
        half = (c + 1) // 2
        axes = self.const_node(np.array([1], np.int64))
        outs, start = [], 0
        for end in (half, c):
            s = self.const_node(np.array([start], np.int64))
            e = self.const_node(np.array([end], np.int64))
            outs.append(self.node("Slice", [x[0], s, e, axes], x[1][start:end]))
            start = end
        return outs

    def channel_shuffle(self, x, groups):
        c, h, w = x[1].shape
        s1 = self.const_node(np.array([1, groups, c // groups, h, w], np.int64))
        r = self.node("Reshape", [x[0], s1], x[1].reshape(groups, c // groups, h, w))
        t = self.node("Transpose", [r[0]], r[1].transpose(1, 0, 2, 3), perm=[0, 2, 1, 3, 4])
        s2 = self.const_node(np.array([1, -1, h, w], np.int64))
        return self.node("Reshape", [t[0], s2], t[1].reshape(c, h, w))

    def se(self, x, squeeze, act, scale_act):
        """torchvision SqueezeExcitation: scale * input"""
        cin = x[1].shape[0]
        s = self.global_avgpool(x)
        s = self.act(self.conv(s, squeeze, 1, bn=False, bias_std=0.1), act)
        s = self.conv(s, cin, 1, bn=False, gain=1.0, bias_std=0.5)
        s = self.sigmoid(s) if scale_act == "sigmoid" else self.hardsigmoid(s)
        return self.mul(s, x)

    def model(self, name, out):
        inp = helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                            [1] + list(self.x[1].shape))
        self.nodes[-1].output[0] = "output"
        outp = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, out[1].shape[0]])
        graph = helper.make_graph(self.nodes, "torch_jit", [inp], [outp], self.inits)
        m = helper.make_model(graph, producer_name="pytorch", producer_version="1.13.0",
                              opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 7
        m.doc_string = f"{name}: torchvision 0.14 architecture, random weights (make_models.py)"
        return m


def make_divisible(v, divisor=8, min_value=None):
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def shufflenet_v2(b):
    """torchvision shufflenet_v2_x1_0"""
    repeats, channels = [4, 8, 4], [24, 116, 232, 464, 1024]
    x = b.maxpool(b.cba(b.x, channels[0], 3, 2))
    for n, oup in zip(repeats, channels[1:4]):
        for i in range(n):
            bf = oup // 2
            if i == 0:   # stride 2: both branches read x
                b1 = b.conv(x, x[1].shape[0], 3, 2, groups=x[1].shape[0])
                b1 = b.cba(b1, bf, 1)
                b2 = b.cba(x, bf, 1)
                b2 = b.conv(b2, bf, 3, 2, groups=bf)
                b2 = b.cba(b2, bf, 1)
                x = b.concat([b1, b2])
            else:
                x1, x2 = b.chunk2(x)
                b2 = b.cba(x2, bf, 1)
                b2 = b.conv(b2, bf, 3, 1, groups=bf)
                b2 = b.cba(b2, bf, 1)
                x = b.concat([x1, b2])
            x = b.channel_shuffle(x, 2)
    x = b.cba(x, channels[4], 1)
    return b.gemm(b.mean_hw(x), 1000)


def mnasnet(b):
    """torchvision mnasnet1_0"""
    d = [32, 16, 24, 40, 80, 96, 192, 320]
    x = b.cba(b.x, d[0], 3, 2)
    x = b.cba(x, d[0], 3, 1, groups=d[0])
    x = b.conv(x, d[1], 1)
    stacks = [(d[1], d[2], 3, 2, 3, 3), (d[2], d[3], 5, 2, 3, 3), (d[3], d[4], 5, 2, 6, 3),
              (d[4], d[5], 3, 1, 6, 2), (d[5], d[6], 5, 2, 6, 4), (d[6], d[7], 3, 1, 6, 1)]
    for cin, cout, k, stride, exp, rep in stacks:
        for i in range(rep):
            c_in, s = (cin, stride) if i == 0 else (cout, 1)
            mid = c_in * exp
            y = b.cba(x, mid, 1)
            y = b.cba(y, mid, k, s, groups=mid)
            y = b.conv(y, cout, 1)
            x = b.add(y, x) if c_in == cout and s == 1 else y
    x = b.cba(x, 1280, 1)
    return b.gemm(b.mean_hw(x), 1000)


def efficientnet_b0(b):
    """torchvision efficientnet_b0 (width 1.0, depth 1.0)"""
    cfg = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
           (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
           (6, 3, 1, 192, 320, 1)]
    x = b.cba(b.x, 32, 3, 2, act="silu")
    for exp, k, stride, cin, cout, n in cfg:
        for i in range(n):
            c_in, s = (cin, stride) if i == 0 else (cout, 1)
            mid = make_divisible(c_in * exp)
            y = x
            if mid != c_in:
                y = b.cba(y, mid, 1, act="silu")
            y = b.cba(y, mid, k, s, groups=mid, act="silu")
            y = b.se(y, max(1, c_in // 4), "silu", "sigmoid")
            y = b.conv(y, cout, 1)
            x = b.add(y, x) if c_in == cout and s == 1 else y
    x = b.cba(x, 1280, 1, act="silu")
    return b.gemm(b.flatten(b.global_avgpool(x)), 1000)


def mobilenet_v3_small(b):
    """torchvision mobilenet_v3_small"""
    # (in, kernel, expanded, out, use_se, activation, stride)
    cfg = [(16, 3, 16, 16, True, "relu", 2), (16, 3, 72, 24, False, "relu", 2),
           (24, 3, 88, 24, False, "relu", 1), (24, 5, 96, 40, True, "hardswish", 2),
           (40, 5, 240, 40, True, "hardswish", 1), (40, 5, 240, 40, True, "hardswish", 1),
           (40, 5, 120, 48, True, "hardswish", 1), (48, 5, 144, 48, True, "hardswish", 1),
           (48, 5, 288, 96, True, "hardswish", 2), (96, 5, 576, 96, True, "hardswish", 1),
           (96, 5, 576, 96, True, "hardswish", 1)]
    x = b.cba(b.x, 16, 3, 2, act="hardswish")
    for cin, k, mid, cout, use_se, act, s in cfg:
        y = x
        if mid != cin:
            y = b.cba(y, mid, 1, act=act)
        y = b.cba(y, mid, k, s, groups=mid, act=act)
        if use_se:
            y = b.se(y, make_divisible(mid // 4), "relu", "hardsigmoid")
        y = b.conv(y, cout, 1)
        x = b.add(y, x) if cin == cout and s == 1 else y
    x = b.cba(x, 576, 1, act="hardswish")
    x = b.flatten(b.global_avgpool(x))
    x = b.hardswish(b.gemm(x, 1024))
    return b.gemm(x, 1000)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", nargs="?", default=os.path.expanduser("~/.cache/edgeml/models"),
                   help="output folder (default ~/.cache/edgeml/models)")
    p.add_argument("--models", default=",".join(MODELS),
                   help="comma-separated, from " + ", ".join(MODELS))
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--size", type=int, default=224, help="input height and width")
    a = p.parse_args()
    for name in a.models.split(","):
        if name not in MODELS:
            p.error(f"unknown model {name}")
        b = Builder(a.seed, a.size)
        out = globals()[name](b)
        m = b.model(name, out)
        onnx.checker.check_model(m)
        onnx.shape_inference.infer_shapes(m, strict_mode=True)
        d = os.path.join(a.out, name)
        os.makedirs(d, exist_ok=True)
        path = os.path.join(d, "model.onnx")
        onnx.save(m, path)
        y = out[1]
        print(f"{path}: {len(m.graph.node)} nodes, "
              f"{sum(int(np.prod(t.dims)) for t in m.graph.initializer) / 1e6:.2f}M params, "
              f"output std {y.std():.3g}, max |y| {np.abs(y).max():.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
