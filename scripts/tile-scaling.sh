#!/usr/bin/env bash
# Regenerates the tile-scaling table in docs/compiler.md (between its markers): the transformer
# example (examples/transformer/encoder.onnx, AdamW) data parallel over 1, 5 and all 25 D1 dies
# of configs/tile.ini, one example per core, one timing-only training step each (`tatami train
# ... --timing-only --steps 1 --json`), with the step's breakdown, the host time and peak memory
# (`/usr/bin/time`); then the five-die step again with the die-to-die latency doubled and with the
# die-edge bandwidth halved. TILE_DIES="1 5 10" runs other whole-die counts (5 dies per row).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" tatami make_transformer_task >&2
cd "$root"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
./build/examples/make_transformer_task "$work/task.h5" >/dev/null
table="| dies | slice | cores | change | cycles per step | compute | die-edge | on-die | data-load | sync-wait | idle | host s | host GB |
|---|---|---|---|---|---|---|---|---|---|---|---|---|"
runs=()
for dies in ${TILE_DIES:-1 5 25}; do
  if [ "$dies" -lt 5 ]; then runs+=("$dies:18x$((20 * dies)):"); else runs+=("$dies:$((18 * dies / 5))x100:"); fi
done
runs+=("5:18x100:die.d2d_latency_ns=200" "5:18x100:die.edge_gb_per_s=1000")
for run in "${runs[@]}"; do
  IFS=: read -r dies slice change <<<"$run"
  batch=$((354 * dies))
  set_args=()
  [ -n "$change" ] && set_args=(--set "$change")
  /usr/bin/time -f "%e %M" -o "$work/time" ./build/tatami train examples/transformer/encoder.onnx --data "$work/task.h5" \
    --config configs/tile.ini --slice "$slice" --batch "$batch" --optimizer adamw --timing-only --steps 1 --eval-on host \
    "${set_args[@]}" --json >"$work/out.json" 2>/dev/null
  read -r seconds kb <"$work/time"
  table+=$'\n'"$(python3 -c "
import json, sys
j = json.load(open(sys.argv[1]))
b = j['breakdown']
pct = lambda c: '%.1f%%' % (100.0 * b['all'][c] / b['cycles'])
print('| $dies | $slice | {:,} | ${change:-none} | {:,} | %s | %s | %s | %s | %s | %s | %.0f | %.1f |'.format(b['all']['cores'], round(j['cycles_per_step'])) % (
    pct('compute'), pct('die-edge'), pct('on-die'), pct('data-load'), pct('sync-wait'), pct('idle'), float(sys.argv[2]), float(sys.argv[3]) / 1048576))
" "$work/out.json" "$seconds" "$kb")"
  echo "tile scaling: $dies dies ${change:-} done" >&2
done
printf '%s\n' "$table" | python3 "$root/scripts/fill-markers.py" "$root/docs/compiler.md" tile-scaling
echo "regenerated the tile-scaling table in docs/compiler.md" >&2
