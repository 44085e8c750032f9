#!/usr/bin/env bash
# Cross-builds edgeml for 64-bit Arm (Debian's gcc-aarch64-linux-gnu) and runs the kernel property
# tests, the Fashion-MNIST model tests and the ONNX backend conformance runner under
# qemu-user: once with the detected ISA (NEON) and once with EML_ISA=ref.
# Usage: scripts/test-aarch64.sh [build-dir]   (default build-aarch64)
# qemu runs the programs with the multiarch libc6:arm64 loader and libc (-L /; see
# cmake/toolchain-aarch64.cmake for why not -L /usr/aarch64-linux-gnu).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build-aarch64}
start=$(date +%s)

scripts/install-deps.sh --aarch64

cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-aarch64.cmake \
  "-DCMAKE_CROSSCOMPILING_EMULATOR=qemu-aarch64;-L;/" \
  -DEML_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

# The unit tests that compare every usable kernel variant with the reference (GEMM, indirect
# GEMM, NHWC convolution / depthwise / pooling, elementwise, softmax, uint8 QConv: NEON dot
# product and plain NEON, both usable under qemu's default "max" CPU; float16 GEMM and convs, as
# qemu's "max" CPU has FP16 arithmetic), the real models, and the conformance runner: only their
# programs are built.
units=(test_f32_gemm test_fast_gemm_ops test_fast_elementwise test_nhwc test_nhwc_pool
       test_nhwc_layout test_passes_models test_qconv test_interleave3 test_f16_gemm)
targets=(test_integration_test_models test_integration_test_quantize test_conformance_onnx_backend)
for u in "${units[@]}"; do targets+=("test_unit_$u"); done
cmake --build "$dir" -j"$(nproc)" --target "${targets[@]}"

unit_re=$(IFS='|'; echo "${units[*]}")
tests="^unit\\.($unit_re)\\.|^conformance\\.onnx_backend\\."
tests+="|^integration\\.test_models\\.(bundled_fashion_cnn|fashion_mlp)"
# The INT8 Fashion CNN planned onto QConv (the integer kernels' model-level check)
tests+="|^integration\\.test_quantize\\.fashion_cnn_int8_runs_on_integer_ops"
# Most of the models' tests run ResNet-18, MobileNet-v2 and SqueezeNet, and the accuracy test
# 10,000 images: minutes each under qemu.
skip="layout_model_(mobilenet|resnet|squeezenet)|(mobilenet_v2|resnet18|squeezenet1_1)_optimized"
# The conformance runner takes every ONNX backend test (about 10 s under qemu); set
# EML_CONFORMANCE_FILTER=test_conv,... to run fewer.

for isa in native ref; do
  echo "== EML_ISA=$isa"
  EML_ISA=$isa ctest --test-dir "$dir" -R "$tests" -E "$skip" -j"$(nproc)" --output-on-failure \
    --timeout 600
done
# EML_ISA=neondot caps the features below FP16 arithmetic: the fp16 model must then run nothing
# in float16 (the f16 kernel cases skip, the model case checks the kernel names).
echo "== EML_ISA=neondot (f16 tests)"
EML_ISA=neondot ctest --test-dir "$dir" -R '^unit\.test_f16_gemm\.' -j"$(nproc)" --output-on-failure \
  --timeout 600
echo "test-aarch64: done in $(( $(date +%s) - start )) s"
