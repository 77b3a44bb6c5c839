#!/usr/bin/env bash
# A compiled bundle runs under other timing parameters without recompiling (docs/bundle.md):
# the changed parameters are reported and move the cycles; a parameter the programs depend on
# is refused by name with exit 2.
# Usage: timing_variant.sh TATAMI SOURCE_DIR
set -u
tatami="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
"$tatami" compile "$2/examples/fashion_mnist/mlp.onnx" --batch 16 --slice 1x1 -o "$work/step.bundle" >/dev/null ||
  fail "compile exited $?"
base=$("$tatami" run "$work/step.bundle" --timing-only --json | sed -n 's/^  "cycles": \([0-9]*\),$/\1/p')
[ -n "$base" ] || fail "no cycles in the bundle's run"
out=$("$tatami" run "$work/step.bundle" --timing-only --set core.matrix_latency_cycles=64 --set core.clock_ghz=1) ||
  fail "the timing variant exited $?"
echo "$out" | grep -q "timing variant: core.matrix_latency_cycles = 64 (compiled with 8)" || fail "the changed latency is not reported: $out"
echo "$out" | grep -q "timing variant: core.clock_ghz = 1 (compiled with 2)" || fail "the changed clock is not reported: $out"
slow=$("$tatami" run "$work/step.bundle" --timing-only --set core.matrix_latency_cycles=64 --json | sed -n 's/^  "cycles": \([0-9]*\),$/\1/p')
[ "$slow" -gt "$base" ] || fail "a longer matrix latency did not add cycles ($base -> $slow)"
# The same configuration given whole is no variant at all.
"$tatami" run "$work/step.bundle" --timing-only --set core.dma_setup_cycles=16 | grep -q "timing variant" &&
  fail "a --set equal to the bundle's value is reported as a variant"
err=$("$tatami" run "$work/step.bundle" --timing-only --set core.sram_kib=2048 2>&1 >/dev/null)
rc=$?
[ "$rc" -eq 2 ] || fail "a changed SRAM size exited $rc, not 2"
echo "$err" | grep -q "core.sram_kib = 2048 differs from the bundle's core.sram_kib = 1280, and the compiled programs depend on it (its SRAM layout)" ||
  fail "the refusal does not name the parameter: $err"
err=$("$tatami" run "$work/step.bundle" --set core.threads=1 2>&1 >/dev/null)
[ $? -eq 2 ] || fail "a changed thread count was not refused"
echo "$err" | grep -q "core.threads" || fail "the refusal does not name core.threads: $err"
echo "ok: $base cycles; matrix latency 64: $slow"
