#!/bin/sh
# Load test of edgemld with wrk on loopback: sustained inference on the Fashion-MNIST CNN while a
# new version (the INT8 model) is deployed and rolled back mid-run, with and without dynamic
# batching, at high and at low concurrency. Prints a table of requests/s and p50/p99 latency and
# fails when any request failed (a non-200 reply or a socket error) or the rollout did.
#
#   bench/agent_load.sh [SECONDS] [CONNECTIONS] [WRK_THREADS]     (default 60 64 2)
#
# EML_BUILD_DIR: the build with edgemld and edgeml (default build/). Needs wrk (Debian package)
# and curl. Runs, each SECONDS long, on a fresh agent:
#   batched  --max-batch 8 (the default), CONNECTIONS connections, deploy + rollback mid-run
#   batch 1  --max-batch 1 (no batching), the same
#   batched and batch 1 again with 1 connection (no rollout): what batching costs a lone client
# The agent's limits are set above the load (--max-concurrent and --max-queue 4 x CONNECTIONS +
# 16) so that a refusal would be a failure of the agent, not of the test's configuration.
set -eu

seconds=${1:-60}
conns=${2:-64}
wrk_threads=${3:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${EML_BUILD_DIR:-$root/build}
model=$root/models/fashion_cnn/model.onnx
data=/usr/share/datasets/fashion-mnist
for tool in wrk curl gzip od awk; do
    command -v $tool >/dev/null || { echo "agent_load.sh: $tool is needed" >&2; exit 2; }
done
[ -x "$build/edgemld" ] && [ -x "$build/edgeml" ] ||
    { echo "agent_load.sh: build edgemld and edgeml in $build first" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/eml_load_XXXXXX")
pid=
cleanup() {
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

# The request: test image 0 of Fashion-MNIST (an ankle boot), scaled to [0, 1] as the model
# was trained, as an OIP JSON request.
gzip -dc "$data/t10k-images-idx3-ubyte.gz" | head -c $((16 + 784)) | tail -c 784 |
    od -An -v -tu1 | awk '
    BEGIN { printf "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,1,28,28],\"datatype\":\"FP32\",\"data\":[" }
    { for (i = 1; i <= NF; i++) printf "%s%.6g", (n++ ? "," : ""), $i / 255 }
    END { printf "]}]}" }' >"$work/request.json"
export EML_LOAD_BODY="$work/request.json"

echo "quantizing the INT8 version (500 calibration images)..."
"$build/edgeml" quantize "$model" -o "$work/int8.onnx" --precision int8 \
    --calib "$data/train-images-idx3-ubyte.gz" --calib-limit 500 --no-bench >"$work/quantize.log" 2>&1 ||
    { cat "$work/quantize.log" >&2; exit 1; }

limit=$((4 * conns + 16))
url=

# start_agent EXTRA_OPTIONS...: a fresh agent and repository, the float model deployed.
start_agent() {
    rm -rf "$work/repo"
    "$build/edgemld" --repo "$work/repo" --listen 127.0.0.1:0 --max-concurrent $limit \
        --max-queue $limit "$@" >"$work/agent.log" 2>&1 &
    pid=$!
    i=0
    while ! grep -q "listening on" "$work/agent.log" 2>/dev/null; do
        i=$((i + 1))
        [ $i -lt 300 ] && kill -0 "$pid" 2>/dev/null ||
            { cat "$work/agent.log" >&2; echo "agent_load.sh: edgemld did not start" >&2; exit 1; }
        sleep 0.1
    done
    port=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$work/agent.log")
    url=http://127.0.0.1:$port
    deploy "$model" >/dev/null
}

stop_agent() {
    kill "$pid"
    wait "$pid" || { echo "agent_load.sh: edgemld exited with $?" >&2; exit 1; }
    pid=
}

# deploy FILE: a new version from the file's bytes; prints the reply, fails unless 200.
deploy() {
    code=$(curl -s -o "$work/deploy.json" -w '%{http_code}' -X POST \
        -H 'Content-Type: application/octet-stream' --data-binary "@$1" \
        "$url/v2/edgeml/models/fashion_cnn/deploy")
    cat "$work/deploy.json"
    [ "$code" = 200 ] || { echo " <- deploy: HTTP $code" >&2; return 1; }
}

rollback() {
    code=$(curl -s -o "$work/rollback.json" -w '%{http_code}' -X POST -d '{}' \
        "$url/v2/edgeml/models/fashion_cnn/rollback")
    cat "$work/rollback.json"
    [ "$code" = 200 ] || { echo " <- rollback: HTTP $code" >&2; return 1; }
}

# The serving version, from an inference's reply.
serving_version() {
    curl -s -X POST -H 'Content-Type: application/json' --data-binary "@$EML_LOAD_BODY" \
        "$url/v2/models/fashion_cnn/infer" | sed -n 's/.*"model_version":"\([0-9]*\)".*/\1/p'
}

failed=0
rows=
# run NAME CONNECTIONS ROLLOUT(0|1): one wrk run against the agent started last.
run() {
    name=$1
    c=$2
    t=$wrk_threads
    [ "$t" -gt "$c" ] && t=$c
    load=$(cut -d' ' -f1 /proc/loadavg)
    wrk -t"$t" -c"$c" -d"${seconds}s" --timeout 10s -s "$root/bench/agent_load.lua" \
        "$url/v2/models/fashion_cnn/infer" >"$work/wrk.out" 2>"$work/wrk.err" &
    wrk_pid=$!
    rollout="-"
    if [ "$3" = 1 ]; then
        # a third of the way: the INT8 version goes live; two thirds: back to the float one
        sleep $((seconds / 3))
        if deploy "$work/int8.onnx" >"$work/rollout.json"; then
            v_new=$(serving_version)
            sleep $((seconds / 3))
            if rollback >>"$work/rollout.json"; then
                v_back=$(serving_version)
                rollout="v1>v$v_new>v$v_back"
            else
                rollout="rollback failed"
                failed=1
            fi
        else
            rollout="deploy failed"
            failed=1
        fi
    fi
    wait "$wrk_pid" || { cat "$work/wrk.err" >&2; echo "agent_load.sh: wrk failed" >&2; exit 1; }
    result=$(grep '^RESULT' "$work/wrk.out") ||
        { cat "$work/wrk.out" "$work/wrk.err" >&2; exit 1; }
    cat "$work/wrk.err" >&2
    get() { echo "$result" | sed -n "s/.* $1=\([^ ]*\).*/\1/p"; }
    errors=$(($(get non_200) + $(get connect) + $(get read) + $(get write) + $(get timeout)))
    [ "$errors" -eq 0 ] || failed=1
    batches=$(curl -s "$url/metrics" | sed -n 's/^edgeml_batch_size_count{model="fashion_cnn"} //p' | head -n 1)
    infers=$(curl -s "$url/metrics" | sed -n 's/^edgeml_inference_requests_total{model="fashion_cnn"} //p' | head -n 1)
    echo "$name: $result batches=${batches:-?} load=$load rollout=$rollout"
    rows="$rows$(printf '| %-9s | %5s | %8s | %8s | %8s | %6s | %11s | %-12s | %5s |' \
        "$name" "$c" "$(get rps)" "$(get p50_ms)" "$(get p99_ms)" "$errors" \
        "$(awk -v r="${infers:-0}" -v b="${batches:-0}" 'BEGIN { if (b > 0) printf "%.2f", r / b; else print "?" }')" \
        "$rollout" "$load")
"
}

echo "wrk: ${seconds} s per run, $conns connections, $wrk_threads threads; $(nproc) CPUs"
start_agent
run batched "$conns" 1
stop_agent
start_agent --max-batch 1
run "batch 1" "$conns" 1
stop_agent
start_agent
run batched 1 0
stop_agent
start_agent --max-batch 1
run "batch 1" 1 0
stop_agent

echo
echo "| run       | conns |    req/s |  p50 ms  |  p99 ms  | failed | rows/batch  | rollout      | load1 |"
echo "|-----------|-------|----------|----------|----------|--------|-------------|--------------|-------|"
printf '%s' "$rows"
echo "(failed: non-200 replies + socket errors; rows/batch: inference requests per executed batch,"
echo " over the run and the checks around it; load1: the 1-minute load average when the run began,"
echo " the previous run's own threads included)"
if [ $failed -ne 0 ]; then
    echo "agent_load.sh: FAILED: some requests failed or the rollout did" >&2
    exit 1
fi
