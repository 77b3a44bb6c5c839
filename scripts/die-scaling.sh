#!/usr/bin/env bash
# Regenerates the die-scaling table in docs/compiler.md (between its markers): the Fashion-MNIST
# MLP data parallel over 1, 2, 5 and 10 whole D1 dies of configs/tile.ini (one example per core), one
# timing-only training step each (`tatami train ... --timing-only --steps 1 --json`), with the
# step's breakdown and the all-reduce split the cost model chose (`tatami compile ... --explain`).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" tatami >&2
cd "$root"
mlp=examples/fashion_mnist/mlp.onnx
table="| dies | slice | cores | cycles per step | compute | die-edge | on-die | data-load | sync-wait | idle | all-reduce of fc1's weight gradient | of the loss |
|---|---|---|---|---|---|---|---|---|---|---|---|"
for run in 1:18x20 2:18x40 5:18x100 10:36x100; do
  dies="${run%%:*}"
  slice="${run#*:}"
  batch=$((354 * dies))
  json="$(./build/tatami train $mlp --config configs/tile.ini --slice "$slice" --batch "$batch" --timing-only --steps 1 \
    --eval-on host --json 2>/dev/null)"
  explain="$(./build/tatami compile $mlp --config configs/tile.ini --slice "$slice" --batch "$batch" --explain 2>/dev/null)"
  # How the first layer's weight gradient ([64,784]) and the loss ([]) are all-reduced.
  split="$(grep -A1 'allreduce_mean.*\[64,784\]' <<<"$explain" | grep -m1 'chosen:' | sed 's/^ *chosen: //; s/ (.*//')"
  split+=" | $(grep -A1 'allreduce_mean.*\[\] ' <<<"$explain" | grep -m1 'chosen:' | sed 's/^ *chosen: //; s/ (.*//')"
  table+=$'\n'"$(python3 -c "
import json, sys
j = json.loads(sys.argv[1])
b = j['breakdown']
pct = lambda c: '%.1f%%' % (100.0 * b['all'][c] / b['cycles'])
print('| $dies | $slice | %d | {:,} | %s | %s | %s | %s | %s | %s | %s |'.format(round(j['cycles_per_step'])) % (
    b['all']['cores'], pct('compute'), pct('die-edge'), pct('on-die'), pct('data-load'), pct('sync-wait'), pct('idle'), sys.argv[2]))
" "$json" "$split")"
  echo "die scaling: $dies done" >&2
done
printf '%s\n' "$table" | python3 "$root/scripts/fill-markers.py" "$root/docs/compiler.md" die-scaling
echo "regenerated the die-scaling table in docs/compiler.md" >&2
