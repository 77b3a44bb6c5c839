#!/usr/bin/env bash
# Regenerates the files that come from the parameter table: docs/config.md and configs/d1.ini.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" tatami >&2
"$root/build/tatami" info --describe --markdown > "$root/docs/config.md"
"$root/build/tatami" info --ini > "$root/configs/d1.ini"
echo "regenerated docs/config.md and configs/d1.ini" >&2
