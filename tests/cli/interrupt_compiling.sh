#!/usr/bin/env bash
# SIGINT while the step is being compiled and the data loaded (before any step ran): the handler is
# installed first, so the run says it was interrupted before the first step and exits 3, instead of
# dying silently.
source "$(dirname "$0")/script_common.sh"
"$tatami" train examples/fashion_mnist/mlp.onnx --steps 5 --output "$work/run.h5" >"$work/out" 2>"$work/err" &
pid=$!
for _ in $(seq 200); do
  grep -q "compiling the step" "$work/out" && break
  sleep 0.05
done
grep -q "compiling the step" "$work/out" || fail "no 'compiling the step' line: $(cat "$work/out" "$work/err")"
kill -INT "$pid"
rc=0
wait "$pid" || rc=$?
[ "$rc" = 3 ] || fail "exit code $rc, expected 3 (interrupted): $(cat "$work/err")"
grep -q "tatami train: interrupted before the first step" "$work/err" || fail "message: $(cat "$work/err")"
! grep -q "^ *0 " "$work/out" || fail "a step ran after the interruption: $(cat "$work/out")"
echo "ok: interrupted while compiling, exit 3"
