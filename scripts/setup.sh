#!/usr/bin/env bash
# Makes sure the system libraries Mechanic needs are present: OpenBLAS (+ pkg-config) to build,
# and, with --test, Chromium to check HTML reports. Installs them when run as root on Debian;
# otherwise prints the exact command and fails.
set -euo pipefail

need=()
command -v swift >/dev/null 2>&1 || { echo "mechanic: the Swift toolchain is not on PATH (install Swift 6 from swift.org)" >&2; exit 1; }
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
if ! pkg-config --exists openblas 2>/dev/null; then need+=(libopenblas-dev); fi
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || need+=(chromium)
fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "mechanic: installing ${need[*]} ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "mechanic: missing system packages. Run:" >&2
    echo "  sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi
