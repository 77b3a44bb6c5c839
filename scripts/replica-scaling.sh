#!/usr/bin/env bash
# Regenerates the replica-scaling table in docs/compiler.md (between its markers): the
# Fashion-MNIST MLP (examples/fashion_mnist/mlp.onnx, mixed precision) tensor parallel over a 4x4
# grid within a die, copied onto 1, 5 and 25 dies of configs/tile.ini and data parallel over them
# (`tatami check ... --grid 4x4 --replicas K --json`), at 64 and 256 examples per die: cycles per
# step, the worst relative error against the oracle and the step's breakdown.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" tatami >&2
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
table="| examples per die | dies | cores | cycles per step | max rel. error | compute | die-edge | on-die | data-load | sync-wait | idle |
|---|---|---|---|---|---|---|---|---|---|---|"
for per in 64 256; do
  for dies in 1 5 25; do
    ./build/tatami check examples/fashion_mnist/mlp.onnx --config configs/tile.ini --grid 4x4 --replicas "$dies" \
      --batch $((per * dies)) --json >"$work/out.json" 2>/dev/null
    table+=$'\n'"$(python3 -c "
import json, sys
j = json.load(open(sys.argv[1]))
b = j['breakdown']
pct = lambda c: '%.1f%%' % (100.0 * b['all'][c] / j['cycles'])
print('| $per | $dies | {} | {:,} | {:.1e} | %s | %s | %s | %s | %s | %s |'.format(j['cores'], j['cycles'], j['max_rel_error']) % (
    pct('compute'), pct('die-edge'), pct('on-die'), pct('data-load'), pct('sync-wait'), pct('idle')))
" "$work/out.json")"
    echo "replica scaling: $per per die, $dies dies done" >&2
  done
done
printf '%s\n' "$table" | python3 "$root/scripts/fill-markers.py" "$root/docs/compiler.md" replica-scaling
echo "regenerated the replica-scaling table in docs/compiler.md" >&2
