#!/usr/bin/env bash
# tatami compare of two result files: the --json of two runs, and their results HDF5 files.
# Usage: compare_files.sh TATAMI SOURCE_DIR
set -u
tatami="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
gemm="$2/examples/gemm/gemm.tasm"
"$tatami" run "$gemm" --timing-only --json > "$work/a.json" || fail "run A exited $?"
"$tatami" run "$gemm" --timing-only --set core.matrix_latency_cycles=64 --json > "$work/b.json" || fail "run B exited $?"
out=$("$tatami" compare "$work/a.json" "$work/b.json") || fail "compare exited $?"
echo "$out" | grep -Eq "^cycles +cycles +65608 +65664 +1.001$" || fail "no cycles row with both values and B/A: $out"
echo "$out" | grep -Eq "^units.matrix.busy_cycles +cycles +65536 +65536 +1$" || fail "no matrix busy row: $out"
echo "$out" | grep -Eq "^cycles +cycles +65608" || fail "no unit beside cycles: $out"
echo "$out" | grep -q "(undeclared)" && fail "a metric without a declaration in tools/src/metrics.def: $(echo "$out" | grep undeclared)"
json=$("$tatami" compare "$work/a.json" "$work/b.json" --json) || fail "compare --json exited $?"
echo "$json" | grep -q '"metric": "cycles",' || fail "no cycles metric in the JSON: $json"
# Results HDF5 files (run --output): their summary attribute.
"$tatami" compile "$2/examples/fashion_mnist/mlp.onnx" --batch 16 --slice 1x1 -o "$work/step.bundle" >/dev/null || fail "compile exited $?"
"$tatami" run "$work/step.bundle" --output "$work/a.h5" >/dev/null || fail "run of the bundle exited $?"
"$tatami" run "$work/step.bundle" --set core.dma_setup_cycles=64 --output "$work/b.h5" >/dev/null || fail "its timing variant exited $?"
out=$("$tatami" compare "$work/a.h5" "$work/b.h5") || fail "compare of HDF5 results exited $?"
echo "$out" | grep -Eq "^cycles +cycles +28183 +43313 +1.537$" || fail "no cycles row from the HDF5 summaries: $out"
# --vs is for a model, not for two files.
"$tatami" compare "$work/a.json" "$work/b.json" --vs core.threads=1 2>/dev/null
[ $? -eq 2 ] || fail "--vs with two result files was not refused"
echo ok
