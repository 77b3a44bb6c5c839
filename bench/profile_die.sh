#!/bin/sh
# Where a whole-die training step spends its host time: the MLP example data parallel over a whole
# D1 die (18 x 20 slice, 354 cores), timing only, sampled with Linux perf (package linux-perf) with
# DWARF call stacks. Prints the share of each innermost function among the samples taken inside
# the training steps (Trainer::run; compilation and data loading left out), and the same for the
# start (Trainer::Trainer: compiling and loading). Usage: bench/profile_die.sh [path/to/tatami]
set -eu
tatami=${1:-build/tatami}
data=$(mktemp)
trap 'rm -f "$data"' EXIT
perf record -q -F 199 --call-graph dwarf,32768 -o "$data" "$tatami" train examples/fashion_mnist/mlp.onnx \
  --slice 18x20 --batch 354 --steps 4 --log-every 100 --timing-only >/dev/null 2>&1
for phase in "Trainer::run" "Trainer::Trainer"; do
  echo "innermost functions inside $phase:"
  perf script -i "$data" -F ip,sym 2>/dev/null | awk -v phase="$phase" '
    BEGIN { RS = "" }
    index($0, phase) {
      split($0, line, "\n"); leaf = line[1]
      sub(/^[ \t]*[0-9a-f]+ /, "", leaf); gsub(/<[^>]*>/, "<>", leaf); leaf = substr(leaf, 1, 80)
      count[leaf]++; total++
    }
    END {
      for (f in count) printf "%6.1f%%  %s\n", 100 * count[f] / total, f
      printf "%7d samples\n", total > "/dev/stderr"
    }' | sort -rn | head -15
done
