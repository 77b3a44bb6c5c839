#!/usr/bin/env bash
# Evaluation on the machine (docs/compiler.md "Evaluation"): the forward pass compiled for
# inference runs the test split on the step's placement; in FP32 it classifies exactly as the
# host does with the same weights, and it reports its runs (the last batch padded) and cycles.
# Usage: eval_on.sh TATAMI SOURCE_DIR
set -u
tatami="$1"
cd "$2" || exit 1
fail() { echo "FAIL: $*" >&2; exit 1; }
field() { python3 -c "import json,sys; j=json.load(sys.stdin); e=j['epochs'][-1]; print(e.get('$1', j.get('$1')))"; }
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
python3 -c "import sys; c=float(sys.argv[1]); p=float(sys.argv[2]); sys.exit(0 if c > 0 and abs(p - c / 10000) < 1e-9 else 1)" \
  "$(echo "$machine" | field eval_cycles)" "$(echo "$machine" | field eval_cycles_per_example)" ||
  fail "eval cycles and cycles per example do not agree: $machine"
# Mixed precision: BF16 products in the forward pass move a few predictions at most.
mixed=$(run) || fail "train in mixed precision exited $?"
python3 -c "import sys; sys.exit(0 if abs(float(sys.argv[1]) - float(sys.argv[2])) <= 0.005 else 1)" \
  "$(echo "$mixed" | field test_accuracy)" "$b" || fail "mixed-precision accuracy on the machine is far from FP32's: $mixed"
echo "ok: accuracy $a on the machine and the host"
