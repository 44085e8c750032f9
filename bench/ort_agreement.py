#!/usr/bin/python3
"""Checks that ONNX Runtime runs the models `edgeml quantize` writes, and that its top-1 agrees
with edgeml's on the Fashion-MNIST test set.

For each precision (int8, int8 --per-tensor, int8 entropy, int8-dynamic, fp16, mixed) it quantizes
the Fashion-MNIST CNN (calibrated on the first 500 training images), then predicts every test
image with `edgeml eval --predictions` and with ONNX Runtime (bench/ort_predict.js) and prints the
share of images whose top-1 agrees, and each runtime's accuracy. Fails (exit 1) below --min-agree
(default 99.5 %); exits 77 (skipped) when Node, onnxruntime-node or the data set is absent.
Standard library only.

  bench/ort_agreement.py [--edgeml PATH] [--model MODEL.onnx] [--limit N] [--precisions int8,fp16,...]
                         [--ort-node DIR] [--min-agree 99.5] [--keep DIR]
"""
import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.environ.get("EML_SHARED_DIR") or os.path.join(os.path.dirname(REPO), "shared")
DATA = "/usr/share/datasets/fashion-mnist"
CACHE = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                     "edgeml", "ort")
SKIP = 77
VARIANTS = {
    "int8": ["--precision", "int8"],
    "int8-per-tensor": ["--precision", "int8", "--per-tensor"],
    "int8-entropy": ["--precision", "int8", "--method", "entropy"],
    "int8-percentile": ["--precision", "int8", "--method", "percentile"],
    "int8-dynamic": ["--precision", "int8-dynamic"],
    "fp16": ["--precision", "fp16"],
    "mixed": ["--precision", "mixed"],
}


def read_npy_int32(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:6] != b"\x93NUMPY":
        sys.exit(f"error: {path} is not a .npy file")
    hlen = struct.unpack("<H", data[8:10])[0]
    header = data[10:10 + hlen].decode("latin1")
    if "'<i4'" not in header:
        sys.exit(f"error: {path}: expected int32 predictions, header {header}")
    body = data[10 + hlen:]
    return list(struct.unpack(f"<{len(body) // 4}i", body))


def read_idx_labels(path, limit):
    import gzip
    with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
        b = f.read()
    n = struct.unpack(">I", b[4:8])[0]
    return list(b[8:8 + min(n, limit or n)])


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--edgeml", default=os.environ.get("EDGEML") or os.path.join(REPO, "build", "edgeml"))
    p.add_argument("--model", default=os.path.join(SHARED, "models", "fashion_cnn", "model.onnx"))
    p.add_argument("--limit", type=int, default=0, help="test images (default all 10,000)")
    p.add_argument("--precisions", default="int8,int8-per-tensor,int8-entropy,int8-dynamic,fp16,mixed")
    p.add_argument("--ort-node", default=os.environ.get("ORT_NODE"))
    p.add_argument("--min-agree", type=float, default=99.5)
    p.add_argument("--keep", help="write the quantized models into this folder")
    a = p.parse_args()

    node = shutil.which("node")
    ort_node = a.ort_node or os.path.join(CACHE, "node_modules", "onnxruntime-node")
    test_images = os.path.join(DATA, "t10k-images-idx3-ubyte.gz")
    test_labels = os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")
    train_images = os.path.join(DATA, "train-images-idx3-ubyte.gz")
    if not node or not os.path.isdir(ort_node):
        print(f"skipped: node or onnxruntime-node ({ort_node}) is absent "
              "(see ../shared/bench/README.md)")
        return SKIP
    if not os.path.exists(test_images) or not os.path.exists(a.model):
        print("skipped: dataset-fashion-mnist or the model is absent")
        return SKIP
    if not os.access(a.edgeml, os.X_OK):
        sys.exit(f"error: no edgeml program at {a.edgeml}")
    labels = read_idx_labels(test_labels, a.limit)
    env = dict(os.environ, ORT_NODE=ort_node)
    limit = ["--limit", str(a.limit)] if a.limit else []
    worst = 100.0
    with tempfile.TemporaryDirectory() as tmp:
        out_dir = a.keep or tmp
        os.makedirs(out_dir, exist_ok=True)
        print(f"{'precision':<16} {'agree %':>8} {'edgeml top-1':>13} {'ORT top-1':>10}  images")
        for name in [x for x in a.precisions.split(",") if x]:
            if name not in VARIANTS:
                sys.exit(f"error: unknown precision '{name}' (known: {', '.join(VARIANTS)})")
            model = os.path.join(out_dir, f"fashion_cnn_{name}.onnx")
            q = [a.edgeml, "quantize", a.model, "-o", model, *VARIANTS[name], "--no-bench",
                 "--calib", train_images, "--calib-limit", "500"]
            subprocess.run(q, check=True, stdout=subprocess.DEVNULL)
            pred_path = os.path.join(tmp, f"{name}.npy")
            subprocess.run([a.edgeml, "eval", model, "--data", test_images, "--labels", test_labels,
                            "--predictions", pred_path, *limit], check=True,
                           stdout=subprocess.DEVNULL)
            ours = read_npy_int32(pred_path)
            r = subprocess.run([node, os.path.join(REPO, "bench", "ort_predict.js"), model,
                                test_images, *limit], env=env, check=True, capture_output=True,
                               text=True)
            theirs = json.loads(r.stdout)["predictions"]
            if len(theirs) != len(ours):
                sys.exit(f"error: {name}: {len(ours)} edgeml predictions, {len(theirs)} from ORT")
            agree = 100.0 * sum(x == y for x, y in zip(ours, theirs)) / len(ours)
            acc_ours = 100.0 * sum(x == y for x, y in zip(ours, labels)) / len(ours)
            acc_ort = 100.0 * sum(x == y for x, y in zip(theirs, labels)) / len(ours)
            worst = min(worst, agree)
            print(f"{name:<16} {agree:8.2f} {acc_ours:12.2f}% {acc_ort:9.2f}%  {len(ours)}",
                  flush=True)
    if worst < a.min_agree:
        print(f"FAIL: agreement {worst:.2f}% is below {a.min_agree}%")
        return 1
    print(f"ok: every precision agrees on at least {worst:.2f}% of the images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
