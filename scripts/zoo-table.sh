#!/usr/bin/env bash
# Regenerates the results table of docs/models.md (between its markers): for every model of the
# zoo, `tatami check MODEL --reference REF --json` in mixed precision and in FP32.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" tatami >&2
cd "$root"
table="| model | placement chosen by the cost model (mixed) | oracle vs PyTorch | emulator vs oracle, mixed | emulator vs oracle, FP32 | cycles per step, mixed |
|---|---|---|---|---|---|"
for onnx in models/*.onnx; do
  m="$(basename "$onnx" .onnx)"
  mixed="$(./build/tatami check "$onnx" --reference "models/$m.ref.h5" --json 2>&1 || true)"
  # FP32 convolutions are gathers with column tables: the 32x32 ResNet's FP32 step needs 8 MiB of
  # SRAM per core (as its CTest case, cli.zoo_resnet_cifar_fp32).
  fp32_set=() note=""
  if [ "$m" = resnet_cifar ]; then fp32_set=(--set core.sram_kib=8192) note=" (8 MiB SRAM)"; fi
  fp32="$(./build/tatami check "$onnx" --reference "models/$m.ref.h5" --precision fp32 "${fp32_set[@]}" --json 2>&1 || true)"
  table+=$'\n'"$(python3 -c "
import json, sys
def cell(text, key):
    try:
        j = json.loads(text)
    except ValueError:
        return None, 'fails: ' + text.strip().splitlines()[0].replace('tatami check: ', '').replace('|', '/')
    return j, '%.1e' % j[key] + ('' if j['pass'] else ' (outside %g)' % j['emulator_tolerance'])
a, ma = cell(sys.argv[1], 'emulator_vs_oracle')
b, mb = cell(sys.argv[2], 'emulator_vs_oracle')
pt = '%.1e' % (a or b)['oracle_vs_pytorch'] if (a or b) else '-'
# A gradient held to its estimated FP32 noise rather than 1e-5 (docs/models.md): its bound.
raised = [r['tolerance'] for r in (a or b or {}).get('tensors', []) if r['against'] == 'pytorch' and r['rel_error'] > (a or b)['pytorch_tolerance']]
if raised:
    pt += ' (FP32 noise: held to %.1e)' % min(raised)
cycles = '{:,}'.format(a['cycles']) if a else '-'
where = (a or b)['placement'].split(' (chosen')[0] if (a or b) else '-'
print('| \`$m\` | %s | %s | %s | %s | %s |' % (where, pt, ma, mb + '$note', cycles))
" "$mixed" "$fp32")"
  echo "zoo table: $m done" >&2
done
printf '%s\n' "$table" | python3 "$root/scripts/fill-markers.py" "$root/docs/models.md" zoo-table
python3 "$root/scripts/fill-markers.py" "$root/docs/models.md" ops-table < "$root/models/ops.md"
echo "regenerated the zoo's tables in docs/models.md" >&2
