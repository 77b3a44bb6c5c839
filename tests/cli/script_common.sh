# Sourced by the command-line test scripts (Usage: SCRIPT TATAMI SOURCE_DIR): the binary as
# $tatami, the repository as $src (the working folder), a scratch folder $work removed at exit,
# and fail MESSAGE.
set -u
tatami="$1"
src="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
cd "$src"
