#!/bin/sh
# Builds edgeml with ThreadSanitizer (clang, -DEML_SANITIZE_THREAD=ON) and runs the tests of the
# threaded parts: the serving cache and batcher, the model repository, the thread pool and the
# agent (whose tests start a TSan-built edgemld, so races in the server count too).
#
#   scripts/tsan.sh [CTEST_REGEX]      (default: 'serve|agent|repository|pool')
#
# Build folder: build-tsan (EML_TSAN_BUILD_DIR overrides). Only the test programs that the regex
# selects are built, with edgemld and the edgeml CLI that tests run. Suppressions, each with its
# reason, are in scripts/tsan.supp. A report fails the test it happens in (TSan's exit code 66,
# in the test or in the edgemld it started). Exit status: ctest's.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${EML_TSAN_BUILD_DIR:-$root/build-tsan}
regex=${1:-serve|agent|repository|pool}
jobs=${EML_JOBS:-2}
command -v clang >/dev/null || { echo "tsan.sh: clang is needed" >&2; exit 2; }

mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DEML_SANITIZE_THREAD=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/tsan-cmake.log" 2>&1 ||
    { cat "$build/tsan-cmake.log" >&2; exit 1; }

# The test programs behind the selected tests: test "kind.file.case" runs test_kind_file.
targets=$(ctest --test-dir "$build" -N -R "$regex" |
    sed -n 's/^ *Test *#[0-9]*: \([a-z0-9_]*\)\.\([a-z0-9_]*\)\..*$/test_\1_\2/p' | sort -u)
[ -n "$targets" ] || { echo "tsan.sh: no test matches '$regex'" >&2; exit 2; }
echo "building with ThreadSanitizer in $build: edgemld edgeml_cli" $targets
# shellcheck disable=SC2086
cmake --build "$build" -j "$jobs" --target edgemld edgeml_cli $targets >"$build/tsan-build.log" 2>&1 ||
    { grep -E 'error|Error' "$build/tsan-build.log" | head -n 40 >&2; exit 1; }

export TSAN_OPTIONS="${TSAN_OPTIONS:-} suppressions=$root/scripts/tsan.supp second_deadlock_stack=1 history_size=4"
cd "$build"
status=0
ctest -R "$regex" -j "$jobs" --output-on-failure --timeout 1800 || status=$?
reports=$(grep -c 'WARNING: ThreadSanitizer' Testing/Temporary/LastTest.log 2>/dev/null || true)
echo "ThreadSanitizer reports: ${reports:-0} (details: $build/Testing/Temporary/LastTest.log)"
exit $status
