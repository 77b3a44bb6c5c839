#!/bin/sh
# Whole-die training speed: a model data parallel over a whole D1 die (18 x 20 slice, 354 active
# cores, one example each), in full mode and in timing-only mode. Reports host seconds per
# training step (the difference between 3-step and 1-step runs, so set-up is excluded) and
# simulated core-cycles per host second.
# Usage: bench/train_die.sh [path/to/tatami] [mlp|transformer]
#   mlp:         examples/fashion_mnist/mlp.onnx on Fashion-MNIST (the default)
#   transformer: examples/transformer/encoder.onnx (AdamW) on the generated sequence task
set -eu
tatami=${1:-build/tatami}
which=${2:-mlp}
case "$which" in
  mlp) model=examples/fashion_mnist/mlp.onnx; extra="" ;;
  transformer)
    model=examples/transformer/encoder.onnx
    task=$(mktemp --suffix=.h5)
    trap 'rm -f "$task"' EXIT
    "$(dirname "$tatami")/examples/make_transformer_task" "$task" >/dev/null
    extra="--data $task --optimizer adamw --lr 0.003" ;;
  *) echo "usage: bench/train_die.sh [path/to/tatami] [mlp|transformer]" >&2; exit 2 ;;
esac
run() {  # steps, extra options -> "host_seconds cycles_per_step"
  # shellcheck disable=SC2086
  "$tatami" train "$model" $extra --slice 18x20 --batch 354 --steps "$1" --log-every 1000 --eval-on host --json $2 |
    awk -F': ' '/"host_seconds"/ {h=$2} /"cycles_per_step"/ {c=$2} END {gsub(",", "", h); gsub(",", "", c); print h, c}'
}
for mode in full timing-only; do
  opt=""
  [ "$mode" = timing-only ] && opt=--timing-only
  one=$(run 1 "$opt")
  three=$(run 3 "$opt")
  echo "$one $three" | awk -v mode="$mode" -v which="$which" '{
    step = ($3 - $1) / 2; cores = 354;
    printf "whole die, %s, %-11s %.2f host s per step, %d cycles per step, %.3g core-cycles per host second\n",
           which, mode, step, $4, cores * $4 / step }'
done
