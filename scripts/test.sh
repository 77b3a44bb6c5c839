#!/usr/bin/env bash
# Sets everything up, builds everything and runs the test suite through CTest. Tests labelled
# `long` (exhaustive format checks) run only with TATAMI_LONG_TESTS=1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh"
exclude=(-LE long)
if [ "${TATAMI_LONG_TESTS:-0}" = 1 ]; then exclude=(); fi
ctest --test-dir "$root/build" --output-on-failure --no-tests=error -j "$(nproc)" "${exclude[@]}"
