#!/usr/bin/env bash
# Installs the Debian packages Tatami builds and runs with, and any named as arguments.
# Idempotent: returns at once when all are present. Run as root (or with sudo) on Debian 12.
set -euo pipefail

packages=(
  cmake ninja-build g++ ccache pkg-config
  libsystemc-dev verilator
  libboost-program-options-dev libhdf5-dev hdf5-tools
  doctest-dev nlohmann-json3-dev
  libonnx-dev libprotobuf-dev protobuf-compiler
  libopenblas-dev zlib1g-dev
  dataset-fashion-mnist
  chromium                      # the report test renders its pages headless
)

# Extra packages a job needs beyond these (scripts/test-sanitize.sh: clang and its runtimes) come as arguments.
packages+=("$@")

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
