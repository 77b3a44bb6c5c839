#!/usr/bin/env bash
# Regenerates docs/validation.md: the network's validation report (tatami validate).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" tatami >&2
"$root/build/tatami" validate -o "$root/docs/validation.md"
echo "regenerated docs/validation.md" >&2
