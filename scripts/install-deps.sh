#!/usr/bin/env bash
# Installs every Debian package edgeml needs to build, test and demo. Safe to run twice.
# Usage: scripts/install-deps.sh [--aarch64]
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev   # toolchain; clang for libFuzzer
  protobuf-c-compiler libprotobuf-c-dev libonnx-dev            # ONNX schema (onnx.proto) → C
  libpng-dev libjpeg-dev zlib1g-dev                            # image inputs, .gz datasets
  libonnx-testdata                                             # ONNX backend conformance tests
  dataset-fashion-mnist                                        # real data for accuracy tests
  libsodium-dev                                                # SHA-256, Ed25519 signatures
  libmicrohttpd-dev libcjson-dev libcurl4-openssl-dev          # agent HTTP API, JSON, HTTP client
  curl                                                         # the demo talks to the agent
  libsqlite3-dev                                               # fleet manager: the site database
  libmosquitto-dev mosquitto                                   # the fleet bus: MQTT client, broker
  openssl                                                      # test certificates for MQTT over TLS
  wrk                                                          # bench/agent_load.sh: HTTP load
)

# --aarch64: also what scripts/test-aarch64.sh needs to cross-build for 64-bit Arm and run the
# tests under qemu-user: the cross compiler, qemu, and the arm64 builds (Debian multiarch) of the
# libraries edgeml links. protoc-c and onnx.proto stay the host's.
aarch64_packages=(
  gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user libc6:arm64
  libprotobuf-c-dev:arm64 libpng-dev:arm64 libjpeg-dev:arm64 zlib1g-dev:arm64
  libsodium-dev:arm64 libcjson-dev:arm64 libmicrohttpd-dev:arm64 libcurl4-openssl-dev:arm64
  libsqlite3-dev:arm64 libmosquitto-dev:arm64
)
if [ "${1:-}" = "--aarch64" ]; then
  packages+=("${aarch64_packages[@]}")
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    if [ "$(id -u)" -eq 0 ]; then
      dpkg --add-architecture arm64
    else
      sudo dpkg --add-architecture arm64
    fi
  fi
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update
$SUDO apt-get install -y --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${missing[*]}"
