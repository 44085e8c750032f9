#!/usr/bin/env bash
# The main job, the whole loop on one machine with the bundled Fashion-MNIST CNN, every figure
# measured as it runs. Part 1, the embedded default: a site with its local node in-process
# (`edgeml --site`): deploy the FP32 model, benchmark it and measure its accuracy on the node,
# optimize it to INT8, deploy that as version 2, run an inference, benchmark it, list the models
# with their measured figures, roll back. Part 2, the same node as a service: an `edgemld` agent
# on a loopback port, driven over HTTP (Open Inference Protocol), stopped with SIGTERM.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(scripts/build.sh | tail -n 1)
edgeml="$dir/edgeml"
model=models/fashion_cnn/model.onnx
data=/usr/share/datasets/fashion-mnist
eval_args=(--eval-data "$data/t10k-images-idx3-ubyte.gz" --eval-labels "$data/t10k-labels-idx1-ubyte.gz")
work=$(mktemp -d)
export EDGEML_HOME="$work/home" # the site's folder: SQLite database, artifacts, the local node
agent_pid=""
cleanup() {
    [ -n "$agent_pid" ] && kill -TERM "$agent_pid" 2>/dev/null && wait "$agent_pid" || true
    rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n== %s\n' "$*"; }
site() { "$edgeml" --site factory-edge-01 "$@"; }

step "1. the model"
"$edgeml" info "$model"

step "2. deploy it to the site's local node (embedded default: no broker, the node runs in-process)"
site deploy "$model" --model fashion_cnn --name "Fashion CNN" --type classification \
    --input-shape 1x1x28x28 --output-shape 1x10

step "3. benchmark it on the node, and its top-1 accuracy on the 10,000 test images"
site bench fashion_cnn --runs 500 "${eval_args[@]}"

step "4. optimize: INT8 (calibrated on 500 training images), deployed as version 2"
site quantize fashion_cnn --calib "$data/train-images-idx3-ubyte.gz" --calib-limit 500 --json \
    | tee "$work/int8.json"
int8_file=$(sed -n 's/.*"file": "\([^"]*\)".*/\1/p' "$work/int8.json")
site deploy "$int8_file" --model fashion_cnn

step "5. run it on the node: the first test images (the first one is an ankle boot, class 9)"
site infer fashion_cnn models/fashion_cnn/test_data_set_0/input_0.pb --top 1

step "6. benchmark version 2 on the node, and its accuracy"
site bench fashion_cnn --runs 500 "${eval_args[@]}"

step "7. the site's models with what was measured, then roll back to version 1"
site models
site rollback fashion_cnn
site status

step "8. the same node as a service: edgemld on a loopback port, both versions deployed over HTTP"
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
deploy "$int8_file"

step "9. inference over the Open Inference Protocol (binary tensor extension), then roll back"
npy=models/fashion_cnn/test_data_set_0/input_0.npy
header=$(( $(stat -c %s "$npy") - 8 * 784 * 4 )) # the .npy holds 8 images after its header
json='{"inputs":[{"name":"input","shape":[1,1,28,28],"datatype":"FP32","parameters":{"binary_data_size":3136}}]}'
{ printf '%s' "$json"; tail -c +"$((header + 1))" "$npy" | head -c 3136; } > "$work/request.bin"
curl -sS --fail-with-body -X POST -H 'Content-Type: application/octet-stream' \
    -H "Inference-Header-Content-Length: ${#json}" --data-binary "@$work/request.bin" \
    "$url/v2/models/fashion_cnn/infer"
echo
curl -sS --fail-with-body -X POST "$url/v2/edgeml/models/fashion_cnn/rollback"
echo
curl -sS --fail-with-body "$url/v2/edgeml/models/fashion_cnn/versions"
echo

step "10. stop the node"
kill -TERM "$agent_pid"
wait "$agent_pid" || true
agent_pid=""
tail -n 2 "$work/agent.log"
