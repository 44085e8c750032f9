#!/usr/bin/env bash
# The main job, the whole loop on one machine with the bundled Fashion-MNIST CNN: optimize it
# (INT8, measured against FP32 on the real test set), deploy both versions to a local edgemld node,
# run an inference on the node, benchmark the deployed model, roll back, and stop the node.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(scripts/build.sh | tail -n 1)
edgeml="$dir/edgeml"
model=models/fashion_cnn/model.onnx
data=/usr/share/datasets/fashion-mnist
work=$(mktemp -d)
agent_pid=""
cleanup() {
    [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" || true
    rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }

step "1. the model"
"$edgeml" info "$model"

step "2. optimize: INT8 (calibrated on 500 training images, both models evaluated on the 10,000 test images)"
"$edgeml" quantize "$model" -o "$work/fashion_cnn_int8.onnx" --precision int8 \
    --calib "$data/train-images-idx3-ubyte.gz" --calib-limit 500 \
    --eval-data "$data/t10k-images-idx3-ubyte.gz" --eval-labels "$data/t10k-labels-idx1-ubyte.gz"

step "3. deploy to the local node: start edgemld, deploy FP32 as version 1, INT8 as version 2"
"$dir/edgemld" --repo "$work/repo" --listen 127.0.0.1:0 > "$work/agent.log" 2>&1 &
agent_pid=$!
for _ in $(seq 100); do grep -q "listening on" "$work/agent.log" && break; sleep 0.1; done
head -n 1 "$work/agent.log"
url="http://$(sed -n 's/.*listening on \([^,]*\),.*/\1/p' "$work/agent.log" | head -n 1)"
deploy() {
    curl -sS --fail-with-body -X POST -H 'Content-Type: application/octet-stream' \
        --data-binary "@$1" "$url/v2/edgeml/models/fashion_cnn/deploy"
    echo
}
deploy "$model"
deploy "$work/fashion_cnn_int8.onnx"

step "4. run on the node: the first test image through the Open Inference Protocol (binary tensor)"
npy=models/fashion_cnn/test_data_set_0/input_0.npy
header=$(( $(stat -c %s "$npy") - 8 * 784 * 4 )) # the .npy holds 8 images after its header
json='{"inputs":[{"name":"input","shape":[1,1,28,28],"datatype":"FP32","parameters":{"binary_data_size":3136}}]}'
{ printf '%s' "$json"; tail -c +"$((header + 1))" "$npy" | head -c 3136; } > "$work/request.bin"
curl -sS --fail-with-body -X POST -H 'Content-Type: application/octet-stream' \
    -H "Inference-Header-Content-Length: ${#json}" --data-binary "@$work/request.bin" \
    "$url/v2/models/fashion_cnn/infer"
echo
echo "(label of that image: 9, ankle boot)"

step "5. benchmark the serving version (INT8) on this machine"
"$edgeml" bench "$work/repo/fashion_cnn/2/model.onnx" --threads 1 --seconds 2

step "6. roll back to version 1 (FP32) and list the versions"
curl -sS --fail-with-body -X POST "$url/v2/edgeml/models/fashion_cnn/rollback"
echo
curl -sS --fail-with-body "$url/v2/edgeml/models/fashion_cnn/versions"
echo

step "7. stop the node"
kill -TERM "$agent_pid"
wait "$agent_pid" || true
agent_pid=""
tail -n 2 "$work/agent.log"
