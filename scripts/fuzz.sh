#!/bin/sh
# Builds the libFuzzer targets with clang (EML_FUZZ=ON, in build-fuzz) and runs one of them for a
# while on its seed corpus, then prints libFuzzer's summary.
#
#   scripts/fuzz.sh TARGET [SECONDS] [libFuzzer options...]
#
# TARGET is npy, tensor_pb, onnx_load, image or oip_request (tests/fuzz/fuzz_<TARGET>.c). New inputs that libFuzzer
# finds go to build-fuzz/corpus/<TARGET>/ (the seeds in tests/fuzz/corpus/<TARGET>/ are only
# read); crashes go to build-fuzz/artifacts/<TARGET>/. To keep a crash as a regression test, copy
# it into tests/fuzz/corpus/<TARGET>/ once fixed. Exit status: libFuzzer's (0: nothing found).
set -eu

if [ $# -lt 1 ]; then
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
fi
target=$1
seconds=${2:-60}
[ $# -ge 2 ] && shift 2 || shift 1

root=$(cd "$(dirname "$0")/.." && pwd)
build=${EML_FUZZ_BUILD_DIR:-$root/build-fuzz}
seeds=$root/tests/fuzz/corpus/$target
if [ ! -f "$root/tests/fuzz/fuzz_$target.c" ]; then
    echo "fuzz.sh: no target '$target' (have: $(cd "$root/tests/fuzz" && ls fuzz_*.c |
        sed -n 's/^fuzz_\(.*\)\.c$/\1/p' | grep -v '^main$' | tr '\n' ' '))" >&2
    exit 2
fi
command -v clang >/dev/null || { echo "fuzz.sh: clang is needed for libFuzzer" >&2; exit 2; }

mkdir -p "$build"
cmake -S "$root" -B "$build" -DCMAKE_C_COMPILER=clang -DEML_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/fuzz-cmake.log" 2>&1 ||
    { cat "$build/fuzz-cmake.log" >&2; exit 1; }
cmake --build "$build" --target "fuzz_$target" -j "$(nproc)" >"$build/fuzz-build.log" 2>&1 ||
    { tail -n 40 "$build/fuzz-build.log" >&2; exit 1; }

corpus=$build/corpus/$target
artifacts=$build/artifacts/$target
mkdir -p "$corpus" "$artifacts"
[ -d "$seeds" ] || seeds=

log=$build/fuzz-$target.log
echo "fuzzing $target for $seconds s (log: $log)"
set +e
"$build/fuzz_$target" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
    -rss_limit_mb=2048 -artifact_prefix="$artifacts/" "$@" "$corpus" $seeds >"$log" 2>&1
status=$?
set -e

# libFuzzer's summary: the last status line, the crash report if any, and the final stats.
grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -n 1
if [ $status -ne 0 ]; then
    grep -E '^(==[0-9]+==ERROR|SUMMARY:|Test unit written|.*runtime error:)' "$log" | head -n 20
fi
grep -E '^(Done [0-9]+ runs|stat::)' "$log"
echo "corpus: $(ls "$corpus" | wc -l) files in $corpus"
[ $status -eq 0 ] && echo "no crash found" || echo "libFuzzer exited with $status (see $log)"
exit $status
