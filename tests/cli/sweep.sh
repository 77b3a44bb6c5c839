#!/usr/bin/env bash
# tatami sweep (docs/sweep.md): the points of tests/sweep/gemm_latencies.ini in two processes
# into one CSV and HDF5 table; a sweep stopped by SIGINT keeps its finished points (exit 3) and a
# second run resumes, running only the rest; the job list for GNU Parallel or Slurm and --collect.
# Usage: sweep.sh TATAMI SOURCE_DIR
source "$(dirname "${BASH_SOURCE[0]}")/script_common.sh"
spec=tests/sweep/gemm_latencies.ini

# A whole sweep, two at once.
"$tatami" sweep "$spec" --jobs 2 -o "$work/all" > "$work/out" 2> "$work/err" || fail "sweep exited $?: $(cat "$work/err")"
grep -q "wrote $work/all.csv and $work/all.h5 (18 rows" "$work/out" || fail "no table written: $(cat "$work/out")"
[ "$(wc -l < "$work/all.csv")" -eq 19 ] || fail "the CSV has not 18 rows and a header"
head -1 "$work/all.csv" | grep -q "^point,workload,core.matrix_latency_cycles,core.dma_setup_cycles," || fail "header: $(head -1 "$work/all.csv")"
# The GEMM's cycles rise with the matrix latency (its row with DMA setup 16, latency 8 is the
# regression golden's 65,608 cycles).
grep -q "^0,gemm,8,16," "$work/all.csv" || fail "point 0 is not gemm at (8, 16)"
col=$(head -1 "$work/all.csv" | tr ',' '\n' | grep -n '^cycles$' | cut -d: -f1)
c0=$(sed -n 2p "$work/all.csv" | cut -d, -f"$col"); c6=$(sed -n 8p "$work/all.csv" | cut -d, -f"$col")
[ "$c0" = 65608 ] || fail "the GEMM at latency 8, setup 16 took $c0 cycles, not 65608"
[ "$c6" -gt "$c0" ] || fail "latency 128 ($c6) is not slower than 8 ($c0)"
grep -q "^9,uniform,8,16," "$work/all.csv" || fail "no traffic row"
h5dump -n "$work/all.h5" | grep -q "/table/cycles" || fail "no cycles column in the HDF5 table"
h5dump -n "$work/all.h5" | grep -q "/table/workload" || fail "no workload column in the HDF5 table"
h5dump -a /table/avg_latency_cycles/unit "$work/all.h5" | grep -q '"cycles"' || fail "the latency column has no unit attribute"
h5dump -a /table/core.dma_setup_cycles/description "$work/all.h5" | grep -q "an axis of the sweep" || fail "the axis column has no description"

# Stopped part way: SIGINT once a point is kept, exit 3, the finished points stay.
"$tatami" sweep "$spec" --jobs 1 -o "$work/part" > /dev/null 2> "$work/err" &
pid=$!
for _ in $(seq 1 300); do
  ls "$work"/part.points/point-*.json > /dev/null 2>&1 && break
  sleep 0.1
done
kill -INT "$pid"
wait "$pid"
rc=$?
[ "$rc" -eq 3 ] || fail "an interrupted sweep exited $rc, not 3: $(cat "$work/err")"
grep -q "interrupted: [0-9]* of 18 points finished and kept; run the same command again to resume" "$work/err" || fail "$(cat "$work/err")"
kept=$(ls "$work"/part.points/point-*.json | wc -l)
[ "$kept" -ge 1 ] && [ "$kept" -lt 18 ] || fail "$kept points kept"
"$tatami" sweep "$spec" --jobs 2 -o "$work/part" > "$work/out" 2> "$work/err" || fail "the resumed sweep exited $?"
grep -q "18 points ($kept finished before, $((18 - kept)) to run)" "$work/err" || fail "resume did not skip the kept points: $(head -1 "$work/err")"
cmp -s <(cut -d, -f1-4,"$col" "$work/all.csv") <(cut -d, -f1-4,"$col" "$work/part.csv") || fail "the resumed table differs from the whole run's"

# A job list for a cluster: the unfinished points as command lines; run two, then --collect.
"$tatami" sweep "$spec" -o "$work/jobs" --emit-jobs "$work/jobs.txt" | grep -q "wrote 18 job(s)" || fail "no job list"
[ "$(wc -l < "$work/jobs.txt")" -eq 18 ] || fail "the job list has not 18 lines"
sed -n 1,2p "$work/jobs.txt" | bash || fail "a job line failed"
"$tatami" sweep "$spec" -o "$work/jobs" --collect > "$work/out"
[ $? -eq 1 ] || fail "--collect with points missing did not exit 1"
grep -q "(2 rows, .*16 point(s) not finished" "$work/out" || fail "$(cat "$work/out")"
echo ok
