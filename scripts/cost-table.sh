#!/usr/bin/env bash
# Regenerates the cost model's table in docs/compiler.md (between its markers): the estimate
# beside the measured cycles per step of the transformer example (batch 32) and the
# Fashion-MNIST MLP (batch 64), mixed precision, on slices of 1 to 32 cores, from
# `tatami check MODEL --batch N --slice RxC --explain`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" tatami >&2
cd "$root"
row() {  # model batch slice extra... -> "estimate measured"
  local out
  out="$(./build/tatami check "$1" --batch "$2" --slice "$3" "${@:4}" --explain)"
  echo "$(grep -o 'total: estimated [0-9]*' <<<"$out" | grep -o '[0-9]*$') $(grep -o '^measured: [0-9]*' <<<"$out" | grep -o '[0-9]*$')"
}
table="| slice | cores | transformer est. | measured | est/meas | MLP est. | measured | est/meas |
|---|---|---|---|---|---|---|---|"
for s in 1x1 1x2 2x2 2x4 4x4 4x8; do
  read -r te tm <<<"$(row examples/transformer/encoder.onnx 32 "$s")"
  read -r me mm <<<"$(row examples/fashion_mnist/mlp.onnx 64 "$s")"
  cores=$(( ${s%x*} * ${s#*x} ))
  table+=$'\n'"$(python3 -c "
te,tm,me,mm=$te,$tm,$me,$mm
f=lambda n: format(n, ',')
print(f'| $s | $cores | {f(te)} | {f(tm)} | {te/tm:.2f} | {f(me)} | {f(mm)} | {me/mm:.2f} |')")"
  echo "cost table: $s done" >&2
done
printf '%s\n' "$table" | python3 "$root/scripts/fill-markers.py" "$root/docs/compiler.md" cost-table
echo "regenerated the cost model's table in docs/compiler.md" >&2
