#!/usr/bin/env bash
# Regenerates the breakdown table in docs/timing.md (between its markers): where the cycles of a
# compiled step go (docs/timing.md "Where the cycles went"), from `tatami check MODEL ... --json`,
# for the placements and parameter changes listed below.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" tatami >&2
cd "$root"
mlp=examples/fashion_mnist/mlp.onnx
table="| step (\`tatami check\` ...) | cycles | compute | die-edge | on-die | data-load | sync-wait | idle | critical path |
|---|---|---|---|---|---|---|---|---|"
row() {  # label, then the check arguments
  local label="$1"
  shift
  local json
  json="$(./build/tatami check "$@" --json)"
  table+=$'\n'"$(python3 -c "
import json, sys
b = json.loads(sys.argv[1])['breakdown']
cols = ['compute', 'die-edge', 'on-die', 'data-load', 'sync-wait', 'idle']
pct = lambda v: '%.1f%%' % (100.0 * v / b['cycles'])
p = b['critical_path']
path = ', '.join('%s %s' % (c, pct(p[c])) for c in cols if p[c] > 0)
print('| %s | {:,} | %s | %s, %d transfers |'.format(b['cycles']) % (sys.argv[2], ' | '.join(pct(b['all'][c]) for c in cols), path, p['transfers']))
" "$json" "$label")"
  echo "breakdown table: $label done" >&2
}
row "MLP, D1, placed by the cost model (a 4x4 grid)" $mlp
row "the same, \`--set die.hop_latency_cycles=3\`" $mlp --set die.hop_latency_cycles=3
row "MLP, four 2x2 dies (\`--config configs/mesh2x2_tile2x2.ini --slice 4x4\`)" $mlp --config configs/mesh2x2_tile2x2.ini --slice 4x4
row "the same, \`--set die.d2d_latency_ns=200\`" $mlp --config configs/mesh2x2_tile2x2.ini --slice 4x4 --set die.d2d_latency_ns=200
row "the same, \`--set die.edge_gb_per_s=50\`" $mlp --config configs/mesh2x2_tile2x2.ini --slice 4x4 --set die.edge_gb_per_s=50
row "MLP streamed from HBM, one core (\`--batch 32 --slice 1x1 --momentum 0.9 --config configs/tile.ini --set core.sram_kib=768\`)" \
  $mlp --batch 32 --slice 1x1 --momentum 0.9 --config configs/tile.ini --set core.sram_kib=768
row "CNN, D1, placed by the cost model (a 4x8 slice)" examples/fashion_mnist/cnn.onnx
row "transformer, D1, placed by the cost model" examples/transformer/encoder.onnx
printf '%s\n' "$table" | python3 "$root/scripts/fill-markers.py" "$root/docs/timing.md" breakdown-table
echo "regenerated the breakdown table in docs/timing.md" >&2
