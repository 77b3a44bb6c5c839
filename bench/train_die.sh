#!/bin/sh
# Whole-die training speed: the MLP example data parallel over a whole D1 die (18 x 20 slice, 354
# active cores, one example each), in full mode and in timing-only mode. Reports host seconds per
# training step (the difference between 3-step and 1-step runs, so set-up is excluded) and
# simulated core-cycles per host second. Usage: bench/train_die.sh [path/to/tatami]
set -eu
tatami=${1:-build/tatami}
model=examples/fashion_mnist/mlp.onnx
run() {  # steps, extra options -> "host_seconds cycles_per_step"
  "$tatami" train "$model" --slice 18x20 --batch 354 --steps "$1" --log-every 1000 --eval-on host --json $2 |
    awk -F': ' '/"host_seconds"/ {h=$2} /"cycles_per_step"/ {c=$2} END {gsub(",", "", h); gsub(",", "", c); print h, c}'
}
for mode in full timing-only; do
  opt=""
  [ "$mode" = timing-only ] && opt=--timing-only
  one=$(run 1 "$opt")
  three=$(run 3 "$opt")
  echo "$one $three" | awk -v mode="$mode" '{
    step = ($3 - $1) / 2; cores = 354;
    printf "whole die, %-11s %.2f host s per step, %d cycles per step, %.3g core-cycles per host second\n",
           mode, step, $4, cores * $4 / step }'
done
