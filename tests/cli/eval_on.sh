#!/usr/bin/env bash
# Evaluation on the machine (docs/compiler.md "Evaluation"): the forward pass compiled for
# inference runs the test split on the step's placement; in FP32 it classifies exactly as the
# host does with the same weights, and it reports its runs (the last batch padded) and cycles,
# its batches coming through the host link and the DIP's HBM.
# Usage: eval_on.sh TATAMI SOURCE_DIR
set -u
tatami="$1"
cd "$2" || exit 1
fail() { echo "FAIL: $*" >&2; exit 1; }
# A field of the last epoch (the summary's fields come before the epochs, so the last match).
field() { grep "\"$1\": " | tail -1 | sed 's/.*": "*//; s/"*,*$//'; }
run() { "$tatami" train examples/fashion_mnist/mlp.onnx --steps 20 --batch 48 --slice 2x2 --json "$@"; }
machine=$(run --precision fp32) || fail "train --eval-on machine exited $?"
host=$(run --precision fp32 --eval-on host) || fail "train --eval-on host exited $?"
[ "$(echo "$machine" | field evaluated_on)" = machine ] || fail "not evaluated on the machine: $machine"
[ "$(echo "$host" | field evaluated_on)" = host ] || fail "not evaluated on the host: $host"
a=$(echo "$machine" | field test_accuracy)
b=$(echo "$host" | field test_accuracy)
[ "$a" = "$b" ] || fail "FP32 accuracy on the machine $a differs from the host's $b"
# 10,000 test examples in batches of 48: 209 runs, the last one of 16 examples padded to 48.
[ "$(echo "$machine" | field eval_runs)" = 209 ] || fail "expected 209 evaluation runs: $machine"
awk -v c="$(echo "$machine" | field eval_cycles)" -v p="$(echo "$machine" | field eval_cycles_per_example)" \
  'BEGIN {d = p - c / 10000; exit (c > 0 && d < 1e-6 && d > -1e-6) ? 0 : 1}' ||
  fail "eval cycles and cycles per example do not agree: $machine"
# Each test batch comes through the data path like a training batch. On the placement the cost
# model chooses (a 4x4 grid, batch 64, mixed precision) the forward pass is shorter than a batch
# on the host link (32 GB/s, 16 bytes a cycle at 2 GHz: 200,704 bytes of images in 12,544
# cycles; the first two of the 157 batches are in place at the start: at least 155 x 12,544 /
# 10,000 = 194.4 cycles per example), so the pass runs at the link's pace; without the link's
# limit it is faster and classifies the same.
grid() { "$tatami" train examples/fashion_mnist/mlp.onnx --steps 2 --json "$@"; }
linked=$(grid) || fail "train on the chosen placement exited $?"
unlimited=$(grid --set dip.host_gb_per_s=0) || fail "train with dip.host_gb_per_s=0 exited $?"
[ "$(echo "$unlimited" | field test_accuracy)" = "$(echo "$linked" | field test_accuracy)" ] || fail "the host link changed the accuracy: $unlimited"
awk -v l="$(echo "$linked" | field eval_cycles_per_example)" -v u="$(echo "$unlimited" | field eval_cycles_per_example)" \
  'BEGIN {exit (l >= 194.4 && u < l / 2) ? 0 : 1}' || fail "the evaluation's cycles do not show the host link: $linked / $unlimited"
# Mixed precision: BF16 products in the forward pass move a few predictions at most.
mixed=$(run) || fail "train in mixed precision exited $?"
awk -v m="$(echo "$mixed" | field test_accuracy)" -v f="$b" 'BEGIN {d = m - f; exit (d <= 0.005 && d >= -0.005) ? 0 : 1}' || fail "mixed-precision accuracy on the machine is far from FP32's: $mixed"
echo "ok: accuracy $a on the machine and the host"
