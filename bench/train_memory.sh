#!/bin/sh
# Memory of a training loop over many steps: the peak resident set of the example MLP's training
# (its automatic placement, a 4x4 grid) after 100 and after 1,000 steps. Every step runs in a fresh
# simulation kernel; the last one is deleted when the next starts, so the two should be within a
# few hundred KB. Usage: bench/train_memory.sh [path/to/tatami]
set -eu
tatami=${1:-build/tatami}
for steps in 100 1000; do
  /usr/bin/time -f "$steps steps: %M KB peak resident, %e s" \
    "$tatami" train examples/fashion_mnist/mlp.onnx --steps "$steps" --eval-on host --log-every 100000 2>&1 >/dev/null | tail -1
done
