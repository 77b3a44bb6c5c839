#!/usr/bin/env bash
# Sets everything up (packages, configure, build) and runs `tatami` with the given arguments.
# Usage: scripts/run.sh <command> [options]      e.g. scripts/run.sh info
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" tatami >&2
exec "$root/build/tatami" "$@"
