#!/usr/bin/env bash
# Regenerates the results table of docs/models.md (between its markers): for every model of the
# zoo, `tatami check MODEL --reference REF --json` in mixed precision and in FP32.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" tatami >&2
cd "$root"
table="| model | placement | oracle vs PyTorch | emulator vs oracle, mixed | emulator vs oracle, FP32 | cycles per step, mixed |
|---|---|---|---|---|---|"
for onnx in models/*.onnx; do
  m="$(basename "$onnx" .onnx)"
  placement=()
  [ "$m" = lenet5 ] && placement=(--slice 4x4)  # as tests/cli/CMakeLists.txt places it
  mixed="$(./build/tatami check "$onnx" --reference "models/$m.ref.h5" "${placement[@]}" --json)"
  fp32="$(./build/tatami check "$onnx" --reference "models/$m.ref.h5" "${placement[@]}" --precision fp32 --json)"
  table+=$'\n'"$(python3 -c "
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print('| \`$m\` | ${placement[*]:-one core} | %.1e | %.1e | %.1e | {:,} |'.format(a['cycles']) % (a['oracle_vs_pytorch'], a['emulator_vs_oracle'], b['emulator_vs_oracle']))
" "$mixed" "$fp32")"
  echo "zoo table: $m done" >&2
done
python3 - "$root/docs/models.md" "$table" <<'PY'
import sys
path, table = sys.argv[1], sys.argv[2]
s = open(path).read()
a = s.index("<!-- zoo-table begin -->\n") + len("<!-- zoo-table begin -->\n")
b = s.index("<!-- zoo-table end -->")
open(path, "w").write(s[:a] + table + "\n" + s[b:])
PY
echo "regenerated the zoo's table in docs/models.md" >&2
