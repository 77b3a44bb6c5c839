#!/usr/bin/env bash
# Regenerates the load-latency curves shown in docs/network.md (SVG plots and CSV tables).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$root/scripts/build.sh" tatami >&2
t="$root/build/tatami"
img="$root/docs/img"
mkdir -p "$img"
"$t" traffic --config "$root/configs/mesh8x8.ini" --rates 0.05:0.6:0.05 --series die.buffer_packets=2,4,8,16 \
  --csv "$img/mesh8x8_uniform_buffers.csv" --plot "$img/mesh8x8_uniform_buffers.svg"
"$t" traffic --config "$root/configs/mesh16x16.ini" --rates 0.025:0.35:0.025 --measure 3000 \
  --csv "$img/mesh16x16_uniform.csv" --plot "$img/mesh16x16_uniform.svg"
"$t" traffic --config "$root/configs/mesh8x8.ini" --pattern transpose --rates 0.05:0.6:0.05 \
  --csv "$img/mesh8x8_transpose.csv" --plot "$img/mesh8x8_transpose.svg"
