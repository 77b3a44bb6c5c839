#!/usr/bin/env bash
# The sanitizer job (CI runs it after scripts/test.sh): everything built with clang, AddressSanitizer
# and UndefinedBehaviorSanitizer (-DTATAMI_SANITIZE=ON, -O1, RTL left out) and the libFuzzer targets
# (-DTATAMI_FUZZ=ON) in build-sanitize/; then the unit and command-line tests under the sanitizers,
# any report fatal, and a short run of every fuzz target (TATAMI_FUZZ_SECONDS each, 15 by default;
# a finding fails the job). Tests left out, and why: above TATAMI_SANITIZE_EXCLUDE below.
# Usage: scripts/test-sanitize.sh [extra ctest arguments for the unit and command-line tests]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh" clang libclang-rt-dev   # libclang-rt-dev: the sanitizer and libFuzzer runtimes (only recommended by clang)
build="$root/build-sanitize"
export CCACHE_BASEDIR="$root"
export CCACHE_NOHASHDIR=1
# A tree configured with another compiler (before this job used clang) is configured afresh.
if [ -f "$build/CMakeCache.txt" ] && ! grep -q "^CMAKE_CXX_COMPILER:.*clang" "$build/CMakeCache.txt"; then
  rm -rf "$build"
fi
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_C_COMPILER=clang \
    -DTATAMI_SANITIZE=ON -DTATAMI_FUZZ=ON -DTATAMI_WITH_VERILATOR=OFF >/dev/null
fi
cmake -S "$root" -B "$build" -DTATAMI_FUZZ_SECONDS="${TATAMI_FUZZ_SECONDS:-15}" >/dev/null
cmake --build "$build"
# Leaks are checked too (finished SystemC kernels are kept reachable, not leaked: runtime/src/run.cpp).
export ASAN_OPTIONS="strict_string_checks=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Left out: the model zoo, the CNN, GPT, transformer and HBM-streaming training runs, the report (Chromium), the
# sweep, the identical-results runs and the machine-versus-host evaluation (long runs of what the
# other tests cover: train_fashion_mnist evaluates on the machine), and the
# validation report's freshness check (it differs by design without the RTL, and takes 5 minutes).
exclude="${TATAMI_SANITIZE_EXCLUDE:-cli\.(zoo_|train_cnn|train_tiny_gpt|train_transformer|report$|sweep$|identical_results|validation_report_fresh|train_hbm_stream|eval_on$)}"
ctest --test-dir "$build" --output-on-failure --no-tests=error -j "$(nproc)" -L "unit|cli" -LE long -E "$exclude" "$@"
# The fuzz targets, each from its corpus (seeds, bad inputs, and what earlier runs found in this tree).
ctest --test-dir "$build" --output-on-failure --no-tests=error -j "$(nproc)" -L fuzz
