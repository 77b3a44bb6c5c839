#!/usr/bin/env bash
# Installs what is missing, configures (once) and builds Tatami in build/ inside the repository.
# Usage: scripts/build.sh [ninja targets...]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/install-deps.sh"
# ccache hits across clones when paths are relative to the repository root.
export CCACHE_BASEDIR="$root"
export CCACHE_NOHASHDIR=1
if [ ! -f "$root/build/build.ninja" ]; then
  cmake -S "$root" -B "$root/build" -G Ninja ${TATAMI_CMAKE_ARGS:-} >/dev/null
fi
cmake --build "$root/build" ${1:+--target "$@"}
