#!/usr/bin/env bash
# Regenerates the files that come from tables in the code: docs/config.md and configs/d1.ini (the
# parameter table), docs/metrics.md (the metrics' table) and the op table in docs/compiler.md.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" tatami >&2
"$root/build/tatami" info --describe --markdown > "$root/docs/config.md"
"$root/build/tatami" info --ini > "$root/configs/d1.ini"
"$root/build/tatami" info --metrics > "$root/docs/metrics.md"
echo "regenerated docs/config.md, configs/d1.ini and docs/metrics.md" >&2
# The op table in docs/compiler.md, between its markers.
table="$("$root/build/tatami" compile --list-ops)"
printf '%s\n' "$table" | python3 "$root/scripts/fill-markers.py" "$root/docs/compiler.md" op-table
echo "regenerated the op table in docs/compiler.md" >&2
