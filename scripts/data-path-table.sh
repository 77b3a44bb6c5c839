#!/usr/bin/env bash
# Regenerates the data-path table in docs/timing.md (between its markers): what reading each
# step's inputs from the interface processor adds to compiled steps on the D1 preset, how much of
# it is hidden, and how the source's rate moves it, from `tatami check MODEL ... --json`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" tatami >&2
cd "$root"
table="| step (\`tatami check\` ...) | host-fed cycles | from the edge source | added | data in flight per core | hidden | link at 450 GB/s | at 100 GB/s |
|---|---|---|---|---|---|---|---|"
json() { ./build/tatami check "$@" --json; }
row() {  # label, then the check arguments
  local label="$1"
  shift
  local host dip half slow
  host="$(json "$@" --feed host)"
  dip="$(json "$@" --feed dip)"
  half="$(json "$@" --feed dip --set dip.link_gb_per_s=450)"
  slow="$(json "$@" --feed dip --set dip.link_gb_per_s=100)"
  table+=$'\n'"$(python3 -c "
import json, sys
host, dip, half, slow = (json.loads(a) for a in sys.argv[1:5])
def exposed(j): return j['breakdown']['all']['data-load']
b = dip['breakdown']
flight = b['data_load_in_flight']
hidden = 100.0 * (flight - exposed(dip)) / flight if flight else 0.0
def moved(j): return '{:,} (data-load {:.0f})'.format(j['cycles'], exposed(j))
print('| %s | {:,} | {:,} | +{:,} | {:,.0f} | {:.1f}%% | %s | %s |'.format(host['cycles'], dip['cycles'], dip['cycles'] - host['cycles'], flight, hidden)
      % (sys.argv[5], moved(half), moved(slow)))
" "$host" "$dip" "$half" "$slow" "$label")"
  echo "data-path table: $label done" >&2
}
row "MLP, placed by the cost model (a 4x4 grid)" examples/fashion_mnist/mlp.onnx
row "MLP, one core, batch 64 (\`--slice 1x1\`)" examples/fashion_mnist/mlp.onnx --slice 1x1
row "MLP, 4x8 slice, batch 64 (\`--slice 4x8\`)" examples/fashion_mnist/mlp.onnx --slice 4x8
row "CNN, placed by the cost model (a 4x8 slice)" examples/fashion_mnist/cnn.onnx
row "transformer, placed by the cost model" examples/transformer/encoder.onnx
printf '%s\n' "$table" | python3 "$root/scripts/fill-markers.py" "$root/docs/timing.md" data-path-table
echo "regenerated the data-path table in docs/timing.md" >&2
