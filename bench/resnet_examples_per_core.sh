#!/bin/sh
# Examples per core of the CIFAR-style ResNet (models/resnet_cifar.onnx: 3x32x32 images, 16/32/64
# filters) on a 2x2 data-parallel slice of the D1 preset, mixed precision: 1, 2 and 4 examples per
# core. Prints a markdown table: the step's cycles and cycles per example, useful matrix
# utilization, the share of the cores' time waiting for HBM (data-load), the first core's SRAM
# peak, and how many of its intermediates are offloaded to HBM (docs/compiler.md, "Offloading
# activations"). Usage: bench/resnet_examples_per_core.sh [path/to/tatami]
set -eu
tatami=${1:-build/tatami}
model=models/resnet_cifar.onnx
echo "| examples per core | batch | cycles per step | cycles per example | matrix utilization (useful) | data-load | SRAM peak (core 0) | offloaded intermediates |"
echo "|---|---|---|---|---|---|---|---|"
for per in 1 2 4; do
  batch=$((per * 4))
  json=$("$tatami" check "$model" --batch "$batch" --slice 2x2 --json)
  cycles=$(echo "$json" | awk -F': ' '/"cycles"/ {gsub(",", "", $2); print $2; exit}')
  util=$(echo "$json" | awk -F': ' '/"matrix_utilization"/ {gsub(",", "", $2); printf "%.3f", $2; exit}')
  load=$(echo "$json" | awk -F': ' -v c="$cycles" '/"data-load"/ {gsub(",", "", $2); printf "%.1f%%", 100 * $2 / c; exit}')
  stages=$("$tatami" compile "$model" --batch "$batch" --slice 2x2 --print-after plan-memory --print-after hbm-residency)
  peak=$(echo "$stages" | awk '/# after plan-memory: SRAM peak/ {print $6; exit}')
  offloaded=$(echo "$stages" | awk '/# after hbm-residency/ {if ($0 ~ /offloaded/) {print $9} else {print 0}; exit}')
  [ -n "$offloaded" ] || offloaded=0
  echo "| $per | $batch | $cycles | $((cycles / per)) | $util | $load | $peak B | $offloaded |"
done
