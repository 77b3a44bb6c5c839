#!/usr/bin/env bash
# Outputs never replace what they should not (docs/cli.md "Outputs"): a symlink stays a link and
# its target is written, a FIFO is written in place and stays a FIFO, /dev/null stays a device,
# a failed write (/dev/full, a missing folder, a directory) exits 2 naming the path, and no
# temporary file is left behind.
# Usage: output_kinds.sh TATAMI SOURCE_DIR
set -u
tatami="$1"
program="$2/examples/gemm/gemm.tasm"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

# A symlink: the link stays, its target gets the bytes (binary program and HDF5 results).
touch target.bin && ln -s target.bin link.bin
"$tatami" asm "$program" -o link.bin || fail "asm through a symlink exited $?"
[ -L link.bin ] || fail "link.bin is no longer a symlink"
[ -s target.bin ] || fail "the symlink's target was not written"
ln -s results.h5 results-link.h5
"$tatami" run "$program" --output results-link.h5 > /dev/null || fail "run --output through a symlink exited $?"
[ -L results-link.h5 ] && [ -f results.h5 ] && [ -s results.h5 ] || fail "run --output replaced the symlink or wrote nothing"

# A FIFO: written in place, still a FIFO.
mkfifo pipe
cat pipe > from-pipe &
"$tatami" asm "$program" -o pipe || fail "asm into a FIFO exited $?"
wait
[ -p pipe ] || fail "the FIFO was replaced"
cmp -s from-pipe target.bin || fail "the FIFO did not carry the program"

# /dev/null stays a device.
"$tatami" asm "$program" -o /dev/null || fail "asm to /dev/null exited $?"
[ -c /dev/null ] || fail "/dev/null is no longer a character device"

# Failed writes: exit 2 and a message naming the path.
if [ -w /dev/full ]; then
  "$tatami" asm "$program" -o /dev/full 2> err.txt; rc=$?
  [ "$rc" = 2 ] || fail "asm -o /dev/full exited $rc"
  grep -q "cannot write '/dev/full': No space left on device" err.txt || fail "asm -o /dev/full: $(cat err.txt)"
  [ -c /dev/full ] || fail "/dev/full is no longer a character device"
  "$tatami" run "$program" --output /dev/full > /dev/null 2> err.txt; rc=$?
  [ "$rc" = 2 ] || fail "run --output /dev/full exited $rc"
fi
"$tatami" run "$program" --trace missing/trace.json > /dev/null 2> err.txt; rc=$?
[ "$rc" = 2 ] || fail "run --trace into a missing folder exited $rc"
grep -q "cannot write 'missing/trace.json': folder 'missing': No such file or directory" err.txt || fail "trace: $(cat err.txt)"
mkdir adir
"$tatami" asm "$program" -o adir 2> err.txt; rc=$?
[ "$rc" = 2 ] && grep -q "cannot write 'adir': it is a directory" err.txt || fail "asm -o a directory: rc $rc, $(cat err.txt)"

# No temporary files left.
leftovers="$(ls -A | grep -c partial || true)"
[ "$leftovers" = 0 ] || fail "temporary files left: $(ls -A)"
echo "output kinds: ok"
