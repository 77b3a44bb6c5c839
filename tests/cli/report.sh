#!/usr/bin/env bash
# tatami report (docs/report.md): a compiled step's, a training run's and a sweep's pages are self-contained
# (no script, nothing fetched) and render in headless Chromium with their heat maps, mesh and
# roofline in the rendered DOM, no console error, and a screenshot that is not blank.
# Usage: report.sh TATAMI SOURCE_DIR
source "$(dirname "${BASH_SOURCE[0]}")/script_common.sh"
browser="$(command -v chromium || command -v chromium-browser || true)"
[ -n "$browser" ] || fail "no chromium (scripts/install-deps.sh installs it)"

"$tatami" report examples/fashion_mnist/mlp.onnx --batch 16 --slice 2x2 --gpu configs/gpu/h100_sxm.ini --gpus 2 -o "$work/step.html" \
  > "$work/out" || fail "report exited $?"
grep -q "wrote $work/step.html (.* ops, 4 cores, [1-9][0-9]* links)" "$work/out" || fail "$(cat "$work/out")"
# The page's GPU table holds the figures tatami compare prints for the same step and GPUs.
"$tatami" compare examples/fashion_mnist/mlp.onnx --batch 16 --slice 2x2 --gpu configs/gpu/h100_sxm.ini --gpus 2 > "$work/cmp.txt" ||
  fail "compare exited $?"
read -r wafer_us gpus_us < <(awk '/^step time \(us\)/ { print $4, $5 }' "$work/cmp.txt")
[ -n "$gpus_us" ] || fail "compare printed no step times: $(cat "$work/cmp.txt")"
grep -q "<tr><td>step time (us)</td><td>$wafer_us</td><td>$gpus_us</td>" "$work/step.html" ||
  fail "the page's GPU table lacks compare's step times $wafer_us and $gpus_us us"
"$tatami" report "$work/x.csv" --gpu configs/gpu/h100_sxm.ini -o "$work/x.html" 2> "$work/err" && fail "--gpu with a sweep table was accepted"
grep -q "give a model" "$work/err" || fail "$(cat "$work/err")"
"$tatami" sweep tests/sweep/gemm_latencies.ini --jobs 2 -o "$work/sweep" > /dev/null 2>&1 || fail "the sweep exited $?"
"$tatami" report "$work/sweep.csv" -o "$work/sweep.html" > "$work/out" || fail "the sweep's report exited $?"
grep -q "wrote $work/sweep.html ([1-9][0-9]* plots of 18 points)" "$work/out" || fail "$(cat "$work/out")"

"$tatami" train examples/fashion_mnist/mlp.onnx --data fashion-mnist --steps 5 --slice 2x2 --output "$work/run.h5" > /dev/null 2>&1 ||
  fail "training exited $?"
"$tatami" report "$work/run.h5" -o "$work/train.html" > "$work/out" || fail "the training run's report exited $?"
grep -q "wrote $work/train.html (5 steps, 4 cores, [1-9][0-9]* links)" "$work/out" || fail "$(cat "$work/out")"
"$tatami" report "$src/README.md" -o "$work/x.html" > /dev/null 2>&1 && fail "a README was reported as a model"

for page in step sweep train; do
  html="$work/$page.html"
  grep -qi "<script" "$html" && fail "$page.html has a script"
  grep -Eqi "(src|href)=" "$html" && fail "$page.html links to something"
  dom=$("$browser" --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 --dump-dom "file://$html" 2> "$work/$page.log") ||
    fail "chromium could not load $page.html"
  grep -Eq "Uncaught|CONSOLE.*(error|Error)" "$work/$page.log" && fail "console errors on $page.html: $(grep -E 'Uncaught|CONSOLE' "$work/$page.log")"
  if [ "$page" = step ]; then
    for id in breakdown-units breakdown-stalls roofline heat-matrix heat-vector heat-dma heat-sram mesh-links gpu-table; do
      echo "$dom" | grep -q "id=\"$id\"" || fail "the rendered step page has no #$id"
    done
    # The roofline has its roofs and at least one op against SRAM bytes, with a name and intensity.
    echo "$dom" | grep -q "SRAM ports 320 B/cycle" || fail "the roofline has no SRAM roof"
    echo "$dom" | grep -Eq "<title>matmul [^<]*: [0-9.e+-]+ FLOP/B, [0-9.e+-]+ FLOP/cycle</title>" || fail "the roofline has no op"
    # Four cores ran: each heat map has four coloured cells (the rest grey).
    [ "$(echo "$dom" | grep -o '<svg id="heat-sram"' | wc -l)" -eq 1 ] || fail "no SRAM heat map"
  elif [ "$page" = train ]; then
    for id in loss-curve cycles-curve heat-matrix mesh-links roofline; do
      echo "$dom" | grep -q "id=\"$id\"" || fail "the rendered training page has no #$id"
    done
    # Its roofline comes from the step compiled again, which takes the cycles of the run's last step.
    echo "$dom" | grep -q "run once, timing only: [0-9]* cycles, as the run's last step" || fail "the training page's step is not the run's"
  else
    echo "$dom" | grep -q 'class="sweep-plot"' || fail "the rendered sweep page has no plot"
  fi
  "$browser" --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,2400 --screenshot="$work/$page.png" \
    "file://$html" > /dev/null 2>&1 || fail "no screenshot of $page.html"
  size=$(stat -c %s "$work/$page.png")
  [ "$size" -gt 30000 ] || fail "the screenshot of $page.html is $size bytes: blank?"
done
echo ok
