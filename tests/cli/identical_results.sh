#!/usr/bin/env bash
# Two identical runs write byte-identical result files, apart from the host time (host/seconds, one
# 8-byte double): tatami train --output and tatami run BUNDLE --output.
# Usage: identical_results.sh TATAMI SOURCE_DIR
source "$(dirname "${BASH_SOURCE[0]}")/script_common.sh"

# At most 8 differing bytes, all consecutive (one double).
same_but_host() {
  cmp -l "$1" "$2" > "$work/diff"
  local n first last
  n=$(wc -l < "$work/diff")
  [ "$n" -le 8 ] || fail "$1 and $2 differ in $n bytes"
  [ "$n" -eq 0 ] && return 0
  first=$(head -1 "$work/diff" | awk '{print $1}')
  last=$(tail -1 "$work/diff" | awk '{print $1}')
  [ $((last - first)) -lt 8 ] || fail "$1 and $2 differ at bytes $first..$last: more than the host time"
}

for i in 1 2; do
  "$tatami" train examples/fashion_mnist/mlp.onnx --data fashion-mnist --steps 2 --slice 1x2 --output "$work/train$i.h5" > /dev/null 2>&1 ||
    fail "train exited $?"
  sleep 1  # a second apart: any creation time recorded would differ
done
same_but_host "$work/train1.h5" "$work/train2.h5"
"$tatami" compile examples/fashion_mnist/mlp.onnx --batch 8 -o "$work/step.bundle" > /dev/null 2>&1 || fail "compile exited $?"
for i in 1 2; do
  "$tatami" run "$work/step.bundle" --output "$work/run$i.h5" > /dev/null 2>&1 || fail "run exited $?"
  sleep 1
done
same_but_host "$work/run1.h5" "$work/run2.h5"
# The host time is where it says it is, and nowhere else.
h5dump -d host/seconds "$work/run1.h5" > /dev/null 2>&1 || fail "no host/seconds in the run's results"
h5dump -a summary "$work/run1.h5" | grep -q host_seconds && fail "the summary of simulated figures holds the host time"
echo ok
