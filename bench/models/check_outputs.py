#!/usr/bin/python3
"""Checks that edgeml's outputs match ONNX Runtime's on one seeded random input per model.

  bench/models/check_outputs.py MODEL.onnx|DIR ... [--edgeml PATH] [--ort-node DIR]
                                [--threads 1,2] [--rtol 1e-3] [--atol 1e-4]

A DIR stands for every DIR/*/model.onnx. Inputs: standard normal float32 from seed 1234 (float
inputs only, dynamic dims 1). ONNX Runtime runs through ort_run.js (one thread); edgeml through
`edgeml run --output-dir` at each thread count, so the fast kernels' paths per thread count are
compared too. Prints max |diff| and the worst element's tolerance use per output; exits 1 on any
mismatch beyond atol + rtol * |ort|. Needs onnx and numpy (/usr/bin/python3 has both).
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def model_paths(items):
    out = []
    for it in items:
        out += sorted(glob.glob(os.path.join(it, "*", "model.onnx"))) if os.path.isdir(it) else [it]
    return out


def main():
    p = argparse.ArgumentParser(description="edgeml outputs against ONNX Runtime's")
    p.add_argument("models", nargs="+")
    p.add_argument("--edgeml", default=os.environ.get("EDGEML") or
                   os.path.join(REPO, "build", "edgeml"))
    p.add_argument("--ort-node", default=os.environ.get("ORT_NODE") or
                   os.path.expanduser("~/.cache/edgeml/ort/node_modules/onnxruntime-node"))
    p.add_argument("--threads", default="1,2")
    p.add_argument("--rtol", type=float, default=1e-3)
    p.add_argument("--atol", type=float, default=1e-4)
    a = p.parse_args()
    bad = 0
    for path in model_paths(a.models):
        m = onnx.load(path, load_external_data=False)
        inits = {t.name for t in m.graph.initializer}
        rng = np.random.default_rng(1234)
        with tempfile.TemporaryDirectory() as tmp:
            npys, raws = [], []
            for k, vi in enumerate(i for i in m.graph.input if i.name not in inits):
                dims = [d.dim_value if d.dim_value > 0 else 1
                        for d in vi.type.tensor_type.shape.dim]
                x = rng.standard_normal(dims).astype(np.float32)
                npys.append(os.path.join(tmp, f"in{k}.npy"))
                raws.append(os.path.join(tmp, f"in{k}.f32"))
                np.save(npys[-1], x)
                x.tofile(raws[-1])
            r = subprocess.run(["node", os.path.join(HERE, "ort_run.js"), path,
                                os.path.join(tmp, "ort"), *raws], stdout=subprocess.PIPE,
                               text=True, env=dict(os.environ, ORT_NODE=a.ort_node))
            if r.returncode:
                print(f"{path}: ONNX Runtime failed")
                bad += 1
                continue
            outs = json.loads(r.stdout.strip().splitlines()[-1])["outputs"]
            for t in a.threads.split(","):
                d = os.path.join(tmp, f"eml{t}")
                r = subprocess.run([a.edgeml, "run", path, *npys, "--threads", t,
                                    "--output-dir", d], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
                if r.returncode:
                    print(f"{path}: edgeml failed: {r.stderr.strip()[-300:]}")
                    bad += 1
                    continue
                for k, o in enumerate(outs):
                    ref = np.fromfile(os.path.join(tmp, f"ort{k}.f32"), np.float32)
                    got = numpy_helper.to_array(onnx.load_tensor(
                        os.path.join(d, o["name"].replace("/", "_") + ".pb"))).reshape(-1)
                    diff = np.abs(got.astype(np.float64) - ref)
                    use = (diff / (a.atol + a.rtol * np.abs(ref))).max()
                    ok = got.shape == ref.shape and use <= 1
                    bad += not ok
                    print(f"{os.path.basename(os.path.dirname(path)) or path} threads {t} "
                          f"{o['name']}: max |diff| {diff.max():.3g} (|ort| max "
                          f"{np.abs(ref).max():.3g}), tolerance used {use:.3f} "
                          f"{'ok' if ok else 'MISMATCH'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
