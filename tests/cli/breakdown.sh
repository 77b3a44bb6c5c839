#!/usr/bin/env bash
# The step's breakdown (docs/timing.md "Where the cycles went") as a user sees it: check's text
# and JSON, train's summary and run file, and compare of two runs with one parameter changed.
source "$(dirname "$0")/script_common.sh"
mlp=examples/fashion_mnist/mlp.onnx
two=(--config configs/mesh2x2_tile2x2.ini --slice 2x4 --batch 16)
# Check on a slice over two dies: the text names both dies and a critical path through the edge.
out=$("$tatami" check $mlp "${two[@]}") || fail "check exited $?: $out"
echo "$out" | grep -q "^where cycles went   compute [0-9.]*%, die-edge [0-9.]*%" || fail "no die-edge share: $out"
echo "$out" | grep -q "^  die (0,0), 4 cores: " || fail "no line for die (0,0): $out"
echo "$out" | grep -q "^  die (0,1), 4 cores: " || fail "no line for die (0,1): $out"
echo "$out" | grep -q "^critical path       cores .* transfers): compute [0-9.]*%, die-edge" || fail "no critical path: $out"
# JSON: the columns of every die add up to the step's cycles.
json=$("$tatami" check $mlp "${two[@]}" --json) || fail "check --json exited $?"
cycles=$(echo "$json" | grep -m1 '^  "cycles": ' | grep -o '[0-9]*')
sums=$(echo "$json" | awk '/"dies": \[/ {in_dies = 1} in_dies && /"(compute|die-edge|on-die|data-load|sync-wait|idle)":/ {gsub(",", ""); s += $2; n++;
  if (n == 6) {printf "%.3f\n", s; s = 0; n = 0}} /"critical_path"/ {in_dies = 0}')
[ "$(echo "$sums" | wc -l)" = 2 ] || fail "expected two dies in the JSON: $json"
for s in $sums; do
  awk -v s="$s" -v c="$cycles" 'BEGIN {exit (s - c < 0.01 && c - s < 0.01) ? 0 : 1}' || fail "a die's columns add up to $s, not the step's $cycles cycles"
done
# Train: the summary prints the breakdown; the run file keeps it per step; compare shows the
# die-edge share growing with the die-to-die latency while compute stays.
"$tatami" train $mlp "${two[@]}" --steps 2 --eval-on host --output "$work/a.h5" > "$work/a.txt" || fail "train exited $?"
grep -q "^where cycles went   compute" "$work/a.txt" || fail "train prints no breakdown: $(cat "$work/a.txt")"
"$tatami" train $mlp "${two[@]}" --steps 2 --eval-on host --output "$work/b.h5" --set die.d2d_latency_ns=400 > /dev/null || fail "train B exited $?"
cmp=$("$tatami" compare "$work/a.h5" "$work/b.h5") || fail "compare exited $?"
ratio() { echo "$cmp" | awk -v m="$1" '$1 == m {print $NF}'; }
awk -v r="$(ratio breakdown.all.die-edge)" 'BEGIN {exit r > 1.5 ? 0 : 1}' || fail "die-edge share did not grow: $cmp"
awk -v r="$(ratio breakdown.dies.die\(0,0\).compute)" 'BEGIN {exit (r > 0.99 && r < 1.01) ? 0 : 1}' || fail "compute moved: $cmp"
h5dump -H -d step_breakdown "$work/a.h5" | grep -q "DATASPACE  SIMPLE { ( 2, 2, 6 )" || fail "step_breakdown is not [2 steps, 2 dies, 6]"
echo "ok: breakdown in check, train, the run file and compare"
