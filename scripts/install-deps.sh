#!/usr/bin/env bash
# Installs every Debian package edgeml needs to build, test and demo. Safe to run twice.
set -euo pipefail

packages=(
  build-essential cmake pkg-config clang libclang-rt-14-dev   # toolchain; clang for libFuzzer
  protobuf-c-compiler libprotobuf-c-dev libonnx-dev            # ONNX schema (onnx.proto) → C
  libpng-dev libjpeg-dev zlib1g-dev                            # image inputs, .gz datasets
  libonnx-testdata                                             # ONNX backend conformance tests
  dataset-fashion-mnist                                        # real data for accuracy tests
)

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
