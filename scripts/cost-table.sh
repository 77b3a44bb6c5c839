#!/usr/bin/env bash
# Regenerates the cost model's table in docs/compiler.md (between its markers): the estimate
# beside the measured cycles per step of the transformer example (batch 32) and the
# Fashion-MNIST MLP (batch 64), mixed precision, on slices of 1 to 32 cores, from
# `tatami check MODEL --batch N --slice RxC --explain`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" tatami >&2
cd "$root"
row() {  # model batch slice extra... -> "estimate measured max-relative-error"
  local out
  out="$(./build/tatami check "$1" --batch "$2" --slice "$3" "${@:4}" --explain)"
  echo "$(grep -o 'total: estimated [0-9]*' <<<"$out" | grep -o '[0-9]*$') $(grep -o '^measured: [0-9]*' <<<"$out" | grep -o '[0-9]*$')" \
    "$(grep -o '^max relative error [0-9.e+-]*' <<<"$out" | grep -o '[0-9.e+-]*$')"
}
table="| slice | cores | transformer est. | measured | est/meas | MLP est. | measured | est/meas |
|---|---|---|---|---|---|---|---|"
terr=0 merr=0
for s in 1x1 1x2 2x2 2x4 4x4 4x8; do
  read -r te tm e <<<"$(row examples/transformer/encoder.onnx 32 "$s")"
  terr="$(python3 -c "print(max($terr, $e))")"
  read -r me mm e <<<"$(row examples/fashion_mnist/mlp.onnx 64 "$s")"
  merr="$(python3 -c "print(max($merr, $e))")"
  cores=$(( ${s%x*} * ${s#*x} ))
  table+=$'\n'"$(python3 -c "
te,tm,me,mm=$te,$tm,$me,$mm
f=lambda n: format(n, ',')
print(f'| $s | $cores | {f(te)} | {f(tm)} | {te/tm:.2f} | {f(me)} | {f(mm)} | {me/mm:.2f} |')")"
  echo "cost table: $s done" >&2
done
table+=$'\n\n'"$(python3 -c "print(f'Worst relative error of any output of the step against the oracle (mixed precision: matrix operands rounded to BF16 as the matrix unit does) over these slices: transformer {$terr:.1e}, MLP {$merr:.1e}.')")"
printf '%s\n' "$table" | python3 "$root/scripts/fill-markers.py" "$root/docs/compiler.md" cost-table
echo "regenerated the cost model's table in docs/compiler.md" >&2
