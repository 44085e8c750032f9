#!/usr/bin/env bash
# The main job, on the bundled Fashion-MNIST CNN: what the model is, then a run with its top-5.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(scripts/build.sh | tail -n 1)
model=models/fashion_cnn/model.onnx
input=models/fashion_cnn/test_data_set_0/input_0.pb
set -x
"$dir/edgeml" info "$model"
"$dir/edgeml" run "$model" --input "input=$input" --top 5 --output-dir "$dir/demo-out"
